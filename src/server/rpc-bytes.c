/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "macros.h"
#include "rpc-bytes.h"

RpcBytes *rpc_bytes_new(size_t len) {
        RpcBytes *b = xmalloc(sizeof(*b) + (len ? len : 1));
        atomic_init(&b->refs, 1);
        b->len = len;
        return b;
}

RpcBytes *rpc_bytes_copy(const uint8_t *data, size_t len) {
        RpcBytes *b = rpc_bytes_new(len);
        if (len)
                memcpy(b->data, data, len);
        return b;
}

RpcBytes *rpc_bytes_pack(const ProtobufCMessage *msg) {
        RpcBytes *b = rpc_bytes_new(protobuf_c_message_get_packed_size(msg));
        protobuf_c_message_pack(msg, b->data);
        return b;
}

RpcBytes *rpc_bytes_ref(RpcBytes *b) {
        atomic_fetch_add(&b->refs, 1);
        return b;
}

void rpc_bytes_unref(RpcBytes *b) {
        if (b && atomic_fetch_sub(&b->refs, 1) == 1)
                free(b);
}
