/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>

#include "image-service.h"
#include "pull-metrics.h"
#include "registries.h"

/* A layer some pull is fetching, and when that pull last received bytes of it. */
typedef struct LayerClaimEntry {
        char *chain_id;
        int64_t touched_ns; /* CLOCK_MONOTONIC */
} LayerClaimEntry;

/* Shared by image-service.c and pull.c only. */
struct ImageService {
        Store *store;

        pthread_rwlock_t settings_lock; /* settings and registries change together on reload */
        ImageSettings *settings;
        RegistriesConf *registries;

        /* Layers some pull is fetching now (chain IDs), so that no layer is fetched twice at once. */
        pthread_mutex_t claims_lock;
        pthread_cond_t claims_changed;
        LayerClaimEntry *claims;
        size_t n_claims;

        PullMetrics metrics; /* families NULL without metrics */
};

/* registries_resolve_short_name() and registries_pull_sources() on the current registries.conf. */
int image_service_resolve(ImageService *svc, const ImageRef *short_ref, bool enforcing, ImageRef ***ret,
                          size_t *ret_n, Error **reterr);
int image_service_sources(ImageService *svc, const ImageRef *ref, PullSource **ret, size_t *ret_n,
                          Error **reterr);

/*
 * Layers some pull is fetching are claimed, one at a time, so that no layer is fetched twice at once:
 * PRESENT (in the store, nothing to do), CLAIMED (the caller now owns it and must release it once
 * the layer is committed or has failed) or BUSY (another pull owns it and received bytes of it in
 * the last `stall_ns`: fetch other layers, then wait). A claim whose owner has stalled longer is
 * claimed again, so a stuck registry cannot hold up pulls of the same layer from elsewhere. Claims
 * never nest across pulls, so no two pulls wait for each other. Never blocks.
 */
typedef enum LayerClaim { LAYER_PRESENT, LAYER_CLAIMED, LAYER_BUSY } LayerClaim;
LayerClaim image_service_try_claim(ImageService *svc, const char *chain_id, int64_t stall_ns);
void image_service_release_layer(ImageService *svc, const char *chain_id);

/* The owner of a claim received bytes of the layer (cheap; call as data arrives). */
void image_service_touch_claim(ImageService *svc, const char *chain_id);

/* Sleep until some claim is released, at most `timeout_ms` (callers poll their cancel token). */
void image_service_wait_claims(ImageService *svc, int64_t timeout_ms);
