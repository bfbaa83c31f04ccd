/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "db-migrate.h"
#include "macros.h"

int db_schema_version(sqlite3 *db) {
        sqlite3_stmt *st = NULL;
        int v = -EIO;
        if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                v = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return v;
}

static int exec(sqlite3 *db, const char *sql, Error **reterr) {
        char *msg = NULL;
        if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
                return 0;
        int r = error_set(reterr, EIO, "%s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return r;
}

static int run_step(sqlite3 *db, const DbMigration *m, size_t version, Error **reterr) {
        int r = exec(db, "BEGIN IMMEDIATE", reterr);
        if (r < 0)
                return r;
        if (m->sql)
                r = exec(db, m->sql, reterr);
        if (r >= 0 && m->apply)
                r = m->apply(db, reterr);
        if (r >= 0) {
                /* PRAGMA takes no bound parameters; the value is our own integer. */
                _cleanup_free_ char *set = xasprintf("PRAGMA user_version = %zu", version);
                r = exec(db, set, reterr);
        }
        if (r >= 0)
                r = exec(db, "COMMIT", reterr);
        if (r < 0) {
                exec(db, "ROLLBACK", NULL);
                return error_prefix(reterr, "schema step %zu (%s)", version, m->what);
        }
        return 0;
}

int db_migrate(sqlite3 *db, const DbMigration *steps, size_t n, Error **reterr) {
        int v = db_schema_version(db);
        if (v < 0)
                return error_set(reterr, EIO, "read schema version: %s", sqlite3_errmsg(db));
        if ((size_t)v > n)
                return error_set(reterr, EPROTO,
                                 "database schema version %d is newer than this crio-c knows (%zu)", v, n);
        for (size_t i = (size_t)v; i < n; i++) {
                int r = run_step(db, &steps[i], i + 1, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}
