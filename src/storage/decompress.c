/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include "decompress.h"

struct Decompressor {
        LayerCompression compression;
        uint8_t *buffer; /* DECOMPRESS_CHUNK_SIZE bytes of output, unless the caller gives room */
        DecompressOutputFn output;
        void *output_userdata;
        bool seen_input;
        Error *error; /* sticky: the first failure, replayed to every later call */

        struct inflate_state *gzip; /* ~90 KiB of state: on the heap, not the caller's stack */
        bool in_member;             /* a gzip member started and its trailer was not checked yet */

        ZSTD_DCtx *zstd;
        size_t zstd_hint; /* last ZSTD_decompressStream() result: 0 exactly at a frame boundary */
};

Decompressor *decompressor_new(LayerCompression compression) {
        Decompressor *d = xcalloc(1, sizeof(*d));
        d->compression = compression;
        if (compression == COMPRESSION_GZIP) {
                d->gzip = xmalloc(sizeof(*d->gzip));
                isal_inflate_init(d->gzip);
        } else if (compression == COMPRESSION_ZSTD) {
                d->zstd = ZSTD_createDCtx();
                if (!d->zstd)
                        abort();
        }
        if (compression != COMPRESSION_NONE)
                d->buffer = xmalloc(DECOMPRESS_CHUNK_SIZE);
        return d;
}

Decompressor *decompressor_free(Decompressor *d) {
        if (!d)
                return NULL;
        free(d->gzip);
        ZSTD_freeDCtx(d->zstd);
        free(d->buffer);
        error_free(d->error);
        free(d);
        return NULL;
}

void decompressor_freep(Decompressor **d) {
        *d = decompressor_free(*d);
}

void decompressor_set_output(Decompressor *d, DecompressOutputFn fn, void *userdata) {
        d->output = fn;
        d->output_userdata = userdata;
        d->buffer = mfree(d->buffer);
}

static const char *isal_error_to_string(int r) {
        switch (r) {
        case ISAL_INVALID_BLOCK:
                return "invalid deflate block";
        case ISAL_INVALID_SYMBOL:
                return "invalid deflate symbol";
        case ISAL_INVALID_LOOKBACK:
                return "invalid deflate distance";
        case ISAL_INVALID_WRAPPER:
                return "invalid gzip header";
        case ISAL_UNSUPPORTED_METHOD:
                return "unsupported compression method";
        case ISAL_INCORRECT_CHECKSUM:
                return "checksum mismatch";
        case ISAL_NEED_DICT:
                return "preset dictionary required";
        default:
                return "invalid data";
        }
}

/* Record the first failure so that every later call reports it too. */
static int fail(Decompressor *d, Error **reterr, int errnum, const char *message) {
        if (!d->error)
                error_set(&d->error, errnum, "%s", message);
        return error_set(reterr, d->error->code, "%s", d->error->message);
}

/* The sink failed: its error stands, and the stream state is now mid-block, so it is final too. */
static int sink_failed(Decompressor *d, int r, Error **reterr) {
        if (!d->error)
                error_set(&d->error, r, "%s", reterr && *reterr ? (*reterr)->message : "output failed");
        return error_set(reterr, r, "output failed");
}

/* Room for the next piece of output: the caller's, or our own buffer. */
static int output_room(Decompressor *d, uint8_t **ret_buf, size_t *ret_size, Error **reterr) {
        if (!d->output) {
                *ret_buf = d->buffer;
                *ret_size = DECOMPRESS_CHUNK_SIZE;
                return 0;
        }
        void *buf = NULL;
        size_t size = 0;
        int r = d->output(d->output_userdata, &buf, &size, reterr);
        if (r < 0)
                return sink_failed(d, r, reterr);
        if (size == 0)
                return fail(d, reterr, EINVAL, "no room for decompressed data");
        *ret_buf = buf;
        *ret_size = size;
        return 0;
}

static int emit(Decompressor *d, const void *data, size_t len, DecompressSink sink, void *userdata,
                Error **reterr) {
        int r = sink(data, len, userdata, reterr);
        return r < 0 ? sink_failed(d, r, reterr) : 0;
}

/*
 * Inflate everything in d->gzip's input. A member ends in state ISAL_BLOCK_FINISH with its trailer
 * verified and the bytes after it left in next_in; those must start another member (gzip(1)
 * concatenates members, and so may a registry client), so the state is reset to parse a new header.
 * Bytes that are not a gzip header then fail as ISAL_INVALID_WRAPPER, which rejects trailing garbage
 * the way Go's gzip reader does.
 */
static int gzip_run(Decompressor *d, DecompressSink sink, void *userdata, Error **reterr) {
        struct inflate_state *s = d->gzip;

        for (;;) {
                if (!d->in_member) {
                        if (s->avail_in == 0)
                                return 0;
                        isal_inflate_reset(s);
                        s->crc_flag = ISAL_GZIP;
                        d->in_member = true;
                }
                uint8_t *out;
                size_t room;
                int r = output_room(d, &out, &room, reterr);
                if (r < 0)
                        return r;
                /* ISA-L counts output in 32 bits too. */
                s->next_out = out;
                s->avail_out = room > UINT32_MAX ? UINT32_MAX : (uint32_t)room;
                size_t offered = s->avail_out;
                r = isal_inflate(s);
                if (r != ISAL_DECOMP_OK && r != ISAL_END_INPUT) {
                        _cleanup_free_ char *m = xasprintf("corrupt gzip data: %s", isal_error_to_string(r));
                        return fail(d, reterr, EBADMSG, m);
                }
                size_t produced = offered - s->avail_out;
                if (produced > 0) {
                        r = emit(d, out, produced, sink, userdata, reterr);
                        if (r < 0)
                                return r;
                }
                if (s->block_state == ISAL_BLOCK_FINISH)
                        d->in_member = false;
                else if (s->avail_in == 0 && s->avail_out > 0)
                        return 0; /* all input used and all output it allows flushed */
        }
}

static int gzip_feed(Decompressor *d, const uint8_t *data, size_t len, DecompressSink sink, void *userdata,
                     Error **reterr) {
        while (len > 0) {
                /* ISA-L counts input in 32 bits. */
                uint32_t n = len > UINT32_MAX ? UINT32_MAX : (uint32_t)len;
                d->gzip->next_in = (uint8_t *)data;
                d->gzip->avail_in = n;
                int r = gzip_run(d, sink, userdata, reterr);
                if (r < 0)
                        return r;
                data += n;
                len -= n;
        }
        return 0;
}

/* ZSTD_decompressStream() moves on to the next frame by itself, so concatenated frames just work. */
static int zstd_feed(Decompressor *d, const void *data, size_t len, DecompressSink sink, void *userdata,
                     Error **reterr) {
        ZSTD_inBuffer in = {data, len, 0};

        for (;;) {
                uint8_t *room_buf;
                size_t room;
                int r = output_room(d, &room_buf, &room, reterr);
                if (r < 0)
                        return r;
                ZSTD_outBuffer out = {room_buf, room, 0};
                size_t z = ZSTD_decompressStream(d->zstd, &out, &in);
                if (ZSTD_isError(z)) {
                        _cleanup_free_ char *m = xasprintf("corrupt zstd data: %s", ZSTD_getErrorName(z));
                        return fail(d, reterr, EBADMSG, m);
                }
                d->zstd_hint = z;
                if (out.pos > 0) {
                        r = emit(d, room_buf, out.pos, sink, userdata, reterr);
                        if (r < 0)
                                return r;
                }
                /* A full output buffer may mean more output is pending even with no input left. */
                if (in.pos == in.size && out.pos < out.size)
                        return 0;
        }
}

int decompressor_feed(Decompressor *d, const void *data, size_t len, DecompressSink sink, void *userdata,
                      Error **reterr) {
        if (d->error)
                return error_set(reterr, d->error->code, "%s", d->error->message);
        if (len == 0)
                return 0;
        d->seen_input = true;

        switch (d->compression) {
        case COMPRESSION_GZIP:
                return gzip_feed(d, data, len, sink, userdata, reterr);
        case COMPRESSION_ZSTD:
                return zstd_feed(d, data, len, sink, userdata, reterr);
        default:
                return emit(d, data, len, sink, userdata, reterr);
        }
}

int decompressor_finish(Decompressor *d, Error **reterr) {
        if (d->error)
                return error_set(reterr, d->error->code, "%s", d->error->message);

        const char *name = d->compression == COMPRESSION_GZIP ? "gzip" : "zstd";
        if (d->compression == COMPRESSION_NONE)
                return 0;
        if (!d->seen_input) {
                _cleanup_free_ char *m = xasprintf("empty %s stream", name);
                return fail(d, reterr, EBADMSG, m);
        }
        if ((d->compression == COMPRESSION_GZIP && d->in_member) ||
            (d->compression == COMPRESSION_ZSTD && d->zstd_hint != 0)) {
                _cleanup_free_ char *m = xasprintf("truncated %s stream", name);
                return fail(d, reterr, EBADMSG, m);
        }
        return 0;
}
