/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <json-c/json.h>

#include "cri-translate.h"
#include "log.h"
#include "pb-util.h"
#include "rpc-pods.h"
#include "strv.h"

int rpc_run_pod_sandbox(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                        Error **reterr) {
        const Runtime__V1__RunPodSandboxRequest *r = (const Runtime__V1__RunPodSandboxRequest *)req;
        if (!r->config)
                return error_set(reterr, EINVAL, "config is required");
        if (!r->config->metadata)
                return error_set(reterr, EINVAL, "config.metadata is required");
        char *id = NULL;
        int q = runtime_pod_run(ctx->daemon->runtime, pod_config_from_cri(r->config, r->runtime_handler),
                                &id, reterr);
        if (q < 0)
                return q;
        if (cancel_requested(ctx->cancel))
                runtime_pod_unclaimed(ctx->daemon->runtime, id);
        log_info("ran pod sandbox %s/%s as %s", r->config->metadata->namespace_, r->config->metadata->name,
                 id);
        Runtime__V1__RunPodSandboxResponse *resp =
                PB_NEW(Runtime__V1__RunPodSandboxResponse, RUNTIME__V1__RUN_POD_SANDBOX_RESPONSE__INIT);
        resp->pod_sandbox_id = id;
        *ret_resp = &resp->base;
        return 0;
}

static int require_id(const char *id, const char *field, Error **reterr) {
        if (isempty(id))
                return error_set(reterr, EINVAL, "%s is required", field);
        return 0;
}

int rpc_stop_pod_sandbox(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                         Error **reterr) {
        const Runtime__V1__StopPodSandboxRequest *r = (const Runtime__V1__StopPodSandboxRequest *)req;
        int q = require_id(r->pod_sandbox_id, "pod_sandbox_id", reterr);
        if (q >= 0)
                q = runtime_pod_stop(ctx->daemon->runtime, r->pod_sandbox_id, reterr);
        if (q < 0)
                return q;
        *ret_resp =
                &PB_NEW(Runtime__V1__StopPodSandboxResponse, RUNTIME__V1__STOP_POD_SANDBOX_RESPONSE__INIT)
                         ->base;
        return 0;
}

int rpc_remove_pod_sandbox(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                           Error **reterr) {
        const Runtime__V1__RemovePodSandboxRequest *r = (const Runtime__V1__RemovePodSandboxRequest *)req;
        int q = require_id(r->pod_sandbox_id, "pod_sandbox_id", reterr);
        if (q >= 0)
                q = runtime_pod_remove(ctx->daemon->runtime, r->pod_sandbox_id, reterr);
        if (q < 0)
                return q;
        *ret_resp = &PB_NEW(Runtime__V1__RemovePodSandboxResponse,
                            RUNTIME__V1__REMOVE_POD_SANDBOX_RESPONSE__INIT)
                             ->base;
        return 0;
}

static Runtime__V1__IDMapping **idmaps_to_cri(const IdMap *m, size_t n) {
        Runtime__V1__IDMapping **l = xcalloc(n ? n : 1, sizeof(*l));
        for (size_t i = 0; i < n; i++) {
                l[i] = PB_NEW(Runtime__V1__IDMapping, RUNTIME__V1__IDMAPPING__INIT);
                l[i]->container_id = m[i].container_id;
                l[i]->host_id = m[i].host_id;
                l[i]->length = m[i].length;
        }
        return l;
}

static Runtime__V1__UserNamespace *pod_userns(const PodInfo *p) {
        Runtime__V1__UserNamespace *u =
                PB_NEW(Runtime__V1__UserNamespace, RUNTIME__V1__USER_NAMESPACE__INIT);
        u->mode = p->userns ? RUNTIME__V1__NAMESPACE_MODE__POD : RUNTIME__V1__NAMESPACE_MODE__NODE;
        u->uids = idmaps_to_cri(p->uids, p->n_uids);
        u->n_uids = p->n_uids;
        u->gids = idmaps_to_cri(p->gids, p->n_gids);
        u->n_gids = p->n_gids;
        return u;
}

static Runtime__V1__NamespaceOption *pod_namespaces(const PodInfo *p) {
        Runtime__V1__NamespaceOption *o =
                PB_NEW(Runtime__V1__NamespaceOption, RUNTIME__V1__NAMESPACE_OPTION__INIT);
        o->network = (Runtime__V1__NamespaceMode)p->network;
        o->pid = (Runtime__V1__NamespaceMode)p->pid;
        o->ipc = (Runtime__V1__NamespaceMode)p->ipc;
        o->target_id = xstrdup("");
        o->userns_options = pod_userns(p);
        return o;
}

static Runtime__V1__PodSandboxNetworkStatus *pod_network(const PodInfo *p) {
        Runtime__V1__PodSandboxNetworkStatus *n =
                PB_NEW(Runtime__V1__PodSandboxNetworkStatus, RUNTIME__V1__POD_SANDBOX_NETWORK_STATUS__INIT);
        n->ip = xstrdup(p->ips && p->ips[0] ? p->ips[0] : "");
        for (char **ip = p->ips && p->ips[0] ? p->ips + 1 : NULL; ip && *ip; ip++) {
                Runtime__V1__PodIP *x = PB_NEW(Runtime__V1__PodIP, RUNTIME__V1__POD_IP__INIT);
                x->ip = xstrdup(*ip);
                PB_APPEND(n->n_additional_ips, n->additional_ips, x);
        }
        return n;
}

Runtime__V1__PodSandboxStatus *pod_status_to_cri(const PodInfo *p) {
        Runtime__V1__PodSandboxStatus *s =
                PB_NEW(Runtime__V1__PodSandboxStatus, RUNTIME__V1__POD_SANDBOX_STATUS__INIT);
        s->id = xstrdup(p->id);
        s->metadata = pod_metadata_to_cri(p);
        s->state = p->state == POD_READY ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                                         : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
        s->created_at = p->created_ns;
        s->network = pod_network(p);
        s->linux = PB_NEW(Runtime__V1__LinuxPodSandboxStatus, RUNTIME__V1__LINUX_POD_SANDBOX_STATUS__INIT);
        s->linux->namespaces = PB_NEW(Runtime__V1__Namespace, RUNTIME__V1__NAMESPACE__INIT);
        s->linux->namespaces->options = pod_namespaces(p);
        s->labels = map_entries_new(&runtime__v1__pod_sandbox_status__labels_entry__descriptor, &p->labels,
                                    &s->n_labels);
        s->annotations = map_entries_new(&runtime__v1__pod_sandbox_status__annotations_entry__descriptor,
                                         &p->annotations, &s->n_annotations);
        s->runtime_handler = xstrdup(p->runtime_handler);
        return s;
}

static void add_info(Runtime__V1__PodSandboxStatusResponse *resp, const char *key, char *value) {
        Runtime__V1__PodSandboxStatusResponse__InfoEntry *e =
                PB_NEW(Runtime__V1__PodSandboxStatusResponse__InfoEntry,
                       RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INFO_ENTRY__INIT);
        e->key = xstrdup(key);
        e->value = value;
        PB_APPEND(resp->n_info, resp->info, e);
}

/* The verbose info as CRI-O gives it; paths are escaped as JSON strings, whatever they hold. */
static char *pod_verbose_info(const PodInfo *p) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "netNamespacePath", json_object_new_string(strempty(p->netns_path)));
        json_object_object_add(o, "runtimeHandler", json_object_new_string(strempty(p->runtime_handler)));
        char *text = xstrdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return text;
}

int rpc_pod_sandbox_status(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                           Error **reterr) {
        const Runtime__V1__PodSandboxStatusRequest *r = (const Runtime__V1__PodSandboxStatusRequest *)req;
        _cleanup_pod_info_ PodInfo *p = NULL;
        int q = require_id(r->pod_sandbox_id, "pod_sandbox_id", reterr);
        if (q >= 0)
                q = runtime_pod_info(ctx->daemon->runtime, r->pod_sandbox_id, &p, reterr);
        if (q < 0)
                return q;
        Runtime__V1__PodSandboxStatusResponse *resp = PB_NEW(Runtime__V1__PodSandboxStatusResponse,
                                                             RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT);
        resp->status = pod_status_to_cri(p);
        if (r->verbose)
                add_info(resp, "info", pod_verbose_info(p));
        *ret_resp = &resp->base;
        return 0;
}

static bool pod_matches(const PodInfo *p, const Runtime__V1__PodSandboxFilter *f) {
        if (!f)
                return true;
        if (!isempty(f->id) && strncmp(p->id, f->id, strlen(f->id)) != 0)
                return false;
        if (f->state && (int)f->state->state != (p->state == POD_READY ? 0 : 1))
                return false;
        return labels_match(&p->labels, (void *const *)f->label_selector, f->n_label_selector);
}

static Runtime__V1__PodSandbox *pod_item(const PodInfo *p) {
        Runtime__V1__PodSandbox *s = PB_NEW(Runtime__V1__PodSandbox, RUNTIME__V1__POD_SANDBOX__INIT);
        s->id = xstrdup(p->id);
        s->metadata = pod_metadata_to_cri(p);
        s->state = p->state == POD_READY ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                                         : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
        s->created_at = p->created_ns;
        s->labels = map_entries_new(&runtime__v1__pod_sandbox__labels_entry__descriptor, &p->labels,
                                    &s->n_labels);
        s->annotations = map_entries_new(&runtime__v1__pod_sandbox__annotations_entry__descriptor,
                                         &p->annotations, &s->n_annotations);
        s->runtime_handler = xstrdup(p->runtime_handler);
        return s;
}

int rpc_list_pod_sandbox(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                         Error **reterr) {
        const Runtime__V1__ListPodSandboxRequest *r = (const Runtime__V1__ListPodSandboxRequest *)req;
        Daemon *d = ctx->daemon;
        const Runtime__V1__PodSandboxFilter *f = r->filter;
        bool cacheable = !f || (isempty(f->id) && !f->state && f->n_label_selector == 0);
        uint64_t gen = runtime_lists_generation(d->runtime);
        if (cacheable && list_cache_get(&d->pod_list, gen, &ctx->packed)) {
                return 0;
        }
        PodInfo **pods = NULL;
        size_t n = 0;
        runtime_pod_list(d->runtime, &pods, &n);
        Runtime__V1__ListPodSandboxResponse *resp =
                PB_NEW(Runtime__V1__ListPodSandboxResponse, RUNTIME__V1__LIST_POD_SANDBOX_RESPONSE__INIT);
        for (size_t i = 0; i < n; i++) {
                if (pod_matches(pods[i], r->filter))
                        PB_APPEND(resp->n_items, resp->items, pod_item(pods[i]));
                pod_info_free(pods[i]);
        }
        free(pods);
        if (cacheable) {
                ctx->packed = list_cache_put(&d->pod_list, gen, &resp->base);
                return 0;
        }
        *ret_resp = &resp->base;
        return 0;
}
