/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>

#include <json-c/json.h>

#include "fs-util.h"
#include "json-util.h"
#include "process.h"
#include "runtime-private.h"
#include "strv.h"

/* How long `runtime exec --detach` may take to start the command. */
#define START_TIMEOUT_MS 60000
/* A finished (or killed) command is reaped by the reaper thread within this. */
#define REAP_WAIT_MS 10000
#define RUNTIME_ERROR_MAX 4096

struct ExecProcess {
        pid_t pid;
        int terminal; /* -1 without tty */
};

static void close_pair(int fds[2]) {
        for (int i = 0; i < 2; i++)
                if (fds[i] >= 0)
                        close(fds[i]);
        fds[0] = fds[1] = -1;
}

static int make_pipe(int fds[2], Error **reterr) {
        if (pipe2(fds, O_CLOEXEC) < 0)
                return error_set(reterr, errno, "pipe: %m");
        return 0;
}

/*
 * A listening socket for the runtime's --console-socket. Its path would often exceed sun_path's 108 bytes
 * in the bundle, so it is bound through a directory fd: /proc/self/fd/N/<name> for us, the same place as
 * /proc/<our pid>/fd/N/<name> for the runtime.
 */
static int console_socket(const Container *c, int *ret_dirfd, char **ret_path, Error **reterr) {
        _cleanup_close_ int dirfd = open(c->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
                return error_set(reterr, errno, "open %s: %m", c->bundle);
        _cleanup_free_ char *rid = random_id();
        _cleanup_free_ char *name = xasprintf("tty-%.12s", rid);
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s", dirfd, name);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return error_set(reterr, errno, "socket: %m");
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0) {
                int e = errno;
                close(fd);
                return error_set(reterr, e, "console socket in %s: %s", c->bundle, strerror(e));
        }
        *ret_path = xasprintf("/proc/%d/fd/%d/%s", getpid(), dirfd, name);
        *ret_dirfd = TAKE_FD(dirfd);
        return fd;
}

/* The terminal's master end, sent over a connected console socket with SCM_RIGHTS. */
static int receive_terminal(int conn) {
        char data[256];
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u;
        struct iovec iov = {.iov_base = data, .iov_len = sizeof(data)};
        struct msghdr m = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
        if (recvmsg(conn, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT) < 0)
                return -errno;
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
            cm->cmsg_len != CMSG_LEN(sizeof(int)))
                return -EBADMSG;
        int fd;
        memcpy(&fd, CMSG_DATA(cm), sizeof(int));
        return fd;
}

typedef struct Start {
        const char *console;      /* --console-socket path, with tty */
        const char *process_file; /* --process: the whole process, when the terminal size is known */
        const char *pid_file;
        int in, out, err; /* the child's ends; -1: /dev/null */
} Start;

static int spawn_runtime(Runtime *rt, const Container *c, const Handler *h, char *const *argv,
                         const Start *s, pid_t *ret, Error **reterr) {
        _cleanup_strv_free_ char **a = NULL;
        a = strv_push(a, xstrdup(h->path));
        a = strv_push(a, xasprintf("--root=%s", h->root));
        if (h->systemd_cgroup)
                a = strv_push(a, xstrdup("--systemd-cgroup"));
        a = strv_push(a, xstrdup("exec"));
        a = strv_push(a, xstrdup("--detach"));
        if (s->console) {
                a = strv_push(a, xstrdup("--tty"));
                a = strv_push(a, xasprintf("--console-socket=%s", s->console));
        }
        a = strv_push(a, xasprintf("--pid-file=%s", s->pid_file));
        if (s->process_file)
                a = strv_push(a, xasprintf("--process=%s", s->process_file));
        a = strv_push(a, xstrdup(c->id));
        STRV_FOREACH(x, argv)
                if (!s->process_file)
                        a = strv_push(a, xstrdup(*x));
        _cleanup_close_ int program = sealed_binary_fd(&rt->sealed, h->path);
        SpawnOptions o = {.argv = (const char *const *)a,
                          .stdin_fd = s->in,
                          .stdout_fd = s->out,
                          .stderr_fd = s->err,
                          .program_fd = program};
        return process_spawn(&o, ret, reterr);
}

/* The command did not start: the first line its starter wrote to err_rd (if any) says why. */
static int exec_failed(int err_rd, const char *fallback, Error **reterr) {
        char msg[RUNTIME_ERROR_MAX] = "";
        if (err_rd >= 0) {
                fcntl(err_rd, F_SETFL, O_NONBLOCK);
                ssize_t n = read(err_rd, msg, sizeof(msg) - 1);
                msg[n > 0 ? n : 0] = 0;
        }
        msg[strcspn(msg, "\n")] = 0;
        return error_set(reterr, EIO, "cannot exec in the container: %s", *msg ? msg : fallback);
}

/* Wait for `runtime exec --detach`; on failure its error output (in err_rd) is the message. */
static int wait_runtime(pid_t pid, int err_rd, const char *pid_file, pid_t *ret_target, Error **reterr) {
        int status = 0;
        if (process_wait(pid, START_TIMEOUT_MS, &status) < 0) {
                process_kill_and_wait(pid);
                return error_set(reterr, ETIMEDOUT, "the runtime did not start the command");
        }
        _cleanup_free_ char *text = NULL;
        int target = read_file(pid_file, 64, &text, NULL) < 0 ? -1 : parse_pid(text);
        unlink(pid_file);
        if (status == 0 && target > 0) {
                *ret_target = target;
                return 0;
        }
        return exec_failed(err_rd, "the runtime failed", reterr);
}

static int pidfd_of(pid_t pid) {
        int fd = (int)syscall(SYS_pidfd_open, pid, 0);
        if (fd >= 0)
                fcntl(fd, F_SETFD, FD_CLOEXEC);
        return fd;
}

static void free_process(ExecProcess *p) {
        if (p->terminal >= 0)
                close(p->terminal);
        free(p);
}

/*
 * The container's process with argv and a terminal of the given size (OCI consoleSize): the runtime sizes
 * the terminal before the command starts, so a command asking for its size at once gets the client's.
 */
static int write_process_file(const Container *c, char *const *argv, uint16_t width, uint16_t height,
                              const char *path, Error **reterr) {
        _cleanup_free_ char *spec_path = xasprintf("%s/config.json", c->bundle), *text = NULL;
        size_t len = 0;
        json_object *spec = NULL, *proc = NULL;
        if (read_file(spec_path, 16 << 20, &text, &len) < 0)
                return error_set(reterr, errno ? errno : EIO, "read %s: %m", spec_path);
        int r = json_parse_object(text, len, "config.json", &spec, reterr);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(spec, "process", &proc)) {
                json_object_put(spec);
                return error_set(reterr, EINVAL, "%s has no process", spec_path);
        }
        json_object *args = json_object_new_array();
        STRV_FOREACH(x, argv)
                json_object_array_add(args, json_object_new_string(*x));
        json_object_object_add(proc, "args", args);
        json_object_object_add(proc, "terminal", json_object_new_boolean(true));
        json_object *size = json_object_new_object();
        json_object_object_add(size, "height", json_object_new_int(height));
        json_object_object_add(size, "width", json_object_new_int(width));
        json_object_object_add(proc, "consoleSize", size);
        const char *out = json_object_to_json_string_ext(proc, JSON_C_TO_STRING_PLAIN);
        r = write_file_replace(path, out, strlen(out), 0600);
        json_object_put(spec);
        return r < 0 ? error_set(reterr, -r, "write %s: %s", path, strerror(-r)) : 0;
}

/* The child's ends of the pipes belong to the runtime once it was spawned (or failed to be). */
static void close_child_ends(int in[2], int out[2], int err[2]) {
        int *ends[] = {&in[0], &out[1], &err[1]};
        for (size_t i = 0; i < ELEMENTSOF(ends); i++)
                if (*ends[i] >= 0) {
                        close(*ends[i]);
                        *ends[i] = -1;
                }
}

/*
 * The terminal replaces stdout (and stdin): a command with a terminal has no separate stderr. The
 * runtime connects to our listening console socket; crio-nsexec was handed a connected one.
 */
static int take_terminal(ExecProcess *p, ExecIo *io, int console, bool listening, bool want_stdin,
                         Error **reterr) {
        io->stderr_fd = -1;
        _cleanup_close_ int conn =
                listening ? accept4(console, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK) : -EBADF;
        int term = listening && conn < 0 ? -errno : receive_terminal(listening ? conn : console);
        if (term < 0) {
                if (io->exit_fd >= 0)
                        close(io->exit_fd);
                exec_process_finish(p, true, NULL);
                return error_set(reterr, -term, "no terminal from the runtime: %s", strerror(-term));
        }
        p->terminal = term;
        io->stdout_fd = fcntl(term, F_DUPFD_CLOEXEC, 3);
        io->stdin_fd = want_stdin ? fcntl(term, F_DUPFD_CLOEXEC, 3) : -1;
        return 0;
}

typedef struct Pipes {
        int in[2], out[2], err[2];
} Pipes;

/* Through `runtime exec --detach`: the terminal comes on a listening console socket (*ret_console). */
static int start_with_runtime(Runtime *rt, const Container *c, const Handler *h, char *const *argv,
                              const ExecOptions *o, Pipes *p, pid_t *ret_target, int *ret_console,
                              Error **reterr) {
        _cleanup_close_ int listen_fd = -EBADF, dirfd = -EBADF;
        _cleanup_free_ char *console = NULL, *rid = random_id();
        _cleanup_free_ char *pid_file = xasprintf("%s/exec-%.12s.pid", c->bundle, rid);
        _cleanup_free_ char *process_file = NULL;
        int r = 0;
        if (o->tty && o->width && o->height) {
                process_file = xasprintf("%s/exec-%.12s.json", c->bundle, rid);
                r = write_process_file(c, argv, o->width, o->height, process_file, reterr);
        }
        if (r >= 0 && o->tty)
                r = listen_fd = console_socket(c, &dirfd, &console, reterr);
        pid_t runtime_pid = 0;
        if (r >= 0) {
                Start s = {.console = console,
                           .process_file = process_file,
                           .pid_file = pid_file,
                           .in = p->in[0],
                           .out = p->out[1],
                           .err = p->err[1]};
                r = spawn_runtime(rt, c, h, argv, &s, &runtime_pid, reterr);
        }
        close_child_ends(p->in, p->out, p->err);
        if (r >= 0)
                r = wait_runtime(runtime_pid, p->err[0], pid_file, ret_target, reterr);
        if (console)
                unlinkat(dirfd, strrchr(console, '/') + 1, 0);
        if (process_file)
                unlink(process_file);
        if (r >= 0)
                *ret_console = TAKE_FD(listen_fd);
        return r;
}

/*
 * Through crio-nsexec, or the runtime when the container needs it; *ret_listening says how the terminal
 * comes (a listening socket for the runtime, a connected one from the helper).
 */
static int start_command(Runtime *rt, Container *c, const Handler *h, char *const *argv,
                         const ExecOptions *o, Pipes *p, pid_t *ret_target, int *ret_console,
                         bool *ret_listening, Error **reterr) {
        ExecLaunch l = {.argv = argv,
                        .tty = o->tty,
                        .width = o->width,
                        .height = o->height,
                        .in = p->in[0],
                        .out = p->out[1],
                        .err = p->err[1]};
        *ret_listening = false;
        int r = exec_helper_try(rt, c, &l, ret_target, ret_console, reterr);
        if (r == -EOPNOTSUPP) {
                *ret_listening = true;
                return start_with_runtime(rt, c, h, argv, o, p, ret_target, ret_console, reterr);
        }
        close_child_ends(p->in, p->out, p->err);
        return r > 0 ? exec_failed(p->err[0], "crio-nsexec failed", reterr) : r;
}

/* Non-tty: pipes for each stream. Tty: the terminal replaces stdin and stdout. */
static int exec_start(Runtime *rt, Container *c, const Handler *h, char *const *argv, const ExecOptions *o,
                      ExecProcess **ret, ExecIo *io, Error **reterr) {
        bool tty = o->tty, listening = false;
        Pipes p = {{-1, -1}, {-1, -1}, {-1, -1}};
        _cleanup_close_ int console = -EBADF;
        int r = make_pipe(p.err, reterr);
        if (r >= 0 && !tty && o->want_stdin)
                r = make_pipe(p.in, reterr);
        if (r >= 0 && !tty && o->want_stdout)
                r = make_pipe(p.out, reterr);
        pid_t target = 0;
        if (r >= 0)
                r = start_command(rt, c, h, argv, o, &p, &target, &console, &listening, reterr);
        close_child_ends(p.in, p.out, p.err);
        if (r < 0) {
                close_pair(p.in), close_pair(p.out), close_pair(p.err);
                return r;
        }
        process_adopt(target);
        ExecProcess *e = xcalloc(1, sizeof(ExecProcess));
        *e = (ExecProcess){.pid = target, .terminal = -1};
        *io = (ExecIo){.stdin_fd = p.in[1],
                       .stdout_fd = p.out[0],
                       .stderr_fd = p.err[0],
                       .exit_fd = pidfd_of(target)};
        if (tty) {
                close_pair(p.err);
                r = take_terminal(e, io, console, listening, o->want_stdin, reterr);
                if (r < 0)
                        return r;
        }
        *ret = e;
        return 0;
}

int runtime_container_exec_start(Runtime *rt, const char *id, char *const *argv, const ExecOptions *o,
                                 ExecProcess **ret, ExecIo *ret_io, Error **reterr) {
        Container *c = NULL;
        Handler h = {};
        int r = exec_target_get(rt, id, argv, &c, &h, reterr);
        if (r < 0)
                return r;
        r = exec_start(rt, c, &h, argv, o, ret, ret_io, reterr);
        handler_done(&h);
        container_unref(c);
        return r;
}

int exec_process_resize(ExecProcess *p, uint16_t width, uint16_t height) {
        if (p->terminal < 0)
                return -ENOTTY;
        struct winsize ws = {.ws_row = height, .ws_col = width};
        return ioctl(p->terminal, TIOCSWINSZ, &ws) < 0 ? -errno : 0;
}

int exec_process_finish(ExecProcess *p, bool kill, int *ret_exit_code) {
        if (!p)
                return -EINVAL;
        if (kill)
                exec_kill_tree(p->pid, 0);
        int status = 0;
        int r = process_wait(p->pid, REAP_WAIT_MS, &status);
        if (r < 0)
                process_forget(p->pid);
        free_process(p);
        if (r < 0)
                return r;
        if (ret_exit_code)
                *ret_exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return 0;
}

int runtime_container_attach(Runtime *rt, const char *id, int *ret_socket, int *ret_ctl, bool *ret_tty,
                             Error **reterr) {
        Container *c = NULL;
        int r = container_get(rt, id, false, &c, reterr);
        if (r < 0)
                return r;
        if (!container_is_running(rt, c)) {
                r = error_set(reterr, EBUSY, "container %s is not running", c->id);
                container_unref(c);
                return r;
        }
        /*
         * conmon binds the socket as <bundle>/attach (reachable through a symlink in the attach dir); the
         * path easily exceeds sun_path, so connect through a directory fd as conmon binds it.
         */
        _cleanup_close_ int dirfd = open(c->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *ctl_path = xasprintf("%s/ctl", c->bundle);
        bool tty = c->config->tty;
        container_unref(c);
        if (dirfd < 0)
                return error_set(reterr, errno, "cannot attach: %m");
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/attach", dirfd);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
                return error_set(reterr, errno, "cannot attach to the container's monitor: %m");
        /* conmon holds a reader of the fifo open, so opening it for writing does not block. */
        int ctl = open(ctl_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        *ret_socket = TAKE_FD(fd);
        *ret_ctl = ctl;
        *ret_tty = tty;
        return 0;
}
