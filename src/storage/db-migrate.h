/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include <sqlite3.h>

#include "error.h"

/*
 * Schema versions of an SQLite database, kept in `PRAGMA user_version`: version N means the first N
 * steps of an ordered array have run. A step is never edited or reordered once released; a new table or
 * column is a new step appended at the end.
 */
typedef struct DbMigration {
        const char *what; /* one line, for errors: "pods and containers" */
        const char *sql;  /* statements run in the step's transaction; NULL if only `apply` */
        int (*apply)(sqlite3 *db, Error **reterr); /* optional, after `sql`, in the same transaction */
} DbMigration;

/*
 * Run the steps of `steps` that `db` has not had yet, each in its own IMMEDIATE transaction that also
 * sets user_version, so a crash leaves the database at a whole step. A database newer than `n` steps
 * (written by a later crio-c) is refused with -EPROTO. Blocks on disk I/O; not thread-safe per db.
 */
int db_migrate(sqlite3 *db, const DbMigration *steps, size_t n, Error **reterr);

/* The user_version of `db`, or -EIO. */
int db_schema_version(sqlite3 *db);

/*
 * The steps of the store database <root>/crio-c.db (src/storage/store-migrations.c). Modules with
 * tables of their own in that database (pods, containers) append their step there.
 */
extern const DbMigration store_migrations[];
extern const size_t store_migrations_count;
