/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs-util.h"
#include "runtime-private.h"

/*
 * Pod stats: the sum of its containers' cgroups (the infra process included; with the cgroupfs manager
 * a pod has no cgroup of its own unless the kubelet gave it a parent, which may hold other things) and
 * the counters of its network namespace. The namespace is read through /proc/<pid>/net/dev of a
 * process inside it; a pod without a running process has only its pinned netns file, which a
 * short-lived thread enters with setns (a thread's network namespace is its own).
 */

#define NET_DEV_MAX (1 << 20)

/* A process of the pod that runs in its network namespace, or 0. rt->lock held. */
static int net_pid_locked(Runtime *rt, const Pod *p) {
        struct stat ns;
        if (!p->netns || stat(p->netns, &ns) < 0)
                return 0;
        for (size_t i = 0; i < rt->n_ctrs; i++) {
                const Container *c = rt->ctrs[i];
                if (strcmp(c->pod_id, p->id) != 0 || c->state != CONTAINER_RUNNING || c->pid <= 0)
                        continue;
                _cleanup_free_ char *path = xasprintf("/proc/%d/ns/net", c->pid);
                struct stat st;
                /* The pid may have been reused since, or the container uses the node's network. */
                if (stat(path, &st) == 0 && st.st_ino == ns.st_ino && st.st_dev == ns.st_dev)
                        return c->pid;
        }
        return 0;
}

typedef struct NetnsRead {
        const char *netns;
        char *text;
        int r;
} NetnsRead;

static void *netns_read_main(void *arg) {
        NetnsRead *nr = arg;
        int fd = open(nr->netns, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
                nr->r = -errno;
                if (fd >= 0)
                        close(fd);
                return NULL;
        }
        close(fd);
        nr->r = read_file("/proc/thread-self/net/dev", NET_DEV_MAX, &nr->text, NULL);
        return NULL;
}

static int read_net_dev(const char *netns, int pid, char **ret) {
        if (pid > 0) {
                _cleanup_free_ char *path = xasprintf("/proc/%d/net/dev", pid);
                if (read_file(path, NET_DEV_MAX, ret, NULL) >= 0)
                        return 0;
        }
        NetnsRead nr = {.netns = netns};
        pthread_t t;
        int r = pthread_create(&t, NULL, netns_read_main, &nr);
        if (r != 0)
                return -r;
        pthread_join(t, NULL);
        if (nr.r < 0)
                return nr.r;
        *ret = nr.text;
        return 0;
}

static void sample_network(const char *netns, int pid, PodStatsInfo *s) {
        _cleanup_free_ char *text = NULL;
        if (!netns || read_net_dev(netns, pid, &text) < 0)
                return;
        if (stats_parse_net_dev(text, &s->ifaces, &s->n_ifaces) < 0)
                return;
        s->has_network = true;
        s->net_timestamp = stats_now_ns();
}

/* The pod's containers (referenced) and brief infos of the non-infra ones; rt->lock held. */
static size_t pod_containers_locked(Runtime *rt, const Pod *p, Container ***ret,
                                    ContainerInfo ***ret_infos) {
        Container **cs = xcalloc(rt->n_ctrs + 1, sizeof(*cs));
        ContainerInfo **infos = xcalloc(rt->n_ctrs + 1, sizeof(*infos));
        size_t n = 0;
        for (size_t i = 0; i < rt->n_ctrs; i++) {
                Container *c = rt->ctrs[i];
                if (c->claim.creating || strcmp(c->pod_id, p->id) != 0)
                        continue;
                infos[n] = c->infra ? NULL : container_brief(c);
                cs[n++] = container_ref(c);
        }
        *ret = cs;
        *ret_infos = infos;
        return n;
}

static void use_cached_network(Runtime *rt, Pod *p, PodStatsInfo *s) {
        pthread_mutex_lock(&rt->lock);
        if (p->n_last_net > 0) {
                s->ifaces = xmalloc(p->n_last_net * sizeof(NetIfUsage));
                memcpy(s->ifaces, p->last_net, p->n_last_net * sizeof(NetIfUsage));
                s->n_ifaces = p->n_last_net;
                s->has_network = true;
                s->net_timestamp = p->last.timestamp;
        }
        pthread_mutex_unlock(&rt->lock);
}

static void keep_sample(Runtime *rt, Pod *p, PodStatsInfo *s) {
        pthread_mutex_lock(&rt->lock);
        stats_cpu_rate(&p->last, &s->usage);
        p->last = s->usage;
        free(p->last_net);
        p->last_net = s->n_ifaces ? xmalloc(s->n_ifaces * sizeof(NetIfUsage)) : NULL;
        if (s->n_ifaces)
                memcpy(p->last_net, s->ifaces, s->n_ifaces * sizeof(NetIfUsage));
        p->n_last_net = s->n_ifaces;
        pthread_mutex_unlock(&rt->lock);
}

/* Sample `p` (referenced by the caller); takes ownership of `info`. See stats_sample_container(). */
static PodStatsInfo *sample_pod(Runtime *rt, Pod *p, PodInfo *info, bool force) {
        PodStatsInfo *s = xcalloc(1, sizeof(*s));
        s->info = info;
        Container **cs = NULL;
        ContainerInfo **infos = NULL;
        int64_t period = stats_period_ns(rt), now = stats_now_ns();
        pthread_mutex_lock(&rt->lock);
        size_t n = pod_containers_locked(rt, p, &cs, &infos);
        int pid = net_pid_locked(rt, p);
        _cleanup_free_ char *netns = p->netns ? xstrdup(p->netns) : NULL;
        bool cached = !force && period > 0 && p->last.timestamp > 0 && now - p->last.timestamp < 2 * period;
        pthread_mutex_unlock(&rt->lock);
        s->ctrs = xcalloc(n + 1, sizeof(*s->ctrs));
        s->usage.timestamp = now;
        for (size_t i = 0; i < n; i++) {
                ContainerStatsInfo *c = stats_sample_container(rt, cs[i], infos[i], force);
                stats_usage_add(&s->usage, &c->usage);
                if (infos[i])
                        s->ctrs[s->n_ctrs++] = c;
                else
                        container_stats_info_free(c);
                container_unref(cs[i]);
        }
        free(cs);
        free(infos);
        if (cached) {
                pthread_mutex_lock(&rt->lock);
                s->usage = p->last;
                pthread_mutex_unlock(&rt->lock);
                use_cached_network(rt, p, s);
                return s;
        }
        sample_network(netns, pid, s);
        keep_sample(rt, p, s);
        return s;
}

PodStatsInfo *pod_stats_info_free(PodStatsInfo *s) {
        if (!s)
                return NULL;
        pod_info_free(s->info);
        free(s->ifaces);
        for (size_t i = 0; i < s->n_ctrs; i++)
                container_stats_info_free(s->ctrs[i]);
        free(s->ctrs);
        return mfree(s);
}

int runtime_pod_stats(Runtime *rt, const char *id, PodStatsInfo **ret, Error **reterr) {
        int err = 0;
        pthread_mutex_lock(&rt->lock);
        Pod *p = pod_find_locked(rt, id, &err);
        PodInfo *info = p ? pod_snapshot(p) : NULL;
        if (p)
                pod_ref(p);
        pthread_mutex_unlock(&rt->lock);
        if (!p)
                return error_set(reterr, err == -EINVAL ? EINVAL : ENOENT,
                                 err == -EINVAL ? "pod sandbox ID '%s' is ambiguous"
                                                : "pod sandbox '%s' not found",
                                 id);
        *ret = sample_pod(rt, p, info, false);
        pod_unref(p);
        return 0;
}

static void pod_stats_list(Runtime *rt, bool force, PodStatsInfo ***ret, size_t *ret_n) {
        pthread_mutex_lock(&rt->lock);
        Pod **ps = xcalloc(rt->n_pods + 1, sizeof(*ps));
        PodInfo **infos = xcalloc(rt->n_pods + 1, sizeof(*infos));
        size_t n = 0;
        for (size_t i = 0; i < rt->n_pods; i++)
                if (!rt->pods[i]->claim.creating) {
                        ps[n] = pod_ref(rt->pods[i]);
                        infos[n++] = pod_snapshot(rt->pods[i]);
                }
        pthread_mutex_unlock(&rt->lock);
        PodStatsInfo **l = xcalloc(n + 1, sizeof(*l));
        for (size_t i = 0; i < n; i++) {
                l[i] = sample_pod(rt, ps[i], infos[i], force);
                pod_unref(ps[i]);
        }
        free(ps);
        free(infos);
        *ret = l;
        *ret_n = n;
}

void runtime_pod_stats_list(Runtime *rt, PodStatsInfo ***ret, size_t *ret_n) {
        pod_stats_list(rt, false, ret, ret_n);
}

void stats_sample_all(Runtime *rt) {
        PodStatsInfo **l = NULL;
        size_t n = 0;
        pod_stats_list(rt, true, &l, &n);
        for (size_t i = 0; i < n; i++)
                pod_stats_info_free(l[i]);
        free(l);
}
