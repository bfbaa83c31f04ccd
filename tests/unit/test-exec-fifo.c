/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec-fifo.h"
#include "test-util.h"

/* What the child plays of `runc init` before it would exec the container's process. */
typedef enum { WRITES_AND_EXECS, CLOSES_SILENTLY, DIES_UNOPENED, HANGS } Init;

typedef struct Fixture {
        char dir[64];
        char path[96];
        pid_t pid;
        int fifo, pidfd;
} Fixture;

static void play(const char *path, Init how) {
        if (how == DIES_UNOPENED)
                _exit(1);
        if (how == HANGS)
                pause();
        int fd = open(path, O_WRONLY | O_CLOEXEC); /* blocks until the reader is there */
        if (how == WRITES_AND_EXECS && write(fd, "0", 1) == 1)
                execl("/bin/sleep", "sleep", "0.2", (char *)NULL); /* the exec closes the FIFO */
        _exit(0);
}

static void start(Fixture *f, Init how) {
        strcpy(f->dir, "/tmp/test-exec-fifo-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(f->path, sizeof(f->path), "%s/exec.fifo", f->dir);
        assert_int_equal(mkfifo(f->path, 0600), 0);
        f->pid = fork();
        assert_true(f->pid >= 0);
        if (f->pid == 0)
                play(f->path, how);
        f->fifo = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        f->pidfd = (int)syscall(SYS_pidfd_open, f->pid, 0);
        assert_true(f->fifo >= 0 && f->pidfd >= 0);
}

static void finish(Fixture *f) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
        close(f->fifo);
        close(f->pidfd);
        unlink(f->path);
        rmdir(f->dir);
}

static const char *comm_of(pid_t pid) {
        static char comm[32];
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/comm", pid);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd < 0 ? -1 : read(fd, comm, sizeof(comm) - 1);
        comm[n > 0 ? n : 0] = 0;
        if (fd >= 0)
                close(fd);
        return comm;
}

static void test_an_init_that_writes_and_execs_is_started(void **state) {
        Fixture f;
        start(&f, WRITES_AND_EXECS);
        Error *err = NULL;
        assert_ok(exec_fifo_read(f.fifo, f.pidfd, 10000, &err), err);
        /* It returned once the FIFO closed in the exec (the new name may lag a moment behind). */
        bool execd = false;
        for (int i = 0; i < 200 && !execd; i++, usleep(10000))
                execd = strcmp(comm_of(f.pid), "sleep\n") == 0;
        assert_true(execd);
        finish(&f);
}

static void expect_failure(Init how, int timeout_ms, int code, const char *words) {
        Fixture f;
        start(&f, how);
        Error *err = NULL;
        assert_int_equal(exec_fifo_read(f.fifo, f.pidfd, timeout_ms, &err), -code);
        assert_contains(err->message, words);
        error_free(err);
        finish(&f);
}

static void test_an_init_that_dies_first_fails_the_start(void **state) {
        expect_failure(DIES_UNOPENED, 10000, ESRCH, "exited before it started");
}

static void test_an_init_that_closes_without_writing_fails_the_start(void **state) {
        expect_failure(CLOSES_SILENTLY, 10000, EIO, "without starting");
}

static void test_an_init_that_never_comes_times_out(void **state) {
        expect_failure(HANGS, 200, ETIMEDOUT, "within 200 ms");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_an_init_that_writes_and_execs_is_started),
                cmocka_unit_test(test_an_init_that_dies_first_fails_the_start),
                cmocka_unit_test(test_an_init_that_closes_without_writing_fails_the_start),
                cmocka_unit_test(test_an_init_that_never_comes_times_out),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
