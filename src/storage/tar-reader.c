/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/param.h>

#include "macros.h"
#include "tar-reader.h"

#define BLOCK 512
/* pax records and GNU long names are held whole; no real one comes near this. */
#define EXTENSION_MAX (4 << 20)

/* Offsets and lengths of the header fields (POSIX ustar; GNU reuses the prefix area for times). */
enum {
        F_NAME = 0,
        F_MODE = 100,
        F_UID = 108,
        F_GID = 116,
        F_SIZE = 124,
        F_MTIME = 136,
        F_CHKSUM = 148,
        F_TYPE = 156,
        F_LINKNAME = 157,
        F_MAGIC = 257,
        F_DEVMAJOR = 329,
        F_DEVMINOR = 337,
        F_PREFIX = 345,
        F_GNU_ATIME = 345,
        F_GNU_SPARSE = 386,   /* old GNU sparse files: 4 (offset, length) pairs of 12 + 12 bytes */
        F_GNU_EXTENDED = 482, /* 1: extension blocks of 21 more pairs follow the header */
        F_GNU_REALSIZE = 483, /* the file's size with its holes */
        SPARSE_PAIR = 24,
        EXT_BLOCK_PAIRS = 21, /* per extension block, whose byte 504 says whether another follows */
};

/* A stretch of a sparse file's data: `length` bytes stored for `offset`; the rest are holes. */
typedef struct Segment {
        int64_t offset, length;
} Segment;

/* What pax records and GNU long-name entries say about the entry that follows them. */
typedef struct Extension {
        char *long_name, *long_link; /* GNU 'L' and 'K' */
        char *path, *linkpath;       /* pax */
        bool has_size, has_uid, has_gid, has_mtime, has_atime;
        int64_t size, uid, gid;
        /* GNU's sparse files in pax: 0.1 has the map in a record, 1.0 at the start of the data. */
        char *sparse_name, *sparse_map;
        int64_t sparse_major, sparse_real_size; /* -1: not given */
        bool sparse_0_0;                        /* the oldest form, repeated records: refused */
        struct timespec mtime, atime;
        TarXattr *xattrs;
        size_t n_xattrs;
} Extension;

struct TarReader {
        TarReadFn read;
        void *userdata;
        const uint8_t *chunk;
        size_t chunk_len, chunk_pos;
        bool source_ended;
        int64_t data_left, padding_left; /* of the current entry, in the archive */
        Segment *segments;               /* where the current entry's data goes */
        size_t n_segments, n_allocated, segment;
        int64_t segment_left;
        Extension ext;
        TarEntry entry;
        uint8_t block[BLOCK];
};

static void xattrs_free(TarXattr *x, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(x[i].name);
                free(x[i].value);
        }
        free(x);
}

static void extension_clear(Extension *e) {
        free(e->long_name);
        free(e->long_link);
        free(e->path);
        free(e->linkpath);
        free(e->sparse_name);
        free(e->sparse_map);
        xattrs_free(e->xattrs, e->n_xattrs);
        *e = (Extension){.sparse_major = -1, .sparse_real_size = -1};
}

static void entry_clear(TarEntry *e) {
        free(e->path);
        free(e->link_target);
        xattrs_free(e->xattrs, e->n_xattrs);
        *e = (TarEntry){};
}

TarReader *tar_reader_new(TarReadFn read, void *userdata) {
        TarReader *r = xcalloc(1, sizeof(*r));
        r->read = read;
        r->userdata = userdata;
        extension_clear(&r->ext);
        return r;
}

TarReader *tar_reader_free(TarReader *r) {
        if (!r)
                return NULL;
        extension_clear(&r->ext);
        entry_clear(&r->entry);
        free(r->segments);
        return mfree(r);
}

static int truncated(Error **reterr) {
        return error_set(reterr, EBADMSG, "malformed tar data: the layer ends inside an entry");
}

/* Bytes available in the current chunk, fetching the next one when it is used up; 0 at the end. */
static ssize_t available(TarReader *r) {
        if (r->chunk_pos < r->chunk_len)
                return (ssize_t)(r->chunk_len - r->chunk_pos);
        if (r->source_ended)
                return 0;
        const void *buf = NULL;
        ssize_t n = r->read(r->userdata, &buf);
        if (n <= 0) {
                r->source_ended = n == 0;
                return n;
        }
        r->chunk = buf;
        r->chunk_len = (size_t)n;
        r->chunk_pos = 0;
        return n;
}

static int source_error(ssize_t n, Error **reterr) {
        return error_set(reterr, (int)-n, "read layer stream: %s", strerror((int)-n));
}

/* Copy `len` bytes out (or skip them when dst is NULL); returns how many there were, or -errno. */
static ssize_t take(TarReader *r, uint8_t *dst, size_t len, Error **reterr) {
        size_t done = 0;
        while (done < len) {
                ssize_t n = available(r);
                if (n < 0)
                        return source_error(n, reterr);
                if (n == 0)
                        break;
                size_t k = MIN((size_t)n, len - done);
                if (dst)
                        memcpy(dst + done, r->chunk + r->chunk_pos, k);
                r->chunk_pos += k;
                done += k;
        }
        return (ssize_t)done;
}

static int skip_exactly(TarReader *r, int64_t len, Error **reterr) {
        while (len > 0) {
                size_t step = (size_t)MIN(len, (int64_t)(1 << 30));
                ssize_t n = take(r, NULL, step, reterr);
                if (n < 0)
                        return (int)n;
                if ((size_t)n < step)
                        return truncated(reterr);
                len -= n;
        }
        return 0;
}

static int64_t padding_of(int64_t size) {
        return (BLOCK - size % BLOCK) % BLOCK;
}

/* A field's text: up to its first NUL, or all of it. */
static char *field_string(const uint8_t *field, size_t len) {
        return xstrndup((const char *)field, strnlen((const char *)field, len));
}

/*
 * A numeric field: octal text padded with spaces or NULs, or GNU's base-256 (top bit set, two's
 * complement when the next bit is set too). Returns -EBADMSG for anything else or an overflow.
 */
static int parse_number(const uint8_t *f, size_t len, int64_t *ret) {
        if (f[0] & 0x80) {
                bool negative = f[0] & 0x40;
                uint64_t v = (uint64_t)(f[0] & 0x3f) ^ (negative ? 0x3f : 0);
                for (size_t i = 1; i < len; i++) {
                        if (v >> 55)
                                return -EBADMSG;
                        v = v << 8 | (uint8_t)(f[i] ^ (negative ? 0xff : 0));
                }
                if (v > INT64_MAX)
                        return -EBADMSG;
                *ret = negative ? -(int64_t)v - 1 : (int64_t)v;
                return 0;
        }
        size_t i = 0, end = len;
        while (i < end && (f[i] == ' ' || f[i] == '\0'))
                i++;
        while (end > i && (f[end - 1] == ' ' || f[end - 1] == '\0'))
                end--;
        uint64_t v = 0;
        for (; i < end; i++) {
                if (f[i] < '0' || f[i] > '7' || v >> 60)
                        return -EBADMSG;
                v = v << 3 | (uint64_t)(f[i] - '0');
        }
        if (v > INT64_MAX)
                return -EBADMSG;
        *ret = (int64_t)v;
        return 0;
}

/* The checksum counts its own field as spaces; some old writers summed signed bytes. */
static bool checksum_ok(const uint8_t *h) {
        int64_t stored;
        if (parse_number(h + F_CHKSUM, 8, &stored) < 0)
                return false;
        int64_t sum = 0, signed_sum = 0;
        for (size_t i = 0; i < BLOCK; i++) {
                uint8_t c = i >= F_CHKSUM && i < F_CHKSUM + 8 ? ' ' : h[i];
                sum += c;
                signed_sum += (int8_t)c;
        }
        return stored == sum || stored == signed_sum;
}

static bool all_zero(const uint8_t *h) {
        for (size_t i = 0; i < BLOCK; i++)
                if (h[i])
                        return false;
        return true;
}

/* A decimal integer that is the whole of [s, end). */
static int parse_decimal(const char *s, const char *end, int64_t *ret) {
        if (s == end)
                return -EBADMSG;
        int64_t v = 0;
        for (; s < end; s++) {
                if (*s < '0' || *s > '9' || v > (INT64_MAX - 9) / 10)
                        return -EBADMSG;
                v = v * 10 + (*s - '0');
        }
        *ret = v;
        return 0;
}

/* A pax time: [-]seconds[.fraction]; digits past nanoseconds are dropped. */
static int parse_pax_time(const char *s, const char *end, struct timespec *ret) {
        bool negative = s < end && *s == '-';
        const char *dot = memchr(s, '.', (size_t)(end - s));
        int64_t sec, nsec = 0;
        if (parse_decimal(s + negative, dot ? dot : end, &sec) < 0)
                return -EBADMSG;
        if (dot) {
                int digits = 0;
                for (const char *p = dot + 1; p < end; p++) {
                        if (*p < '0' || *p > '9')
                                return -EBADMSG;
                        if (digits++ < 9)
                                nsec = nsec * 10 + (*p - '0');
                }
                for (; digits < 9; digits++)
                        nsec *= 10;
        }
        /* -1.25 is 1.25 s before the epoch: -2 s plus 0.75 s. */
        if (negative && nsec) {
                sec += 1;
                nsec = 1000000000 - nsec;
        }
        *ret = (struct timespec){.tv_sec = negative ? -sec : sec, .tv_nsec = nsec};
        return 0;
}

static void add_xattr(Extension *e, const char *name, size_t name_len, const char *value, size_t size) {
        e->xattrs = xrealloc(e->xattrs, (e->n_xattrs + 1) * sizeof(*e->xattrs));
        TarXattr *x = &e->xattrs[e->n_xattrs++];
        x->name = xstrndup(name, name_len);
        x->value = xmalloc(size ? size : 1);
        memcpy(x->value, value, size);
        x->size = size;
}

static bool key_is(const char *key, size_t len, const char *want) {
        return strlen(want) == len && memcmp(key, want, len) == 0;
}

static void set_text(char **dst, const char *value, size_t len) {
        free(*dst);
        *dst = len ? xstrndup(value, len) : NULL; /* an empty value unsets the keyword */
}

#define XATTR_KEY "SCHILY.xattr."
#define SPARSE_KEY "GNU.sparse."

static int apply_sparse_record(Extension *e, const char *key, size_t klen, const char *v, size_t vlen) {
        const char *end = v + vlen;
        if (key_is(key, klen, "major"))
                return parse_decimal(v, end, &e->sparse_major);
        if (key_is(key, klen, "name"))
                set_text(&e->sparse_name, v, vlen);
        else if (key_is(key, klen, "realsize") || key_is(key, klen, "size"))
                return parse_decimal(v, end, &e->sparse_real_size);
        else if (key_is(key, klen, "map"))
                set_text(&e->sparse_map, v, vlen);
        else if (key_is(key, klen, "offset") || key_is(key, klen, "numbytes"))
                e->sparse_0_0 = true;
        return 0;
}

/* One pax record's keyword and value; unknown keywords are ignored, as POSIX asks. */
static int apply_pax_record(Extension *e, const char *key, size_t klen, const char *v, size_t vlen) {
        const char *end = v + vlen;
        if (key_is(key, klen, "path"))
                set_text(&e->path, v, vlen);
        else if (key_is(key, klen, "linkpath"))
                set_text(&e->linkpath, v, vlen);
        else if (key_is(key, klen, "size"))
                return (e->has_size = vlen > 0) ? parse_decimal(v, end, &e->size) : 0;
        else if (key_is(key, klen, "uid"))
                return (e->has_uid = vlen > 0) ? parse_decimal(v, end, &e->uid) : 0;
        else if (key_is(key, klen, "gid"))
                return (e->has_gid = vlen > 0) ? parse_decimal(v, end, &e->gid) : 0;
        else if (key_is(key, klen, "mtime"))
                return (e->has_mtime = vlen > 0) ? parse_pax_time(v, end, &e->mtime) : 0;
        else if (key_is(key, klen, "atime"))
                return (e->has_atime = vlen > 0) ? parse_pax_time(v, end, &e->atime) : 0;
        else if (klen > strlen(XATTR_KEY) && memcmp(key, XATTR_KEY, strlen(XATTR_KEY)) == 0)
                add_xattr(e, key + strlen(XATTR_KEY), klen - strlen(XATTR_KEY), v, vlen);
        else if (klen > strlen(SPARSE_KEY) && memcmp(key, SPARSE_KEY, strlen(SPARSE_KEY)) == 0)
                return apply_sparse_record(e, key + strlen(SPARSE_KEY), klen - strlen(SPARSE_KEY), v, vlen);
        return 0;
}

/* Records are "LENGTH KEYWORD=VALUE\n", LENGTH counting the whole record; values may hold NULs. */
static int parse_pax(Extension *e, const char *data, size_t size, Error **reterr) {
        const char *p = data, *end = data + size;
        while (p < end) {
                const char *space = memchr(p, ' ', (size_t)(end - p));
                int64_t len;
                if (!space || parse_decimal(p, space, &len) < 0 || len > end - p || len <= space + 1 - p)
                        return error_set(reterr, EBADMSG, "malformed tar data: bad pax record length");
                const char *rec_end = p + len, *key = space + 1;
                const char *eq = memchr(key, '=', (size_t)(rec_end - key));
                if (rec_end[-1] != '\n' || !eq || eq == key)
                        return error_set(reterr, EBADMSG, "malformed tar data: bad pax record");
                if (apply_pax_record(e, key, (size_t)(eq - key), eq + 1, (size_t)(rec_end - 1 - (eq + 1))) <
                    0)
                        return error_set(reterr, EBADMSG, "malformed tar data: bad pax value for '%.*s'",
                                         (int)(eq - key), key);
                p = rec_end;
        }
        return 0;
}

/* An extension entry's data, whole, NUL-terminated for the text ones. */
static int read_extension(TarReader *r, int64_t size, char **ret, Error **reterr) {
        if (size < 0 || size > EXTENSION_MAX)
                return error_set(reterr, EBADMSG, "malformed tar data: a %" PRId64 "-byte extension header",
                                 size);
        _cleanup_free_ char *buf = xmalloc((size_t)size + 1);
        ssize_t n = take(r, (uint8_t *)buf, (size_t)size, reterr);
        if (n < 0)
                return (int)n;
        if (n < size)
                return truncated(reterr);
        buf[size] = '\0';
        int k = skip_exactly(r, padding_of(size), reterr);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(buf);
        return 0;
}

/* GNU long names count their NUL terminator in their size; the text stops at the first NUL anyway. */
static int read_long_name(TarReader *r, int64_t size, char **dst, Error **reterr) {
        char *text = NULL;
        int k = read_extension(r, size, &text, reterr);
        if (k < 0)
                return k;
        free(*dst);
        *dst = text;
        return 0;
}

static int read_pax(TarReader *r, int64_t size, Error **reterr) {
        _cleanup_free_ char *data = NULL;
        int k = read_extension(r, size, &data, reterr);
        return k < 0 ? k : parse_pax(&r->ext, data, (size_t)size, reterr);
}

typedef enum HeaderRead { HEADER_OK, HEADER_END } HeaderRead;

/* The next header block into r->block, or HEADER_END at the archive's end marker or the stream's end. */
static int read_header_block(TarReader *r, Error **reterr) {
        ssize_t n = take(r, r->block, BLOCK, reterr);
        if (n < 0)
                return (int)n;
        if (n == 0)
                return HEADER_END;
        if (n < BLOCK)
                return truncated(reterr);
        if (!all_zero(r->block)) {
                if (!checksum_ok(r->block))
                        return error_set(reterr, EBADMSG,
                                         "malformed tar data: a header's checksum is wrong");
                return HEADER_OK;
        }
        /* One zero block must be followed by another, or by nothing. */
        n = take(r, r->block, BLOCK, reterr);
        if (n < 0)
                return (int)n;
        if (n == 0 || (n == BLOCK && all_zero(r->block)))
                return HEADER_END;
        return error_set(reterr, EBADMSG, "malformed tar data: a zero block inside the archive");
}

static bool is_ustar(const uint8_t *h) {
        return memcmp(h + F_MAGIC, "ustar\0", 6) == 0;
}

static bool is_gnu(const uint8_t *h) {
        return memcmp(h + F_MAGIC, "ustar  \0", 8) == 0;
}

/* The header's own name: ustar splits long ones into a prefix and a name. */
static char *header_name(const uint8_t *h) {
        _cleanup_free_ char *name = field_string(h + F_NAME, 100);
        if (!is_ustar(h) || h[F_PREFIX] == '\0')
                return TAKE_PTR(name);
        _cleanup_free_ char *prefix = field_string(h + F_PREFIX, 155);
        return xasprintf("%s/%s", prefix, name);
}

static int entry_type(char flag, const char *path, TarType *ret) {
        switch (flag) {
        case '\0':
                /* Pre-POSIX archives marked directories only by their trailing slash. */
                *ret = *path && path[strlen(path) - 1] == '/' ? TAR_DIR : TAR_FILE;
                return 0;
        case '0':
        case '7': /* contiguous file: a regular file everywhere that matters */
                *ret = TAR_FILE;
                return 0;
        case '1':
                *ret = TAR_HARDLINK;
                return 0;
        case '2':
                *ret = TAR_SYMLINK;
                return 0;
        case '3':
                *ret = TAR_CHAR;
                return 0;
        case '4':
                *ret = TAR_BLOCK;
                return 0;
        case '5':
                *ret = TAR_DIR;
                return 0;
        case '6':
                *ret = TAR_FIFO;
                return 0;
        default:
                return -EBADMSG;
        }
}

static int header_numbers(const uint8_t *h, TarEntry *e, int64_t *ret_size) {
        int64_t mode, mtime, major, minor;
        if (parse_number(h + F_MODE, 8, &mode) < 0 || parse_number(h + F_UID, 8, &e->uid) < 0 ||
            parse_number(h + F_GID, 8, &e->gid) < 0 || parse_number(h + F_SIZE, 12, ret_size) < 0 ||
            parse_number(h + F_MTIME, 12, &mtime) < 0)
                return -EBADMSG;
        e->perm = (mode_t)(mode & 07777);
        e->mtime = (struct timespec){.tv_sec = mtime};
        if (e->type == TAR_CHAR || e->type == TAR_BLOCK) {
                if (parse_number(h + F_DEVMAJOR, 8, &major) < 0 ||
                    parse_number(h + F_DEVMINOR, 8, &minor) < 0 || major < 0 || major > UINT32_MAX ||
                    minor < 0 || minor > UINT32_MAX)
                        return -EBADMSG;
                e->dev_major = (uint32_t)major;
                e->dev_minor = (uint32_t)minor;
        }
        int64_t atime;
        if (is_gnu(h) && parse_number(h + F_GNU_ATIME, 12, &atime) == 0 && atime != 0) {
                e->has_atime = true;
                e->atime = (struct timespec){.tv_sec = atime};
        }
        return 0;
}

/* ---- Sparse files: where the stored bytes go ------------------------------------------------ */

/* A map larger than this (in pairs) is refused; GNU tar writes one pair per run of data. */
#define SEGMENTS_MAX (EXTENSION_MAX / 16)

static int add_segment(TarReader *r, int64_t offset, int64_t length) {
        if (r->n_segments >= SEGMENTS_MAX || offset < 0 || length < 0)
                return -EBADMSG;
        if (r->n_segments == r->n_allocated) {
                r->n_allocated = r->n_allocated ? 2 * r->n_allocated : 8;
                r->segments = xrealloc(r->segments, r->n_allocated * sizeof(Segment));
        }
        r->segments[r->n_segments++] = (Segment){offset, length};
        return 0;
}

/* Old GNU pairs of 12-byte numbers, up to the first empty one; 1 when one ended the list. */
static int add_gnu_pairs(TarReader *r, const uint8_t *p, size_t count) {
        for (size_t i = 0; i < count; i++, p += SPARSE_PAIR) {
                int64_t offset, length;
                if (p[0] == '\0')
                        return 1;
                if (parse_number(p, 12, &offset) < 0 || parse_number(p + 12, 12, &length) < 0 ||
                    add_segment(r, offset, length) < 0)
                        return -EBADMSG;
        }
        return 0;
}

/* typeflag 'S': four pairs in the header, more in extension blocks between it and the data. */
static int read_gnu_sparse_map(TarReader *r, int64_t *ret_real_size) {
        int k = add_gnu_pairs(r, r->block + F_GNU_SPARSE, 4);
        bool more = r->block[F_GNU_EXTENDED] != 0;
        if (k < 0 || parse_number(r->block + F_GNU_REALSIZE, 12, ret_real_size) < 0)
                return -EBADMSG;
        while (more) {
                uint8_t ext[BLOCK];
                ssize_t n = take(r, ext, BLOCK, NULL);
                if (n < BLOCK || add_gnu_pairs(r, ext, EXT_BLOCK_PAIRS) < 0)
                        return -EBADMSG;
                more = ext[EXT_BLOCK_PAIRS * SPARSE_PAIR] != 0;
        }
        return 0;
}

/* Decimal numbers separated by `sep`; a trailing separator after the last one is allowed. */
static int parse_number_list(const char *s, const char *end, char sep, int64_t **ret, size_t *ret_n) {
        int64_t *v = NULL;
        size_t n = 0, allocated = 0;
        while (s < end) {
                const char *e = memchr(s, sep, (size_t)(end - s));
                if (!e)
                        e = end;
                if (n >= 2 * SEGMENTS_MAX + 1)
                        break;
                if (n == allocated) {
                        allocated = allocated ? 2 * allocated : 16;
                        v = xrealloc(v, allocated * sizeof(*v));
                }
                if (parse_decimal(s, e, &v[n++]) < 0)
                        break;
                s = e + (e < end);
        }
        if (s < end) {
                free(v);
                return -EBADMSG;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

static int add_pairs(TarReader *r, const int64_t *v, size_t n) {
        if (n % 2)
                return -EBADMSG;
        for (size_t i = 0; i < n; i += 2)
                if (add_segment(r, v[i], v[i + 1]) < 0)
                        return -EBADMSG;
        return 0;
}

/* pax 1.0: "COUNT\nOFFSET\nLENGTH\n..." at the start of the data, padded to whole blocks. */
static int read_pax_1_0_map(TarReader *r) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0, lines = 0, want = 0; /* want: 1 + 2 * COUNT lines, once COUNT is known */
        const char *end = NULL;              /* just past the last line of the map */
        while (!end) {
                if (len >= EXTENSION_MAX || r->data_left < BLOCK)
                        return -EBADMSG;
                text = xrealloc(text, len + BLOCK);
                if (take(r, (uint8_t *)text + len, BLOCK, NULL) < BLOCK)
                        return -EBADMSG;
                r->data_left -= BLOCK;
                for (size_t i = len; i < len + BLOCK && !end; i++) {
                        if (text[i] != '\n')
                                continue;
                        int64_t count;
                        if (++lines == 1 &&
                            (parse_decimal(text, text + i, &count) < 0 || count > SEGMENTS_MAX))
                                return -EBADMSG;
                        if (lines == 1)
                                want = 1 + 2 * (size_t)count;
                        if (lines == want)
                                end = text + i + 1;
                }
                len += BLOCK;
        }
        _cleanup_free_ int64_t *v = NULL;
        size_t n;
        const char *first = (const char *)memchr(text, '\n', len) + 1;
        if (parse_number_list(first, end, '\n', &v, &n) < 0)
                return -EBADMSG;
        return add_pairs(r, v, n);
}

static int read_pax_sparse_map(TarReader *r, const Extension *x) {
        if (x->sparse_major == 1)
                return read_pax_1_0_map(r);
        if (x->sparse_major > 1 || !x->sparse_map)
                return -EBADMSG;
        _cleanup_free_ int64_t *v = NULL;
        size_t n;
        if (parse_number_list(x->sparse_map, x->sparse_map + strlen(x->sparse_map), ',', &v, &n) < 0)
                return -EBADMSG;
        return add_pairs(r, v, n);
}

/* In order, apart, inside the file, and together exactly the data the archive holds. */
static bool segments_valid(const TarReader *r, int64_t real_size) {
        int64_t end = 0, stored = 0;
        for (size_t i = 0; i < r->n_segments; i++) {
                const Segment *g = &r->segments[i];
                if (g->offset < end || g->length > real_size - g->offset)
                        return false;
                end = g->offset + g->length;
                stored += g->length;
        }
        return stored == r->data_left;
}

/* Where the entry's data goes: one segment for a plain file, the map for a sparse one. */
static int map_data(TarReader *r, bool gnu_sparse, bool pax_sparse, Error **reterr) {
        TarEntry *e = &r->entry;
        int64_t real_size = e->size;
        int k = 0;
        if (pax_sparse && r->ext.sparse_0_0)
                return error_set(reterr, EBADMSG,
                                 "layer entry '%s' is a sparse file in GNU's pax format 0.0, "
                                 "which is not supported",
                                 e->path);
        if (gnu_sparse)
                k = read_gnu_sparse_map(r, &real_size);
        else if (pax_sparse) {
                k = read_pax_sparse_map(r, &r->ext);
                real_size = r->ext.sparse_real_size;
        } else
                k = add_segment(r, 0, e->size);
        if (k < 0 || real_size < 0 || !segments_valid(r, real_size))
                return error_set(reterr, EBADMSG, "malformed tar data: a bad sparse map in entry '%s'",
                                 e->path);
        e->size = real_size;
        r->segment_left = r->n_segments ? r->segments[0].length : 0;
        return 0;
}

/* Header fields, then what the extensions before it override. */
static int build_entry(TarReader *r, Error **reterr) {
        const uint8_t *h = r->block;
        Extension *x = &r->ext;
        TarEntry *e = &r->entry;
        char flag = (char)h[F_TYPE];

        bool gnu_sparse = flag == 'S';
        bool pax_sparse = x->sparse_major >= 0 || x->sparse_map || x->sparse_0_0;
        if (pax_sparse && x->sparse_name)
                e->path = TAKE_PTR(x->sparse_name);
        else
                e->path = x->long_name ? TAKE_PTR(x->long_name)
                          : x->path    ? TAKE_PTR(x->path)
                                       : header_name(h);
        if (gnu_sparse)
                flag = '0';
        if (entry_type(flag, e->path, &e->type) < 0)
                return error_set(reterr, EBADMSG, "layer entry '%s' has an unsupported type '%c'", e->path,
                                 flag >= ' ' && flag < 127 ? flag : '?');
        int64_t size;
        if (header_numbers(h, e, &size) < 0)
                return error_set(reterr, EBADMSG, "malformed tar data: a bad number in entry '%s'", e->path);
        if (e->type == TAR_HARDLINK || e->type == TAR_SYMLINK)
                e->link_target = x->long_link  ? TAKE_PTR(x->long_link)
                                 : x->linkpath ? TAKE_PTR(x->linkpath)
                                               : field_string(h + F_LINKNAME, 100);
        if (x->has_size)
                size = x->size;
        if (x->has_uid)
                e->uid = x->uid;
        if (x->has_gid)
                e->gid = x->gid;
        if (x->has_mtime)
                e->mtime = x->mtime;
        if (x->has_atime) {
                e->has_atime = true;
                e->atime = x->atime;
        }
        e->xattrs = TAKE_PTR(x->xattrs);
        e->n_xattrs = x->n_xattrs;
        x->n_xattrs = 0;
        if (size < 0)
                return error_set(reterr, EBADMSG, "malformed tar data: entry '%s' has a negative size",
                                 e->path);
        /* As in Go's archive/tar, only regular files carry data; other types' sizes are ignored. */
        e->size = e->type == TAR_FILE ? size : 0;
        r->data_left = e->size;
        r->padding_left = padding_of(e->size);
        return map_data(r, gnu_sparse && e->type == TAR_FILE, pax_sparse && e->type == TAR_FILE, reterr);
}

int tar_reader_next(TarReader *r, const TarEntry **ret, Error **reterr) {
        int k = skip_exactly(r, r->data_left + r->padding_left, reterr);
        if (k < 0)
                return k;
        r->data_left = r->padding_left = 0;
        r->n_segments = r->segment = 0;
        r->segment_left = 0;
        entry_clear(&r->entry);
        extension_clear(&r->ext);

        for (;;) {
                k = read_header_block(r, reterr);
                if (k < 0)
                        return k;
                if (k == HEADER_END)
                        return 0;
                int64_t size;
                if (parse_number(r->block + F_SIZE, 12, &size) < 0 || size < 0)
                        return error_set(reterr, EBADMSG, "malformed tar data: a bad size field");
                switch (r->block[F_TYPE]) {
                case 'x':
                        k = read_pax(r, size, reterr);
                        break;
                case 'g':
                        k = skip_exactly(r, size + padding_of(size), reterr);
                        break;
                case 'L':
                        k = read_long_name(r, size, &r->ext.long_name, reterr);
                        break;
                case 'K':
                        k = read_long_name(r, size, &r->ext.long_link, reterr);
                        break;
                default:
                        k = build_entry(r, reterr);
                        if (k < 0)
                                return k;
                        *ret = &r->entry;
                        return 1;
                }
                if (k < 0)
                        return k;
        }
}

ssize_t tar_reader_data(TarReader *r, const void **ret_buf, int64_t *ret_offset, Error **reterr) {
        while (r->segment_left == 0) {
                if (r->segment + 1 >= r->n_segments)
                        return 0;
                r->segment_left = r->segments[++r->segment].length;
        }
        ssize_t n = available(r);
        if (n < 0)
                return source_error(n, reterr);
        if (n == 0)
                return truncated(reterr);
        const Segment *g = &r->segments[r->segment];
        size_t k = (size_t)MIN((int64_t)n, r->segment_left);
        *ret_buf = r->chunk + r->chunk_pos;
        *ret_offset = g->offset + g->length - r->segment_left;
        r->chunk_pos += k;
        r->segment_left -= (int64_t)k;
        r->data_left -= (int64_t)k;
        return (ssize_t)k;
}
