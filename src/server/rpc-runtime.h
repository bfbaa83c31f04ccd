/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "rpc-table.h"

/* RuntimeService RPCs about the runtime itself (not pods or containers). */
int rpc_version(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp, Error **reterr);
int rpc_status(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp, Error **reterr);
int rpc_runtime_config(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                       Error **reterr);
int rpc_update_runtime_config(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                              Error **reterr);
