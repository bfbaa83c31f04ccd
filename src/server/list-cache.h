/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "rpc-bytes.h"

/*
 * The packed answer of an unfiltered list RPC, kept for the runtime's list generation it was built
 * for (runtime_lists_generation()). The kubelet polls ListPodSandbox and ListContainers without a
 * filter every second or so while pods rarely change, so most polls are answered with these bytes
 * instead of copying every object, building messages and packing them again.
 */
typedef struct ListCache {
        pthread_mutex_t lock;
        bool valid;
        uint64_t gen;
        RpcBytes *bytes;
} ListCache;

void list_cache_init(ListCache *lc);
void list_cache_done(ListCache *lc);
/* A new reference to the bytes kept for `gen` in *ret; false when none are. Never blocks for long. */
bool list_cache_get(ListCache *lc, uint64_t gen, RpcBytes **ret);
/* Pack `resp` (consumed), keep the bytes for `gen` and return a new reference to them. */
RpcBytes *list_cache_put(ListCache *lc, uint64_t gen, ProtobufCMessage *resp);
