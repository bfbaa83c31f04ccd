/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macros.h"
#include "pull-metrics.h"
#include "test-util.h"

static void test_size_buckets(void **state) {
        assert_string_equal(pull_size_bucket(0), "<1KiB");
        assert_string_equal(pull_size_bucket(1023), "<1KiB");
        assert_string_equal(pull_size_bucket(1024), "<1MiB");
        assert_string_equal(pull_size_bucket(5 << 20), "<10MiB");
        assert_string_equal(pull_size_bucket(99ULL << 20), "<100MiB");
        assert_string_equal(pull_size_bucket(1ULL << 30), "<10GiB");
        assert_string_equal(pull_size_bucket(10ULL << 30), ">=10GiB");
}

static void test_layers_fetched_and_reused(void **state) {
        Metrics *m = metrics_new(NULL);
        PullMetrics pm;
        pull_metrics_init(&pm, m);
        pull_metrics_layer_fetched(&pm, "application/vnd.oci.image.layer.v1.tar+gzip", 2048);
        pull_metrics_layer_reused(&pm, "sha256:abc", 2048);
        pull_metrics_stage(&pm, "layer_commit", 0.002);
        _cleanup_free_ char *text = metrics_render(m);
        assert_contains(
                text, "container_runtime_crio_image_pulls_bytes_total{mediatype=\"application/vnd.oci.image."
                      "layer.v1.tar+gzip\",size=\"<1MiB\"} 2048\n");
        assert_contains(text,
                        "container_runtime_crio_image_pulls_skipped_bytes_total{size=\"<1MiB\"} 2048\n");
        assert_contains(text, "container_runtime_crio_image_layer_reuse_total{name=\"sha256:abc\"} 1\n");
        assert_contains(text, "container_runtime_crio_image_pulls_layer_size_bucket{le=\"1024\"} 0\n");
        assert_contains(text, "container_runtime_crio_image_pulls_layer_size_bucket{le=\"1048576\"} 1\n");
        assert_contains(text,
                        "container_runtime_crio_image_pull_stage_seconds_count{stage=\"layer_commit\"} 1\n");
        metrics_free(m);
}

static void test_without_metrics_nothing_happens(void **state) {
        PullMetrics pm;
        pull_metrics_init(&pm, NULL);
        assert_null(pm.bytes);
        pull_metrics_layer_fetched(&pm, "x", 1);
        pull_metrics_layer_reused(&pm, "y", 1);
        pull_metrics_stage(&pm, "z", 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_size_buckets),
                cmocka_unit_test(test_layers_fetched_and_reused),
                cmocka_unit_test(test_without_metrics_nothing_happens),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
