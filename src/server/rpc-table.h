/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "cancel.h"
#include "daemon.h"
#include "error.h"

typedef struct RpcContext {
        Daemon *daemon;
        const char *method;   /* short name, "Version" */
        const Cancel *cancel; /* set when the client goes away; carries the call's deadline */
} RpcContext;

/*
 * An RPC handler: reads `req` (already unpacked and of the method's input type), builds a response
 * whose strings and submessages are all heap-allocated (it is released with
 * protobuf_c_message_free_unpacked) and returns 0, or returns -errno with reterr set. May block:
 * handlers run on the worker pool.
 */
typedef int (*RpcHandler)(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                          Error **reterr);

typedef struct RpcMethod {
        char *path;       /* "/runtime.v1.RuntimeService/Version" */
        const char *name; /* "Version" */
        const ProtobufCMessageDescriptor *input;
        const ProtobufCMessageDescriptor *output;
        RpcHandler handler; /* NULL: the RPC is part of CRI but not built yet */
        bool inline_ok;     /* never blocks (no I/O, short locks only): may run on the completion thread */
        bool long_running;  /* may take minutes (pulls): runs on its own pool so others are not starved */
} RpcMethod;

struct RpcTable {
        RpcMethod *methods;
        size_t n;
};

/* Every RPC of RuntimeService and ImageService, from the generated service descriptors. */
RpcTable *rpc_table_new(void);
RpcTable *rpc_table_free(RpcTable *t);

/* Find a method by its full path (not NUL-terminated). NULL for unknown methods. */
const RpcMethod *rpc_table_lookup(const RpcTable *t, const char *path, size_t len);
