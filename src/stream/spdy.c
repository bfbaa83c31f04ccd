/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "spdy.h"

/*
 * The SPDY/3 header dictionary: the specification defines it as these words, each preceded by its length
 * as a 32-bit big-endian number, followed by a run of raw text.
 */
static const char *const dict_words[] = {
        "options",
        "head",
        "post",
        "put",
        "delete",
        "trace",
        "accept",
        "accept-charset",
        "accept-encoding",
        "accept-language",
        "accept-ranges",
        "age",
        "allow",
        "authorization",
        "cache-control",
        "connection",
        "content-base",
        "content-encoding",
        "content-language",
        "content-length",
        "content-location",
        "content-md5",
        "content-range",
        "content-type",
        "date",
        "etag",
        "expect",
        "expires",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-range",
        "if-unmodified-since",
        "last-modified",
        "location",
        "max-forwards",
        "pragma",
        "proxy-authenticate",
        "proxy-authorization",
        "range",
        "referer",
        "retry-after",
        "server",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "vary",
        "via",
        "warning",
        "www-authenticate",
        "method",
        "get",
        "status",
        "200 OK",
        "version",
        "HTTP/1.1",
        "url",
        "public",
        "set-cookie",
        "keep-alive",
        "origin",
};

static const char dict_tail[] =
        "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
        "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
        "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
        "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
        "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
        "text/"
        "javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";

static uint8_t dict[1423];
static size_t dict_len;
static pthread_once_t dict_once = PTHREAD_ONCE_INIT;

static void dict_build(void) {
        size_t n = 0;
        for (size_t i = 0; i < ELEMENTSOF(dict_words); i++) {
                size_t w = strlen(dict_words[i]);
                uint8_t len[4] = {0, 0, 0, (uint8_t)w};
                memcpy(dict + n, len, 4);
                memcpy(dict + n + 4, dict_words[i], w);
                n += 4 + w;
        }
        memcpy(dict + n, dict_tail, sizeof(dict_tail) - 1);
        dict_len = n + sizeof(dict_tail) - 1;
}

const uint8_t *spdy_dictionary(size_t *ret_len) {
        pthread_once(&dict_once, dict_build);
        *ret_len = dict_len;
        return dict;
}

static bool has_stream_id(uint16_t type) {
        return type == SPDY_SYN_STREAM || type == SPDY_SYN_REPLY || type == SPDY_RST_STREAM ||
               type == SPDY_HEADERS || type == SPDY_WINDOW_UPDATE;
}

/* Control frames whose payload has one fixed size (SPDY/3 section 2.6). */
static int control_length_ok(uint16_t type, uint32_t length) {
        switch (type) {
        case SPDY_SYN_STREAM:
                return length >= 10;
        case SPDY_SYN_REPLY:
        case SPDY_HEADERS:
                return length >= 4;
        case SPDY_RST_STREAM:
        case SPDY_GOAWAY:
        case SPDY_WINDOW_UPDATE:
                return length == 8;
        case SPDY_PING:
                return length == 4;
        case SPDY_SETTINGS:
                return length >= 4;
        default:
                return true; /* unknown types are skipped, as the specification asks */
        }
}

int spdy_frame_parse(const uint8_t *buf, size_t len, uint32_t max_payload, SpdyFrame *ret) {
        if (len < 8)
                return 0;
        SpdyFrame f = {.control = buf[0] & 0x80, .flags = buf[4]};
        f.length = (uint32_t)buf[5] << 16 | (uint32_t)buf[6] << 8 | buf[7];
        if (f.length > max_payload)
                return -EMSGSIZE;
        if (len < 8 + (size_t)f.length)
                return 0;
        f.payload = buf + 8;
        if (!f.control) {
                f.stream_id = be32(buf) & 0x7fffffff;
        } else {
                f.version = be16(buf) & 0x7fff;
                f.type = be16(buf + 2);
                if (f.version != SPDY_VERSION || !control_length_ok(f.type, f.length))
                        return -EPROTO;
                if (has_stream_id(f.type))
                        f.stream_id = be32(f.payload) & 0x7fffffff;
        }
        *ret = f;
        return (int)(8 + f.length);
}

int spdy_z_init(SpdyZ *z) {
        *z = (SpdyZ){};
        if (inflateInit(&z->in) != Z_OK)
                return -ENOMEM;
        z->in_ready = true;
        if (deflateInit(&z->out, Z_DEFAULT_COMPRESSION) != Z_OK) {
                spdy_z_done(z);
                return -ENOMEM;
        }
        z->out_ready = true;
        size_t n;
        const uint8_t *d = spdy_dictionary(&n);
        if (deflateSetDictionary(&z->out, d, (uInt)n) != Z_OK) {
                spdy_z_done(z);
                return -EINVAL;
        }
        return 0;
}

void spdy_z_done(SpdyZ *z) {
        if (z->in_ready)
                inflateEnd(&z->in);
        if (z->out_ready)
                deflateEnd(&z->out);
        z->in_ready = z->out_ready = false;
}

void spdy_headers_done(SpdyHeaders *h) {
        free(h->block);
        free(h->items);
        *h = (SpdyHeaders){};
}

char *spdy_headers_get(const SpdyHeaders *h, const char *name) {
        size_t n = strlen(name);
        for (size_t i = 0; i < h->n; i++)
                if (h->items[i].name_len == n && memcmp(h->items[i].name, name, n) == 0)
                        return xstrndup(h->items[i].value,
                                        strnlen(h->items[i].value, h->items[i].value_len));
        return NULL;
}

/* Inflate all of `block` into at most max_bytes; the block ends on a sync flush, so all of it comes out. */
static int inflate_block(z_stream *s, const uint8_t *block, size_t len, size_t max_bytes, Buf *out) {
        s->next_in = (Bytef *)block;
        s->avail_in = (uInt)len;
        while (s->avail_in > 0) {
                buf_reserve(out, 4096);
                s->next_out = out->data + out->len;
                s->avail_out = (uInt)(out->cap - out->len);
                int r = inflate(s, Z_SYNC_FLUSH);
                if (r == Z_NEED_DICT) {
                        size_t n;
                        const uint8_t *d = spdy_dictionary(&n);
                        if (inflateSetDictionary(s, d, (uInt)n) != Z_OK)
                                return -EPROTO;
                        r = Z_OK;
                }
                out->len = out->cap - s->avail_out;
                if (out->len > max_bytes)
                        return -EMSGSIZE;
                if (r == Z_BUF_ERROR && s->avail_out > 0)
                        return -EPROTO; /* no progress with input left: truncated or corrupt */
                if (r != Z_OK && r != Z_BUF_ERROR)
                        return -EPROTO;
        }
        return 0;
}

/* Split "count, (len name len value)*" into headers; every length is checked against what is left. */
static int split_block(const uint8_t *p, size_t len, size_t max_headers, SpdyHeaders *h) {
        if (len < 4)
                return -EPROTO;
        uint32_t count = be32(p);
        if (count > max_headers)
                return -EMSGSIZE;
        size_t off = 4;
        h->items = xcalloc(count ? count : 1, sizeof(SpdyHeader));
        for (uint32_t i = 0; i < count; i++) {
                SpdyHeader *x = &h->items[i];
                for (int part = 0; part < 2; part++) {
                        if (len - off < 4)
                                return -EPROTO;
                        uint32_t n = be32(p + off);
                        off += 4;
                        if (n > len - off)
                                return -EPROTO;
                        if (part == 0) {
                                x->name = (const char *)p + off;
                                x->name_len = n;
                        } else {
                                x->value = (const char *)p + off;
                                x->value_len = n;
                        }
                        off += n;
                }
                h->n++;
        }
        return 0;
}

int spdy_headers_decode(SpdyZ *z, const uint8_t *block, size_t len, size_t max_bytes, size_t max_headers,
                        SpdyHeaders *ret) {
        Buf out = {};
        int r = inflate_block(&z->in, block, len, max_bytes, &out);
        if (r < 0) {
                buf_done(&out);
                return r;
        }
        SpdyHeaders h = {.block = out.data};
        r = split_block(out.data, out.len, max_headers, &h);
        if (r < 0) {
                spdy_headers_done(&h);
                return r;
        }
        *ret = h;
        return 0;
}

static void put_control_header(Buf *out, uint16_t type, uint8_t flags, uint32_t length) {
        buf_put_be16(out, 0x8000 | SPDY_VERSION);
        buf_put_be16(out, type);
        buf_put_be32(out, (uint32_t)flags << 24 | (length & 0xffffff));
}

void spdy_put_data(Buf *out, uint32_t stream_id, uint8_t flags, const void *data, size_t len) {
        buf_put_be32(out, stream_id & 0x7fffffff);
        buf_put_be32(out, (uint32_t)flags << 24 | (uint32_t)(len & 0xffffff));
        buf_append(out, data, len);
}

/* Compress a header block with the session's deflate stream (sync flush: the peer inflates it at once). */
static int deflate_block(SpdyZ *z, const char *const *pairs, size_t n_pairs, Buf *ret) {
        Buf plain = {};
        buf_put_be32(&plain, (uint32_t)n_pairs);
        for (size_t i = 0; i < 2 * n_pairs; i++) {
                size_t n = strlen(pairs[i]);
                buf_put_be32(&plain, (uint32_t)n);
                buf_append(&plain, pairs[i], n);
        }
        z->out.next_in = plain.data;
        z->out.avail_in = (uInt)plain.len;
        int r = 0;
        do {
                buf_reserve(ret, 256);
                z->out.next_out = ret->data + ret->len;
                z->out.avail_out = (uInt)(ret->cap - ret->len);
                if (deflate(&z->out, Z_SYNC_FLUSH) == Z_STREAM_ERROR)
                        r = -EINVAL;
                ret->len = ret->cap - z->out.avail_out;
        } while (r == 0 && z->out.avail_out == 0);
        buf_done(&plain);
        return r;
}

int spdy_put_headers_frame(Buf *out, SpdyZ *z, uint16_t type, uint32_t stream_id, uint8_t flags,
                           const char *const *pairs, size_t n_pairs) {
        Buf block = {};
        int r = deflate_block(z, pairs, n_pairs, &block);
        if (r >= 0) {
                put_control_header(out, type, flags, (uint32_t)(4 + block.len));
                buf_put_be32(out, stream_id & 0x7fffffff);
                buf_append(out, block.data, block.len);
        }
        buf_done(&block);
        return r;
}

int spdy_put_syn_stream(Buf *out, SpdyZ *z, uint32_t stream_id, uint8_t flags, const char *const *pairs,
                        size_t n_pairs) {
        Buf block = {};
        int r = deflate_block(z, pairs, n_pairs, &block);
        if (r >= 0) {
                put_control_header(out, SPDY_SYN_STREAM, flags, (uint32_t)(10 + block.len));
                buf_put_be32(out, stream_id & 0x7fffffff);
                buf_put_be32(out, 0); /* associated stream */
                buf_put_be16(out, 0); /* priority, slot */
                buf_append(out, block.data, block.len);
        }
        buf_done(&block);
        return r;
}

void spdy_put_rst(Buf *out, uint32_t stream_id, uint32_t status) {
        put_control_header(out, SPDY_RST_STREAM, 0, 8);
        buf_put_be32(out, stream_id & 0x7fffffff);
        buf_put_be32(out, status);
}

void spdy_put_ping(Buf *out, uint32_t id) {
        put_control_header(out, SPDY_PING, 0, 4);
        buf_put_be32(out, id);
}

void spdy_put_goaway(Buf *out, uint32_t last_stream_id, uint32_t status) {
        put_control_header(out, SPDY_GOAWAY, 0, 8);
        buf_put_be32(out, last_stream_id & 0x7fffffff);
        buf_put_be32(out, status);
}

void spdy_put_window_update(Buf *out, uint32_t stream_id, uint32_t delta) {
        put_control_header(out, SPDY_WINDOW_UPDATE, 0, 8);
        buf_put_be32(out, stream_id & 0x7fffffff);
        buf_put_be32(out, delta & 0x7fffffff);
}
