/* SPDX-License-Identifier: Apache-2.0 */
#include "macros.h"
#include "pull-metrics.h"

#define PREFIX "container_runtime_crio_"
#define KIB 1024.0

static const double size_buckets[] = {KIB,           KIB *KIB,          10 * KIB *KIB, 100 * KIB *KIB,
                                      KIB *KIB *KIB, 10 * KIB *KIB *KIB};
/* Seconds: a small layer commits in a millisecond, a big one downloads for minutes. */
static const double stage_buckets[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300};

void pull_metrics_init(PullMetrics *pm, Metrics *m) {
        pm->bytes = metrics_family(m, "image_pulls_bytes_total", PREFIX "image_pulls_bytes_total",
                                   "Bytes of image layers pulled, by media type and layer size.",
                                   METRIC_COUNTER, "mediatype,size", NULL, 0);
        pm->skipped_bytes = metrics_family(m, "image_pulls_skipped_bytes_total",
                                           PREFIX "image_pulls_skipped_bytes_total",
                                           "Bytes of image layers not pulled because they were present, by "
                                           "layer size.",
                                           METRIC_COUNTER, "size", NULL, 0);
        pm->layer_size = metrics_family(m, "image_pulls_layer_size", PREFIX "image_pulls_layer_size",
                                        "Sizes of the image layers pulled, in bytes.", METRIC_HISTOGRAM, "",
                                        size_buckets, ELEMENTSOF(size_buckets));
        pm->layer_reuse = metrics_family(m, "image_layer_reuse_total", PREFIX "image_layer_reuse_total",
                                         "Image layers found present instead of pulled, by layer digest.",
                                         METRIC_COUNTER, "name", NULL, 0);
        pm->stage_seconds =
                metrics_family(m, "image_pulls_layer_size", PREFIX "image_pull_stage_seconds",
                               "Time spent per image pull stage and layer, in seconds.", METRIC_HISTOGRAM,
                               "stage", stage_buckets, ELEMENTSOF(stage_buckets));
}

const char *pull_size_bucket(uint64_t bytes) {
        static const struct {
                uint64_t below;
                const char *label;
        } b[] = {{1ULL << 10, "<1KiB"},     {1ULL << 20, "<1MiB"}, {10ULL << 20, "<10MiB"},
                 {100ULL << 20, "<100MiB"}, {1ULL << 30, "<1GiB"}, {10ULL << 30, "<10GiB"}};
        for (size_t i = 0; i < ELEMENTSOF(b); i++)
                if (bytes < b[i].below)
                        return b[i].label;
        return ">=10GiB";
}

void pull_metrics_layer_fetched(const PullMetrics *pm, const char *media_type, uint64_t bytes) {
        metric_add(pm->bytes, (const char *const[]){media_type, pull_size_bucket(bytes)}, (double)bytes);
        metric_observe(pm->layer_size, NULL, (double)bytes);
}

void pull_metrics_layer_reused(const PullMetrics *pm, const char *digest, uint64_t bytes) {
        metric_add(pm->skipped_bytes, (const char *const[]){pull_size_bucket(bytes)}, (double)bytes);
        metric_inc1(pm->layer_reuse, digest);
}

void pull_metrics_stage(const PullMetrics *pm, const char *stage, double seconds) {
        metric_observe(pm->stage_seconds, (const char *const[]){stage}, seconds);
}
