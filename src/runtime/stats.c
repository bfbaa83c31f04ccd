/* SPDX-License-Identifier: Apache-2.0 */
#include <ftw.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cancel.h"
#include "cgroup-stats.h"
#include "fs-util.h"
#include "log.h"
#include "runtime-private.h"
#include "strv.h"

/*
 * Container stats straight from the cgroup files runc created (cgroupfs: <controller>/<path> on v1,
 * <path> on the unified v2 tree) and from the writable layer, whose walk is cached (a walk per call is
 * what makes the peers' stats slow). With [crio.stats] collection_period > 0 a background thread
 * samples every pod and container and the RPCs answer from its latest samples.
 */

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

/*
 * The files only ListPodSandboxMetrics needs, for the groups included_pod_metrics names (validated at
 * start by the server's table), so the stats RPCs do not pay for them by default.
 */
static unsigned extra_reads(Runtime *rt) {
        pthread_rwlock_rdlock(rt->config_lock);
        char **g = rt->config->included_pod_metrics;
        bool all = strv_contains(g, "all");
        unsigned r = (all || strv_contains(g, "oom") ? CGROUP_READ_OOM : 0) |
                     (all || strv_contains(g, "diskIO") ? CGROUP_READ_BLKIO : 0) |
                     (all || strv_contains(g, "hugetlb") ? CGROUP_READ_HUGETLB : 0);
        pthread_rwlock_unlock(rt->config_lock);
        return r;
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
                        cgroup_stats_read(CGROUP_FS_ROOT, cg, extra_reads(rt), &s->usage);
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
