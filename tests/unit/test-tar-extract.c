/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <locale.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "fs-util.h"
#include "tar-extract.h"

/* One archive entry to write; zero fields take the defaults of build_tar(). */
typedef struct TestEntry {
        const char *path;
        mode_t mode; /* type and permissions; 0 for a hard link */
        const char *data;
        const char *symlink;
        const char *hardlink;
        int64_t uid, gid;
        unsigned rmajor, rminor;
        time_t mtime;
        long mtime_nsec;
        const char *xattr_name;
        const void *xattr_value;
        size_t xattr_size;
} TestEntry;

typedef struct Buffer {
        char *data;
        size_t len, cap;
} Buffer;

static ssize_t buffer_write(struct archive *a, void *userdata, const void *data, size_t len) {
        Buffer *b = userdata;
        if (b->len + len > b->cap) {
                b->cap = (b->len + len) * 2;
                b->data = xrealloc(b->data, b->cap);
        }
        memcpy(b->data + b->len, data, len);
        b->len += len;
        return (ssize_t)len;
}

static void add_entry(struct archive *a, const TestEntry *t) {
        struct archive_entry *e = archive_entry_new();
        size_t size = t->data ? strlen(t->data) : 0;

        archive_entry_set_pathname(e, t->path);
        archive_entry_set_mode(e, t->hardlink ? (S_IFREG | 0644) : t->mode);
        archive_entry_set_uid(e, t->uid);
        archive_entry_set_gid(e, t->gid);
        archive_entry_set_mtime(e, t->mtime ? t->mtime : 1600000000, t->mtime_nsec);
        if (t->symlink)
                archive_entry_set_symlink(e, t->symlink);
        if (t->hardlink)
                archive_entry_set_hardlink(e, t->hardlink);
        archive_entry_set_rdevmajor(e, t->rmajor);
        archive_entry_set_rdevminor(e, t->rminor);
        if (t->xattr_name)
                archive_entry_xattr_add_entry(e, t->xattr_name, t->xattr_value, t->xattr_size);
        archive_entry_set_size(e, size);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (size > 0)
                assert_int_equal(archive_write_data(a, t->data, size), (ssize_t)size);
        archive_entry_free(e);
}

/* A pax tar of `entries` (ended by a NULL path), as image builders write them. */
static Buffer build_tar(const TestEntry *entries) {
        Buffer b = {};
        struct archive *a = archive_write_new();
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open(a, &b, NULL, buffer_write, NULL), ARCHIVE_OK);
        for (const TestEntry *t = entries; t->path; t++)
                add_entry(a, t);
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        return b;
}

/* A scratch directory: root/ is extracted into; canary/ must stay empty; outside/secret must stay alone. */
typedef struct Fixture {
        char base[64];
        char root[96], canary[96], outside[96], secret[96];
        int root_fd;
} Fixture;

static int setup(void **state) {
        Fixture *f = xcalloc(1, sizeof(*f));
        snprintf(f->base, sizeof(f->base), "/tmp/test-tar-extract.XXXXXX");
        assert_non_null(mkdtemp(f->base));
        snprintf(f->root, sizeof(f->root), "%s/root", f->base);
        snprintf(f->canary, sizeof(f->canary), "%s/canary", f->base);
        snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
        snprintf(f->secret, sizeof(f->secret), "%s/outside/secret", f->base);
        assert_int_equal(mkdir(f->root, 0755), 0);
        assert_int_equal(mkdir(f->canary, 0755), 0);
        assert_int_equal(mkdir(f->outside, 0755), 0);
        int fd = open(f->secret, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "secret", 6), 6);
        close(fd);
        f->root_fd = open(f->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(f->root_fd >= 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        close(f->root_fd);
        assert_int_equal(rm_rf(f->base), 0);
        free(f);
        return 0;
}

static int extract_bytes(Fixture *f, const void *data, size_t len, const atomic_bool *cancel,
                         Error **reterr) {
        _cleanup_close_ int fd = memfd_create("tar", MFD_CLOEXEC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, data, len), (ssize_t)len);
        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        return tar_extract(f->root_fd, fd, cancel, reterr);
}

static int extract(Fixture *f, const TestEntry *entries, Error **reterr) {
        Buffer b = build_tar(entries);
        int r = extract_bytes(f, b.data, b.len, NULL, reterr);
        free(b.data);
        return r;
}

static void extract_ok(Fixture *f, const TestEntry *entries) {
        _cleanup_error_ Error *e = NULL;
        int r = extract(f, entries, &e);
        if (r < 0)
                print_error("extract failed: %s\n", e->message);
        assert_int_equal(r, 0);
        assert_null(e);
}

static struct stat stat_in_root(Fixture *f, const char *path) {
        struct stat st;
        if (fstatat(f->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                print_error("%s: %m\n", path);
        assert_int_equal(fstatat(f->root_fd, path, &st, AT_SYMLINK_NOFOLLOW), 0);
        return st;
}

static void assert_entry(Fixture *f, const char *path, mode_t mode, uid_t uid, gid_t gid) {
        struct stat st = stat_in_root(f, path);
        if (st.st_mode != mode)
                print_error("%s: mode %o, expected %o\n", path, st.st_mode, mode);
        assert_int_equal(st.st_mode, mode);
        assert_int_equal(st.st_uid, uid);
        assert_int_equal(st.st_gid, gid);
}

static void assert_missing(Fixture *f, const char *path) {
        struct stat st;
        assert_int_equal(fstatat(f->root_fd, path, &st, AT_SYMLINK_NOFOLLOW), -1);
        assert_int_equal(errno, ENOENT);
}

static void assert_content(Fixture *f, const char *path, const char *expect) {
        char buf[4096];
        _cleanup_close_ int fd = openat(f->root_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        assert_true(fd >= 0);
        ssize_t n = read(fd, buf, sizeof(buf));
        assert_int_equal(n, (ssize_t)strlen(expect));
        assert_memory_equal(buf, expect, (size_t)n);
}

static size_t count_entries(const char *dir) {
        DIR *d = opendir(dir);
        assert_non_null(d);
        size_t n = 0;
        for (struct dirent *de; (de = readdir(d));)
                n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
        closedir(d);
        return n;
}

/* Nothing landed next to the root, and nothing outside gained a link. */
static void assert_contained(Fixture *f) {
        assert_int_equal(count_entries(f->canary), 0);
        assert_int_equal(count_entries(f->outside), 1);
        assert_int_equal(count_entries(f->base), 3);
        struct stat st;
        assert_int_equal(stat(f->secret, &st), 0);
        assert_int_equal(st.st_nlink, 1);
        assert_int_equal(st.st_size, 6);
}

static void test_regular_files(void **state) {
        Fixture *f = *state;
        const TestEntry entries[] = {
                {.path = "plain", .mode = S_IFREG | 0644, .data = "hello\n"},
                {.path = "suid", .mode = S_IFREG | 04755, .data = "#!/bin/sh\n", .uid = 1234, .gid = 5678},
                {.path = "sgid", .mode = S_IFREG | 02711, .data = "x", .uid = 0, .gid = 42},
                {.path = "empty", .mode = S_IFREG | 0400},
                {.path = "./dotted", .mode = S_IFREG | 0600, .data = "d", .mtime = 1000000000},
                {},
        };
        extract_ok(f, entries);
        assert_entry(f, "plain", S_IFREG | 0644, 0, 0);
        assert_content(f, "plain", "hello\n");
        /* setuid survives the chown because the mode is set after it. */
        assert_entry(f, "suid", S_IFREG | 04755, 1234, 5678);
        assert_entry(f, "sgid", S_IFREG | 02711, 0, 42);
        assert_entry(f, "empty", S_IFREG | 0400, 0, 0);
        assert_content(f, "empty", "");
        assert_entry(f, "dotted", S_IFREG | 0600, 0, 0);
        assert_int_equal(stat_in_root(f, "dotted").st_mtim.tv_sec, 1000000000);
        assert_int_equal(stat_in_root(f, "plain").st_mtim.tv_sec, 1600000000);
}

static void test_large_file(void **state) {
        Fixture *f = *state;
        const size_t len = 3 * 1024 * 1024 + 3;
        _cleanup_free_ char *data = xmalloc(len + 1);
        for (size_t i = 0; i < len; i++)
                data[i] = (char)('a' + (i * 7919) % 26);
        data[len] = '\0';
        const TestEntry entries[] = {{.path = "big", .mode = S_IFREG | 0644, .data = data}, {}};
        extract_ok(f, entries);

        _cleanup_free_ char *back = xmalloc(len);
        _cleanup_close_ int fd = openat(f->root_fd, "big", O_RDONLY | O_CLOEXEC);
        size_t got = 0;
        for (ssize_t n; got < len && (n = read(fd, back + got, len - got)) > 0;)
                got += (size_t)n;
        assert_int_equal(got, len);
        assert_memory_equal(back, data, len);
}

/* A sparse file (pax 1.0, as libarchive and GNU tar --posix write it) keeps its holes. */
static void test_sparse_file(void **state) {
        Fixture *f = *state;
        const size_t size = 8 << 20;
        _cleanup_free_ char *data = xcalloc(1, size);
        memcpy(data + 4096, "abc", 3);
        memcpy(data + (6 << 20), "def", 3);
        Buffer b = {};
        struct archive *a = archive_write_new();
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open(a, &b, NULL, buffer_write, NULL), ARCHIVE_OK);
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, "sparse");
        archive_entry_set_mode(e, S_IFREG | 0644);
        archive_entry_set_size(e, (int64_t)size);
        archive_entry_sparse_add_entry(e, 4096, 3);
        archive_entry_sparse_add_entry(e, 6 << 20, 3);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        assert_int_equal(archive_write_data(a, data, size), (ssize_t)size);
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        archive_entry_free(e);
        assert_true(b.len < 64 << 10); /* the holes are not in the archive */

        assert_int_equal(extract_bytes(f, b.data, b.len, NULL, NULL), 0);
        free(b.data);
        _cleanup_close_ int fd = openat(f->root_fd, "sparse", O_RDONLY | O_CLOEXEC);
        struct stat st;
        assert_int_equal(fstat(fd, &st), 0);
        assert_int_equal(st.st_size, size);
        assert_true(st.st_blocks * 512 < 1 << 20); /* nor on disk */
        _cleanup_free_ char *back = xmalloc(size);
        assert_int_equal(pread(fd, back, size, 0), (ssize_t)size);
        assert_memory_equal(back, data, size);
}

static void test_directories(void **state) {
        Fixture *f = *state;
        const TestEntry entries[] = {
                {.path = "./", .mode = S_IFDIR | 0750, .uid = 7, .gid = 8, .mtime = 1500000000},
                {.path = "d/", .mode = S_IFDIR | 0711, .uid = 1000, .gid = 1000, .mtime = 1400000000},
                {.path = "d/f", .mode = S_IFREG | 0644, .data = "in d"},
                {.path = "tmp", .mode = S_IFDIR | 01777},
                {.path = "implicit/deep/file", .mode = S_IFREG | 0644, .data = "x"},
                /* Listed twice: the directory stays (with its content), the metadata is the later one. */
                {.path = "d", .mode = S_IFDIR | 0755, .uid = 1, .gid = 2, .mtime = 1300000000},
                {},
        };
        mode_t old = umask(077);
        extract_ok(f, entries);
        umask(old);
        assert_entry(f, ".", S_IFDIR | 0750, 7, 8);
        assert_entry(f, "d", S_IFDIR | 0755, 1, 2);
        assert_content(f, "d/f", "in d");
        assert_entry(f, "tmp", S_IFDIR | 01777, 0, 0);
        /* Parents the archive did not list: 0755 whatever the umask. */
        assert_entry(f, "implicit", S_IFDIR | 0755, 0, 0);
        assert_entry(f, "implicit/deep", S_IFDIR | 0755, 0, 0);
        /* Directory mtimes are set after their content was created. */
        assert_int_equal(stat_in_root(f, "d").st_mtim.tv_sec, 1300000000);
        assert_int_equal(stat_in_root(f, ".").st_mtim.tv_sec, 1500000000);
}

static void test_symlinks(void **state) {
        Fixture *f = *state;
        const TestEntry entries[] = {
                {.path = "abs",
                 .mode = S_IFLNK | 0777,
                 .symlink = "/etc/passwd",
                 .uid = 5,
                 .gid = 6,
                 .mtime = 1234567890},
                {.path = "rel", .mode = S_IFLNK | 0777, .symlink = "../../up/and/away"},
                {.path = "dangling", .mode = S_IFLNK | 0777, .symlink = "nowhere"},
                {},
        };
        extract_ok(f, entries);
        char buf[256];
        ssize_t n = readlinkat(f->root_fd, "abs", buf, sizeof(buf));
        assert_int_equal(n, 11);
        assert_memory_equal(buf, "/etc/passwd", 11);
        n = readlinkat(f->root_fd, "rel", buf, sizeof(buf));
        assert_memory_equal(buf, "../../up/and/away", (size_t)n);
        struct stat st = stat_in_root(f, "abs");
        assert_true(S_ISLNK(st.st_mode));
        assert_int_equal(st.st_uid, 5);
        assert_int_equal(st.st_gid, 6);
        assert_int_equal(st.st_mtim.tv_sec, 1234567890);
        assert_true(S_ISLNK(stat_in_root(f, "dangling").st_mode));
}

static void test_hardlinks(void **state) {
        Fixture *f = *state;
        const TestEntry entries[] = {
                {.path = "bin/busybox", .mode = S_IFREG | 0755, .data = "ELF"},
                {.path = "bin/sh", .hardlink = "bin/busybox"},
                {.path = "usr/bin/env", .hardlink = "./bin/busybox"},
                {.path = "link", .mode = S_IFLNK | 0777, .symlink = "/nonexistent"},
                {.path = "link2", .hardlink = "link"},
                /* A link to itself is what it is already. */
                {.path = "bin/sh", .hardlink = "bin/sh"},
                {},
        };
        extract_ok(f, entries);
        struct stat a = stat_in_root(f, "bin/busybox"), b = stat_in_root(f, "bin/sh"),
                    c = stat_in_root(f, "usr/bin/env");
        assert_int_equal(a.st_ino, b.st_ino);
        assert_int_equal(a.st_ino, c.st_ino);
        assert_int_equal(a.st_nlink, 3);
        /* A hard link to a symlink links the symlink itself, not what it points to. */
        struct stat l = stat_in_root(f, "link"), l2 = stat_in_root(f, "link2");
        assert_true(S_ISLNK(l2.st_mode));
        assert_int_equal(l.st_ino, l2.st_ino);
}

static void test_devices_and_fifos(void **state) {
        Fixture *f = *state;
        const TestEntry entries[] = {
                {.path = "dev/null", .mode = S_IFCHR | 0666, .rmajor = 1, .rminor = 3},
                {.path = "dev/loop0", .mode = S_IFBLK | 0660, .rmajor = 7, .rminor = 0, .gid = 6},
                {.path = "run/fifo", .mode = S_IFIFO | 0620, .uid = 33, .gid = 33, .mtime = 1111111111},
                {},
        };
        mode_t old = umask(022);
        extract_ok(f, entries);
        umask(old);
        assert_entry(f, "dev/null", S_IFCHR | 0666, 0, 0);
        assert_int_equal(stat_in_root(f, "dev/null").st_rdev, makedev(1, 3));
        assert_entry(f, "dev/loop0", S_IFBLK | 0660, 0, 6);
        assert_int_equal(stat_in_root(f, "dev/loop0").st_rdev, makedev(7, 0));
        assert_entry(f, "run/fifo", S_IFIFO | 0620, 33, 33);
        assert_int_equal(stat_in_root(f, "run/fifo").st_mtim.tv_sec, 1111111111);
}

static ssize_t xattr_in_root(Fixture *f, const char *path, const char *name, void *buf, size_t size) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", f->root, path);
        return lgetxattr(p, name, buf, size);
}

static void test_xattrs(void **state) {
        Fixture *f = *state;
        /* VFS_CAP_REVISION_2 with CAP_NET_RAW (13) permitted and effective, as `setcap cap_net_raw+ep`. */
        static const uint8_t cap[20] = {0x01, 0x00, 0x00, 0x02, 0x00, 0x20};
        const TestEntry entries[] = {
                {.path = "f",
                 .mode = S_IFREG | 0644,
                 .data = "x",
                 .xattr_name = "user.comment",
                 .xattr_value = "hi",
                 .xattr_size = 2},
                {.path = "d",
                 .mode = S_IFDIR | 0755,
                 .xattr_name = "user.dir",
                 .xattr_value = "v",
                 .xattr_size = 1},
                /* Owned by a user: file capabilities must survive the chown. */
                {.path = "ping",
                 .mode = S_IFREG | 0755,
                 .data = "ELF",
                 .uid = 1000,
                 .gid = 1000,
                 .xattr_name = "security.capability",
                 .xattr_value = cap,
                 .xattr_size = sizeof(cap)},
                {},
        };
        extract_ok(f, entries);
        char buf[64];
        assert_int_equal(xattr_in_root(f, "f", "user.comment", buf, sizeof(buf)), 2);
        assert_memory_equal(buf, "hi", 2);
        assert_int_equal(xattr_in_root(f, "d", "user.dir", buf, sizeof(buf)), 1);
        assert_int_equal(xattr_in_root(f, "ping", "security.capability", buf, sizeof(buf)), sizeof(cap));
        assert_memory_equal(buf, cap, sizeof(cap));
        assert_entry(f, "ping", S_IFREG | 0755, 1000, 1000);
}

/* An image does not get to set overlay's own attributes, nor labels the runtime assigns. */
static void test_xattrs_dropped(void **state) {
        Fixture *f = *state;
        const TestEntry entries[] = {
                {.path = "t",
                 .mode = S_IFREG | 0644,
                 .data = "x",
                 .xattr_name = "trusted.overlay.opaque",
                 .xattr_value = "y",
                 .xattr_size = 1},
                {.path = "o",
                 .mode = S_IFDIR | 0755,
                 .xattr_name = "trusted.overlay.redirect",
                 .xattr_value = "/etc",
                 .xattr_size = 4},
                {.path = "l",
                 .mode = S_IFREG | 0644,
                 .xattr_name = "security.selinux",
                 .xattr_value = "system_u:object_r:etc_t:s0",
                 .xattr_size = 26},
                {},
        };
        extract_ok(f, entries);
        char buf[64];
        assert_int_equal(xattr_in_root(f, "t", "trusted.overlay.opaque", buf, sizeof(buf)), -1);
        assert_int_equal(errno, ENODATA);
        assert_int_equal(xattr_in_root(f, "o", "trusted.overlay.redirect", buf, sizeof(buf)), -1);
        assert_int_equal(errno, ENODATA);
        ssize_t n = xattr_in_root(f, "l", "security.selinux", buf, sizeof(buf));
        /* Without SELinux there is no such attribute at all; with it, the policy's label, not ours. */
        assert_true(n < 0 || memcmp(buf, "system_u:object_r:etc_t:s0", 26) != 0);
}

static void test_mtime_nanoseconds(void **state) {
        Fixture *f = *state;
        /* pax_restricted writes a pax header when any attribute needs one; the xattr does here. */
        const TestEntry entries[] = {
                {.path = "f",
                 .mode = S_IFREG | 0644,
                 .data = "x",
                 .mtime = 1600000001,
                 .mtime_nsec = 123456789,
                 .xattr_name = "user.a",
                 .xattr_value = "b",
                 .xattr_size = 1},
                {},
        };
        extract_ok(f, entries);
        struct stat st = stat_in_root(f, "f");
        assert_int_equal(st.st_mtim.tv_sec, 1600000001);
        assert_int_equal(st.st_mtim.tv_nsec, 123456789);
}

static void test_whiteouts(void **state) {
        Fixture *f = *state;
        const TestEntry entries[] = {
                {.path = ".wh.gone", .mode = S_IFREG | 0644},
                {.path = "etc/", .mode = S_IFDIR | 0755},
                {.path = "etc/.wh.passwd", .mode = S_IFREG | 0644},
                {.path = "opaque/", .mode = S_IFDIR | 0755},
                {.path = "opaque/.wh..wh..opq", .mode = S_IFREG | 0644},
                {.path = "opaque/kept", .mode = S_IFREG | 0644, .data = "k"},
                /* Opaque marker for a directory the archive never listed. */
                {.path = "new/sub/.wh..wh..opq", .mode = S_IFREG | 0644},
                {.path = ".wh..wh..plnk", .mode = S_IFDIR | 0700},
                /* A whiteout replaces what an earlier entry put there. */
                {.path = "replaced", .mode = S_IFREG | 0644, .data = "old"},
                {.path = ".wh.replaced", .mode = S_IFREG | 0644},
                {},
        };
        extract_ok(f, entries);
        assert_entry(f, "gone", S_IFCHR, 0, 0);
        assert_int_equal(stat_in_root(f, "gone").st_rdev, makedev(0, 0));
        assert_entry(f, "etc/passwd", S_IFCHR, 0, 0);
        assert_entry(f, "replaced", S_IFCHR, 0, 0);
        assert_missing(f, ".wh.gone");
        assert_missing(f, ".wh..wh..plnk");
        assert_missing(f, "opaque/.wh..wh..opq");

        char buf[8];
        assert_int_equal(xattr_in_root(f, "opaque", "trusted.overlay.opaque", buf, sizeof(buf)), 1);
        assert_int_equal(buf[0], 'y');
        assert_int_equal(xattr_in_root(f, "new/sub", "trusted.overlay.opaque", buf, sizeof(buf)), 1);
        assert_int_equal(xattr_in_root(f, "etc", "trusted.overlay.opaque", buf, sizeof(buf)), -1);
        assert_content(f, "opaque/kept", "k");
}

static void test_later_entries_replace(void **state) {
        Fixture *f = *state;
        char target[128];
        snprintf(target, sizeof(target), "%s/x", f->canary);
        const TestEntry entries[] = {
                {.path = "a", .mode = S_IFREG | 0644, .data = "first"},
                {.path = "a", .mode = S_IFREG | 0600, .data = "second"},
                {.path = "b", .mode = S_IFREG | 0644, .data = "file"},
                {.path = "b", .mode = S_IFDIR | 0755},
                {.path = "c", .mode = S_IFDIR | 0755},
                {.path = "c", .mode = S_IFLNK | 0777, .symlink = "a"},
                /* A file over a symlink replaces the symlink instead of writing through it. */
                {.path = "s", .mode = S_IFLNK | 0777, .symlink = target},
                {.path = "s", .mode = S_IFREG | 0644, .data = "not in canary"},
                {.path = "d", .mode = S_IFLNK | 0777, .symlink = f->canary},
                {.path = "d", .mode = S_IFDIR | 0700},
                {.path = "d/inside", .mode = S_IFREG | 0644, .data = "i"},
                {},
        };
        extract_ok(f, entries);
        assert_content(f, "a", "second");
        assert_entry(f, "a", S_IFREG | 0600, 0, 0);
        assert_entry(f, "b", S_IFDIR | 0755, 0, 0);
        assert_true(S_ISLNK(stat_in_root(f, "c").st_mode));
        assert_content(f, "s", "not in canary");
        assert_entry(f, "d", S_IFDIR | 0700, 0, 0);
        assert_content(f, "d/inside", "i");
        assert_contained(f);
}

static void test_nonempty_dir_not_replaced(void **state) {
        Fixture *f = *state;
        const TestEntry entries[] = {
                {.path = "d/f", .mode = S_IFREG | 0644, .data = "x"},
                {.path = "d", .mode = S_IFREG | 0644, .data = "file over dir"},
                {},
        };
        _cleanup_error_ Error *e = NULL;
        assert_int_equal(extract(f, entries, &e), -ENOTEMPTY);
        assert_non_null(strstr(e->message, "'d'"));
}

/* The long name needs a pax or GNU extension; the UTF-8 one a pax path record. */
static void test_long_and_utf8_names(void **state) {
        Fixture *f = *state;
        char long_name[300];
        memset(long_name, 'n', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        long_name[100] = '/';
        long_name[200] = '/';
        const TestEntry entries[] = {
                {.path = long_name, .mode = S_IFREG | 0644, .data = "long"},
                {.path = "caf\xc3\xa9", .mode = S_IFREG | 0644, .data = "utf8"},
                {},
        };
        /* libarchive's writer takes names in the locale's charset; the extractor runs in plain "C". */
        assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
        Buffer b = build_tar(entries);
        assert_non_null(setlocale(LC_CTYPE, "C"));
        assert_int_equal(extract_bytes(f, b.data, b.len, NULL, NULL), 0);
        free(b.data);
        assert_content(f, long_name, "long");
        assert_content(f, "caf\xc3\xa9", "utf8");
}

/* Each of these must fail with -EPERM, name the entry, and leave everything outside the root alone. */
static void assert_escape_refused(Fixture *f, const TestEntry *entries, const char *entry) {
        _cleanup_error_ Error *e = NULL;
        int r = extract(f, entries, &e);
        if (r != -EPERM)
                print_error("expected -EPERM, got %d (%s)\n", r, e ? e->message : "no error");
        assert_int_equal(r, -EPERM);
        assert_non_null(e);
        if (!strstr(e->message, entry))
                print_error("message '%s' does not name '%s'\n", e->message, entry);
        assert_non_null(strstr(e->message, entry));
        assert_contained(f);
}

static void test_escape_dotdot(void **state) {
        Fixture *f = *state;
        const TestEntry entries[] = {{.path = "../canary/x", .mode = S_IFREG | 0644, .data = "x"}, {}};
        assert_escape_refused(f, entries, "'../canary/x'");
        const TestEntry nested[] = {{.path = "a/../../canary/x", .mode = S_IFREG | 0644, .data = "x"}, {}};
        assert_escape_refused(f, nested, "'a/../../canary/x'");
        const TestEntry dir[] = {{.path = "..", .mode = S_IFDIR | 0777}, {}};
        assert_escape_refused(f, dir, "'..");
}

static void test_escape_absolute(void **state) {
        Fixture *f = *state;
        char path[128];
        snprintf(path, sizeof(path), "%s/x", f->canary);
        const TestEntry entries[] = {{.path = path, .mode = S_IFREG | 0644, .data = "x"}, {}};
        assert_escape_refused(f, entries, path);
        const TestEntry etc[] = {{.path = "/etc/x", .mode = S_IFREG | 0644, .data = "x"}, {}};
        assert_escape_refused(f, etc, "'/etc/x'");
}

static void test_escape_through_absolute_symlink(void **state) {
        Fixture *f = *state;
        const TestEntry entries[] = {
                {.path = "s", .mode = S_IFLNK | 0777, .symlink = f->canary},
                {.path = "s/x", .mode = S_IFREG | 0644, .data = "x"},
                {},
        };
        assert_escape_refused(f, entries, "'s/x' escapes the layer through a symlink");

        struct stat before, after;
        assert_int_equal(stat("/etc/passwd", &before), 0);
        const TestEntry etc[] = {
                {.path = "e", .mode = S_IFLNK | 0777, .symlink = "/etc"},
                {.path = "e/passwd", .mode = S_IFREG | 0644, .data = "root::0:0::/:/bin/sh\n"},
                {},
        };
        assert_escape_refused(f, etc, "'e/passwd'");
        assert_int_equal(stat("/etc/passwd", &after), 0);
        assert_int_equal(before.st_ino, after.st_ino);
        assert_int_equal(before.st_size, after.st_size);
        assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}

static void test_escape_through_relative_symlink(void **state) {
        Fixture *f = *state;
        const TestEntry up[] = {
                {.path = "s", .mode = S_IFLNK | 0777, .symlink = ".."},
                {.path = "s/canary/x", .mode = S_IFREG | 0644, .data = "x"},
                {},
        };
        assert_escape_refused(f, up, "'s/canary/x'");
        /* A symlink deeper down, and one that stays inside: both refused alike. */
        const TestEntry deep[] = {
                {.path = "d/", .mode = S_IFDIR | 0755},
                {.path = "d/s", .mode = S_IFLNK | 0777, .symlink = "../.."},
                {.path = "d/s/canary/x", .mode = S_IFDIR | 0755},
                {},
        };
        assert_escape_refused(f, deep, "'d/s/canary/x");
        const TestEntry inside[] = {
                {.path = "real/", .mode = S_IFDIR | 0755},
                {.path = "alias", .mode = S_IFLNK | 0777, .symlink = "real"},
                {.path = "alias/f", .mode = S_IFREG | 0644, .data = "x"},
                {},
        };
        assert_escape_refused(f, inside, "'alias/f'");
}

static void test_escape_whiteouts_through_symlink(void **state) {
        Fixture *f = *state;
        const TestEntry whiteout[] = {
                {.path = "s", .mode = S_IFLNK | 0777, .symlink = f->canary},
                {.path = "s/.wh.x", .mode = S_IFREG | 0644},
                {},
        };
        assert_escape_refused(f, whiteout, "'s/.wh.x'");
        const TestEntry opaque[] = {
                {.path = "o", .mode = S_IFLNK | 0777, .symlink = f->canary},
                {.path = "o/.wh..wh..opq", .mode = S_IFREG | 0644},
                {},
        };
        assert_escape_refused(f, opaque, "'o/.wh..wh..opq'");
        char buf[8];
        assert_int_equal(getxattr(f->canary, "trusted.overlay.opaque", buf, sizeof(buf)), -1);
}

static void test_escape_hardlinks(void **state) {
        Fixture *f = *state;
        const TestEntry dotdot[] = {{.path = "h", .hardlink = "../outside/secret"}, {}};
        assert_escape_refused(f, dotdot, "'h' links to '../outside/secret' outside the layer");
        const TestEntry etc[] = {{.path = "h", .hardlink = "../../etc/passwd"}, {}};
        assert_escape_refused(f, etc, "'../../etc/passwd'");
        const TestEntry absolute[] = {{.path = "h", .hardlink = f->secret}, {}};
        assert_escape_refused(f, absolute, "'h'");
        const TestEntry through_abs[] = {
                {.path = "s", .mode = S_IFLNK | 0777, .symlink = f->outside},
                {.path = "h", .hardlink = "s/secret"},
                {},
        };
        assert_escape_refused(f, through_abs, "'h' links to 's/secret' through a symlink");
        const TestEntry through_rel[] = {
                {.path = "r", .mode = S_IFLNK | 0777, .symlink = "../outside"},
                {.path = "h", .hardlink = "r/secret"},
                {},
        };
        assert_escape_refused(f, through_rel, "'h' links to 'r/secret' through a symlink");
}

static void test_malformed(void **state) {
        Fixture *f = *state;
        _cleanup_error_ Error *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL, *e5 = NULL;
        char garbage[2048];
        memset(garbage, 'A', sizeof(garbage));
        assert_int_equal(extract_bytes(f, garbage, sizeof(garbage), NULL, &e1), -EBADMSG);

        const TestEntry one[] = {{.path = "f", .mode = S_IFREG | 0644, .data = "0123456789"}, {}};
        Buffer b = build_tar(one);
        /* Cut inside the file's data block. */
        assert_int_equal(extract_bytes(f, b.data, 512 + 5, NULL, &e2), -EBADMSG);
        free(b.data);

        const TestEntry missing[] = {{.path = "h", .hardlink = "nothing"}, {}};
        assert_int_equal(extract(f, missing, &e3), -EBADMSG);
        const TestEntry root_file[] = {{.path = "./", .mode = S_IFREG | 0644, .data = "x"}, {}};
        assert_int_equal(extract(f, root_file, &e4), -EBADMSG);
        const TestEntry bad_owner[] = {{.path = "u", .mode = S_IFREG | 0644, .uid = 4294967295LL}, {}};
        assert_int_equal(extract(f, bad_owner, &e5), -EBADMSG);
        assert_contained(f);
}

static void test_empty_streams(void **state) {
        Fixture *f = *state;
        assert_int_equal(extract_bytes(f, "", 0, NULL, NULL), 0);
        char zeros[1024] = {};
        assert_int_equal(extract_bytes(f, zeros, sizeof(zeros), NULL, NULL), 0);
        const TestEntry none[] = {{}};
        extract_ok(f, none);
        assert_int_equal(count_entries(f->root), 0);
}

static void test_cancel(void **state) {
        Fixture *f = *state;
        const TestEntry entries[] = {{.path = "f", .mode = S_IFREG | 0644, .data = "x"}, {}};
        Buffer b = build_tar(entries);
        atomic_bool cancel = true;
        _cleanup_error_ Error *e = NULL;
        assert_int_equal(extract_bytes(f, b.data, b.len, &cancel, &e), -ECANCELED);
        free(b.data);
        assert_missing(f, "f");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_regular_files, setup, teardown),
                cmocka_unit_test_setup_teardown(test_large_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_sparse_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_directories, setup, teardown),
                cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hardlinks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_devices_and_fifos, setup, teardown),
                cmocka_unit_test_setup_teardown(test_xattrs, setup, teardown),
                cmocka_unit_test_setup_teardown(test_xattrs_dropped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mtime_nanoseconds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_whiteouts, setup, teardown),
                cmocka_unit_test_setup_teardown(test_later_entries_replace, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nonempty_dir_not_replaced, setup, teardown),
                cmocka_unit_test_setup_teardown(test_long_and_utf8_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_escape_dotdot, setup, teardown),
                cmocka_unit_test_setup_teardown(test_escape_absolute, setup, teardown),
                cmocka_unit_test_setup_teardown(test_escape_through_absolute_symlink, setup, teardown),
                cmocka_unit_test_setup_teardown(test_escape_through_relative_symlink, setup, teardown),
                cmocka_unit_test_setup_teardown(test_escape_whiteouts_through_symlink, setup, teardown),
                cmocka_unit_test_setup_teardown(test_escape_hardlinks, setup, teardown),
                cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_empty_streams, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
