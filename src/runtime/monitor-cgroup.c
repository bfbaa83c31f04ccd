/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs-util.h"
#include "log.h"
#include "monitor-cgroup.h"
#include "strv.h"

/* Write `value` into an existing file, as cgroupfs wants it: one write(2). -errno on failure. */
static int write_control(const char *path, const char *value) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t n = strlen(value);
        return write(fd, value, n) == (ssize_t)n ? 0 : -errno;
}

char **cgroup_mount_points(const char *mountinfo) {
        _cleanup_strv_free_ char **lines = strv_split(mountinfo, '\n');
        char **out = NULL;
        STRV_FOREACH(l, lines) {
                /* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
                _cleanup_strv_free_ char **f = strv_split(*l, ' ');
                size_t n = strv_length(f), dash = 0;
                for (size_t i = 6; i < n && !dash; i++)
                        if (strcmp(f[i], "-") == 0)
                                dash = i;
                if (dash && dash + 1 < n &&
                    (strcmp(f[dash + 1], "cgroup") == 0 || strcmp(f[dash + 1], "cgroup2") == 0) &&
                    !strv_contains(out, f[4]))
                        out = strv_push(out, xstrdup(f[4]));
        }
        return out;
}

static char **mount_points(void) {
        _cleanup_free_ char *text = NULL;
        return read_file("/proc/self/mountinfo", 1 << 20, &text, NULL) < 0 ? NULL
                                                                           : cgroup_mount_points(text);
}

/* A new v1 cpuset takes no task until its CPUs and memory nodes are set: the parent's. */
static int init_cpuset(const char *dir) {
        static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_free_ char *mine = xasprintf("%s/%s", dir, files[i]);
                _cleanup_free_ char *parent = xasprintf("%s/../%s", dir, files[i]), *value = NULL;
                if (access(mine, F_OK) < 0)
                        return 0; /* not a cpuset hierarchy */
                int r = read_file(parent, 4096, &value, NULL);
                if (r >= 0)
                        r = write_control(mine, value);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* mkdir -p of `cg` under `root`, each new level's cpuset filled from its parent. */
static int make_path(const char *root, const char *cg) {
        _cleanup_strv_free_ char **parts = strv_split(cg, '/');
        _cleanup_free_ char *dir = xstrdup(root);
        STRV_FOREACH(part, parts) {
                char *next = xasprintf("%s/%s", dir, *part);
                free(dir);
                dir = next;
                if (mkdir(dir, 0755) == 0) {
                        int r = init_cpuset(dir);
                        if (r < 0)
                                return r;
                } else if (errno != EEXIST)
                        return -errno;
        }
        return 0;
}

int monitor_cgroup_join(const char *cg, pid_t pid, Error **reterr) {
        _cleanup_strv_free_ char **roots = mount_points();
        _cleanup_free_ char *pid_text = xasprintf("%d", (int)pid);
        STRV_FOREACH(root, roots) {
                _cleanup_free_ char *procs = xasprintf("%s%s/cgroup.procs", *root, cg);
                int r = make_path(*root, cg);
                if (r >= 0)
                        r = write_control(procs, pid_text);
                if (r < 0) {
                        monitor_cgroup_remove(cg);
                        return error_set(reterr, -r, "monitor_cgroup: cannot move the monitor into %s%s: %s",
                                         *root, cg, strerror(-r));
                }
        }
        return 0;
}

void monitor_cgroup_remove(const char *cg) {
        _cleanup_strv_free_ char **roots = mount_points();
        STRV_FOREACH(root, roots) {
                _cleanup_free_ char *dir = xasprintf("%s%s", *root, cg);
                /* The monitor writes the exit file and then exits: it may still be leaving. */
                for (int tries = 0; rmdir(dir) < 0 && errno == EBUSY && tries < 100; tries++)
                        nanosleep(&(struct timespec){.tv_nsec = 20 * 1000 * 1000}, NULL);
                if (access(dir, F_OK) == 0)
                        log_warn("monitor_cgroup: cannot remove %s: %m", dir);
        }
}
