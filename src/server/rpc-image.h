/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "rpc-table.h"

/* ImageService RPCs. All block on the store; PullImage for the whole transfer. */
int rpc_pull_image(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                   Error **reterr);
int rpc_image_status(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                     Error **reterr);
int rpc_list_images(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                    Error **reterr);
int rpc_remove_image(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                     Error **reterr);
int rpc_image_fs_info(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                      Error **reterr);
