/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cancel.h"
#include "log.h"
#include "process.h"

extern char **environ;

/* A spawned child whose status someone may still ask for. */
typedef struct Tracked {
        pid_t pid;
        bool exited;
        int status;
} Tracked;

/*
 * Statuses of the last orphans reaped, for process_adopt(): a process started by a runtime call that
 * exited (`runc exec --detach`) is re-parented to us and may be reaped before its adopter asks.
 */
#define ORPHAN_RING 64
static Tracked orphans[ORPHAN_RING];
static size_t orphan_next;

static int orphan_report_fd = -1; /* under table_lock */

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t table_changed = PTHREAD_COND_INITIALIZER;
static Tracked *tracked;
static size_t n_tracked;

static Tracked *find_tracked(pid_t pid) {
        for (size_t i = 0; i < n_tracked; i++)
                if (tracked[i].pid == pid)
                        return &tracked[i];
        return NULL;
}

static void untrack(Tracked *t) {
        *t = tracked[--n_tracked];
}

static void timespec_after_ms(struct timespec *ts, int64_t ms) {
        clock_gettime(CLOCK_REALTIME, ts);
        ts->tv_sec += ms / 1000;
        ts->tv_nsec += (ms % 1000) * 1000000;
        if (ts->tv_nsec >= 1000000000) {
                ts->tv_sec++;
                ts->tv_nsec -= 1000000000;
        }
}

/* Under table_lock. One write, atomic (below PIPE_BUF) and never blocking: the reaper waits for no one. */
static void report_orphan(pid_t pid, int status) {
        OrphanExit e = {.pid = pid, .status = status};
        if (orphan_report_fd >= 0 && write(orphan_report_fd, &e, sizeof(e)) != (ssize_t)sizeof(e))
                log_debug("orphan %d: exit not reported: %m", (int)pid);
}

/*
 * waitid(WNOWAIT) tells which child is a zombie without reaping it; the actual reap happens under
 * the table lock, which process_spawn() holds from posix_spawn until the pid is registered, so a
 * child that exits at once is never mistaken for an orphan.
 */
static void *reaper_main(void *arg) {
        for (;;) {
                siginfo_t si = {};
                if (waitid(P_ALL, 0, &si, WEXITED | WNOWAIT) < 0) {
                        if (errno == ECHILD) {
                                /* No children now; orphans can only arrive through a child of ours. */
                                struct timespec ts;
                                timespec_after_ms(&ts, 100);
                                pthread_mutex_lock(&table_lock);
                                pthread_cond_timedwait(&table_changed, &table_lock, &ts);
                                pthread_mutex_unlock(&table_lock);
                        }
                        continue;
                }
                pthread_mutex_lock(&table_lock);
                int status = 0;
                if (waitpid(si.si_pid, &status, WNOHANG) == si.si_pid) {
                        Tracked *t = find_tracked(si.si_pid);
                        if (t) {
                                t->exited = true;
                                t->status = status;
                        } else {
                                orphans[orphan_next++ % ORPHAN_RING] =
                                        (Tracked){.pid = si.si_pid, .exited = true, .status = status};
                                report_orphan(si.si_pid, status);
                        }
                        pthread_cond_broadcast(&table_changed);
                }
                pthread_mutex_unlock(&table_lock);
        }
        return NULL;
}

void process_report_orphans(int fd) {
        pthread_mutex_lock(&table_lock);
        orphan_report_fd = fd;
        pthread_mutex_unlock(&table_lock);
}

int process_reaper_start(void) {
        pthread_t t;
        sigset_t all, old;
        /* The reaper must never take the daemon's signals (SIGTERM is handled by sigwait in main). */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int r = pthread_create(&t, NULL, reaper_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0)
                return -r;
        pthread_detach(t);
        return 0;
}

/* Move fds that would be clobbered by the dup2 to 3, 4, ... out of the way first. */
static int prepare_fd_actions(const SpawnOptions *o, posix_spawn_file_actions_t *fa, int *moved) {
        int r = 0;
        int std_fds[3] = {o->stdin_fd, o->stdout_fd, o->stderr_fd};
        for (int i = 0; i < 3 && r == 0; i++)
                r = std_fds[i] >= 0 ? posix_spawn_file_actions_adddup2(fa, std_fds[i], i)
                                    : posix_spawn_file_actions_addopen(fa, i, "/dev/null",
                                                                       i ? O_WRONLY : O_RDONLY, 0);
        for (size_t i = 0; i < o->n_pass_fds && r == 0; i++) {
                moved[i] = fcntl(o->pass_fds[i], F_DUPFD_CLOEXEC, 64);
                if (moved[i] < 0)
                        return errno;
                r = posix_spawn_file_actions_adddup2(fa, moved[i], 3 + (int)i);
        }
        return r;
}

static int spawn_locked(const SpawnOptions *o, pid_t *ret_pid) {
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t empty, all;
        int moved[16];
        if (o->n_pass_fds + 1 > ELEMENTSOF(moved))
                return E2BIG;
        /* The program's own fd goes last, so that /proc/self/fd/N names it in the child. */
        int fds[ELEMENTSOF(moved)];
        SpawnOptions with_program = *o;
        char program[64] = "";
        if (o->program_fd > 2) {
                for (size_t i = 0; i < o->n_pass_fds; i++)
                        fds[i] = o->pass_fds[i];
                fds[o->n_pass_fds] = o->program_fd;
                with_program.pass_fds = fds;
                with_program.n_pass_fds = o->n_pass_fds + 1;
                snprintf(program, sizeof(program), "/proc/self/fd/%zu", 3 + o->n_pass_fds);
                o = &with_program;
        }
        for (size_t i = 0; i < ELEMENTSOF(moved); i++)
                moved[i] = -1;

        posix_spawn_file_actions_init(&fa);
        posix_spawnattr_init(&attr);
        sigemptyset(&empty);
        sigfillset(&all);
        posix_spawnattr_setsigmask(&attr, &empty);
        posix_spawnattr_setsigdefault(&attr, &all);
        short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
        if (o->new_session)
                flags |= POSIX_SPAWN_SETSID;
        posix_spawnattr_setflags(&attr, flags);

        int r = prepare_fd_actions(o, &fa, moved);
        if (r == 0 && o->cwd)
                r = posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
        if (r == 0)
                r = posix_spawn(ret_pid, *program ? program : o->argv[0], &fa, &attr, (char *const *)o->argv,
                                o->envp ? (char *const *)o->envp : environ);
        for (size_t i = 0; i < o->n_pass_fds; i++)
                if (moved[i] >= 0)
                        close(moved[i]);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        return r;
}

int process_spawn(const SpawnOptions *o, pid_t *ret_pid, Error **reterr) {
        pid_t pid = 0;
        pthread_mutex_lock(&table_lock);
        int r = spawn_locked(o, &pid);
        if (r == 0) {
                tracked = xrealloc(tracked, (n_tracked + 1) * sizeof(*tracked));
                tracked[n_tracked++] = (Tracked){.pid = pid};
                pthread_cond_broadcast(&table_changed);
        }
        pthread_mutex_unlock(&table_lock);
        if (r != 0)
                return error_set(reterr, r, "cannot run %s: %s", o->argv[0], strerror(r));
        *ret_pid = pid;
        return 0;
}

int process_wait(pid_t pid, int64_t timeout_ms, int *ret_status) {
        struct timespec until;
        if (timeout_ms >= 0)
                timespec_after_ms(&until, timeout_ms);
        pthread_mutex_lock(&table_lock);
        Tracked *t;
        int r = 0;
        while ((t = find_tracked(pid)) && !t->exited) {
                if (timeout_ms < 0)
                        pthread_cond_wait(&table_changed, &table_lock);
                else if (pthread_cond_timedwait(&table_changed, &table_lock, &until) == ETIMEDOUT) {
                        r = -ETIMEDOUT;
                        break;
                }
        }
        if (r == 0 && !t)
                r = -ECHILD;
        if (r == 0) {
                if (ret_status)
                        *ret_status = t->status;
                untrack(t);
        }
        pthread_mutex_unlock(&table_lock);
        return r;
}

void process_adopt(pid_t pid) {
        pthread_mutex_lock(&table_lock);
        Tracked entry = {.pid = pid};
        for (size_t i = 0; i < ORPHAN_RING; i++)
                if (orphans[i].pid == pid && orphans[i].exited) {
                        entry = orphans[i];
                        orphans[i].pid = 0;
                }
        if (!find_tracked(pid)) {
                tracked = xrealloc(tracked, (n_tracked + 1) * sizeof(*tracked));
                tracked[n_tracked++] = entry;
        }
        pthread_mutex_unlock(&table_lock);
}

void process_kill_and_wait(pid_t pid) {
        kill(pid, SIGKILL);
        process_wait(pid, -1, NULL);
}

void process_forget(pid_t pid) {
        pthread_mutex_lock(&table_lock);
        Tracked *t = find_tracked(pid);
        if (t)
                untrack(t);
        pthread_mutex_unlock(&table_lock);
}

/* Read from `fd` until EOF or the deadline, keeping at most `max` bytes. */
static int collect_output(int fd, int64_t deadline_ns, size_t max, char **buf, size_t *len) {
        char chunk[8192];
        for (;;) {
                int64_t left_ms = deadline_ns ? (deadline_ns - monotonic_ns()) / 1000000 : -1;
                if (deadline_ns && left_ms <= 0)
                        return -ETIMEDOUT;
                struct pollfd p = {.fd = fd, .events = POLLIN};
                int n = poll(&p, 1, left_ms > INT32_MAX ? INT32_MAX : (int)left_ms);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0)
                        return -ETIMEDOUT;
                ssize_t got = read(fd, chunk, sizeof(chunk));
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0)
                        return 0;
                size_t keep = *len + (size_t)got > max ? max - *len : (size_t)got;
                *buf = xrealloc(*buf, *len + keep + 1);
                memcpy(*buf + *len, chunk, keep);
                *len += keep;
                (*buf)[*len] = 0;
        }
}

int process_run(const char *const *argv, int64_t timeout_ms, size_t max_output, int *ret_status,
                char **ret_output, Error **reterr) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) < 0)
                return error_set(reterr, errno, "pipe: %m");
        _cleanup_close_ int rd = fds[0];
        pid_t pid = 0;
        SpawnOptions o = {.argv = argv, .stdin_fd = -1, .stdout_fd = fds[1], .stderr_fd = fds[1]};
        int r = process_spawn(&o, &pid, reterr);
        close(fds[1]);
        if (r < 0)
                return r;
        _cleanup_free_ char *out = NULL;
        size_t len = 0;
        int64_t deadline = timeout_ms >= 0 ? monotonic_ns() + timeout_ms * 1000000 : 0;
        /* Output ends when the child and anything it left holding the pipe exit. */
        r = collect_output(rd, deadline, max_output, &out, &len);
        int status = 0;
        if (r == 0) {
                int64_t left = deadline ? (deadline - monotonic_ns()) / 1000000 : -1;
                r = process_wait(pid, left < 0 && deadline ? 0 : left, &status);
        }
        if (r < 0) {
                process_kill_and_wait(pid);
                return error_set(reterr, ETIMEDOUT, "%s timed out after %" PRId64 " ms", argv[0],
                                 timeout_ms);
        }
        *ret_status = status;
        if (ret_output)
                *ret_output = out ? TAKE_PTR(out) : xstrdup("");
        return 0;
}

/* The three pipes of process_run_io(), from the daemon's side; -1 once finished. */
typedef struct IoPipes {
        int in, out, err;
} IoPipes;

typedef struct IoBuf {
        char *data;
        size_t len, max;
} IoBuf;

static void iobuf_take(IoBuf *b, const char *chunk, size_t n) {
        size_t keep = b->len + n > b->max ? b->max - b->len : n;
        b->data = xrealloc(b->data, b->len + keep + 1);
        memcpy(b->data + b->len, chunk, keep);
        b->len += keep;
        b->data[b->len] = 0;
}

/* Read what is there; EOF or an error closes the pipe. */
static void drain_pipe(int *fd, IoBuf *b) {
        char chunk[8192];
        ssize_t got = read(*fd, chunk, sizeof(chunk));
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
                return;
        if (got <= 0) {
                close(*fd);
                *fd = -1;
                return;
        }
        iobuf_take(b, chunk, (size_t)got);
}

/*
 * write() to a pipe whose reader may be gone: EPIPE instead of a SIGPIPE for the whole process, even
 * where nobody ignores the signal (the signal is blocked in this thread and a pending one consumed).
 */
static ssize_t write_no_sigpipe(int fd, const void *buf, size_t len) {
        sigset_t pipe_set, old;
        sigemptyset(&pipe_set);
        sigaddset(&pipe_set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
        ssize_t w = write(fd, buf, len);
        int saved = errno;
        if (w < 0 && errno == EPIPE) {
                struct timespec zero = {0, 0};
                while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR)
                        ;
        }
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        errno = saved;
        return w;
}

/* Feed stdin and collect stdout and stderr until both end or the deadline passes. */
static int pump_io(IoPipes *p, const ProcessIO *io, IoBuf *out, IoBuf *err, int64_t deadline_ns) {
        size_t written = 0;
        while (p->out >= 0 || p->err >= 0) {
                int64_t left_ms = deadline_ns ? (deadline_ns - monotonic_ns()) / 1000000 : -1;
                if (deadline_ns && left_ms <= 0)
                        return -ETIMEDOUT;
                struct pollfd f[3] = {{.fd = p->in, .events = POLLOUT},
                                      {.fd = p->out, .events = POLLIN},
                                      {.fd = p->err, .events = POLLIN}};
                int n = poll(f, 3, left_ms > INT32_MAX ? INT32_MAX : (int)left_ms);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n == 0 ? -ETIMEDOUT : -errno;
                if (f[0].revents) {
                        ssize_t w = write_no_sigpipe(p->in, io->input + written, io->input_len - written);
                        if (w > 0)
                                written += (size_t)w;
                        /* A child that stops reading early (EPIPE) just gets no more. */
                        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == io->input_len) {
                                close(p->in);
                                p->in = -1;
                        }
                }
                if (f[1].revents)
                        drain_pipe(&p->out, out);
                if (f[2].revents)
                        drain_pipe(&p->err, err);
        }
        return 0;
}

static void close_pipe_pair(int fds[2]) {
        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
}

static int spawn_with_pipes(const ProcessIO *io, IoPipes *ret, pid_t *ret_pid, Error **reterr) {
        int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
        if ((io->input && pipe2(in, O_CLOEXEC) < 0) || pipe2(out, O_CLOEXEC) < 0 ||
            pipe2(err, O_CLOEXEC) < 0) {
                int e = errno;
                close_pipe_pair(in);
                close_pipe_pair(out);
                close_pipe_pair(err);
                return error_set(reterr, e, "pipe: %m");
        }
        SpawnOptions o = {.argv = io->argv,
                          .envp = io->envp,
                          .stdin_fd = in[0],
                          .stdout_fd = out[1],
                          .stderr_fd = err[1]};
        int r = process_spawn(&o, ret_pid, reterr);
        if (in[0] >= 0)
                close(in[0]);
        close(out[1]);
        close(err[1]);
        if (in[1] >= 0)
                fcntl(in[1], F_SETFL, O_NONBLOCK);
        *ret = (IoPipes){in[1], out[0], err[0]};
        if (r < 0) {
                int fds[2] = {ret->out, ret->err};
                close_pipe_pair(fds);
                if (ret->in >= 0)
                        close(ret->in);
        }
        return r;
}

int process_run_io(const ProcessIO *io, int *ret_status, char **ret_stdout, char **ret_stderr,
                   Error **reterr) {
        IoPipes p = {-1, -1, -1};
        pid_t pid = 0;
        int r = spawn_with_pipes(io, &p, &pid, reterr);
        if (r < 0)
                return r;
        IoBuf out = {.max = io->max_stdout}, err = {.max = io->max_stderr};
        int64_t deadline = io->timeout_ms >= 0 ? monotonic_ns() + io->timeout_ms * 1000000 : 0;
        /* Output ends when the child and anything it left holding the pipes exit. */
        r = pump_io(&p, io, &out, &err, deadline);
        int status = 0;
        if (r == 0) {
                int64_t left = deadline ? (deadline - monotonic_ns()) / 1000000 : -1;
                r = process_wait(pid, left < 0 && deadline ? 0 : left, &status);
        }
        int fds[3] = {p.in, p.out, p.err};
        for (size_t i = 0; i < 3; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        if (r < 0) {
                process_kill_and_wait(pid);
                free(out.data);
                free(err.data);
                return error_set(reterr, ETIMEDOUT, "%s timed out after %" PRId64 " ms", io->argv[0],
                                 io->timeout_ms);
        }
        *ret_status = status;
        *ret_stdout = out.data ? out.data : xstrdup("");
        *ret_stderr = err.data ? err.data : xstrdup("");
        return 0;
}

int parse_pid(const char *text) {
        char *end = NULL;
        errno = 0;
        long v = strtol(text, &end, 10);
        if (errno || end == text || v <= 0 || v > INT32_MAX || (*end && *end != '\n'))
                return -EINVAL;
        return (int)v;
}

char proc_stat_state(const char *stat_line) {
        const char *end = strrchr(stat_line, ')');
        return end && end[1] == ' ' && isalpha((unsigned char)end[2]) ? end[2] : 0;
}

char *process_status_to_string(int status) {
        if (WIFEXITED(status))
                return xasprintf("exit status %d", WEXITSTATUS(status));
        if (WIFSIGNALED(status))
                return xasprintf("killed by signal %d", WTERMSIG(status));
        return xasprintf("wait status %d", status);
}
