/* SPDX-License-Identifier: Apache-2.0 */
/* The OCI seccomp compiler that crio-nsexec's filters come from, checked by loading what it makes. */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "exec-plan.h"
#include "oci-spec.h"
#include "test-util.h"

static int compile(json_object *profile, unsigned *flags, Error **err) {
        int fd = memfd_create("bpf", MFD_CLOEXEC);
        assert_true(fd >= 0);
        int r = seccomp_bpf_compile(profile, fd, flags, err);
        if (r < 0) {
                close(fd);
                return r;
        }
        return fd;
}

static long call_keyctl(void) {
        return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -1, 0);
}

static long call_unshare_uts(void) {
        return syscall(SYS_unshare, CLONE_NEWUTS);
}

static long call_clone3(void) {
        struct {
                uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
        } args = {.exit_signal = SIGCHLD};
        long r = syscall(SYS_clone3, &args, sizeof(args));
        if (r == 0)
                _exit(0);
        return r;
}

/* clone with FLAGS and SIGCHLD; a child that was made exits at once. */
static long clone_with(unsigned long flags) {
        long r = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
        if (r == 0)
                _exit(0);
        if (r > 0)
                waitpid((pid_t)r, NULL, 0);
        return r < 0 ? r : 0;
}

static long call_clone_newnet(void) {
        return clone_with(CLONE_NEWNET);
}

static long call_plain_fork(void) {
        return clone_with(0);
}

/*
 * In a child: load the filter and report, as the exit code, the errno of the call, 0 when it
 * was allowed, and 99 when the child's own getpid() failed.
 */
static int errno_of_call_under(int fd, long (*call)(void)) {
        static char buf[BPF_MAXINSNS * sizeof(struct sock_filter)];
        ssize_t n = pread(fd, buf, sizeof(buf), 0);
        assert_true(n > 0 && n % (ssize_t)sizeof(struct sock_filter) == 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct sock_fprog prog = {.len = (unsigned short)(n / (ssize_t)sizeof(struct sock_filter)),
                                          .filter = (struct sock_filter *)(void *)buf};
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
                    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
                        _exit(98);
                if (getpid() <= 0)
                        _exit(99);
                long r = call();
                _exit(r < 0 ? errno : 0);
        }
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

static int errno_of_keyctl_under(int fd) {
        return errno_of_call_under(fd, call_keyctl);
}

/* The built-in profile, compiled: an fd holding the filter. */
static int compile_default(bool sys_admin, unsigned *flags) {
        json_object *p = seccomp_default_profile(sys_admin);
        _cleanup_error_ Error *err = NULL;
        int fd = compile(p, flags, &err);
        json_object_put(p);
        assert_true(fd >= 0);
        return fd;
}

static void test_default_profile_denies_keyctl(void **state) {
        unsigned flags = 1;
        int fd = compile_default(false, &flags);
        assert_int_equal(flags, 0);
        assert_int_equal(errno_of_keyctl_under(fd), EPERM);
        close(fd);
}

/* Without CAP_SYS_ADMIN: no namespaces by unshare or clone, clone3 absent, a plain fork fine. */
static void test_default_profile_denies_namespaces_without_sys_admin(void **state) {
        unsigned flags = 0;
        int fd = compile_default(false, &flags);
        assert_int_equal(errno_of_call_under(fd, call_unshare_uts), EPERM);
        assert_int_equal(errno_of_call_under(fd, call_clone_newnet), EPERM);
        assert_int_equal(errno_of_call_under(fd, call_clone3), ENOSYS);
        assert_int_equal(errno_of_call_under(fd, call_plain_fork), 0);
        close(fd);
        /* With it (and root, as this test runs), the same calls go through. */
        fd = compile_default(true, &flags);
        assert_int_equal(errno_of_call_under(fd, call_unshare_uts), 0);
        assert_int_equal(errno_of_call_under(fd, call_clone_newnet), 0);
        assert_int_equal(errno_of_call_under(fd, call_keyctl), EPERM);
        close(fd);
}

static void test_errno_and_conditions(void **state) {
        /* keyctl answers ENOSYS when its first argument is 0 (two conditions on one argument: either). */
        json_object *p = json_tokener_parse(
                "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_X86_64\"],"
                " \"flags\": [\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],"
                " \"syscalls\": [{\"names\": [\"keyctl\", \"not_a_syscall\"], \"action\": "
                "\"SCMP_ACT_ERRNO\","
                "   \"errnoRet\": 38, \"args\": [{\"index\": 0, \"value\": 0, \"op\": \"SCMP_CMP_EQ\"},"
                "                            {\"index\": 0, \"value\": 7, \"op\": \"SCMP_CMP_EQ\"}]},"
                "  {\"names\": [\"getpid\"], \"action\": \"SCMP_ACT_ALLOW\"}]}");
        unsigned flags = 0;
        _cleanup_error_ Error *err = NULL;
        int fd = compile(p, &flags, &err);
        assert_true(fd >= 0);
        assert_int_equal(flags, SECCOMP_FILTER_FLAG_SPEC_ALLOW);
        assert_int_equal(errno_of_keyctl_under(fd), ENOSYS);
        close(fd);
        json_object_put(p);
}

static void assert_refused(const char *text, int code, const char *needle) {
        json_object *p = json_tokener_parse(text);
        assert_non_null(p);
        unsigned flags = 0;
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(compile(p, &flags, &err), -code);
        assert_contains(err->message, needle);
        json_object_put(p);
}

static void test_refusals(void **state) {
        assert_refused("{\"defaultAction\": \"SCMP_ACT_NOTIFY\"}", EOPNOTSUPP, "SCMP_ACT_NOTIFY");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"listenerPath\": \"/run/x.sock\"}",
                       EOPNOTSUPP, "listener");
        assert_refused(
                "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"flags\": [\"SECCOMP_FILTER_FLAG_NEW_LISTENER\"]}",
                EOPNOTSUPP, "NEW_LISTENER");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_BOGUS\"}", EINVAL, "BOGUS");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ERRNO\"}", EOPNOTSUPP, "allow list");
        assert_refused("{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"architectures\": [\"SCMP_ARCH_PDP11\"]}",
                       EINVAL, "PDP11");
        assert_refused(
                "{\"defaultAction\": \"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"read\"],"
                " \"action\": \"SCMP_ACT_ERRNO\", \"args\": [{\"index\": 9, \"op\": \"SCMP_CMP_EQ\"}]}]}",
                EINVAL, "argument condition");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_profile_denies_keyctl),
                cmocka_unit_test(test_default_profile_denies_namespaces_without_sys_admin),
                cmocka_unit_test(test_errno_and_conditions),
                cmocka_unit_test(test_refusals),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
