/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "exec-plan.h"
#include "fs-util.h"
#include "json-util.h"
#include "log.h"
#include "process.h"
#include "runtime-private.h"
#include "strv.h"

/* How long crio-nsexec may take to start the command. */
#define START_TIMEOUT_MS 60000
#define SPEC_MAX (16 << 20)
#define REPORT_MAX 64

static int read_spec(const Container *c, json_object **ret, Error **reterr) {
        _cleanup_free_ char *path = xasprintf("%s/config.json", c->bundle), *text = NULL;
        size_t len = 0;
        int r = read_file(path, SPEC_MAX, &text, &len);
        if (r < 0)
                return error_set(reterr, -r, "read %s: %s", path, strerror(-r));
        return json_parse_object(text, len, "config.json", ret, reterr);
}

static int memfd_with(const char *name, const void *data, size_t len, Error **reterr) {
        _cleanup_close_ int fd = memfd_create(name, MFD_CLOEXEC);
        if (fd < 0)
                return error_set(reterr, errno, "memfd_create: %m");
        for (size_t done = 0; done < len;) {
                ssize_t n = write(fd, (const char *)data + done, len - done);
                if (n < 0 && errno != EINTR)
                        return error_set(reterr, errno, "write %s: %m", name);
                done += n > 0 ? (size_t)n : 0;
        }
        return TAKE_FD(fd);
}

/*
 * The container's seccomp filter as BPF in a memfd, or -EBADF when it has none; a record with the flags
 * to load it with is appended to the plan.
 */
static int seccomp_fd(json_object *spec, char **plan, size_t *plan_len, Error **reterr) {
        json_object *linux_ = NULL, *seccomp = NULL;
        if (!json_object_object_get_ex(spec, "linux", &linux_) ||
            !json_object_object_get_ex(linux_, "seccomp", &seccomp) || !seccomp)
                return -EBADF;
        unsigned flags = 0;
        _cleanup_close_ int bpf = memfd_with("exec-seccomp", "", 0, reterr);
        int r = bpf < 0 ? bpf : seccomp_bpf_compile(seccomp, bpf, &flags, reterr);
        if (r < 0)
                return r;
        char rec[32];
        int n = snprintf(rec, sizeof(rec), "seccomp_flags=%u", flags);
        *plan = xrealloc(*plan, *plan_len + (size_t)n + 1);
        memcpy(*plan + *plan_len, rec, (size_t)n + 1);
        *plan_len += (size_t)n + 1;
        return TAKE_FD(bpf);
}

/* The plan's memfd and *ret_seccomp; -EOPNOTSUPP when the container needs the runtime's own exec. */
static int plan_fds(const Container *c, const ExecLaunch *l, json_object *spec, int *ret_seccomp,
                    Error **reterr) {
        /* Without its cgroup the command would escape the pod's limits: leave it to the runtime. */
        if (!c->cgroup)
                return error_set(reterr, EOPNOTSUPP, "the container's cgroup is not known");
        ExecRequest req = {.argv = l->argv,
                           .cgroup = c->cgroup,
                           .tty = l->tty,
                           .width = l->width,
                           .height = l->height,
                           .selinux_enabled = access("/sys/fs/selinux/enforce", F_OK) == 0};
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r = exec_plan_build(spec, &req, &buf, &len, reterr);
        _cleanup_close_ int bpf = r < 0 ? r : seccomp_fd(spec, &buf, &len, reterr);
        if (r < 0 || (bpf < 0 && bpf != -EBADF))
                return r < 0 ? r : bpf;
        int fd = memfd_with("exec-plan", buf, len, reterr);
        if (fd >= 0)
                *ret_seccomp = TAKE_FD(bpf);
        return fd;
}

/* The init's pidfd, taken while the container is known to run: its pid cannot be someone else's. */
static int init_pidfd(Runtime *rt, Container *c, Error **reterr) {
        int fd = (int)syscall(SYS_pidfd_open, c->pid, 0);
        if (fd < 0)
                return error_set(reterr, errno == ESRCH ? EBUSY : errno, "container %s is not running",
                                 c->id);
        fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (!container_is_running(rt, c)) {
                close(fd);
                return error_set(reterr, EBUSY, "container %s is not running", c->id);
        }
        return fd;
}

typedef struct HelperFds {
        int plan, pidfd, seccomp;
        int report[2];
        int console[2]; /* [0] ours, [1] the helper's */
} HelperFds;

static void close_fd(int *fd) {
        if (*fd >= 0)
                close(*fd);
        *fd = -1;
}

static void helper_fds_done(HelperFds *f) {
        int *all[] = {&f->plan,      &f->pidfd,      &f->seccomp,   &f->report[0],
                      &f->report[1], &f->console[0], &f->console[1]};
        for (size_t i = 0; i < ELEMENTSOF(all); i++)
                close_fd(all[i]);
}

static int spawn_helper(Runtime *rt, const ExecLaunch *l, HelperFds *f, pid_t *ret_pid, Error **reterr) {
        int pass[5] = {f->plan, f->pidfd, f->report[1]};
        size_t n = 3;
        _cleanup_strv_free_ char **a = NULL;
        a = strv_push(a, xstrdup(rt->paths.nsexec));
        a = strv_push(a, xstrdup("--plan-fd=3"));
        a = strv_push(a, xstrdup("--pidfd=4"));
        a = strv_push(a, xstrdup("--report-fd=5"));
        if (f->console[1] >= 0) {
                a = strv_push(a, xasprintf("--console-fd=%zu", 3 + n));
                pass[n++] = f->console[1];
        }
        if (f->seccomp >= 0) {
                a = strv_push(a, xasprintf("--seccomp-fd=%zu", 3 + n));
                pass[n++] = f->seccomp;
        }
        _cleanup_close_ int program = sealed_binary_fd(&rt->sealed, rt->paths.nsexec);
        SpawnOptions o = {.argv = (const char *const *)a,
                          .stdin_fd = l->in,
                          .stdout_fd = l->out,
                          .stderr_fd = l->err,
                          .pass_fds = pass,
                          .n_pass_fds = n,
                          .program_fd = program};
        return process_spawn(&o, ret_pid, reterr);
}

static int read_report(int fd) {
        char buf[REPORT_MAX];
        ssize_t n;
        while ((n = read(fd, buf, sizeof(buf) - 1)) < 0 && errno == EINTR)
                ;
        if (n <= 0)
                return -1;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        return parse_pid(buf);
}

static int open_helper_fds(Runtime *rt, Container *c, const ExecLaunch *l, HelperFds *f, Error **reterr) {
        *f = (HelperFds){-1, -1, -1, {-1, -1}, {-1, -1}};
        /* An install without the helper (an older package, a copied binary) still execs, through runc. */
        if (access(rt->paths.nsexec, X_OK) < 0)
                return error_set(reterr, EOPNOTSUPP, "%s: %m", rt->paths.nsexec);
        json_object *spec = NULL;
        int r = read_spec(c, &spec, reterr);
        if (r >= 0)
                r = f->plan = plan_fds(c, l, spec, &f->seccomp, reterr);
        json_object_put(spec);
        if (r >= 0)
                r = f->pidfd = init_pidfd(rt, c, reterr);
        if (r >= 0 && pipe2(f->report, O_CLOEXEC) < 0)
                r = error_set(reterr, errno, "pipe: %m");
        if (r >= 0 && l->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->console) < 0)
                r = error_set(reterr, errno, "socketpair: %m");
        return r;
}

int exec_helper_start(Runtime *rt, Container *c, const ExecLaunch *l, pid_t *ret_target, int *ret_console,
                      Error **reterr) {
        HelperFds f;
        pid_t helper = 0;
        int r = open_helper_fds(rt, c, l, &f, reterr);
        if (r >= 0)
                r = spawn_helper(rt, l, &f, &helper, reterr);
        /* The helper's ends: EOF on the report pipe must mean the helper is gone. */
        close_fd(&f.report[1]);
        close_fd(&f.console[1]);
        int status = 0;
        if (r >= 0 && process_wait(helper, START_TIMEOUT_MS, &status) < 0) {
                process_kill_and_wait(helper);
                /* The command's process may have been forked already: it must not stay behind. Its
                 * copy of the report pipe may keep the pipe open, so the read must not wait. */
                fcntl(f.report[0], F_SETFL, O_NONBLOCK);
                int stuck = read_report(f.report[0]);
                if (stuck > 0)
                        kill(stuck, SIGKILL);
                r = error_set(reterr, ETIMEDOUT, "crio-nsexec did not start the command");
        }
        int target = r >= 0 ? read_report(f.report[0]) : -1;
        if (r >= 0 && (status != 0 || target <= 0))
                r = WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status) : 255;
        else if (r >= 0) {
                *ret_target = target;
                *ret_console = TAKE_FD(f.console[0]);
        }
        helper_fds_done(&f);
        return r;
}

int exec_helper_try(Runtime *rt, Container *c, const ExecLaunch *l, pid_t *ret_target, int *ret_console,
                    Error **reterr) {
        Error *why = NULL;
        int r = exec_helper_start(rt, c, l, ret_target, ret_console, &why);
        if (r != -EOPNOTSUPP)
                return r < 0 ? error_propagate(reterr, why) : (error_free(why), r);
        log_debug("exec in container %s through the runtime: %s", c->id, why ? why->message : "");
        error_free(why);
        return r;
}
