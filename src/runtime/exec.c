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

#define EXEC_OUTPUT_MAX (16 * 1024 * 1024)

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

/* Read both pipes until both close or the deadline (0: none) passes. -ETIMEDOUT then. */
static int drain(Sink *sinks, int64_t deadline) {
        int open = 2;
        while (open > 0) {
                struct pollfd p[2];
                for (int i = 0; i < 2; i++)
                        p[i] = (struct pollfd){.fd = sinks[i].fd, .events = POLLIN};
                int timeout = deadline ? (int)((deadline - monotonic_ns()) / 1000000) : -1;
                if (deadline && timeout <= 0)
                        return -ETIMEDOUT;
                int n = poll(p, 2, timeout);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0)
                        return -ETIMEDOUT;
                for (int i = 0; i < 2; i++)
                        if (p[i].revents && !sink_read(&sinks[i])) {
                                sinks[i].fd = -1;
                                open--;
                        }
        }
        return 0;
}

/* SIGKILL a process and every descendant (read from /proc/PID/task/TID/children), children first. */
static void kill_tree(pid_t pid, int depth) {
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
                                kill_tree((pid_t)child, depth + 1);
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
        return atoi(text);
}

static int make_pipe(int fds[2]) {
        return pipe2(fds, O_CLOEXEC) < 0 ? -errno : 0;
}

int oci_exec_sync(Runtime *rt, const Container *c, const Handler *h, char *const *argv, int64_t timeout_s,
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
        _cleanup_free_ char *rid = random_id();
        _cleanup_free_ char *pid_file = xasprintf("%s/exec-%.12s.pid", c->bundle, rid);
        _cleanup_strv_free_ char **a = NULL;
        a = strv_push(a, xstrdup(h->path));
        a = strv_push(a, xasprintf("--root=%s", h->root));
        if (h->systemd_cgroup)
                a = strv_push(a, xstrdup("--systemd-cgroup"));
        a = strv_push(a, xstrdup("exec"));
        a = strv_push(a, xasprintf("--pid-file=%s", pid_file));
        a = strv_push(a, xstrdup(c->id));
        STRV_FOREACH(s, argv)
                a = strv_push(a, xstrdup(*s));
        SpawnOptions o = {
                .argv = (const char *const *)a, .stdin_fd = -1, .stdout_fd = out[1], .stderr_fd = err[1]};
        pid_t pid = 0;
        int r = process_spawn(&o, &pid, reterr);
        close(out[1]);
        close(err[1]);
        if (r < 0)
                return r;

        ExecResult res = {};
        Sink sinks[2] = {{out_rd, &res.out, &res.out_len}, {err_rd, &res.err, &res.err_len}};
        int64_t deadline = timeout_s > 0 ? monotonic_ns() + timeout_s * 1000000000LL : 0;
        r = drain(sinks, deadline);
        int status = 0;
        if (r == 0) {
                int64_t left = deadline ? (deadline - monotonic_ns()) / 1000000 : -1;
                r = process_wait(pid, deadline && left < 0 ? 0 : left, &status);
        }
        if (r < 0) {
                int target = read_pid_file(pid_file);
                if (target > 0)
                        kill_tree(target, 0);
                process_kill_and_wait(pid);
                unlink(pid_file);
                exec_result_done(&res);
                return error_set(reterr, ETIMEDOUT, "command timed out after %" PRId64 " s and was killed",
                                 timeout_s);
        }
        unlink(pid_file);
        res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        if (!res.out)
                res.out = xstrdup("");
        if (!res.err)
                res.err = xstrdup("");
        *ret = res;
        return 0;
}
