/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs-util.h"
#include "user.h"

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "broken line\n"
                             "www:x:33:33::/var/www:/bin/false\n"
                             "bad:x:abc:1::/:/bin/sh\n"
                             "app:x:1000:1000::/home/app:/bin/sh";
static const char group[] = "root:x:0:\nwww:x:33:app\nextra:x:2000:app,www\napp:x:1000:\n";

static void test_passwd_find(void **state) {
        char *name = NULL;
        int64_t uid = -1, gid = -1;
        assert_int_equal(passwd_find(passwd, "www", 0, &name, &uid, &gid), 0);
        assert_string_equal(name, "www");
        assert_int_equal(uid, 33);
        assert_int_equal(gid, 33);
        free(name);
        /* The last line has no newline; lookups by uid find the name. */
        assert_int_equal(passwd_find(passwd, NULL, 1000, &name, &uid, &gid), 0);
        assert_string_equal(name, "app");
        free(name);
        assert_int_equal(passwd_find(passwd, "bad", 0, NULL, &uid, &gid), -ENOENT);
        assert_int_equal(passwd_find(passwd, "nobody", 0, NULL, &uid, &gid), -ENOENT);
        assert_int_equal(passwd_find("", "root", 0, NULL, &uid, &gid), -ENOENT);
}

static void test_groups(void **state) {
        int64_t gid = -1;
        assert_int_equal(group_find(group, "extra", &gid), 0);
        assert_int_equal(gid, 2000);
        assert_int_equal(group_find(group, "none", &gid), -ENOENT);
        int64_t *groups = NULL;
        size_t n = group_memberships(group, "app", &groups, 0);
        assert_int_equal(n, 2);
        assert_int_equal(groups[0], 33);
        assert_int_equal(groups[1], 2000);
        free(groups);
}

typedef struct Root {
        char dir[64];
        int fd;
} Root;

static int setup(void **state) {
        Root *r = calloc(1, sizeof(*r));
        snprintf(r->dir, sizeof(r->dir), "/tmp/test-user-XXXXXX");
        assert_non_null(mkdtemp(r->dir));
        char path[128];
        snprintf(path, sizeof(path), "%s/etc", r->dir);
        mkdir(path, 0755);
        snprintf(path, sizeof(path), "%s/etc/passwd", r->dir);
        assert_int_equal(write_file_atomic(path, passwd, strlen(passwd), 0644), 0);
        snprintf(path, sizeof(path), "%s/etc/group", r->dir);
        assert_int_equal(write_file_atomic(path, group, strlen(group), 0644), 0);
        r->fd = open(r->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        *state = r;
        return 0;
}

static int teardown(void **state) {
        Root *r = *state;
        close(r->fd);
        rm_rf(r->dir);
        free(r);
        return 0;
}

static ResolvedUser resolve(Root *r, UserRequest req, int expect) {
        ResolvedUser u = {};
        Error *err = NULL;
        assert_int_equal(user_resolve(r->fd, &req, &u, &err), expect);
        if (expect < 0) {
                assert_non_null(err);
                error_free(err);
        }
        return u;
}

static void test_resolve_rules(void **state) {
        Root *r = *state;
        ResolvedUser u =
                resolve(r, (UserRequest){.image_user = "app", .run_as_user = -1, .run_as_group = -1}, 0);
        assert_int_equal(u.uid, 1000);
        assert_int_equal(u.gid, 1000);
        assert_int_equal(u.n_groups, 2);
        free(u.groups);
        /* run_as_user beats the image; a uid not in passwd is fine and gets gid 0. */
        u = resolve(r, (UserRequest){.image_user = "app", .run_as_user = 4242, .run_as_group = -1}, 0);
        assert_int_equal(u.uid, 4242);
        assert_int_equal(u.gid, 0);
        free(u.groups);
        u = resolve(r, (UserRequest){.image_user = "www:extra", .run_as_user = -1, .run_as_group = -1}, 0);
        assert_int_equal(u.uid, 33);
        assert_int_equal(u.gid, 2000);
        free(u.groups);
        int64_t extra[] = {7, 8};
        u = resolve(r,
                    (UserRequest){.run_as_username = "www",
                                  .run_as_user = -1,
                                  .run_as_group = 5,
                                  .supplemental = extra,
                                  .n_supplemental = 2},
                    0);
        assert_int_equal(u.gid, 5);
        assert_int_equal(u.n_groups, 3); /* extra (member), then 7 and 8 */
        assert_int_equal(u.groups[2], 8);
        free(u.groups);
        u = resolve(r, (UserRequest){.run_as_user = -1, .run_as_group = -1}, 0);
        assert_int_equal(u.uid, 0);
        free(u.groups);
        resolve(r, (UserRequest){.run_as_username = "ghost", .run_as_user = -1, .run_as_group = -1},
                -EINVAL);
        resolve(r, (UserRequest){.image_user = "app:nogroup", .run_as_user = -1, .run_as_group = -1},
                -EINVAL);
}

/* An image whose /etc/passwd is a link to a host file must not read the host's file. */
static void test_links_stay_in_the_root(void **state) {
        Root *r = *state;
        char outside[128], link[128];
        snprintf(outside, sizeof(outside), "%s-outside", r->dir);
        const char evil[] = "evil:x:4242:4242::/:/bin/sh\n";
        assert_int_equal(write_file_atomic(outside, evil, strlen(evil), 0644), 0);
        snprintf(link, sizeof(link), "%s/etc/passwd", r->dir);
        unlink(link);
        assert_int_equal(symlink(outside, link), 0);
        resolve(r, (UserRequest){.run_as_username = "evil", .run_as_user = -1, .run_as_group = -1}, -EINVAL);
        unlink(outside);
}

/* A FIFO would block the open for ever, a device node would be opened on the node: both refused. */
static void test_special_files_are_refused(void **state) {
        Root *r = *state;
        char path[128];
        snprintf(path, sizeof(path), "%s/etc/passwd", r->dir);
        unlink(path);
        assert_int_equal(mkfifo(path, 0644), 0);
        Error *err = NULL;
        ResolvedUser u = {};
        UserRequest numeric = {.run_as_user = 0, .run_as_group = -1};
        assert_int_equal(user_resolve(r->fd, &numeric, &u, &err), -EINVAL);
        assert_non_null(strstr(err->message, "/etc/passwd is a FIFO"));
        error_free(err);
        err = NULL;
        unlink(path);
        snprintf(path, sizeof(path), "%s/etc/group", r->dir);
        unlink(path);
        assert_int_equal(mknod(path, S_IFCHR | 0644, makedev(1, 3)), 0);
        assert_int_equal(user_resolve(r->fd, &numeric, &u, &err), -EINVAL);
        assert_non_null(strstr(err->message, "/etc/group is a device node"));
        error_free(err);
        /* Missing files are no error: a numeric user need not exist. */
        unlink(path);
        err = NULL;
        assert_int_equal(user_resolve(r->fd, &numeric, &u, &err), 0);
        free(u.groups);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_passwd_find),
                cmocka_unit_test(test_groups),
                cmocka_unit_test_setup_teardown(test_resolve_rules, setup, teardown),
                cmocka_unit_test_setup_teardown(test_links_stay_in_the_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_special_files_are_refused, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
