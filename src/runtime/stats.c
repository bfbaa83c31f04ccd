/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cancel.h"
#include "cgroup-path.h"
#include "fs-util.h"
#include "log.h"
#include "runtime-private.h"

/*
 * Container stats straight from the cgroup files runc created (cgroupfs: <controller>/<path> on v1,
 * <path> on the unified v2 tree) and from the writable layer, whose walk is cached (a walk per call is
 * what makes the peers' stats slow). With [crio.stats] collection_period > 0 a background thread
 * samples every pod and container and the RPCs answer from its latest samples.
 */

#define CGROUP_ROOT "/sys/fs/cgroup"
#define NS_PER_S 1000000000LL

int64_t stats_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

int64_t stats_period_ns(Runtime *rt) {
        pthread_rwlock_rdlock(rt->config_lock);
        int64_t s = rt->config->collection_period > 0 ? rt->config->collection_period
                                                      : rt->config->stats_collection_period;
        pthread_rwlock_unlock(rt->config_lock);
        return s > 0 ? s * NS_PER_S : 0;
}

static bool read_u64(const char *path, uint64_t *ret) {
        _cleanup_free_ char *t = NULL;
        return read_file(path, 4096, &t, NULL) >= 0 && stats_parse_u64(t, ret);
}

static bool cgroup_v1(void) {
        return access(CGROUP_ROOT "/cpuacct", F_OK) == 0 || access(CGROUP_ROOT "/cpu,cpuacct", F_OK) == 0;
}

/*
 * The unified tree holding the cgroup's PSI files: all of a v2 host's, and on a v1 hybrid host the
 * tree mounted at unified/, where runc (1.1 and later) and systemd place each container as well, with
 * no controller but the pressure files. NULL on a v1 host without it.
 */
static const char *unified_root(bool v1) {
        if (!v1)
                return CGROUP_ROOT;
        return access(CGROUP_ROOT "/unified/cgroup.controllers", F_OK) == 0 ? CGROUP_ROOT "/unified" : NULL;
}

static char *cg_file(bool v1, const char *controller, const char *cg, const char *file) {
        return cgroup_file_path(CGROUP_ROOT, v1 ? controller : NULL, cg, file);
}

static void read_cpu(const char *cg, bool v1, UsageSample *s) {
        if (v1) {
                _cleanup_free_ char *p = cg_file(true, "cpuacct", cg, "cpuacct.usage");
                s->has_cpu = read_u64(p, &s->cpu_ns);
                return;
        }
        _cleanup_free_ char *p = cg_file(false, NULL, cg, "cpu.stat"), *t = NULL;
        uint64_t usec = 0;
        if (read_file(p, 1 << 16, &t, NULL) >= 0 && stats_field(t, "usage_usec", &usec)) {
                s->has_cpu = true;
                s->cpu_ns = usec * 1000;
        }
}

/* The text of a cgroup file, or NULL when it is absent. */
static char *cg_text(bool v1, const char *controller, const char *cg, const char *file) {
        _cleanup_free_ char *p = cg_file(v1, controller, cg, file);
        char *t = NULL;
        return read_file(p, 1 << 16, &t, NULL) >= 0 ? t : NULL;
}

static void read_memory(const char *cg, bool v1, UsageSample *s) {
        _cleanup_free_ char *usage =
                cg_file(v1, "memory", cg, v1 ? "memory.usage_in_bytes" : "memory.current");
        _cleanup_free_ char *text = cg_text(v1, "memory", cg, "memory.stat");
        _cleanup_free_ char *limit_text =
                cg_text(v1, "memory", cg, v1 ? "memory.limit_in_bytes" : "memory.max");
        uint64_t u = 0;
        if (!read_u64(usage, &u) || !text)
                return;
        stats_memory_from(u, text, limit_text, v1, s);
}

/* Swap (absent without swap accounting: no memsw files on v1, no memory.swap.* on v2) and OOM kills. */
static void read_swap_oom(const char *cg, bool v1, UsageSample *s) {
        _cleanup_free_ char *oom = cg_text(v1, "memory", cg, v1 ? "memory.oom_control" : "memory.events");
        s->has_oom = stats_field(oom, "oom_kill", &s->oom_kills);
        if (!v1) {
                _cleanup_free_ char *cur = cg_text(false, NULL, cg, "memory.swap.current");
                _cleanup_free_ char *max = cg_text(false, NULL, cg, "memory.swap.max");
                stats_swap_v2(cur, max, s);
                return;
        }
        if (!s->has_memory)
                return;
        _cleanup_free_ char *both = cg_text(true, "memory", cg, "memory.memsw.usage_in_bytes");
        _cleanup_free_ char *both_limit = cg_text(true, "memory", cg, "memory.memsw.limit_in_bytes");
        _cleanup_free_ char *limit = cg_text(true, "memory", cg, "memory.limit_in_bytes");
        stats_swap_v1(both, both_limit, s->mem_usage, limit, s);
}

/* "/dev/<name>" of a block device from sysfs; "" when it has none. */
static void blkio_name(BlkioDevice *d) {
        char link[PATH_MAX], sys[64];
        snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u", d->major, d->minor);
        ssize_t n = readlink(sys, link, sizeof(link) - 1);
        if (n <= 0)
                return;
        link[n] = '\0';
        const char *base = strrchr(link, '/');
        base = base ? base + 1 : link;
        if (strlen(base) + 5 < sizeof(d->name)) /* a longer name is left unresolved */
                memcpy(mempcpy(d->name, "/dev/", 5), base, strlen(base) + 1);
}

/*
 * Block I/O per device. On v1 the throttle counters see every bio the cgroup issues whatever the
 * scheduler; buffered writes are flushed by the kernel's writeback threads and counted there, not in
 * the container (v2 charges them to the cgroup that dirtied the pages).
 */
static void read_blkio(const char *cg, bool v1, UsageSample *s) {
        if (v1) {
                _cleanup_free_ char *bytes =
                        cg_text(true, "blkio", cg, "blkio.throttle.io_service_bytes_recursive");
                _cleanup_free_ char *ops =
                        cg_text(true, "blkio", cg, "blkio.throttle.io_serviced_recursive");
                if (bytes && ops && stats_parse_blkio_v1(bytes, true, s) >= 0)
                        (void)stats_parse_blkio_v1(ops, false, s);
        } else {
                _cleanup_free_ char *t = cg_text(false, NULL, cg, "io.stat");
                if (t)
                        (void)stats_parse_io_stat(t, s);
        }
        for (size_t i = 0; i < s->n_blkio; i++)
                blkio_name(&s->blkio[i]);
}

/* The kernel's huge page sizes ("2MB", ...), listed once: they are fixed at boot. */
static char hugetlb_sizes[STATS_HUGETLB_MAX][16];
static size_t n_hugetlb_sizes;
static pthread_once_t hugetlb_once = PTHREAD_ONCE_INIT;

static void list_hugetlb_sizes(void) {
        DIR *d = opendir("/sys/kernel/mm/hugepages");
        if (!d)
                return;
        for (struct dirent *e = readdir(d); e && n_hugetlb_sizes < STATS_HUGETLB_MAX; e = readdir(d))
                if (stats_hugetlb_pagesize(e->d_name, hugetlb_sizes[n_hugetlb_sizes],
                                           sizeof(hugetlb_sizes[0])) == 0)
                        n_hugetlb_sizes++;
        closedir(d);
}

/*
 * Huge pages per size, from the v1 hugetlb controller (usage, max usage, failcnt) or where the host
 * binds it to the unified tree (current, and "max" of events: v2 keeps no maximum).
 */
static void read_hugetlb(const char *cg, bool v1, const char *unified, UsageSample *s) {
        pthread_once(&hugetlb_once, list_hugetlb_sizes);
        bool ctl_v1 = v1 && access(CGROUP_ROOT "/hugetlb", F_OK) == 0;
        for (size_t i = 0; i < n_hugetlb_sizes; i++) {
                const char *size = hugetlb_sizes[i];
                HugetlbUsage h = {0};
                snprintf(h.pagesize, sizeof(h.pagesize), "%s", size);
                _cleanup_free_ char *f1 = NULL, *f2 = NULL, *f3 = NULL, *ev = NULL;
                if (ctl_v1) {
                        f1 = xasprintf("hugetlb.%s.usage_in_bytes", size);
                        f2 = xasprintf("hugetlb.%s.max_usage_in_bytes", size);
                        f3 = xasprintf("hugetlb.%s.failcnt", size);
                        _cleanup_free_ char *p1 = cg_file(true, "hugetlb", cg, f1);
                        _cleanup_free_ char *p2 = cg_file(true, "hugetlb", cg, f2);
                        _cleanup_free_ char *p3 = cg_file(true, "hugetlb", cg, f3);
                        if (!read_u64(p1, &h.usage) || !read_u64(p3, &h.failcnt))
                                continue;
                        h.has_max_usage = read_u64(p2, &h.max_usage);
                } else if (unified) {
                        f1 = xasprintf("hugetlb.%s.current", size);
                        f2 = xasprintf("hugetlb.%s.events", size);
                        _cleanup_free_ char *p1 = cgroup_file_path(unified, NULL, cg, f1);
                        _cleanup_free_ char *p2 = cgroup_file_path(unified, NULL, cg, f2);
                        if (!read_u64(p1, &h.usage) || read_file(p2, 4096, &ev, NULL) < 0 ||
                            !stats_field(ev, "max", &h.failcnt))
                                continue;
                } else {
                        continue;
                }
                s->hugetlb[s->n_hugetlb++] = h;
        }
}

static void read_psi(const char *cg, const char *unified, UsageSample *s) {
        static const char *const files[PSI_N] = {
                [PSI_CPU] = "cpu.pressure", [PSI_MEMORY] = "memory.pressure", [PSI_IO] = "io.pressure"};
        if (!unified)
                return;
        for (size_t i = 0; i < PSI_N; i++) {
                _cleanup_free_ char *p = cgroup_file_path(unified, NULL, cg, files[i]), *t = NULL;
                if (read_file(p, 4096, &t, NULL) >= 0)
                        (void)stats_parse_psi(t, &s->psi[i]);
        }
}

static void read_usage(const char *cg, UsageSample *s) {
        bool v1 = cgroup_v1();
        const char *unified = unified_root(v1);
        read_cpu(cg, v1, s);
        read_memory(cg, v1, s);
        read_swap_oom(cg, v1, s);
        _cleanup_free_ char *pids = cg_file(v1, "pids", cg, "pids.current");
        s->has_pids = read_u64(pids, &s->pids);
        read_blkio(cg, v1, s);
        read_hugetlb(cg, v1, unified, s);
        read_psi(cg, unified, s);
}

static uint64_t walk_bytes, walk_inodes;
static pthread_mutex_t walk_lock = PTHREAD_MUTEX_INITIALIZER;

static int count_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        walk_bytes += (uint64_t)st->st_blocks * 512;
        walk_inodes++;
        return 0;
}

/* Bytes and inodes the container wrote (its overlay upper dir). nftw keeps at most 16 fds open. */
static bool walk_layer(const char *upper, uint64_t *ret_bytes, uint64_t *ret_inodes) {
        pthread_mutex_lock(&walk_lock);
        walk_bytes = walk_inodes = 0;
        bool ok = nftw(upper, count_entry, 16, FTW_PHYS | FTW_MOUNT) == 0;
        *ret_bytes = walk_bytes;
        *ret_inodes = walk_inodes;
        pthread_mutex_unlock(&walk_lock);
        return ok;
}

/* The writable layer's usage, walked again only when the cached walk is older than the refresh period. */
static void sample_layer(Runtime *rt, Container *c, const char *layer, bool force, ContainerStatsInfo *s) {
        if (!layer)
                return;
        int64_t period = stats_period_ns(rt);
        int64_t refresh = period > 0 ? period : STATS_LAYER_REFRESH_S * NS_PER_S;
        s->layer_mountpoint = xasprintf("%s/upper", layer);
        pthread_mutex_lock(&rt->lock);
        int64_t walked = c->layer_walked_ns;
        s->layer_timestamp = c->layer_walked_at;
        s->layer_bytes = c->layer_bytes;
        s->layer_inodes = c->layer_inodes;
        pthread_mutex_unlock(&rt->lock);
        int64_t now = monotonic_ns();
        if (walked > 0 && !(force && period > 0) && now - walked < refresh) {
                s->has_layer = true;
                return;
        }
        if (!walk_layer(s->layer_mountpoint, &s->layer_bytes, &s->layer_inodes))
                return;
        s->has_layer = true;
        s->layer_timestamp = stats_now_ns();
        pthread_mutex_lock(&rt->lock);
        c->layer_walked_ns = now;
        c->layer_walked_at = s->layer_timestamp;
        c->layer_bytes = s->layer_bytes;
        c->layer_inodes = s->layer_inodes;
        pthread_mutex_unlock(&rt->lock);
}

ContainerStatsInfo *stats_sample_container(Runtime *rt, Container *c, ContainerInfo *info, bool force) {
        ContainerStatsInfo *s = xcalloc(1, sizeof(*s));
        s->info = info;
        int64_t period = stats_period_ns(rt), now = stats_now_ns();
        pthread_mutex_lock(&rt->lock);
        _cleanup_free_ char *cg = xstrdup(c->cgroup ? c->cgroup : "");
        _cleanup_free_ char *layer = c->layer ? xstrdup(c->layer) : NULL;
        UsageSample last = c->last;
        bool running = c->state == CONTAINER_RUNNING;
        const Resources *res = &c->config->resources;
        s->spec_cpu_period = res->cpu_period;
        s->spec_cpu_quota = res->cpu_quota;
        s->spec_cpu_shares = res->cpu_shares;
        s->spec_memory_limit = res->memory_limit;
        s->spec_memory_swap_limit = res->memory_swap_limit;
        pthread_mutex_unlock(&rt->lock);
        /* The sampler's sample serves until two periods passed (then it is behind: sample now). */
        if (!force && period > 0 && last.timestamp > 0 && now - last.timestamp < 2 * period) {
                s->usage = last;
        } else {
                s->usage.timestamp = now;
                if (*cg && running)
                        read_usage(cg, &s->usage);
                stats_cpu_rate(&last, &s->usage);
                pthread_mutex_lock(&rt->lock);
                c->last = s->usage;
                pthread_mutex_unlock(&rt->lock);
        }
        sample_layer(rt, c, layer, force, s);
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
        *ret = stats_sample_container(rt, c, info, false);
        container_unref(c);
        return 0;
}

void runtime_container_stats_list(Runtime *rt, ContainerStatsInfo ***ret, size_t *ret_n) {
        pthread_mutex_lock(&rt->lock);
        Container **cs = xcalloc(rt->n_ctrs + 1, sizeof(*cs));
        ContainerInfo **infos = xcalloc(rt->n_ctrs + 1, sizeof(*infos));
        size_t n = 0;
        for (size_t i = 0; i < rt->n_ctrs; i++)
                if (!rt->ctrs[i]->infra && !rt->ctrs[i]->claim.creating) {
                        cs[n] = container_ref(rt->ctrs[i]);
                        infos[n++] = container_brief(rt->ctrs[i]);
                }
        pthread_mutex_unlock(&rt->lock);
        ContainerStatsInfo **l = xcalloc(n + 1, sizeof(*l));
        for (size_t i = 0; i < n; i++) {
                l[i] = stats_sample_container(rt, cs[i], infos[i], false);
                container_unref(cs[i]);
        }
        free(cs);
        free(infos);
        *ret = l;
        *ret_n = n;
}

static void *sampler_main(void *arg) {
        Runtime *rt = arg;
        pthread_mutex_lock(&rt->lock);
        while (!rt->sampler_stop) {
                pthread_mutex_unlock(&rt->lock);
                stats_sample_all(rt);
                int64_t period = stats_period_ns(rt);
                struct timespec until;
                clock_gettime(CLOCK_REALTIME, &until);
                int64_t t =
                        (int64_t)until.tv_sec * NS_PER_S + until.tv_nsec + (period > 0 ? period : NS_PER_S);
                until = (struct timespec){.tv_sec = t / NS_PER_S, .tv_nsec = t % NS_PER_S};
                pthread_mutex_lock(&rt->lock);
                while (!rt->sampler_stop &&
                       pthread_cond_timedwait(&rt->sampler_wake, &rt->lock, &until) == 0)
                        ;
        }
        pthread_mutex_unlock(&rt->lock);
        return NULL;
}

void stats_sampler_start(Runtime *rt) {
        if (stats_period_ns(rt) == 0)
                return;
        if (pthread_create(&rt->sampler_thread, NULL, sampler_main, rt) != 0) {
                log_warn("cannot start the stats sampler: stats are collected on demand");
                return;
        }
        rt->sampler_started = true;
}

void stats_sampler_stop(Runtime *rt) {
        if (rt->sampler_started) {
                pthread_mutex_lock(&rt->lock);
                rt->sampler_stop = true;
                pthread_cond_broadcast(&rt->sampler_wake);
                pthread_mutex_unlock(&rt->lock);
                pthread_join(rt->sampler_thread, NULL);
                rt->sampler_started = false;
        }
}
