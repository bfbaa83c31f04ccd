/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "strv.h"
#include "user.h"

#define ETC_FILE_MAX (4 * 1024 * 1024)

/* A decimal id, or -1 when `s` is not all digits. */
static int64_t parse_id(const char *s) {
        if (isempty(s) || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
                return -1;
        return strtoll(s, NULL, 10);
}

/* Field `n` (0-based) of a colon-separated line, copied. */
static char *field(const char *line, int n) {
        for (int i = 0; i < n; i++) {
                line = strchr(line, ':');
                if (!line)
                        return NULL;
                line++;
        }
        return xstrndup(line, strcspn(line, ":\n"));
}

int passwd_find(const char *text, const char *name, int64_t uid, char **ret_name, int64_t *ret_uid,
                int64_t *ret_gid) {
        for (const char *line = text; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                _cleanup_free_ char *n = field(line, 0), *u = field(line, 2), *g = field(line, 3);
                if (!n || !u || !g)
                        continue;
                int64_t lu = parse_id(u), lg = parse_id(g);
                if (lu < 0 || lg < 0)
                        continue;
                if ((name && strcmp(n, name) == 0) || (!name && lu == uid)) {
                        if (ret_name)
                                *ret_name = TAKE_PTR(n);
                        *ret_uid = lu;
                        *ret_gid = lg;
                        return 0;
                }
        }
        return -ENOENT;
}

int group_find(const char *text, const char *name, int64_t *ret_gid) {
        for (const char *line = text; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                _cleanup_free_ char *n = field(line, 0), *g = field(line, 2);
                if (n && g && strcmp(n, name) == 0 && parse_id(g) >= 0) {
                        *ret_gid = parse_id(g);
                        return 0;
                }
        }
        return -ENOENT;
}

size_t group_memberships(const char *text, const char *user, int64_t **groups, size_t n) {
        for (const char *line = text; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                _cleanup_free_ char *g = field(line, 2), *members = field(line, 3);
                if (!g || !members || parse_id(g) < 0)
                        continue;
                _cleanup_strv_free_ char **l = strv_split(members, ',');
                if (strv_contains(l, user)) {
                        *groups = xrealloc(*groups, (n + 1) * sizeof(int64_t));
                        (*groups)[n++] = parse_id(g);
                }
        }
        return n;
}

static const char *file_kind(mode_t mode) {
        return S_ISFIFO(mode)                   ? "a FIFO"
               : S_ISCHR(mode) || S_ISBLK(mode) ? "a device node"
               : S_ISSOCK(mode)                 ? "a socket"
               : S_ISDIR(mode)                  ? "a directory"
                                                : "not a regular file";
}

/*
 * Read an /etc file of the image; a missing one reads as empty. One that is there but not a regular
 * file is refused: opening a FIFO blocks (here, and in the runtime, which reads the same files when the
 * container starts), and a device node would be opened on the node. Looked at through an O_PATH handle,
 * opened for reading only once it is known to be regular.
 */
static int read_etc(int rootfs_fd, const char *path, char **ret, Error **reterr) {
        struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
        _cleanup_close_ int handle = (int)syscall(SYS_openat2, rootfs_fd, path, &how, sizeof(how));
        struct stat st;
        if (handle < 0 || fstat(handle, &st) < 0) {
                *ret = xstrdup("");
                return 0;
        }
        if (!S_ISREG(st.st_mode))
                return error_set(reterr, EINVAL, "image: %s is %s, not a regular file", path,
                                 file_kind(st.st_mode));
        _cleanup_free_ char *reopen = xasprintf("/proc/self/fd/%d", handle);
        _cleanup_close_ int fd = open(reopen, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return error_set(reterr, errno, "image: cannot read %s: %m", path);
        char *buf = xmalloc(ETC_FILE_MAX + 1);
        size_t len = 0;
        ssize_t n;
        while (len < ETC_FILE_MAX && (n = read(fd, buf + len, ETC_FILE_MAX - len)) > 0)
                len += (size_t)n;
        buf[len] = 0;
        *ret = buf;
        return 0;
}

/* The user and group parts of the request, before the passwd lookup. */
static void split_user(const UserRequest *req, char **ret_user, char **ret_group) {
        if (req->run_as_user >= 0)
                *ret_user = xasprintf("%lld", (long long)req->run_as_user);
        else if (!isempty(req->run_as_username))
                *ret_user = xstrdup(req->run_as_username);
        else if (!isempty(req->image_user)) {
                const char *colon = strchr(req->image_user, ':');
                *ret_user = xstrndup(req->image_user,
                                     colon ? (size_t)(colon - req->image_user) : strlen(req->image_user));
                if (colon)
                        *ret_group = xstrdup(colon + 1);
        } else
                *ret_user = xstrdup("0");
}

int user_resolve(int rootfs_fd, const UserRequest *req, ResolvedUser *ret, Error **reterr) {
        _cleanup_free_ char *user = NULL, *group = NULL, *name = NULL;
        split_user(req, &user, &group);
        _cleanup_free_ char *passwd = NULL, *groups = NULL;
        int r = read_etc(rootfs_fd, "/etc/passwd", &passwd, reterr);
        if (r >= 0)
                r = read_etc(rootfs_fd, "/etc/group", &groups, reterr);
        if (r < 0)
                return r;
        ResolvedUser u = {.gid = 0};
        int64_t id = parse_id(user);
        if (id >= 0) {
                u.uid = id;
                if (passwd_find(passwd, NULL, id, &name, &u.uid, &u.gid) < 0)
                        u.gid = 0; /* a numeric user need not exist in the image */
        } else if (passwd_find(passwd, user, 0, &name, &u.uid, &u.gid) < 0)
                return error_set(reterr, EINVAL, "%s: user '%s' is not in the image's /etc/passwd",
                                 req->run_as_username && *req->run_as_username ? "run_as_username"
                                                                               : "image user",
                                 user);
        if (group) {
                int64_t g = parse_id(group);
                if (g < 0 && group_find(groups, group, &g) < 0)
                        return error_set(reterr, EINVAL,
                                         "image user: group '%s' is not in the image's /etc/group", group);
                u.gid = g;
        }
        if (req->run_as_group >= 0)
                u.gid = req->run_as_group;
        if (name)
                u.n_groups = group_memberships(groups, name, &u.groups, 0);
        for (size_t i = 0; i < req->n_supplemental; i++) {
                u.groups = xrealloc(u.groups, (u.n_groups + 1) * sizeof(int64_t));
                u.groups[u.n_groups++] = req->supplemental[i];
        }
        *ret = u;
        return 0;
}
