/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "cancel.h"
#include "fs-util.h"
#include "process.h"
#include "runtime-private.h"
#include "strv.h"

#define EXEC_TIMEOUT_MAX_S (100LL * 365 * 24 * 3600)

#define EXEC_OUTPUT_MAX (16 * 1024 * 1024)
/* How long `runtime exec --detach` may take to start the command. */
#define RUNTIME_START_TIMEOUT_MS 60000
/* After SIGKILL, how long to wait for the killed command to be reaped. */
#define KILL_WAIT_MS 5000

typedef struct Sink {
        int fd;
        char **buf;
        size_t *len;
} Sink;

/* Keep the first EXEC_OUTPUT_MAX bytes of a stream and drain the rest, so the child never blocks. */
static bool sink_read(Sink *s) {
        char chunk[65536];
        ssize_t n = read(s->fd, chunk, sizeof(chunk));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return true;
        if (n <= 0)
                return false;
        size_t keep = *s->len >= EXEC_OUTPUT_MAX ? 0 : (size_t)n;
        if (*s->len + keep > EXEC_OUTPUT_MAX)
                keep = EXEC_OUTPUT_MAX - *s->len;
        *s->buf = xrealloc(*s->buf, *s->len + keep + 1);
        memcpy(*s->buf + *s->len, chunk, keep);
        *s->len += keep;
        (*s->buf)[*s->len] = 0;
        return true;
}

/* How often the drain loop checks whether the exec'd process is gone while its pipes stay open. */
#define EXIT_CHECK_MS 50

/*
 * Has the adopted command exited? Normally its status reaches us through the reaper. Should
 * something else have reaped it (the pid is gone and no status came), it is gone all the same; its
 * exit code is then unknown and reported as 255.
 */
static bool command_exited(pid_t pid, int *ret_status) {
        if (process_wait(pid, 0, ret_status) == 0)
                return true;
        if (kill(pid, 0) == 0 || errno != ESRCH)
                return false;
        if (process_wait(pid, 0, ret_status) == 0)
                return true;
        process_forget(pid);
        *ret_status = 255 << 8;
        return true;
}

/*
 * Read both pipes until the runtime's exec process has exited and they are drained, or the deadline
 * (0: none) passes (-ETIMEDOUT), or the daemon shuts down (-ESHUTDOWN). A process the command left in
 * the background may hold the pipes open for ever: once the command itself exited, what is buffered is
 * read and the rest not waited for.
 */
static int drain(Runtime *rt, Sink *sinks, int64_t deadline, pid_t pid, int *ret_status) {
        int open = 2;
        bool exited = false;
        while (open > 0) {
                struct pollfd p[2];
                for (int i = 0; i < 2; i++)
                        p[i] = (struct pollfd){.fd = sinks[i].fd, .events = POLLIN};
                int timeout = exited ? 0 : EXIT_CHECK_MS;
                if (deadline && !exited) {
                        int64_t left = (deadline - monotonic_ns()) / 1000000;
                        if (left <= 0)
                                return -ETIMEDOUT;
                        timeout = left < timeout ? (int)left : timeout;
                }
                int n = poll(p, 2, timeout);
                if (n < 0 && errno == EINTR)
                        continue;
                if (!exited && __atomic_load_n(&rt->shutting_down, __ATOMIC_RELAXED))
                        return -ESHUTDOWN;
                if (n == 0 && exited)
                        return 0;
                if (n == 0)
                        exited = command_exited(pid, ret_status);
                for (int i = 0; n > 0 && i < 2; i++)
                        if (p[i].revents && !sink_read(&sinks[i])) {
                                sinks[i].fd = -1;
                                open--;
                        }
        }
        /* Both pipes closed, the command runs on: wait for it in steps, so a shutdown is seen. */
        while (!exited) {
                if (__atomic_load_n(&rt->shutting_down, __ATOMIC_RELAXED))
                        return -ESHUTDOWN;
                int64_t step = EXIT_CHECK_MS;
                if (deadline) {
                        int64_t left = (deadline - monotonic_ns()) / 1000000;
                        if (left <= 0)
                                return -ETIMEDOUT;
                        step = left < step ? left : step;
                }
                int r = process_wait(pid, step, ret_status);
                if (r != -ETIMEDOUT)
                        return r;
        }
        return 0;
}

/* SIGKILL a process and every descendant (read from /proc/PID/task/TID/children), children first. */
void exec_kill_tree(pid_t pid, int depth) {
        _cleanup_free_ char *dir = xasprintf("/proc/%d/task", pid);
        DIR *d = opendir(dir);
        kill(pid, SIGSTOP); /* no new children while we look */
        for (struct dirent *de; d && (de = readdir(d));) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *path = xasprintf("%s/%s/children", dir, de->d_name);
                _cleanup_free_ char *text = NULL;
                if (read_file(path, 1 << 20, &text, NULL) < 0)
                        continue;
                for (char *p = text, *end; *p; p = end) {
                        long child = strtol(p, &end, 10);
                        if (end == p)
                                break;
                        if (child > 0 && depth < 64)
                                exec_kill_tree((pid_t)child, depth + 1);
                }
        }
        if (d)
                closedir(d);
        kill(pid, SIGKILL);
}

static int read_pid_file(const char *path) {
        _cleanup_free_ char *text = NULL;
        if (read_file(path, 64, &text, NULL) < 0)
                return -1;
        return parse_pid(text);
}

static int make_pipe(int fds[2]) {
        return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0;
}

/* Read a pipe to its end (the runtime's own error output when it could not start the command). */
static void read_to_end(Sink *s) {
        while (s->fd >= 0 && sink_read(s))
                ;
}

/* `runtime exec --detach`: returns once the command runs; its pid is then in `pid_file`. */
static int start_exec(Runtime *rt, const Container *c, const Handler *h, char *const *argv,
                      const char *pid_file, int out_fd, int err_fd, pid_t *ret_runtime_pid, Error **reterr) {
        _cleanup_strv_free_ char **a = NULL;
        a = strv_push(a, xstrdup(h->path));
        a = strv_push(a, xasprintf("--root=%s", h->root));
        if (h->systemd_cgroup)
                a = strv_push(a, xstrdup("--systemd-cgroup"));
        a = strv_push(a, xstrdup("exec"));
        a = strv_push(a, xstrdup("--detach"));
        a = strv_push(a, xasprintf("--pid-file=%s", pid_file));
        a = strv_push(a, xstrdup(c->id));
        STRV_FOREACH(s, argv)
                a = strv_push(a, xstrdup(*s));
        _cleanup_close_ int program = sealed_binary_fd(&rt->sealed, h->path);
        SpawnOptions o = {.argv = (const char *const *)a,
                          .stdin_fd = -1,
                          .stdout_fd = out_fd,
                          .stderr_fd = err_fd,
                          .program_fd = program};
        return process_spawn(&o, ret_runtime_pid, reterr);
}

static int exit_code_of(int status) {
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * `runtime exec --detach`: 0 once the command runs (*ret_target), > 0 (the runtime's exit code) when
 * it could not start it, the reason on err_fd.
 */
static int start_with_runtime(Runtime *rt, const Container *c, const Handler *h, char *const *argv,
                              int out_fd, int err_fd, pid_t *ret_target, Error **reterr) {
        _cleanup_free_ char *rid = random_id();
        _cleanup_free_ char *pid_file = xasprintf("%s/exec-%.12s.pid", c->bundle, rid);
        pid_t runtime_pid = 0;
        int status = 0;
        int r = start_exec(rt, c, h, argv, pid_file, out_fd, err_fd, &runtime_pid, reterr);
        if (r < 0)
                return r;
        if (process_wait(runtime_pid, RUNTIME_START_TIMEOUT_MS, &status) < 0) {
                process_kill_and_wait(runtime_pid);
                return error_set(reterr, ETIMEDOUT, "the runtime did not start the command");
        }
        int target = read_pid_file(pid_file);
        unlink(pid_file);
        if (status != 0 || target <= 0)
                return status != 0 ? exit_code_of(status) : 127;
        *ret_target = target;
        return 0;
}

static int start_command(Runtime *rt, Container *c, const Handler *h, char *const *argv, int out_fd,
                         int err_fd, pid_t *ret_target, Error **reterr) {
        ExecLaunch l = {.argv = argv, .in = -1, .out = out_fd, .err = err_fd};
        int console = -1;
        int r = exec_helper_try(rt, c, &l, ret_target, &console, reterr);
        if (r == -EOPNOTSUPP)
                r = start_with_runtime(rt, c, h, argv, out_fd, err_fd, ret_target, reterr);
        return r;
}

/*
 * The command runs detached from its starter (the runtime, as a subreaper, would otherwise wait for
 * everything the command leaves in the background) and is re-parented to the daemon: its own exit
 * ends the call, and what it printed until then is the answer.
 */
int oci_exec_sync(Runtime *rt, Container *c, const Handler *h, char *const *argv, int64_t timeout_s,
                  ExecResult *ret, Error **reterr) {
        int out[2], err[2];
        if (make_pipe(out) < 0)
                return error_set(reterr, errno, "pipe: %m");
        if (make_pipe(err) < 0) {
                close(out[0]);
                close(out[1]);
                return error_set(reterr, errno, "pipe: %m");
        }
        _cleanup_close_ int out_rd = out[0], err_rd = err[0];
        pid_t target = 0;
        int r = start_command(rt, c, h, argv, out[1], err[1], &target, reterr);
        close(out[1]);
        close(err[1]);
        if (r < 0)
                return r;
        /* The CRI allows any int64: past a century (which would overflow in ns) it is no deadline. */
        int64_t deadline = timeout_s > 0 && timeout_s < EXEC_TIMEOUT_MAX_S
                                   ? monotonic_ns() + timeout_s * 1000000000LL
                                   : 0;
        int status = 0;
        ExecResult res = {};
        Sink sinks[2] = {{out_rd, &res.out, &res.out_len}, {err_rd, &res.err, &res.err_len}};
        if (r > 0) {
                /* The command could not start (not found, not executable): its starter says why. */
                read_to_end(&sinks[0]);
                read_to_end(&sinks[1]);
                res.exit_code = r;
        } else {
                process_adopt(target);
                r = drain(rt, sinks, deadline, target, &status);
                if (r < 0) {
                        exec_kill_tree(target, 0);
                        process_wait(target, KILL_WAIT_MS, NULL);
                        exec_result_done(&res);
                        return r == -ESHUTDOWN
                                       ? error_set(reterr, ESHUTDOWN,
                                                   "the daemon is shutting down: the command was killed")
                                       : error_set(reterr, ETIMEDOUT,
                                                   "command timed out after %" PRId64 " s and was killed",
                                                   timeout_s);
                }
                res.exit_code = exit_code_of(status);
        }
        if (!res.out)
                res.out = xstrdup("");
        if (!res.err)
                res.err = xstrdup("");
        *ret = res;
        return 0;
}
