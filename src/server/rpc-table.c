/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "api.pb-c.h"
#include "rpc-events.h"
#include "rpc-image.h"
#include "rpc-pods.h"
#include "rpc-runtime.h"
#include "rpc-stream.h"
#include "rpc-table.h"

/*
 * The handlers built so far; every other CRI method answers UNIMPLEMENTED. Handlers marked inline
 * only read memory under short locks (pods and containers from the runtime's objects, images from the
 * store's in-memory index; only their verbose forms read one small file): running them on the
 * gRPC connection thread saves a thread hop (about a fifth of a Version round trip, measured with `make
 * bench`). Anything that may block must not be marked. Long-running handlers get a pool of their own, so
 * that a burst of pulls cannot keep ImageStatus or ListImages waiting, nor a kubelet's pod starts, which it
 * runs while it pulls.
 */
static const struct {
        const char *service;
        const char *method;
        RpcHandler handler;
        bool inline_ok;
        bool long_running;
} handlers[] = {
        {"RuntimeService", "Version", rpc_version, true, false},
        {"RuntimeService", "Status", rpc_status, true, false},
        {"RuntimeService", "RuntimeConfig", rpc_runtime_config, true, false},
        {"RuntimeService", "UpdateRuntimeConfig", rpc_update_runtime_config, true, false},
        {"RuntimeService", "RunPodSandbox", rpc_run_pod_sandbox, false, false},
        {"RuntimeService", "StopPodSandbox", rpc_stop_pod_sandbox, false, false},
        {"RuntimeService", "RemovePodSandbox", rpc_remove_pod_sandbox, false, false},
        {"RuntimeService", "PodSandboxStatus", rpc_pod_sandbox_status, true, false},
        {"RuntimeService", "ListPodSandbox", rpc_list_pod_sandbox, true, false},
        {"RuntimeService", "CreateContainer", rpc_create_container, false, false},
        {"RuntimeService", "StartContainer", rpc_start_container, false, false},
        {"RuntimeService", "StopContainer", rpc_stop_container, false, false},
        {"RuntimeService", "RemoveContainer", rpc_remove_container, false, false},
        {"RuntimeService", "ContainerStatus", rpc_container_status, true, false},
        {"RuntimeService", "ListContainers", rpc_list_containers, true, false},
        {"RuntimeService", "UpdateContainerResources", rpc_update_container_resources, false, false},
        {"RuntimeService", "ReopenContainerLog", rpc_reopen_container_log, false, false},
        {"RuntimeService", "ExecSync", rpc_exec_sync, false, false},
        {"RuntimeService", "Exec", rpc_exec, false, false},
        {"RuntimeService", "Attach", rpc_attach, false, false},
        {"RuntimeService", "PortForward", rpc_port_forward, false, false},
        {"RuntimeService", "ContainerStats", rpc_container_stats, false, false},
        {"RuntimeService", "ListContainerStats", rpc_list_container_stats, false, false},
        {"RuntimeService", "PodSandboxStats", rpc_pod_sandbox_stats, false, false},
        {"RuntimeService", "ListPodSandboxStats", rpc_list_pod_sandbox_stats, false, false},
        {"RuntimeService", "ListMetricDescriptors", rpc_list_metric_descriptors, true, false},
        {"RuntimeService", "ListPodSandboxMetrics", rpc_list_pod_sandbox_metrics, false, false},
        {"ImageService", "PullImage", rpc_pull_image, false, true},
        {"ImageService", "ImageStatus", rpc_image_status, true, false},
        {"ImageService", "ListImages", rpc_list_images, true, false},
        {"ImageService", "RemoveImage", rpc_remove_image, false, false},
        {"ImageService", "ImageFsInfo", rpc_image_fs_info, false, false},
};

/* Server-streaming methods: their handlers open a stream instead of answering once. */
static const struct {
        const char *service;
        const char *method;
        RpcStreamHandler handler;
} stream_handlers[] = {
        {"RuntimeService", "GetContainerEvents", rpc_get_container_events},
        {"RuntimeService", "StreamContainerStats", rpc_stream_container_stats},
        {"RuntimeService", "StreamPodSandboxStats", rpc_stream_pod_sandbox_stats},
        {"RuntimeService", "StreamPodSandboxMetrics", rpc_stream_pod_sandbox_metrics},
};

static void find_handler(const char *service, RpcMethod *m) {
        for (size_t i = 0; i < ELEMENTSOF(stream_handlers); i++)
                if (strcmp(stream_handlers[i].service, service) == 0 &&
                    strcmp(stream_handlers[i].method, m->name) == 0)
                        m->stream_handler = stream_handlers[i].handler;
        for (size_t i = 0; i < ELEMENTSOF(handlers); i++)
                if (strcmp(handlers[i].service, service) == 0 && strcmp(handlers[i].method, m->name) == 0) {
                        m->handler = handlers[i].handler;
                        m->inline_ok = handlers[i].inline_ok;
                        m->long_running = handlers[i].long_running;
                }
}

static void add_service(RpcTable *t, const ProtobufCServiceDescriptor *svc) {
        t->methods = xrealloc(t->methods, (t->n + svc->n_methods) * sizeof(RpcMethod));
        for (unsigned i = 0; i < svc->n_methods; i++) {
                const ProtobufCMethodDescriptor *m = &svc->methods[i];
                RpcMethod *rm = &t->methods[t->n++];
                *rm = (RpcMethod){
                        .path = xasprintf("/%s/%s", svc->name, m->name),
                        .name = m->name,
                        .input = m->input,
                        .output = m->output,
                };
                find_handler(svc->short_name, rm);
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
