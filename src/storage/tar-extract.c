/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "tar-extract.h"
#include "tar-reader.h"

#define READ_BLOCK_SIZE (128 * 1024)
/* Directory mtimes wait for the end; past this much bookkeeping the rest keep the extraction time. */
#define DIR_TIMES_MAX_BYTES (1024 * 1024)

#define WHITEOUT_PREFIX ".wh."
#define WHITEOUT_META_PREFIX ".wh..wh."
#define WHITEOUT_OPAQUE ".wh..wh..opq"
#define OVERLAY_OPAQUE_XATTR "trusted.overlay.opaque"

typedef struct DirTime {
        char *path;
        struct timespec times[2];
} DirTime;

typedef struct Extract {
        int root_fd;
        TarReadFn read;
        void *read_userdata;
        Digester *digest; /* of everything read; NULL: none */
        TarReader *reader;
        const atomic_bool *cancel;
        DirTime *dir_times;
        size_t n_dir_times, n_allocated, dir_times_bytes;
} Extract;

/* One archive entry's names, in the forms the steps below need. */
typedef struct Entry {
        const TarEntry *e;
        const char *name; /* as in the archive, for messages */
        char *path;       /* normalised: no "." or empty components; "" is the layer root */
        char *parent;     /* path without its last component */
        const char *base; /* last component of path */
} Entry;

/* A hard link's target, held open while the link is made. */
typedef struct LinkTarget {
        int fd; /* O_PATH */
        bool is_symlink;
} LinkTarget;

typedef struct Node {
        mode_t mode;
        dev_t rdev;
} Node;

static bool startswith(const char *s, const char *prefix) {
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static bool cancelled(const Extract *x) {
        return x->cancel && atomic_load(x->cancel);
}

/* Open `path` below `dir_fd` without following any symlink, magic or not; "" is dir_fd itself. */
static int open_beneath(int dir_fd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t)(flags | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        long fd = syscall(SYS_openat2, dir_fd, *path ? path : ".", &how, sizeof(how));
        return fd < 0 ? -errno : (int)fd;
}

/*
 * Drop "." and empty components. Absolute paths and ".." are refused outright rather than
 * resolved: an image has no business naming either, and openat2 stays a second line of defence.
 */
static int normalize_path(const char *name, char **ret) {
        if (name[0] == '/')
                return -EPERM;

        _cleanup_free_ char *out = xmalloc(strlen(name) + 1);
        size_t n = 0;
        for (const char *p = name; *p;) {
                size_t len = strcspn(p, "/");
                if (len == 2 && p[0] == '.' && p[1] == '.')
                        return -EPERM;
                if (len > 0 && !(len == 1 && p[0] == '.')) {
                        if (n > 0)
                                out[n++] = '/';
                        memcpy(out + n, p, len);
                        n += len;
                }
                p += len;
                p += *p == '/';
        }
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

static int entry_init(Entry *en, const TarEntry *e, Error **reterr) {
        en->e = e;
        en->name = e->path;
        if (!*en->name)
                return error_set(reterr, EBADMSG, "layer has an entry without a name");
        if (normalize_path(en->name, &en->path) < 0)
                return error_set(reterr, EPERM, "layer entry '%s' escapes the layer", en->name);
        const char *slash = strrchr(en->path, '/');
        en->base = slash ? slash + 1 : en->path;
        en->parent = xstrndup(en->path, slash ? (size_t)(slash - en->path) : 0);
        return 0;
}

static void entry_done(Entry *en) {
        free(en->path);
        free(en->parent);
}

static int open_dir_beneath(int dir_fd, const char *name) {
        return open_beneath(dir_fd, name, O_RDONLY | O_DIRECTORY);
}

/* A parent the archive did not list: 0755 and root-owned, as other runtimes create them. */
static int open_or_make_dir(int dir_fd, const char *name) {
        int fd = open_dir_beneath(dir_fd, name);
        if (fd != -ENOENT)
                return fd;
        if (mkdirat(dir_fd, name, 0755) < 0)
                return errno == EEXIST ? open_dir_beneath(dir_fd, name) : -errno;
        fd = open_dir_beneath(dir_fd, name);
        /* The process umask must not decide the mode. */
        if (fd >= 0 && fchmod(fd, 0755) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* mkdir -p below root_fd, one component at a time so each step gets the same checks. */
static int mkdir_beneath(int root_fd, const char *path) {
        _cleanup_close_ int fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;

        _cleanup_free_ char *copy = xstrdup(path);
        for (char *comp = copy, *next = NULL; comp; comp = next) {
                next = strchr(comp, '/');
                if (next)
                        *next++ = '\0';
                int child = open_or_make_dir(fd, comp);
                if (child < 0)
                        return child;
                close(fd);
                fd = child;
        }
        return TAKE_FD(fd);
}

static int open_parent(const Extract *x, const Entry *en, int *ret_fd, Error **reterr) {
        int fd = open_dir_beneath(x->root_fd, en->parent);
        if (fd == -ENOENT)
                fd = mkdir_beneath(x->root_fd, en->parent);
        /* RESOLVE_NO_SYMLINKS fails with ELOOP on any symlink; EXDEV is RESOLVE_BENEATH's refusal. */
        if (fd == -ELOOP || fd == -EXDEV)
                return error_set(reterr, EPERM, "layer entry '%s' escapes the layer through a symlink",
                                 en->name);
        if (fd < 0)
                return error_set(reterr, -fd, "layer entry '%s': open parent directory: %s", en->name,
                                 strerror(-fd));
        *ret_fd = fd;
        return 0;
}

/*
 * Clear the way for a new entry `name` in `dir_fd`: a later entry replaces an earlier one, as tar
 * does. An existing directory stays when `keep_dir` (returns 1). A non-empty directory is never
 * removed for a non-directory (-ENOTEMPTY): image builders do not produce that, and a recursive
 * removal is not worth its risk here.
 */
static int make_room(int dir_fd, const char *name, bool keep_dir) {
        struct stat st;
        if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISDIR(st.st_mode) && keep_dir)
                return 1;
        if (unlinkat(dir_fd, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
                return -errno;
        return 0;
}

typedef int (*CreateFunc)(int dir_fd, const char *name, const void *arg);

/* Create `name` with `create`, replacing whatever an earlier entry left there. */
static int create_replacing(int dir_fd, const char *name, CreateFunc create, const void *arg) {
        int r = create(dir_fd, name, arg);
        if (r != -EEXIST)
                return r;
        r = make_room(dir_fd, name, false);
        if (r < 0)
                return r;
        return create(dir_fd, name, arg);
}

static int create_file(int dir_fd, const char *name, const void *arg) {
        int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        return fd < 0 ? -errno : fd;
}

static int create_symlink(int dir_fd, const char *name, const void *target) {
        return symlinkat(target, dir_fd, name) < 0 ? -errno : 0;
}

static int create_node(int dir_fd, const char *name, const void *arg) {
        const Node *node = arg;
        return mknodat(dir_fd, name, node->mode, node->rdev) < 0 ? -errno : 0;
}

/*
 * linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; without it, go through the fd's /proc magic link.
 * Not for symlinks: AT_SYMLINK_FOLLOW could then follow the link itself, out of the layer.
 */
static int create_link(int dir_fd, const char *name, const void *arg) {
        const LinkTarget *t = arg;
        if (linkat(t->fd, "", dir_fd, name, AT_EMPTY_PATH) >= 0)
                return 0;
        if (errno != ENOENT || t->is_symlink)
                return -errno;

        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", t->fd);
        return linkat(AT_FDCWD, proc, dir_fd, name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
}

static int entry_owner(const Entry *en, uid_t *ret_uid, gid_t *ret_gid, Error **reterr) {
        int64_t uid = en->e->uid, gid = en->e->gid;
        /* (uid_t) -1 means "leave unchanged" to chown(), so it is no owner either. */
        if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
                return error_set(reterr, EBADMSG,
                                 "layer entry '%s' has an invalid owner %" PRId64 ":%" PRId64, en->name, uid,
                                 gid);
        *ret_uid = (uid_t)uid;
        *ret_gid = (gid_t)gid;
        return 0;
}

static void entry_times(const Entry *en, struct timespec ret[2]) {
        ret[1] = en->e->mtime;
        ret[0] = en->e->has_atime ? en->e->atime : ret[1];
}

static bool xattr_wanted(const char *name) {
        return startswith(name, "user.") || strcmp(name, "security.capability") == 0;
}

static int apply_xattrs(const Entry *en, int fd, Error **reterr) {
        for (size_t i = 0; i < en->e->n_xattrs; i++) {
                const TarXattr *x = &en->e->xattrs[i];
                if (!xattr_wanted(x->name))
                        continue;
                /* A store on a filesystem without xattrs still gets a usable layer, as with containerd. */
                if (fsetxattr(fd, x->name, x->value, x->size, 0) < 0 && errno != EOPNOTSUPP)
                        return error_set(reterr, errno, "layer entry '%s': set xattr %s: %m", en->name,
                                         x->name);
        }
        return 0;
}

/* Owner first: chown() clears setuid/setgid bits and file capabilities, so mode and xattrs follow it. */
static int apply_fd_metadata(const Entry *en, int fd, Error **reterr) {
        uid_t uid = 0;
        gid_t gid = 0;
        int r = entry_owner(en, &uid, &gid, reterr);
        if (r < 0)
                return r;
        if (fchown(fd, uid, gid) < 0)
                return error_set(reterr, errno, "layer entry '%s': chown: %m", en->name);
        if (fchmod(fd, en->e->perm) < 0)
                return error_set(reterr, errno, "layer entry '%s': chmod: %m", en->name);
        return apply_xattrs(en, fd, reterr);
}

/*
 * The same for what cannot be opened for writing (symlinks, devices, fifos), by name in its parent.
 * The kernel refuses user.* xattrs on these, so they get none.
 */
static int apply_name_metadata(const Entry *en, int dir_fd, const char *name, bool is_symlink,
                               Error **reterr) {
        uid_t uid = 0;
        gid_t gid = 0;
        struct timespec ts[2];
        int r = entry_owner(en, &uid, &gid, reterr);
        if (r < 0)
                return r;
        if (fchownat(dir_fd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                return error_set(reterr, errno, "layer entry '%s': chown: %m", en->name);
        /* fchmodat() follows symlinks, and a symlink's own mode means nothing on Linux. */
        if (!is_symlink && fchmodat(dir_fd, name, en->e->perm, 0) < 0)
                return error_set(reterr, errno, "layer entry '%s': chmod: %m", en->name);
        entry_times(en, ts);
        if (utimensat(dir_fd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return error_set(reterr, errno, "layer entry '%s': set times: %m", en->name);
        return 0;
}

static int pwrite_all(int fd, const void *buf, size_t size, int64_t offset) {
        const uint8_t *p = buf;
        while (size > 0) {
                ssize_t n = pwrite(fd, p, size, offset);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                p += n;
                size -= (size_t)n;
                offset += n;
        }
        return 0;
}

/*
 * A big file's data starts going to disk while the rest of the layer still arrives. The layer is
 * synced before its row commits (store.c); without this, all of its data would be written out only
 * then, after the last byte (docs/benchmarks.md has the numbers). Small files are left to that sync,
 * which writes them out together.
 */
#define WRITEBACK_CHUNK (4LL << 20)
#define WRITEBACK_AT_CLOSE (256LL << 10)

static void start_writeback(int fd, int64_t from, int64_t to) {
        if (to > from)
                (void)sync_file_range(fd, from, to - from, SYNC_FILE_RANGE_WRITE);
}

/* Pieces arrive with their offsets, so holes of sparse files stay holes rather than written zeros. */
static int write_data(const Extract *x, const Entry *en, int fd, Error **reterr) {
        int64_t end = 0, written_out = 0;
        for (;;) {
                const void *buf;
                int64_t offset;
                ssize_t n = tar_reader_data(x->reader, &buf, &offset, reterr);
                if (n < 0)
                        return error_prefix(reterr, "layer entry '%s'", en->name);
                if (n == 0)
                        break;
                if (cancelled(x))
                        return error_set(reterr, ECANCELED, "layer extraction cancelled");
                int r = pwrite_all(fd, buf, (size_t)n, offset);
                if (r < 0)
                        return error_set(reterr, -r, "layer entry '%s': write: %s", en->name, strerror(-r));
                end = offset + n;
                if (end - written_out >= WRITEBACK_CHUNK) {
                        start_writeback(fd, written_out, end);
                        written_out = end;
                }
        }
        /*
         * A file of a few hundred KiB is written out as it is closed too: layers of many such files
         * otherwise leave all their data to the layer's sync, which then waits for the disk.
         */
        if (written_out > 0 || end >= WRITEBACK_AT_CLOSE)
                start_writeback(fd, written_out, end);
        /* A sparse file may end in a hole that no piece covers. */
        if (en->e->size > end && ftruncate(fd, en->e->size) < 0)
                return error_set(reterr, errno, "layer entry '%s': set size: %m", en->name);
        return 0;
}

static int extract_file(const Extract *x, const Entry *en, int dir_fd, Error **reterr) {
        struct timespec ts[2];
        _cleanup_close_ int fd = create_replacing(dir_fd, en->base, create_file, NULL);
        if (fd < 0)
                return error_set(reterr, -fd, "layer entry '%s': create file: %s", en->name, strerror(-fd));

        int r = write_data(x, en, fd, reterr);
        if (r < 0)
                return r;
        r = apply_fd_metadata(en, fd, reterr);
        if (r < 0)
                return r;
        entry_times(en, ts);
        if (futimens(fd, ts) < 0)
                return error_set(reterr, errno, "layer entry '%s': set times: %m", en->name);
        return 0;
}

/* Directory mtimes change as entries appear inside, so they are set at the end, within a budget. */
static void record_dir_time(Extract *x, const Entry *en) {
        size_t need = sizeof(DirTime) + strlen(en->path) + 1;
        if (x->dir_times_bytes + need > DIR_TIMES_MAX_BYTES)
                return;
        if (x->n_dir_times == x->n_allocated) {
                x->n_allocated = x->n_allocated ? 2 * x->n_allocated : 64;
                x->dir_times = xrealloc(x->dir_times, x->n_allocated * sizeof(DirTime));
        }
        DirTime *d = &x->dir_times[x->n_dir_times++];
        d->path = xstrdup(en->path);
        entry_times(en, d->times);
        x->dir_times_bytes += need;
}

/* Best effort: a directory a later entry replaced or removed is simply skipped. */
static void apply_dir_times(const Extract *x) {
        for (size_t i = 0; i < x->n_dir_times; i++) {
                _cleanup_close_ int fd = open_dir_beneath(x->root_fd, x->dir_times[i].path);
                if (fd >= 0)
                        (void)futimens(fd, x->dir_times[i].times);
        }
}

static int make_dir(int dir_fd, const char *name) {
        if (mkdirat(dir_fd, name, 0700) >= 0)
                return 0;
        if (errno != EEXIST)
                return -errno;
        int r = make_room(dir_fd, name, true);
        if (r != 0)
                return r > 0 ? 0 : r;
        return mkdirat(dir_fd, name, 0700) < 0 ? -errno : 0;
}

/* "" (the layer root itself, listed as "./") only gets its metadata. */
static int extract_dir(Extract *x, const Entry *en, int dir_fd, Error **reterr) {
        int r = *en->base ? make_dir(dir_fd, en->base) : 0;
        if (r < 0)
                return error_set(reterr, -r, "layer entry '%s': create directory: %s", en->name,
                                 strerror(-r));

        _cleanup_close_ int fd = open_dir_beneath(dir_fd, en->base);
        if (fd < 0)
                return error_set(reterr, -fd, "layer entry '%s': open directory: %s", en->name,
                                 strerror(-fd));
        r = apply_fd_metadata(en, fd, reterr);
        if (r < 0)
                return r;
        record_dir_time(x, en);
        return 0;
}

/* The target is not checked: it is only ever followed inside the container's root. */
static int extract_symlink(const Entry *en, int dir_fd, Error **reterr) {
        const char *target = en->e->link_target;
        if (!*target)
                return error_set(reterr, EBADMSG, "layer entry '%s' is a symlink without a target",
                                 en->name);
        int r = create_replacing(dir_fd, en->base, create_symlink, target);
        if (r < 0)
                return error_set(reterr, -r, "layer entry '%s': create symlink: %s", en->name, strerror(-r));
        return apply_name_metadata(en, dir_fd, en->base, true, reterr);
}

static int extract_node(const Entry *en, int dir_fd, mode_t type, Error **reterr) {
        Node node = {
                .mode = type | en->e->perm,
                .rdev = type == S_IFIFO ? 0 : makedev(en->e->dev_major, en->e->dev_minor),
        };
        int r = create_replacing(dir_fd, en->base, create_node, &node);
        if (r < 0)
                return error_set(reterr, -r, "layer entry '%s': create node: %s", en->name, strerror(-r));
        return apply_name_metadata(en, dir_fd, en->base, false, reterr);
}

static int open_link_target(const Extract *x, const Entry *en, const char *target, LinkTarget *ret,
                            Error **reterr) {
        _cleanup_free_ char *path = NULL;
        struct stat st;

        if (normalize_path(target, &path) < 0 || !*path)
                return error_set(reterr, EPERM, "layer entry '%s' links to '%s' outside the layer", en->name,
                                 target);
        /* O_PATH|O_NOFOLLOW: a link to a symlink links the symlink; symlinks on the way fail. */
        int fd = open_beneath(x->root_fd, path, O_PATH | O_NOFOLLOW);
        if (fd == -ELOOP || fd == -EXDEV)
                return error_set(reterr, EPERM, "layer entry '%s' links to '%s' through a symlink", en->name,
                                 target);
        if (fd == -ENOENT || fd == -ENOTDIR)
                return error_set(reterr, EBADMSG,
                                 "layer entry '%s' links to '%s', which is not in the layer", en->name,
                                 target);
        if (fd < 0)
                return error_set(reterr, -fd, "layer entry '%s': open link target '%s': %s", en->name,
                                 target, strerror(-fd));
        if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
                close(fd);
                return error_set(reterr, EBADMSG, "layer entry '%s' links to directory '%s'", en->name,
                                 target);
        }
        *ret = (LinkTarget){.fd = fd, .is_symlink = S_ISLNK(st.st_mode)};
        return 0;
}

/* A hard link shares its target's inode and metadata, so it gets none of its own. */
static int extract_hardlink(const Extract *x, const Entry *en, int dir_fd, Error **reterr) {
        const char *target = en->e->link_target;
        LinkTarget t = {.fd = -EBADF};
        int r = open_link_target(x, en, target, &t, reterr);
        if (r < 0)
                return r;
        _cleanup_close_ int fd = t.fd;

        struct stat a, b;
        /* A link to itself (some tar writers emit one) would unlink the only name first. */
        if (fstatat(dir_fd, en->base, &a, AT_SYMLINK_NOFOLLOW) >= 0 && fstat(fd, &b) >= 0 &&
            a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                return 0;
        r = create_replacing(dir_fd, en->base, create_link, &t);
        if (r < 0)
                return error_set(reterr, -r, "layer entry '%s': link to '%s': %s", en->name, target,
                                 strerror(-r));
        return 0;
}

static int extract_whiteout(const Entry *en, int dir_fd, Error **reterr) {
        if (strcmp(en->base, WHITEOUT_OPAQUE) == 0) {
                if (fsetxattr(dir_fd, OVERLAY_OPAQUE_XATTR, "y", 1, 0) < 0)
                        return error_set(reterr, errno, "layer entry '%s': mark directory opaque: %m",
                                         en->name);
                return 0;
        }
        /* aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs) has no overlay counterpart. */
        if (startswith(en->base, WHITEOUT_META_PREFIX))
                return 0;

        const char *name = en->base + strlen(WHITEOUT_PREFIX);
        if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
                return error_set(reterr, EBADMSG, "layer entry '%s' is an invalid whiteout", en->name);
        Node node = {.mode = S_IFCHR, .rdev = makedev(0, 0)};
        int r = create_replacing(dir_fd, name, create_node, &node);
        if (r < 0)
                return error_set(reterr, -r, "layer entry '%s': create whiteout: %s", en->name,
                                 strerror(-r));
        return 0;
}

static int extract_entry(Extract *x, const TarEntry *e, Error **reterr) {
        _cleanup_(entry_done) Entry en = {};
        _cleanup_close_ int dir_fd = -EBADF;
        int r = entry_init(&en, e, reterr);
        if (r >= 0)
                r = open_parent(x, &en, &dir_fd, reterr);
        if (r < 0)
                return r;

        if (!*en.path && e->type != TAR_DIR)
                return error_set(reterr, EBADMSG, "layer entry '%s' would replace the layer root", en.name);
        if (startswith(en.base, WHITEOUT_PREFIX))
                return extract_whiteout(&en, dir_fd, reterr);

        switch (e->type) {
        case TAR_FILE:
                return extract_file(x, &en, dir_fd, reterr);
        case TAR_HARDLINK:
                return extract_hardlink(x, &en, dir_fd, reterr);
        case TAR_DIR:
                return extract_dir(x, &en, dir_fd, reterr);
        case TAR_SYMLINK:
                return extract_symlink(&en, dir_fd, reterr);
        case TAR_CHAR:
                return extract_node(&en, dir_fd, S_IFCHR, reterr);
        case TAR_BLOCK:
                return extract_node(&en, dir_fd, S_IFBLK, reterr);
        case TAR_FIFO:
                return extract_node(&en, dir_fd, S_IFIFO, reterr);
        }
        return error_set(reterr, EBADMSG, "layer entry '%s' has an unsupported type", en.name);
}

static void extract_done(Extract *x) {
        tar_reader_free(x->reader);
        for (size_t i = 0; i < x->n_dir_times; i++)
                free(x->dir_times[i].path);
        free(x->dir_times);
}

int tar_extract(int root_fd, int input_fd, const atomic_bool *cancel, Error **reterr) {
        return tar_extract_limited(root_fd, input_fd, 0, cancel, reterr);
}

int tar_extract_limited(int root_fd, int input_fd, int64_t max_entries, const atomic_bool *cancel,
                        Error **reterr) {
        return tar_extract_digesting(root_fd, input_fd, max_entries, NULL, cancel, reterr);
}

typedef struct FdReader {
        int fd;
        uint8_t *buf;
} FdReader;

static ssize_t read_fd(void *userdata, const void **ret_buf) {
        FdReader *f = userdata;
        ssize_t n;
        do
                n = read(f->fd, f->buf, READ_BLOCK_SIZE);
        while (n < 0 && errno == EINTR);
        *ret_buf = f->buf;
        return n < 0 ? -errno : n;
}

int tar_extract_digesting(int root_fd, int input_fd, int64_t max_entries, Digester *digest,
                          const atomic_bool *cancel, Error **reterr) {
        FdReader f = {.fd = input_fd, .buf = xmalloc(READ_BLOCK_SIZE)};
        int r = tar_extract_stream(root_fd, read_fd, &f, max_entries, digest, cancel, reterr);
        free(f.buf);
        return r;
}

/* The reader's input: the next block from the caller's reader, digested on its way. */
static ssize_t read_digesting(void *userdata, const void **ret_buf) {
        Extract *x = userdata;
        ssize_t n = x->read(x->read_userdata, ret_buf);
        if (x->digest && n > 0)
                digester_update(x->digest, *ret_buf, (size_t)n);
        return n;
}

int tar_extract_stream(int root_fd, TarReadFn read, void *read_userdata, int64_t max_entries,
                       Digester *digest, const atomic_bool *cancel, Error **reterr) {
        _cleanup_(extract_done) Extract x = {.root_fd = root_fd,
                                             .read = read,
                                             .read_userdata = read_userdata,
                                             .digest = digest,
                                             .cancel = cancel};
        x.reader = tar_reader_new(read_digesting, &x);

        for (int64_t n = 0;; n++) {
                const TarEntry *e = NULL;
                if (cancelled(&x))
                        return error_set(reterr, ECANCELED, "layer extraction cancelled");
                int r = tar_reader_next(x.reader, &e, reterr);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (max_entries > 0 && n >= max_entries)
                        return error_set(reterr, EFBIG,
                                         "layer has more than %" PRId64
                                         " entries (crio.image.max_layer_entries)",
                                         max_entries);
                r = extract_entry(&x, e, reterr);
                if (r < 0)
                        return r;
        }
        apply_dir_times(&x);
        return 0;
}
