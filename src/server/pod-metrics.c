/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pb-util.h"
#include "pod-metrics.h"
#include "strv.h"

typedef enum Source {
        SRC_LAST_SEEN,
        SRC_CPU_SECONDS,
        SRC_MEM_USAGE,
        SRC_MEM_WORKING_SET,
        SRC_MEM_RSS,
        SRC_PROCESSES,
        SRC_FS_USAGE,
        SRC_FS_INODES,
        SRC_NET_RX_BYTES,
        SRC_NET_RX_PACKETS,
        SRC_NET_RX_DROPPED,
        SRC_NET_RX_ERRORS,
        SRC_NET_TX_BYTES,
        SRC_NET_TX_PACKETS,
        SRC_NET_TX_DROPPED,
        SRC_NET_TX_ERRORS,
        SRC_SPEC_CPU_PERIOD,
        SRC_SPEC_CPU_QUOTA,
        SRC_SPEC_CPU_SHARES,
        SRC_SPEC_MEMORY_LIMIT,
        SRC_SPEC_MEMORY_SWAP_LIMIT,
        SRC_OOM_EVENTS,
        SRC_PSI_CPU_WAITING,
        SRC_PSI_CPU_STALLED,
        SRC_PSI_MEMORY_WAITING,
        SRC_PSI_MEMORY_STALLED,
        SRC_PSI_IO_WAITING,
        SRC_PSI_IO_STALLED,
        SRC_HUGETLB_USAGE, /* per page size from here */
        SRC_HUGETLB_MAX_USAGE,
        SRC_HUGETLB_FAILCNT,
        SRC_BLKIO_USAGE,   /* per device and operation */
        SRC_FS_READ_BYTES, /* per device from here */
        SRC_FS_WRITE_BYTES,
        SRC_FS_READS,
        SRC_FS_WRITES,
} Source;

/* The labels a metric adds to the base ones, one sample per interface, page size or device. */
typedef enum Extra { EXTRA_NONE, EXTRA_INTERFACE, EXTRA_PAGESIZE, EXTRA_DEVICE_OP, EXTRA_DEVICE } Extra;

static const char *const extra_labels[][4] = {
        [EXTRA_INTERFACE] = {"interface"},
        [EXTRA_PAGESIZE] = {"pagesize"},
        [EXTRA_DEVICE_OP] = {"device", "major", "minor", "operation"},
        [EXTRA_DEVICE] = {"device"},
};

typedef struct MetricDef {
        unsigned group; /* 0: always */
        const char *name, *help;
        Runtime__V1__MetricType type;
        Source source;
} MetricDef;

#define COUNTER RUNTIME__V1__METRIC_TYPE__COUNTER
#define GAUGE RUNTIME__V1__METRIC_TYPE__GAUGE

static const MetricDef defs[] = {
        {0, "container_last_seen", "Last time a container was seen by the exporter", GAUGE, SRC_LAST_SEEN},
        {POD_METRICS_CPU, "container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.",
         COUNTER, SRC_CPU_SECONDS},
        {POD_METRICS_MEMORY, "container_memory_usage_bytes",
         "Current memory usage in bytes, including all memory regardless of when it was accessed", GAUGE,
         SRC_MEM_USAGE},
        {POD_METRICS_MEMORY, "container_memory_working_set_bytes", "Current working set in bytes.", GAUGE,
         SRC_MEM_WORKING_SET},
        {POD_METRICS_MEMORY, "container_memory_rss", "Size of RSS in bytes.", GAUGE, SRC_MEM_RSS},
        {POD_METRICS_PROCESS, "container_processes", "Number of processes running inside the container.",
         GAUGE, SRC_PROCESSES},
        {POD_METRICS_DISK, "container_fs_usage_bytes",
         "Number of bytes that are consumed by the container on this filesystem.", GAUGE, SRC_FS_USAGE},
        {POD_METRICS_DISK, "container_fs_inodes_total",
         "Number of inodes the container's writable layer uses.", GAUGE, SRC_FS_INODES},
        {POD_METRICS_NETWORK, "container_network_receive_bytes_total", "Cumulative count of bytes received",
         COUNTER, SRC_NET_RX_BYTES},
        {POD_METRICS_NETWORK, "container_network_receive_packets_total",
         "Cumulative count of packets received", COUNTER, SRC_NET_RX_PACKETS},
        {POD_METRICS_NETWORK, "container_network_receive_packets_dropped_total",
         "Cumulative count of packets dropped while receiving", COUNTER, SRC_NET_RX_DROPPED},
        {POD_METRICS_NETWORK, "container_network_receive_errors_total",
         "Cumulative count of errors encountered while receiving", COUNTER, SRC_NET_RX_ERRORS},
        {POD_METRICS_NETWORK, "container_network_transmit_bytes_total",
         "Cumulative count of bytes transmitted", COUNTER, SRC_NET_TX_BYTES},
        {POD_METRICS_NETWORK, "container_network_transmit_packets_total",
         "Cumulative count of packets transmitted", COUNTER, SRC_NET_TX_PACKETS},
        {POD_METRICS_NETWORK, "container_network_transmit_packets_dropped_total",
         "Cumulative count of packets dropped while transmitting", COUNTER, SRC_NET_TX_DROPPED},
        {POD_METRICS_NETWORK, "container_network_transmit_errors_total",
         "Cumulative count of errors encountered while transmitting", COUNTER, SRC_NET_TX_ERRORS},
        {POD_METRICS_SPEC, "container_spec_cpu_period", "CPU period of the container.", GAUGE,
         SRC_SPEC_CPU_PERIOD},
        {POD_METRICS_SPEC, "container_spec_cpu_quota", "CPU quota of the container.", GAUGE,
         SRC_SPEC_CPU_QUOTA},
        {POD_METRICS_SPEC, "container_spec_cpu_shares", "CPU share of the container.", GAUGE,
         SRC_SPEC_CPU_SHARES},
        {POD_METRICS_SPEC, "container_spec_memory_limit_bytes", "Memory limit for the container.", GAUGE,
         SRC_SPEC_MEMORY_LIMIT},
        {POD_METRICS_SPEC, "container_spec_memory_swap_limit_bytes", "Memory swap limit for the container.",
         GAUGE, SRC_SPEC_MEMORY_SWAP_LIMIT},
        {POD_METRICS_HUGETLB, "container_hugetlb_failcnt", "Number of hugepage usage hits limits", COUNTER,
         SRC_HUGETLB_FAILCNT},
        {POD_METRICS_HUGETLB, "container_hugetlb_usage_bytes", "Current hugepage usage in bytes", GAUGE,
         SRC_HUGETLB_USAGE},
        {POD_METRICS_HUGETLB, "container_hugetlb_max_usage_bytes",
         "Maximum hugepage usage recorded in bytes", GAUGE, SRC_HUGETLB_MAX_USAGE},
        {POD_METRICS_OOM, "container_oom_events_total",
         "Count of out of memory events observed for the container", COUNTER, SRC_OOM_EVENTS},
        {POD_METRICS_DISKIO, "container_blkio_device_usage_total", "Blkio Device bytes usage", COUNTER,
         SRC_BLKIO_USAGE},
        {POD_METRICS_DISKIO, "container_fs_reads_bytes_total", "Cumulative count of bytes read", COUNTER,
         SRC_FS_READ_BYTES},
        {POD_METRICS_DISKIO, "container_fs_writes_bytes_total", "Cumulative count of bytes written", COUNTER,
         SRC_FS_WRITE_BYTES},
        {POD_METRICS_DISKIO, "container_fs_reads_total", "Cumulative count of reads completed", COUNTER,
         SRC_FS_READS},
        {POD_METRICS_DISKIO, "container_fs_writes_total", "Cumulative count of writes completed", COUNTER,
         SRC_FS_WRITES},
        {POD_METRICS_PRESSURE, "container_pressure_cpu_stalled_seconds_total",
         "Total time duration no tasks in the container could make progress due to CPU congestion.", COUNTER,
         SRC_PSI_CPU_STALLED},
        {POD_METRICS_PRESSURE, "container_pressure_cpu_waiting_seconds_total",
         "Total time duration tasks in the container have waited due to CPU congestion.", COUNTER,
         SRC_PSI_CPU_WAITING},
        {POD_METRICS_PRESSURE, "container_pressure_memory_stalled_seconds_total",
         "Total time duration no tasks in the container could make progress due to memory congestion.",
         COUNTER, SRC_PSI_MEMORY_STALLED},
        {POD_METRICS_PRESSURE, "container_pressure_memory_waiting_seconds_total",
         "Total time duration tasks in the container have waited due to memory congestion.", COUNTER,
         SRC_PSI_MEMORY_WAITING},
        {POD_METRICS_PRESSURE, "container_pressure_io_stalled_seconds_total",
         "Total time duration no tasks in the container could make progress due to IO congestion.", COUNTER,
         SRC_PSI_IO_STALLED},
        {POD_METRICS_PRESSURE, "container_pressure_io_waiting_seconds_total",
         "Total time duration tasks in the container have waited due to IO congestion.", COUNTER,
         SRC_PSI_IO_WAITING},
};

/* Labels of every metric, in this order; network metrics add the interface. */
static const char *const base_labels[] = {"container", "id", "image", "name", "namespace", "pod"};

int pod_metrics_groups(char *const *included, unsigned *ret, const char **ret_bad) {
        static const struct {
                const char *name;
                unsigned group;
        } names[] = {
                {"cpu", POD_METRICS_CPU},         {"memory", POD_METRICS_MEMORY},
                {"network", POD_METRICS_NETWORK}, {"process", POD_METRICS_PROCESS},
                {"disk", POD_METRICS_DISK},       {"hugetlb", POD_METRICS_HUGETLB},
                {"oom", POD_METRICS_OOM},         {"spec", POD_METRICS_SPEC},
                {"diskIO", POD_METRICS_DISKIO},   {"pressure", POD_METRICS_PRESSURE},
        };
        unsigned g = 0;
        STRV_FOREACH(i, included) {
                if (strcmp(*i, "all") == 0) {
                        g = ~0u;
                        continue;
                }
                bool known = false;
                for (size_t k = 0; k < ELEMENTSOF(names); k++)
                        if (strcmp(*i, names[k].name) == 0) {
                                g |= names[k].group;
                                known = true;
                        }
                if (!known) {
                        *ret_bad = *i;
                        return -EINVAL;
                }
        }
        *ret = g;
        return 0;
}

static bool is_network(const MetricDef *d) {
        return d->group == POD_METRICS_NETWORK;
}

static Extra extra_of(const MetricDef *d) {
        if (is_network(d))
                return EXTRA_INTERFACE;
        if (d->source >= SRC_FS_READ_BYTES)
                return EXTRA_DEVICE;
        if (d->source == SRC_BLKIO_USAGE)
                return EXTRA_DEVICE_OP;
        if (d->source >= SRC_HUGETLB_USAGE)
                return EXTRA_PAGESIZE;
        return EXTRA_NONE;
}

/* Network counters belong to the pod (its namespace), the rest to its containers; last-seen to both. */
static bool belongs(const MetricDef *d, bool pod_level) {
        return d->group == 0 || is_network(d) == pod_level;
}

static bool enabled(const MetricDef *d, unsigned groups) {
        return d->group == 0 || (d->group & groups);
}

Runtime__V1__MetricDescriptor **pod_metrics_descriptors(unsigned groups, size_t *ret_n) {
        Runtime__V1__MetricDescriptor **l = NULL;
        size_t n = 0;
        for (size_t i = 0; i < ELEMENTSOF(defs); i++) {
                if (!enabled(&defs[i], groups))
                        continue;
                Runtime__V1__MetricDescriptor *d =
                        PB_NEW(Runtime__V1__MetricDescriptor, RUNTIME__V1__METRIC_DESCRIPTOR__INIT);
                d->name = xstrdup(defs[i].name);
                d->help = xstrdup(defs[i].help);
                for (size_t k = 0; k < ELEMENTSOF(base_labels); k++)
                        PB_APPEND(d->n_label_keys, d->label_keys, xstrdup(base_labels[k]));
                const char *const *extra = extra_labels[extra_of(&defs[i])];
                for (size_t k = 0; k < ELEMENTSOF(extra_labels[0]) && extra[k]; k++)
                        PB_APPEND(d->n_label_keys, d->label_keys, xstrdup(extra[k]));
                PB_APPEND(n, l, d);
        }
        *ret_n = n;
        return l;
}

/* A limit the container has (cAdvisor leaves out the ones that are not set). */
static bool spec_value(Source src, const ContainerStatsInfo *c, uint64_t *ret) {
        int64_t v = src == SRC_SPEC_CPU_PERIOD     ? c->spec_cpu_period
                    : src == SRC_SPEC_CPU_QUOTA    ? c->spec_cpu_quota
                    : src == SRC_SPEC_CPU_SHARES   ? c->spec_cpu_shares
                    : src == SRC_SPEC_MEMORY_LIMIT ? c->spec_memory_limit
                                                   : c->spec_memory_swap_limit;
        *ret = v > 0 ? (uint64_t)v : 0;
        return v > 0;
}

/* Whole seconds of "some" (waiting) or "full" (stalled) pressure, as cAdvisor names them. */
static bool psi_value(Source src, const UsageSample *u, uint64_t *ret) {
        unsigned k = (unsigned)(src - SRC_PSI_CPU_WAITING);
        const PsiStats *p = &u->psi[k / 2 == 0 ? PSI_CPU : k / 2 == 1 ? PSI_MEMORY : PSI_IO];
        bool stalled = k % 2 == 1;
        *ret = (stalled ? p->full.total_us : p->some.total_us) / 1000000ULL;
        return stalled ? p->has_full : p->has_some;
}

/* The sample of `src` for a container (c != NULL) or the pod, if it has one. */
static bool value_of(Source src, const PodStatsInfo *p, const ContainerStatsInfo *c, const NetIfUsage *ifc,
                     uint64_t *ret) {
        const UsageSample *u = c ? &c->usage : &p->usage;
        switch (src) {
        case SRC_LAST_SEEN:
                *ret = (uint64_t)(u->timestamp / 1000000000LL);
                return true;
        case SRC_CPU_SECONDS:
                *ret = u->cpu_ns / 1000000000ULL;
                return u->has_cpu;
        case SRC_MEM_USAGE:
                *ret = u->mem_usage;
                return u->has_memory;
        case SRC_MEM_WORKING_SET:
                *ret = u->mem_working_set;
                return u->has_memory;
        case SRC_MEM_RSS:
                *ret = u->mem_rss;
                return u->has_memory;
        case SRC_PROCESSES:
                *ret = u->pids;
                return u->has_pids;
        case SRC_FS_USAGE:
                *ret = c ? c->layer_bytes : 0;
                return c && c->has_layer;
        case SRC_FS_INODES:
                *ret = c ? c->layer_inodes : 0;
                return c && c->has_layer;
        case SRC_SPEC_CPU_PERIOD:
        case SRC_SPEC_CPU_QUOTA:
        case SRC_SPEC_CPU_SHARES:
        case SRC_SPEC_MEMORY_LIMIT:
        case SRC_SPEC_MEMORY_SWAP_LIMIT:
                return c && spec_value(src, c, ret);
        case SRC_OOM_EVENTS:
                *ret = u->oom_kills;
                return u->has_oom;
        case SRC_PSI_CPU_WAITING:
        case SRC_PSI_CPU_STALLED:
        case SRC_PSI_MEMORY_WAITING:
        case SRC_PSI_MEMORY_STALLED:
        case SRC_PSI_IO_WAITING:
        case SRC_PSI_IO_STALLED:
                return psi_value(src, u, ret);
        default:
                break;
        }
        if (!ifc)
                return false;
        const uint64_t v[] = {
                [SRC_NET_RX_BYTES] = ifc->rx_bytes,     [SRC_NET_RX_PACKETS] = ifc->rx_packets,
                [SRC_NET_RX_DROPPED] = ifc->rx_dropped, [SRC_NET_RX_ERRORS] = ifc->rx_errors,
                [SRC_NET_TX_BYTES] = ifc->tx_bytes,     [SRC_NET_TX_PACKETS] = ifc->tx_packets,
                [SRC_NET_TX_DROPPED] = ifc->tx_dropped, [SRC_NET_TX_ERRORS] = ifc->tx_errors,
        };
        *ret = v[src];
        return true;
}

static Runtime__V1__Metric *metric_new(const MetricDef *d, int64_t ts, const char *const *labels, size_t n,
                                       uint64_t v) {
        Runtime__V1__Metric *m = PB_NEW(Runtime__V1__Metric, RUNTIME__V1__METRIC__INIT);
        m->name = xstrdup(d->name);
        m->timestamp = ts;
        m->metric_type = d->type;
        for (size_t i = 0; i < n; i++)
                PB_APPEND(m->n_label_values, m->label_values, xstrdup(labels[i] ? labels[i] : ""));
        m->value = PB_NEW(Runtime__V1__UInt64Value, RUNTIME__V1__UINT64_VALUE__INIT);
        m->value->value = v;
        return m;
}

/* One sample per huge page size the container's cgroup reports. */
static void add_hugetlb(const MetricDef *d, const UsageSample *u, const char **labels,
                        Runtime__V1__Metric ***l, size_t *n) {
        for (size_t k = 0; k < u->n_hugetlb; k++) {
                const HugetlbUsage *h = &u->hugetlb[k];
                if (d->source == SRC_HUGETLB_MAX_USAGE && !h->has_max_usage)
                        continue;
                labels[6] = h->pagesize;
                uint64_t v = d->source == SRC_HUGETLB_USAGE       ? h->usage
                             : d->source == SRC_HUGETLB_MAX_USAGE ? h->max_usage
                                                                  : h->failcnt;
                PB_APPEND(*n, *l, metric_new(d, u->timestamp, labels, 7, v));
        }
}

/* One sample per device (blkio_device_usage_total: per device and operation, Read and Write bytes). */
static void add_blkio(const MetricDef *d, const UsageSample *u, const char **labels,
                      Runtime__V1__Metric ***l, size_t *n) {
        for (size_t k = 0; k < u->n_blkio; k++) {
                const BlkioDevice *b = &u->blkio[k];
                labels[6] = b->name;
                if (d->source != SRC_BLKIO_USAGE) {
                        uint64_t v = d->source == SRC_FS_READ_BYTES    ? b->read_bytes
                                     : d->source == SRC_FS_WRITE_BYTES ? b->write_bytes
                                     : d->source == SRC_FS_READS       ? b->reads
                                                                       : b->writes;
                        PB_APPEND(*n, *l, metric_new(d, u->timestamp, labels, 7, v));
                        continue;
                }
                char major[16], minor[16];
                snprintf(major, sizeof(major), "%u", b->major);
                snprintf(minor, sizeof(minor), "%u", b->minor);
                labels[7] = major;
                labels[8] = minor;
                labels[9] = "Read";
                PB_APPEND(*n, *l, metric_new(d, u->timestamp, labels, 10, b->read_bytes));
                labels[9] = "Write";
                PB_APPEND(*n, *l, metric_new(d, u->timestamp, labels, 10, b->write_bytes));
        }
}

/* The metrics of a container, or with c NULL the pod's own (network; its name is "POD" as in cAdvisor). */
static void add_metrics(const PodStatsInfo *p, const ContainerStatsInfo *c, unsigned groups,
                        Runtime__V1__Metric ***l, size_t *n) {
        const char *labels[10] = {c ? c->info->name : "POD", c ? c->info->id : p->info->id,
                                  c ? c->info->image : "",   c ? c->info->id : p->info->id,
                                  p->info->namespace_,       p->info->name};
        const UsageSample *u = c ? &c->usage : &p->usage;
        for (size_t i = 0; i < ELEMENTSOF(defs); i++) {
                const MetricDef *d = &defs[i];
                uint64_t v = 0;
                if (!enabled(d, groups) || !belongs(d, c == NULL))
                        continue;
                switch (extra_of(d)) {
                case EXTRA_NONE:
                        if (value_of(d->source, p, c, NULL, &v))
                                PB_APPEND(*n, *l, metric_new(d, u->timestamp, labels, 6, v));
                        break;
                case EXTRA_INTERFACE:
                        for (size_t k = 0; p->has_network && k < p->n_ifaces; k++) {
                                labels[6] = p->ifaces[k].name;
                                if (value_of(d->source, p, NULL, &p->ifaces[k], &v))
                                        PB_APPEND(*n, *l, metric_new(d, p->net_timestamp, labels, 7, v));
                        }
                        break;
                case EXTRA_PAGESIZE:
                        add_hugetlb(d, u, labels, l, n);
                        break;
                case EXTRA_DEVICE_OP:
                case EXTRA_DEVICE:
                        add_blkio(d, u, labels, l, n);
                        break;
                }
        }
}

Runtime__V1__PodSandboxMetrics *pod_metrics_from_stats(const PodStatsInfo *s, unsigned groups) {
        Runtime__V1__PodSandboxMetrics *m =
                PB_NEW(Runtime__V1__PodSandboxMetrics, RUNTIME__V1__POD_SANDBOX_METRICS__INIT);
        m->pod_sandbox_id = xstrdup(s->info->id);
        add_metrics(s, NULL, groups, &m->metrics, &m->n_metrics);
        for (size_t i = 0; i < s->n_ctrs; i++) {
                Runtime__V1__ContainerMetrics *c =
                        PB_NEW(Runtime__V1__ContainerMetrics, RUNTIME__V1__CONTAINER_METRICS__INIT);
                c->container_id = xstrdup(s->ctrs[i]->info->id);
                add_metrics(s, s->ctrs[i], groups, &c->metrics, &c->n_metrics);
                PB_APPEND(m->n_container_metrics, m->container_metrics, c);
        }
        return m;
}
