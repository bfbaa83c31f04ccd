/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "spdy.h"

/* Two ends of a connection: what one end's deflate stream writes, the other's inflate stream reads. */
typedef struct Ends {
        SpdyZ client, server;
} Ends;

static int setup(void **state) {
        Ends *e = xcalloc(1, sizeof(Ends));
        assert_int_equal(spdy_z_init(&e->client), 0);
        assert_int_equal(spdy_z_init(&e->server), 0);
        *state = e;
        return 0;
}

static int teardown(void **state) {
        Ends *e = *state;
        spdy_z_done(&e->client);
        spdy_z_done(&e->server);
        free(e);
        return 0;
}

static void test_dictionary_is_the_specifications(void **state) {
        size_t n;
        const uint8_t *d = spdy_dictionary(&n);
        assert_int_equal(n, 1423);
        assert_memory_equal(d, "\0\0\0\7options\0\0\0\4head", 19);
        assert_memory_equal(d + n - 6, "enq=0.", 6);
        /* The SHA-256 of the 1423 bytes, so that no byte of the table can drift. */
        unsigned char md[32];
        unsigned int len = 0;
        EVP_Digest(d, n, md, &len, EVP_sha256(), NULL);
        char hex[65];
        for (unsigned i = 0; i < len; i++)
                snprintf(hex + 2 * i, 3, "%02x", md[i]);
        assert_string_equal(hex, "51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02");
}

static void test_frame_needs_whole_header_and_payload(void **state) {
        Buf b = {};
        spdy_put_ping(&b, 7);
        SpdyFrame f;
        for (size_t n = 0; n < b.len; n++)
                assert_int_equal(spdy_frame_parse(b.data, n, 1024, &f), 0);
        assert_int_equal(spdy_frame_parse(b.data, b.len, 1024, &f), 12);
        assert_true(f.control);
        assert_int_equal(f.type, SPDY_PING);
        assert_int_equal(be32(f.payload), 7);
        buf_done(&b);
}

static void test_data_frame(void **state) {
        Buf b = {};
        spdy_put_data(&b, 5, SPDY_FLAG_FIN, "hello", 5);
        SpdyFrame f;
        assert_int_equal(spdy_frame_parse(b.data, b.len, 1024, &f), 13);
        assert_false(f.control);
        assert_int_equal(f.stream_id, 5);
        assert_int_equal(f.flags, SPDY_FLAG_FIN);
        assert_int_equal(f.length, 5);
        assert_memory_equal(f.payload, "hello", 5);
        /* A frame longer than the limit is refused from its header alone. */
        assert_int_equal(spdy_frame_parse(b.data, 8, 4, &f), -EMSGSIZE);
        buf_done(&b);
}

static void test_bad_control_frames(void **state) {
        SpdyFrame f;
        uint8_t v2[16] = {0x80, 2, 0, SPDY_PING, 0, 0, 0, 4};
        assert_int_equal(spdy_frame_parse(v2, 12, 1024, &f), -EPROTO);
        uint8_t short_rst[16] = {0x80, 3, 0, SPDY_RST_STREAM, 0, 0, 0, 4};
        assert_int_equal(spdy_frame_parse(short_rst, 12, 1024, &f), -EPROTO);
        uint8_t short_syn[16] = {0x80, 3, 0, SPDY_SYN_STREAM, 0, 0, 0, 6};
        assert_int_equal(spdy_frame_parse(short_syn, 14, 1024, &f), -EPROTO);
        /* Unknown control types are skipped, not refused. */
        uint8_t unknown[12] = {0x80, 3, 0, 42, 0, 0, 0, 4};
        assert_int_equal(spdy_frame_parse(unknown, 12, 1024, &f), 12);
}

static void test_headers_round_trip_on_a_shared_context(void **state) {
        Ends *e = *state;
        const char *pairs[] = {"streamtype", "stdout", "port", "8080"};
        for (int round = 0; round < 3; round++) {
                Buf b = {};
                assert_int_equal(spdy_put_syn_stream(&b, &e->client, 1 + 2 * round, 0, pairs, 2), 0);
                SpdyFrame f;
                assert_int_equal(spdy_frame_parse(b.data, b.len, 1 << 20, &f), (int)b.len);
                assert_int_equal(f.type, SPDY_SYN_STREAM);
                assert_int_equal(f.stream_id, 1 + 2 * round);
                SpdyHeaders h = {};
                assert_int_equal(
                        spdy_headers_decode(&e->server, f.payload + 10, f.length - 10, 4096, 16, &h), 0);
                assert_int_equal(h.n, 2);
                char *v = spdy_headers_get(&h, "streamtype");
                assert_string_equal(v, "stdout");
                free(v);
                v = spdy_headers_get(&h, "port");
                assert_string_equal(v, "8080");
                free(v);
                assert_null(spdy_headers_get(&h, "requestid"));
                spdy_headers_done(&h);
                buf_done(&b);
        }
}

static void test_reply_carries_the_stream_id(void **state) {
        Ends *e = *state;
        Buf b = {};
        assert_int_equal(spdy_put_headers_frame(&b, &e->server, SPDY_SYN_REPLY, 9, 0, NULL, 0), 0);
        SpdyFrame f;
        assert_int_equal(spdy_frame_parse(b.data, b.len, 1024, &f), (int)b.len);
        assert_int_equal(f.type, SPDY_SYN_REPLY);
        assert_int_equal(f.stream_id, 9);
        SpdyHeaders h = {};
        assert_int_equal(spdy_headers_decode(&e->client, f.payload + 4, f.length - 4, 4096, 16, &h), 0);
        assert_int_equal(h.n, 0);
        spdy_headers_done(&h);
        buf_done(&b);
}

static void test_corrupt_block_is_refused(void **state) {
        Ends *e = *state;
        SpdyHeaders h = {};
        assert_int_equal(
                spdy_headers_decode(&e->server, (const uint8_t *)"\x78\xbb garbage", 10, 4096, 16, &h),
                -EPROTO);
}

/* Build a plain block by hand and compress it with the client's stream. */
static void compress_block(SpdyZ *z, const uint8_t *plain, size_t n, Buf *out) {
        z->out.next_in = (Bytef *)plain;
        z->out.avail_in = (uInt)n;
        do {
                buf_reserve(out, 1024);
                z->out.next_out = out->data + out->len;
                z->out.avail_out = (uInt)(out->cap - out->len);
                deflate(&z->out, Z_SYNC_FLUSH);
                out->len = out->cap - z->out.avail_out;
        } while (z->out.avail_out == 0);
}

static void test_header_bomb_and_counts_are_bounded(void **state) {
        Ends *e = *state;
        uint8_t *zeros = xcalloc(1, 100000);
        Buf z = {};
        compress_block(&e->client, zeros, 100000, &z);
        assert_true(z.len < 2000); /* it inflates a hundredfold */
        SpdyHeaders h = {};
        assert_int_equal(spdy_headers_decode(&e->server, z.data, z.len, 16384, 64, &h), -EMSGSIZE);
        free(zeros);
        buf_done(&z);
}

static void test_too_many_headers_and_lying_lengths(void **state) {
        Ends *e = *state;
        SpdyHeaders h = {};
        uint8_t many[4] = {0, 0, 1, 0}; /* 256 pairs */
        Buf z = {};
        compress_block(&e->client, many, 4, &z);
        assert_int_equal(spdy_headers_decode(&e->server, z.data, z.len, 16384, 64, &h), -EMSGSIZE);
        buf_done(&z);
        uint8_t lying[12] = {0, 0, 0, 1, 0, 0, 0x10, 0, 'a', 'b', 'c', 'd'}; /* name of 4096 bytes */
        compress_block(&e->client, lying, 12, &z);
        assert_int_equal(spdy_headers_decode(&e->server, z.data, z.len, 16384, 64, &h), -EPROTO);
        buf_done(&z);
        uint8_t truncated[10] = {0, 0, 0, 1, 0, 0, 0, 1, 'a', 0}; /* value length cut short */
        compress_block(&e->client, truncated, 10, &z);
        assert_int_equal(spdy_headers_decode(&e->server, z.data, z.len, 16384, 64, &h), -EPROTO);
        buf_done(&z);
}

static void test_goaway_and_rst(void **state) {
        Buf b = {};
        spdy_put_goaway(&b, 7, SPDY_GOAWAY_PROTOCOL_ERROR);
        spdy_put_rst(&b, 3, SPDY_RST_CANCEL);
        SpdyFrame f;
        int n = spdy_frame_parse(b.data, b.len, 1024, &f);
        assert_int_equal(n, 16);
        assert_int_equal(f.type, SPDY_GOAWAY);
        assert_int_equal(be32(f.payload), 7);
        assert_int_equal(be32(f.payload + 4), SPDY_GOAWAY_PROTOCOL_ERROR);
        assert_int_equal(spdy_frame_parse(b.data + n, b.len - n, 1024, &f), 16);
        assert_int_equal(f.type, SPDY_RST_STREAM);
        assert_int_equal(f.stream_id, 3);
        assert_int_equal(be32(f.payload + 4), SPDY_RST_CANCEL);
        buf_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dictionary_is_the_specifications),
                cmocka_unit_test(test_frame_needs_whole_header_and_payload),
                cmocka_unit_test(test_data_frame),
                cmocka_unit_test(test_bad_control_frames),
                cmocka_unit_test_setup_teardown(test_headers_round_trip_on_a_shared_context, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_reply_carries_the_stream_id, setup, teardown),
                cmocka_unit_test_setup_teardown(test_corrupt_block_is_refused, setup, teardown),
                cmocka_unit_test_setup_teardown(test_header_bomb_and_counts_are_bounded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_too_many_headers_and_lying_lengths, setup, teardown),
                cmocka_unit_test(test_goaway_and_rst),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
