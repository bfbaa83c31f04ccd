/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macros.h"
#include "metrics.h"
#include "strv.h"
#include "test-util.h"

static void test_counter_with_labels_renders_each_series(void **state) {
        Metrics *m = metrics_new(NULL);
        MetricFamily *f =
                metrics_family(m, "ops", "x_ops_total", "Calls.", METRIC_COUNTER, "operation", NULL, 0);
        metric_inc1(f, "Version");
        metric_inc1(f, "Version");
        metric_inc1(f, "Status");
        _cleanup_free_ char *text = metrics_render(m);
        assert_string_equal(text, "# HELP x_ops_total Calls.\n"
                                  "# TYPE x_ops_total counter\n"
                                  "x_ops_total{operation=\"Version\"} 2\n"
                                  "x_ops_total{operation=\"Status\"} 1\n");
        metrics_free(m);
}

static void test_labelled_family_without_series_is_left_out(void **state) {
        Metrics *m = metrics_new(NULL);
        metrics_family(m, "a", "x_a_total", "A.", METRIC_COUNTER, "name", NULL, 0);
        metrics_family(m, "b", "x_b_total", "B.", METRIC_COUNTER, "", NULL, 0);
        _cleanup_free_ char *text = metrics_render(m);
        /* A counter without labels reads 0 from the start; one with labels has no series yet. */
        assert_string_equal(text, "# HELP x_b_total B.\n# TYPE x_b_total counter\nx_b_total 0\n");
        metrics_free(m);
}

static void test_histogram_buckets_are_cumulative(void **state) {
        static const double bounds[] = {0.1, 1};
        Metrics *m = metrics_new(NULL);
        MetricFamily *f = metrics_family(m, "h", "x_seconds", "Latency.", METRIC_HISTOGRAM, "op", bounds, 2);
        metric_observe(f, (const char *const[]){"a"}, 0.05);
        metric_observe(f, (const char *const[]){"a"}, 0.5);
        metric_observe(f, (const char *const[]){"a"}, 7);
        _cleanup_free_ char *text = metrics_render(m);
        assert_contains(text, "# TYPE x_seconds histogram\n");
        assert_contains(text, "x_seconds_bucket{op=\"a\",le=\"0.1\"} 1\n");
        assert_contains(text, "x_seconds_bucket{op=\"a\",le=\"1\"} 2\n");
        assert_contains(text, "x_seconds_bucket{op=\"a\",le=\"+Inf\"} 3\n");
        assert_contains(text, "x_seconds_sum{op=\"a\"} 7.55\n");
        assert_contains(text, "x_seconds_count{op=\"a\"} 3\n");
        metrics_free(m);
}

static void test_summary_has_sum_and_count_only(void **state) {
        Metrics *m = metrics_new(NULL);
        MetricFamily *f = metrics_family(m, "s", "x_s", "S.", METRIC_SUMMARY, "", NULL, 0);
        metric_observe(f, NULL, 2);
        _cleanup_free_ char *text = metrics_render(m);
        assert_string_equal(text, "# HELP x_s S.\n# TYPE x_s summary\nx_s_sum 2\nx_s_count 1\n");
        metrics_free(m);
}

static void test_gauge_set_replaces(void **state) {
        Metrics *m = metrics_new(NULL);
        MetricFamily *f = metrics_family(m, "g", "x_g", "G.", METRIC_GAUGE, "", NULL, 0);
        metric_set(f, NULL, 5);
        metric_set(f, NULL, 3);
        _cleanup_free_ char *text = metrics_render(m);
        assert_contains(text, "\nx_g 3\n");
        metrics_free(m);
}

static void test_label_values_and_help_are_escaped(void **state) {
        Metrics *m = metrics_new(NULL);
        MetricFamily *f = metrics_family(m, "e", "x_e_total", "Back\\slash\nnewline.", METRIC_COUNTER,
                                         "name", NULL, 0);
        metric_inc1(f, "a\"b\\c\nd");
        _cleanup_free_ char *text = metrics_render(m);
        assert_contains(text, "# HELP x_e_total Back\\\\slash\\nnewline.\n");
        assert_contains(text, "x_e_total{name=\"a\\\"b\\\\c\\nd\"} 1\n");
        metrics_free(m);
}

static void test_collectors_match_with_or_without_prefixes(void **state) {
        char *const collectors[] = {"crio_operations_total",
                                    "container_runtime_crio_image_pulls_success_total", "processes_defunct",
                                    NULL};
        Metrics *m = metrics_new(collectors);
        assert_true(metrics_collector_enabled(m, "operations_total"));
        assert_true(metrics_collector_enabled(m, "image_pulls_success_total"));
        assert_true(metrics_collector_enabled(m, "crio_processes_defunct"));
        assert_false(metrics_collector_enabled(m, "operations_errors_total"));
        assert_null(metrics_family(m, "operations_errors_total", "x", "X.", METRIC_COUNTER, "", NULL, 0));
        /* Updates on a family that was not registered do nothing. */
        metric_inc0(NULL);
        metric_observe(NULL, NULL, 1);
        _cleanup_free_ char *text = metrics_render(m);
        assert_string_equal(text, "");
        metrics_free(m);
        assert_null(metrics_family(NULL, "a", "b", "c", METRIC_COUNTER, "", NULL, 0));
}

static void test_format_value(void **state) {
        char buf[64];
        metrics_format_value(INFINITY, buf, sizeof(buf));
        assert_string_equal(buf, "+Inf");
        metrics_format_value(-INFINITY, buf, sizeof(buf));
        assert_string_equal(buf, "-Inf");
        metrics_format_value(NAN, buf, sizeof(buf));
        assert_string_equal(buf, "NaN");
        metrics_format_value(42, buf, sizeof(buf));
        assert_string_equal(buf, "42");
        metrics_format_value(0.25, buf, sizeof(buf));
        assert_string_equal(buf, "0.25");
        metrics_format_value(6.99e-06, buf, sizeof(buf));
        assert_string_equal(buf, "6.99e-06");
        metrics_format_value(1e20, buf, sizeof(buf));
        assert_string_equal(buf, "1e+20");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_counter_with_labels_renders_each_series),
                cmocka_unit_test(test_labelled_family_without_series_is_left_out),
                cmocka_unit_test(test_histogram_buckets_are_cumulative),
                cmocka_unit_test(test_summary_has_sum_and_count_only),
                cmocka_unit_test(test_gauge_set_replaces),
                cmocka_unit_test(test_label_values_and_help_are_escaped),
                cmocka_unit_test(test_collectors_match_with_or_without_prefixes),
                cmocka_unit_test(test_format_value),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
