/* SPDX-License-Identifier: Apache-2.0 */
#include <ftw.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs-util.h"
#include "runtime-private.h"

/*
 * Container stats straight from the cgroup files runc created (cgroupfs: <controller>/<path> on v1,
 * <path> on the unified v2 tree) and from the writable layer. This is the first step of the stats
 * issue: on-demand sampling only, no background sampler, no pod or network stats yet.
 */

#define CGROUP_ROOT "/sys/fs/cgroup"

static int64_t now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static bool read_u64(const char *path, uint64_t *ret) {
        _cleanup_free_ char *t = NULL;
        if (read_file(path, 4096, &t, NULL) < 0)
                return false;
        char *end = NULL;
        unsigned long long v = strtoull(t, &end, 10);
        if (end == t)
                return false;
        *ret = v;
        return true;
}

/* "key value" lines of memory.stat / cpu.stat. */
static bool stat_field(const char *text, const char *key, uint64_t *ret) {
        size_t n = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (strncmp(l, key, n) == 0 && l[n] == ' ') {
                        *ret = strtoull(l + n + 1, NULL, 10);
                        return true;
                }
        return false;
}

static bool cgroup_v1(void) {
        return access(CGROUP_ROOT "/cpuacct", F_OK) == 0 || access(CGROUP_ROOT "/cpu,cpuacct", F_OK) == 0;
}

static char *cg_file(const char *controller, const char *cg, const char *file) {
        return controller ? xasprintf(CGROUP_ROOT "/%s%s/%s", controller, cg, file)
                          : xasprintf(CGROUP_ROOT "%s/%s", cg, file);
}

static void read_cpu(const char *cg, bool v1, ContainerStatsInfo *s) {
        if (v1) {
                _cleanup_free_ char *p = cg_file("cpuacct", cg, "cpuacct.usage");
                s->has_cpu = read_u64(p, &s->cpu_ns);
                return;
        }
        _cleanup_free_ char *p = cg_file(NULL, cg, "cpu.stat"), *t = NULL;
        uint64_t usec = 0;
        if (read_file(p, 1 << 16, &t, NULL) >= 0 && stat_field(t, "usage_usec", &usec)) {
                s->has_cpu = true;
                s->cpu_ns = usec * 1000;
        }
}

static void read_memory(const char *cg, bool v1, ContainerStatsInfo *s) {
        _cleanup_free_ char *usage =
                cg_file(v1 ? "memory" : NULL, cg, v1 ? "memory.usage_in_bytes" : "memory.current");
        _cleanup_free_ char *stat = cg_file(v1 ? "memory" : NULL, cg, "memory.stat"), *text = NULL;
        _cleanup_free_ char *limit =
                cg_file(v1 ? "memory" : NULL, cg, v1 ? "memory.limit_in_bytes" : "memory.max");
        if (!read_u64(usage, &s->mem_usage) || read_file(stat, 1 << 16, &text, NULL) < 0)
                return;
        s->has_memory = true;
        uint64_t inactive = 0;
        stat_field(text, v1 ? "total_inactive_file" : "inactive_file", &inactive);
        /* The kubelet's working set: usage less what the kernel can drop at once. */
        s->mem_working_set = s->mem_usage > inactive ? s->mem_usage - inactive : 0;
        stat_field(text, v1 ? "total_rss" : "anon", &s->mem_rss);
        stat_field(text, v1 ? "total_pgfault" : "pgfault", &s->mem_page_faults);
        stat_field(text, v1 ? "total_pgmajfault" : "pgmajfault", &s->mem_major_page_faults);
        uint64_t max = 0;
        /* No limit reads as "max" (v2) or a huge number (v1): then there is no "available". */
        if (read_u64(limit, &max) && max < (1ULL << 62)) {
                s->has_available = true;
                s->mem_available = max > s->mem_working_set ? max - s->mem_working_set : 0;
        }
}

static uint64_t walk_bytes, walk_inodes;
static pthread_mutex_t walk_lock = PTHREAD_MUTEX_INITIALIZER;

static int count_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        walk_bytes += (uint64_t)st->st_blocks * 512;
        walk_inodes++;
        return 0;
}

/* Bytes and inodes the container wrote (its overlay upper dir). nftw keeps at most 16 fds open. */
static void read_layer(const char *layer, ContainerStatsInfo *s) {
        if (!layer)
                return;
        _cleanup_free_ char *upper = xasprintf("%s/upper", layer);
        pthread_mutex_lock(&walk_lock);
        walk_bytes = walk_inodes = 0;
        if (nftw(upper, count_entry, 16, FTW_PHYS | FTW_MOUNT) == 0) {
                s->has_layer = true;
                s->layer_bytes = walk_bytes;
                s->layer_inodes = walk_inodes;
        }
        pthread_mutex_unlock(&walk_lock);
        s->layer_mountpoint = xasprintf("%s/upper", layer);
}

/* Sample a container; `c` is referenced by the caller. CPU rate from the previous sample, if any. */
static ContainerStatsInfo *sample(Runtime *rt, Container *c, ContainerInfo *info) {
        ContainerStatsInfo *s = xcalloc(1, sizeof(*s));
        s->info = info;
        s->timestamp = now_ns();
        pthread_mutex_lock(&rt->lock);
        _cleanup_free_ char *cg = xstrdup(c->cgroup ? c->cgroup : "");
        _cleanup_free_ char *layer = c->layer ? xstrdup(c->layer) : NULL;
        pthread_mutex_unlock(&rt->lock);
        bool v1 = cgroup_v1();
        if (*cg) {
                read_cpu(cg, v1, s);
                read_memory(cg, v1, s);
        }
        read_layer(layer, s);
        pthread_mutex_lock(&rt->lock);
        if (s->has_cpu && c->last_cpu_sample_ns && s->timestamp > c->last_cpu_sample_ns &&
            s->cpu_ns >= c->last_cpu_ns) {
                s->has_nano_cores = true;
                s->nano_cores = (uint64_t)((double)(s->cpu_ns - c->last_cpu_ns) * 1e9 /
                                           (double)(s->timestamp - c->last_cpu_sample_ns));
        }
        if (s->has_cpu) {
                c->last_cpu_ns = s->cpu_ns;
                c->last_cpu_sample_ns = s->timestamp;
        }
        pthread_mutex_unlock(&rt->lock);
        return s;
}

ContainerStatsInfo *container_stats_info_free(ContainerStatsInfo *s) {
        if (!s)
                return NULL;
        container_info_free(s->info);
        free(s->layer_mountpoint);
        return mfree(s);
}

int runtime_container_stats(Runtime *rt, const char *id, ContainerStatsInfo **ret, Error **reterr) {
        ContainerInfo *info = NULL;
        Container *c = NULL;
        int r = runtime_container_info(rt, id, &info, reterr);
        if (r >= 0)
                r = container_get(rt, info->id, false, &c, reterr);
        if (r < 0) {
                container_info_free(info);
                return r;
        }
        *ret = sample(rt, c, info);
        container_unref(c);
        return 0;
}

void runtime_container_stats_list(Runtime *rt, ContainerStatsInfo ***ret, size_t *ret_n) {
        ContainerInfo **infos = NULL;
        size_t n = 0;
        runtime_container_list(rt, &infos, &n);
        ContainerStatsInfo **l = xcalloc(n + 1, sizeof(*l));
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                Container *c = NULL;
                if (container_get(rt, infos[i]->id, false, &c, NULL) < 0) {
                        container_info_free(infos[i]);
                        continue;
                }
                l[k++] = sample(rt, c, infos[i]);
                container_unref(c);
        }
        free(infos);
        *ret = l;
        *ret_n = k;
}
