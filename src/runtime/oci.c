/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cancel.h"
#include "exec-fifo.h"
#include "fs-util.h"
#include "json-util.h"
#include "log.h"
#include "process.h"
#include "runtime-private.h"
#include "strv.h"

/* How long a runtime call (start, kill, delete, update) may take before we give up on it. */
#define RUNTIME_CALL_TIMEOUT_MS 60000
#define RUNTIME_OUTPUT_MAX 65536
/* ExecSync output cap per stream, as the CRI's kubelet side expects at most. */
#define EXEC_OUTPUT_MAX (16 * 1024 * 1024)

static char **runtime_argv(const Handler *h, const char *verb) {
        char **argv = NULL;
        argv = strv_push(argv, xstrdup(h->path));
        argv = strv_push(argv, xasprintf("--root=%s", h->root));
        if (h->systemd_cgroup)
                argv = strv_push(argv, xstrdup("--systemd-cgroup"));
        argv = strv_push(argv, xstrdup(verb));
        return argv;
}

static char *trim_output(char *s) {
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
                s[--n] = 0;
        return s;
}

/* Run `runtime --root R <argv...>`; a non-zero exit is an error carrying the runtime's output. */
static int runtime_call(char **argv, const char *what, Error **reterr) {
        int status = 0;
        _cleanup_free_ char *out = NULL;
        int r = process_run((const char *const *)argv, RUNTIME_CALL_TIMEOUT_MS, RUNTIME_OUTPUT_MAX, &status,
                            &out, reterr);
        if (r < 0)
                return r;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                _cleanup_free_ char *st = process_status_to_string(status);
                return error_set(reterr, EIO, "%s: %s %s: %s", what, argv[0], st, trim_output(out));
        }
        return 0;
}

/*
 * conmon reports on the sync pipe once the runtime created the container: {"pid": PID}, or -1 and a
 * "message" carrying the runtime's error output (nothing at all when the runtime printed nothing).
 */
static int read_sync_pipe(int fd, int64_t timeout_ms, int *ret_pid, Error **reterr) {
        char buf[8192];
        size_t len = 0;
        int64_t deadline = monotonic_ns() + timeout_ms * 1000000;
        while (len < sizeof(buf) - 1 && !memchr(buf, '\n', len)) {
                int left = (int)((deadline - monotonic_ns()) / 1000000);
                struct pollfd p = {.fd = fd, .events = POLLIN};
                if (left <= 0 || poll(&p, 1, left) == 0)
                        return error_set(reterr, ETIMEDOUT,
                                         "the runtime did not create the container within %" PRId64
                                         " s (container_create_timeout)",
                                         timeout_ms / 1000);
                ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = 0;
        json_object *o = NULL, *v = NULL;
        _cleanup_error_ Error *perr = NULL;
        char *nl = strchr(buf, '\n');
        if (nl)
                *nl = 0;
        if (len == 0 || json_parse_object(buf, strlen(buf), "monitor sync message", &o, &perr) < 0)
                return error_set(reterr, EIO, "monitor exited without reporting the container");
        int pid = -1;
        if (json_object_object_get_ex(o, "data", &v) || json_object_object_get_ex(o, "pid", &v))
                pid = json_object_get_int(v);
        if (pid <= 0) {
                const char *msg =
                        json_object_object_get_ex(o, "message", &v) ? json_object_get_string(v) : "";
                _cleanup_free_ char *m = trim_output(xstrdup(strempty(msg)));
                json_object_put(o);
                return error_set(reterr, EIO, "runtime failed to create the container: %s", m);
        }
        json_object_put(o);
        *ret_pid = pid;
        return 0;
}

/*
 * runtime: the path conmon runs the runtime from; /proc/self/fd/N for the sealed copy passed to it
 * (see sealed-binary.c: `runc init` then skips copying its binary).
 */
static char **conmon_argv(Runtime *rt, const Container *c, const Handler *h, const char *runtime) {
        char **a = NULL;
        a = strv_push(a, xstrdup(h->monitor));
        a = strv_push(a, xasprintf("--cid=%s", c->id));
        a = strv_push(a, xasprintf("--cuuid=%s", c->id));
        a = strv_push(a, xasprintf("--name=%s", c->full_name));
        a = strv_push(a, xasprintf("--runtime=%s", runtime));
        a = strv_push(a, xasprintf("--runtime-arg=--root=%s", h->root));
        if (h->systemd_cgroup)
                a = strv_push(a, xstrdup("--systemd-cgroup"));
        a = strv_push(a, xasprintf("--bundle=%s", c->bundle));
        a = strv_push(a, xasprintf("--persist-dir=%s", c->bundle));
        a = strv_push(a, xasprintf("--container-pidfile=%s/pidfile", c->bundle));
        a = strv_push(a, xasprintf("--conmon-pidfile=%s/conmon-pidfile", c->bundle));
        a = strv_push(a, xasprintf("--log-path=k8s-file:%s", c->log_path));
        a = strv_push(a, xasprintf("--exit-dir=%s", rt->paths.exits_dir));
        a = strv_push(a, xasprintf("--socket-dir-path=%s", rt->paths.attach_dir));
        a = strv_push(a, xstrdup("--log-level=error"));
        if (h->no_sync_log)
                a = strv_push(a, xstrdup("--no-sync-log"));
        if (c->config->stdin_)
                a = strv_push(a, xstrdup("--stdin"));
        if (c->config->stdin_ && !c->config->stdin_once)
                a = strv_push(a, xstrdup("--leave-stdin-open"));
        if (c->config->tty)
                a = strv_push(a, xstrdup("--terminal"));
        pthread_rwlock_rdlock(rt->config_lock);
        int64_t max = rt->config->log_size_max;
        bool no_pivot = rt->config->no_pivot;
        pthread_rwlock_unlock(rt->config_lock);
        if (max > 0)
                a = strv_push(a, xasprintf("--log-size-max=%" PRId64, max));
        if (no_pivot) /* passed on to the runtime's create */
                a = strv_push(a, xstrdup("--no-pivot"));
        return a;
}

static int pipe_pair(int *ret_rd, int *ret_wr) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        *ret_rd = fds[0];
        *ret_wr = fds[1];
        return 0;
}

/*
 * conmon starts (loads its libraries, parses its options) and then waits for a byte on the start
 * pipe: spawned early, its start-up overlaps the daemon's preparation of the bundle.
 */
int oci_monitor_spawn(Runtime *rt, const Container *c, const Handler *h, Monitor *ret, Error **reterr) {
        Monitor m = {
                .pid = -1, .sync_fd = -EBADF, .start_fd = -EBADF, .create_timeout_ms = h->create_timeout_ms};
        _cleanup_close_ int sync_wr = -EBADF, start_rd = -EBADF;
        if (pipe_pair(&m.sync_fd, &sync_wr) < 0 || pipe_pair(&start_rd, &m.start_fd) < 0) {
                oci_monitor_abort(&m);
                return error_set(reterr, errno, "pipe: %m");
        }
        /* conmon keeps fd 5 for the runtime calls it makes; without a sealed copy it runs the path. */
        _cleanup_close_ int sealed = sealed_binary_fd(&rt->sealed, h->path);
        _cleanup_strv_free_ char **argv = conmon_argv(rt, c, h, sealed >= 0 ? "/proc/self/fd/5" : h->path);
        _cleanup_strv_free_ char **env = strv_copy(h->monitor_env);
        env = strv_push(env, xstrdup("_OCI_SYNCPIPE=3"));
        env = strv_push(env, xstrdup("_OCI_STARTPIPE=4"));
        int pass[] = {sync_wr, start_rd, sealed};
        SpawnOptions o = {.argv = (const char *const *)argv,
                          .envp = (const char *const *)env,
                          .stdin_fd = -1,
                          .stdout_fd = -1,
                          .stderr_fd = -1,
                          .pass_fds = pass,
                          .n_pass_fds = sealed >= 0 ? 3 : 2,
                          .new_session = true,
                          /* conmon also drops an `oom` file in its working directory when the container is
                             OOM-killed: that must be the bundle, not wherever the daemon was started. */
                          .cwd = c->bundle};
        int r = process_spawn(&o, &m.pid, reterr);
        if (r < 0) {
                oci_monitor_abort(&m);
                return r;
        }
        *ret = m;
        return 0;
}

/* The bundle is ready: let conmon run `runtime create` and wait for the container's pid. */
int oci_monitor_start(Monitor *m, int *ret_pid, Error **reterr) {
        const char go = 0;
        int r = write(m->start_fd, &go, 1) == 1 ? 0
                                                : error_set(reterr, errno, "cannot start the monitor: %m");
        close(TAKE_FD(m->start_fd));
        /* conmon forks once and its first process exits; the monitor proper is re-parented to us. */
        if (r >= 0)
                r = read_sync_pipe(m->sync_fd, m->create_timeout_ms, ret_pid, reterr);
        int status = 0;
        if (process_wait(m->pid, 10000, &status) < 0)
                process_kill_and_wait(m->pid);
        m->pid = -1;
        close(TAKE_FD(m->sync_fd));
        return r;
}

/* Preparation failed: the waiting conmon goes away without having run anything. */
void oci_monitor_abort(Monitor *m) {
        if (m->pid > 0)
                process_kill_and_wait(m->pid);
        m->pid = -1;
        if (m->sync_fd >= 0)
                close(TAKE_FD(m->sync_fd));
        if (m->start_fd >= 0)
                close(TAKE_FD(m->start_fd));
}

/*
 * runc creates a container with its init waiting to open the exec FIFO in runc's state of it; `runc
 * start` opens that FIFO, reads the byte the init writes, and removes it (runc then reports the
 * container running). The daemon does those steps itself and saves a runc process (~5 ms here). Only
 * for runc, which runs the poststart hooks when it creates the container; crun runs them at start.
 */
static bool starts_through_fifo(const Handler *h) {
        const char *base = strrchr(h->path, '/');
        return strcmp(base ? base + 1 : h->path, "runc") == 0;
}

int oci_start(Runtime *rt, const Container *c, const Handler *h, Error **reterr) {
        _cleanup_free_ char *path = xasprintf("%s/%s/exec.fifo", h->root, c->id);
        /* Non-blocking: the open must not wait for a writer that may never come. */
        _cleanup_close_ int fifo = starts_through_fifo(h) && c->pid > 0
                                           ? open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
                                           : -EBADF;
        /* Without its FIFO (started already, or another runtime), the runtime says what is wrong. */
        if (fifo < 0)
                return oci_simple(rt, c, h, "start", reterr);
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, c->pid, 0);
        if (pidfd < 0)
                return error_set(reterr, errno, "start: the container's init (pid %d) is gone: %m", c->pid);
        int r = exec_fifo_read(fifo, pidfd, RUNTIME_CALL_TIMEOUT_MS, reterr);
        if (r >= 0 && unlink(path) < 0)
                return error_set(reterr, errno, "start: cannot remove %s: %m", path);
        return r;
}

int oci_simple(Runtime *rt, const Container *c, const Handler *h, const char *verb, Error **reterr) {
        _cleanup_strv_free_ char **argv = runtime_argv(h, verb);
        argv = strv_push(argv, xstrdup(c->id));
        return runtime_call(argv, verb, reterr);
}

int oci_kill(Runtime *rt, const Container *c, const Handler *h, int sig, bool all, Error **reterr) {
        _cleanup_strv_free_ char **argv = runtime_argv(h, "kill");
        if (all)
                argv = strv_push(argv, xstrdup("--all"));
        argv = strv_push(argv, xstrdup(c->id));
        argv = strv_push(argv, xasprintf("%d", sig));
        return runtime_call(argv, "kill", reterr);
}

int oci_delete(Runtime *rt, const Container *c, const Handler *h, Error **reterr) {
        _cleanup_strv_free_ char **argv = runtime_argv(h, "delete");
        argv = strv_push(argv, xstrdup("--force"));
        argv = strv_push(argv, xstrdup(c->id));
        return runtime_call(argv, "delete", reterr);
}

int oci_update(Runtime *rt, const Container *c, const Handler *h, const char *resources_json,
               Error **reterr) {
        _cleanup_free_ char *file = xasprintf("%s/resources.json", c->bundle);
        if (write_file_replace(file, resources_json, strlen(resources_json), 0600) < 0)
                return error_set(reterr, errno, "update: cannot write %s: %m", file);
        _cleanup_strv_free_ char **argv = runtime_argv(h, "update");
        argv = strv_push(argv, xasprintf("--resources=%s", file));
        argv = strv_push(argv, xstrdup(c->id));
        int r = runtime_call(argv, "update", reterr);
        unlink(file);
        return r;
}
