/* SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "list-cache.h"
#include "macros.h"

void list_cache_init(ListCache *lc) {
        *lc = (ListCache){};
        pthread_mutex_init(&lc->lock, NULL);
}

void list_cache_done(ListCache *lc) {
        if (lc->valid)
                grpc_slice_unref(lc->bytes);
        lc->valid = false;
        pthread_mutex_destroy(&lc->lock);
}

bool list_cache_get(ListCache *lc, uint64_t gen, grpc_slice *ret) {
        pthread_mutex_lock(&lc->lock);
        bool hit = lc->valid && lc->gen == gen;
        if (hit)
                *ret = grpc_slice_ref(lc->bytes);
        pthread_mutex_unlock(&lc->lock);
        return hit;
}

grpc_slice list_cache_put(ListCache *lc, uint64_t gen, ProtobufCMessage *resp) {
        size_t len = protobuf_c_message_get_packed_size(resp);
        uint8_t *buf = xmalloc(len ? len : 1);
        protobuf_c_message_pack(resp, buf);
        protobuf_c_message_free_unpacked(resp, NULL);
        grpc_slice s = grpc_slice_new(buf, len, free);
        pthread_mutex_lock(&lc->lock);
        /* An older generation's bytes never replace newer ones built meanwhile by another call. */
        if (!lc->valid || gen >= lc->gen) {
                if (lc->valid)
                        grpc_slice_unref(lc->bytes);
                lc->bytes = grpc_slice_ref(s);
                lc->gen = gen;
                lc->valid = true;
        }
        pthread_mutex_unlock(&lc->lock);
        return s;
}
