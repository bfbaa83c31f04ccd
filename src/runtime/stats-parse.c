/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "stats-parse.h"

bool stats_field(const char *text, const char *key, uint64_t *ret) {
        size_t n = strlen(key);
        for (const char *l = text; l && *l;) {
                if (strncmp(l, key, n) == 0 && l[n] == ' ')
                        return stats_parse_u64(l + n + 1, ret);
                l = strchr(l, '\n');
                if (l)
                        l++;
        }
        return false;
}

bool stats_parse_u64(const char *text, uint64_t *ret) {
        if (!text || *text < '0' || *text > '9')
                return false;
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(text, &end, 10);
        if (errno != 0 || (*end != '\0' && *end != '\n' && *end != ' '))
                return false;
        *ret = v;
        return true;
}

void stats_memory_from(uint64_t usage, const char *stat_text, const char *limit_text, bool v1,
                       UsageSample *s) {
        uint64_t inactive = 0, max = 0;
        s->has_memory = true;
        s->mem_usage = usage;
        stats_field(stat_text, v1 ? "total_inactive_file" : "inactive_file", &inactive);
        s->mem_working_set = usage > inactive ? usage - inactive : 0;
        stats_field(stat_text, v1 ? "total_rss" : "anon", &s->mem_rss);
        stats_field(stat_text, v1 ? "total_pgfault" : "pgfault", &s->mem_page_faults);
        stats_field(stat_text, v1 ? "total_pgmajfault" : "pgmajfault", &s->mem_major_page_faults);
        /* No limit reads as "max" (v2) or as a page-rounded LONG_MAX (v1): then nothing is "available". */
        if (stats_parse_u64(limit_text, &max) && max < (1ULL << 62)) {
                s->has_available = true;
                s->mem_available = max > s->mem_working_set ? max - s->mem_working_set : 0;
        }
}

/* "  eth0: 1 2 3 ..." -> name and the 16 counters; false for the two header lines. */
static int parse_net_dev_line(const char *line, NetIfUsage *ret) {
        const char *colon = strchr(line, ':');
        if (!colon)
                return 0;
        while (*line == ' ')
                line++;
        size_t len = (size_t)(colon - line);
        if (len == 0 || len >= sizeof(ret->name))
                return -EINVAL;
        unsigned long long v[16];
        int got = sscanf(colon + 1,
                         "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu",
                         &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9], &v[10],
                         &v[11], &v[12], &v[13], &v[14], &v[15]);
        if (got != 16)
                return -EINVAL;
        *ret = (NetIfUsage){.rx_bytes = v[0],
                            .rx_packets = v[1],
                            .rx_errors = v[2],
                            .rx_dropped = v[3],
                            .tx_bytes = v[8],
                            .tx_packets = v[9],
                            .tx_errors = v[10],
                            .tx_dropped = v[11]};
        memcpy(ret->name, line, len);
        ret->name[len] = '\0';
        return 1;
}

int stats_parse_net_dev(const char *text, NetIfUsage **ret, size_t *ret_n) {
        NetIfUsage *l = NULL;
        size_t n = 0;
        for (const char *line = text; line && *line;) {
                const char *nl = strchr(line, '\n');
                size_t len = nl ? (size_t)(nl - line) : strlen(line);
                char buf[512];
                if (len >= sizeof(buf)) {
                        free(l);
                        return -EINVAL;
                }
                memcpy(buf, line, len);
                buf[len] = '\0';
                NetIfUsage u;
                int r = parse_net_dev_line(buf, &u);
                if (r < 0) {
                        free(l);
                        return r;
                }
                if (r > 0) {
                        l = xrealloc(l, (n + 1) * sizeof(*l));
                        l[n++] = u;
                }
                line = nl ? nl + 1 : NULL;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}

const NetIfUsage *stats_default_interface(const NetIfUsage *l, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(l[i].name, "eth0") == 0)
                        return &l[i];
        for (size_t i = 0; i < n; i++)
                if (strcmp(l[i].name, "lo") != 0)
                        return &l[i];
        return NULL;
}

void stats_cpu_rate(const UsageSample *prev, UsageSample *s) {
        if (!prev || !prev->has_cpu || !s->has_cpu || s->timestamp <= prev->timestamp ||
            s->cpu_ns < prev->cpu_ns)
                return;
        s->has_nano_cores = true;
        s->nano_cores = (uint64_t)((double)(s->cpu_ns - prev->cpu_ns) * 1e9 /
                                   (double)(s->timestamp - prev->timestamp));
}

void stats_usage_add(UsageSample *sum, const UsageSample *s) {
        if (s->timestamp > sum->timestamp)
                sum->timestamp = s->timestamp;
        if (s->has_cpu) {
                sum->has_cpu = true;
                sum->cpu_ns += s->cpu_ns;
        }
        if (s->has_memory) {
                sum->has_memory = true;
                sum->mem_usage += s->mem_usage;
                sum->mem_working_set += s->mem_working_set;
                sum->mem_rss += s->mem_rss;
                sum->mem_page_faults += s->mem_page_faults;
                sum->mem_major_page_faults += s->mem_major_page_faults;
        }
        if (s->has_pids) {
                sum->has_pids = true;
                sum->pids += s->pids;
        }
}
