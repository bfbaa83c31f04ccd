/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <archive.h>
#include <archive_entry.h>
#include <cmocka.h>

#include "tar-reader.h"

/* An in-memory stream handed out in pieces of `step` bytes, so headers and data straddle them. */
typedef struct Source {
        const uint8_t *data;
        size_t len, pos, step;
        int fail_at; /* after this many bytes answer -EIO; 0: never */
} Source;

static ssize_t source_read(void *userdata, const void **ret_buf) {
        Source *s = userdata;
        if (s->fail_at && s->pos >= (size_t)s->fail_at)
                return -EIO;
        size_t n = s->len - s->pos < s->step ? s->len - s->pos : s->step;
        *ret_buf = s->data + s->pos;
        s->pos += n;
        return (ssize_t)n;
}

typedef struct Buffer {
        uint8_t *data;
        size_t len;
} Buffer;

static void buffer_add(Buffer *b, const void *data, size_t len) {
        b->data = xrealloc(b->data, b->len + len);
        memcpy(b->data + b->len, data, len);
        b->len += len;
}

static ssize_t archive_to_buffer(struct archive *a, void *userdata, const void *data, size_t len) {
        buffer_add(userdata, data, len);
        return (ssize_t)len;
}

/* A one-entry archive written by libarchive in `format` (an ARCHIVE_FORMAT_TAR_* value). */
static Buffer libarchive_tar(int format, struct archive_entry *e, const char *data) {
        Buffer b = {};
        struct archive *a = archive_write_new();
        assert_int_equal(archive_write_set_format(a, format), ARCHIVE_OK);
        assert_int_equal(archive_write_open(a, &b, NULL, archive_to_buffer, NULL), ARCHIVE_OK);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (data)
                assert_int_equal(archive_write_data(a, data, strlen(data)), (ssize_t)strlen(data));
        assert_int_equal(archive_write_close(a), ARCHIVE_OK);
        archive_write_free(a);
        archive_entry_free(e);
        return b;
}

static struct archive_entry *file_entry(const char *path, const char *data) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, path);
        archive_entry_set_mode(e, S_IFREG | 04755);
        archive_entry_set_uid(e, 1000);
        archive_entry_set_gid(e, 100);
        archive_entry_set_mtime(e, 1600000000, 0);
        archive_entry_set_size(e, (int64_t)strlen(data));
        return e;
}

/* A header made by hand: only what the test sets, with a correct checksum unless told otherwise. */
typedef struct Header {
        uint8_t b[512];
} Header;

static void set_field(Header *h, size_t off, size_t len, const char *text) {
        memcpy(h->b + off, text, strnlen(text, len));
}

static void set_octal(Header *h, size_t off, size_t len, uint64_t v) {
        char tmp[32];
        snprintf(tmp, sizeof(tmp), "%0*llo", (int)len - 1, (unsigned long long)v);
        memcpy(h->b + off, tmp, len - 1);
}

static void seal(Header *h) {
        memset(h->b + 148, ' ', 8);
        unsigned sum = 0;
        for (size_t i = 0; i < 512; i++)
                sum += h->b[i];
        char tmp[8];
        snprintf(tmp, sizeof(tmp), "%06o", sum);
        memcpy(h->b + 148, tmp, 7);
}

static Header ustar(const char *name, char type, uint64_t size) {
        Header h = {};
        set_field(&h, 0, 100, name);
        set_octal(&h, 100, 8, 0644);
        set_octal(&h, 108, 8, 0);
        set_octal(&h, 116, 8, 0);
        set_octal(&h, 124, 12, size);
        set_octal(&h, 136, 12, 1600000000);
        h.b[156] = (uint8_t)type;
        memcpy(h.b + 257,
               "ustar\0"
               "00",
               8);
        seal(&h);
        return h;
}

/* header + data padded to a block */
static void add_member(Buffer *b, const Header *h, const char *data, size_t len) {
        buffer_add(b, h->b, 512);
        if (len) {
                buffer_add(b, data, len);
                static const uint8_t zeros[512];
                buffer_add(b, zeros, (512 - len % 512) % 512);
        }
}

static void add_pax_bytes(Buffer *b, const char *records, size_t len) {
        Header h = ustar("PaxHeaders/x", 'x', len);
        add_member(b, &h, records, len);
}

static void add_pax(Buffer *b, const char *records) {
        add_pax_bytes(b, records, strlen(records));
}

/* pax records "LEN key=value\n", LEN counting its own digits. */
static void add_pax_records(Buffer *b, const char *const *kv) {
        char records[4096] = "";
        size_t used = 0;
        for (; *kv; kv++) {
                size_t body = strlen(*kv) + 2, len = body + 1;
                while ((size_t)snprintf(NULL, 0, "%zu", len) + body != len)
                        len = (size_t)snprintf(NULL, 0, "%zu", len) + body;
                used += (size_t)snprintf(records + used, sizeof(records) - used, "%zu %s\n", len, *kv);
        }
        add_pax(b, records);
}

static void add_end(Buffer *b) {
        static const uint8_t zeros[1024];
        buffer_add(b, zeros, sizeof(zeros));
}

/* All of the current entry's data, placed at its offsets in a file of `size` bytes of zeros. */
static char *read_file_data(TarReader *r, size_t size) {
        char *got = xcalloc(1, size + 1);
        int64_t end = 0;
        for (;;) {
                const void *p;
                int64_t offset;
                ssize_t k = tar_reader_data(r, &p, &offset, NULL);
                assert_true(k >= 0);
                if (k == 0)
                        break;
                assert_true(offset >= end && offset + k <= (int64_t)size);
                memcpy(got + offset, p, (size_t)k);
                end = offset + k;
        }
        return got;
}

/* All of the current (plain) entry's data, checked to be `want`. */
static void assert_data(TarReader *r, const char *want) {
        _cleanup_free_ char *got = read_file_data(r, strlen(want));
        assert_memory_equal(got, want, strlen(want));
}

static Source current; /* the stream of the reader first_entry() made */

/* The first entry of `b` read in pieces of `step` bytes. */
static int first_entry(const Buffer *b, size_t step, TarReader **ret_r, const TarEntry **ret_e,
                       Error **reterr) {
        current = (Source){.data = b->data, .len = b->len, .step = step};
        *ret_r = tar_reader_new(source_read, &current);
        return tar_reader_next(*ret_r, ret_e, reterr);
}

static void done(TarReader *r, Buffer *b) {
        tar_reader_free(r);
        free(b->data);
}

static void test_pax_from_libarchive(void **state) {
        char long_name[300];
        memset(long_name, 'n', sizeof(long_name) - 1);
        long_name[sizeof(long_name) - 1] = '\0';
        memcpy(long_name, "dir/", 4);
        struct archive_entry *e = file_entry(long_name, "hello, layer");
        archive_entry_set_uid(e, 3000000000LL);
        archive_entry_set_mtime(e, 1600000000, 123456789);
        archive_entry_xattr_add_entry(e, "user.k", "v\0w", 3);
        Buffer b = libarchive_tar(ARCHIVE_FORMAT_TAR_PAX_RESTRICTED, e, "hello, layer");

        /* Every piece size, so fields and records straddle the source's buffers at every offset. */
        for (size_t step = 1; step <= 1024; step = step < 16 ? step + 1 : step * 2 + 1) {
                TarReader *r;
                const TarEntry *t;
                assert_int_equal(first_entry(&b, step, &r, &t, NULL), 1);
                assert_string_equal(t->path, long_name);
                assert_int_equal(t->type, TAR_FILE);
                assert_int_equal(t->perm, 04755);
                assert_int_equal(t->uid, 3000000000LL);
                assert_int_equal(t->gid, 100);
                assert_int_equal(t->mtime.tv_sec, 1600000000);
                assert_int_equal(t->mtime.tv_nsec, 123456789);
                assert_int_equal(t->n_xattrs, 1);
                assert_string_equal(t->xattrs[0].name, "user.k");
                assert_int_equal(t->xattrs[0].size, 3);
                assert_memory_equal(t->xattrs[0].value, "v\0w", 3);
                assert_data(r, "hello, layer");
                assert_int_equal(tar_reader_next(r, &t, NULL), 0);
                tar_reader_free(r);
        }
        free(b.data);
}

static void test_gnu_long_names(void **state) {
        char name[200], target[180];
        memset(name, 'a', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        memset(target, 't', sizeof(target) - 1);
        target[sizeof(target) - 1] = '\0';
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, name);
        archive_entry_set_mode(e, S_IFLNK | 0777);
        archive_entry_set_symlink(e, target);
        Buffer b = libarchive_tar(ARCHIVE_FORMAT_TAR_GNUTAR, e, NULL);
        TarReader *r;
        const TarEntry *t;
        assert_int_equal(first_entry(&b, 512, &r, &t, NULL), 1);
        assert_string_equal(t->path, name);
        assert_int_equal(t->type, TAR_SYMLINK);
        assert_string_equal(t->link_target, target);
        assert_int_equal(t->size, 0);
        done(r, &b);
}

static void test_ustar_prefix(void **state) {
        char name[160];
        memset(name, 'p', sizeof(name) - 1);
        name[sizeof(name) - 1] = '\0';
        name[100] = '/';
        struct archive_entry *e = file_entry(name, "x");
        Buffer b = libarchive_tar(ARCHIVE_FORMAT_TAR_USTAR, e, "x");
        TarReader *r;
        const TarEntry *t;
        assert_int_equal(first_entry(&b, 4096, &r, &t, NULL), 1);
        assert_string_equal(t->path, name);
        assert_data(r, "x");
        done(r, &b);
}

static void test_devices_and_hardlinks(void **state) {
        Buffer b = {};
        Header h = ustar("dev/null", '3', 0);
        set_octal(&h, 329, 8, 1);
        set_octal(&h, 337, 8, 3);
        seal(&h);
        add_member(&b, &h, NULL, 0);
        h = ustar("hard", '1', 0);
        set_field(&h, 157, 100, "dev/null");
        seal(&h);
        add_member(&b, &h, NULL, 0);
        add_end(&b);
        TarReader *r;
        const TarEntry *t;
        assert_int_equal(first_entry(&b, 100, &r, &t, NULL), 1);
        assert_int_equal(t->type, TAR_CHAR);
        assert_int_equal(t->dev_major, 1);
        assert_int_equal(t->dev_minor, 3);
        assert_null(t->link_target);
        assert_int_equal(tar_reader_next(r, &t, NULL), 1);
        assert_int_equal(t->type, TAR_HARDLINK);
        assert_string_equal(t->link_target, "dev/null");
        assert_int_equal(tar_reader_next(r, &t, NULL), 0);
        done(r, &b);
}

/* GNU base-256 numbers carry sizes and ids octal cannot; an old directory is a name ending in '/'. */
static void test_base256_and_v7(void **state) {
        Buffer b = {};
        Header h = ustar("big", '0', 0);
        memset(h.b + 108, 0, 8);
        h.b[108] = 0x80;
        h.b[112] = 0x01; /* uid 1 << 24 */
        memset(h.b + 124, 0, 12);
        h.b[124] = 0x80;
        h.b[135] = 5; /* size 5 */
        seal(&h);
        add_member(&b, &h, "12345", 5);
        h = ustar("old/", '\0', 0);
        memset(h.b + 257, 0, 8); /* no magic: v7 */
        seal(&h);
        add_member(&b, &h, NULL, 0);
        add_end(&b);
        TarReader *r;
        const TarEntry *t;
        assert_int_equal(first_entry(&b, 7, &r, &t, NULL), 1);
        assert_int_equal(t->uid, 1 << 24);
        assert_int_equal(t->size, 5);
        assert_data(r, "12345");
        assert_int_equal(tar_reader_next(r, &t, NULL), 1);
        assert_int_equal(t->type, TAR_DIR);
        assert_int_equal(tar_reader_next(r, &t, NULL), 0);
        done(r, &b);
}

static void test_pax_records(void **state) {
        Buffer b = {};
        add_pax(&b, "99 mtime=-1.25\n"
                    "11 atime=7\n"
                    "8 path=\n"
                    "15 linkpath=l2\n"); /* 99: too long */
        Header h = ustar("from-header", '2', 0);
        set_field(&h, 157, 100, "l1");
        seal(&h);
        add_member(&b, &h, NULL, 0);
        add_end(&b);
        TarReader *r;
        const TarEntry *t;
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(first_entry(&b, 512, &r, &t, &err), -EBADMSG);
        assert_non_null(strstr(err->message, "pax record"));
        done(r, &b);

        b = (Buffer){};
        add_pax(&b, "15 mtime=-1.25\n"
                    "11 atime=7\n"
                    "8 path=\n"
                    "15 linkpath=l2\n");
        add_member(&b, &h, NULL, 0);
        add_end(&b);
        assert_int_equal(first_entry(&b, 512, &r, &t, NULL), 1);
        assert_string_equal(t->path, ""); /* as in Go's archive/tar, not the header's name */
        assert_string_equal(t->link_target, "l2");
        assert_int_equal(t->mtime.tv_sec, -2);
        assert_int_equal(t->mtime.tv_nsec, 750000000);
        assert_true(t->has_atime);
        assert_int_equal(t->atime.tv_sec, 7);
        done(r, &b);
}

/* The end: two zero blocks, one and the stream's end, or the stream's end between entries. */
static void test_ends(void **state) {
        Buffer empty = {};
        TarReader *r;
        const TarEntry *t;
        assert_int_equal(first_entry(&empty, 512, &r, &t, NULL), 0);
        done(r, &empty);

        for (size_t zeros = 0; zeros <= 2; zeros++) {
                Buffer b = {};
                Header h = ustar("f", '0', 3);
                add_member(&b, &h, "abc", 3);
                static const uint8_t zero[512];
                for (size_t i = 0; i < zeros; i++)
                        buffer_add(&b, zero, 512);
                buffer_add(&b, "trailing bytes that are not read", 32);
                b.len -= zeros == 2 ? 0 : 32;
                assert_int_equal(first_entry(&b, 512, &r, &t, NULL), 1);
                assert_int_equal(tar_reader_next(r, &t, NULL), 0);
                done(r, &b);
        }
}

static void assert_refused(Buffer *b, size_t step, const char *message) {
        TarReader *r;
        const TarEntry *t;
        _cleanup_error_ Error *err = NULL;
        int k = first_entry(b, step, &r, &t, &err);
        if (k == 1) { /* a data error shows when the data is read */
                const void *p;
                ssize_t n;
                int64_t offset;
                while ((n = tar_reader_data(r, &p, &offset, &err)) > 0)
                        ;
                k = n < 0 ? (int)n : tar_reader_next(r, &t, &err);
        }
        assert_int_equal(k, -EBADMSG);
        if (!strstr(err->message, message))
                fail_msg("'%s' does not say '%s'", err->message, message);
        done(r, b);
}

static void test_malformed(void **state) {
        Buffer b = {};
        Header h = ustar("f", '0', 3);
        h.b[0] = 'g'; /* checksum no longer matches */
        add_member(&b, &h, "abc", 3);
        assert_refused(&b, 512, "checksum");

        b = (Buffer){};
        h = ustar("f", '0', 600);
        add_member(&b, &h, "abc", 3); /* stops 597 bytes early */
        assert_refused(&b, 64, "ends inside an entry");

        b = (Buffer){};
        buffer_add(&b, ustar("f", '0', 0).b, 300);
        assert_refused(&b, 512, "ends inside an entry");

        b = (Buffer){};
        static const uint8_t zero[512];
        buffer_add(&b, zero, 512);
        h = ustar("f", '0', 0);
        add_member(&b, &h, NULL, 0);
        assert_refused(&b, 512, "zero block inside");

        b = (Buffer){};
        h = ustar("f", 'S', 5);
        set_octal(&h, 386, 12, 100); /* 5 bytes at 100, in a file of 50 */
        set_octal(&h, 398, 12, 5);
        set_octal(&h, 483, 12, 50);
        seal(&h);
        add_member(&b, &h, "12345", 5);
        assert_refused(&b, 512, "bad sparse map");

        b = (Buffer){};
        add_pax(&b, "22 GNU.sparse.major=1\n"
                    "22 GNU.sparse.minor=0\n");
        h = ustar("f", '0', 0);
        add_member(&b, &h, NULL, 0);
        assert_refused(&b, 512, "sparse");

        b = (Buffer){};
        h = ustar("f", 'Z', 0);
        add_member(&b, &h, NULL, 0);
        assert_refused(&b, 512, "unsupported type 'Z'");

        b = (Buffer){};
        h = ustar("f", '0', 0);
        memcpy(h.b + 124, "0000000009a", 11);
        seal(&h);
        add_member(&b, &h, NULL, 0);
        assert_refused(&b, 512, "size");

        b = (Buffer){};
        h = ustar("././@LongLink", 'L', (1u << 20) + 1); /* past the bound on extension headers */
        add_member(&b, &h, NULL, 0);
        assert_refused(&b, 512, "extension header");

        b = (Buffer){};
        add_pax(&b, "11 size=x1\n");
        h = ustar("f", '0', 0);
        add_member(&b, &h, NULL, 0);
        assert_refused(&b, 512, "pax value for 'size'");
}

/* A 10000-byte file of zeros with "abc" at 1000, "de" at 9000 and, for `with_f`, "f" at 9500. */
static void assert_sparse_entry(TarReader *r, const TarEntry *t, const char *path, bool with_f) {
        assert_string_equal(t->path, path);
        assert_int_equal(t->type, TAR_FILE);
        assert_int_equal(t->size, 10000);
        _cleanup_free_ char *got = read_file_data(r, 10000);
        char want[10000] = {};
        memcpy(want + 1000, "abc", 3);
        memcpy(want + 9000, "de", 2);
        if (with_f)
                want[9500] = 'f';
        assert_memory_equal(got, want, sizeof(want));
        assert_int_equal(tar_reader_next(r, &t, NULL), 0);
}

/* GNU tar's own format: four pairs in the header, more in an extension block before the data. */
static void test_gnu_sparse(void **state) {
        Buffer b = {};
        Header h = ustar("sparse", 'S', 6);
        memcpy(h.b + 257, "ustar  \0", 8);
        const uint64_t pairs[][2] = {{1000, 3}, {9000, 2}};
        for (size_t i = 0; i < 2; i++) {
                set_octal(&h, 386 + 24 * i, 12, pairs[i][0]);
                set_octal(&h, 398 + 24 * i, 12, pairs[i][1]);
        }
        h.b[482] = 1;
        set_octal(&h, 483, 12, 10000);
        seal(&h);
        buffer_add(&b, h.b, 512);
        Header ext = {};
        set_octal(&ext, 0, 12, 9500);
        set_octal(&ext, 12, 12, 1);
        buffer_add(&b, ext.b, 512);
        static const char data[512] = "abcdef"; /* the stored bytes, padded to a block */
        buffer_add(&b, data, sizeof(data));
        add_end(&b);
        TarReader *r;
        const TarEntry *t;
        assert_int_equal(first_entry(&b, 100, &r, &t, NULL), 1);
        assert_sparse_entry(r, t, "sparse", true);
        done(r, &b);
}

/* pax 1.0, as GNU tar --posix writes it: the map is the start of the data. */
static void test_pax_sparse_1_0(void **state) {
        Buffer b = {};
        const char *const records[] = {"GNU.sparse.major=1", "GNU.sparse.minor=0",
                                       "GNU.sparse.name=dir/real", "GNU.sparse.realsize=10000", NULL};
        add_pax_records(&b, records);
        char data[512 + 5] = "2\n1000\n3\n9000\n2\n";
        memcpy(data + 512, "abcde", 5);
        Header h = ustar("dir/GNUSparseFile.0/real", '0', sizeof(data));
        add_member(&b, &h, data, sizeof(data));
        add_end(&b);
        TarReader *r;
        const TarEntry *t;
        assert_int_equal(first_entry(&b, 7, &r, &t, NULL), 1);
        assert_sparse_entry(r, t, "dir/real", false);
        done(r, &b);
}

static void test_pax_sparse_0_1(void **state) {
        Buffer b = {};
        const char *const records[] = {"GNU.sparse.numblocks=2", "GNU.sparse.map=1000,3,9000,2",
                                       "GNU.sparse.size=10000", "GNU.sparse.name=n01", NULL};
        add_pax_records(&b, records);
        Header h = ustar("GNUSparseFile.0/n01", '0', 5);
        add_member(&b, &h, "abcde", 5);
        add_end(&b);
        TarReader *r;
        const TarEntry *t;
        assert_int_equal(first_entry(&b, 512, &r, &t, NULL), 1);
        assert_sparse_entry(r, t, "n01", false);
        done(r, &b);
}

/* Maps that overlap, run backwards, leave the file, or do not add up to the data; and pax 0.0. */
static void test_bad_sparse_maps(void **state) {
        const char *const maps[] = {"1000,3,1001,2", "9000,2,1000,3", "1000,3,9999,2",
                                    "1000,3,9000,3", "1000,3,9000",   "1000,x,9000,2"};
        for (size_t i = 0; i < ELEMENTSOF(maps); i++) {
                Buffer b = {};
                _cleanup_free_ char *map = xasprintf("GNU.sparse.map=%s", maps[i]);
                const char *const records[] = {map, "GNU.sparse.numblocks=2", "GNU.sparse.size=10000", NULL};
                add_pax_records(&b, records);
                Header h = ustar("s", '0', 5);
                add_member(&b, &h, "abcde", 5);
                assert_refused(&b, 512, "bad sparse map");
        }
        /* The number of pairs must match the map, as Go's archive/tar checks. */
        Buffer b = {};
        const char *const numblocks[] = {"GNU.sparse.map=1000,3,9000,2", "GNU.sparse.numblocks=3",
                                         "GNU.sparse.size=10000", NULL};
        add_pax_records(&b, numblocks);
        Header h = ustar("s", '0', 5);
        add_member(&b, &h, "abcde", 5);
        assert_refused(&b, 512, "bad sparse map");
        /* Sparse records on what is not a regular file. */
        b = (Buffer){};
        const char *const on_dir[] = {"GNU.sparse.map=0,0", "GNU.sparse.numblocks=1", NULL};
        add_pax_records(&b, on_dir);
        h = ustar("d", '5', 0);
        add_member(&b, &h, NULL, 0);
        assert_refused(&b, 512, "bad sparse map");
}

/* pax 0.0 repeats offset and numbytes records, in that order. */
static void test_pax_sparse_0_0(void **state) {
        Buffer b = {};
        const char *const records[] = {"GNU.sparse.size=10000",  "GNU.sparse.numblocks=2",
                                       "GNU.sparse.offset=1000", "GNU.sparse.numbytes=3",
                                       "GNU.sparse.offset=9000", "GNU.sparse.numbytes=2",
                                       "GNU.sparse.name=n00",    NULL};
        add_pax_records(&b, records);
        Header h = ustar("GNUSparseFile.0/n00", '0', 5);
        add_member(&b, &h, "abcde", 5);
        add_end(&b);
        TarReader *r;
        const TarEntry *t;
        assert_int_equal(first_entry(&b, 512, &r, &t, NULL), 1);
        assert_sparse_entry(r, t, "n00", false);
        done(r, &b);

        b = (Buffer){};
        const char *const swapped[] = {"GNU.sparse.numblocks=1", "GNU.sparse.numbytes=3",
                                       "GNU.sparse.offset=1000", NULL};
        add_pax_records(&b, swapped);
        h = ustar("s", '0', 3);
        add_member(&b, &h, "abc", 3);
        assert_refused(&b, 512, "pax value for 'GNU.sparse.numbytes'");
}

/* A version other than 0.0, 0.1 or 1.0 is a plain file, as in Go's archive/tar. */
static void test_pax_sparse_unknown_version(void **state) {
        Buffer b = {};
        const char *const records[] = {"GNU.sparse.major=1", "GNU.sparse.name=real-name",
                                       "GNU.sparse.realsize=100", NULL};
        add_pax_records(&b, records);
        Header h = ustar("GNUSparseFile.0/decoy", '0', 5);
        add_member(&b, &h, "HELLO", 5);
        add_end(&b);
        TarReader *r;
        const TarEntry *t;
        assert_int_equal(first_entry(&b, 512, &r, &t, NULL), 1);
        assert_string_equal(t->path, "GNUSparseFile.0/decoy");
        assert_int_equal(t->size, 5);
        assert_data(r, "HELLO");
        done(r, &b);
}

/*
 * Found by review: a size near INT64_MAX wrapped with its padding, so the next "header" came from
 * inside the entry's data, hiding a file from every Go-based reader of the same layer.
 */
static void test_huge_size_is_refused(void **state) {
        Buffer b = {};
        Header h = ustar(".wh.x", '0', 0);
        memset(h.b + 124, 0, 12);
        h.b[124] = 0x80;
        memset(h.b + 128, 0xff, 8); /* base-256: 2^63 - 1 */
        h.b[128] = 0x7f;
        seal(&h);
        buffer_add(&b, h.b, 512);
        Header hidden = ustar("hidden", '0', 0);
        add_member(&b, &hidden, NULL, 0);
        add_end(&b);
        assert_refused(&b, 512, "size");

        b = (Buffer){};
        add_pax(&b, "28 size=9223372036854775799\n");
        h = ustar(".wh.y", '0', 0);
        add_member(&b, &h, NULL, 0);
        add_member(&b, &hidden, NULL, 0);
        add_end(&b);
        assert_refused(&b, 512, "size");
}

/* Found by review: pax headers added up, so many of them made one entry of unbounded xattrs. */
static void test_pax_header_replaces_the_last(void **state) {
        Buffer b = {};
        add_pax(&b, "13 path=evil\n"
                    "29 SCHILY.xattr.user.a=first\n");
        add_pax(&b, "20 mtime=1600000000\n");
        Header h = ustar("good", '0', 0);
        add_member(&b, &h, NULL, 0);
        add_pax(&b, "13 path=evil\n");
        Header g = ustar("global", 'g', 0);
        add_member(&b, &g, NULL, 0);
        Header h2 = ustar("good2", '0', 0);
        add_member(&b, &h2, NULL, 0);
        add_end(&b);
        TarReader *r;
        const TarEntry *t;
        assert_int_equal(first_entry(&b, 512, &r, &t, NULL), 1);
        assert_string_equal(t->path, "good");
        assert_int_equal(t->n_xattrs, 0);
        assert_int_equal(tar_reader_next(r, &t, NULL), 1); /* a global header ends what came before */
        assert_string_equal(t->path, "good2");
        done(r, &b);
}

/* Go's archive/tar reads names that old writers put where they should not have, and so must we. */
static void test_odd_headers(void **state) {
        Buffer b = {};
        Header h = ustar("name", '0', 0); /* GNU magic with a prefix where the times go (Go < 1.8) */
        memcpy(h.b + 257, "ustar  \0", 8);
        set_field(&h, 345, 155, "dir");
        seal(&h);
        add_member(&b, &h, NULL, 0);
        h = ustar("name", '0', 0); /* star: a 131-byte prefix, then its times */
        set_field(&h, 345, 131, "sdir");
        set_octal(&h, 476, 12, 1600000000);
        memcpy(h.b + 508, "tar", 4);
        seal(&h);
        add_member(&b, &h, NULL, 0);
        h = ustar("dev", '3', 0); /* v7: no device numbers */
        memset(h.b + 257, 0, 8);
        set_octal(&h, 329, 8, 1);
        seal(&h);
        add_member(&b, &h, NULL, 0);
        Header empty_long = ustar("././@LongLink", 'L', 1);
        add_member(&b, &empty_long, "", 1);
        h = ustar("short", '0', 0);
        add_member(&b, &h, NULL, 0);
        add_end(&b);
        TarReader *r;
        const TarEntry *t;
        assert_int_equal(first_entry(&b, 512, &r, &t, NULL), 1);
        assert_string_equal(t->path, "dir/name");
        assert_int_equal(tar_reader_next(r, &t, NULL), 1);
        assert_string_equal(t->path, "sdir/name");
        assert_int_equal(tar_reader_next(r, &t, NULL), 1);
        assert_int_equal(t->dev_major, 0);
        assert_int_equal(tar_reader_next(r, &t, NULL), 1);
        assert_string_equal(t->path, "short"); /* an empty long name is none */
        done(r, &b);

        b = (Buffer){};
        static const char nul_path[] = "12 path=a\0b\n";
        add_pax_bytes(&b, nul_path, sizeof(nul_path) - 1);
        h = ustar("f", '0', 0);
        add_member(&b, &h, NULL, 0);
        assert_refused(&b, 512, "pax value for 'path'");
        b = (Buffer){};
        h = ustar("s", 'S', 0); /* old GNU sparse needs GNU's header */
        add_member(&b, &h, NULL, 0);
        assert_refused(&b, 512, "bad sparse map");
}

static void test_source_error(void **state) {
        Buffer b = {};
        Header h = ustar("f", '0', 2000);
        char data[2000];
        memset(data, 'd', sizeof(data));
        add_member(&b, &h, data, sizeof(data));
        Source s = {.data = b.data, .len = b.len, .step = 512, .fail_at = 1024};
        TarReader *r = tar_reader_new(source_read, &s);
        const TarEntry *t;
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(tar_reader_next(r, &t, NULL), 1);
        const void *p;
        int64_t offset;
        assert_int_equal(tar_reader_data(r, &p, &offset, NULL), 512);
        assert_int_equal(tar_reader_data(r, &p, &offset, &err), -EIO);
        assert_non_null(strstr(err->message, "read layer stream"));
        tar_reader_free(r);
        free(b.data);

        /* An error inside a sparse map is the source's, not a malformed map. */
        Buffer m = {};
        const char *const records[] = {"GNU.sparse.major=1", "GNU.sparse.minor=0", "GNU.sparse.realsize=100",
                                       NULL};
        add_pax_records(&m, records);
        char map[1024] = "1\n0\n5\n";
        Header mh = ustar("sp", '0', sizeof(map));
        add_member(&m, &mh, map, sizeof(map));
        Source ms = {.data = m.data, .len = m.len, .step = 512, .fail_at = (int)m.len - 1024};
        r = tar_reader_new(source_read, &ms);
        _cleanup_error_ Error *merr = NULL;
        assert_int_equal(tar_reader_next(r, &t, &merr), -EIO);
        assert_non_null(strstr(merr->message, "read layer stream"));
        tar_reader_free(r);
        free(m.data);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pax_from_libarchive),
                cmocka_unit_test(test_gnu_long_names),
                cmocka_unit_test(test_ustar_prefix),
                cmocka_unit_test(test_devices_and_hardlinks),
                cmocka_unit_test(test_base256_and_v7),
                cmocka_unit_test(test_pax_records),
                cmocka_unit_test(test_ends),
                cmocka_unit_test(test_malformed),
                cmocka_unit_test(test_source_error),
                cmocka_unit_test(test_gnu_sparse),
                cmocka_unit_test(test_pax_sparse_1_0),
                cmocka_unit_test(test_pax_sparse_0_1),
                cmocka_unit_test(test_bad_sparse_maps),
                cmocka_unit_test(test_pax_sparse_0_0),
                cmocka_unit_test(test_pax_sparse_unknown_version),
                cmocka_unit_test(test_huge_size_is_refused),
                cmocka_unit_test(test_pax_header_replaces_the_last),
                cmocka_unit_test(test_odd_headers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
