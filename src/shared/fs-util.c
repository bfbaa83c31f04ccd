/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>

#include "fs-util.h"
#include "macros.h"
#include "strv.h"

int mkdir_parents_and_self(const char *path, mode_t mode) {
        _cleanup_free_ char *p = xstrdup(path);
        size_t len = strlen(p);

        for (size_t i = 1; i <= len; i++) {
                if (p[i] != '/' && p[i] != '\0')
                        continue;
                char saved = p[i];
                p[i] = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return -errno;
                p[i] = saved;
        }
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int mkdir_parents(const char *path, mode_t mode) {
        _cleanup_free_ char *p = xstrdup(path);
        char *slash = strrchr(p, '/');
        if (!slash || slash == p)
                return 0;
        *slash = '\0';
        return mkdir_parents_and_self(p, mode);
}

/*
 * rm_rf walks the tree depth first holding one directory fd at a time (plus a transient one while
 * listing), never one per level: a layer may legally nest thousands of directories, and an fd per level
 * runs out under the default RLIMIT_NOFILE. Going back up is openat(".."), checked against the
 * device and inode recorded on the way down, so a directory moved meanwhile stops the walk instead of
 * removing something else.
 */
typedef struct RmLevel {
        char *name;     /* in the parent directory */
        char **subdirs; /* left to descend into, found when this level was emptied of other entries */
        size_t next;
        dev_t dev;
        ino_t ino;
} RmLevel;

static void note_error(int *r, int q) {
        if (q < 0 && *r >= 0)
                *r = q;
}

/* Unlink everything in the directory but subdirectories, whose names are returned. */
static int unlink_non_dirs(int fd, char ***ret_subdirs) {
        char **subdirs = xcalloc(1, sizeof(char *));
        int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
        if (!d) {
                int r = -errno;
                if (dup_fd >= 0)
                        close(dup_fd);
                *ret_subdirs = subdirs;
                return r;
        }
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                        continue;
                if (de->d_type != DT_DIR && (unlinkat(fd, de->d_name, 0) == 0 || errno == ENOENT))
                        continue;
                if (de->d_type == DT_DIR || errno == EISDIR || errno == EPERM)
                        subdirs = strv_push(subdirs, xstrdup(de->d_name));
                else
                        note_error(&r, -errno);
        }
        closedir(d);
        *ret_subdirs = subdirs;
        return r;
}

static int push_level(int fd, char *name, RmLevel **stack, size_t *depth) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        *stack = xrealloc(*stack, (*depth + 1) * sizeof(RmLevel));
        RmLevel *l = &(*stack)[(*depth)++];
        *l = (RmLevel){.name = name, .dev = st.st_dev, .ino = st.st_ino};
        return unlink_non_dirs(fd, &l->subdirs);
}

/* Leave the directory at *fd for its parent, which must be the level below on the stack. */
static int go_up(int *fd, const RmLevel *parent) {
        int pfd = openat(*fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0)
                return -errno;
        struct stat st;
        if (fstat(pfd, &st) < 0 || st.st_dev != parent->dev || st.st_ino != parent->ino) {
                close(pfd);
                return -ESTALE;
        }
        close(*fd);
        *fd = pfd;
        return 0;
}

/* Empty the directory open at `fd` (consumed), depth first. */
static int rm_rf_tree(int fd) {
        RmLevel *stack = NULL;
        size_t depth = 0;
        int r = 0;
        note_error(&r, push_level(fd, NULL, &stack, &depth));
        while (depth > 0) {
                RmLevel *l = &stack[depth - 1];
                if (l->subdirs && l->subdirs[l->next]) {
                        char *name = l->subdirs[l->next++];
                        int cfd = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (cfd < 0) {
                                note_error(&r, errno == ENOENT ? 0 : -errno);
                                continue;
                        }
                        close(fd);
                        fd = cfd;
                        note_error(&r, push_level(fd, name, &stack, &depth));
                        continue;
                }
                strv_free(l->subdirs);
                if (--depth == 0)
                        break;
                int q = go_up(&fd, &stack[depth - 1]);
                if (q < 0) {
                        note_error(&r, q);
                        break;
                }
                if (unlinkat(fd, l->name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        note_error(&r, -errno);
        }
        while (depth > 0) /* only after a failed go_up */
                strv_free(stack[--depth].subdirs);
        free(stack);
        close(fd);
        return r;
}

static int rm_rf_entry(int dirfd, const char *name) {
        if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return -errno;
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        int r = rm_rf_tree(fd);
        if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && r >= 0)
                r = -errno;
        return r;
}

int rm_rf(const char *path) {
        _cleanup_free_ char *copy = xstrdup(path);
        char *slash = strrchr(copy, '/');
        const char *parent = ".", *name = copy;
        if (slash) {
                *slash = '\0';
                parent = slash == copy ? "/" : copy;
                name = slash + 1;
        }
        _cleanup_close_ int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0)
                return errno == ENOENT ? 0 : -errno;
        return rm_rf_entry(pfd, name);
}

static int write_file_renamed(const char *path, const void *data, size_t len, mode_t mode, bool durable) {
        _cleanup_free_ char *tmp = xasprintf("%s.tmp-XXXXXX", path);
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        const char *p = data;
        size_t left = len;
        while (left > 0) {
                ssize_t n = write(fd, p, left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int r = -errno;
                        unlink(tmp);
                        return r;
                }
                p += n;
                left -= (size_t)n;
        }
        if (fchmod(fd, mode) < 0 || (durable && fsync(fd) < 0) || rename(tmp, path) < 0) {
                int r = -errno;
                unlink(tmp);
                return r;
        }
        /* The rename is durable only once the directory is. */
        char *slash = strrchr(tmp, '/');
        if (durable && slash) {
                *slash = '\0';
                _cleanup_close_ int dfd = open(slash == tmp ? "/" : tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd >= 0)
                        (void)fsync(dfd);
        }
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode) {
        return write_file_renamed(path, data, len, mode, true);
}

int write_file_replace(const char *path, const void *data, size_t len, mode_t mode) {
        return write_file_renamed(path, data, len, mode, false);
}

int read_file(const char *path, size_t max, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0)
                return -errno;
        if ((uint64_t)st.st_size > max)
                return -EFBIG;
        /* /proc and /sys files report size 0: grow until EOF, up to max. */
        size_t cap = (size_t)st.st_size + 1 < 4096 ? 4096 : (size_t)st.st_size + 1, len = 0;
        _cleanup_free_ char *buf = xmalloc(cap);
        for (;;) {
                if (len == cap - 1) {
                        if (len >= max + 1)
                                return -EFBIG;
                        cap = cap * 2 > max + 2 ? max + 2 : cap * 2;
                        buf = xrealloc(buf, cap);
                }
                ssize_t n = read(fd, buf + len, cap - 1 - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        if (len > max)
                return -EFBIG;
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_len)
                *ret_len = len;
        return 0;
}

bool path_has_dotdot(const char *path) {
        for (const char *p = path; (p = strstr(p, "..")); p += 2)
                if ((p == path || p[-1] == '/') && (p[2] == '\0' || p[2] == '/'))
                        return true;
        return false;
}

bool is_namespace_file(const char *path) {
        struct statfs s;
        return statfs(path, &s) == 0 && s.f_type == NSFS_MAGIC;
}
