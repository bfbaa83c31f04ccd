/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.pb-c.h"
#include "runtime.h"

/*
 * ListMetricDescriptors and ListPodSandboxMetrics: the pod and container samples under cAdvisor's
 * metric names, so a kubelet's /metrics/cadvisor reads the same from us as from cAdvisor. One table
 * (pod-metrics.c) drives both RPCs. CRI carries integer values: seconds are whole seconds.
 */

enum {
        POD_METRICS_CPU = 1 << 0,
        POD_METRICS_MEMORY = 1 << 1,
        POD_METRICS_NETWORK = 1 << 2,
        POD_METRICS_PROCESS = 1 << 3,
        POD_METRICS_DISK = 1 << 4,
        POD_METRICS_SPEC = 1 << 5,
        POD_METRICS_HUGETLB = 1 << 6,
        POD_METRICS_OOM = 1 << 7,
        POD_METRICS_DISKIO = 1 << 8,
        POD_METRICS_PRESSURE = 1 << 9,
};

/*
 * The groups `included_pod_metrics` names ("all" for every one); container_last_seen is always
 * reported. -EINVAL naming an unknown group in *ret_bad.
 */
int pod_metrics_groups(char *const *included, unsigned *ret, const char **ret_bad);

/* The descriptors of the enabled groups. Caller frees the array and its messages. */
Runtime__V1__MetricDescriptor **pod_metrics_descriptors(unsigned groups, size_t *ret_n);

/* One pod's metrics from its stats sample. */
Runtime__V1__PodSandboxMetrics *pod_metrics_from_stats(const PodStatsInfo *s, unsigned groups);
