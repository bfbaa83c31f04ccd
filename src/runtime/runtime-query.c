/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "fs-util.h"
#include "json-util.h"
#include "oci-spec.h"
#include "runtime-private.h"
#include "strv.h"

/* How long ReopenContainerLog waits for conmon to put the new log file in place. */
#define REOPEN_WAIT_MS 3000

static void copy_map(StrMap *dst, const StrMap *src) {
        for (size_t i = 0; i < src->n; i++)
                strmap_add(dst, src->keys[i], src->values[i]);
}

static IdMap *idmaps_copy(const IdMap *m, size_t n) {
        IdMap *c = xcalloc(n ? n : 1, sizeof(IdMap));
        memcpy(c, m, n * sizeof(IdMap));
        return c;
}

PodInfo *pod_snapshot(const Pod *p) {
        PodInfo *i = xcalloc(1, sizeof(*i));
        i->id = xstrdup(p->id);
        i->name = xstrdup(strempty(p->config->name));
        i->uid = xstrdup(strempty(p->config->uid));
        i->namespace_ = xstrdup(strempty(p->config->namespace_));
        i->attempt = p->config->attempt;
        i->state = p->state;
        i->created_ns = p->created_ns;
        copy_map(&i->labels, &p->config->labels);
        copy_map(&i->annotations, &p->config->annotations);
        i->runtime_handler = xstrdup(strempty(p->handler));
        i->netns_path = xstrdup(strempty(p->netns));
        i->network = p->config->ns.network;
        i->pid = p->config->ns.pid;
        i->ipc = p->config->ns.ipc;
        i->ips = strv_copy(p->ips);
        const NamespaceConfig *ns = &p->config->ns;
        i->userns = ns->userns;
        if (ns->userns) {
                i->uids = idmaps_copy(ns->uids, ns->n_uids);
                i->gids = idmaps_copy(ns->gids, ns->n_gids);
                i->n_uids = ns->n_uids;
                i->n_gids = ns->n_gids;
        }
        return i;
}

int runtime_pod_info(Runtime *rt, const char *id, PodInfo **ret, Error **reterr) {
        int err = 0;
        pthread_mutex_lock(&rt->lock);
        Pod *p = pod_find_locked(rt, id, &err);
        PodInfo *i = p ? pod_snapshot(p) : NULL;
        pthread_mutex_unlock(&rt->lock);
        if (!i)
                return error_set(reterr, err == -EINVAL ? EINVAL : ENOENT,
                                 err == -EINVAL ? "pod sandbox ID '%s' is ambiguous"
                                                : "pod sandbox '%s' not found",
                                 id);
        *ret = i;
        return 0;
}

int runtime_pod_infra_pid(Runtime *rt, const char *pod_id) {
        int err = 0, pid = 0;
        pthread_mutex_lock(&rt->lock);
        Pod *p = pod_find_locked(rt, pod_id, &err);
        Container *infra = p && p->infra_id ? container_find_locked(rt, p->infra_id, &err) : NULL;
        if (infra && infra->state == CONTAINER_RUNNING)
                pid = infra->pid;
        pthread_mutex_unlock(&rt->lock);
        return pid;
}

uint64_t runtime_lists_generation(Runtime *rt) {
        return __atomic_load_n(&rt->list_gen, __ATOMIC_ACQUIRE);
}

void runtime_pod_list(Runtime *rt, PodInfo ***ret, size_t *ret_n) {
        pthread_mutex_lock(&rt->lock);
        PodInfo **l = xcalloc(rt->n_pods + 1, sizeof(PodInfo *));
        size_t n = 0;
        for (size_t i = 0; i < rt->n_pods; i++)
                if (!rt->pods[i]->claim.creating)
                        l[n++] = pod_snapshot(rt->pods[i]);
        pthread_mutex_unlock(&rt->lock);
        *ret = l;
        *ret_n = n;
}

static void copy_resources(Resources *dst, const Resources *src) {
        *dst = *src;
        dst->cpuset_cpus = src->cpuset_cpus ? xstrdup(src->cpuset_cpus) : NULL;
        dst->cpuset_mems = src->cpuset_mems ? xstrdup(src->cpuset_mems) : NULL;
        dst->hugepages = NULL;
        dst->n_hugepages = 0;
        dst->unified = (StrMap){};
        copy_map(&dst->unified, &src->unified);
}

/* What ListContainers answers with: identity, image, state, labels and annotations. */
ContainerInfo *container_brief(const Container *c) {
        const ContainerConfig *cc = c->config;
        ContainerInfo *i = xcalloc(1, sizeof(*i));
        i->id = xstrdup(c->id);
        i->pod_id = xstrdup(c->pod_id);
        i->name = xstrdup(strempty(cc->name));
        i->attempt = cc->attempt;
        i->state = c->state;
        i->created_ns = c->created_ns;
        i->image = xstrdup(strempty(cc->image));
        i->image_id = xstrdup(strempty(c->image_id));
        i->image_ref = xstrdup(strempty(c->image_ref));
        copy_map(&i->labels, &cc->labels);
        copy_map(&i->annotations, &cc->annotations);
        return i;
}

/* Everything ContainerStatus and the HTTP API report. */
ContainerInfo *container_snapshot(const Container *c) {
        const ContainerConfig *cc = c->config;
        ContainerInfo *i = container_brief(c);
        i->started_ns = c->started_ns;
        i->finished_ns = c->finished_ns;
        i->exit_code = c->exit_code;
        i->reason = xstrdup(strempty(c->reason));
        i->message = xstrdup(strempty(c->message));
        i->log_path = xstrdup(strempty(c->log_path));
        i->rootfs = xstrdup(strempty(c->rootfs));
        i->pid = c->state == CONTAINER_RUNNING ? c->pid : 0;
        i->mounts = xcalloc(cc->n_mounts + 1, sizeof(MountConfig));
        for (size_t k = 0; k < cc->n_mounts; k++) {
                i->mounts[k] = cc->mounts[k];
                i->mounts[k].container_path = xstrdup(strempty(cc->mounts[k].container_path));
                i->mounts[k].host_path = xstrdup(strempty(cc->mounts[k].host_path));
        }
        i->n_mounts = cc->n_mounts;
        copy_resources(&i->resources, &cc->resources);
        i->uid = c->uid;
        i->gid = c->gid;
        i->groups = xmalloc((c->n_groups + 1) * sizeof(int64_t));
        if (c->n_groups)
                memcpy(i->groups, c->groups, c->n_groups * sizeof(int64_t));
        i->n_groups = c->n_groups;
        return i;
}

int runtime_container_info(Runtime *rt, const char *id, ContainerInfo **ret, Error **reterr) {
        int err = 0;
        pthread_mutex_lock(&rt->lock);
        Container *c = container_find_locked(rt, id, &err);
        ContainerInfo *i = c && !c->infra ? container_snapshot(c) : NULL;
        pthread_mutex_unlock(&rt->lock);
        if (!i)
                return error_set(
                        reterr, err == -EINVAL ? EINVAL : ENOENT,
                        err == -EINVAL ? "container ID '%s' is ambiguous" : "container '%s' not found", id);
        *ret = i;
        return 0;
}

void runtime_container_list(Runtime *rt, ContainerInfo ***ret, size_t *ret_n) {
        pthread_mutex_lock(&rt->lock);
        ContainerInfo **l = xcalloc(rt->n_ctrs + 1, sizeof(ContainerInfo *));
        size_t n = 0;
        for (size_t i = 0; i < rt->n_ctrs; i++)
                if (!rt->ctrs[i]->claim.creating && !rt->ctrs[i]->infra)
                        l[n++] = container_brief(rt->ctrs[i]);
        pthread_mutex_unlock(&rt->lock);
        *ret = l;
        *ret_n = n;
}

int runtime_container_spec(Runtime *rt, const char *id, char **ret_json, Error **reterr) {
        Container *c = NULL;
        int r = container_get(rt, id, false, &c, reterr);
        if (r < 0)
                return r;
        _cleanup_free_ char *path = xasprintf("%s/config.json", c->bundle);
        container_unref(c);
        if (read_file(path, 16 << 20, ret_json, NULL) < 0)
                return error_set(reterr, errno, "cannot read %s: %m", path);
        return 0;
}

bool container_is_running(Runtime *rt, Container *c) {
        pthread_mutex_lock(&rt->lock);
        container_check_exit_locked(rt, c);
        bool running = c->state == CONTAINER_RUNNING;
        pthread_mutex_unlock(&rt->lock);
        return running;
}

int exec_target_get(Runtime *rt, const char *id, char *const *argv, Container **ret, Handler *ret_handler,
                    Error **reterr) {
        Container *c = NULL;
        int r = container_get(rt, id, false, &c, reterr);
        if (r < 0)
                return r;
        if (strv_isempty(argv))
                r = error_set(reterr, EINVAL, "cmd: no command given");
        else if (!container_is_running(rt, c))
                r = error_set(reterr, EBUSY, "container %s is not running", c->id);
        else
                r = runtime_handler_resolve(rt, c->handler, ret_handler, reterr);
        if (r < 0) {
                handler_done(ret_handler);
                container_unref(c);
                return r;
        }
        *ret = c;
        return 0;
}

int runtime_container_exec_sync(Runtime *rt, const char *id, char *const *argv, int64_t timeout_s,
                                ExecResult *ret, Error **reterr) {
        Container *c = NULL;
        Handler h = {};
        int r = exec_target_get(rt, id, argv, &c, &h, reterr);
        if (r < 0)
                return r;
        r = oci_exec_sync(rt, c, &h, argv, timeout_s, ret, reterr);
        handler_done(&h);
        container_unref(c);
        return r;
}

/* Replace linux.resources of the recorded spec, keeping its device rules and pids_limit's limit. */
static void update_spec_file(const Container *c, json_object *res) {
        _cleanup_free_ char *path = xasprintf("%s/config.json", c->bundle), *text = NULL;
        size_t len = 0;
        json_object *spec = NULL, *linux_ = NULL, *old = NULL, *devices = NULL;
        _cleanup_error_ Error *err = NULL;
        if (read_file(path, 16 << 20, &text, &len) < 0 ||
            json_parse_object(text, len, "spec", &spec, &err) < 0)
                return;
        if (json_object_object_get_ex(spec, "linux", &linux_)) {
                json_object *pids = NULL;
                if (json_object_object_get_ex(linux_, "resources", &old) &&
                    json_object_object_get_ex(old, "devices", &devices))
                        json_object_object_add(res, "devices", json_object_get(devices));
                if (old && json_object_object_get_ex(old, "pids", &pids))
                        json_object_object_add(res, "pids", json_object_get(pids));
                json_object_object_add(linux_, "resources", json_object_get(res));
        }
        const char *out = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PLAIN |
                                                                       JSON_C_TO_STRING_NOSLASHESCAPE);
        write_file_replace(path, out, strlen(out), 0600);
        json_object_put(spec);
}

int runtime_container_update(Runtime *rt, const char *id, const Resources *res, Error **reterr) {
        Container *c = NULL;
        int r = resources_validate(res, reterr);
        if (r >= 0)
                r = container_get(rt, id, false, &c, reterr);
        if (r < 0)
                return r;
        pthread_mutex_lock(&c->op_lock);
        Handler h = {};
        json_object *o = oci_resources_json(res);
        r = runtime_handler_resolve(rt, c->handler, &h, reterr);
        if (r >= 0)
                r = handler_check_memory(&h, res->memory_limit, "linux.memory_limit_in_bytes", reterr);
        if (r >= 0 && container_is_running(rt, c))
                r = oci_update(rt, c, &h, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN), reterr);
        if (r >= 0) {
                update_spec_file(c, o);
                pthread_mutex_lock(&rt->lock);
                resources_done(&c->config->resources);
                copy_resources(&c->config->resources, res);
                r = state_save_container(rt, c, reterr);
                pthread_mutex_unlock(&rt->lock);
        }
        json_object_put(o);
        handler_done(&h);
        pthread_mutex_unlock(&c->op_lock);
        container_unref(c);
        return r;
}

static ino_t log_inode(const char *path) {
        struct stat st;
        return stat(path, &st) < 0 ? 0 : st.st_ino;
}

/*
 * conmon's control fifo in the bundle: "2 0 0" asks it to reopen the log (after rotation). conmon
 * does it asynchronously, by creating a new file and renaming it over the log; the kubelet expects
 * the new file to exist when the call returns, so wait (bounded) for the log's inode to change.
 */
int runtime_container_reopen_log(Runtime *rt, const char *id, Error **reterr) {
        Container *c = NULL;
        int r = container_get(rt, id, false, &c, reterr);
        if (r < 0)
                return r;
        _cleanup_free_ char *ctl = xasprintf("%s/ctl", c->bundle);
        _cleanup_free_ char *log = xstrdup(c->log_path);
        bool running = container_is_running(rt, c);
        container_unref(c);
        if (!running)
                return error_set(reterr, EBUSY, "container %s is not running", id);
        _cleanup_close_ int fd = open(ctl, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return error_set(reterr, errno, "cannot open the monitor's control fifo %s: %m", ctl);
        ino_t before = log_inode(log);
        const char msg[] = "2 0 0\n";
        if (write(fd, msg, sizeof(msg) - 1) != (ssize_t)sizeof(msg) - 1)
                return error_set(reterr, errno, "cannot ask the monitor to reopen the log: %m");
        for (int i = 0; i < REOPEN_WAIT_MS / 5; i++) {
                ino_t now = log_inode(log);
                if (now && now != before)
                        return 0;
                usleep(5000);
        }
        return error_set(reterr, ETIMEDOUT, "the monitor did not reopen %s within %d ms", log,
                         REOPEN_WAIT_MS);
}

int runtime_container_pause(Runtime *rt, const char *id, bool pause, Error **reterr) {
        Container *c = NULL;
        int r = container_get(rt, id, false, &c, reterr);
        if (r < 0)
                return r;
        Handler h = {};
        if (!container_is_running(rt, c))
                r = error_set(reterr, EBUSY, "container %s is not running", c->id);
        else
                r = runtime_handler_resolve(rt, c->handler, &h, reterr);
        if (r >= 0)
                r = oci_simple(rt, c, &h, pause ? "pause" : "resume", reterr);
        handler_done(&h);
        container_unref(c);
        return r;
}

bool runtime_image_in_use(Runtime *rt, const char *image_id) {
        /* A removed container's rootfs may still be mounted on the image's layers for a moment. */
        teardown_wait(rt, NULL, image_id);
        pthread_mutex_lock(&rt->lock);
        bool used = false;
        for (size_t i = 0; i < rt->n_ctrs && !used; i++)
                used = rt->ctrs[i]->image_id && strcmp(rt->ctrs[i]->image_id, image_id) == 0;
        pthread_mutex_unlock(&rt->lock);
        return used;
}
