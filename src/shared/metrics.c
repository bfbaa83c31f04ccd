/* SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "metrics.h"
#include "strv.h"

typedef struct Series {
        char **values; /* one per label name */
        double value;  /* counters and gauges */
        double sum;    /* histograms and summaries */
        unsigned long long count;
        unsigned long long *buckets; /* cumulative per bound, histograms only */
} Series;

struct MetricFamily {
        Metrics *owner;
        char *name, *help;
        MetricKind kind;
        char **labels;
        size_t n_labels;
        double *bounds;
        size_t n_bounds;
        Series *series;
        size_t n_series;
};

struct Metrics {
        pthread_mutex_t lock;
        char **collectors; /* NULL: all */
        MetricFamily **families;
        size_t n_families;
};

Metrics *metrics_new(char *const *collectors) {
        Metrics *m = xcalloc(1, sizeof(*m));
        pthread_mutex_init(&m->lock, NULL);
        m->collectors = collectors ? strv_copy(collectors) : NULL;
        return m;
}

static void family_free(MetricFamily *f) {
        for (size_t i = 0; i < f->n_series; i++) {
                strv_free(f->series[i].values);
                free(f->series[i].buckets);
        }
        free(f->series);
        free(f->name);
        free(f->help);
        strv_free(f->labels);
        free(f->bounds);
        free(f);
}

Metrics *metrics_free(Metrics *m) {
        if (!m)
                return NULL;
        for (size_t i = 0; i < m->n_families; i++)
                family_free(m->families[i]);
        free(m->families);
        strv_free(m->collectors);
        pthread_mutex_destroy(&m->lock);
        return mfree(m);
}

static const char *strip_prefixes(const char *s) {
        if (strncmp(s, "container_runtime_", 18) == 0)
                s += 18;
        if (strncmp(s, "crio_", 5) == 0)
                s += 5;
        return s;
}

bool metrics_collector_enabled(const Metrics *m, const char *collector) {
        if (!m->collectors)
                return true;
        STRV_FOREACH(c, m->collectors)
                if (strcmp(strip_prefixes(*c), strip_prefixes(collector)) == 0)
                        return true;
        return false;
}

MetricFamily *metrics_family(Metrics *m, const char *collector, const char *name, const char *help,
                             MetricKind kind, const char *labels, const double *buckets, size_t n_buckets) {
        if (!m || !metrics_collector_enabled(m, collector))
                return NULL;
        MetricFamily *f = xcalloc(1, sizeof(*f));
        f->owner = m;
        f->name = xstrdup(name);
        f->help = xstrdup(help);
        f->kind = kind;
        f->labels = isempty(labels) ? xcalloc(1, sizeof(char *)) : strv_split(labels, ',');
        f->n_labels = strv_length(f->labels);
        if (kind == METRIC_HISTOGRAM && n_buckets > 0) {
                f->bounds = xmalloc(n_buckets * sizeof(double));
                memcpy(f->bounds, buckets, n_buckets * sizeof(double));
                f->n_bounds = n_buckets;
        }
        pthread_mutex_lock(&m->lock);
        m->families = xrealloc(m->families, (m->n_families + 1) * sizeof(*m->families));
        m->families[m->n_families++] = f;
        pthread_mutex_unlock(&m->lock);
        return f;
}

/* The series of `values`, created on first use; f->owner->lock held. */
static Series *series_get(MetricFamily *f, const char *const *values) {
        for (size_t i = 0; i < f->n_series; i++) {
                bool same = true;
                for (size_t k = 0; k < f->n_labels && same; k++)
                        same = strcmp(f->series[i].values[k], values[k] ? values[k] : "") == 0;
                if (same)
                        return &f->series[i];
        }
        f->series = xrealloc(f->series, (f->n_series + 1) * sizeof(Series));
        Series *s = &f->series[f->n_series++];
        *s = (Series){.values = xcalloc(f->n_labels + 1, sizeof(char *))};
        for (size_t k = 0; k < f->n_labels; k++)
                s->values[k] = xstrdup(values[k] ? values[k] : "");
        if (f->n_bounds)
                s->buckets = xcalloc(f->n_bounds, sizeof(*s->buckets));
        return s;
}

static void update(MetricFamily *f, const char *const *values, double v, int op) {
        if (!f)
                return;
        pthread_mutex_lock(&f->owner->lock);
        Series *s = series_get(f, values);
        if (op == 0)
                s->value += v;
        else if (op == 1)
                s->value = v;
        else {
                s->sum += v;
                s->count++;
                for (size_t i = 0; i < f->n_bounds; i++)
                        if (v <= f->bounds[i])
                                s->buckets[i]++;
        }
        pthread_mutex_unlock(&f->owner->lock);
}

void metric_add(MetricFamily *f, const char *const *values, double v) {
        update(f, values, v, 0);
}

void metric_set(MetricFamily *f, const char *const *values, double v) {
        update(f, values, v, 1);
}

void metric_observe(MetricFamily *f, const char *const *values, double v) {
        update(f, values, v, 2);
}

void metric_inc1(MetricFamily *f, const char *value) {
        update(f, (const char *const[]){value}, 1, 0);
}

void metric_inc0(MetricFamily *f) {
        update(f, NULL, 1, 0);
}

char *metrics_escape_label(const char *s) {
        size_t n = 0;
        for (const char *p = s; *p; p++)
                n += (*p == '\\' || *p == '"' || *p == '\n') ? 2 : 1;
        char *out = xmalloc(n + 1), *o = out;
        for (const char *p = s; *p; p++) {
                if (*p == '\\' || *p == '"' || *p == '\n') {
                        *o++ = '\\';
                        *o++ = *p == '\n' ? 'n' : *p;
                } else
                        *o++ = *p;
        }
        *o = '\0';
        return out;
}

void metrics_format_value(double v, char *buf, size_t size) {
        if (isnan(v))
                snprintf(buf, size, "NaN");
        else if (isinf(v))
                snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
        else if (v == floor(v) && fabs(v) < 1e15)
                snprintf(buf, size, "%.0f", v);
        else
                /* The shortest form that reads back as the same double. */
                for (int precision = 15; precision <= 17; precision++) {
                        snprintf(buf, size, "%.*g", precision, v);
                        if (strtod(buf, NULL) == v)
                                break;
                }
}

/* `{a="x",b="y"` plus an optional extra label (le="..."), then `}`; "" when there are no labels. */
static void write_labels(FILE *out, const MetricFamily *f, const Series *s, const char *extra_name,
                         const char *extra_value) {
        if (f->n_labels == 0 && !extra_name)
                return;
        fputc('{', out);
        for (size_t k = 0; k < f->n_labels; k++) {
                _cleanup_free_ char *e = metrics_escape_label(s->values[k]);
                fprintf(out, "%s%s=\"%s\"", k ? "," : "", f->labels[k], e);
        }
        if (extra_name)
                fprintf(out, "%s%s=\"%s\"", f->n_labels ? "," : "", extra_name, extra_value);
        fputc('}', out);
}

static void write_sample(FILE *out, const MetricFamily *f, const char *suffix, const Series *s,
                         const char *extra_name, const char *extra_value, double v) {
        char num[64];
        metrics_format_value(v, num, sizeof(num));
        fprintf(out, "%s%s", f->name, suffix);
        write_labels(out, f, s, extra_name, extra_value);
        fprintf(out, " %s\n", num);
}

static void write_series(FILE *out, const MetricFamily *f, const Series *s) {
        if (f->kind == METRIC_COUNTER || f->kind == METRIC_GAUGE) {
                write_sample(out, f, "", s, NULL, NULL, s->value);
                return;
        }
        for (size_t i = 0; i < f->n_bounds; i++) {
                char le[64];
                metrics_format_value(f->bounds[i], le, sizeof(le));
                write_sample(out, f, "_bucket", s, "le", le, (double)s->buckets[i]);
        }
        if (f->kind == METRIC_HISTOGRAM)
                write_sample(out, f, "_bucket", s, "le", "+Inf", (double)s->count);
        write_sample(out, f, "_sum", s, NULL, NULL, s->sum);
        write_sample(out, f, "_count", s, NULL, NULL, (double)s->count);
}

static const char *kind_name(MetricKind k) {
        static const char *const names[] = {"counter", "gauge", "histogram", "summary"};
        return names[k];
}

/* HELP text escapes only backslash and newline. */
static void write_help(FILE *out, const char *help) {
        for (const char *p = help; *p; p++) {
                if (*p == '\\')
                        fputs("\\\\", out);
                else if (*p == '\n')
                        fputs("\\n", out);
                else
                        fputc(*p, out);
        }
}

char *metrics_render(Metrics *m) {
        char *buf = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&buf, &len);
        if (!out)
                return xstrdup("");
        pthread_mutex_lock(&m->lock);
        for (size_t i = 0; i < m->n_families; i++) {
                MetricFamily *f = m->families[i];
                /* A family without labels has its one series from the start: a counter reads 0. */
                if (f->n_labels == 0 && f->n_series == 0)
                        series_get(f, NULL);
                if (f->n_series == 0)
                        continue;
                fprintf(out, "# HELP %s ", f->name);
                write_help(out, f->help);
                fprintf(out, "\n# TYPE %s %s\n", f->name, kind_name(f->kind));
                for (size_t k = 0; k < f->n_series; k++)
                        write_series(out, f, &f->series[k]);
        }
        pthread_mutex_unlock(&m->lock);
        fclose(out);
        return buf;
}
