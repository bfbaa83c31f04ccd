/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "api.pb-c.h"
#include "rpc-runtime.h"
#include "rpc-table.h"

/* The handlers built so far; every other CRI method answers UNIMPLEMENTED. */
static const struct {
        const char *service;
        const char *method;
        RpcHandler handler;
} handlers[] = {
        {"RuntimeService", "Version", rpc_version},
        {"RuntimeService", "Status", rpc_status},
        {"RuntimeService", "RuntimeConfig", rpc_runtime_config},
        {"RuntimeService", "UpdateRuntimeConfig", rpc_update_runtime_config},
};

static RpcHandler find_handler(const char *service, const char *method) {
        for (size_t i = 0; i < ELEMENTSOF(handlers); i++)
                if (strcmp(handlers[i].service, service) == 0 && strcmp(handlers[i].method, method) == 0)
                        return handlers[i].handler;
        return NULL;
}

static void add_service(RpcTable *t, const ProtobufCServiceDescriptor *svc) {
        t->methods = xrealloc(t->methods, (t->n + svc->n_methods) * sizeof(RpcMethod));
        for (unsigned i = 0; i < svc->n_methods; i++) {
                const ProtobufCMethodDescriptor *m = &svc->methods[i];
                t->methods[t->n++] = (RpcMethod){
                        .path = xasprintf("/%s/%s", svc->name, m->name),
                        .name = m->name,
                        .input = m->input,
                        .output = m->output,
                        .handler = find_handler(svc->short_name, m->name),
                };
        }
}

RpcTable *rpc_table_new(void) {
        RpcTable *t = xcalloc(1, sizeof(*t));
        add_service(t, &runtime__v1__runtime_service__descriptor);
        add_service(t, &runtime__v1__image_service__descriptor);
        return t;
}

RpcTable *rpc_table_free(RpcTable *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n; i++)
                free(t->methods[i].path);
        free(t->methods);
        free(t);
        return NULL;
}

const RpcMethod *rpc_table_lookup(const RpcTable *t, const char *path, size_t len) {
        for (size_t i = 0; i < t->n; i++)
                if (strlen(t->methods[i].path) == len && memcmp(t->methods[i].path, path, len) == 0)
                        return &t->methods[i];
        return NULL;
}
