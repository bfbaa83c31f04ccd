/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "daemon-metrics.h"
#include "grpc-status.h"
#include "macros.h"
#include "strv.h"
#include "test-util.h"

static void test_pull_failure_reasons(void **state) {
        assert_string_equal(pull_failure_reason(-ECONNREFUSED), "CONNECTION_REFUSED");
        assert_string_equal(pull_failure_reason(-ETIMEDOUT), "CONNECTION_TIMEOUT");
        assert_string_equal(pull_failure_reason(-EACCES), "UNAUTHORIZED");
        assert_string_equal(pull_failure_reason(-ENOENT), "NOT_FOUND");
        assert_string_equal(pull_failure_reason(-EIO), "UNKNOWN");
}

static void test_zombie_state_after_the_last_paren(void **state) {
        assert_true(proc_stat_is_zombie("123 (sh) Z 1 123 123 0 -1"));
        assert_false(proc_stat_is_zombie("123 (sh) S 1 123 123 0 -1"));
        /* A command name may hold ") Z": only the last parenthesis ends it. */
        assert_false(proc_stat_is_zombie("123 (a) Z (b) R 1 2"));
        assert_true(proc_stat_is_zombie("123 (x y) Z 1"));
        assert_false(proc_stat_is_zombie("garbage"));
}

static Config *metrics_config(const char *collectors) {
        Config *c = config_new_default();
        c->enable_metrics = true;
        strv_free(c->metrics_collectors);
        c->metrics_collectors = strv_split(collectors, ',');
        return c;
}

static void test_rpc_metrics_count_calls_errors_and_latency(void **state) {
        Config *c =
                metrics_config("operations_total,operations_errors_total,operations_latency_seconds_total");
        DaemonMetrics m;
        daemon_metrics_init(&m, c);
        daemon_metrics_rpc(&m, "Version", GRPC_STATUS_OK, 0.001);
        daemon_metrics_rpc(&m, "Version", GRPC_STATUS_NOT_FOUND, 0.002);
        _cleanup_free_ char *text = daemon_metrics_render(&m);
        assert_contains(text, "container_runtime_crio_operations_total{operation=\"Version\"} 2\n");
        assert_contains(text, "container_runtime_crio_operations_errors_total{operation=\"Version\"} 1\n");
        assert_contains(
                text,
                "container_runtime_crio_operations_latency_seconds_total_count{operation=\"Version\"} 2\n");
        assert_contains(text, "container_runtime_crio_operations_duration_seconds_bucket{operation="
                              "\"Version\",le=\"+Inf\"} 2\n");
        /* Not selected: neither the gauge of the last latency nor the default runtime. */
        assert_null(strstr(text, "operations_latency_seconds{"));
        assert_null(strstr(text, "default_runtime"));
        daemon_metrics_done(&m);
        config_free(c);
}

static void test_metrics_off_renders_nothing(void **state) {
        Config *c = metrics_config("operations_total");
        c->enable_metrics = false;
        DaemonMetrics m;
        daemon_metrics_init(&m, c);
        daemon_metrics_rpc(&m, "Version", GRPC_STATUS_OK, 0.001);
        daemon_metrics_pull(&m, -ENOENT);
        _cleanup_free_ char *text = daemon_metrics_render(&m);
        assert_string_equal(text, "");
        daemon_metrics_done(&m);
        config_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pull_failure_reasons),
                cmocka_unit_test(test_zombie_state_after_the_last_paren),
                cmocka_unit_test(test_rpc_metrics_count_calls_errors_and_latency),
                cmocka_unit_test(test_metrics_off_renders_nothing),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
