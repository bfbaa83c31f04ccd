/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <isa-l/igzip_lib.h>
#include <zstd.h>

#include "decompress.h"

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

/* Half random, half repetitive, so that deflate emits both stored and coded blocks. */
static uint8_t *make_payload(size_t len) {
        uint8_t *p = xmalloc(len);
        uint32_t x = 12345;
        for (size_t i = 0; i < len; i++) {
                x = x * 1103515245 + 12345;
                p[i] = (i / 4096) % 2 ? (uint8_t)(x >> 16) : (uint8_t)("layer data "[i % 11]);
        }
        return p;
}

/* One gzip member, written by ISA-L's own compressor. */
static void gzip_member(Buffer *out, const void *data, size_t len) {
        struct isal_zstream s;
        size_t cap = len + len / 2 + 1024;
        uint8_t *level_buf = xmalloc(ISAL_DEF_LVL1_DEFAULT);
        uint8_t *dst = xmalloc(cap);

        isal_deflate_stateless_init(&s);
        s.level = 1;
        s.level_buf = level_buf;
        s.level_buf_size = ISAL_DEF_LVL1_DEFAULT;
        s.gzip_flag = IGZIP_GZIP;
        s.end_of_stream = 1;
        s.next_in = (uint8_t *)data;
        s.avail_in = (uint32_t)len;
        s.next_out = dst;
        s.avail_out = (uint32_t)cap;
        assert_int_equal(isal_deflate_stateless(&s), COMP_OK);
        buffer_append(out, dst, s.total_out);
        free(dst);
        free(level_buf);
}

/* With a content checksum, as the zstd tool writes by default, so that corruption is always seen. */
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

typedef struct Sink {
        Buffer out;
        size_t max_piece;
        int fail_after; /* fail the call after this many pieces; -1 never */
        int calls;
} Sink;

static int collect(const void *data, size_t len, void *userdata, Error **reterr) {
        Sink *s = userdata;
        if (s->fail_after >= 0 && s->calls++ >= s->fail_after)
                return error_set(reterr, ENOSPC, "sink full");
        if (len > s->max_piece)
                s->max_piece = len;
        buffer_append(&s->out, data, len);
        return 0;
}

/* Feed `in` in pieces of `chunk` bytes; returns the first error (feed or finish), output in `s`. */
static int run(LayerCompression c, const Buffer *in, size_t chunk, Sink *s, Error **reterr) {
        _cleanup_(decompressor_freep) Decompressor *d = decompressor_new(c);
        for (size_t off = 0; off < in->len; off += chunk) {
                size_t n = in->len - off < chunk ? in->len - off : chunk;
                int r = decompressor_feed(d, in->data + off, n, collect, s, reterr);
                if (r < 0)
                        return r;
        }
        return decompressor_finish(d, reterr);
}

static void assert_roundtrip(LayerCompression c, const Buffer *in, const uint8_t *expect, size_t len,
                             size_t chunk) {
        Sink s = {.fail_after = -1};
        _cleanup_error_ Error *e = NULL;
        int r = run(c, in, chunk, &s, &e);
        if (r < 0)
                print_error("chunk %zu: %s\n", chunk, e->message);
        assert_int_equal(r, 0);
        assert_int_equal(s.out.len, len);
        assert_memory_equal(s.out.data, expect, len);
        if (c != COMPRESSION_NONE)
                assert_true(s.max_piece <= DECOMPRESS_CHUNK_SIZE);
        buffer_done(&s.out);
}

static void assert_fails(LayerCompression c, const Buffer *in, size_t chunk, int expect) {
        Sink s = {.fail_after = -1};
        _cleanup_error_ Error *e = NULL;
        assert_int_equal(run(c, in, chunk, &s, &e), expect);
        assert_non_null(e);
        buffer_done(&s.out);
}

static void test_none_passthrough(void **state) {
        _cleanup_free_ uint8_t *p = make_payload(100000);
        Buffer in = {.data = p, .len = 100000};
        assert_roundtrip(COMPRESSION_NONE, &in, p, 100000, 1000);
        assert_roundtrip(COMPRESSION_NONE, &in, p, 100000, 100000);
        /* An empty plain stream is an empty tar, which is fine. */
        Buffer empty = {};
        assert_roundtrip(COMPRESSION_NONE, &empty, NULL, 0, 1);
}

static void test_gzip_chunk_sizes(void **state) {
        const size_t len = 3 * 1024 * 1024 + 17;
        _cleanup_free_ uint8_t *p = make_payload(len);
        Buffer gz = {};
        gzip_member(&gz, p, len);
        const size_t chunks[] = {7, 4096, 65536, 1024 * 1024, SIZE_MAX};
        for (size_t i = 0; i < ELEMENTSOF(chunks); i++)
                assert_roundtrip(COMPRESSION_GZIP, &gz, p, len, chunks[i]);
        buffer_done(&gz);
}

static void test_gzip_byte_by_byte(void **state) {
        _cleanup_free_ uint8_t *p = make_payload(20000);
        Buffer gz = {};
        gzip_member(&gz, p, 20000);
        gzip_member(&gz, p, 5000);
        Buffer expect = {};
        buffer_append(&expect, p, 20000);
        buffer_append(&expect, p, 5000);
        assert_roundtrip(COMPRESSION_GZIP, &gz, expect.data, expect.len, 1);
        buffer_done(&gz);
        buffer_done(&expect);
}

/* gzip(1) and pigz may write several members; their contents simply follow each other. */
static void test_gzip_multi_member(void **state) {
        const size_t len = 600000;
        _cleanup_free_ uint8_t *p = make_payload(len);
        Buffer gz = {};
        gzip_member(&gz, p, 100000);
        gzip_member(&gz, p + 100000, 0);
        gzip_member(&gz, p + 100000, 400000);
        gzip_member(&gz, p + 500000, 100000);
        assert_roundtrip(COMPRESSION_GZIP, &gz, p, len, 4093);
        assert_roundtrip(COMPRESSION_GZIP, &gz, p, len, SIZE_MAX);
        buffer_done(&gz);
}

/* Split the input at every point around a member boundary: the trailer and next header straddle feeds. */
static void test_gzip_member_boundary_splits(void **state) {
        _cleanup_free_ uint8_t *p = make_payload(3000);
        Buffer gz = {};
        gzip_member(&gz, p, 1000);
        size_t boundary = gz.len;
        gzip_member(&gz, p + 1000, 2000);

        for (size_t split = boundary - 12; split <= boundary + 12; split++) {
                _cleanup_(decompressor_freep) Decompressor *d = decompressor_new(COMPRESSION_GZIP);
                Sink s = {.fail_after = -1};
                assert_int_equal(decompressor_feed(d, gz.data, split, collect, &s, NULL), 0);
                assert_int_equal(decompressor_feed(d, gz.data + split, gz.len - split, collect, &s, NULL),
                                 0);
                assert_int_equal(decompressor_finish(d, NULL), 0);
                assert_int_equal(s.out.len, 3000);
                assert_memory_equal(s.out.data, p, 3000);
                buffer_done(&s.out);
        }
        buffer_done(&gz);
}

static void test_gzip_corrupt_data(void **state) {
        _cleanup_free_ uint8_t *p = make_payload(200000);
        Buffer gz = {};
        gzip_member(&gz, p, 200000);
        for (size_t i = 20; i < 60; i++)
                gz.data[i] ^= 0x5a;
        assert_fails(COMPRESSION_GZIP, &gz, 4096, -EBADMSG);
        buffer_done(&gz);
}

/* The trailer holds CRC32 then ISIZE (little endian); a flipped bit in either must be caught. */
static void test_gzip_bad_trailer(void **state) {
        _cleanup_free_ uint8_t *p = make_payload(50000);
        for (size_t k = 8; k >= 1; k--) {
                Buffer gz = {};
                gzip_member(&gz, p, 50000);
                gz.data[gz.len - k] ^= 0x01;
                assert_fails(COMPRESSION_GZIP, &gz, 1000, -EBADMSG);
                buffer_done(&gz);
        }
}

static void test_gzip_bad_header(void **state) {
        _cleanup_free_ uint8_t *p = make_payload(1000);
        Buffer gz = {};
        gzip_member(&gz, p, 1000);
        gz.data[0] = 0x1e;
        assert_fails(COMPRESSION_GZIP, &gz, 100, -EBADMSG);
        gz.data[0] = 0x1f;
        gz.data[2] = 7; /* compression method other than deflate */
        assert_fails(COMPRESSION_GZIP, &gz, 100, -EBADMSG);
        buffer_done(&gz);
}

static void test_gzip_truncated(void **state) {
        _cleanup_free_ uint8_t *p = make_payload(70000);
        Buffer gz = {};
        gzip_member(&gz, p, 70000);
        const size_t cuts[] = {1, 5, 10, 100, gz.len / 2, gz.len - 8, gz.len - 1};
        for (size_t i = 0; i < ELEMENTSOF(cuts); i++) {
                Buffer cut = {.data = gz.data, .len = cuts[i]};
                assert_fails(COMPRESSION_GZIP, &cut, 333, -EBADMSG);
        }
        buffer_done(&gz);
}

/* Bytes after a member that do not start another member are refused, not silently dropped. */
static void test_gzip_trailing_garbage(void **state) {
        _cleanup_free_ uint8_t *p = make_payload(1000);
        Buffer gz = {};
        gzip_member(&gz, p, 1000);
        buffer_append(&gz, "garbage!", 8);
        assert_fails(COMPRESSION_GZIP, &gz, 64, -EBADMSG);
        buffer_done(&gz);

        Buffer zeros = {};
        gzip_member(&zeros, p, 1000);
        buffer_append(&zeros, "\0\0\0\0", 4);
        assert_fails(COMPRESSION_GZIP, &zeros, SIZE_MAX, -EBADMSG);
        buffer_done(&zeros);
}

static void test_gzip_empty(void **state) {
        Buffer empty = {};
        assert_fails(COMPRESSION_GZIP, &empty, 1, -EBADMSG);
}

static void test_errors_are_sticky(void **state) {
        _cleanup_free_ uint8_t *p = make_payload(10000);
        Buffer gz = {};
        gzip_member(&gz, p, 10000);
        gz.data[30] ^= 0xff;
        _cleanup_(decompressor_freep) Decompressor *d = decompressor_new(COMPRESSION_GZIP);
        Sink s = {.fail_after = -1};
        _cleanup_error_ Error *e1 = NULL, *e2 = NULL, *e3 = NULL;
        assert_int_equal(decompressor_feed(d, gz.data, gz.len, collect, &s, &e1), -EBADMSG);
        assert_int_equal(decompressor_feed(d, p, 10, collect, &s, &e2), -EBADMSG);
        assert_int_equal(decompressor_finish(d, &e3), -EBADMSG);
        assert_string_equal(e1->message, e2->message);
        assert_string_equal(e1->message, e3->message);
        buffer_done(&s.out);
        buffer_done(&gz);
}

static void test_sink_error_propagates(void **state) {
        const size_t len = 2 * 1024 * 1024;
        _cleanup_free_ uint8_t *p = make_payload(len);
        const LayerCompression kinds[] = {COMPRESSION_NONE, COMPRESSION_GZIP, COMPRESSION_ZSTD};
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                Buffer in = {};
                if (kinds[i] == COMPRESSION_GZIP)
                        gzip_member(&in, p, len);
                else if (kinds[i] == COMPRESSION_ZSTD)
                        zstd_frame(&in, p, len);
                else
                        buffer_append(&in, p, len);
                Sink s = {.fail_after = 1};
                _cleanup_error_ Error *e = NULL, *e2 = NULL;
                assert_int_equal(run(kinds[i], &in, 65536, &s, &e), -ENOSPC);
                assert_string_equal(e->message, "sink full");
                /* The stream stopped mid-way, so the decompressor stays failed. */
                Decompressor *d = decompressor_new(kinds[i]);
                assert_int_equal(decompressor_feed(d, in.data, in.len, collect, &s, NULL), -ENOSPC);
                assert_int_equal(decompressor_finish(d, &e2), -ENOSPC);
                decompressor_free(d);
                buffer_done(&s.out);
                buffer_done(&in);
        }
}

/* Caller-given room: hands out a big buffer in pieces of `step` bytes; the sink checks it is used. */
typedef struct Room {
        uint8_t *buf;
        size_t size, used, step;
        size_t offered; /* where the last room started */
        bool fail;
} Room;

static int give_room(void *userdata, void **ret_buf, size_t *ret_size, Error **reterr) {
        Room *r = userdata;
        if (r->fail)
                return error_set(reterr, EPIPE, "no more room");
        assert_true(r->used + r->step <= r->size);
        r->offered = r->used;
        *ret_buf = r->buf + r->used;
        *ret_size = r->step;
        return 0;
}

static int take_in_place(const void *data, size_t len, void *userdata, Error **reterr) {
        Room *r = userdata;
        assert_ptr_equal(data, r->buf + r->offered);
        assert_true(len <= r->step);
        r->used = r->offered + len;
        return 0;
}

static void test_output_in_place(void **state) {
        const size_t len = 1024 * 1024 + 3;
        _cleanup_free_ uint8_t *p = make_payload(len);
        const LayerCompression kinds[] = {COMPRESSION_GZIP, COMPRESSION_ZSTD};
        for (size_t i = 0; i < ELEMENTSOF(kinds); i++) {
                Buffer in = {};
                if (kinds[i] == COMPRESSION_GZIP)
                        gzip_member(&in, p, len);
                else
                        zstd_frame(&in, p, len);
                Room room = {.buf = xmalloc(len + 100000), .size = len + 100000, .step = 777};
                Decompressor *d = decompressor_new(kinds[i]);
                decompressor_set_output(d, give_room, &room);
                for (size_t off = 0; off < in.len; off += 65536) {
                        size_t n = in.len - off < 65536 ? in.len - off : 65536;
                        assert_int_equal(decompressor_feed(d, in.data + off, n, take_in_place, &room, NULL),
                                         0);
                }
                assert_int_equal(decompressor_finish(d, NULL), 0);
                assert_int_equal(room.used, len);
                assert_memory_equal(room.buf, p, len);

                /* A failure to give room stops the stream for good, with its error. */
                _cleanup_error_ Error *e = NULL;
                Decompressor *d2 = decompressor_new(kinds[i]);
                room.fail = true;
                decompressor_set_output(d2, give_room, &room);
                assert_int_equal(decompressor_feed(d2, in.data, in.len, take_in_place, &room, &e), -EPIPE);
                assert_int_equal(decompressor_finish(d2, NULL), -EPIPE);
                decompressor_free(d2);
                decompressor_free(d);
                free(room.buf);
                buffer_done(&in);
        }
}

static void test_zstd_frames(void **state) {
        const size_t len = 2 * 1024 * 1024 + 5;
        _cleanup_free_ uint8_t *p = make_payload(len);
        Buffer z = {};
        zstd_frame(&z, p, 1000000);
        zstd_frame(&z, p + 1000000, 0);
        zstd_frame(&z, p + 1000000, len - 1000000);
        const size_t chunks[] = {1, 4096, 1024 * 1024, SIZE_MAX};
        for (size_t i = 0; i < ELEMENTSOF(chunks); i++) {
                if (chunks[i] == 1) {
                        /* Byte by byte only over a small stream: it is slow under ASan. */
                        Buffer small = {};
                        zstd_frame(&small, p, 30000);
                        zstd_frame(&small, p, 30000);
                        Buffer expect = {};
                        buffer_append(&expect, p, 30000);
                        buffer_append(&expect, p, 30000);
                        assert_roundtrip(COMPRESSION_ZSTD, &small, expect.data, expect.len, 1);
                        buffer_done(&small);
                        buffer_done(&expect);
                        continue;
                }
                assert_roundtrip(COMPRESSION_ZSTD, &z, p, len, chunks[i]);
        }
        buffer_done(&z);
}

/* Skippable frames (magic 0x184D2A5?) carry metadata and no data. */
static void test_zstd_skippable_frame(void **state) {
        _cleanup_free_ uint8_t *p = make_payload(5000);
        Buffer z = {};
        const uint8_t skippable[] = {0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 'm', 'e', 't', 'a'};
        buffer_append(&z, skippable, sizeof(skippable));
        zstd_frame(&z, p, 5000);
        assert_roundtrip(COMPRESSION_ZSTD, &z, p, 5000, 5);
        buffer_done(&z);
}

static void test_zstd_corrupt_truncated_empty(void **state) {
        _cleanup_free_ uint8_t *p = make_payload(300000);
        Buffer z = {};
        zstd_frame(&z, p, 300000);

        Buffer cut = {.data = z.data, .len = z.len - 3};
        assert_fails(COMPRESSION_ZSTD, &cut, 4096, -EBADMSG);
        cut.len = 2;
        assert_fails(COMPRESSION_ZSTD, &cut, 4096, -EBADMSG);
        Buffer empty = {};
        assert_fails(COMPRESSION_ZSTD, &empty, 4096, -EBADMSG);

        z.data[0] ^= 0xff; /* magic number */
        assert_fails(COMPRESSION_ZSTD, &z, 4096, -EBADMSG);
        z.data[0] ^= 0xff;
        for (size_t i = z.len / 2; i < z.len / 2 + 64; i++)
                z.data[i] ^= 0xa5;
        assert_fails(COMPRESSION_ZSTD, &z, 4096, -EBADMSG);
        buffer_done(&z);

        Buffer junk = {};
        zstd_frame(&junk, p, 100);
        buffer_append(&junk, "trailing", 8);
        assert_fails(COMPRESSION_ZSTD, &junk, 4096, -EBADMSG);
        buffer_done(&junk);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_none_passthrough),
                cmocka_unit_test(test_gzip_chunk_sizes),
                cmocka_unit_test(test_gzip_byte_by_byte),
                cmocka_unit_test(test_gzip_multi_member),
                cmocka_unit_test(test_gzip_member_boundary_splits),
                cmocka_unit_test(test_gzip_corrupt_data),
                cmocka_unit_test(test_gzip_bad_trailer),
                cmocka_unit_test(test_gzip_bad_header),
                cmocka_unit_test(test_gzip_truncated),
                cmocka_unit_test(test_gzip_trailing_garbage),
                cmocka_unit_test(test_gzip_empty),
                cmocka_unit_test(test_errors_are_sticky),
                cmocka_unit_test(test_sink_error_propagates),
                cmocka_unit_test(test_output_in_place),
                cmocka_unit_test(test_zstd_frames),
                cmocka_unit_test(test_zstd_skippable_frame),
                cmocka_unit_test(test_zstd_corrupt_truncated_empty),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
