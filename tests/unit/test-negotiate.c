/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "negotiate.h"
#include "session.h"

#define TOKEN "abcdefghijklmnopqrstuvwxyz012345"

static void test_paths(void **state) {
        StreamKind k;
        const char *t = NULL;
        assert_true(stream_parse_path("/exec/" TOKEN, &k, &t));
        assert_int_equal(k, STREAM_EXEC);
        assert_string_equal(t, TOKEN);
        assert_true(stream_parse_path("/attach/" TOKEN, &k, &t));
        assert_int_equal(k, STREAM_ATTACH);
        assert_true(stream_parse_path("/portforward/" TOKEN, &k, &t));
        assert_int_equal(k, STREAM_PORTFORWARD);
        assert_false(stream_parse_path("/exec/short", &k, &t));
        assert_false(stream_parse_path("/exec/" TOKEN "/x", &k, &t));
        assert_false(stream_parse_path("/execx/" TOKEN, &k, &t));
        assert_false(stream_parse_path("/other/" TOKEN, &k, &t));
        assert_false(stream_parse_path("", &k, &t));
        assert_false(stream_parse_path(NULL, &k, &t));
}

static void test_spdy_follows_the_clients_order(void **state) {
        int v = 0;
        assert_string_equal(negotiate_spdy(STREAM_EXEC, "v4.channel.k8s.io,v3.channel.k8s.io", &v),
                            "v4.channel.k8s.io");
        assert_int_equal(v, RC_V4);
        assert_string_equal(negotiate_spdy(STREAM_EXEC, " v2.channel.k8s.io , v4.channel.k8s.io", &v),
                            "v2.channel.k8s.io");
        assert_int_equal(v, RC_V2);
        assert_string_equal(negotiate_spdy(STREAM_ATTACH, "x, channel.k8s.io", &v), "channel.k8s.io");
        assert_int_equal(v, RC_V1);
        /* v5 needs WebSocket's close signal; port-forward has its own protocol. */
        assert_null(negotiate_spdy(STREAM_EXEC, "v5.channel.k8s.io", &v));
        assert_null(negotiate_spdy(STREAM_EXEC, "portforward.k8s.io", &v));
        assert_string_equal(negotiate_spdy(STREAM_PORTFORWARD, "portforward.k8s.io", &v),
                            "portforward.k8s.io");
        assert_null(negotiate_spdy(STREAM_PORTFORWARD, "v4.channel.k8s.io", &v));
        assert_null(negotiate_spdy(STREAM_EXEC, "", &v));
        assert_null(negotiate_spdy(STREAM_EXEC, "v4.channel.k8s.iox", &v));
}

static void test_websocket(void **state) {
        int v = 0;
        bool b64 = true;
        assert_string_equal(
                negotiate_websocket(STREAM_EXEC, "v5.channel.k8s.io, v4.channel.k8s.io", &v, &b64),
                "v5.channel.k8s.io");
        assert_int_equal(v, RC_V5);
        assert_false(b64);
        assert_string_equal(negotiate_websocket(STREAM_EXEC, "base64.channel.k8s.io", &v, &b64),
                            "base64.channel.k8s.io");
        assert_int_equal(v, RC_V1);
        assert_true(b64);
        assert_string_equal(
                negotiate_websocket(STREAM_ATTACH, "v4.base64.channel.k8s.io, v4.channel.k8s.io", &v, &b64),
                "v4.base64.channel.k8s.io");
        assert_int_equal(v, RC_V4);
        assert_true(b64);
        /* base64 is a WebSocket form only; there is no v5 base64. */
        assert_null(negotiate_spdy(STREAM_EXEC, "base64.channel.k8s.io", &v));
        assert_null(negotiate_websocket(STREAM_EXEC, "v5.base64.channel.k8s.io", &v, &b64));
        assert_null(negotiate_websocket(STREAM_PORTFORWARD, "portforward.k8s.io", &v, &b64));
        assert_string_equal(
                negotiate_websocket(STREAM_PORTFORWARD, "v5.channel.k8s.io, v4.channel.k8s.io", &v, &b64),
                "v4.channel.k8s.io");
        assert_int_equal(v, 0);
        assert_false(b64);
        assert_string_equal(negotiate_websocket(STREAM_PORTFORWARD, "v4.base64.channel.k8s.io", &v, &b64),
                            "v4.base64.channel.k8s.io");
        assert_true(b64);
        assert_null(negotiate_websocket(STREAM_PORTFORWARD, "base64.channel.k8s.io", &v, &b64));
}

/* No subprotocol offered: plain binary channels, as the kubelet serves them, and none named back. */
static void test_websocket_without_a_protocol(void **state) {
        int v = -1;
        bool b64 = true;
        assert_string_equal(negotiate_websocket(STREAM_EXEC, NULL, &v, &b64), "");
        assert_int_equal(v, RC_V1);
        assert_false(b64);
        v = -1;
        assert_string_equal(negotiate_websocket(STREAM_ATTACH, " , ", &v, &b64), "");
        assert_int_equal(v, RC_V1);
        assert_string_equal(negotiate_websocket(STREAM_PORTFORWARD, "", &v, &b64), "");
        assert_int_equal(v, 0);
        /* An offer of only unknown protocols is still refused. */
        assert_null(negotiate_websocket(STREAM_EXEC, "x.k8s.io", &v, &b64));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_paths),
                cmocka_unit_test(test_spdy_follows_the_clients_order),
                cmocka_unit_test(test_websocket),
                cmocka_unit_test(test_websocket_without_a_protocol),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
