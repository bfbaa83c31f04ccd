/* SPDX-License-Identifier: Apache-2.0 */
/* gRPC's HTTP/2 mapping: message framing, grpc-timeout, grpc-message encoding, content-type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grpc-wire.h"

static void test_prefix_round_trip(void **state) {
        uint8_t p[GRPC_PREFIX_LEN];
        grpc_prefix_write(p, 0x01020304);
        assert_memory_equal(p, "\x00\x01\x02\x03\x04", GRPC_PREFIX_LEN);
        assert_int_equal(grpc_prefix_length(p), 0x01020304);
        grpc_prefix_write(p, 0);
        assert_int_equal(grpc_prefix_length(p), 0);
}

static GrpcBody parse(const char *body, size_t len, size_t *ret_len, bool *ret_compressed) {
        const uint8_t *msg = NULL;
        GrpcBody r = grpc_body_parse((const uint8_t *)body, len, &msg, ret_len, ret_compressed);
        if (r == GRPC_BODY_ONE)
                assert_int_equal((uintptr_t)msg - (uintptr_t)body, GRPC_PREFIX_LEN);
        return r;
}

static void test_body_shapes(void **state) {
        size_t len = 99;
        bool compressed = true;
        assert_int_equal(parse("", 0, &len, &compressed), GRPC_BODY_EMPTY);
        assert_int_equal(parse("\0\0\0", 3, &len, &compressed), GRPC_BODY_INCOMPLETE);
        assert_int_equal(parse("\0\0\0\0\3ab", 7, &len, &compressed), GRPC_BODY_INCOMPLETE);
        assert_int_equal(parse("\0\0\0\0\2ab", 7, &len, &compressed), GRPC_BODY_ONE);
        assert_int_equal(len, 2);
        assert_false(compressed);
        /* An empty message (every field at its default) is one message of length 0. */
        assert_int_equal(parse("\0\0\0\0\0", 5, &len, &compressed), GRPC_BODY_ONE);
        assert_int_equal(len, 0);
        assert_int_equal(parse("\1\0\0\0\1x", 6, &len, &compressed), GRPC_BODY_ONE);
        assert_true(compressed);
        /* Two messages on a unary call. */
        assert_int_equal(parse("\0\0\0\0\1x\0\0\0\0\0", 11, &len, &compressed), GRPC_BODY_EXTRA);
}

static void test_huge_announced_length_is_incomplete(void **state) {
        size_t len;
        bool compressed;
        assert_int_equal(parse("\0\xff\xff\xff\xff"
                               "abc",
                               8, &len, &compressed),
                         GRPC_BODY_INCOMPLETE);
}

static int64_t timeout(const char *s) {
        return grpc_timeout_parse(s, strlen(s));
}

static void test_timeouts(void **state) {
        assert_int_equal(timeout("1n"), 1);
        assert_int_equal(timeout("250u"), 250000);
        assert_int_equal(timeout("30m"), 30000000);
        assert_int_equal(timeout("2S"), 2000000000LL);
        assert_int_equal(timeout("3M"), 180000000000LL);
        assert_int_equal(timeout("1H"), 3600000000000LL);
        assert_int_equal(timeout("0S"), 0);
        assert_int_equal(timeout("99999999S"), 99999999000000000LL);
        /* Eight digits of hours is past what int64 nanoseconds hold: capped, not wrapped. */
        assert_int_equal(timeout("99999999H"), INT64_MAX);
}

static void test_malformed_timeouts(void **state) {
        assert_int_equal(timeout(""), -1);
        assert_int_equal(timeout("S"), -1);
        assert_int_equal(timeout("10"), -1);
        assert_int_equal(timeout("abc"), -1);
        assert_int_equal(timeout("1x"), -1);
        assert_int_equal(timeout("-1S"), -1);
        assert_int_equal(timeout("1 S"), -1);
        assert_int_equal(timeout("123456789S"), -1);       /* nine digits */
        assert_int_equal(grpc_timeout_parse("5S", 1), -1); /* not NUL-terminated: the length counts */
}

static void test_percent_encoding(void **state) {
        char *s = grpc_percent_encode("plain text: ok");
        assert_string_equal(s, "plain text: ok");
        free(s);
        s = grpc_percent_encode("100% \"done\"\n\xc3\xa9");
        assert_string_equal(s, "100%25 \"done\"%0A%C3%A9");
        free(s);
        s = grpc_percent_encode("");
        assert_string_equal(s, "");
        free(s);
        assert_int_equal(grpc_percent_encoded_size('a'), 1);
        assert_int_equal(grpc_percent_encoded_size('%'), 3);
        assert_int_equal(grpc_percent_encoded_size(0x7f), 3);
}

static bool ct(const char *s) {
        return grpc_content_type_ok(s, strlen(s));
}

static void test_content_types(void **state) {
        assert_true(ct("application/grpc"));
        assert_true(ct("application/grpc+proto"));
        assert_true(ct("application/grpc;charset=utf-8"));
        assert_true(ct("Application/GRPC"));
        assert_false(ct("application/grpcx"));
        assert_false(ct("application/json"));
        assert_false(ct("application/grp"));
        assert_false(ct(""));
}

/* A frame: 9-byte header and `len` payload bytes of 'p'. */
static size_t frame(uint8_t *out, uint8_t type, uint32_t stream, size_t len) {
        out[0] = (uint8_t)(len >> 16);
        out[1] = (uint8_t)(len >> 8);
        out[2] = (uint8_t)len;
        out[3] = type;
        out[4] = 0;
        out[5] = (uint8_t)(stream >> 24);
        out[6] = (uint8_t)(stream >> 16);
        out[7] = (uint8_t)(stream >> 8);
        out[8] = (uint8_t)stream;
        memset(out + 9, 'p', len);
        return 9 + len;
}

#define PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

/* The client's bytes: preface, SETTINGS, HEADERS on 1, RST on 3 (never opened), RST on 1, HEADERS on 5. */
static size_t client_bytes(uint8_t *buf, size_t *ret_expected_len, uint8_t *expected) {
        size_t n = 0, e = 0;
        memcpy(buf, PREFACE, H2_PREFACE_LEN);
        n += H2_PREFACE_LEN;
        n += frame(buf + n, 0x4, 0, 6);
        n += frame(buf + n, 0x1, 1, 20);
        size_t idle_reset_at = n;
        n += frame(buf + n, 0x3, 3, 4);
        size_t after_idle = n;
        n += frame(buf + n, 0x3, 1, 4);
        n += frame(buf + n, 0x1, 5, 10);
        memcpy(expected, buf, idle_reset_at);
        e = idle_reset_at;
        memcpy(expected + e, buf + after_idle, n - after_idle);
        e += n - after_idle;
        *ret_expected_len = e;
        return n;
}

static void test_reset_filter_drops_resets_of_unopened_streams(void **state) {
        uint8_t in[512], expected[512], out[512 + H2_FRAME_HEADER_LEN];
        size_t expected_len;
        size_t n = client_bytes(in, &expected_len, expected);
        H2ResetFilter f;
        h2_reset_filter_init(&f);
        size_t o = h2_reset_filter(&f, in, n, out);
        assert_int_equal(o, expected_len);
        assert_memory_equal(out, expected, o);
        assert_int_equal(f.max_opened, 5);
}

/* The same bytes cut into every chunk size from 1 byte on come out the same. */
static void test_reset_filter_any_split(void **state) {
        uint8_t in[512], expected[512], out[512 + H2_FRAME_HEADER_LEN];
        size_t expected_len;
        size_t n = client_bytes(in, &expected_len, expected);
        for (size_t chunk = 1; chunk <= n; chunk++) {
                H2ResetFilter f;
                h2_reset_filter_init(&f);
                size_t o = 0;
                for (size_t i = 0; i < n; i += chunk)
                        o += h2_reset_filter(&f, in + i, i + chunk > n ? n - i : chunk, out + o);
                assert_int_equal(o, expected_len);
                assert_memory_equal(out, expected, o);
        }
}

/* A reset of a stream the server opened (even) is never the filter's business. */
static void test_reset_filter_keeps_even_streams(void **state) {
        uint8_t in[64], out[64 + H2_FRAME_HEADER_LEN];
        memcpy(in, PREFACE, H2_PREFACE_LEN);
        size_t n = H2_PREFACE_LEN + frame(in + H2_PREFACE_LEN, 0x3, 2, 4);
        H2ResetFilter f;
        h2_reset_filter_init(&f);
        assert_int_equal(h2_reset_filter(&f, in, n, out), n);
        assert_memory_equal(out, in, n);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_prefix_round_trip),
                cmocka_unit_test(test_body_shapes),
                cmocka_unit_test(test_huge_announced_length_is_incomplete),
                cmocka_unit_test(test_timeouts),
                cmocka_unit_test(test_malformed_timeouts),
                cmocka_unit_test(test_percent_encoding),
                cmocka_unit_test(test_content_types),
                cmocka_unit_test(test_reset_filter_drops_resets_of_unopened_streams),
                cmocka_unit_test(test_reset_filter_any_split),
                cmocka_unit_test(test_reset_filter_keeps_even_streams),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
