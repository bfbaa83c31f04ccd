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
                rpc_bytes_unref(lc->bytes);
        lc->valid = false;
        pthread_mutex_destroy(&lc->lock);
}

bool list_cache_get(ListCache *lc, uint64_t gen, RpcBytes **ret) {
        pthread_mutex_lock(&lc->lock);
        bool hit = lc->valid && lc->gen == gen;
        if (hit)
                *ret = rpc_bytes_ref(lc->bytes);
        pthread_mutex_unlock(&lc->lock);
        return hit;
}

RpcBytes *list_cache_put(ListCache *lc, uint64_t gen, ProtobufCMessage *resp) {
        RpcBytes *s = rpc_bytes_pack(resp);
        protobuf_c_message_free_unpacked(resp, NULL);
        pthread_mutex_lock(&lc->lock);
        /* An older generation's bytes never replace newer ones built meanwhile by another call. */
        if (!lc->valid || gen >= lc->gen) {
                if (lc->valid)
                        rpc_bytes_unref(lc->bytes);
                lc->bytes = rpc_bytes_ref(s);
                lc->gen = gen;
                lc->valid = true;
        }
        pthread_mutex_unlock(&lc->lock);
        return s;
}
