/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "process.h"

static pid_t spawn(const char *script, int out_fd) {
        const char *argv[] = {"/bin/sh", "-c", script, NULL};
        SpawnOptions o = {.argv = argv, .stdin_fd = -1, .stdout_fd = out_fd, .stderr_fd = -1};
        pid_t pid = 0;
        assert_int_equal(process_spawn(&o, &pid, NULL), 0);
        return pid;
}

static void test_wait_gets_the_status(void **state) {
        int status = -1;
        assert_int_equal(process_wait(spawn("exit 3", -1), -1, &status), 0);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 3);
        /* A child that exits at once, before the spawner waits, keeps its status too. */
        pid_t pid = spawn("exit 4", -1);
        usleep(100000);
        assert_int_equal(process_wait(pid, 1000, &status), 0);
        assert_int_equal(WEXITSTATUS(status), 4);
        /* A pid we never spawned is not ours to wait for. */
        assert_int_equal(process_wait(1, 0, &status), -ECHILD);
}

static void test_program_fd_runs_in_place_of_the_path(void **state) {
        /* argv[0] names a program that does not exist: the fd's program runs, with argv[0] as given. */
        int fd = open("/bin/sh", O_RDONLY | O_CLOEXEC);
        assert_true(fd > 2);
        int pass = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int p[2];
        assert_int_equal(pipe2(p, O_CLOEXEC), 0);
        const char *argv[] = {"/nonexistent/named-shell", "-c", "echo $0; test -e /proc/self/fd/3 && exit 5",
                              NULL};
        SpawnOptions o = {.argv = argv,
                          .stdin_fd = -1,
                          .stdout_fd = p[1],
                          .stderr_fd = -1,
                          .pass_fds = &pass,
                          .n_pass_fds = 1,
                          .program_fd = fd};
        pid_t pid = 0;
        assert_int_equal(process_spawn(&o, &pid, NULL), 0);
        close(p[1]);
        int status = -1;
        assert_int_equal(process_wait(pid, 5000, &status), 0);
        assert_int_equal(WEXITSTATUS(status), 5);
        char out[128] = "";
        assert_true(read(p[0], out, sizeof(out) - 1) > 0);
        assert_string_equal(out, "/nonexistent/named-shell\n");
        close(p[0]);
        close(fd);
        close(pass);
}

static void test_wait_timeout_and_kill(void **state) {
        pid_t pid = spawn("sleep 30", -1);
        int status = 0;
        assert_int_equal(process_wait(pid, 50, &status), -ETIMEDOUT);
        process_kill_and_wait(pid);
        assert_int_equal(kill(pid, 0), -1);
}

static void test_missing_program(void **state) {
        const char *argv[] = {"/nonexistent/program", NULL};
        SpawnOptions o = {.argv = argv, .stdin_fd = -1, .stdout_fd = -1, .stderr_fd = -1};
        pid_t pid = 0;
        Error *err = NULL;
        assert_true(process_spawn(&o, &pid, &err) < 0);
        assert_non_null(strstr(err->message, "/nonexistent/program"));
        error_free(err);
}

static void test_run_collects_and_caps_output(void **state) {
        const char *argv[] = {"/bin/sh", "-c", "echo out; echo err >&2; exit 2", NULL};
        int status = 0;
        char *out = NULL;
        assert_int_equal(process_run(argv, 5000, 1024, &status, &out, NULL), 0);
        assert_int_equal(WEXITSTATUS(status), 2);
        assert_string_equal(out, "out\nerr\n");
        free(out);
        const char *big[] = {"/bin/sh", "-c", "head -c 100000 /dev/zero", NULL};
        assert_int_equal(process_run(big, 5000, 10, &status, &out, NULL), 0);
        assert_int_equal(WEXITSTATUS(status), 0);
        free(out);
        const char *slow[] = {"/bin/sh", "-c", "sleep 30", NULL};
        Error *err = NULL;
        assert_int_equal(process_run(slow, 100, 10, &status, &out, &err), -ETIMEDOUT);
        assert_non_null(strstr(err->message, "timed out"));
        error_free(err);
}

/* The grandchild is orphaned to us (a subreaper) and must not stay a zombie. */
static void test_orphans_are_reaped(void **state) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = spawn("sleep 0.2 & echo $!", fds[1]);
        close(fds[1]);
        char buf[32] = "";
        assert_true(read(fds[0], buf, sizeof(buf) - 1) > 0);
        close(fds[0]);
        int status = 0;
        assert_int_equal(process_wait(pid, 5000, &status), 0);
        int orphan = atoi(buf);
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d", orphan);
        bool gone = false;
        for (int i = 0; i < 300 && !gone; i++) {
                gone = access(path, F_OK) != 0;
                usleep(10000);
        }
        assert_true(gone);
}

/* Start a grandchild that exits with `code` after `delay`, return its pid once its parent is gone. */
static pid_t orphan(const char *delay, int code) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        char script[128];
        /* exec: the shell must not be there to reap its background child; echo never does. */
        snprintf(script, sizeof(script), "(sleep %s; exit %d) & exec echo $!", delay, code);
        pid_t pid = spawn(script, fds[1]);
        close(fds[1]);
        char buf[32] = "";
        assert_true(read(fds[0], buf, sizeof(buf) - 1) > 0);
        close(fds[0]);
        assert_int_equal(process_wait(pid, 5000, NULL), 0);
        return atoi(buf);
}

/* Orphans reaped while a report pipe is set are written to it, with their statuses. */
static void test_reaped_orphans_are_reported(void **state) {
        int report[2];
        assert_int_equal(pipe2(report, O_NONBLOCK | O_CLOEXEC), 0);
        process_report_orphans(report[1]);
        pid_t pid = orphan("0.1", 9);
        OrphanExit e = {};
        struct pollfd p = {.fd = report[0], .events = POLLIN};
        do /* other tests' orphans may come first */
                assert_int_equal(poll(&p, 1, 5000), 1);
        while (read(report[0], &e, sizeof(e)) == sizeof(e) && e.pid != pid);
        assert_int_equal(e.pid, pid);
        assert_true(WIFEXITED(e.status));
        assert_int_equal(WEXITSTATUS(e.status), 9);
        process_report_orphans(-1);
        close(report[0]);
        close(report[1]);
}

/* An adopted orphan's status reaches its adopter, whether it exits after or before the adoption. */
static void test_adopted_orphans_keep_their_status(void **state) {
        int status = 0;
        pid_t later = orphan("0.3", 5);
        process_adopt(later);
        assert_int_equal(process_wait(later, 5000, &status), 0);
        assert_int_equal(WEXITSTATUS(status), 5);
        pid_t early = orphan("0", 6);
        usleep(300000); /* reaped as an orphan before anyone asks */
        process_adopt(early);
        assert_int_equal(process_wait(early, 5000, &status), 0);
        assert_int_equal(WEXITSTATUS(status), 6);
}

static void test_parse_pid(void **state) {
        assert_int_equal(parse_pid("123"), 123);
        assert_int_equal(parse_pid("42\n"), 42);
        assert_int_equal(parse_pid(""), -EINVAL);
        assert_int_equal(parse_pid("0"), -EINVAL);
        assert_int_equal(parse_pid("-5"), -EINVAL);
        assert_int_equal(parse_pid("12x"), -EINVAL);
        assert_int_equal(parse_pid("99999999999"), -EINVAL);
}

static void test_proc_stat_state(void **state) {
        assert_int_equal(proc_stat_state("28906 (pause) S 1 28906 28906 0 -1"), 'S');
        assert_int_equal(proc_stat_state("7 (a) b) Z 1 7"), 'Z'); /* a name with ") " in it */
        assert_int_equal(proc_stat_state("8 (x\n) R 1"), 'R');
        assert_int_equal(proc_stat_state("9 (trunc"), 0);
        assert_int_equal(proc_stat_state("9 (x)"), 0);
        assert_int_equal(proc_stat_state(""), 0);
}

static void test_status_strings(void **state) {
        char *s = process_status_to_string(3 << 8);
        assert_string_equal(s, "exit status 3");
        free(s);
        s = process_status_to_string(9);
        assert_string_equal(s, "killed by signal 9");
        free(s);
}

static int run_io(const char *script, const char *input, size_t max, int64_t timeout_ms, int *status,
                  char **out, char **err) {
        const char *argv[] = {"/bin/sh", "-c", script, NULL};
        ProcessIO io = {.argv = argv,
                        .input = input,
                        .input_len = input ? strlen(input) : 0,
                        .max_stdout = max,
                        .max_stderr = max,
                        .timeout_ms = timeout_ms};
        return process_run_io(&io, status, out, err, NULL);
}

static void test_run_io_feeds_stdin_and_keeps_streams_apart(void **state) {
        int status = -1;
        char *out = NULL, *err = NULL;
        assert_int_equal(run_io("cat; echo oops >&2; exit 5", "{\"a\": 1}", 1024, 5000, &status, &out, &err),
                         0);
        assert_string_equal(out, "{\"a\": 1}");
        assert_string_equal(err, "oops\n");
        assert_int_equal(WEXITSTATUS(status), 5);
        free(out);
        free(err);
}

static void test_run_io_large_input_and_capped_output(void **state) {
        /* More than a pipe holds in both directions: the pump must interleave writing and reading. */
        size_t n = 1 << 20;
        char *big = malloc(n + 1);
        memset(big, 'x', n);
        big[n] = 0;
        int status = -1;
        char *out = NULL, *err = NULL;
        assert_int_equal(run_io("cat", big, 4096, 10000, &status, &out, &err), 0);
        assert_int_equal(strlen(out), 4096);
        assert_int_equal(WEXITSTATUS(status), 0);
        free(out);
        free(err);
        /* A child that never reads its stdin still finishes. */
        assert_int_equal(run_io("exit 0", big, 16, 10000, &status, &out, &err), 0);
        assert_string_equal(out, "");
        free(out);
        free(err);
        free(big);
}

static void test_run_io_timeout_kills(void **state) {
        int status = -1;
        char *out = NULL, *err = NULL;
        assert_int_equal(run_io("echo started; exec sleep 30", NULL, 64, 200, &status, &out, &err),
                         -ETIMEDOUT);
        assert_null(out);
        assert_null(err);
}

int main(void) {
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        assert_int_equal(process_reaper_start(), 0);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_wait_gets_the_status),
                cmocka_unit_test(test_program_fd_runs_in_place_of_the_path),
                cmocka_unit_test(test_wait_timeout_and_kill),
                cmocka_unit_test(test_missing_program),
                cmocka_unit_test(test_run_collects_and_caps_output),
                cmocka_unit_test(test_orphans_are_reaped),
                cmocka_unit_test(test_adopted_orphans_keep_their_status),
                cmocka_unit_test(test_reaped_orphans_are_reported),
                cmocka_unit_test(test_parse_pid),
                cmocka_unit_test(test_proc_stat_state),
                cmocka_unit_test(test_status_strings),
                cmocka_unit_test(test_run_io_feeds_stdin_and_keeps_streams_apart),
                cmocka_unit_test(test_run_io_large_input_and_capped_output),
                cmocka_unit_test(test_run_io_timeout_kills),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
