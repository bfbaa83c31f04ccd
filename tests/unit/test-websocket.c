/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "websocket.h"

/* RFC 6455 section 5.7: a masked text frame carrying "Hello". */
static void test_rfc_masked_hello(void **state) {
        uint8_t frame[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
        WsFrame f;
        for (size_t n = 0; n < sizeof(frame); n++)
                assert_int_equal(ws_frame_parse(frame, n, 1024, &f), 0);
        assert_int_equal(ws_frame_parse(frame, sizeof(frame), 1024, &f), (int)sizeof(frame));
        assert_true(f.fin);
        assert_int_equal(f.opcode, WS_OP_TEXT);
        assert_int_equal(f.length, 5);
        assert_memory_equal(f.payload, "Hello", 5);
}

static void test_client_frames_must_be_masked(void **state) {
        uint8_t frame[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'};
        WsFrame f;
        assert_int_equal(ws_frame_parse(frame, sizeof(frame), 1024, &f), -EPROTO);
}

static void test_reserved_bits_and_opcodes(void **state) {
        uint8_t rsv[] = {0xc1, 0x80, 0, 0, 0, 0};
        uint8_t op3[] = {0x83, 0x80, 0, 0, 0, 0};
        uint8_t opb[] = {0x8b, 0x80, 0, 0, 0, 0};
        WsFrame f;
        assert_int_equal(ws_frame_parse(rsv, sizeof(rsv), 1024, &f), -EPROTO);
        assert_int_equal(ws_frame_parse(op3, sizeof(op3), 1024, &f), -EPROTO);
        assert_int_equal(ws_frame_parse(opb, sizeof(opb), 1024, &f), -EPROTO);
}

static void test_control_frames_are_small_and_whole(void **state) {
        uint8_t big_ping[] = {0x89, 0xfe, 0x00, 0x7e};
        uint8_t split_ping[] = {0x09, 0x80, 0, 0, 0, 0};
        WsFrame f;
        assert_int_equal(ws_frame_parse(big_ping, sizeof(big_ping), 1024, &f), -EPROTO);
        assert_int_equal(ws_frame_parse(split_ping, sizeof(split_ping), 1024, &f), -EPROTO);
}

static void test_extended_lengths(void **state) {
        size_t n = 300;
        uint8_t *frame = xcalloc(1, 8 + n);
        frame[0] = 0x82;
        frame[1] = 0x80 | 126;
        frame[2] = n >> 8;
        frame[3] = n & 0xff;
        WsFrame f;
        assert_int_equal(ws_frame_parse(frame, 8 + n, 1024, &f), (int)(8 + n));
        assert_int_equal(f.length, n);
        assert_int_equal(ws_frame_parse(frame, 8 + n, 299, &f), -EMSGSIZE);
        free(frame);
        /* 64-bit lengths: the top bit must be clear, and a huge length is refused before its payload
         * arrives. */
        uint8_t huge[14] = {0x82, 0x80 | 127, 0, 0, 1, 0, 0, 0, 0, 0};
        assert_int_equal(ws_frame_parse(huge, 14, 1 << 20, &f), -EMSGSIZE);
        huge[2] = 0x80;
        assert_int_equal(ws_frame_parse(huge, 14, 1 << 20, &f), -EPROTO);
}

static void test_server_frames(void **state) {
        Buf b = {};
        ws_put_channel_frame(&b, 1, "out", 3);
        assert_int_equal(b.len, 6);
        assert_memory_equal(b.data, "\x82\x04\x01out", 6);
        buf_done(&b);
        uint8_t *big = xcalloc(1, 70000);
        ws_put_frame(&b, WS_OP_BINARY, big, 70000);
        assert_int_equal(b.data[1], 127);
        assert_int_equal(be32(b.data + 6), 70000);
        assert_int_equal(b.len, 10 + 70000);
        buf_done(&b);
        ws_put_frame(&b, WS_OP_BINARY, big, 200);
        assert_int_equal(b.data[1], 126);
        assert_int_equal(be16(b.data + 2), 200);
        buf_done(&b);
        free(big);
}

static void test_accept_key(void **state) {
        /* RFC 6455 section 1.3. */
        char *k = ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==");
        assert_string_equal(k, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        free(k);
}

static void test_base64_channel_frames(void **state) {
        Buf b = {};
        ws_put_base64_channel_frame(&b, 1, "hello", 5);
        /* A text frame: '1', then "aGVsbG8=" (RFC 4648's alphabet and padding). */
        assert_int_equal(b.len, 2 + 9);
        assert_int_equal(b.data[0], 0x80 | WS_OP_TEXT);
        assert_memory_equal(b.data + 2, "1aGVsbG8=", 9);
        b.len = 0;
        ws_put_base64_channel_frame(&b, 3, NULL, 0);
        assert_int_equal(b.len, 3);
        assert_int_equal(b.data[2], '3');
        buf_done(&b);
        (void)state;
}

static void test_base64_decode(void **state) {
        static const struct {
                const char *in, *out;
        } good[] = {{"", ""},
                    {"Zg==", "f"},
                    {"Zm8=", "fo"},
                    {"Zm9v", "foo"},
                    {"Zm9vYg==", "foob"},
                    {"Zm9vYmE=", "fooba"},
                    {"Zm9vYmFy", "foobar"},
                    {"+/+/", "\xfb\xff\xbf"}};
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                Buf b = {};
                assert_int_equal(ws_base64_decode((const uint8_t *)good[i].in, strlen(good[i].in), &b), 0);
                assert_int_equal(b.len, strlen(good[i].out));
                if (b.len)
                        assert_memory_equal(b.data, good[i].out, b.len);
                buf_done(&b);
        }
        static const char *const bad[] = {"Zg", "Zg=", "Z===", "Zm9v\n", "Zm 9", "=Zm9", "Zg==Zg==", "Zm-v"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Buf b = {};
                assert_int_equal(ws_base64_decode((const uint8_t *)bad[i], strlen(bad[i]), &b), -EINVAL);
                buf_done(&b);
        }
        (void)state;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rfc_masked_hello),
                cmocka_unit_test(test_client_frames_must_be_masked),
                cmocka_unit_test(test_reserved_bits_and_opcodes),
                cmocka_unit_test(test_control_frames_are_small_and_whole),
                cmocka_unit_test(test_extended_lengths),
                cmocka_unit_test(test_server_frames),
                cmocka_unit_test(test_accept_key),
                cmocka_unit_test(test_base64_channel_frames),
                cmocka_unit_test(test_base64_decode),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
