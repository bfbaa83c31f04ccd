/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "db-migrate.h"
#include "fs-util.h"
#include "store.h"
#include "test-util.h"

typedef struct Fixture {
        char *dir;
        char *db_path;
        sqlite3 *db;
} Fixture;

static int setup(void **state) {
        Fixture *fx = xcalloc(1, sizeof(*fx));
        fx->dir = xstrdup("/tmp/test-db-migrate-XXXXXX");
        if (!mkdtemp(fx->dir))
                return -1;
        fx->db_path = xasprintf("%s/crio-c.db", fx->dir);
        if (sqlite3_open(fx->db_path, &fx->db) != SQLITE_OK)
                return -1;
        *state = fx;
        return 0;
}

static int teardown(void **state) {
        Fixture *fx = *state;
        sqlite3_close(fx->db);
        int r = rm_rf(fx->dir);
        free(fx->db_path);
        free(fx->dir);
        free(fx);
        return r < 0 ? -1 : 0;
}

static bool table_exists(sqlite3 *db, const char *name) {
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?",
                                            -1, &st, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        bool found = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        return found;
}

static int applied;

static int count_apply(sqlite3 *db, Error **reterr) {
        applied++;
        return 0;
}

static int failing_apply(sqlite3 *db, Error **reterr) {
        return error_set(reterr, EIO, "step refused");
}

static const DbMigration three[] = {
        {.what = "a", .sql = "CREATE TABLE a (x INTEGER);"},
        {.what = "b", .sql = "CREATE TABLE b (y TEXT);", .apply = count_apply},
        {.what = "c", .apply = count_apply},
};

static void test_fresh_database_runs_every_step(void **state) {
        Fixture *fx = *state;
        _cleanup_error_ Error *err = NULL;
        applied = 0;
        assert_int_equal(db_schema_version(fx->db), 0);
        assert_ok(db_migrate(fx->db, three, ELEMENTSOF(three), &err), err);
        assert_int_equal(db_schema_version(fx->db), 3);
        assert_true(table_exists(fx->db, "a"));
        assert_true(table_exists(fx->db, "b"));
        assert_int_equal(applied, 2);
        /* Nothing left to do: a second run touches nothing. */
        assert_ok(db_migrate(fx->db, three, ELEMENTSOF(three), &err), err);
        assert_int_equal(applied, 2);
}

static void test_appended_step_runs_alone(void **state) {
        Fixture *fx = *state;
        _cleanup_error_ Error *err = NULL;
        applied = 0;
        assert_ok(db_migrate(fx->db, three, 1, &err), err);
        assert_int_equal(db_schema_version(fx->db), 1);
        assert_false(table_exists(fx->db, "b"));
        /* A later crio-c with two more steps: only those run, in order, on a database at version 1. */
        assert_ok(db_migrate(fx->db, three, 3, &err), err);
        assert_int_equal(db_schema_version(fx->db), 3);
        assert_true(table_exists(fx->db, "b"));
        assert_int_equal(applied, 2);
}

static void test_failed_step_rolls_back_and_keeps_version(void **state) {
        Fixture *fx = *state;
        const DbMigration steps[] = {
                {.what = "a", .sql = "CREATE TABLE a (x INTEGER);"},
                {.what = "half", .sql = "CREATE TABLE half (z INTEGER);", .apply = failing_apply},
        };
        Error *err = NULL;
        assert_int_equal(db_migrate(fx->db, steps, 2, &err), -EIO);
        assert_contains(err->message, "schema step 2 (half)");
        assert_contains(err->message, "step refused");
        error_free(err);
        assert_int_equal(db_schema_version(fx->db), 1);
        assert_true(table_exists(fx->db, "a"));
        assert_false(table_exists(fx->db, "half"));
}

static void test_bad_sql_names_the_step(void **state) {
        Fixture *fx = *state;
        const DbMigration steps[] = {{.what = "broken", .sql = "CREATE TABLE"}};
        Error *err = NULL;
        assert_int_equal(db_migrate(fx->db, steps, 1, &err), -EIO);
        assert_contains(err->message, "schema step 1 (broken)");
        error_free(err);
        assert_int_equal(db_schema_version(fx->db), 0);
}

static void test_newer_database_is_refused(void **state) {
        Fixture *fx = *state;
        assert_int_equal(sqlite3_exec(fx->db, "PRAGMA user_version = 7", NULL, NULL, NULL), SQLITE_OK);
        Error *err = NULL;
        assert_int_equal(db_migrate(fx->db, three, 3, &err), -EPROTO);
        assert_contains(err->message, "newer");
        error_free(err);
        assert_false(table_exists(fx->db, "a"));
}

/* A store made before versioning has the tables and user_version 0: it opens and is stamped. */
static void test_unversioned_store_is_adopted(void **state) {
        Fixture *fx = *state;
        assert_int_equal(
                sqlite3_exec(fx->db,
                             "CREATE TABLE images (id TEXT PRIMARY KEY, config_digest TEXT NOT NULL,"
                             " manifest_digest TEXT NOT NULL, size INTEGER NOT NULL,"
                             " pulled INTEGER NOT NULL, user TEXT NOT NULL);"
                             "INSERT INTO images VALUES ('abc', 'sha256:abc', 'sha256:def', 1, 2, '');",
                             NULL, NULL, NULL),
                SQLITE_OK);
        Store *s = NULL;
        _cleanup_error_ Error *err = NULL;
        assert_ok(store_open(fx->dir, &s, &err), err);
        store_close(s);
        assert_int_equal(db_schema_version(fx->db), (int)store_migrations_count);
        assert_true(table_exists(fx->db, "image_tags"));
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(fx->db, "SELECT COUNT(*) FROM images", -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 1);
        sqlite3_finalize(st);
}

static void test_store_refuses_newer_schema(void **state) {
        Fixture *fx = *state;
        assert_int_equal(sqlite3_exec(fx->db, "PRAGMA user_version = 1000", NULL, NULL, NULL), SQLITE_OK);
        Store *s = NULL;
        Error *err = NULL;
        assert_int_equal(store_open(fx->dir, &s, &err), -EPROTO);
        assert_null(s);
        error_free(err);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_fresh_database_runs_every_step, setup, teardown),
                cmocka_unit_test_setup_teardown(test_appended_step_runs_alone, setup, teardown),
                cmocka_unit_test_setup_teardown(test_failed_step_rolls_back_and_keeps_version, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_bad_sql_names_the_step, setup, teardown),
                cmocka_unit_test_setup_teardown(test_newer_database_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unversioned_store_is_adopted, setup, teardown),
                cmocka_unit_test_setup_teardown(test_store_refuses_newer_schema, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
