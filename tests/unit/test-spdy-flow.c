/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "spdy-flow.h"
#include "spdy.h"

/* What a run of frames written to out amounts to, per kind. */
typedef struct Sent {
        size_t data_bytes, data_frames, fins;
        size_t updates;
        uint32_t last_update_id, last_update_delta;
} Sent;

static Sent sent(Buf *out) {
        Sent s = {};
        size_t off = 0;
        SpdyFrame f;
        int n;
        while ((n = spdy_frame_parse(out->data + off, out->len - off, UINT32_MAX, &f)) > 0) {
                off += (size_t)n;
                if (!f.control) {
                        s.data_bytes += f.length;
                        s.data_frames++;
                        s.fins += f.flags & SPDY_FLAG_FIN;
                } else if (f.type == SPDY_WINDOW_UPDATE) {
                        s.updates++;
                        s.last_update_id = f.stream_id;
                        s.last_update_delta = be32(f.payload + 4);
                }
        }
        assert_int_equal(off, out->len);
        out->len = 0;
        return s;
}

static uint8_t big[200 * 1024];

static void test_sends_stop_at_the_initial_window(void **state) {
        SpdyFlow f;
        Buf out = {};
        spdy_flow_init(&f);
        spdy_flow_open(&f, 1);
        spdy_flow_send(&f, 1, 0, big, 100 * 1024, &out);
        Sent s = sent(&out);
        assert_int_equal(s.data_bytes, SPDY_INITIAL_WINDOW);
        assert_int_equal(spdy_flow_pending(&f, 1), 100 * 1024 - SPDY_INITIAL_WINDOW);
        assert_int_equal(f.pending_total, 100 * 1024 - SPDY_INITIAL_WINDOW);
        /* A FIN waits behind the data. */
        spdy_flow_send(&f, 1, SPDY_FLAG_FIN, NULL, 0, &out);
        assert_int_equal(sent(&out).fins, 0);
        /* The stream window opens, the session window is still shut. */
        assert_int_equal(spdy_flow_window_update(&f, 1, 1 << 20, &out), 0);
        assert_int_equal(f.mode, SPDY_FLOW_ON);
        assert_int_equal(sent(&out).data_bytes, 0);
        assert_int_equal(spdy_flow_window_update(&f, 0, 10000, &out), 0);
        s = sent(&out);
        assert_int_equal(s.data_bytes, 10000);
        assert_int_equal(s.fins, 0);
        assert_int_equal(spdy_flow_window_update(&f, 0, 1 << 20, &out), 0);
        s = sent(&out);
        assert_int_equal(s.data_bytes, 100 * 1024 - SPDY_INITIAL_WINDOW - 10000);
        assert_int_equal(s.fins, 1);
        assert_int_equal(f.pending_total, 0);
        spdy_flow_done(&f);
        buf_done(&out);
        (void)state;
}

static void test_settings_move_every_open_window(void **state) {
        SpdyFlow f;
        Buf out = {};
        spdy_flow_init(&f);
        spdy_flow_open(&f, 1);
        spdy_flow_open(&f, 3);
        spdy_flow_send(&f, 1, 0, big, 1000, &out);
        sent(&out);
        /* count 1, id 7 (initial window) = 500: stream 1 is now 500 bytes over (-500), stream 3 at 500. */
        uint8_t settings[12] = {0, 0, 0, 1, 0, 0, 0, 7, 0, 0, 0x01, 0xf4};
        assert_int_equal(spdy_flow_settings(&f, settings, sizeof(settings), &out), 0);
        assert_int_equal(f.mode, SPDY_FLOW_ON);
        spdy_flow_send(&f, 1, 0, big, 100, &out);
        assert_int_equal(sent(&out).data_bytes, 0);
        spdy_flow_send(&f, 3, 0, big, 600, &out);
        assert_int_equal(sent(&out).data_bytes, 500);
        assert_int_equal(spdy_flow_window_update(&f, 1, 550, &out), 0);
        assert_int_equal(sent(&out).data_bytes, 50);
        /* New streams start at the new size. */
        spdy_flow_open(&f, 5);
        spdy_flow_send(&f, 5, 0, big, 800, &out);
        assert_int_equal(sent(&out).data_bytes, 500);
        spdy_flow_done(&f);
        buf_done(&out);
        (void)state;
}

static void test_bad_settings_and_updates_are_errors(void **state) {
        SpdyFlow f;
        Buf out = {};
        spdy_flow_init(&f);
        spdy_flow_open(&f, 1);
        uint8_t short_count[8] = {0, 0, 0, 1, 0, 0, 0, 7};
        assert_int_equal(spdy_flow_settings(&f, short_count, sizeof(short_count), &out), -EPROTO);
        uint8_t too_big[12] = {0, 0, 0, 1, 0, 0, 0, 7, 0x80, 0, 0, 0};
        assert_int_equal(spdy_flow_settings(&f, too_big, sizeof(too_big), &out), -EPROTO);
        /* Other settings are accepted and ignored. */
        uint8_t other[12] = {0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 100};
        assert_int_equal(spdy_flow_settings(&f, other, sizeof(other), &out), 0);
        assert_int_equal(f.mode, SPDY_FLOW_UNKNOWN);
        assert_int_equal(spdy_flow_window_update(&f, 1, 0, &out), -EINVAL);
        assert_null(f.n ? f.streams : NULL); /* the stream was closed */
        spdy_flow_open(&f, 3);
        assert_int_equal(spdy_flow_window_update(&f, 3, SPDY_MAX_WINDOW - SPDY_INITIAL_WINDOW, &out), 0);
        assert_int_equal(spdy_flow_window_update(&f, 3, 1, &out), -EOVERFLOW);
        assert_int_equal(spdy_flow_window_update(&f, 0, SPDY_MAX_WINDOW, &out), -EOVERFLOW);
        assert_int_equal(spdy_flow_window_update(&f, 0, 0, &out), -EINVAL);
        /* Updates for streams that ended are not errors. */
        assert_int_equal(spdy_flow_window_update(&f, 99, 10, &out), 0);
        spdy_flow_done(&f);
        buf_done(&out);
        (void)state;
}

static void test_consumed_data_is_given_back(void **state) {
        SpdyFlow f;
        Buf out = {};
        spdy_flow_init(&f);
        spdy_flow_open(&f, 1);
        assert_int_equal(spdy_flow_received(&f, 1, 30000, false, &out), 0);
        spdy_flow_consumed(&f, 1, 20000, &out);
        assert_int_equal(sent(&out).updates, 0);
        spdy_flow_consumed(&f, 1, 10000, &out);
        assert_int_equal(sent(&out).updates, 0);
        assert_int_equal(spdy_flow_received(&f, 1, 30000, false, &out), 0);
        spdy_flow_consumed(&f, 1, 30000, &out);
        Sent s = sent(&out);
        assert_int_equal(s.updates, 2); /* the session's and the stream's */
        assert_int_equal(s.last_update_id, 1);
        assert_int_equal(s.last_update_delta, 60000);
        assert_int_equal(f.session_recv, SPDY_INITIAL_WINDOW);
        spdy_flow_done(&f);
        buf_done(&out);
        (void)state;
}

static void test_an_overrun_before_any_flow_control_turns_it_off(void **state) {
        SpdyFlow f;
        Buf out = {};
        spdy_flow_init(&f);
        spdy_flow_open(&f, 1);
        spdy_flow_send(&f, 1, 0, big, 100 * 1024, &out);
        assert_int_equal(sent(&out).data_bytes, SPDY_INITIAL_WINDOW);
        assert_int_equal(spdy_flow_received(&f, 1, 40000, false, &out), 0);
        assert_int_equal(spdy_flow_received(&f, 1, 40000, false, &out), 0);
        assert_int_equal(f.mode, SPDY_FLOW_OFF);
        /* What waited is written, and windows no longer count. */
        assert_int_equal(sent(&out).data_bytes, 100 * 1024 - SPDY_INITIAL_WINDOW);
        spdy_flow_send(&f, 1, 0, big, sizeof(big), &out);
        assert_int_equal(sent(&out).data_bytes, sizeof(big));
        spdy_flow_consumed(&f, 1, 80000, &out);
        assert_int_equal(sent(&out).updates, 0);
        spdy_flow_done(&f);
        buf_done(&out);
        (void)state;
}

static void test_an_overrun_after_flow_control_is_an_error(void **state) {
        SpdyFlow f;
        Buf out = {};
        spdy_flow_init(&f);
        spdy_flow_open(&f, 1);
        spdy_flow_open(&f, 3);
        assert_int_equal(spdy_flow_window_update(&f, 0, 1000, &out), 0);
        assert_int_equal(spdy_flow_received(&f, 1, SPDY_INITIAL_WINDOW, false, &out), 0);
        /* Credit on another stream reopens the session window only. */
        spdy_flow_consumed(&f, 3, SPDY_INITIAL_WINDOW, &out);
        assert_int_equal(spdy_flow_received(&f, 1, 1, false, &out), -EOVERFLOW);
        assert_int_equal(spdy_flow_received(&f, 3, SPDY_INITIAL_WINDOW, false, &out), -EPROTO);
        spdy_flow_done(&f);
        buf_done(&out);
        (void)state;
}

static void test_give_up_writes_everything(void **state) {
        SpdyFlow f;
        Buf out = {};
        spdy_flow_init(&f);
        spdy_flow_open(&f, 1);
        spdy_flow_open(&f, 3);
        spdy_flow_send(&f, 1, SPDY_FLAG_FIN, big, 50000, &out);
        spdy_flow_send(&f, 3, SPDY_FLAG_FIN, big, 50000, &out);
        Sent s = sent(&out);
        assert_int_equal(s.data_bytes, SPDY_INITIAL_WINDOW); /* the session window is shared */
        assert_int_equal(s.fins, 1);
        spdy_flow_give_up(&f, &out);
        s = sent(&out);
        assert_int_equal(s.data_bytes, 100000 - SPDY_INITIAL_WINDOW);
        assert_int_equal(s.fins, 1);
        assert_int_equal(f.pending_total, 0);
        spdy_flow_done(&f);
        buf_done(&out);
        (void)state;
}

static void test_finished_streams_are_forgotten(void **state) {
        SpdyFlow f;
        Buf out = {};
        spdy_flow_init(&f);
        spdy_flow_give_up(&f, &out);
        for (uint32_t id = 1; id < 2000; id += 2) {
                spdy_flow_open(&f, id);
                spdy_flow_send(&f, id, SPDY_FLAG_FIN, "x", 1, &out);
                spdy_flow_received(&f, id, 0, true, &out);
        }
        assert_int_equal(f.n, 0);
        /* Streams whose peer never says FIN are bounded too. */
        for (uint32_t id = 1; id < 2000; id += 2) {
                spdy_flow_open(&f, id);
                spdy_flow_send(&f, id, SPDY_FLAG_FIN, "x", 1, &out);
        }
        assert_true(f.n <= 256);
        /* Sending to a stream that is not open writes through; nothing follows a FIN. */
        out.len = 0;
        spdy_flow_send(&f, 4001, 0, "abc", 3, &out);
        assert_int_equal(sent(&out).data_bytes, 3);
        spdy_flow_open(&f, 4003);
        spdy_flow_send(&f, 4003, SPDY_FLAG_FIN, NULL, 0, &out);
        spdy_flow_send(&f, 4003, 0, "abc", 3, &out);
        Sent s = sent(&out);
        assert_int_equal(s.data_bytes, 0);
        assert_int_equal(s.fins, 1);
        spdy_flow_done(&f);
        buf_done(&out);
        (void)state;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_sends_stop_at_the_initial_window),
                cmocka_unit_test(test_settings_move_every_open_window),
                cmocka_unit_test(test_bad_settings_and_updates_are_errors),
                cmocka_unit_test(test_consumed_data_is_given_back),
                cmocka_unit_test(test_an_overrun_before_any_flow_control_turns_it_off),
                cmocka_unit_test(test_an_overrun_after_flow_control_is_an_error),
                cmocka_unit_test(test_give_up_writes_everything),
                cmocka_unit_test(test_finished_streams_are_forgotten),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
