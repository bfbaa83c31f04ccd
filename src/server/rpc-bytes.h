/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/*
 * A packed message shared by reference: a cached list answers many calls with the same bytes, and a
 * stream event goes to every subscriber, without a copy each. Immutable once built.
 */
typedef struct RpcBytes {
        atomic_int refs;
        size_t len;
        uint8_t data[];
} RpcBytes;

RpcBytes *rpc_bytes_new(size_t len);
RpcBytes *rpc_bytes_copy(const uint8_t *data, size_t len);
/* `msg` packed (not freed). */
RpcBytes *rpc_bytes_pack(const ProtobufCMessage *msg);
RpcBytes *rpc_bytes_ref(RpcBytes *b);
void rpc_bytes_unref(RpcBytes *b);
