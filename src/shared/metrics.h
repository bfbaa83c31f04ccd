/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/*
 * A small Prometheus registry: counters, gauges, histograms and summaries (sum and count only), each
 * family with a fixed list of label names, rendered in the text exposition format 0.0.4. Thread-safe:
 * one mutex, held for a few pointer walks per update. Families whose collector is not enabled are
 * never registered: metrics_family() returns NULL and every update on NULL is a no-op, so callers
 * need no checks.
 */

typedef enum MetricKind { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM, METRIC_SUMMARY } MetricKind;

typedef struct Metrics Metrics;
typedef struct MetricFamily MetricFamily;

/* `collectors`: the enabled collector names (NULL-terminated; NULL enables all). */
Metrics *metrics_new(char *const *collectors);
Metrics *metrics_free(Metrics *m);

/*
 * Is `collector` enabled? Names match with or without the "crio_" and "container_runtime_" prefixes,
 * as CRI-O's metrics_collectors does.
 */
bool metrics_collector_enabled(const Metrics *m, const char *collector);

/*
 * Register a family (once, at start) if `collector` is enabled. `labels` is a comma-separated list
 * of label names ("" for none); `buckets` the histogram's upper bounds, ascending (+Inf is implicit).
 * The name is used as given (callers put the container_runtime_ prefix in).
 */
MetricFamily *metrics_family(Metrics *m, const char *collector, const char *name, const char *help,
                             MetricKind kind, const char *labels, const double *buckets, size_t n_buckets);

/* `values` has one entry per label name (NULL when the family has none). */
void metric_add(MetricFamily *f, const char *const *values, double v);
void metric_set(MetricFamily *f, const char *const *values, double v);
/* Histograms and summaries. */
void metric_observe(MetricFamily *f, const char *const *values, double v);

/* Shorthands for families with one label or none. */
void metric_inc1(MetricFamily *f, const char *value);
void metric_inc0(MetricFamily *f);

/* The exposition text of every family with at least one series (families without labels always). */
char *metrics_render(Metrics *m);

/* Escape a label value for the text format (backslash, double quote, newline). Caller frees. */
char *metrics_escape_label(const char *s);
/* A sample value as the text format writes it ("+Inf", "NaN", shortest exact decimal). */
void metrics_format_value(double v, char *buf, size_t size);
