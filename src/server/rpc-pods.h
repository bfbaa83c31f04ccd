/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "api.pb-c.h"
#include "rpc-table.h"
#include "runtime.h"

/* Pod sandbox RPCs. Run/Stop/Remove block on the OCI runtime; Status and List only read memory. */
int rpc_run_pod_sandbox(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                        Error **reterr);
int rpc_stop_pod_sandbox(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                         Error **reterr);
int rpc_remove_pod_sandbox(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                           Error **reterr);
int rpc_pod_sandbox_status(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                           Error **reterr);
int rpc_list_pod_sandbox(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                         Error **reterr);

/* Status messages (heap-allocated), shared with the events stream. */
Runtime__V1__PodSandboxStatus *pod_status_to_cri(const PodInfo *p);
Runtime__V1__ContainerStatus *container_status_to_cri(const ContainerInfo *c);

/* Container RPCs. */
int rpc_create_container(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                         Error **reterr);
int rpc_start_container(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                        Error **reterr);
int rpc_stop_container(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                       Error **reterr);
int rpc_remove_container(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                         Error **reterr);
int rpc_container_status(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                         Error **reterr);
int rpc_list_containers(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                        Error **reterr);
int rpc_update_container_resources(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                                   Error **reterr);
int rpc_reopen_container_log(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                             Error **reterr);
/* Stats RPCs (rpc-stats.c): read cgroup files and, at most once per refresh period, walk layers. */
int rpc_container_stats(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                        Error **reterr);
int rpc_list_container_stats(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                             Error **reterr);
int rpc_pod_sandbox_stats(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                          Error **reterr);
int rpc_list_pod_sandbox_stats(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                               Error **reterr);
/* cAdvisor-named metrics from the same samples (pod-metrics.c). */
int rpc_list_metric_descriptors(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                                Error **reterr);
int rpc_list_pod_sandbox_metrics(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                                 Error **reterr);
/* The same lists as server streams (rpc-stream-lists.c); the work runs on the worker pool. */
int rpc_stream_container_stats(RpcContext *ctx, const ProtobufCMessage *req, RpcStream *stream,
                               Error **reterr);
int rpc_stream_pod_sandbox_stats(RpcContext *ctx, const ProtobufCMessage *req, RpcStream *stream,
                                 Error **reterr);
int rpc_stream_pod_sandbox_metrics(RpcContext *ctx, const ProtobufCMessage *req, RpcStream *stream,
                                   Error **reterr);
int rpc_exec_sync(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp, Error **reterr);
