/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "log.h"
#include "pb-util.h"
#include "rpc-runtime.h"
#include "runtime.h"
#include "version.h"

/* The CRI "version" field predates runtime_api_version; kubelets still expect "0.1.0" there. */
#define CRI_LEGACY_VERSION "0.1.0"

int rpc_version(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp, Error **reterr) {
        Runtime__V1__VersionResponse *resp =
                PB_NEW(Runtime__V1__VersionResponse, RUNTIME__V1__VERSION_RESPONSE__INIT);
        resp->version = xstrdup(CRI_LEGACY_VERSION);
        resp->runtime_name = xstrdup("crio-c");
        resp->runtime_version = xstrdup(CRIO_VERSION);
        resp->runtime_api_version = xstrdup("v1");
        *ret_resp = &resp->base;
        return 0;
}

static Runtime__V1__RuntimeCondition *condition_new(const char *type, bool status, const char *reason,
                                                    const char *message) {
        Runtime__V1__RuntimeCondition *c =
                PB_NEW(Runtime__V1__RuntimeCondition, RUNTIME__V1__RUNTIME_CONDITION__INIT);
        c->type = xstrdup(type);
        c->status = status;
        c->reason = xstrdup(reason);
        c->message = xstrdup(message);
        return c;
}

static Runtime__V1__RuntimeHandler *handler_new(const char *name) {
        Runtime__V1__RuntimeHandler *h =
                PB_NEW(Runtime__V1__RuntimeHandler, RUNTIME__V1__RUNTIME_HANDLER__INIT);
        h->name = xstrdup(name);
        h->features =
                PB_NEW(Runtime__V1__RuntimeHandlerFeatures, RUNTIME__V1__RUNTIME_HANDLER_FEATURES__INIT);
        return h;
}

/* Each configured handler by name, then the default one again with an empty name, as the CRI asks. */
static void add_handlers(Daemon *d, Runtime__V1__StatusResponse *resp) {
        pthread_rwlock_rdlock(&d->config_lock);
        const Config *c = d->config;
        for (size_t i = 0; i < c->n_runtimes; i++)
                PB_APPEND(resp->n_runtime_handlers, resp->runtime_handlers,
                          handler_new(c->runtimes[i]->name));
        pthread_rwlock_unlock(&d->config_lock);
        PB_APPEND(resp->n_runtime_handlers, resp->runtime_handlers, handler_new(""));
}

static void add_info(Runtime__V1__StatusResponse *resp, const char *key, char *value) {
        Runtime__V1__StatusResponse__InfoEntry *e = PB_NEW(Runtime__V1__StatusResponse__InfoEntry,
                                                           RUNTIME__V1__STATUS_RESPONSE__INFO_ENTRY__INIT);
        e->key = xstrdup(key);
        e->value = value;
        PB_APPEND(resp->n_info, resp->info, e);
}

int rpc_status(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp, Error **reterr) {
        const Runtime__V1__StatusRequest *r = (const Runtime__V1__StatusRequest *)req;
        Runtime__V1__StatusResponse *resp =
                PB_NEW(Runtime__V1__StatusResponse, RUNTIME__V1__STATUS_RESPONSE__INIT);
        Runtime__V1__RuntimeStatus *st =
                PB_NEW(Runtime__V1__RuntimeStatus, RUNTIME__V1__RUNTIME_STATUS__INIT);

        PB_APPEND(st->n_conditions, st->conditions, condition_new("RuntimeReady", true, "", ""));
        _cleanup_free_ char *why = NULL;
        bool net_ready = runtime_network_ready(ctx->daemon->runtime, &why);
        PB_APPEND(st->n_conditions, st->conditions,
                  condition_new("NetworkReady", net_ready, net_ready ? "" : "NetworkPluginNotReady",
                                net_ready ? "" : why));
        resp->status = st;
        add_handlers(ctx->daemon, resp);
        resp->features = PB_NEW(Runtime__V1__RuntimeFeatures, RUNTIME__V1__RUNTIME_FEATURES__INIT);
        if (r->verbose)
                add_info(resp, "config", daemon_config_json(ctx->daemon));
        *ret_resp = &resp->base;
        return 0;
}

int rpc_runtime_config(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                       Error **reterr) {
        Daemon *d = ctx->daemon;
        Runtime__V1__RuntimeConfigResponse *resp =
                PB_NEW(Runtime__V1__RuntimeConfigResponse, RUNTIME__V1__RUNTIME_CONFIG_RESPONSE__INIT);
        resp->linux = PB_NEW(Runtime__V1__LinuxRuntimeConfiguration,
                             RUNTIME__V1__LINUX_RUNTIME_CONFIGURATION__INIT);

        pthread_rwlock_rdlock(&d->config_lock);
        bool systemd = strcmp(d->config->cgroup_manager, "systemd") == 0;
        pthread_rwlock_unlock(&d->config_lock);
        resp->linux->cgroup_driver =
                systemd ? RUNTIME__V1__CGROUP_DRIVER__SYSTEMD : RUNTIME__V1__CGROUP_DRIVER__CGROUPFS;
        *ret_resp = &resp->base;
        return 0;
}

int rpc_update_runtime_config(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                              Error **reterr) {
        const Runtime__V1__UpdateRuntimeConfigRequest *r =
                (const Runtime__V1__UpdateRuntimeConfigRequest *)req;
        Daemon *d = ctx->daemon;
        const char *cidr = "";

        if (r->runtime_config && r->runtime_config->network_config)
                cidr = r->runtime_config->network_config->pod_cidr;
        /* Handed to CNI plugins that take ipRanges (host-local), as the node's pod range. */
        int ret = 0;
        pthread_mutex_lock(&d->state_lock);
        if (!streq_ptr(d->pod_cidr, cidr)) {
                ret = runtime_set_pod_cidr(d->runtime, cidr, reterr);
                if (ret >= 0) {
                        log_info("UpdateRuntimeConfig: pod CIDR is now '%s'", cidr);
                        free(d->pod_cidr);
                        d->pod_cidr = xstrdup(cidr);
                }
        }
        pthread_mutex_unlock(&d->state_lock);
        if (ret < 0)
                return ret;
        *ret_resp = &PB_NEW(Runtime__V1__UpdateRuntimeConfigResponse,
                            RUNTIME__V1__UPDATE_RUNTIME_CONFIG_RESPONSE__INIT)
                             ->base;
        return 0;
}
