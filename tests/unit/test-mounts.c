/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs-util.h"
#include "runtime-private.h"

static char root[64], outside[80];

static int setup(void **state) {
        snprintf(root, sizeof(root), "/tmp/test-mounts-XXXXXX");
        assert_non_null(mkdtemp(root));
        snprintf(outside, sizeof(outside), "%s-outside", root);
        assert_int_equal(mkdir(outside, 0755), 0);
        return 0;
}

static int teardown(void **state) {
        rm_rf(root);
        rm_rf(outside);
        return 0;
}

#define NO_UID ((uid_t)-1)
#define NO_GID ((gid_t)-1)

static bool is_dir(const char *a, const char *b, const char *c) {
        char p[256];
        snprintf(p, sizeof(p), "%s%s%s", a, b, c);
        struct stat st;
        return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void test_mkdir_in_root_creates_parents(void **state) {
        assert_int_equal(mkdir_in_root(root, "/var/lib/data", NO_UID, NO_GID, NULL), 0);
        assert_true(is_dir(root, "/var/lib/data", ""));
        /* Existing directories and odd slashes are fine. */
        assert_int_equal(mkdir_in_root(root, "//var/./lib/data/", NO_UID, NO_GID, NULL), 0);
}

/* A volume path through an image's absolute symlink lands inside the root, never on the host. */
static void test_mkdir_in_root_stays_inside(void **state) {
        char link[128];
        snprintf(link, sizeof(link), "%s/escape", root);
        assert_int_equal(symlink(outside, link), 0);
        /* The link resolves to <root><outside>, which does not exist: an error, and nothing outside. */
        Error *err = NULL;
        assert_int_equal(mkdir_in_root(root, "/escape/vol", NO_UID, NO_GID, &err), -ENOENT);
        assert_non_null(strstr(err->message, "/escape/vol"));
        error_free(err);
        assert_false(is_dir(outside, "/vol", ""));
        snprintf(link, sizeof(link), "%s/up", root);
        assert_int_equal(symlink("../../../..", link), 0);
        assert_int_equal(mkdir_in_root(root, "/up/tmp-escape-check", NO_UID, NO_GID, NULL), 0);
        assert_true(is_dir(root, "/tmp-escape-check", ""));
        rmdir("/tmp-escape-check");
}

static void owner_of(const char *a, const char *b, uid_t *uid, gid_t *gid) {
        char p[256];
        snprintf(p, sizeof(p), "%s%s", a, b);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        *uid = st.st_uid;
        *gid = st.st_gid;
}

/* In a user namespace, volumes created for the image belong to the namespace's root; existing ones stay. */
static void test_mkdir_in_root_owner(void **state) {
        assert_int_equal(mkdir_in_root(root, "/var", NO_UID, NO_GID, NULL), 0);
        assert_int_equal(mkdir_in_root(root, "/var/cache/app", 100000, 100001, NULL), 0);
        uid_t uid;
        gid_t gid;
        owner_of(root, "/var/cache/app", &uid, &gid);
        assert_true(uid == 100000 && gid == 100001);
        owner_of(root, "/var/cache", &uid, &gid);
        assert_true(uid == 100000 && gid == 100001);
        owner_of(root, "/var", &uid, &gid);
        assert_true(uid == 0 && gid == 0);
}

static void test_idmap_to_host(void **state) {
        const IdMap maps[] = {{.container_id = 0, .host_id = 100000, .length = 1000},
                              {.container_id = 5000, .host_id = 300000, .length = 10}};
        assert_int_equal(idmap_to_host(maps, 2, 0), 100000);
        assert_int_equal(idmap_to_host(maps, 2, 999), 100999);
        assert_int_equal(idmap_to_host(maps, 2, 1000), -1);
        assert_int_equal(idmap_to_host(maps, 2, 5009), 300009);
        assert_int_equal(idmap_to_host(maps, 2, 5010), -1);
        assert_int_equal(idmap_to_host(maps, 0, 0), -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_mkdir_in_root_creates_parents, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mkdir_in_root_stays_inside, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mkdir_in_root_owner, setup, teardown),
                cmocka_unit_test(test_idmap_to_host),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
