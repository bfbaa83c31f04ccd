/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/param.h>

#include "macros.h"
#include "tar-reader.h"

#define BLOCK 512
/* pax records and GNU long names are held whole, up to the 1 MiB Go's archive/tar allows. */
#define EXTENSION_MAX (1 << 20)
/* No entry is larger (8 EiB less a block): sizes plus padding stay within int64_t. */
#define ENTRY_SIZE_MAX (INT64_MAX - BLOCK)
/* A sparse map longer than this (in pairs) is refused; GNU tar writes one pair per run of data. */
#define SEGMENTS_MAX (EXTENSION_MAX / 16)

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
        F_GNU_CTIME = 357,
        F_STAR_TRAILER = 508,
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

/*
 * What one pax header says about the entry that follows it. As in Go's archive/tar, a second pax
 * header replaces the first rather than adding to it.
 */
typedef struct Pax {
        char *path, *linkpath;
        bool has_size, has_uid, has_gid, has_mtime, has_atime;
        int64_t size, uid, gid;
        struct timespec mtime, atime;
        TarXattr *xattrs;
        size_t n_xattrs;
        /*
         * GNU's sparse files: 0.0 repeats offset and numbytes records (gathered into `sparse_map`),
         * 0.1 has the map in one record, 1.0 at the start of the data. Numbers: -1 when not given.
         */
        char *sparse_major, *sparse_minor, *sparse_name, *sparse_map;
        size_t sparse_map_items;
        int64_t sparse_size, sparse_realsize, sparse_numblocks;
} Pax;

/* What the extension entries before an entry say about it: GNU long names and links, and pax. */
typedef struct Extension {
        char *long_name, *long_link; /* GNU 'L' and 'K'; NULL when none or empty */
        Pax pax;
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

static void pax_clear(Pax *p) {
        free(p->path);
        free(p->linkpath);
        xattrs_free(p->xattrs, p->n_xattrs);
        free(p->sparse_major);
        free(p->sparse_minor);
        free(p->sparse_name);
        free(p->sparse_map);
        *p = (Pax){.sparse_size = -1, .sparse_realsize = -1, .sparse_numblocks = -1};
}

static void extension_clear(Extension *e) {
        free(e->long_name);
        free(e->long_link);
        e->long_name = e->long_link = NULL;
        pax_clear(&e->pax);
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

static void add_xattr(Pax *e, const char *name, size_t name_len, const char *value, size_t size) {
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
        *dst = xstrndup(value, len);
}

static int set_number(const char *v, const char *end, bool *ret_has, int64_t *ret) {
        *ret_has = true;
        return parse_decimal(v, end, ret);
}

static int set_time(const char *v, const char *end, bool *ret_has, struct timespec *ret) {
        *ret_has = true;
        return parse_pax_time(v, end, ret);
}

#define XATTR_KEY "SCHILY.xattr."
#define SPARSE_KEY "GNU.sparse."

/* 0.0's offset and numbytes records alternate, starting with an offset; they build a 0.1 map. */
static int add_sparse_0_0(Pax *e, bool is_offset, const char *v, size_t vlen) {
        if (is_offset != (e->sparse_map_items % 2 == 0) || memchr(v, ',', vlen) ||
            e->sparse_map_items >= 2 * SEGMENTS_MAX)
                return -EBADMSG;
        size_t old = e->sparse_map ? strlen(e->sparse_map) : 0;
        e->sparse_map = xrealloc(e->sparse_map, old + 1 + vlen + 1);
        if (old)
                e->sparse_map[old++] = ',';
        memcpy(e->sparse_map + old, v, vlen);
        e->sparse_map[old + vlen] = '\0';
        e->sparse_map_items++;
        return 0;
}

static int apply_sparse_record(Pax *e, const char *key, size_t klen, const char *v, size_t vlen) {
        const char *end = v + vlen;
        if (key_is(key, klen, "major"))
                set_text(&e->sparse_major, v, vlen);
        else if (key_is(key, klen, "minor"))
                set_text(&e->sparse_minor, v, vlen);
        else if (key_is(key, klen, "name"))
                set_text(&e->sparse_name, v, vlen);
        else if (key_is(key, klen, "size"))
                return parse_decimal(v, end, &e->sparse_size);
        else if (key_is(key, klen, "realsize"))
                return parse_decimal(v, end, &e->sparse_realsize);
        else if (key_is(key, klen, "numblocks"))
                return parse_decimal(v, end, &e->sparse_numblocks);
        else if (key_is(key, klen, "map"))
                set_text(&e->sparse_map, v, vlen);
        else if (key_is(key, klen, "offset") || key_is(key, klen, "numbytes"))
                return add_sparse_0_0(e, key_is(key, klen, "offset"), v, vlen);
        return 0;
}

/*
 * One pax record's keyword and value; unknown keywords are ignored, as POSIX asks. As in Go's
 * archive/tar, an empty value is a value (an empty path, a number that does not parse), and names
 * may not hold NULs: a layer must mean the same to crio-c as to the tools that built or scanned it.
 */
static int apply_pax_record(Pax *e, const char *key, size_t klen, const char *v, size_t vlen) {
        const char *end = v + vlen;
        bool is_name = key_is(key, klen, "path") || key_is(key, klen, "linkpath") ||
                       key_is(key, klen, "uname") || key_is(key, klen, "gname");
        if (memchr(is_name ? v : key, '\0', is_name ? vlen : klen))
                return -EBADMSG;
        if (key_is(key, klen, "path"))
                set_text(&e->path, v, vlen);
        else if (key_is(key, klen, "linkpath"))
                set_text(&e->linkpath, v, vlen);
        else if (key_is(key, klen, "size"))
                return set_number(v, end, &e->has_size, &e->size);
        else if (key_is(key, klen, "uid"))
                return set_number(v, end, &e->has_uid, &e->uid);
        else if (key_is(key, klen, "gid"))
                return set_number(v, end, &e->has_gid, &e->gid);
        else if (key_is(key, klen, "mtime"))
                return set_time(v, end, &e->has_mtime, &e->mtime);
        else if (key_is(key, klen, "atime"))
                return set_time(v, end, &e->has_atime, &e->atime);
        else if (klen > strlen(XATTR_KEY) && memcmp(key, XATTR_KEY, strlen(XATTR_KEY)) == 0)
                add_xattr(e, key + strlen(XATTR_KEY), klen - strlen(XATTR_KEY), v, vlen);
        else if (klen > strlen(SPARSE_KEY) && memcmp(key, SPARSE_KEY, strlen(SPARSE_KEY)) == 0)
                return apply_sparse_record(e, key + strlen(SPARSE_KEY), klen - strlen(SPARSE_KEY), v, vlen);
        return 0;
}

/* Records are "LENGTH KEYWORD=VALUE\n", LENGTH counting the whole record; values may hold NULs. */
static int parse_pax(Pax *e, const char *data, size_t size, Error **reterr) {
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

/*
 * GNU long names count their NUL terminator in their size; the text stops at the first NUL anyway.
 * An empty one leaves the header's name, as in Go's archive/tar.
 */
static int read_long_name(TarReader *r, int64_t size, char **dst, Error **reterr) {
        char *text = NULL;
        int k = read_extension(r, size, &text, reterr);
        if (k < 0)
                return k;
        free(*dst);
        *dst = *text ? text : mfree(text);
        return 0;
}

static int read_pax(TarReader *r, int64_t size, Error **reterr) {
        _cleanup_free_ char *data = NULL;
        int k = read_extension(r, size, &data, reterr);
        if (k < 0)
                return k;
        pax_clear(&r->ext.pax);
        return parse_pax(&r->ext.pax, data, (size_t)size, reterr);
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

/* star: ustar's magic with "tar\0" in the last bytes; its prefix is shorter, times follow it. */
static bool is_star(const uint8_t *h) {
        return is_ustar(h) && memcmp(h + F_STAR_TRAILER, "tar\0", 4) == 0;
}

static bool is_ascii(const char *s) {
        for (; *s; s++)
                if ((unsigned char)*s >= 0x80)
                        return false;
        return true;
}

/*
 * GNU keeps atime and ctime where ustar has its prefix. Go before 1.8 wrote a prefix there in GNU
 * headers, so, as Go's archive/tar does, times that do not parse are read as such a prefix.
 */
static char *gnu_times(const uint8_t *h, TarEntry *e) {
        int64_t atime = 0, ctime = 0;
        if ((h[F_GNU_ATIME] && parse_number(h + F_GNU_ATIME, 12, &atime) < 0) ||
            (h[F_GNU_CTIME] && parse_number(h + F_GNU_CTIME, 12, &ctime) < 0)) {
                _cleanup_free_ char *prefix = field_string(h + F_PREFIX, 155);
                return is_ascii(prefix) ? TAKE_PTR(prefix) : NULL;
        }
        if (atime) {
                e->has_atime = true;
                e->atime = (struct timespec){.tv_sec = atime};
        }
        return NULL;
}

/* The header's own name: ustar and star (and Go's old GNU headers) split long ones in two. */
static char *header_name(const uint8_t *h, const char *gnu_prefix) {
        _cleanup_free_ char *name = field_string(h + F_NAME, 100), *prefix = NULL;
        if (is_star(h))
                prefix = field_string(h + F_PREFIX, 131);
        else if (is_ustar(h))
                prefix = field_string(h + F_PREFIX, 155);
        else if (gnu_prefix)
                prefix = xstrdup(gnu_prefix);
        if (isempty(prefix))
                return TAKE_PTR(name);
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

/* Device numbers exist from ustar on; in a v7 header those bytes mean nothing (Go reads 0, 0). */
static int header_numbers(const uint8_t *h, TarEntry *e, int64_t *ret_size) {
        int64_t mode, mtime, major = 0, minor = 0;
        if (parse_number(h + F_MODE, 8, &mode) < 0 || parse_number(h + F_UID, 8, &e->uid) < 0 ||
            parse_number(h + F_GID, 8, &e->gid) < 0 || parse_number(h + F_SIZE, 12, ret_size) < 0 ||
            parse_number(h + F_MTIME, 12, &mtime) < 0)
                return -EBADMSG;
        e->perm = (mode_t)(mode & 07777);
        e->mtime = (struct timespec){.tv_sec = mtime};
        if ((e->type == TAR_CHAR || e->type == TAR_BLOCK) && (is_ustar(h) || is_gnu(h)) &&
            (parse_number(h + F_DEVMAJOR, 8, &major) < 0 || parse_number(h + F_DEVMINOR, 8, &minor) < 0 ||
             major < 0 || major > UINT32_MAX || minor < 0 || minor > UINT32_MAX))
                return -EBADMSG;
        e->dev_major = (uint32_t)major;
        e->dev_minor = (uint32_t)minor;
        return 0;
}

/* ---- Sparse files: where the stored bytes go ------------------------------------------------ */

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

/*
 * Reads `len` bytes of a sparse map: -EBADMSG (no message) when the stream ends first, else the
 * source's error with its message.
 */
static int take_map_bytes(TarReader *r, uint8_t *dst, size_t len, Error **reterr) {
        ssize_t n = take(r, dst, len, reterr);
        return n < 0 ? (int)n : (size_t)n < len ? -EBADMSG : 0;
}

/* typeflag 'S' (GNU headers only): four pairs in the header, more in blocks before the data. */
static int read_gnu_sparse_map(TarReader *r, int64_t *ret_real_size, Error **reterr) {
        if (!is_gnu(r->block))
                return -EBADMSG;
        int k = add_gnu_pairs(r, r->block + F_GNU_SPARSE, 4);
        bool more = r->block[F_GNU_EXTENDED] != 0;
        if (k < 0 || parse_number(r->block + F_GNU_REALSIZE, 12, ret_real_size) < 0)
                return -EBADMSG;
        while (more) {
                uint8_t ext[BLOCK];
                k = take_map_bytes(r, ext, BLOCK, reterr);
                if (k < 0)
                        return k;
                if (add_gnu_pairs(r, ext, EXT_BLOCK_PAIRS) < 0)
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
static int read_pax_1_0_map(TarReader *r, Error **reterr) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0, lines = 0, want = 0; /* want: 1 + 2 * COUNT lines, once COUNT is known */
        const char *end = NULL;              /* just past the last line of the map */
        while (!end) {
                if (len >= EXTENSION_MAX || r->data_left < BLOCK)
                        return -EBADMSG;
                text = xrealloc(text, len + BLOCK);
                int k = take_map_bytes(r, (uint8_t *)text + len, BLOCK, reterr);
                if (k < 0)
                        return k;
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

/* 0.0 and 0.1: the map in a record, with the number of pairs in another. */
static int read_pax_0_x_map(TarReader *r, const Pax *x) {
        _cleanup_free_ int64_t *v = NULL;
        size_t n;
        const char *map = strempty(x->sparse_map);
        if (x->sparse_numblocks < 0 || parse_number_list(map, map + strlen(map), ',', &v, &n) < 0 ||
            n != 2 * (uint64_t)x->sparse_numblocks)
                return -EBADMSG;
        return add_pairs(r, v, n);
}

typedef enum PaxSparse { PAX_NOT_SPARSE, PAX_SPARSE_0_X, PAX_SPARSE_1_0 } PaxSparse;

/* Which of GNU's pax sparse formats the records describe, decided as Go's archive/tar does. */
static PaxSparse pax_sparse_format(const Pax *x) {
        const char *major = x->sparse_major, *minor = x->sparse_minor;
        if (streq_ptr(major, "0") && (streq_ptr(minor, "0") || streq_ptr(minor, "1")))
                return PAX_SPARSE_0_X;
        if (streq_ptr(major, "1") && streq_ptr(minor, "0"))
                return PAX_SPARSE_1_0;
        if (major || minor) /* a version nobody wrote: a plain file */
                return PAX_NOT_SPARSE;
        return !isempty(x->sparse_map) ? PAX_SPARSE_0_X : PAX_NOT_SPARSE;
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

/* The sparse map and the file's size with its holes: -EBADMSG when malformed. */
static int read_sparse_map(TarReader *r, bool gnu_sparse, PaxSparse pax, int64_t *real_size,
                           Error **reterr) {
        const Pax *x = &r->ext.pax;
        if (gnu_sparse)
                return read_gnu_sparse_map(r, real_size, reterr);
        /* GNU.sparse.size wins over GNU.sparse.realsize; without either the stored size stays. */
        if (x->sparse_size >= 0 || x->sparse_realsize >= 0)
                *real_size = x->sparse_size >= 0 ? x->sparse_size : x->sparse_realsize;
        return pax == PAX_SPARSE_1_0 ? read_pax_1_0_map(r, reterr) : read_pax_0_x_map(r, x);
}

/* Where the entry's data goes: one segment for a plain file, the map for a sparse one. */
static int map_data(TarReader *r, bool gnu_sparse, PaxSparse pax, Error **reterr) {
        TarEntry *e = &r->entry;
        if (!gnu_sparse && pax == PAX_NOT_SPARSE) {
                r->segment_left = e->size;
                return add_segment(r, 0, e->size);
        }
        int64_t real_size = e->size;
        int k = e->type == TAR_FILE ? read_sparse_map(r, gnu_sparse, pax, &real_size, reterr) : -EBADMSG;
        if (k < 0 && k != -EBADMSG)
                return k;
        if (k < 0 || real_size < 0 || !segments_valid(r, real_size))
                return error_set(reterr, EBADMSG, "malformed tar data: a bad sparse map in entry '%s'",
                                 e->path);
        e->size = real_size;
        r->segment_left = r->n_segments ? r->segments[0].length : 0;
        return 0;
}

/* The entry's names: GNU long ones over pax over the header's, and a pax sparse file's own name. */
static void entry_names(TarReader *r, PaxSparse pax) {
        Extension *x = &r->ext;
        TarEntry *e = &r->entry;
        const uint8_t *h = r->block;
        _cleanup_free_ char *gnu_prefix = is_gnu(h) ? gnu_times(h, e) : NULL;
        e->path = x->long_name  ? TAKE_PTR(x->long_name)
                  : x->pax.path ? TAKE_PTR(x->pax.path)
                                : header_name(h, gnu_prefix);
        if (pax != PAX_NOT_SPARSE && !isempty(x->pax.sparse_name)) {
                free(e->path);
                e->path = TAKE_PTR(x->pax.sparse_name);
        }
        if (e->type == TAR_HARDLINK || e->type == TAR_SYMLINK)
                e->link_target = x->long_link      ? TAKE_PTR(x->long_link)
                                 : x->pax.linkpath ? TAKE_PTR(x->pax.linkpath)
                                                   : field_string(h + F_LINKNAME, 100);
}

static void apply_pax(Pax *x, TarEntry *e, int64_t *size) {
        if (x->has_size)
                *size = x->size;
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
}

/* Header fields, then what the extensions before it override. */
static int build_entry(TarReader *r, Error **reterr) {
        const uint8_t *h = r->block;
        TarEntry *e = &r->entry;
        char flag = (char)h[F_TYPE];
        bool gnu_sparse = flag == 'S';
        PaxSparse pax = pax_sparse_format(&r->ext.pax);

        /* The type first: a trailing slash on the header's own name can make a directory. */
        _cleanup_free_ char *raw = field_string(h + F_NAME, 100);
        if (entry_type(gnu_sparse ? '0' : flag, r->ext.long_name ?: r->ext.pax.path ?: raw, &e->type) < 0)
                return error_set(reterr, EBADMSG, "layer entry '%s' has an unsupported type '%c'", raw,
                                 flag >= ' ' && flag < 127 ? flag : '?');
        int64_t size;
        if (header_numbers(h, e, &size) < 0)
                return error_set(reterr, EBADMSG, "malformed tar data: a bad number in entry '%s'", raw);
        entry_names(r, pax);
        apply_pax(&r->ext.pax, e, &size);
        if (size < 0 || size > ENTRY_SIZE_MAX)
                return error_set(reterr, EBADMSG, "malformed tar data: entry '%s' has a size of %" PRId64,
                                 e->path, size);
        /* As in Go's archive/tar, only regular files carry data; other types' sizes are ignored. */
        e->size = e->type == TAR_FILE ? size : 0;
        r->data_left = e->size;
        r->padding_left = padding_of(e->size);
        return map_data(r, gnu_sparse, pax, reterr);
}

int tar_reader_next(TarReader *r, const TarEntry **ret, Error **reterr) {
        int k = skip_exactly(r, r->data_left, reterr);
        if (k >= 0)
                k = skip_exactly(r, r->padding_left, reterr);
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
                if (parse_number(r->block + F_SIZE, 12, &size) < 0 || size < 0 || size > ENTRY_SIZE_MAX)
                        return error_set(reterr, EBADMSG, "malformed tar data: a bad size field");
                switch (r->block[F_TYPE]) {
                case 'x':
                        k = read_pax(r, size, reterr);
                        break;
                case 'g':
                        /* Go's archive/tar hands these out as entries of their own, which its users
                         * skip: what came before it applies to nothing. */
                        extension_clear(&r->ext);
                        k = skip_exactly(r, size, reterr);
                        if (k >= 0)
                                k = skip_exactly(r, padding_of(size), reterr);
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
