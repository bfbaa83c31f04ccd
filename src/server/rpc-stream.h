/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "daemon.h"
#include "rpc-table.h"

/* Exec, Attach and PortForward: validate, then answer with a URL on the streaming server (src/stream/). */
int rpc_exec(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp, Error **reterr);
int rpc_attach(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp, Error **reterr);
int rpc_port_forward(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                     Error **reterr);

/* Start the daemon's streaming server from its config, wired to its runtime. */
int stream_start(Daemon *d, Error **reterr);
