/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "cancel.h"
#include "daemon.h"
#include "error.h"
#include "rpc-bytes.h"

/* A unary call whose handler answers later, from another thread (see RPC_DEFERRED). */
typedef struct RpcDeferred RpcDeferred;

typedef struct RpcContext {
        Daemon *daemon;
        const char *method;    /* short name, "Version" */
        const Cancel *cancel;  /* set when the client goes away; carries the call's deadline */
        RpcDeferred *deferred; /* unary calls on a worker pool: the call, to answer later */
        /*
         * A handler may answer with bytes packed earlier (a cached list, see list-cache.h): it sets
         * `packed` to a reference of its own and leaves *ret_resp unset.
         */
        RpcBytes *packed;
} RpcContext;

/*
 * A handler returns RPC_DEFERRED when it will answer later: it then calls rpc_deferred_finish() on
 * ctx->deferred exactly once, from any thread (possibly before it returns), and touches neither after.
 * ctx->cancel stays valid until then.
 */
#define RPC_DEFERRED 0x44454652 /* "DEFR": no handler returns it by chance */

/* Answer a deferred call with `resp` (owned, packed and freed) when r >= 0, or `err` (owned). */
void rpc_deferred_finish(RpcDeferred *d, int r, ProtobufCMessage *resp, Error *err);

/*
 * An RPC handler: reads `req` (already unpacked and of the method's input type), builds a response
 * whose strings and submessages are all heap-allocated (it is released with
 * protobuf_c_message_free_unpacked) and returns 0, or returns -errno with reterr set. May block:
 * handlers run on the worker pool.
 */
typedef int (*RpcHandler)(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                          Error **reterr);

/*
 * A server-streaming call. The handler that opens it keeps a reference and sends packed messages
 * whenever it likes, from any thread; the server keeps one send in flight and a bounded queue
 * behind it, and tells the handler when the client leaves (or the server shuts down).
 */
typedef struct RpcStream RpcStream;

/*
 * A server-streaming handler: runs on the connection thread and must not block. To keep the
 * stream open it takes a reference (rpc_stream_ref) and sets an on-close callback; returning -errno
 * ends the call with that status (it must then not keep the stream).
 */
typedef int (*RpcStreamHandler)(RpcContext *ctx, const ProtobufCMessage *req, RpcStream *stream,
                                Error **reterr);

RpcStream *rpc_stream_ref(RpcStream *s);
void rpc_stream_unref(RpcStream *s);
/*
 * Queue one packed message (copied). Never blocks. false when it was dropped: the stream is closed or
 * its queue is full because the client does not read.
 */
bool rpc_stream_send(RpcStream *s, const uint8_t *data, size_t len);
/* After the messages queued so far, end the call with status OK; later sends are dropped. */
void rpc_stream_finish(RpcStream *s);
/* `fn(userdata)` runs once, on the connection thread, when the stream closes. */
void rpc_stream_on_close(RpcStream *s, void (*fn)(void *userdata), void *userdata);

typedef struct RpcMethod {
        char *path;       /* "/runtime.v1.RuntimeService/Version" */
        const char *name; /* "Version" */
        const ProtobufCMessageDescriptor *input;
        const ProtobufCMessageDescriptor *output;
        RpcHandler handler;              /* NULL: the RPC is part of CRI but not built yet */
        RpcStreamHandler stream_handler; /* server-streaming methods (protobuf-c does not mark them) */
        /*
         * Never blocks (no I/O, short locks only) and answers before it returns (no RPC_DEFERRED): runs
         * on the gRPC connection thread, and its call learns of no cancel (it is answered at once).
         */
        bool inline_ok;
        bool long_running; /* may take minutes (pulls): runs on its own pool so others are not starved */
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
