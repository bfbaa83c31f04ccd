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

/* "avg10=0.12 avg60=0.05 avg300=0.01 total=123456" after "some " or "full ". */
static int parse_psi_line(const char *l, PsiLine *ret) {
        PsiLine p = {0};
        unsigned long long total = 0;
        int end = 0;
        if (sscanf(l, "avg10=%lf avg60=%lf avg300=%lf total=%llu%n", &p.avg10, &p.avg60, &p.avg300, &total,
                   &end) != 4 ||
            (l[end] != '\0' && l[end] != '\n'))
                return -EINVAL;
        p.total_us = total;
        *ret = p;
        return 0;
}

int stats_parse_psi(const char *text, PsiStats *ret) {
        PsiStats p = {0};
        for (const char *l = text; l && *l;) {
                int r = 0;
                if (strncmp(l, "some ", 5) == 0) {
                        r = parse_psi_line(l + 5, &p.some);
                        p.has_some = r == 0;
                } else if (strncmp(l, "full ", 5) == 0) {
                        r = parse_psi_line(l + 5, &p.full);
                        p.has_full = r == 0;
                } else {
                        r = -EINVAL;
                }
                if (r < 0)
                        return r;
                l = strchr(l, '\n');
                if (l)
                        l++;
        }
        *ret = p;
        return 0;
}

static BlkioDevice *blkio_device(UsageSample *s, unsigned major, unsigned minor) {
        for (size_t i = 0; i < s->n_blkio; i++)
                if (s->blkio[i].major == major && s->blkio[i].minor == minor)
                        return &s->blkio[i];
        if (s->n_blkio >= STATS_BLKIO_MAX)
                return NULL;
        s->blkio[s->n_blkio] = (BlkioDevice){.major = major, .minor = minor};
        return &s->blkio[s->n_blkio++];
}

/* Copy the line at `l` into buf (without its newline); false when it does not fit. */
static bool line_copy(const char *l, char *buf, size_t size, const char **ret_next) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        *ret_next = nl ? nl + 1 : NULL;
        if (len >= size)
                return false;
        memcpy(buf, l, len);
        buf[len] = '\0';
        return true;
}

int stats_parse_blkio_v1(const char *text, bool bytes, UsageSample *s) {
        char buf[256];
        for (const char *l = text; l && *l;) {
                if (!line_copy(l, buf, sizeof(buf), &l))
                        return -EINVAL;
                unsigned major = 0, minor = 0;
                char op[16];
                unsigned long long v = 0;
                if (strncmp(buf, "Total ", 6) == 0 || buf[0] == '\0')
                        continue;
                if (sscanf(buf, "%u:%u %15s %llu", &major, &minor, op, &v) != 4)
                        return -EINVAL;
                bool rd = strcmp(op, "Read") == 0, wr = strcmp(op, "Write") == 0;
                if (!rd && !wr)
                        continue;
                BlkioDevice *d = blkio_device(s, major, minor);
                if (!d)
                        return -E2BIG;
                s->has_blkio = true;
                uint64_t *f =
                        bytes ? (rd ? &d->read_bytes : &d->write_bytes) : (rd ? &d->reads : &d->writes);
                *f = v;
        }
        return 0;
}

/* "rbytes=1 wbytes=2 ..." of one io.stat line into d; keys it does not know are skipped. */
static int parse_io_stat_keys(char *kv, BlkioDevice *d) {
        char *save = NULL;
        for (char *t = strtok_r(kv, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
                char *eq = strchr(t, '=');
                uint64_t v = 0;
                if (!eq || !stats_parse_u64(eq + 1, &v))
                        return -EINVAL;
                *eq = '\0';
                if (strcmp(t, "rbytes") == 0)
                        d->read_bytes = v;
                else if (strcmp(t, "wbytes") == 0)
                        d->write_bytes = v;
                else if (strcmp(t, "rios") == 0)
                        d->reads = v;
                else if (strcmp(t, "wios") == 0)
                        d->writes = v;
        }
        return 0;
}

int stats_parse_io_stat(const char *text, UsageSample *s) {
        char buf[512];
        for (const char *l = text; l && *l;) {
                if (!line_copy(l, buf, sizeof(buf), &l))
                        return -EINVAL;
                if (buf[0] == '\0')
                        continue;
                unsigned major = 0, minor = 0;
                int end = 0;
                if (sscanf(buf, "%u:%u%n", &major, &minor, &end) != 2 ||
                    (buf[end] != ' ' && buf[end] != '\0'))
                        return -EINVAL;
                BlkioDevice *d = blkio_device(s, major, minor);
                if (!d)
                        return -E2BIG;
                s->has_blkio = true;
                int r = parse_io_stat_keys(buf + end, d);
                if (r < 0)
                        return r;
        }
        return 0;
}

int stats_hugetlb_pagesize(const char *dirent, char *ret, size_t size) {
        static const char prefix[] = "hugepages-";
        if (!dirent || strncmp(dirent, prefix, sizeof(prefix) - 1) != 0)
                return -EINVAL;
        const char *num = dirent + sizeof(prefix) - 1;
        char *end = NULL;
        if (*num < '1' || *num > '9')
                return -EINVAL;
        errno = 0;
        unsigned long long kb = strtoull(num, &end, 10);
        if (errno != 0 || strcmp(end, "kB") != 0)
                return -EINVAL;
        /* The kernel names the files with the largest unit that divides the size evenly. */
        int n = kb % (1024 * 1024) == 0 ? snprintf(ret, size, "%lluGB", kb / (1024 * 1024))
                : kb % 1024 == 0        ? snprintf(ret, size, "%lluMB", kb / 1024)
                                        : snprintf(ret, size, "%lluKB", kb);
        return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

/* A limit that is set: v2's "max" and v1's page-rounded LONG_MAX mean none. */
static bool parse_limit(const char *text, uint64_t *ret) {
        return stats_parse_u64(text, ret) && *ret < (1ULL << 62);
}

void stats_swap_v1(const char *memsw_usage, const char *memsw_limit, uint64_t mem_usage,
                   const char *mem_limit, UsageSample *s) {
        uint64_t both = 0, both_limit = 0, limit = 0;
        if (!stats_parse_u64(memsw_usage, &both))
                return;
        s->has_swap = true;
        s->swap_usage = both > mem_usage ? both - mem_usage : 0;
        /* The swap a container may use is what memsw allows beyond its memory limit. */
        if (parse_limit(memsw_limit, &both_limit) && parse_limit(mem_limit, &limit) && both_limit >= limit) {
                uint64_t swap_limit = both_limit - limit;
                s->has_swap_available = true;
                s->swap_available = swap_limit > s->swap_usage ? swap_limit - s->swap_usage : 0;
        }
}

void stats_swap_v2(const char *swap_current, const char *swap_max, UsageSample *s) {
        uint64_t max = 0;
        if (!stats_parse_u64(swap_current, &s->swap_usage))
                return;
        s->has_swap = true;
        if (parse_limit(swap_max, &max)) {
                s->has_swap_available = true;
                s->swap_available = max > s->swap_usage ? max - s->swap_usage : 0;
        }
}
