/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "log.h"
#include "runtime-private.h"
#include "strv.h"

char *random_id(void) {
        uint8_t b[32];
        size_t got = 0;
        while (got < sizeof(b)) {
                ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
                if (n > 0)
                        got += (size_t)n;
        }
        char *s = xmalloc(65);
        for (size_t i = 0; i < sizeof(b); i++)
                snprintf(s + 2 * i, 3, "%02x", b[i]);
        return s;
}

int claim_name_locked(Runtime *rt, const ClaimOps *ops, const char *full_name, char **ret_existing,
                      Error **reterr) {
        void *old;
        *ret_existing = NULL;
        while ((old = ops->find_locked(rt, full_name))) {
                Claim *c = ops->claim_of(old);
                if (!c->creating && !c->unclaimed)
                        return error_set(reterr, EEXIST, "%s name '%s' is reserved by %s %s", ops->kind,
                                         full_name, ops->kind, ops->id_of(old));
                /* A kubelet retry after its deadline: wait for the creation it asked for, then take it. */
                ops->hold(old);
                while (c->creating)
                        pthread_cond_wait(&rt->created, &rt->lock);
                bool done = !c->failed;
                if (done) {
                        /* This request answers for the creation: its first client's leaving changes nothing.
                         */
                        c->handed_out = true;
                        c->unclaimed = false;
                        *ret_existing = xstrdup(ops->id_of(old));
                }
                ops->release(old);
                if (done)
                        return 0;
        }
        return 0;
}

void claim_mark_unclaimed(Claim *c) {
        if (!c->handed_out)
                c->unclaimed = true;
}

Pod *pod_ref(Pod *p) {
        __atomic_add_fetch(&p->refs, 1, __ATOMIC_SEQ_CST);
        return p;
}

void pod_unref(Pod *p) {
        if (!p || __atomic_sub_fetch(&p->refs, 1, __ATOMIC_SEQ_CST) > 0)
                return;
        pthread_mutex_destroy(&p->op_lock);
        free(p->id);
        free(p->full_name);
        pod_config_free(p->config);
        free(p->dir);
        free(p->netns);
        free(p->ipcns);
        free(p->utsns);
        free(p->userns);
        free(p->infra_id);
        strv_free(p->ips);
        free(p->handler);
        free(p->last_net);
        free(p);
}

Container *container_ref(Container *c) {
        __atomic_add_fetch(&c->refs, 1, __ATOMIC_SEQ_CST);
        return c;
}

void container_unref(Container *c) {
        if (!c || __atomic_sub_fetch(&c->refs, 1, __ATOMIC_SEQ_CST) > 0)
                return;
        container_drop_waiting_monitor(c); /* a daemon stopping with containers never started */
        pthread_mutex_destroy(&c->op_lock);
        free(c->id);
        free(c->full_name);
        free(c->pod_id);
        container_config_free(c->config);
        free(c->reason);
        free(c->message);
        free(c->image_id);
        free(c->image_ref);
        free(c->bundle);
        free(c->rootfs);
        free(c->layer);
        free(c->log_path);
        free(c->stop_signal);
        free(c->handler);
        free(c->cgroup);
        free(c->monitor_cgroup);
        free(c->groups);
        free(c);
}

/* Full ID or a unique prefix; objects still being created are not found. */
#define FIND_BY_ID(list, n, key, ret_err)                                                                   \
        ({                                                                                                  \
                __typeof__((list)[0]) _found = NULL;                                                        \
                size_t _klen = strlen(key), _hits = 0;                                                      \
                for (size_t _i = 0; _klen > 0 && _i < (n); _i++)                                            \
                        if (!(list)[_i]->claim.creating && strncmp((list)[_i]->id, key, _klen) == 0) {      \
                                _found = (list)[_i];                                                        \
                                _hits++;                                                                    \
                                if (strlen((list)[_i]->id) == _klen)                                        \
                                        _hits = 1, _i = (n);                                                \
                        }                                                                                   \
                *(ret_err) = _hits == 1 ? 0 : _hits == 0 ? -ENOENT : -EINVAL;                               \
                _hits == 1 ? _found : NULL;                                                                 \
        })

Pod *pod_find_locked(Runtime *rt, const char *id, int *ret_err) {
        return FIND_BY_ID(rt->pods, rt->n_pods, id, ret_err);
}

Container *container_find_locked(Runtime *rt, const char *id, int *ret_err) {
        return FIND_BY_ID(rt->ctrs, rt->n_ctrs, id, ret_err);
}

void runtime_drop_pod_locked(Runtime *rt, Pod *p) {
        for (size_t i = 0; i < rt->n_pods; i++)
                if (rt->pods[i] == p) {
                        memmove(&rt->pods[i], &rt->pods[i + 1], (rt->n_pods - i - 1) * sizeof(Pod *));
                        rt->n_pods--;
                        lists_changed_locked(rt);
                        pod_unref(p);
                        return;
                }
}

void runtime_drop_container_locked(Runtime *rt, Container *c) {
        for (size_t i = 0; i < rt->n_ctrs; i++)
                if (rt->ctrs[i] == c) {
                        memmove(&rt->ctrs[i], &rt->ctrs[i + 1], (rt->n_ctrs - i - 1) * sizeof(Container *));
                        rt->n_ctrs--;
                        lists_changed_locked(rt);
                        container_unref(c);
                        return;
                }
}

void handler_done(Handler *h) {
        free(h->name);
        free(h->path);
        free(h->root);
        free(h->monitor);
        strv_free(h->monitor_env);
        *h = (Handler){};
}

/* Look a program up in $PATH (absolute names are taken as they are). */
static char *find_program(const char *name) {
        if (strchr(name, '/'))
                return xstrdup(name);
        const char *path = getenv("PATH");
        _cleanup_strv_free_ char **dirs = strv_split(path ? path : "/usr/local/bin:/usr/bin:/bin", ':');
        STRV_FOREACH(d, dirs) {
                char *p = xasprintf("%s/%s", *d, name);
                if (access(p, X_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

int handler_check_memory(const Handler *h, int64_t limit, const char *field, Error **reterr) {
        if (limit <= 0 || limit >= h->min_memory)
                return 0;
        return error_set(reterr, EINVAL,
                         "%s: %" PRId64 " bytes is below the %" PRId64
                         " bytes that runtime handler '%s' needs (container_min_memory)",
                         field, limit, h->min_memory, h->name);
}

/* CRI-O's floor of 30 s (less would fail creates on any busy node); the ceiling fits poll()'s int ms. */
static int64_t create_timeout_ms(int64_t seconds) {
        if (seconds < 30)
                seconds = 30;
        if (seconds > INT_MAX / 1000)
                seconds = INT_MAX / 1000;
        return seconds * 1000;
}

int runtime_handler_resolve(Runtime *rt, const char *name, Handler *ret, Error **reterr) {
        pthread_rwlock_rdlock(rt->config_lock);
        const char *want = isempty(name) ? rt->config->default_runtime : name;
        const RuntimeHandler *rh = config_find_runtime(rt->config, want);
        Handler h = {};
        if (rh) {
                h.name = xstrdup(rh->name);
                h.path = find_program(isempty(rh->runtime_path) ? rh->name : rh->runtime_path);
                h.root = isempty(rh->runtime_root) ? xasprintf("/run/%s", rh->name)
                                                   : xstrdup(rh->runtime_root);
                h.monitor = find_program(isempty(rh->monitor_path) ? "conmon" : rh->monitor_path);
                h.monitor_env = strv_copy(rh->monitor_env);
                h.systemd_cgroup = strcmp(rt->config->cgroup_manager, "systemd") == 0;
                h.no_sync_log = rh->no_sync_log;
                h.monitor_in_pod = !h.systemd_cgroup && strcmp(rh->monitor_cgroup, "pod") == 0;
                h.create_timeout_ms = create_timeout_ms(rh->container_create_timeout);
                if (parse_size(rh->container_min_memory, &h.min_memory) < 0) /* validated at load */
                        h.min_memory = 0;
        }
        pthread_rwlock_unlock(rt->config_lock);
        if (!rh)
                return error_set(reterr, EINVAL, "runtime_handler: no runtime handler named '%s'", want);
        if (!h.path || !h.monitor) {
                int r = error_set(reterr, ENOENT, "runtime handler '%s': %s not found", h.name,
                                  !h.path ? "runtime binary" : "monitor (conmon)");
                handler_done(&h);
                return r;
        }
        *ret = h;
        return 0;
}

/* The helper programs live next to the crio binary unless configured. */
static char *helper_path(const char *configured, const char *name) {
        if (!isempty(configured))
                return xstrdup(configured);
        char self[4096];
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n > 0) {
                self[n] = 0;
                char *slash = strrchr(self, '/');
                if (slash) {
                        *slash = 0;
                        char *p = xasprintf("%s/%s", self, name);
                        if (access(p, X_OK) == 0)
                                return p;
                        free(p);
                }
        }
        char *p = find_program(name);
        return p ? p : xstrdup(name);
}

static void paths_init(RuntimePaths *p, const Config *c) {
        p->root = xstrdup(c->root);
        p->runroot = xstrdup(c->runroot);
        p->exits_dir = xstrdup(c->container_exits_dir);
        p->attach_dir = xstrdup(c->container_attach_socket_dir);
        p->ns_dir = xstrdup(c->namespaces_dir);
        p->pinns = helper_path(c->pinns_path, "crio-pinns");
        p->pause = helper_path(NULL, "crio-pause");
        p->nsexec = helper_path(NULL, "crio-nsexec");
        p->log_dir = xstrdup(c->log_dir);
}

static void paths_done(RuntimePaths *p) {
        free(p->root);
        free(p->runroot);
        free(p->exits_dir);
        free(p->attach_dir);
        free(p->ns_dir);
        free(p->pinns);
        free(p->pause);
        free(p->nsexec);
        free(p->log_dir);
}

static int make_dirs(Runtime *rt, Error **reterr) {
        _cleanup_free_ char *pods = xasprintf("%s/pods", rt->paths.runroot);
        _cleanup_free_ char *ctrs = xasprintf("%s/containers", rt->paths.runroot);
        _cleanup_free_ char *layers = xasprintf("%s/containers", rt->paths.root);
        /* Traversable, not listable: user-namespaced containers reach their rootfs and pod files through
         * them. */
        const char *dirs[] = {pods, ctrs, layers, rt->paths.exits_dir, rt->paths.attach_dir};
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (mkdir_parents_and_self(dirs[i], i < 3 ? 0711 : 0700) < 0)
                        return error_set(reterr, errno, "cannot create %s: %m", dirs[i]);
        return 0;
}

/*
 * Finish recovery: undo half-made objects and read exits that happened while we were away. Runs
 * before any RPC is served or the exit watcher starts, so nothing else touches the lists.
 */
static Pod *pod_of(Runtime *rt, const char *id) {
        for (size_t i = 0; i < rt->n_pods; i++)
                if (strcmp(rt->pods[i]->id, id) == 0)
                        return rt->pods[i];
        return NULL;
}

static bool pod_exists(Runtime *rt, const char *id) {
        return pod_of(rt, id) != NULL;
}

/*
 * Attachments recorded for pods that no longer exist: a pod removed while DEL failed (at start-up
 * recovery, say). Try once more at each start, so that IPAM allocations and host ports come back.
 */
static void release_orphan_networks(Runtime *rt) {
        _cleanup_strv_free_ char **ids = network_recorded_pods(rt->network);
        STRV_FOREACH(id, ids) {
                if (pod_exists(rt, *id))
                        continue;
                _cleanup_error_ Error *err = NULL;
                if (network_pod_detach(rt->network, *id, &err) < 0)
                        log_warn("pod %s (gone): %s", *id, err->message);
                else
                        log_info("released the network of pod %s, which no longer exists", *id);
        }
}

static void recover(Runtime *rt) {
        for (size_t i = rt->n_ctrs; i-- > 0;) {
                Container *c = rt->ctrs[i];
                /*
                 * A container whose pod row is gone was half removed with it; one of a pod still being
                 * created is its infra container, made before the pod row recorded its ID.
                 */
                Pod *p = pod_of(rt, c->pod_id);
                if (!c->claim.creating && p && !p->claim.creating)
                        continue;
                log_info("removing container %s that was being %s when the daemon stopped", c->id,
                         c->claim.creating || p ? "created" : "removed");
                container_teardown(rt, c, true);
                state_delete_container(rt, c->id, NULL);
                runtime_drop_container_locked(rt, c);
        }
        for (size_t i = rt->n_pods; i-- > 0;) {
                Pod *p = rt->pods[i];
                if (!p->claim.creating)
                        continue;
                log_info("removing pod %s that was being created when the daemon stopped", p->id);
                pod_teardown(rt, p);
                state_delete_pod(rt, p->id, NULL);
                runtime_drop_pod_locked(rt, p);
        }
        for (size_t i = 0; i < rt->n_ctrs; i++)
                if (container_check_exit_locked(rt, rt->ctrs[i]))
                        state_save_container(rt, rt->ctrs[i], NULL);
        boot_recovery(rt);
        release_orphan_networks(rt);
        for (size_t i = 0; i < rt->n_pods; i++)
                if (rt->pods[i]->state == POD_READY && rt->pods[i]->config->ns.network != NS_NODE)
                        network_check_later(rt->network, rt->pods[i]->id);
}

/* Debian's containernetworking-plugins install here, whatever plugin_dirs says. */
#define DEBIAN_CNI_DIR "/usr/lib/cni"

static int network_start(Runtime *rt, Error **reterr) {
        const Config *c = rt->config;
        _cleanup_strv_free_ char **dirs = strv_copy(c->plugin_dirs);
        if (!dirs)
                dirs = xcalloc(1, sizeof(char *));
        if (!strv_contains(dirs, DEBIAN_CNI_DIR) && !strv_contains(dirs, DEBIAN_CNI_DIR "/"))
                dirs = strv_push(dirs, xstrdup(DEBIAN_CNI_DIR));
        int64_t timeout_ns = 0;
        if (parse_duration(c->cni_plugin_timeout, &timeout_ns) < 0 || timeout_ns <= 0)
                timeout_ns = 60 * 1000000000LL;
        _cleanup_free_ char *cache = xasprintf("%s/cni-results", rt->paths.root);
        NetworkSettings s = {.network_dir = c->network_dir,
                             .plugin_dirs = dirs,
                             .default_network = c->cni_default_network,
                             .cache_dir = cache,
                             .plugin_timeout_ms = timeout_ns / 1000000};
        return network_manager_new(&s, &rt->network, reterr);
}

/*
 * runc creates the default parent cgroup with a pod's first container but removes only the
 * containers' own cgroups. Called when no container can be created meanwhile (start-up before
 * serving, shutdown after the workers stopped); a parent that still holds a container stays
 * (rmdir fails with EBUSY).
 */
static void remove_default_cgroup_parent(void) {
        DIR *d = opendir("/sys/fs/cgroup");
        if (!d)
                return;
        if (unlinkat(dirfd(d), DEFAULT_CGROUP_PARENT, AT_REMOVEDIR) < 0 && errno != ENOENT &&
            errno != ENOTDIR)
                log_debug("cgroup /%s stays: %m", DEFAULT_CGROUP_PARENT); /* v2, or a v1 named mount */
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.' || de->d_type != DT_DIR ||
                    strcmp(de->d_name, DEFAULT_CGROUP_PARENT) == 0)
                        continue;
                _cleanup_free_ char *path = xasprintf("%s/%s", de->d_name, DEFAULT_CGROUP_PARENT);
                if (unlinkat(dirfd(d), path, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        log_debug("cgroup %s stays: %m", path);
        }
        closedir(d);
}

/* Under systemd a monitor's cgroup is a scope made through systemd's API, which crio-c does not speak. */
static void warn_unapplied_monitor_cgroups(const Config *config) {
        if (strcmp(config->cgroup_manager, "systemd") != 0)
                return;
        for (size_t i = 0; i < config->n_runtimes; i++)
                if (!isempty(config->runtimes[i]->monitor_cgroup))
                        log_warn("crio.runtime.runtimes.%s.monitor_cgroup '%s' is not applied with the "
                                 "systemd "
                                 "cgroup manager in crio-c: conmon stays in the daemon's cgroup",
                                 config->runtimes[i]->name, config->runtimes[i]->monitor_cgroup);
}

int runtime_new(const Config *config, pthread_rwlock_t *config_lock, ImageService *images, Metrics *metrics,
                Runtime **ret, Error **reterr) {
        warn_unapplied_monitor_cgroups(config);
        Runtime *rt = xcalloc(1, sizeof(*rt));
        rt->config = config;
        rt->config_lock = config_lock;
        rt->images = images;
        rt->events_enabled = config->enable_pod_events;
        rt->oom_total = metrics_family(
                metrics, "containers_oom_total", "container_runtime_crio_containers_oom_total",
                "Containers killed because they ran out of memory.", METRIC_COUNTER, "", NULL, 0);
        rt->oom_count = metrics_family(
                metrics, "containers_oom_count_total", "container_runtime_crio_containers_oom_count_total",
                "Containers killed because they ran out of memory, by container name.", METRIC_COUNTER,
                "name", NULL, 0);
        rt->monitor_lost =
                metrics_family(metrics, "containers_stopped_monitor_count",
                               "container_runtime_crio_containers_stopped_monitor_count",
                               "Containers whose monitor (conmon) exited without recording their exit, "
                               "by container name.",
                               METRIC_COUNTER, "name", NULL, 0);
        rt->events_dropped = metrics_family(metrics, "containers_events_dropped_total",
                                            "container_runtime_crio_containers_events_dropped_total",
                                            "Container events not delivered because a queue was full.",
                                            METRIC_COUNTER, "", NULL, 0);
        rt->inotify_fd = rt->stop_fd = rt->orphan_pipe[0] = rt->orphan_pipe[1] = -1;
        pthread_mutex_init(&rt->lock, NULL);
        pthread_mutex_init(&rt->db_lock, NULL);
        pthread_mutex_init(&rt->sealed.lock, NULL);
        pthread_cond_init(&rt->created, NULL);
        pthread_condattr_t monotonic;
        pthread_condattr_init(&monotonic);
        pthread_condattr_setclock(&monotonic, CLOCK_MONOTONIC);
        pthread_cond_init(&rt->exited, &monotonic); /* container.c's waits count in monotonic time */
        pthread_condattr_destroy(&monotonic);
        pthread_cond_init(&rt->sampler_wake, NULL);
        pthread_mutex_init(&rt->events_lock, NULL);
        pthread_cond_init(&rt->events_cond, NULL);
        teardown_init(rt);
        paths_init(&rt->paths, config);
        int r = make_dirs(rt, reterr);
        if (r >= 0)
                r = network_start(rt, reterr);
        if (r >= 0)
                r = state_open(rt, reterr);
        if (r >= 0)
                r = state_load(rt, reterr);
        if (r >= 0) {
                recover(rt);
                teardown_sweep_orphans(rt);
                if (rt->n_ctrs == 0)
                        remove_default_cgroup_parent();
                r = exit_watch_start(rt, reterr);
        }
        if (r >= 0) {
                stats_sampler_start(rt);
                events_start(rt);
        }
        if (r < 0) {
                runtime_free(rt);
                return r;
        }
        *ret = rt;
        return 0;
}

Runtime *runtime_free(Runtime *rt) {
        if (!rt)
                return NULL;
        bool idle = rt->n_ctrs == 0;
        teardown_done(rt);
        exit_watch_stop(rt);
        rt->network = network_manager_free(rt->network);
        free(rt->pod_cidr);
        stats_sampler_stop(rt);
        events_stop(rt);
        for (size_t i = 0; i < rt->n_ctrs; i++)
                container_unref(rt->ctrs[i]);
        for (size_t i = 0; i < rt->n_pods; i++)
                pod_unref(rt->pods[i]);
        free(rt->ctrs);
        free(rt->pods);
        state_close(rt);
        paths_done(&rt->paths);
        pthread_mutex_destroy(&rt->lock);
        pthread_mutex_destroy(&rt->db_lock);
        sealed_binaries_done(&rt->sealed);
        pthread_mutex_destroy(&rt->sealed.lock);
        pthread_cond_destroy(&rt->created);
        pthread_cond_destroy(&rt->exited);
        pthread_cond_destroy(&rt->sampler_wake);
        pthread_mutex_destroy(&rt->events_lock);
        pthread_cond_destroy(&rt->events_cond);
        if (idle)
                remove_default_cgroup_parent();
        return mfree(rt);
}
