/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crio-pinns: create a pod's namespaces and pin them to files, so that they outlive every process in
 * them and containers can join them by path. See docs/helpers.md.
 *
 * A forked child unshares the namespaces and sets them up (loopback, hostname, sysctls) from inside;
 * this process, still in the host's namespaces, writes the ID maps and bind-mounts /proc/CHILD/ns/KIND
 * onto DIR/KINDns/NAME. Either everything is pinned, or nothing is left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pinns-args.h"

/* One byte each way between the parent and the child, or 'E' and a message from the child. Every message
 * is one write() shorter than PIPE_BUF, so it arrives whole. */
#define MSG_USERNS 'U' /* child: my user namespace exists, write its maps */
#define MSG_GO 'G'     /* parent: the maps are written, go on */
#define MSG_READY 'R'  /* child: every namespace is set up, pin them */
#define MSG_ERROR 'E'  /* child: failed, the message follows */

typedef struct Pin {
        char *path;
        bool created; /* by us: an existing file is never removed */
        bool mounted;
} Pin;

typedef struct Pinner {
        const PinnsArgs *args;
        pid_t child;
        int status_fd;  /* read end of child -> parent */
        int control_fd; /* write end of parent -> child */
        Pin pins[_PINNS_KIND_MAX];
} Pinner;

static void usage(FILE *f) {
        fputs("Usage: crio-pinns --dir DIR --name NAME [--net] [--ipc] [--uts]\n"
              "                  [--user --uid-map \"C H N[,C H N...]\" --gid-map \"C H N[,...]\"]\n"
              "                  [--hostname NAME] [--sysctl KEY=VALUE]...\n"
              "       crio-pinns --remove --dir DIR --name NAME [--net] [--ipc] [--uts] [--user]\n"
              "Creates the namespaces asked for and pins each on DIR/KINDns/NAME (KIND: net, ipc, uts, "
              "user).\n",
              f);
}

/* ---- the child, inside the new namespaces ---- */

static void child_send_error(int fd, const Error *err) {
        char buf[PIPE_BUF / 2];
        int n = snprintf(buf, sizeof(buf), "%c%s", MSG_ERROR, err ? err->message : "unknown error");

        if (n > (int)sizeof(buf) - 1)
                n = (int)sizeof(buf) - 1;
        if (write(fd, buf, (size_t)n) < 0) {
                /* The parent is gone; it reports nothing either way. */
        }
}

static int send_byte(int fd, char c, const char *what, Error **reterr) {
        if (write(fd, &c, 1) != 1)
                return error_set(reterr, errno, "tell %s: %m", what);
        return 0;
}

static int loopback_up(Error **reterr) {
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct ifreq ifr = {0};

        if (fd < 0)
                return error_set(reterr, errno, "socket to bring up lo: %m");
        strncpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name) - 1);
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return error_set(reterr, errno, "get flags of lo: %m");
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return error_set(reterr, errno, "bring up lo: %m");
        return 0;
}

/* /proc/sys/net and the IPC and UTS sysctls show the namespaces of the task that opens them. */
static int sysctl_write(const Sysctl *s, Error **reterr) {
        _cleanup_close_ int fd = open(s->path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        size_t len = strlen(s->value);

        if (fd < 0)
                return error_set(reterr, errno, "sysctl %s: open %s: %m", s->key, s->path);
        ssize_t n = write(fd, s->value, len);
        if (n < 0)
                return error_set(reterr, errno, "sysctl %s: write '%s': %m", s->key, s->value);
        if ((size_t)n != len)
                return error_set(reterr, EIO, "sysctl %s: short write of '%s'", s->key, s->value);
        return 0;
}

/* The user namespace comes first and alone: the parent must map it before the others are created, so
 * that they are owned by it and its root can set them up. */
static int child_unshare_user(int status_fd, int control_fd, Error **reterr) {
        char c = 0;

        if (unshare(CLONE_NEWUSER) < 0)
                return error_set(reterr, errno, "unshare user namespace: %m");
        int r = send_byte(status_fd, MSG_USERNS, "parent", reterr);
        if (r < 0)
                return r;
        if (read(control_fd, &c, 1) != 1 || c != MSG_GO)
                return error_set(reterr, ECANCELED, "parent did not map the user namespace");
        return 0;
}

static int child_unshare_rest(const PinnsArgs *a, Error **reterr) {
        int flags = (a->kinds[PINNS_NET] ? CLONE_NEWNET : 0) | (a->kinds[PINNS_IPC] ? CLONE_NEWIPC : 0) |
                    (a->kinds[PINNS_UTS] ? CLONE_NEWUTS : 0);

        if (flags != 0 && unshare(flags) < 0)
                return error_set(reterr, errno, "unshare %s%s%snamespaces: %m",
                                 a->kinds[PINNS_NET] ? "net " : "", a->kinds[PINNS_IPC] ? "ipc " : "",
                                 a->kinds[PINNS_UTS] ? "uts " : "");
        return 0;
}

static int child_setup(const PinnsArgs *a, pid_t parent, int status_fd, int control_fd, Error **reterr) {
        int r = 0;

        /* Never outlive the parent: its pins would be the only reason to exist. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                return error_set(reterr, ESRCH, "parent exited");
        if (a->kinds[PINNS_USER])
                r = child_unshare_user(status_fd, control_fd, reterr);
        if (r >= 0)
                r = child_unshare_rest(a, reterr);
        if (r >= 0 && a->kinds[PINNS_NET])
                r = loopback_up(reterr);
        if (r >= 0 && a->hostname && sethostname(a->hostname, strlen(a->hostname)) < 0)
                r = error_set(reterr, errno, "sethostname '%s': %m", a->hostname);
        for (size_t i = 0; r >= 0 && i < a->n_sysctls; i++)
                r = sysctl_write(&a->sysctls[i], reterr);
        return r;
}

static _Noreturn void child_main(const PinnsArgs *a, pid_t parent, int status_fd, int control_fd) {
        _cleanup_error_ Error *err = NULL;
        char c;

        if (child_setup(a, parent, status_fd, control_fd, &err) < 0) {
                child_send_error(status_fd, err);
                _exit(1);
        }
        if (send_byte(status_fd, MSG_READY, "parent", &err) < 0)
                _exit(1);
        /* Keep the namespaces alive until the parent has pinned them; it kills us then (EOF if it died). */
        while (read(control_fd, &c, 1) < 0 && errno == EINTR)
                ;
        _exit(0);
}

/* ---- the parent, in the host's namespaces ---- */

static int pinner_start(Pinner *p, Error **reterr) {
        int status[2], control[2];
        pid_t parent = getpid();

        if (pipe2(status, O_CLOEXEC) < 0)
                return error_set(reterr, errno, "pipe: %m");
        p->status_fd = status[0];
        if (pipe2(control, O_CLOEXEC) < 0) {
                close(status[1]);
                return error_set(reterr, errno, "pipe: %m");
        }
        p->control_fd = control[1];
        p->child = fork();
        if (p->child < 0) {
                int saved = errno;
                close(status[1]);
                close(control[0]);
                return error_set(reterr, saved, "fork: %m");
        }
        if (p->child == 0) {
                close(p->status_fd);
                close(p->control_fd);
                child_main(p->args, parent, status[1], control[0]);
        }
        close(status[1]);
        close(control[0]);
        return 0;
}

/* Wait for the child's next message, which must be `expect`. */
static int pinner_wait(Pinner *p, char expect, Error **reterr) {
        char buf[PIPE_BUF];
        ssize_t n;

        do
                n = read(p->status_fd, buf, sizeof(buf) - 1);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return error_set(reterr, errno, "read from namespace child: %m");
        if (n == 0)
                return error_set(reterr, ECHILD, "namespace child exited before setting up");
        buf[n] = '\0';
        if (buf[0] == MSG_ERROR)
                return error_set(reterr, EIO, "%s", buf + 1);
        if (n != 1 || buf[0] != expect)
                return error_set(reterr, EPROTO, "unexpected message from namespace child");
        return 0;
}

/* The whole map in one write(), as the kernel requires. We are root in the parent namespace, so any
 * mapping is allowed and setgroups need not be denied. */
static int write_map(pid_t pid, const char *file, const char *text, Error **reterr) {
        _cleanup_free_ char *path = xasprintf("/proc/%d/%s", (int)pid, file);
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        size_t len = strlen(text);

        if (fd < 0)
                return error_set(reterr, errno, "open %s: %m", path);
        ssize_t n = write(fd, text, len);
        if (n < 0)
                return error_set(reterr, errno, "write %s: %m", path);
        if ((size_t)n != len)
                return error_set(reterr, EIO, "short write to %s", path);
        return 0;
}

static int map_user_namespace(Pinner *p, Error **reterr) {
        int r = pinner_wait(p, MSG_USERNS, reterr);

        if (r >= 0)
                r = write_map(p->child, "uid_map", p->args->uid_map, reterr);
        if (r >= 0)
                r = write_map(p->child, "gid_map", p->args->gid_map, reterr);
        if (r >= 0)
                r = send_byte(p->control_fd, MSG_GO, "namespace child", reterr);
        return r;
}

static int make_dir(const char *path, Error **reterr) {
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
                return error_set(reterr, errno, "mkdir %s: %m", path);
        return 0;
}

static int pin_one(Pinner *p, PinnsKind kind, Error **reterr) {
        const char *k = pinns_kind_to_string(kind);
        _cleanup_free_ char *dir = xasprintf("%s/%sns", p->args->dir, k);
        _cleanup_free_ char *source = xasprintf("/proc/%d/ns/%s", (int)p->child, k);
        Pin *pin = &p->pins[kind];

        int r = make_dir(dir, reterr);
        if (r < 0)
                return r;
        pin->path = xasprintf("%s/%s", dir, p->args->name);
        /* O_EXCL: a file already there belongs to someone else and must survive our failure. */
        _cleanup_close_ int fd = open(pin->path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0444);
        if (fd < 0)
                return error_set(reterr, errno, "create %s: %m", pin->path);
        pin->created = true;
        if (mount(source, pin->path, NULL, MS_BIND, NULL) < 0)
                return error_set(reterr, errno, "bind-mount %s on %s: %m", source, pin->path);
        pin->mounted = true;
        return 0;
}

static int pin_all(Pinner *p, Error **reterr) {
        int r = make_dir(p->args->dir, reterr);

        for (PinnsKind k = 0; r >= 0 && k < _PINNS_KIND_MAX; k++)
                if (p->args->kinds[k])
                        r = pin_one(p, k, reterr);
        return r;
}

/* On failure: take back every pin this run made, newest first. */
static void pinner_undo(Pinner *p) {
        for (int k = _PINNS_KIND_MAX - 1; k >= 0; k--) {
                Pin *pin = &p->pins[k];
                if (pin->mounted && umount2(pin->path, MNT_DETACH) == 0)
                        pin->mounted = false;
                if (pin->created && !pin->mounted && unlink(pin->path) == 0)
                        pin->created = false;
        }
}

static void pinner_done(Pinner *p) {
        if (p->child > 0) {
                kill(p->child, SIGKILL);
                while (waitpid(p->child, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        closep(&p->status_fd);
        closep(&p->control_fd);
        for (size_t k = 0; k < _PINNS_KIND_MAX; k++)
                free(p->pins[k].path);
}

static int pinns_create(const PinnsArgs *a, Error **reterr) {
        _cleanup_(pinner_done) Pinner p = {.args = a, .status_fd = -EBADF, .control_fd = -EBADF};

        int r = pinner_start(&p, reterr);
        if (r >= 0 && a->kinds[PINNS_USER])
                r = map_user_namespace(&p, reterr);
        if (r >= 0)
                r = pinner_wait(&p, MSG_READY, reterr);
        if (r >= 0)
                r = pin_all(&p, reterr);
        if (r < 0)
                pinner_undo(&p);
        return r;
}

/* ---- --remove ---- */

static int unpin(const char *dir, PinnsKind kind, const char *name, Error **reterr) {
        _cleanup_free_ char *path = xasprintf("%s/%sns/%s", dir, pinns_kind_to_string(kind), name);

        if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
                return error_set(reterr, errno, "unmount %s: %m", path);
        if (unlink(path) < 0 && errno != ENOENT)
                return error_set(reterr, errno, "remove %s: %m", path);
        return 0;
}

/* Without kinds, every kind: removal must not depend on remembering what was pinned. */
static int pinns_remove(const PinnsArgs *a, Error **reterr) {
        bool all = true;
        int r = 0;

        for (PinnsKind k = 0; k < _PINNS_KIND_MAX; k++)
                all = all && !a->kinds[k];
        for (PinnsKind k = 0; k < _PINNS_KIND_MAX; k++)
                if (all || a->kinds[k]) {
                        int q = unpin(a->dir, k, a->name, reterr);
                        r = r < 0 ? r : q;
                }
        return r;
}

/* A stop request must not land between a mount and its undo; the daemon's timeouts use SIGKILL.
 * SIGPIPE too: a dead child shows up as EPIPE, and is reported. */
static void block_signals(void) {
        sigset_t set;

        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGHUP);
        sigaddset(&set, SIGQUIT);
        sigaddset(&set, SIGPIPE);
        sigprocmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv) {
        _cleanup_(pinns_args_done) PinnsArgs args = {0};
        _cleanup_error_ Error *err = NULL;

        if (pinns_args_parse(argc, argv, &args, &err) < 0) {
                fprintf(stderr, "crio-pinns: %s\n", err->message);
                usage(stderr);
                return 2;
        }
        if (args.help) {
                usage(stdout);
                return 0;
        }
        block_signals();
        umask(022);
        int r = args.remove ? pinns_remove(&args, &err) : pinns_create(&args, &err);
        if (r < 0) {
                fprintf(stderr, "crio-pinns: %s\n", err->message);
                return 1;
        }
        return 0;
}
