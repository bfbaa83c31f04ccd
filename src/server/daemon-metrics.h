/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "config.h"
#include "metrics.h"

/*
 * The daemon's Prometheus metrics with CRI-O's names (container_runtime_crio_*), and the histograms
 * CRI-O lacks. Every family is NULL when enable_metrics is off or its collector is not listed in
 * metrics_collectors; updating a NULL family does nothing.
 */
typedef struct DaemonMetrics {
        Metrics *registry; /* NULL when enable_metrics is off */
        MetricFamily *ops, *ops_errors, *ops_latency, *ops_latency_total, *ops_duration;
        MetricFamily *pulls_success, *pulls_failure;
        MetricFamily *defunct, *default_runtime;
} DaemonMetrics;

/* Register the families the config enables (caller holds the config lock or owns `c`). */
void daemon_metrics_init(DaemonMetrics *m, const Config *c);
void daemon_metrics_done(DaemonMetrics *m);

/* One finished RPC: `method` is its short name, `grpc_code` its status. */
void daemon_metrics_rpc(DaemonMetrics *m, const char *method, int grpc_code, double seconds);
/* One finished PullImage: 0 or -errno. */
void daemon_metrics_pull(DaemonMetrics *m, int r);
/* The exposition text, with the gauges read at scrape time refreshed. Caller frees. */
char *daemon_metrics_render(DaemonMetrics *m);

/* CRI-O's failure label of a pull error (-errno): CONNECTION_REFUSED, UNAUTHORIZED, ..., UNKNOWN. */
const char *pull_failure_reason(int r);
/* Is the `state` field of a /proc/<pid>/stat text 'Z' (a zombie)? The comm may hold ')' and blanks. */
bool proc_stat_is_zombie(const char *stat_text);
