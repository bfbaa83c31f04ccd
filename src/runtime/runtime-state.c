/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "json-util.h"
#include "log.h"
#include "runtime-private.h"
#include "store.h"
#include "strv.h"

/*
 * Pods and containers live in two tables of the store's database (<root>/crio-c.db): one row per
 * object, its state as a JSON document. Every change is
 * written through before the RPC that made it answers; a row with "creating" set is a half-made
 * object that start-up undoes. The tables are created by the store's schema migrations
 * (src/storage/store-migrations.c), which run when the image store opens, before the runtime does.
 */
int state_open(Runtime *rt, Error **reterr) {
        _cleanup_free_ char *path = xasprintf("%s/crio-c.db", rt->paths.root);
        int r = sqlite3_open_v2(path, &rt->db,
                                SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (r != SQLITE_OK)
                return error_set(reterr, EIO, "cannot open %s: %s", path, sqlite3_errstr(r));
        sqlite3_busy_timeout(rt->db, 10000);
        char *msg = NULL;
        r = sqlite3_exec(rt->db, STORE_DB_PRAGMAS, NULL, NULL, &msg);
        if (r != SQLITE_OK) {
                int e = error_set(reterr, EIO, "state database %s: %s", path, msg ? msg : sqlite3_errstr(r));
                sqlite3_free(msg);
                return e;
        }
        return 0;
}

void state_close(Runtime *rt) {
        if (rt->db)
                sqlite3_close(rt->db);
        rt->db = NULL;
}

/* JSON field helpers: absent values are skipped when writing and read back as NULL / 0. */
static void put_str(json_object *o, const char *k, const char *v) {
        if (v)
                json_object_object_add(o, k, json_object_new_string(v));
}
static void put_int(json_object *o, const char *k, int64_t v) {
        json_object_object_add(o, k, json_object_new_int64(v));
}
static void put_strv(json_object *o, const char *k, char *const *l) {
        json_object *a = json_object_new_array();
        STRV_FOREACH(s, l)
                json_object_array_add(a, json_object_new_string(*s));
        json_object_object_add(o, k, a);
}
static void put_map(json_object *o, const char *k, const StrMap *m) {
        json_object *m_ = json_object_new_object();
        for (size_t i = 0; i < m->n; i++)
                json_object_object_add(m_, m->keys[i], json_object_new_string(m->values[i]));
        json_object_object_add(o, k, m_);
}
static char *get_str(json_object *o, const char *k) {
        json_object *v = NULL;
        return json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
                       ? xstrdup(json_object_get_string(v))
                       : NULL;
}
static int64_t get_int(json_object *o, const char *k) {
        json_object *v = NULL;
        return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}
static char **get_strv(json_object *o, const char *k) {
        json_object *a = NULL;
        char **l = NULL;
        if (!json_object_object_get_ex(o, k, &a) || !json_object_is_type(a, json_type_array))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(a); i++)
                l = strv_push(l, xstrdup(json_object_get_string(json_object_array_get_idx(a, i))));
        return l;
}
static void get_map(json_object *o, const char *k, StrMap *m) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_object))
                return;
        json_object_object_foreach(v, key, val)
                strmap_add(m, key, json_object_get_string(val));
}

static void put_idmaps(json_object *o, const char *k, const IdMap *m, size_t n) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_new_array();
                json_object_array_add(e, json_object_new_int64(m[i].container_id));
                json_object_array_add(e, json_object_new_int64(m[i].host_id));
                json_object_array_add(e, json_object_new_int64(m[i].length));
                json_object_array_add(a, e);
        }
        json_object_object_add(o, k, a);
}

static IdMap *get_idmaps(json_object *o, const char *k, size_t *ret_n) {
        json_object *a = NULL;
        *ret_n = 0;
        if (!json_object_object_get_ex(o, k, &a) || !json_object_is_type(a, json_type_array))
                return NULL;
        size_t n = json_object_array_length(a);
        IdMap *m = xcalloc(n + 1, sizeof(IdMap));
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                m[i] = (IdMap){.container_id =
                                       (uint32_t)json_object_get_int64(json_object_array_get_idx(e, 0)),
                               .host_id = (uint32_t)json_object_get_int64(json_object_array_get_idx(e, 1)),
                               .length = (uint32_t)json_object_get_int64(json_object_array_get_idx(e, 2))};
        }
        *ret_n = n;
        return m;
}

static json_object *resources_to_json(const Resources *r) {
        json_object *o = json_object_new_object();
        put_int(o, "cpu_period", r->cpu_period);
        put_int(o, "cpu_quota", r->cpu_quota);
        put_int(o, "cpu_shares", r->cpu_shares);
        put_int(o, "memory_limit", r->memory_limit);
        put_int(o, "memory_swap_limit", r->memory_swap_limit);
        put_int(o, "oom_score_adj", r->oom_score_adj);
        put_str(o, "cpuset_cpus", r->cpuset_cpus);
        put_str(o, "cpuset_mems", r->cpuset_mems);
        put_map(o, "unified", &r->unified);
        return o;
}

static void resources_from_json(json_object *parent, Resources *r) {
        json_object *o = NULL;
        if (!json_object_object_get_ex(parent, "resources", &o))
                return;
        r->cpu_period = get_int(o, "cpu_period");
        r->cpu_quota = get_int(o, "cpu_quota");
        r->cpu_shares = get_int(o, "cpu_shares");
        r->memory_limit = get_int(o, "memory_limit");
        r->memory_swap_limit = get_int(o, "memory_swap_limit");
        r->oom_score_adj = get_int(o, "oom_score_adj");
        r->cpuset_cpus = get_str(o, "cpuset_cpus");
        r->cpuset_mems = get_str(o, "cpuset_mems");
        get_map(o, "unified", &r->unified);
}

static json_object *pod_to_json(const Pod *p, bool creating) {
        json_object *o = json_object_new_object();
        const PodConfig *c = p->config;
        put_str(o, "full_name", p->full_name);
        put_int(o, "state", p->state);
        put_int(o, "creating", creating);
        put_int(o, "created_ns", p->created_ns);
        put_str(o, "dir", p->dir);
        put_str(o, "netns", p->netns);
        put_str(o, "ipcns", p->ipcns);
        put_str(o, "utsns", p->utsns);
        put_str(o, "userns", p->userns);
        put_int(o, "shm_mounted", p->shm_mounted);
        put_str(o, "infra_id", p->infra_id);
        put_strv(o, "ips", p->ips);
        put_str(o, "handler", p->handler);
        put_str(o, "name", c->name);
        put_str(o, "uid", c->uid);
        put_str(o, "namespace", c->namespace_);
        put_int(o, "attempt", c->attempt);
        put_str(o, "hostname", c->hostname);
        put_str(o, "log_directory", c->log_directory);
        put_str(o, "cgroup_parent", c->cgroup_parent);
        put_map(o, "labels", &c->labels);
        put_map(o, "annotations", &c->annotations);
        put_int(o, "ns_network", c->ns.network);
        put_int(o, "ns_pid", c->ns.pid);
        put_int(o, "ns_ipc", c->ns.ipc);
        put_int(o, "privileged", c->privileged);
        put_int(o, "ns_userns", c->ns.userns);
        put_idmaps(o, "uid_maps", c->ns.uids, c->ns.n_uids);
        put_idmaps(o, "gid_maps", c->ns.gids, c->ns.n_gids);
        return o;
}

static Pod *pod_from_json(const char *id, json_object *o) {
        Pod *p = xcalloc(1, sizeof(*p));
        PodConfig *c = p->config = xcalloc(1, sizeof(*c));
        p->refs = 1;
        pthread_mutex_init(&p->op_lock, NULL);
        p->id = xstrdup(id);
        p->full_name = get_str(o, "full_name");
        p->state = (PodState)get_int(o, "state");
        p->claim.creating = get_int(o, "creating");
        p->created_ns = get_int(o, "created_ns");
        p->dir = get_str(o, "dir");
        p->netns = get_str(o, "netns");
        p->ipcns = get_str(o, "ipcns");
        p->utsns = get_str(o, "utsns");
        p->userns = get_str(o, "userns");
        p->shm_mounted = get_int(o, "shm_mounted");
        p->infra_id = get_str(o, "infra_id");
        p->ips = get_strv(o, "ips");
        p->handler = get_str(o, "handler");
        c->name = get_str(o, "name");
        c->uid = get_str(o, "uid");
        c->namespace_ = get_str(o, "namespace");
        c->attempt = (uint32_t)get_int(o, "attempt");
        c->hostname = get_str(o, "hostname");
        c->log_directory = get_str(o, "log_directory");
        c->cgroup_parent = get_str(o, "cgroup_parent");
        get_map(o, "labels", &c->labels);
        get_map(o, "annotations", &c->annotations);
        c->ns.network = (NamespaceMode)get_int(o, "ns_network");
        c->ns.pid = (NamespaceMode)get_int(o, "ns_pid");
        c->ns.ipc = (NamespaceMode)get_int(o, "ns_ipc");
        c->privileged = get_int(o, "privileged");
        c->ns.userns = get_int(o, "ns_userns");
        c->ns.uids = get_idmaps(o, "uid_maps", &c->ns.n_uids);
        c->ns.gids = get_idmaps(o, "gid_maps", &c->ns.n_gids);
        return p;
}

static json_object *mounts_to_json(const ContainerConfig *c) {
        json_object *a = json_object_new_array();
        for (size_t i = 0; i < c->n_mounts; i++) {
                json_object *m = json_object_new_object();
                put_str(m, "container_path", c->mounts[i].container_path);
                put_str(m, "host_path", c->mounts[i].host_path);
                put_int(m, "readonly", c->mounts[i].readonly);
                put_int(m, "propagation", c->mounts[i].propagation);
                json_object_array_add(a, m);
        }
        return a;
}

static void mounts_from_json(json_object *o, ContainerConfig *c) {
        json_object *a = NULL;
        if (!json_object_object_get_ex(o, "mounts", &a) || !json_object_is_type(a, json_type_array))
                return;
        c->n_mounts = json_object_array_length(a);
        c->mounts = xcalloc(c->n_mounts ? c->n_mounts : 1, sizeof(MountConfig));
        for (size_t i = 0; i < c->n_mounts; i++) {
                json_object *m = json_object_array_get_idx(a, i);
                c->mounts[i].container_path = get_str(m, "container_path");
                c->mounts[i].host_path = get_str(m, "host_path");
                c->mounts[i].readonly = get_int(m, "readonly");
                c->mounts[i].propagation = (Propagation)get_int(m, "propagation");
        }
}

static json_object *container_to_json(const Container *c, bool creating) {
        json_object *o = json_object_new_object();
        const ContainerConfig *cc = c->config;
        put_str(o, "full_name", c->full_name);
        put_int(o, "infra", c->infra);
        put_int(o, "creating", creating);
        put_int(o, "state", c->state);
        put_int(o, "runtime_released", c->runtime_released);
        put_int(o, "created_ns", c->created_ns);
        put_int(o, "started_ns", c->started_ns);
        put_int(o, "finished_ns", c->finished_ns);
        put_int(o, "exit_code", c->exit_code);
        put_str(o, "reason", c->reason);
        put_str(o, "message", c->message);
        put_int(o, "pid", c->pid);
        put_str(o, "image_id", c->image_id);
        put_str(o, "image_ref", c->image_ref);
        put_str(o, "bundle", c->bundle);
        put_str(o, "rootfs", c->rootfs);
        put_str(o, "layer", c->layer);
        put_str(o, "log_path", c->log_path);
        put_str(o, "stop_signal", c->stop_signal);
        put_str(o, "handler", c->handler);
        put_str(o, "cgroup", c->cgroup);
        put_str(o, "monitor_cgroup", c->monitor_cgroup);
        put_int(o, "uid", c->uid);
        put_int(o, "gid", c->gid);
        put_str(o, "name", cc->name);
        put_int(o, "attempt", cc->attempt);
        put_str(o, "image", cc->image);
        put_map(o, "labels", &cc->labels);
        put_map(o, "annotations", &cc->annotations);
        put_int(o, "tty", cc->tty);
        put_int(o, "stdin", cc->stdin_);
        put_int(o, "stdin_once", cc->stdin_once);
        json_object_object_add(o, "mounts", mounts_to_json(cc));
        json_object_object_add(o, "resources", resources_to_json(&cc->resources));
        return o;
}

static Container *container_from_json(const char *id, const char *pod_id, json_object *o) {
        Container *c = xcalloc(1, sizeof(*c));
        ContainerConfig *cc = c->config = xcalloc(1, sizeof(*cc));
        c->refs = 1;
        pthread_mutex_init(&c->op_lock, NULL);
        c->id = xstrdup(id);
        c->pod_id = xstrdup(pod_id);
        c->full_name = get_str(o, "full_name");
        c->infra = get_int(o, "infra");
        c->claim.creating = get_int(o, "creating");
        c->state = (ContainerState)get_int(o, "state");
        c->runtime_released = get_int(o, "runtime_released");
        c->created_ns = get_int(o, "created_ns");
        c->started_ns = get_int(o, "started_ns");
        c->finished_ns = get_int(o, "finished_ns");
        c->exit_code = (int32_t)get_int(o, "exit_code");
        c->reason = get_str(o, "reason");
        c->message = get_str(o, "message");
        c->pid = (int)get_int(o, "pid");
        c->image_id = get_str(o, "image_id");
        c->image_ref = get_str(o, "image_ref");
        c->bundle = get_str(o, "bundle");
        c->rootfs = get_str(o, "rootfs");
        c->layer = get_str(o, "layer");
        c->log_path = get_str(o, "log_path");
        c->stop_signal = get_str(o, "stop_signal");
        c->handler = get_str(o, "handler");
        c->cgroup = get_str(o, "cgroup");
        c->monitor_cgroup = get_str(o, "monitor_cgroup");
        c->uid = get_int(o, "uid");
        c->gid = get_int(o, "gid");
        cc->name = get_str(o, "name");
        cc->attempt = (uint32_t)get_int(o, "attempt");
        cc->image = get_str(o, "image");
        get_map(o, "labels", &cc->labels);
        get_map(o, "annotations", &cc->annotations);
        cc->tty = get_int(o, "tty");
        cc->stdin_ = get_int(o, "stdin");
        cc->stdin_once = get_int(o, "stdin_once");
        mounts_from_json(o, cc);
        resources_from_json(o, &cc->resources);
        return c;
}

static int exec_stmt(Runtime *rt, const char *sql, const char *id, json_object *doc, const char *pod_id,
                     Error **reterr) {
        pthread_mutex_lock(&rt->db_lock);
        sqlite3_stmt *st = NULL;
        int r = sqlite3_prepare_v2(rt->db, sql, -1, &st, NULL);
        if (r == SQLITE_OK) {
                sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
                if (doc)
                        sqlite3_bind_text(st, 2, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN),
                                          -1, SQLITE_TRANSIENT);
                if (pod_id)
                        sqlite3_bind_text(st, 3, pod_id, -1, SQLITE_STATIC);
                r = sqlite3_step(st);
        }
        sqlite3_finalize(st);
        pthread_mutex_unlock(&rt->db_lock);
        if (r != SQLITE_DONE && r != SQLITE_OK) {
                log_error("state database: %s", sqlite3_errstr(r));
                return error_set(reterr, EIO, "state database: %s", sqlite3_errstr(r));
        }
        return 0;
}

static int save_pod(Runtime *rt, const Pod *p, bool creating, Error **reterr) {
        json_object *doc = pod_to_json(p, creating);
        int r = exec_stmt(
                rt,
                "INSERT INTO pods (id, doc, seq) VALUES (?1, ?2, (SELECT IFNULL(MAX(seq), 0) + 1 FROM pods))"
                " ON CONFLICT(id) DO UPDATE SET doc = ?2",
                p->id, doc, NULL, reterr);
        json_object_put(doc);
        return r;
}

int state_save_pod(Runtime *rt, const Pod *p, Error **reterr) {
        return save_pod(rt, p, p->claim.creating, reterr);
}

int state_save_pod_created(Runtime *rt, const Pod *p, Error **reterr) {
        return save_pod(rt, p, false, reterr);
}

int state_delete_pod(Runtime *rt, const char *id, Error **reterr) {
        return exec_stmt(rt, "DELETE FROM pods WHERE id = ?1", id, NULL, NULL, reterr);
}

static int save_container(Runtime *rt, const Container *c, bool creating, Error **reterr) {
        json_object *doc = container_to_json(c, creating);
        int r = exec_stmt(
                rt,
                "INSERT INTO containers (id, doc, pod_id, seq) VALUES (?1, ?2, ?3,"
                " (SELECT IFNULL(MAX(seq), 0) + 1 FROM containers)) ON CONFLICT(id) DO UPDATE SET doc = ?2",
                c->id, doc, c->pod_id, reterr);
        json_object_put(doc);
        return r;
}

int state_save_container(Runtime *rt, const Container *c, Error **reterr) {
        return save_container(rt, c, c->claim.creating, reterr);
}

int state_save_container_created(Runtime *rt, const Container *c, Error **reterr) {
        return save_container(rt, c, false, reterr);
}

int state_delete_container(Runtime *rt, const char *id, Error **reterr) {
        return exec_stmt(rt, "DELETE FROM containers WHERE id = ?1", id, NULL, NULL, reterr);
}

static int load_rows(Runtime *rt, bool pods, Error **reterr) {
        const char *sql = pods ? "SELECT id, doc, '' FROM pods ORDER BY seq"
                               : "SELECT id, doc, pod_id FROM containers ORDER BY seq";
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(rt->db, sql, -1, &st, NULL) != SQLITE_OK)
                return error_set(reterr, EIO, "state database: %s", sqlite3_errmsg(rt->db));
        while (sqlite3_step(st) == SQLITE_ROW) {
                const char *id = (const char *)sqlite3_column_text(st, 0);
                const char *text = (const char *)sqlite3_column_text(st, 1);
                json_object *doc = NULL;
                _cleanup_error_ Error *err = NULL;
                if (!text || json_parse_object(text, strlen(text), "state row", &doc, &err) < 0) {
                        log_error("skipping unreadable state row %s", id);
                        continue;
                }
                if (pods) {
                        rt->pods = xrealloc(rt->pods, (rt->n_pods + 1) * sizeof(Pod *));
                        rt->pods[rt->n_pods++] = pod_from_json(id, doc);
                } else {
                        rt->ctrs = xrealloc(rt->ctrs, (rt->n_ctrs + 1) * sizeof(Container *));
                        rt->ctrs[rt->n_ctrs++] =
                                container_from_json(id, (const char *)sqlite3_column_text(st, 2), doc);
                }
                json_object_put(doc);
        }
        sqlite3_finalize(st);
        return 0;
}

int state_load(Runtime *rt, Error **reterr) {
        int r = load_rows(rt, true, reterr);
        if (r >= 0)
                r = load_rows(rt, false, reterr);
        return r;
}
