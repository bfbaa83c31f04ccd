/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "cri-translate.h"
#include "log.h"
#include "pb-util.h"
#include "rpc-pods.h"
#include "strv.h"

static int require_id(const char *id, const char *field, Error **reterr) {
        if (isempty(id))
                return error_set(reterr, EINVAL, "%s is required", field);
        return 0;
}

int rpc_create_container(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                         Error **reterr) {
        const Runtime__V1__CreateContainerRequest *r = (const Runtime__V1__CreateContainerRequest *)req;
        int q = require_id(r->pod_sandbox_id, "pod_sandbox_id", reterr);
        if (q >= 0 && !r->config)
                q = error_set(reterr, EINVAL, "config is required");
        if (q >= 0 && !r->config->metadata)
                q = error_set(reterr, EINVAL, "config.metadata is required");
        if (q < 0)
                return q;
        char *id = NULL;
        ContainerConfig *config = NULL;
        q = container_config_from_cri(r->config, &config, reterr);
        if (q >= 0)
                q = runtime_container_create(ctx->daemon->runtime, r->pod_sandbox_id, config, &id, reterr);
        if (q < 0)
                return q;
        if (cancel_requested(ctx->cancel))
                runtime_container_unclaimed(ctx->daemon->runtime, id);
        log_info("created container %s (%s) in pod %s", id, r->config->metadata->name, r->pod_sandbox_id);
        Runtime__V1__CreateContainerResponse *resp =
                PB_NEW(Runtime__V1__CreateContainerResponse, RUNTIME__V1__CREATE_CONTAINER_RESPONSE__INIT);
        resp->container_id = id;
        *ret_resp = &resp->base;
        return 0;
}

int rpc_start_container(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                        Error **reterr) {
        const Runtime__V1__StartContainerRequest *r = (const Runtime__V1__StartContainerRequest *)req;
        int q = require_id(r->container_id, "container_id", reterr);
        if (q >= 0)
                q = runtime_container_start(ctx->daemon->runtime, r->container_id, reterr);
        if (q < 0)
                return q;
        *ret_resp = &PB_NEW(Runtime__V1__StartContainerResponse, RUNTIME__V1__START_CONTAINER_RESPONSE__INIT)
                             ->base;
        return 0;
}

int rpc_stop_container(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                       Error **reterr) {
        const Runtime__V1__StopContainerRequest *r = (const Runtime__V1__StopContainerRequest *)req;
        int q = require_id(r->container_id, "container_id", reterr);
        if (q >= 0)
                q = runtime_container_stop(ctx->daemon->runtime, r->container_id, r->timeout, reterr);
        if (q < 0)
                return q;
        *ret_resp = &PB_NEW(Runtime__V1__StopContainerResponse, RUNTIME__V1__STOP_CONTAINER_RESPONSE__INIT)
                             ->base;
        return 0;
}

int rpc_remove_container(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                         Error **reterr) {
        const Runtime__V1__RemoveContainerRequest *r = (const Runtime__V1__RemoveContainerRequest *)req;
        int q = require_id(r->container_id, "container_id", reterr);
        if (q >= 0)
                q = runtime_container_remove(ctx->daemon->runtime, r->container_id, reterr);
        if (q < 0)
                return q;
        *ret_resp =
                &PB_NEW(Runtime__V1__RemoveContainerResponse, RUNTIME__V1__REMOVE_CONTAINER_RESPONSE__INIT)
                         ->base;
        return 0;
}

static Runtime__V1__ContainerState state_to_cri(ContainerState s) {
        return (Runtime__V1__ContainerState)s;
}

static Runtime__V1__ImageSpec *image_spec(const char *image) {
        Runtime__V1__ImageSpec *s = PB_NEW(Runtime__V1__ImageSpec, RUNTIME__V1__IMAGE_SPEC__INIT);
        s->image = xstrdup(image);
        return s;
}

static Runtime__V1__Mount *mount_to_cri(const MountConfig *m) {
        Runtime__V1__Mount *o = PB_NEW(Runtime__V1__Mount, RUNTIME__V1__MOUNT__INIT);
        o->container_path = xstrdup(m->container_path);
        o->host_path = xstrdup(m->host_path);
        o->readonly = m->readonly;
        o->propagation = m->propagation == PROPAGATION_RSLAVE
                                 ? RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER
                         : m->propagation == PROPAGATION_RSHARED
                                 ? RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL
                                 : RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_PRIVATE;
        o->image_sub_path = xstrdup("");
        return o;
}

static Runtime__V1__ContainerUser *user_to_cri(const ContainerInfo *c) {
        Runtime__V1__ContainerUser *u =
                PB_NEW(Runtime__V1__ContainerUser, RUNTIME__V1__CONTAINER_USER__INIT);
        u->linux = PB_NEW(Runtime__V1__LinuxContainerUser, RUNTIME__V1__LINUX_CONTAINER_USER__INIT);
        u->linux->uid = c->uid;
        u->linux->gid = c->gid;
        u->linux->supplemental_groups = xmalloc((c->n_groups + 1) * sizeof(int64_t));
        if (c->n_groups)
                memcpy(u->linux->supplemental_groups, c->groups, c->n_groups * sizeof(int64_t));
        u->linux->n_supplemental_groups = c->n_groups;
        return u;
}

Runtime__V1__ContainerStatus *container_status_to_cri(const ContainerInfo *c) {
        Runtime__V1__ContainerStatus *s =
                PB_NEW(Runtime__V1__ContainerStatus, RUNTIME__V1__CONTAINER_STATUS__INIT);
        s->id = xstrdup(c->id);
        s->metadata = container_metadata_to_cri(c);
        s->state = state_to_cri(c->state);
        s->created_at = c->created_ns;
        s->started_at = c->started_ns;
        s->finished_at = c->finished_ns;
        s->exit_code = c->exit_code;
        s->image = image_spec(c->image);
        s->image_ref = xstrdup(c->image_ref);
        s->image_id = xstrdup(c->image_id);
        s->reason = xstrdup(c->reason);
        s->message = xstrdup(c->message);
        s->labels = map_entries_new(&runtime__v1__container_status__labels_entry__descriptor, &c->labels,
                                    &s->n_labels);
        s->annotations = map_entries_new(&runtime__v1__container_status__annotations_entry__descriptor,
                                         &c->annotations, &s->n_annotations);
        for (size_t i = 0; i < c->n_mounts; i++)
                PB_APPEND(s->n_mounts, s->mounts, mount_to_cri(&c->mounts[i]));
        s->log_path = xstrdup(c->log_path);
        s->resources = PB_NEW(Runtime__V1__ContainerResources, RUNTIME__V1__CONTAINER_RESOURCES__INIT);
        s->resources->linux = resources_to_cri(&c->resources);
        s->user = user_to_cri(c);
        return s;
}

static void add_info(Runtime__V1__ContainerStatusResponse *resp, const char *key, char *value) {
        Runtime__V1__ContainerStatusResponse__InfoEntry *e =
                PB_NEW(Runtime__V1__ContainerStatusResponse__InfoEntry,
                       RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INFO_ENTRY__INIT);
        e->key = xstrdup(key);
        e->value = value;
        PB_APPEND(resp->n_info, resp->info, e);
}

/* CRI-O's verbose "info": the pid, the sandbox and the OCI spec the container runs with. */
static char *verbose_info(Runtime *rt, const ContainerInfo *c) {
        _cleanup_free_ char *spec = NULL;
        _cleanup_error_ Error *err = NULL;
        if (runtime_container_spec(rt, c->id, &spec, &err) < 0)
                spec = xstrdup("{}");
        json_object *o = json_object_new_object();
        json_object_object_add(o, "pid", json_object_new_int(c->pid));
        json_object_object_add(o, "sandboxID", json_object_new_string(c->pod_id));
        json_object *s = json_tokener_parse(spec);
        json_object_object_add(o, "runtimeSpec", s ? s : json_object_new_object());
        char *out = xstrdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return out;
}

int rpc_container_status(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                         Error **reterr) {
        const Runtime__V1__ContainerStatusRequest *r = (const Runtime__V1__ContainerStatusRequest *)req;
        _cleanup_container_info_ ContainerInfo *c = NULL;
        int q = require_id(r->container_id, "container_id", reterr);
        if (q >= 0)
                q = runtime_container_info(ctx->daemon->runtime, r->container_id, &c, reterr);
        if (q < 0)
                return q;
        Runtime__V1__ContainerStatusResponse *resp =
                PB_NEW(Runtime__V1__ContainerStatusResponse, RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT);
        resp->status = container_status_to_cri(c);
        if (r->verbose)
                add_info(resp, "info", verbose_info(ctx->daemon->runtime, c));
        *ret_resp = &resp->base;
        return 0;
}

static bool container_matches(const ContainerInfo *c, const Runtime__V1__ContainerFilter *f) {
        if (!f)
                return true;
        if (!isempty(f->id) && strncmp(c->id, f->id, strlen(f->id)) != 0)
                return false;
        if (!isempty(f->pod_sandbox_id) &&
            strncmp(c->pod_id, f->pod_sandbox_id, strlen(f->pod_sandbox_id)) != 0)
                return false;
        if (f->state && f->state->state != state_to_cri(c->state))
                return false;
        return labels_match(&c->labels, (void *const *)f->label_selector, f->n_label_selector);
}

static Runtime__V1__Container *container_item(const ContainerInfo *c) {
        Runtime__V1__Container *o = PB_NEW(Runtime__V1__Container, RUNTIME__V1__CONTAINER__INIT);
        o->id = xstrdup(c->id);
        o->pod_sandbox_id = xstrdup(c->pod_id);
        o->metadata = container_metadata_to_cri(c);
        o->image = image_spec(c->image);
        o->image_ref = xstrdup(c->image_ref);
        o->image_id = xstrdup(c->image_id);
        o->state = state_to_cri(c->state);
        o->created_at = c->created_ns;
        o->labels =
                map_entries_new(&runtime__v1__container__labels_entry__descriptor, &c->labels, &o->n_labels);
        o->annotations = map_entries_new(&runtime__v1__container__annotations_entry__descriptor,
                                         &c->annotations, &o->n_annotations);
        return o;
}

static bool filter_is_empty(const Runtime__V1__ContainerFilter *f) {
        return !f || (isempty(f->id) && !f->state && isempty(f->pod_sandbox_id) && f->n_label_selector == 0);
}

int rpc_list_containers(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                        Error **reterr) {
        const Runtime__V1__ListContainersRequest *r = (const Runtime__V1__ListContainersRequest *)req;
        Daemon *d = ctx->daemon;
        bool cacheable = filter_is_empty(r->filter);
        uint64_t gen = runtime_lists_generation(d->runtime);
        if (cacheable && list_cache_get(&d->container_list, gen, &ctx->packed)) {
                return 0;
        }
        ContainerInfo **l = NULL;
        size_t n = 0;
        runtime_container_list(d->runtime, &l, &n);
        Runtime__V1__ListContainersResponse *resp =
                PB_NEW(Runtime__V1__ListContainersResponse, RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT);
        for (size_t i = 0; i < n; i++) {
                if (container_matches(l[i], r->filter))
                        PB_APPEND(resp->n_containers, resp->containers, container_item(l[i]));
                container_info_free(l[i]);
        }
        free(l);
        if (cacheable) {
                ctx->packed = list_cache_put(&d->container_list, gen, &resp->base);
                return 0;
        }
        *ret_resp = &resp->base;
        return 0;
}

int rpc_update_container_resources(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                                   Error **reterr) {
        const Runtime__V1__UpdateContainerResourcesRequest *r =
                (const Runtime__V1__UpdateContainerResourcesRequest *)req;
        int q = require_id(r->container_id, "container_id", reterr);
        if (q >= 0 && !r->linux)
                q = error_set(reterr, EINVAL, "linux resources are required");
        if (q < 0)
                return q;
        Resources res = {};
        resources_from_cri(r->linux, &res);
        q = runtime_container_update(ctx->daemon->runtime, r->container_id, &res, reterr);
        resources_done(&res);
        if (q < 0)
                return q;
        *ret_resp = &PB_NEW(Runtime__V1__UpdateContainerResourcesResponse,
                            RUNTIME__V1__UPDATE_CONTAINER_RESOURCES_RESPONSE__INIT)
                             ->base;
        return 0;
}

int rpc_reopen_container_log(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                             Error **reterr) {
        const Runtime__V1__ReopenContainerLogRequest *r =
                (const Runtime__V1__ReopenContainerLogRequest *)req;
        int q = require_id(r->container_id, "container_id", reterr);
        if (q >= 0)
                q = runtime_container_reopen_log(ctx->daemon->runtime, r->container_id, reterr);
        if (q < 0)
                return q;
        *ret_resp = &PB_NEW(Runtime__V1__ReopenContainerLogResponse,
                            RUNTIME__V1__REOPEN_CONTAINER_LOG_RESPONSE__INIT)
                             ->base;
        return 0;
}

int rpc_exec_sync(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                  Error **reterr) {
        const Runtime__V1__ExecSyncRequest *r = (const Runtime__V1__ExecSyncRequest *)req;
        int q = require_id(r->container_id, "container_id", reterr);
        if (q < 0)
                return q;
        if (r->timeout < 0)
                return error_set(reterr, EINVAL, "timeout must not be negative");
        _cleanup_strv_free_ char **argv = NULL;
        for (size_t i = 0; i < r->n_cmd; i++)
                argv = strv_push(argv, xstrdup(r->cmd[i]));
        ExecResult res = {};
        q = runtime_container_exec_sync(ctx->daemon->runtime, r->container_id, argv, r->timeout, &res,
                                        reterr);
        if (q < 0)
                return q;
        Runtime__V1__ExecSyncResponse *resp =
                PB_NEW(Runtime__V1__ExecSyncResponse, RUNTIME__V1__EXEC_SYNC_RESPONSE__INIT);
        resp->stdout = (ProtobufCBinaryData){.len = res.out_len, .data = (uint8_t *)TAKE_PTR(res.out)};
        resp->stderr = (ProtobufCBinaryData){.len = res.err_len, .data = (uint8_t *)TAKE_PTR(res.err)};
        resp->exit_code = res.exit_code;
        *ret_resp = &resp->base;
        return 0;
}
