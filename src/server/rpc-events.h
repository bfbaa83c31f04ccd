/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "rpc-table.h"

/*
 * GetContainerEvents (evented PLEG, enable_pod_events): every subscriber gets every lifecycle event
 * from the moment it subscribed, each with the pod's status and its containers' statuses. A slow
 * subscriber loses events (its stream's queue is bounded), counted in
 * container_runtime_crio_containers_events_dropped_total; it never slows the runtime.
 */
typedef struct EventHub EventHub;

/* Becomes the runtime's event sink when enable_pod_events is on. */
EventHub *event_hub_new(Daemon *d);
/* After the runtime is freed (its events thread calls into the hub). */
EventHub *event_hub_free(EventHub *h);

int rpc_get_container_events(RpcContext *ctx, const ProtobufCMessage *req, RpcStream *stream,
                             Error **reterr);
