/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

#include "metrics.h"

/*
 * The image pull metrics: CRI-O's (bytes pulled by media type and size, bytes skipped because the
 * layer was present, per-layer size histogram, reused layers) and a per-stage latency histogram that
 * CRI-O lacks. Families are NULL when metrics are off or their collector is not selected.
 */
typedef struct PullMetrics {
        MetricFamily *bytes, *skipped_bytes, *layer_size, *layer_reuse, *stage_seconds;
} PullMetrics;

void pull_metrics_init(PullMetrics *pm, Metrics *m);

/* The size label of a layer: "<1KiB", "<1MiB", "<10MiB", "<100MiB", "<1GiB", "<10GiB", ">=10GiB". */
const char *pull_size_bucket(uint64_t bytes);

/* A layer fetched (bytes as the registry sent them) or found present (skipped, reused). */
void pull_metrics_layer_fetched(const PullMetrics *pm, const char *media_type, uint64_t bytes);
void pull_metrics_layer_reused(const PullMetrics *pm, const char *digest, uint64_t bytes);
/* Seconds spent in a stage: "fetch_extract" (download, digest, inflate and extract in one pass),
 * "layer_commit", "image_commit". */
void pull_metrics_stage(const PullMetrics *pm, const char *stage, double seconds);
