/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>

#include "pb-util.h"
#include "rpc-pods.h"
#include "worker-pool.h"

/*
 * StreamContainerStats, StreamPodSandboxStats, StreamPodSandboxMetrics (CRIListStreaming): the list
 * the unary RPC answers, sent as a stream of batches and ended with OK. The work (reading cgroup
 * files) runs on the worker pool, never on the gRPC connection thread.
 */

/* Items per streamed message: the stream's queue (1000 messages) then holds 100000 items. */
#define BATCH 100

typedef enum ListKind { LIST_CONTAINER_STATS, LIST_POD_STATS, LIST_POD_METRICS } ListKind;

typedef struct ListJob {
        Daemon *daemon;
        RpcStream *stream; /* referenced; it also keeps the request alive */
        const ProtobufCMessage *req;
        ListKind kind;
} ListJob;

/* Every Stream*Response here is one repeated message field: the generated structs all look like this. */
typedef struct RepeatedMessage {
        ProtobufCMessage base;
        size_t n;
        void **items;
} RepeatedMessage;

#define SAME_LAYOUT(type, field)                                                                            \
        _Static_assert(sizeof(type) == sizeof(RepeatedMessage) &&                                           \
                               offsetof(type, n_##field) == offsetof(RepeatedMessage, n) &&                 \
                               offsetof(type, field) == offsetof(RepeatedMessage, items),                   \
                       #type " is not one repeated field")
SAME_LAYOUT(Runtime__V1__StreamContainerStatsResponse, container_stats);
SAME_LAYOUT(Runtime__V1__StreamPodSandboxStatsResponse, pod_sandbox_stats);
SAME_LAYOUT(Runtime__V1__StreamPodSandboxMetricsResponse, pod_sandbox_metrics);

/* Send items[0..n) in batches as messages of `desc`, a RepeatedMessage type. */
static void send_batches(RpcStream *st, const ProtobufCMessageDescriptor *desc, void **items, size_t n) {
        for (size_t i = 0; i < n; i += BATCH) {
                RepeatedMessage m;
                protobuf_c_message_init(desc, &m);
                m.n = n - i < BATCH ? n - i : BATCH;
                m.items = items + i;
                size_t len = protobuf_c_message_get_packed_size(&m.base);
                _cleanup_free_ uint8_t *buf = xmalloc(len + 1);
                protobuf_c_message_pack(&m.base, buf);
                if (!rpc_stream_send(st, buf, len))
                        return; /* the client left */
        }
}

static void run_list(void *userdata) {
        ListJob *j = userdata;
        RpcContext ctx = {.daemon = j->daemon, .method = "stream"};
        ProtobufCMessage *resp = NULL;
        _cleanup_error_ Error *err = NULL;
        if (j->kind == LIST_CONTAINER_STATS) {
                const Runtime__V1__StreamContainerStatsRequest *r = (const void *)j->req;
                Runtime__V1__ListContainerStatsRequest lr = RUNTIME__V1__LIST_CONTAINER_STATS_REQUEST__INIT;
                lr.filter = r->filter;
                if (rpc_list_container_stats(&ctx, &lr.base, &resp, &err) >= 0) {
                        Runtime__V1__ListContainerStatsResponse *l = (void *)resp;
                        send_batches(j->stream, &runtime__v1__stream_container_stats_response__descriptor,
                                     (void **)l->stats, l->n_stats);
                }
        } else if (j->kind == LIST_POD_STATS) {
                const Runtime__V1__StreamPodSandboxStatsRequest *r = (const void *)j->req;
                Runtime__V1__ListPodSandboxStatsRequest lr =
                        RUNTIME__V1__LIST_POD_SANDBOX_STATS_REQUEST__INIT;
                lr.filter = r->filter;
                if (rpc_list_pod_sandbox_stats(&ctx, &lr.base, &resp, &err) >= 0) {
                        Runtime__V1__ListPodSandboxStatsResponse *l = (void *)resp;
                        send_batches(j->stream, &runtime__v1__stream_pod_sandbox_stats_response__descriptor,
                                     (void **)l->stats, l->n_stats);
                }
        } else {
                Runtime__V1__ListPodSandboxMetricsRequest lr =
                        RUNTIME__V1__LIST_POD_SANDBOX_METRICS_REQUEST__INIT;
                if (rpc_list_pod_sandbox_metrics(&ctx, &lr.base, &resp, &err) >= 0) {
                        Runtime__V1__ListPodSandboxMetricsResponse *l = (void *)resp;
                        send_batches(j->stream,
                                     &runtime__v1__stream_pod_sandbox_metrics_response__descriptor,
                                     (void **)l->pod_metrics, l->n_pod_metrics);
                }
        }
        if (resp)
                protobuf_c_message_free_unpacked(resp, NULL);
        rpc_stream_finish(j->stream);
        rpc_stream_unref(j->stream);
        free(j);
}

static int submit(RpcContext *ctx, const ProtobufCMessage *req, RpcStream *stream, ListKind kind,
                  Error **reterr) {
        ListJob *j = xmalloc(sizeof(*j));
        *j = (ListJob){.daemon = ctx->daemon, .stream = rpc_stream_ref(stream), .req = req, .kind = kind};
        if (worker_pool_submit(ctx->daemon->workers, run_list, j) < 0) {
                rpc_stream_unref(j->stream);
                free(j);
                return error_set(reterr, ESHUTDOWN, "the daemon is shutting down");
        }
        return 0;
}

int rpc_stream_container_stats(RpcContext *ctx, const ProtobufCMessage *req, RpcStream *stream,
                               Error **reterr) {
        return submit(ctx, req, stream, LIST_CONTAINER_STATS, reterr);
}

int rpc_stream_pod_sandbox_stats(RpcContext *ctx, const ProtobufCMessage *req, RpcStream *stream,
                                 Error **reterr) {
        return submit(ctx, req, stream, LIST_POD_STATS, reterr);
}

int rpc_stream_pod_sandbox_metrics(RpcContext *ctx, const ProtobufCMessage *req, RpcStream *stream,
                                   Error **reterr) {
        return submit(ctx, req, stream, LIST_POD_METRICS, reterr);
}
