/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>
#include <zstd.h>

#include "fs-util.h"
#include "digest.h"
#include "layer-unpack.h"

typedef struct Buffer {
        uint8_t *data;
        size_t len, cap;
} Buffer;

static void buffer_append(Buffer *b, const void *data, size_t len) {
        if (b->len + len > b->cap) {
                b->cap = (b->len + len) * 2;
                b->data = xrealloc(b->data, b->cap);
        }
        memcpy(b->data + b->len, data, len);
        b->len += len;
}

static void buffer_done(Buffer *b) {
        free(b->data);
        *b = (Buffer){};
}

static ssize_t buffer_write(struct archive *a, void *userdata, const void *data, size_t len) {
        buffer_append(userdata, data, len);
        return (ssize_t)len;
}

typedef struct TestFile {
        const char *path;
        mode_t mode;
        const char *symlink;
        size_t size; /* regular files: content is fill_byte() over this many bytes */
} TestFile;

static uint8_t fill_byte(size_t i) {
        return (uint8_t)((i * 2654435761u) >> 13);
}

/* A pax tar, padded to libarchive's 10 KiB records as real layers are. */
static Buffer build_tar(const TestFile *files) {
        Buffer b = {};
        struct archive *a = archive_write_new();
        assert_int_equal(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        assert_int_equal(archive_write_open(a, &b, NULL, buffer_write, NULL), ARCHIVE_OK);
        for (const TestFile *t = files; t->path; t++) {
                struct archive_entry *e = archive_entry_new();
                archive_entry_set_pathname(e, t->path);
                archive_entry_set_mode(e, t->mode);
                archive_entry_set_mtime(e, 1600000000, 0);
                if (t->symlink)
                        archive_entry_set_symlink(e, t->symlink);
                archive_entry_set_size(e, (la_int64_t)t->size);
                assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
                for (size_t off = 0; off < t->size;) {
                        uint8_t chunk[8192];
                        size_t n = t->size - off < sizeof(chunk) ? t->size - off : sizeof(chunk);
                        for (size_t i = 0; i < n; i++)
                                chunk[i] = fill_byte(off + i);
                        assert_int_equal(archive_write_data(a, chunk, n), (ssize_t)n);
                        off += n;
                }
                archive_entry_free(e);
        }
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        return b;
}

/* gzip through libarchive's filter, i.e. zlib: an encoder independent of the ISA-L decoder. */
static void gzip_member(Buffer *out, const void *data, size_t len) {
        struct archive *a = archive_write_new();
        struct archive_entry *e = archive_entry_new();
        assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
        assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
        assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
        assert_int_equal(archive_write_open(a, out, NULL, buffer_write, NULL), ARCHIVE_OK);
        archive_entry_set_pathname(e, "raw");
        archive_entry_set_mode(e, S_IFREG | 0644);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (len > 0)
                assert_int_equal(archive_write_data(a, data, len), (ssize_t)len);
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_entry_free(e);
        archive_write_free(a);
}

static void zstd_frame(Buffer *out, const void *data, size_t len) {
        size_t cap = ZSTD_compressBound(len);
        uint8_t *dst = xmalloc(cap);
        ZSTD_CCtx *c = ZSTD_createCCtx();
        assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)));
        size_t n = ZSTD_compress2(c, dst, cap, data, len);
        assert_false(ZSTD_isError(n));
        buffer_append(out, dst, n);
        ZSTD_freeCCtx(c);
        free(dst);
}

/* A scratch directory with room for several layer dirs and a canary dir that must stay empty. */
typedef struct Fixture {
        char base[64];
        char canary[96];
        int n_dirs;
} Fixture;

static int setup(void **state) {
        Fixture *f = xcalloc(1, sizeof(*f));
        snprintf(f->base, sizeof(f->base), "/tmp/test-layer-unpack.XXXXXX");
        assert_non_null(mkdtemp(f->base));
        snprintf(f->canary, sizeof(f->canary), "%s/canary", f->base);
        assert_int_equal(mkdir(f->canary, 0755), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        assert_int_equal(rm_rf(f->base), 0);
        free(f);
        return 0;
}

/* A fresh empty layer directory below the fixture. */
static char *new_dir(Fixture *f) {
        char *d = xasprintf("%s/layer%d", f->base, f->n_dirs++);
        assert_int_equal(mkdir(d, 0755), 0);
        return d;
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

static bool task_is_exiting(const char *tid) {
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/self/task/%s/stat", tid);
        FILE *f = fopen(path, "re");
        if (!f)
                return true; /* gone between readdir and open */
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *end = strrchr(buf, ')');
        return !end || end[1] != ' ' || end[2] == 'Z' || end[2] == 'X';
}

/* Threads of this process that are alive, leaving out joined ones the kernel has not removed yet. */
static size_t count_threads(void) {
        DIR *d = opendir("/proc/self/task");
        assert_non_null(d);
        size_t n = 0;
        for (struct dirent *de; (de = readdir(d));)
                n += de->d_name[0] != '.' && !task_is_exiting(de->d_name);
        closedir(d);
        return n;
}

/*
 * The kernel removes a joined thread's /proc/self/task entry a little after pthread_join returns, so
 * an exact count right after a join races. Wait (bounded) for the count to settle on the expected one.
 */
static size_t settled_thread_count(size_t expected) {
        size_t n = count_threads();
        for (int i = 0; i < 5000 && n != expected; i++) {
                usleep(1000);
                n = count_threads();
        }
        return n;
}

typedef struct Result {
        int r;
        int failed_push; /* index of the push that failed, -1 if none did */
        char *blob_digest, *diff_id;
        int64_t tar_size;
        Error *error;
} Result;

static void result_done(Result *res) {
        free(res->blob_digest);
        free(res->diff_id);
        error_free(res->error);
}

/* Push `in` in pieces of `chunk` bytes, then finish; stops at the first failing push. */
static Result unpack(const char *dir, LayerCompression c, const Buffer *in, size_t chunk) {
        Result res = {.failed_push = -1};
        LayerUnpack *u = NULL;
        res.r = layer_unpack_new(dir, c, &u, &res.error);
        assert_int_equal(res.r, 0);
        for (size_t off = 0, i = 0; off < in->len; off += chunk, i++) {
                size_t n = in->len - off < chunk ? in->len - off : chunk;
                res.r = layer_unpack_push(u, in->data + off, n, &res.error);
                if (res.r < 0) {
                        res.failed_push = (int)i;
                        break;
                }
        }
        if (res.r < 0) {
                /* Later calls report the same failure; finish still frees. */
                _cleanup_error_ Error *again = NULL, *at_finish = NULL;
                assert_int_equal(layer_unpack_push(u, "x", 1, &again), res.r);
                assert_string_equal(again->message, res.error->message);
                assert_int_equal(layer_unpack_finish(u, NULL, NULL, NULL, &at_finish), res.r);
                assert_string_equal(at_finish->message, res.error->message);
                return res;
        }
        res.r = layer_unpack_finish(u, &res.blob_digest, &res.diff_id, &res.tar_size, &res.error);
        return res;
}

static void assert_file(const char *dir, const char *path, size_t size) {
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, path);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        uint8_t buf[65536];
        size_t off = 0;
        for (ssize_t n; (n = read(fd, buf, sizeof(buf))) > 0; off += (size_t)n)
                for (ssize_t i = 0; i < n; i++)
                        assert_int_equal(buf[i], fill_byte(off + (size_t)i));
        assert_int_equal(off, size);
}

static const TestFile layer_files[] = {
        {.path = "etc/", .mode = S_IFDIR | 0755},
        {.path = "etc/hostname", .mode = S_IFREG | 0644, .size = 9},
        {.path = "usr/lib/big", .mode = S_IFREG | 0644, .size = 5 * 1024 * 1024 + 123},
        {.path = "usr/lib/small", .mode = S_IFREG | 0755, .size = 100},
        {.path = "bin", .mode = S_IFLNK | 0777, .symlink = "usr/bin"},
        {.path = ".wh.removed", .mode = S_IFREG | 0644},
        {},
};

static void assert_unpacked(const char *dir, const Result *res, const Buffer *blob, const Buffer *tar) {
        if (res->r < 0)
                print_error("unpack failed: %s\n", res->error->message);
        assert_int_equal(res->r, 0);
        _cleanup_free_ char *blob_digest = digest_buffer(DIGEST_SHA256, blob->data, blob->len);
        _cleanup_free_ char *diff_id = digest_buffer(DIGEST_SHA256, tar->data, tar->len);
        assert_string_equal(res->blob_digest, blob_digest);
        assert_string_equal(res->diff_id, diff_id);
        assert_int_equal(res->tar_size, (int64_t)tar->len);
        assert_file(dir, "etc/hostname", 9);
        assert_file(dir, "usr/lib/big", 5 * 1024 * 1024 + 123);
        assert_file(dir, "usr/lib/small", 100);
        struct stat st;
        _cleanup_free_ char *wh = xasprintf("%s/removed", dir);
        assert_int_equal(lstat(wh, &st), 0);
        assert_true(S_ISCHR(st.st_mode));
}

static void roundtrip(Fixture *f, LayerCompression c, const Buffer *blob, const Buffer *tar) {
        const size_t chunks[] = {4096, 65536 + 1, 1024 * 1024, SIZE_MAX};
        for (size_t i = 0; i < ELEMENTSOF(chunks); i++) {
                _cleanup_free_ char *dir = new_dir(f);
                Result res = unpack(dir, c, blob, chunks[i]);
                assert_unpacked(dir, &res, blob, tar);
                result_done(&res);
        }
        assert_int_equal(count_entries(f->canary), 0);
}

static void test_uncompressed(void **state) {
        Buffer tar = build_tar(layer_files);
        roundtrip(*state, COMPRESSION_NONE, &tar, &tar);
        buffer_done(&tar);
}

static void test_gzip(void **state) {
        Buffer tar = build_tar(layer_files), gz = {};
        gzip_member(&gz, tar.data, tar.len);
        roundtrip(*state, COMPRESSION_GZIP, &gz, &tar);
        buffer_done(&gz);
        buffer_done(&tar);
}

/* Unpack `blob` in one push after declaring its digest checked by the caller. */
static Result unpack_trusting_blob(const char *dir, LayerCompression c, const Buffer *blob) {
        Result res = {.failed_push = -1};
        LayerUnpack *u = NULL;
        assert_int_equal(layer_unpack_new(dir, c, &u, NULL), 0);
        layer_unpack_blob_verified_elsewhere(u);
        res.r = layer_unpack_push(u, blob->data, blob->len, &res.error);
        assert_int_equal(res.r, 0);
        res.r = layer_unpack_finish(u, &res.blob_digest, &res.diff_id, &res.tar_size, &res.error);
        return res;
}

static void test_blob_verified_elsewhere(void **state) {
        Fixture *f = *state;
        Buffer tar = build_tar(layer_files), gz = {};
        gzip_member(&gz, tar.data, tar.len);
        _cleanup_free_ char *diff_id = digest_buffer(DIGEST_SHA256, tar.data, tar.len);

        /* Compressed: the blob is not hashed again, the diff_id still is. */
        _cleanup_free_ char *d1 = new_dir(f);
        Result a = unpack_trusting_blob(d1, COMPRESSION_GZIP, &gz);
        assert_int_equal(a.r, 0);
        assert_null(a.blob_digest);
        assert_string_equal(a.diff_id, diff_id);
        assert_file(d1, "usr/lib/big", 5 * 1024 * 1024 + 123);

        /* Plain: the blob is the tar, so its digest is the diff_id and both are reported. */
        _cleanup_free_ char *d2 = new_dir(f);
        Result b = unpack_trusting_blob(d2, COMPRESSION_NONE, &tar);
        assert_int_equal(b.r, 0);
        assert_string_equal(b.blob_digest, diff_id);
        assert_string_equal(b.diff_id, diff_id);
        result_done(&a);
        result_done(&b);
        buffer_done(&gz);
        buffer_done(&tar);
}

/* Members split the tar at arbitrary points, even inside a header. */
static void test_gzip_multi_member(void **state) {
        Buffer tar = build_tar(layer_files), gz = {};
        gzip_member(&gz, tar.data, 700);
        gzip_member(&gz, tar.data + 700, 1000000);
        gzip_member(&gz, tar.data + 1000700, 0);
        gzip_member(&gz, tar.data + 1000700, tar.len - 1000700);
        roundtrip(*state, COMPRESSION_GZIP, &gz, &tar);
        buffer_done(&gz);
        buffer_done(&tar);
}

static void test_zstd_frames(void **state) {
        Buffer tar = build_tar(layer_files), z = {};
        zstd_frame(&z, tar.data, 3000);
        zstd_frame(&z, tar.data + 3000, tar.len - 3000);
        roundtrip(*state, COMPRESSION_ZSTD, &z, &tar);
        buffer_done(&z);
        buffer_done(&tar);
}

/* Byte-sized pushes through the whole pipeline, on a small layer. */
static void test_tiny_pushes(void **state) {
        Fixture *f = *state;
        const TestFile files[] = {{.path = "a/b", .mode = S_IFREG | 0600, .size = 3000}, {}};
        Buffer tar = build_tar(files), gz = {};
        gzip_member(&gz, tar.data, tar.len);
        _cleanup_free_ char *dir = new_dir(f);
        Result res = unpack(dir, COMPRESSION_GZIP, &gz, 1);
        assert_int_equal(res.r, 0);
        assert_int_equal(res.tar_size, (int64_t)tar.len);
        assert_file(dir, "a/b", 3000);
        result_done(&res);
        buffer_done(&gz);
        buffer_done(&tar);
}

/*
 * Pushes of mixed sizes: small ones gathered into a batch, large ones passed straight on when no
 * batch is pending and split across batches when one is.
 */
static void test_mixed_push_sizes(void **state) {
        Fixture *f = *state;
        const size_t sizes[] = {1, 300000, 7, 262144, 100, 1024 * 1024, 5};
        Buffer tar = build_tar(layer_files);
        _cleanup_free_ char *dir = new_dir(f);
        LayerUnpack *u = NULL;
        Result res = {.failed_push = -1};
        assert_int_equal(layer_unpack_new(dir, COMPRESSION_NONE, &u, NULL), 0);
        for (size_t off = 0, i = 0; off < tar.len; i++) {
                size_t n = sizes[i % ELEMENTSOF(sizes)];
                if (n > tar.len - off)
                        n = tar.len - off;
                assert_int_equal(layer_unpack_push(u, tar.data + off, n, NULL), 0);
                off += n;
        }
        res.r = layer_unpack_finish(u, &res.blob_digest, &res.diff_id, &res.tar_size, &res.error);
        assert_unpacked(dir, &res, &tar, &tar);
        result_done(&res);
        buffer_done(&tar);
}

/* Whatever follows the end-of-archive marker is digested and drained, not refused. */
static void test_data_after_end_of_archive(void **state) {
        Fixture *f = *state;
        Buffer tar = build_tar(layer_files);
        uint8_t zeros[100000] = {};
        buffer_append(&tar, zeros, sizeof(zeros));
        _cleanup_free_ char *dir = new_dir(f);
        Result res = unpack(dir, COMPRESSION_NONE, &tar, 30000);
        assert_unpacked(dir, &res, &tar, &tar);
        result_done(&res);
        buffer_done(&tar);
}

static void assert_fails(Fixture *f, LayerCompression c, const Buffer *blob, size_t chunk, int expect,
                         const char *message_part) {
        size_t threads = count_threads();
        _cleanup_free_ char *dir = new_dir(f);
        Result res = unpack(dir, c, blob, chunk);
        if (res.r != expect)
                print_error("expected %d, got %d (%s)\n", expect, res.r,
                            res.error ? res.error->message : "");
        assert_int_equal(res.r, expect);
        assert_non_null(res.error);
        if (!strstr(res.error->message, message_part))
                print_error("'%s' does not contain '%s'\n", res.error->message, message_part);
        assert_non_null(strstr(res.error->message, message_part));
        assert_null(res.blob_digest);
        result_done(&res);
        assert_int_equal(settled_thread_count(threads), threads);
        assert_int_equal(count_entries(f->canary), 0);
}

static void test_corrupt_gzip(void **state) {
        Buffer tar = build_tar(layer_files), gz = {};
        gzip_member(&gz, tar.data, tar.len);
        for (size_t i = gz.len / 2; i < gz.len / 2 + 32; i++)
                gz.data[i] ^= 0x3c;
        assert_fails(*state, COMPRESSION_GZIP, &gz, 65536, -EBADMSG, "corrupt gzip data");
        buffer_done(&gz);

        /* Intact data, wrong CRC32 in the trailer. */
        gzip_member(&gz, tar.data, tar.len);
        gz.data[gz.len - 8] ^= 1;
        assert_fails(*state, COMPRESSION_GZIP, &gz, 65536, -EBADMSG, "checksum");
        buffer_done(&gz);

        assert_fails(*state, COMPRESSION_GZIP, &tar, 65536, -EBADMSG, "gzip");
        buffer_done(&tar);
}

static void test_corrupt_zstd(void **state) {
        Buffer tar = build_tar(layer_files), z = {};
        zstd_frame(&z, tar.data, tar.len);
        for (size_t i = z.len / 2; i < z.len / 2 + 32; i++)
                z.data[i] ^= 0x3c;
        assert_fails(*state, COMPRESSION_ZSTD, &z, 65536, -EBADMSG, "corrupt zstd data");
        buffer_done(&z);
        buffer_done(&tar);
}

static void test_truncated(void **state) {
        Buffer tar = build_tar(layer_files), gz = {}, z = {};
        gzip_member(&gz, tar.data, tar.len);
        gz.len -= 4;
        assert_fails(*state, COMPRESSION_GZIP, &gz, 65536, -EBADMSG, "truncated gzip stream");
        zstd_frame(&z, tar.data, tar.len);
        z.len /= 2;
        assert_fails(*state, COMPRESSION_ZSTD, &z, 65536, -EBADMSG, "truncated zstd stream");
        /* The compression is fine but the tar inside stops in the middle of a file. */
        Buffer half = {.data = tar.data, .len = tar.len / 2};
        assert_fails(*state, COMPRESSION_NONE, &half, 65536, -EBADMSG, "usr/lib/big");
        buffer_done(&z);
        buffer_done(&gz);
        buffer_done(&tar);
}

/*
 * The extractor fails on the first entry while megabytes are still to come: the pusher must hear of
 * it at a push instead of blocking on a full pipe, and nothing may appear outside.
 */
static void test_extractor_failure_reaches_pusher(void **state) {
        Fixture *f = *state;
        _cleanup_free_ char *escape = xasprintf("%s/x", f->canary);
        const TestFile files[] = {
                {.path = escape, .mode = S_IFREG | 0644, .size = 10},
                {.path = "big", .mode = S_IFREG | 0644, .size = 32 * 1024 * 1024},
                {},
        };
        Buffer tar = build_tar(files);
        _cleanup_free_ char *dir = new_dir(f);
        Result res = unpack(dir, COMPRESSION_NONE, &tar, 65536);
        assert_int_equal(res.r, -EPERM);
        assert_non_null(strstr(res.error->message, "escapes the layer"));
        /* Well before the end: 32 MiB is 512 pushes, the pipe holds 1 MiB. */
        assert_true(res.failed_push >= 0 && res.failed_push < 100);
        result_done(&res);
        assert_int_equal(count_entries(f->canary), 0);
        buffer_done(&tar);
}

static void test_escape_through_symlink_gzip(void **state) {
        Fixture *f = *state;
        const TestFile files[] = {
                {.path = "s", .mode = S_IFLNK | 0777, .symlink = f->canary},
                {.path = "s/x", .mode = S_IFREG | 0644, .size = 10},
                {},
        };
        Buffer tar = build_tar(files), gz = {};
        gzip_member(&gz, tar.data, tar.len);
        assert_fails(f, COMPRESSION_GZIP, &gz, 1024 * 1024, -EPERM,
                     "'s/x' escapes the layer through a symlink");
        buffer_done(&gz);
        buffer_done(&tar);
}

static void test_abort(void **state) {
        Fixture *f = *state;
        size_t threads = count_threads();
        Buffer tar = build_tar(layer_files), gz = {};
        gzip_member(&gz, tar.data, tar.len);

        /* Right after the start, mid-stream, and after a failure. */
        _cleanup_free_ char *d1 = new_dir(f), *d2 = new_dir(f), *d3 = new_dir(f);
        LayerUnpack *u = NULL;
        assert_int_equal(layer_unpack_new(d1, COMPRESSION_GZIP, &u, NULL), 0);
        assert_int_equal(count_threads(), threads + 1);
        assert_null(layer_unpack_abort(u));
        assert_int_equal(settled_thread_count(threads), threads);

        assert_int_equal(layer_unpack_new(d2, COMPRESSION_GZIP, &u, NULL), 0);
        assert_int_equal(layer_unpack_push(u, gz.data, gz.len / 2, NULL), 0);
        assert_null(layer_unpack_abort(u));
        assert_int_equal(settled_thread_count(threads), threads);

        assert_int_equal(layer_unpack_new(d3, COMPRESSION_ZSTD, &u, NULL), 0);
        /* Input is decompressed in batches: the push that completes one fails. */
        int r = 0;
        for (size_t i = 0; i < 1024 && r == 0; i++)
                r = layer_unpack_push(u, gz.data, gz.len, NULL);
        assert_int_equal(r, -EBADMSG);
        assert_null(layer_unpack_abort(u));
        assert_int_equal(settled_thread_count(threads), threads);
        assert_null(layer_unpack_abort(NULL));
        buffer_done(&gz);
        buffer_done(&tar);
}

static void test_new_errors(void **state) {
        Fixture *f = *state;
        size_t threads = count_threads();
        LayerUnpack *u = NULL;
        _cleanup_error_ Error *e1 = NULL, *e2 = NULL, *e3 = NULL;
        _cleanup_free_ char *missing = xasprintf("%s/missing", f->base);
        assert_int_equal(layer_unpack_new(missing, COMPRESSION_NONE, &u, &e1), -ENOENT);
        assert_non_null(strstr(e1->message, missing));
        assert_int_equal(layer_unpack_new(f->base, COMPRESSION_NONE, &u, &e2), -ENOTEMPTY);
        _cleanup_free_ char *dir = new_dir(f);
        assert_int_equal(layer_unpack_new(dir, (LayerCompression)42, &u, &e3), -EINVAL);
        assert_null(u);
        assert_int_equal(settled_thread_count(threads), threads);
}

/* Several layers at once in one process, pushed in turns from one thread. */
static void test_interleaved_layers(void **state) {
        Fixture *f = *state;
        Buffer tar = build_tar(layer_files), gz = {}, z = {};
        gzip_member(&gz, tar.data, tar.len);
        zstd_frame(&z, tar.data, tar.len);
        const Buffer *blobs[] = {&tar, &gz, &z};
        const LayerCompression kinds[] = {COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_ZSTD};
        LayerUnpack *u[3];
        char *dirs[3];
        for (size_t i = 0; i < 3; i++) {
                dirs[i] = new_dir(f);
                assert_int_equal(layer_unpack_new(dirs[i], kinds[i], &u[i], NULL), 0);
        }
        const size_t chunk = 256 * 1024;
        for (size_t off = 0; off < tar.len; off += chunk)
                for (size_t i = 0; i < 3; i++)
                        if (off < blobs[i]->len) {
                                size_t n = blobs[i]->len - off < chunk ? blobs[i]->len - off : chunk;
                                assert_int_equal(layer_unpack_push(u[i], blobs[i]->data + off, n, NULL), 0);
                        }
        for (size_t i = 0; i < 3; i++) {
                Result res = {};
                res.r = layer_unpack_finish(u[i], &res.blob_digest, &res.diff_id, &res.tar_size, &res.error);
                assert_unpacked(dirs[i], &res, blobs[i], &tar);
                result_done(&res);
                free(dirs[i]);
        }
        buffer_done(&z);
        buffer_done(&gz);
        buffer_done(&tar);
}

/* ---- limits ---- */

static Result unpack_limited(const char *dir, LayerCompression c, const LayerLimits *l, int64_t declared,
                             const Buffer *in) {
        Result res = {.failed_push = -1};
        LayerUnpack *u = NULL;
        res.r = layer_unpack_new_limited(dir, c, l, declared, &u, &res.error);
        if (res.r < 0)
                return res;
        for (size_t off = 0, i = 0; off < in->len; off += 65536, i++) {
                size_t n = in->len - off < 65536 ? in->len - off : 65536;
                res.r = layer_unpack_push(u, in->data + off, n, &res.error);
                if (res.r < 0) {
                        res.failed_push = (int)i;
                        layer_unpack_abort(u);
                        return res;
                }
        }
        res.r = layer_unpack_finish(u, &res.blob_digest, &res.diff_id, &res.tar_size, &res.error);
        return res;
}

static void assert_refused(Result *res, int errnum, const char *key) {
        if (res->r != -errnum)
                print_error("expected %d, got %d: %s\n", -errnum, res->r,
                            res->error ? res->error->message : "");
        assert_int_equal(res->r, -errnum);
        assert_non_null(strstr(res->error->message, key));
        result_done(res);
}

static void test_limit_max_size(void **state) {
        Fixture *f = *state;
        Buffer tar = build_tar(layer_files), gz = {};
        gzip_member(&gz, tar.data, tar.len);
        _cleanup_free_ char *dir = new_dir(f);
        LayerLimits l = {.max_size = 1024 * 1024};
        Result res = unpack_limited(dir, COMPRESSION_GZIP, &l, (int64_t)gz.len, &gz);
        /*
         * Refused while inflating, before the 5 MiB file was all written. This blob is smaller than
         * one input batch, so it inflates (and fails) at the finish.
         */
        _cleanup_free_ char *big = xasprintf("%s/usr/lib/big", dir);
        struct stat st;
        assert_true(lstat(big, &st) < 0 || st.st_size <= l.max_size);
        assert_refused(&res, EFBIG, "crio.image.max_layer_size");
        /* Exactly at the limit is fine. */
        _cleanup_free_ char *dir2 = new_dir(f);
        l.max_size = (int64_t)tar.len;
        res = unpack_limited(dir2, COMPRESSION_GZIP, &l, (int64_t)gz.len, &gz);
        assert_int_equal(res.r, 0);
        result_done(&res);
        buffer_done(&gz);
        buffer_done(&tar);
}

/* The ratio bound is the declared compressed size times the ratio, but never below the floor. */
static void test_limit_ratio(void **state) {
        Fixture *f = *state;
        const TestFile small[] = {{.path = "f", .mode = S_IFREG | 0644, .size = 1024 * 1024}, {}};
        const TestFile big[] = {{.path = "f", .mode = S_IFREG | 0644, .size = LAYER_RATIO_FLOOR + 1}, {}};
        LayerLimits l = {.max_ratio = 100};
        Buffer tar = build_tar(small);
        _cleanup_free_ char *dir = new_dir(f);
        Result res = unpack_limited(dir, COMPRESSION_NONE, &l, 10, &tar);
        assert_int_equal(res.r, 0); /* 100,000x, but below the floor */
        result_done(&res);
        buffer_done(&tar);

        tar = build_tar(big);
        _cleanup_free_ char *dir2 = new_dir(f);
        res = unpack_limited(dir2, COMPRESSION_NONE, &l, 10, &tar);
        assert_refused(&res, EFBIG, "crio.image.max_layer_inflation_ratio");
        /* The same layer declared large enough passes. */
        _cleanup_free_ char *dir3 = new_dir(f);
        res = unpack_limited(dir3, COMPRESSION_NONE, &l, (int64_t)tar.len / 100 + 1, &tar);
        assert_int_equal(res.r, 0);
        result_done(&res);
        buffer_done(&tar);
}

static void test_limit_entries(void **state) {
        Fixture *f = *state;
        Buffer tar = build_tar(layer_files), gz = {};
        gzip_member(&gz, tar.data, tar.len);
        _cleanup_free_ char *dir = new_dir(f);
        LayerLimits l = {.max_entries = 3};
        Result res = unpack_limited(dir, COMPRESSION_GZIP, &l, (int64_t)gz.len, &gz);
        assert_refused(&res, EFBIG, "crio.image.max_layer_entries");
        _cleanup_free_ char *dir2 = new_dir(f);
        l.max_entries = 6; /* layer_files has six entries */
        res = unpack_limited(dir2, COMPRESSION_GZIP, &l, (int64_t)gz.len, &gz);
        assert_int_equal(res.r, 0);
        result_done(&res);
        buffer_done(&gz);
        buffer_done(&tar);
}

static void test_limit_free_space(void **state) {
        Fixture *f = *state;
        Buffer tar = build_tar(layer_files);
        _cleanup_free_ char *dir = new_dir(f);
        LayerLimits l = {.min_free_space = INT64_MAX};
        Result res = unpack_limited(dir, COMPRESSION_NONE, &l, (int64_t)tar.len, &tar);
        assert_refused(&res, ENOSPC, "crio.image.min_free_space");
        assert_int_equal(count_entries(dir), 0);
        buffer_done(&tar);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_uncompressed, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gzip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_blob_verified_elsewhere, setup, teardown),
                cmocka_unit_test_setup_teardown(test_gzip_multi_member, setup, teardown),
                cmocka_unit_test_setup_teardown(test_zstd_frames, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tiny_pushes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_mixed_push_sizes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_data_after_end_of_archive, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_gzip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_zstd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_truncated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_extractor_failure_reaches_pusher, setup, teardown),
                cmocka_unit_test_setup_teardown(test_escape_through_symlink_gzip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
                cmocka_unit_test_setup_teardown(test_new_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_interleaved_layers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limit_max_size, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limit_ratio, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limit_entries, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limit_free_space, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
