/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crio-nsexec: start a command inside a running container, as `runc exec --detach` does, in a few
 * milliseconds instead of runc's ~17 (a Go program that re-executes itself to enter the namespaces).
 * See docs/helpers.md.
 *
 * The daemon runs this helper from a sealed in-memory copy (so a process in the container cannot
 * rewrite it through /proc/PID/exe) and hands it a plan: the container's process identity read from its
 * OCI config. The helper joins the container's cgroups, enters all of its namespaces at once through a
 * pidfd of its init (so a recycled pid cannot redirect it), forks the command into the container's PID
 * namespace, reports its pid and exits: the command is then re-parented to the daemon (a subreaper),
 * exactly like a command that runc started detached.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <dirent.h>
#include <grp.h>
#include <termios.h>
#include <unistd.h>

#include "macros.h"
#include "nsexec-plan.h"

#define PLAN_MAX (4 << 20)
#define PASSWD_MAX (1 << 20)
#define CGROUP2_MAGIC 0x63677270
/* Exit codes of a command that could not be started, as shells and the kubelet know them. */
#define EXIT_CANNOT_EXECUTE 126
#define EXIT_NOT_FOUND 127
#define EXIT_SETUP_FAILED 255

typedef struct Fds {
        int plan, pidfd, report;
        int console; /* -1: no terminal */
        int seccomp; /* -1: no filter */
} Fds;

static void usage(FILE *f) {
        fputs("Usage: crio-nsexec --plan-fd=N --pidfd=N --report-fd=N [--console-fd=N] [--seccomp-fd=N]\n"
              "Runs the command of the plan (fd N) in the namespaces and cgroup of the process of the "
              "pidfd,\n"
              "writes its pid to the report fd and exits. Started by the crio daemon; see "
              "docs/helpers.md.\n",
              f);
}

static int parse_fd_arg(const char *s) {
        char *end = NULL;
        long v = strtol(s, &end, 10);
        return (*s && !*end && v > 2 && v < INT_MAX) ? (int)v : -1;
}

static int parse_args(int argc, char **argv, Fds *ret) {
        static const char *const names[] = {
                "--plan-fd=", "--pidfd=", "--report-fd=", "--console-fd=", "--seccomp-fd="};
        Fds f = {-1, -1, -1, -1, -1};
        int *slots[] = {&f.plan, &f.pidfd, &f.report, &f.console, &f.seccomp};
        for (int i = 1; i < argc; i++) {
                size_t k = 0;
                while (k < ELEMENTSOF(names) && strncmp(argv[i], names[k], strlen(names[k])) != 0)
                        k++;
                if (k == ELEMENTSOF(names) || (*slots[k] = parse_fd_arg(argv[i] + strlen(names[k]))) < 0)
                        return -EINVAL;
        }
        if (f.plan < 0 || f.pidfd < 0 || f.report < 0)
                return -EINVAL;
        *ret = f;
        return 0;
}

/* All of a file (a memfd from the daemon), at most `max` bytes. */
static int read_all(int fd, size_t max, char **ret, size_t *ret_len) {
        size_t len = 0, size = 4096;
        char *buf = xmalloc(size);
        for (;;) {
                if (len == size) {
                        if (size >= max) {
                                free(buf);
                                return -EFBIG;
                        }
                        size = size * 2 > max ? max : size * 2;
                        buf = xrealloc(buf, size);
                }
                ssize_t n = pread(fd, buf + len, size - len, (off_t)len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        free(buf);
                        return -e;
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

static int write_text(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, text, strlen(text));
        return n < 0 ? -errno : 0;
}

/* Mark every fd above 2 close-on-exec: close_range() when the kernel has its flag (5.11), else one by one.
 */
static int cloexec_inherited_fds(void) {
        if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
                return 0;
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return -errno;
        for (struct dirent *de; (de = readdir(d));) {
                int fd = atoi(de->d_name);
                if (fd > 2 && fd != dirfd(d) && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
                        closedir(d);
                        return -errno;
                }
        }
        closedir(d);
        return 0;
}

/* A paused container's cgroup is frozen: a process joining it would freeze too, and hang the call. */
static bool cgroup_frozen(const char *cg) {
        static const char *const files[][2] = {{"/sys/fs/cgroup/freezer", "freezer.state"},
                                               {"/sys/fs/cgroup/unified", "cgroup.freeze"},
                                               {"/sys/fs/cgroup", "cgroup.freeze"}};
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *path = xasprintf("%s%s/%s", files[i][0], cg, files[i][1]);
                _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
                char buf[16] = "";
                if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 &&
                    (strncmp(buf, "FROZEN", 6) == 0 || strncmp(buf, "FREEZING", 8) == 0 || buf[0] == '1'))
                        return true;
        }
        return false;
}

/*
 * Join the container's cgroup in every hierarchy where it exists (v1 controllers, the named systemd
 * one, the unified tree), as runc does for exec. Done from the host's mount namespace, before setns.
 */
static int join_cgroup(const char *cg, Error **reterr) {
        struct statfs sfs;
        if (cgroup_frozen(cg))
                return error_set(reterr, EBUSY, "the container is paused");
        if (statfs("/sys/fs/cgroup", &sfs) < 0)
                return error_set(reterr, errno, "statfs /sys/fs/cgroup: %m");
        if ((unsigned long)sfs.f_type == CGROUP2_MAGIC) {
                _cleanup_free_ char *path = xasprintf("/sys/fs/cgroup%s/cgroup.procs", cg);
                int r = write_text(path, "0");
                return r < 0 ? error_set(reterr, -r, "join cgroup %s: %s", cg, strerror(-r)) : 0;
        }
        DIR *d = opendir("/sys/fs/cgroup");
        if (!d)
                return error_set(reterr, errno, "open /sys/fs/cgroup: %m");
        int joined = 0, r = 0;
        for (struct dirent *de; r >= 0 && (de = readdir(d));) {
                if (de->d_type != DT_DIR || de->d_name[0] == '.')
                        continue; /* "cpu" and "cpuacct" are symlinks to "cpu,cpuacct" */
                _cleanup_free_ char *path = xasprintf("/sys/fs/cgroup/%s%s/cgroup.procs", de->d_name, cg);
                r = write_text(path, "0");
                if (r == -ENOENT)
                        r = 0;
                else if (r < 0)
                        error_set(reterr, -r, "join cgroup %s under %s: %s", cg, de->d_name, strerror(-r));
                else
                        joined++;
        }
        closedir(d);
        if (r >= 0 && joined == 0)
                r = error_set(reterr, ENOENT, "the container's cgroup %s exists in no hierarchy", cg);
        return r;
}

/*
 * Every namespace of the container's init, in one step through its pidfd: the kernel enters the user
 * namespace first, then the others with the rights it gives. The PID namespace applies to children.
 */
static int enter_namespaces(int pidfd, bool user_namespace, Error **reterr) {
        int flags =
                CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWCGROUP;
        if (user_namespace)
                flags |= CLONE_NEWUSER;
        if (setns(pidfd, flags) < 0)
                return error_set(reterr, errno == ESRCH ? ESRCH : errno,
                                 errno == ESRCH ? "the container's process exited" : "setns: %m");
        return 0;
}

/* ---- the command's process, inside the container ---- */

/*
 * Open a path of the container's. This process still has the daemon's rights, which would follow
 * /proc/PID/root and /proc/PID/cwd links planted by the container to the host or another container
 * (runc's CVE-2024-21626): no "magic" links are followed.
 */
static int open_in_container(const char *path, int flags) {
        struct open_how how = {.flags = (uint64_t)flags | O_CLOEXEC, .resolve = RESOLVE_NO_MAGICLINKS};
        int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
        return fd < 0 ? -errno : fd;
}

static int send_fd(int sock, int fd) {
        char byte = 0;
        union {
                char buf[CMSG_SPACE(sizeof(int))];
                struct cmsghdr align;
        } u = {};
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        struct msghdr m = {
                .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
        return sendmsg(sock, &m, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* A new terminal from the container's own devpts; its master goes to the daemon. */
static int open_terminal(const ExecPlan *p, int console, Error **reterr) {
        _cleanup_close_ int master = open_in_container("/dev/ptmx", O_RDWR | O_NOCTTY);
        struct stat st;
        int unlock = 0;
        if (master < 0)
                return error_set(reterr, -master, "open /dev/ptmx in the container: %s", strerror(-master));
        if (fstat(master, &st) < 0 || !S_ISCHR(st.st_mode) || major(st.st_rdev) != 5 ||
            minor(st.st_rdev) != 2)
                return error_set(reterr, EPERM, "/dev/ptmx in the container is not a terminal multiplexer");
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
                return error_set(reterr, errno, "unlock the terminal: %m");
        _cleanup_close_ int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (slave < 0)
                return error_set(reterr, errno, "open the terminal's slave: %m");
        struct winsize ws = {.ws_row = p->height, .ws_col = p->width};
        if (p->width && p->height && ioctl(slave, TIOCSWINSZ, &ws) < 0)
                return error_set(reterr, errno, "set the terminal size: %m");
        if (fchown(slave, p->uid, (gid_t)-1) < 0)
                return error_set(reterr, errno, "chown the terminal: %m");
        int r = send_fd(console, master);
        if (r < 0)
                return error_set(reterr, -r, "send the terminal to the daemon: %s", strerror(-r));
        for (int i = 0; i < 3; i++)
                if (dup2(slave, i) < 0)
                        return error_set(reterr, errno, "terminal as fd %d: %m", i);
        if (ioctl(0, TIOCSCTTY, 0) < 0)
                return error_set(reterr, errno, "make the terminal controlling: %m");
        return 0;
}

static int apply_limits(const ExecPlan *p, Error **reterr) {
        for (size_t i = 0; i < p->n_rlimits; i++) {
                struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
                if (setrlimit(p->rlimits[i].resource, &rl) < 0)
                        return error_set(reterr, errno, "setrlimit %d: %m", p->rlimits[i].resource);
        }
        if (p->has_oom_score_adj) {
                char v[16];
                snprintf(v, sizeof(v), "%d", p->oom_score_adj);
                /*
                 * Best effort, as the command would otherwise keep the daemon's score: lowering it needs
                 * CAP_SYS_RESOURCE, which the daemon may lack (the value was clamped for that), and runc
                 * itself leaves an exec'd process's score alone.
                 */
                (void)write_text("/proc/self/oom_score_adj", v);
        }
        if (p->has_umask)
                umask(p->umask);
        return 0;
}

/* $HOME from the container's /etc/passwd when the process environment has none, as runc sets it. */
static void add_home(ExecPlan *p) {
        if (exec_plan_getenv(p->env, "HOME"))
                return;
        _cleanup_close_ int fd = open_in_container("/etc/passwd", O_RDONLY | O_NONBLOCK);
        _cleanup_free_ char *text = NULL, *home = NULL;
        size_t len = 0;
        struct stat st;
        if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
            read_all(fd, PASSWD_MAX, &text, &len) == 0) {
                text = xrealloc(text, len + 1);
                text[len] = 0;
                home = exec_plan_passwd_home(text, p->uid);
        }
        p->env = xrealloc(p->env, (p->n_env + 2) * sizeof(char *));
        p->env[p->n_env++] = xasprintf("HOME=%s", home ? home : "/");
        p->env[p->n_env] = NULL;
}

/* The daemon sends a profile only when the host runs AppArmor (it asked the host, not the container). */
static int apply_apparmor(const char *profile, Error **reterr) {
        _cleanup_free_ char *cmd = xasprintf("exec %s", profile);
        int r = write_text("/proc/self/attr/apparmor/exec", cmd);
        if (r == -ENOENT)
                r = write_text("/proc/self/attr/exec", cmd);
        return r < 0 ? error_set(reterr, -r, "AppArmor profile %s: %s", profile, strerror(-r)) : 0;
}

static int load_seccomp(const char *bpf, size_t len, unsigned flags, Error **reterr) {
        struct sock_fprog prog = {.len = (unsigned short)(len / sizeof(struct sock_filter)),
                                  .filter = (struct sock_filter *)(void *)bpf};
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog) < 0)
                return error_set(reterr, errno, "load the seccomp filter: %m");
        return 0;
}

/* Bounding set, then ids (keeping the permitted set across setuid), then the capability sets. */
static int set_identity(const ExecPlan *p, Error **reterr) {
        for (int cap = 0; cap < 64; cap++)
                if (!(p->cap_bounding & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
                        if (errno == EINVAL)
                                break; /* past the kernel's last capability */
                        return error_set(reterr, errno, "drop capability %d from the bounding set: %m", cap);
                }
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return error_set(reterr, errno, "keep capabilities: %m");
        if (setgroups(p->n_groups, p->groups) < 0)
                return error_set(reterr, errno, "setgroups: %m");
        if (setresgid(p->gid, p->gid, p->gid) < 0)
                return error_set(reterr, errno, "setgid %u: %m", (unsigned)p->gid);
        if (setresuid(p->uid, p->uid, p->uid) < 0)
                return error_set(reterr, errno, "setuid %u: %m", (unsigned)p->uid);
        if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
                return error_set(reterr, errno, "stop keeping capabilities: %m");
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct data[2] = {};
        for (int i = 0; i < 2; i++) {
                data[i].effective = (uint32_t)(p->cap_effective >> (32 * i));
                data[i].permitted = (uint32_t)(p->cap_permitted >> (32 * i));
                data[i].inheritable = (uint32_t)(p->cap_inheritable >> (32 * i));
        }
        if (syscall(SYS_capset, &hdr, data) < 0)
                return error_set(reterr, errno, "capset: %m");
        for (int cap = 0; cap < 64; cap++)
                if ((p->cap_ambient & (1ULL << cap)) &&
                    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                        return error_set(reterr, errno, "raise ambient capability %d: %m", cap);
        return 0;
}

static bool is_executable(const char *path, void *userdata) {
        (void)userdata;
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111);
}

typedef struct Filter {
        const char *bpf;
        size_t len;
} Filter;

/* The working directory, reached without magic links, and checked to be inside the container's root. */
static int enter_cwd(const char *cwd, Error **reterr) {
        _cleanup_close_ int fd = open_in_container(cwd, O_PATH | O_DIRECTORY);
        char buf[PATH_MAX];
        if (fd < 0)
                return error_set(reterr, -fd, "chdir to cwd (\"%s\") set in config.json failed: %s", cwd,
                                 strerror(-fd));
        if (fchdir(fd) < 0)
                return error_set(reterr, errno, "chdir to cwd (\"%s\") set in config.json failed: %m", cwd);
        if (!getcwd(buf, sizeof(buf)) || buf[0] != '/')
                return error_set(reterr, EPERM, "cwd (\"%s\") is outside the container", cwd);
        return 0;
}

/* As runc: a session keyring of the command's own, not the daemon's (nor other execs'). */
static int join_session_keyring(Error **reterr) {
        if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS)
                return error_set(reterr, errno, "join a new session keyring: %m");
        return 0;
}

/*
 * As runc: the command's stdio (the daemon's pipes, or the terminal) belong to its user, so that a
 * non-root command can reopen them (echo x > /dev/stderr). Without a terminal a character device
 * there is the node's /dev/null, left alone: telling it apart by the container's /dev/null would
 * let an image that replaced that file have the node's given away.
 */
static void give_stdio(const ExecPlan *p) {
        struct stat st;
        for (int fd = 0; fd < 3; fd++) {
                if (fstat(fd, &st) < 0 || (S_ISCHR(st.st_mode) && !p->tty))
                        continue;
                (void)fchown(fd, p->uid, p->gid); /* EINVAL/EPERM (e.g. an unmapped id): as runc, go on */
        }
}

/* Everything between the fork and execve, in runc's order; returns only on failure. */
static int child_setup(ExecPlan *p, const Filter *f, int console, char **ret_path, int *ret_code,
                       Error **reterr) {
        int r = join_session_keyring(reterr);
        *ret_code = EXIT_SETUP_FAILED;
        if (r >= 0 && setsid() < 0)
                r = error_set(reterr, errno, "setsid: %m");
        if (r >= 0 && p->tty)
                r = open_terminal(p, console, reterr);
        if (r >= 0)
                give_stdio(p);
        if (r >= 0)
                r = apply_limits(p, reterr);
        if (r >= 0)
                r = enter_cwd(p->cwd, reterr);
        if (r < 0)
                return r;
        add_home(p);
        if (p->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return error_set(reterr, errno, "no_new_privs: %m");
        if (p->apparmor)
                r = apply_apparmor(p->apparmor, reterr);
        /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: before the capabilities go. */
        if (r >= 0 && f->bpf && !p->no_new_privs)
                r = load_seccomp(f->bpf, f->len, p->seccomp_flags, reterr);
        if (r >= 0)
                r = set_identity(p, reterr);
        if (r < 0)
                return r;
        /* Looked up with the command's own rights, which follow no link to the host. */
        *ret_path =
                exec_plan_find_command(p->args[0], exec_plan_getenv(p->env, "PATH"), is_executable, NULL);
        if (!*ret_path) {
                *ret_code = EXIT_NOT_FOUND;
                return error_set(reterr, ENOENT, "exec: \"%s\": executable file not found in $PATH",
                                 p->args[0]);
        }
        /* With no_new_privs, as late as possible: fewer system calls of ours pass through it. */
        if (f->bpf && p->no_new_privs)
                r = load_seccomp(f->bpf, f->len, p->seccomp_flags, reterr);
        return r;
}

/* An exit code for the daemon's answer and a message, written to the status pipe in one write(). */
static _Noreturn void child_fail(int status_fd, int code, const char *message) {
        char buf[PIPE_BUF - 1];
        int n = snprintf(buf, sizeof(buf), "%d %s", code, message);
        if (write(status_fd, buf, (size_t)(n >= (int)sizeof(buf) ? (int)sizeof(buf) - 1 : n)) < 0) {
                /* The helper is gone; nobody is left to tell. */
        }
        _exit(code);
}

static _Noreturn void child_main(ExecPlan *p, const Filter *f, int console, int status_fd) {
        _cleanup_error_ Error *err = NULL;
        char *path = NULL;
        int code = EXIT_SETUP_FAILED;
        if (child_setup(p, f, console, &path, &code, &err) < 0)
                child_fail(status_fd, code, err ? err->message : "setup failed");
        sigset_t all;
        sigemptyset(&all);
        sigprocmask(SIG_SETMASK, &all, NULL);
        execve(path, p->args, p->env);
        int e = errno;
        char msg[PATH_MAX + 64];
        snprintf(msg, sizeof(msg), "exec: \"%s\": %s", p->args[0], strerror(e));
        child_fail(status_fd, e == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXECUTE, msg);
}

/* ---- the helper, after setns ---- */

/*
 * Fork the command, report its pid, and wait until it has exec'd (its end of the status pipe closes)
 * or failed (a message arrives). Returns the helper's exit code.
 */
static int run(ExecPlan *p, const Filter *f, const Fds *fds) {
        int status[2];
        if (pipe2(status, O_CLOEXEC) < 0) {
                fprintf(stderr, "crio-nsexec: pipe: %m\n");
                return EXIT_SETUP_FAILED;
        }
        pid_t child = fork();
        if (child < 0) {
                fprintf(stderr, "crio-nsexec: fork: %m\n");
                return EXIT_SETUP_FAILED;
        }
        if (child == 0) {
                close(status[0]);
                child_main(p, f, fds->console, status[1]);
        }
        close(status[1]);
        dprintf(fds->report, "%d\n", (int)child);
        close(fds->report);
        char buf[PIPE_BUF];
        ssize_t n;
        while ((n = read(status[0], buf, sizeof(buf) - 1)) < 0 && errno == EINTR)
                ;
        if (n <= 0)
                return 0; /* exec'd: the command is the daemon's now */
        buf[n] = 0;
        waitpid(child, NULL, 0);
        char *msg = strchr(buf, ' ');
        fprintf(stderr, "crio-nsexec: %s\n", msg ? msg + 1 : buf);
        return atoi(buf) > 0 ? atoi(buf) : EXIT_SETUP_FAILED;
}

static int prepare(const Fds *fds, ExecPlan *p, char **plan_buf, Filter *f, Error **reterr) {
        size_t len = 0;
        int r = read_all(fds->plan, PLAN_MAX, plan_buf, &len);
        if (r < 0)
                return error_set(reterr, -r, "read the plan: %s", strerror(-r));
        r = exec_plan_parse(*plan_buf, len, p, reterr);
        if (r < 0)
                return r;
        if (fds->seccomp >= 0) {
                char *bpf = NULL;
                r = read_all(fds->seccomp, BPF_MAXINSNS * sizeof(struct sock_filter), &bpf, &f->len);
                if (r < 0 || f->len == 0 || f->len % sizeof(struct sock_filter)) {
                        free(bpf);
                        return error_set(reterr, r < 0 ? -r : EINVAL, "read the seccomp filter: bad size");
                }
                f->bpf = bpf;
        }
        if (p->cgroup)
                r = join_cgroup(p->cgroup, reterr);
        return r < 0 ? r : enter_namespaces(fds->pidfd, p->user_namespace, reterr);
}

int main(int argc, char **argv) {
        Fds fds;
        if (parse_args(argc, argv, &fds) < 0) {
                usage(stderr);
                return 2;
        }
        /* No process in the container may ptrace us or open our fds while we hold host resources. */
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
        /* Nothing the daemon passed may reach the command. */
        if (cloexec_inherited_fds() < 0) {
                fprintf(stderr, "crio-nsexec: cannot mark inherited fds close-on-exec: %m\n");
                _exit(EXIT_SETUP_FAILED);
        }
        _cleanup_error_ Error *err = NULL;
        _cleanup_free_ char *plan_buf = NULL;
        ExecPlan plan = {};
        Filter filter = {};
        int code = EXIT_SETUP_FAILED;
        if (prepare(&fds, &plan, &plan_buf, &filter, &err) < 0)
                fprintf(stderr, "crio-nsexec: %s\n", err->message);
        else
                code = run(&plan, &filter, &fds);
        free((char *)filter.bpf);
        exec_plan_done(&plan);
        /*
         * _exit: nothing is left to flush (stderr is unbuffered), and in sanitizer builds the leak
         * checker's exit hook would clone its tracer into the container's PID namespace, from where it
         * cannot reach us, and spin for ever.
         */
        _exit(code);
}
