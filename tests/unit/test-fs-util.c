/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs-util.h"
#include "macros.h"
#include "test-util.h"

static int setup(void **state) {
        char *dir = xstrdup("/tmp/test-fs-util-XXXXXX");
        if (!mkdtemp(dir))
                return -1;
        *state = dir;
        return 0;
}

static int teardown(void **state) {
        char *dir = *state;
        /* rm -rf by the shell, so a broken rm_rf cannot also break the clean-up. */
        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
        int r = system(cmd);
        free(dir);
        return r == 0 ? 0 : -1;
}

static void touch_at(int dirfd, const char *name) {
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        close(fd);
}

/* A chain of `levels` directories "d/d/d/..." under `path`, each with a file, made holding two fds. */
static void make_chain(const char *path, int levels) {
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(fd >= 0);
        for (int i = 0; i < levels; i++) {
                assert_int_equal(mkdirat(fd, "d", 0755), 0);
                touch_at(fd, "f");
                int child = openat(fd, "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                assert_true(child >= 0);
                close(fd);
                fd = child;
        }
        touch_at(fd, "leaf");
        close(fd);
}

static bool exists(const char *path) {
        struct stat st;
        return lstat(path, &st) == 0;
}

/* A valid layer may nest thousands of directories; removing them must not need an fd per level. */
static void test_rm_rf_deep_chain_under_low_fd_limit(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *top = xasprintf("%s/top", dir);
        assert_int_equal(mkdir(top, 0755), 0);
        make_chain(top, 2000);

        struct rlimit saved, low;
        assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
        low = (struct rlimit){.rlim_cur = 64, .rlim_max = saved.rlim_max};
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
        int r = rm_rf(top);
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
        assert_int_equal(r, 0);
        assert_false(exists(top));
}

static void test_rm_rf_wide_tree_and_symlinks(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *top = xasprintf("%s/top", dir);
        _cleanup_free_ char *outside = xasprintf("%s/outside", dir);
        assert_int_equal(mkdir(top, 0755), 0);
        assert_int_equal(mkdir(outside, 0755), 0);
        _cleanup_free_ char *keep = xasprintf("%s/keep", outside);
        int ofd = open(outside, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        touch_at(ofd, "keep");
        close(ofd);
        int fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        for (int i = 0; i < 50; i++) {
                char name[16];
                snprintf(name, sizeof(name), "s%d", i);
                assert_int_equal(mkdirat(fd, name, 0755), 0);
                int sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                touch_at(sub, "a");
                assert_int_equal(mkdirat(sub, "empty", 0700), 0);
                assert_int_equal(symlinkat(outside, sub, "link"), 0);
                close(sub);
        }
        assert_int_equal(mkfifoat(fd, "fifo", 0600), 0);
        close(fd);
        assert_int_equal(rm_rf(top), 0);
        assert_false(exists(top));
        assert_true(exists(keep));
}

static void test_rm_rf_missing_and_plain_file(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *missing = xasprintf("%s/missing", dir);
        assert_int_equal(rm_rf(missing), 0);
        _cleanup_free_ char *file = xasprintf("%s/file", dir);
        assert_int_equal(write_file_atomic(file, "x", 1, 0600), 0);
        assert_int_equal(rm_rf(file), 0);
        assert_false(exists(file));
}

/* Both writers replace the whole file, set the mode, and leave no temporary file beside it. */
static void check_writer(const char *dir, int (*write_fn)(const char *, const void *, size_t, mode_t)) {
        _cleanup_free_ char *file = xasprintf("%s/config.json", dir);
        assert_int_equal(write_fn(file, "a much longer first version", 27, 0644), 0);
        assert_int_equal(write_fn(file, "v2", 2, 0600), 0);
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        assert_int_equal(read_file(file, 1024, &text, &len), 0);
        assert_int_equal(len, 2);
        assert_string_equal(text, "v2");
        struct stat st;
        assert_int_equal(stat(file, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0600);
        _cleanup_free_ char *cmd = xasprintf("test $(ls -A '%s' | wc -l) -eq 1", dir);
        assert_int_equal(system(cmd), 0);
        _cleanup_free_ char *missing = xasprintf("%s/no-such-dir/f", dir);
        assert_int_equal(write_fn(missing, "x", 1, 0600), -ENOENT);
}

static void test_write_file_atomic(void **state) {
        check_writer(*state, write_file_atomic);
}

static void test_write_file_replace(void **state) {
        check_writer(*state, write_file_replace);
}

static void test_is_namespace_file(void **state) {
        assert_true(is_namespace_file("/proc/self/ns/net"));
        assert_false(is_namespace_file("/proc/self/status"));
        assert_false(is_namespace_file("/no/such/pin"));
}

static void test_path_has_dotdot(void **state) {
        static const char *const yes[] = {"..", "../a", "a/..", "a/../b", "/..", "a//../b"};
        static const char *const no[] = {"",        "a",       "/a/b", "..a",    "a..",
                                         "a/..b/c", "a/b../c", "...",  "a/.../b"};
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                assert_true(path_has_dotdot(yes[i]));
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                assert_false(path_has_dotdot(no[i]));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_rm_rf_deep_chain_under_low_fd_limit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rm_rf_wide_tree_and_symlinks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rm_rf_missing_and_plain_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_file_atomic, setup, teardown),
                cmocka_unit_test_setup_teardown(test_write_file_replace, setup, teardown),
                cmocka_unit_test(test_is_namespace_file),
                cmocka_unit_test(test_path_has_dotdot),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
