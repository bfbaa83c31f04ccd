/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "daemon-metrics.h"
#include "fs-util.h"
#include "grpc-status.h"

#define PREFIX "container_runtime_crio_"

/* Seconds; CRI calls range from tens of microseconds (Version) to minutes (pulls). */
static const double latency_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                         0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5,
                                         5,      10,      30,     60,    120,    300};

void daemon_metrics_init(DaemonMetrics *m, const Config *c) {
        *m = (DaemonMetrics){};
        if (!c->enable_metrics)
                return;
        Metrics *r = m->registry = metrics_new(c->metrics_collectors);
        m->ops = metrics_family(r, "operations_total", PREFIX "operations_total",
                                "Cumulative number of CRI operations by type.", METRIC_COUNTER, "operation",
                                NULL, 0);
        m->ops_errors = metrics_family(r, "operations_errors_total", PREFIX "operations_errors_total",
                                       "Cumulative number of CRI operations that failed, by type.",
                                       METRIC_COUNTER, "operation", NULL, 0);
        m->ops_latency = metrics_family(r, "operations_latency_seconds", PREFIX "operations_latency_seconds",
                                        "Latency of the latest CRI operation of each type, in seconds.",
                                        METRIC_GAUGE, "operation", NULL, 0);
        m->ops_latency_total = metrics_family(
                r, "operations_latency_seconds_total", PREFIX "operations_latency_seconds_total",
                "Latency of CRI operations by type, in seconds (sum and count).", METRIC_SUMMARY,
                "operation", NULL, 0);
        m->ops_duration =
                metrics_family(r, "operations_latency_seconds_total", PREFIX "operations_duration_seconds",
                               "Distribution of CRI operation latency by type, in seconds.",
                               METRIC_HISTOGRAM, "operation", latency_buckets, ELEMENTSOF(latency_buckets));
        m->pulls_success =
                metrics_family(r, "image_pulls_success_total", PREFIX "image_pulls_success_total",
                               "Cumulative number of successful image pulls.", METRIC_COUNTER, "", NULL, 0);
        m->pulls_failure = metrics_family(r, "image_pulls_failure_total", PREFIX "image_pulls_failure_total",
                                          "Cumulative number of failed image pulls, by error.",
                                          METRIC_COUNTER, "error", NULL, 0);
        m->defunct = metrics_family(r, "processes_defunct", PREFIX "processes_defunct",
                                    "Number of defunct (zombie) processes on the node.", METRIC_GAUGE, "",
                                    NULL, 0);
        m->default_runtime =
                metrics_family(r, "default_runtime", PREFIX "default_runtime",
                               "The default runtime handler (always 1).", METRIC_GAUGE, "runtime", NULL, 0);
        metric_set(m->default_runtime, (const char *const[]){c->default_runtime}, 1);
}

void daemon_metrics_done(DaemonMetrics *m) {
        m->registry = metrics_free(m->registry);
}

void daemon_metrics_rpc(DaemonMetrics *m, const char *method, int grpc_code, double seconds) {
        if (!m->registry)
                return;
        const char *const op[] = {method};
        metric_add(m->ops, op, 1);
        if (grpc_code != GRPC_STATUS_OK)
                metric_add(m->ops_errors, op, 1);
        metric_set(m->ops_latency, op, seconds);
        metric_observe(m->ops_latency_total, op, seconds);
        metric_observe(m->ops_duration, op, seconds);
}

const char *pull_failure_reason(int r) {
        switch (-r) {
        case ECONNREFUSED:
                return "CONNECTION_REFUSED";
        case ETIMEDOUT:
                return "CONNECTION_TIMEOUT";
        case EACCES:
        case EPERM:
                return "UNAUTHORIZED";
        case ENOENT:
                return "NOT_FOUND";
        case EBUSY:
        case EAGAIN:
                return "TOOMANYREQUESTS";
        default:
                return "UNKNOWN";
        }
}

void daemon_metrics_pull(DaemonMetrics *m, int r) {
        if (r >= 0)
                metric_inc0(m->pulls_success);
        else
                metric_inc1(m->pulls_failure, pull_failure_reason(r));
}

bool proc_stat_is_zombie(const char *stat_text) {
        const char *paren = strrchr(stat_text, ')');
        return paren && paren[1] == ' ' && paren[2] == 'Z';
}

static unsigned count_zombies(void) {
        DIR *d = opendir("/proc");
        if (!d)
                return 0;
        unsigned n = 0;
        for (struct dirent *e; (e = readdir(d));) {
                if (!isdigit((unsigned char)e->d_name[0]))
                        continue;
                _cleanup_free_ char *path = xasprintf("/proc/%s/stat", e->d_name), *text = NULL;
                if (read_file(path, 4096, &text, NULL) >= 0 && proc_stat_is_zombie(text))
                        n++;
        }
        closedir(d);
        return n;
}

char *daemon_metrics_render(DaemonMetrics *m) {
        if (!m->registry)
                return xstrdup("");
        if (m->defunct)
                metric_set(m->defunct, NULL, count_zombies());
        return metrics_render(m->registry);
}
