/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>

#include "image-service.h"
#include "pull-metrics.h"
#include "registries.h"

/* A layer some pull is fetching, who fetches it, and when that pull last received bytes of it. */
typedef struct LayerClaimEntry {
        char *chain_id;
        const void *owner;
        int64_t touched_ns; /* CLOCK_MONOTONIC */
} LayerClaimEntry;

/* A pull parked until a layer another pull claimed is committed, abandoned or stalls. */
typedef struct ClaimWaiter {
        char *chain_id;
        const Cancel *cancel; /* the parked pull's: its end resumes it too */
        void (*resume)(void *arg);
        void *arg;
        struct ClaimWaiter *next;
} ClaimWaiter;

/* Shared by image-service.c and pull.c only. */
struct ImageService {
        Store *store;

        pthread_rwlock_t settings_lock; /* settings and registries change together on reload */
        ImageSettings *settings;
        RegistriesConf *registries;

        /* Layers some pull is fetching now (chain IDs), so that no layer is fetched twice at once. */
        pthread_mutex_t claims_lock;
        pthread_cond_t claims_changed; /* wakes the watchdog: a waiter parked, or stop */
        LayerClaimEntry *claims;
        size_t n_claims;
        ClaimWaiter *waiters;   /* parked pulls, under claims_lock */
        int64_t claim_stall_ns; /* a claim untouched this long may be taken over */
        pthread_t watchdog;     /* resumes parked pulls that were cancelled or whose claim stalled */
        bool watchdog_running;
        bool claims_stopping;

        /* Where resumed pulls run (the daemon's pull pool); NULL: on the thread that resumes them. */
        pthread_mutex_t executor_lock;
        PullExecutor executor;
        void *executor_pool;

        PullMetrics metrics; /* families NULL without metrics */
};

/* registries_resolve_short_name() and registries_pull_sources() on the current registries.conf. */
int image_service_resolve(ImageService *svc, const ImageRef *short_ref, bool enforcing, ImageRef ***ret,
                          size_t *ret_n, Error **reterr);
int image_service_sources(ImageService *svc, const ImageRef *ref, PullSource **ret, size_t *ret_n,
                          Error **reterr);

/* Set up and tear down the claims (layer-claims.c). Pulls still parked at the end are resumed. */
void layer_claims_init(ImageService *svc);
void layer_claims_done(ImageService *svc);

/*
 * Layers some pull is fetching are claimed, one at a time, so that no layer is fetched twice at once:
 * PRESENT (in the store, nothing to do), CLAIMED (`owner` now owns it and must release it once the
 * layer is committed or has failed) or BUSY (another pull owns it and received bytes of it within
 * svc->claim_stall_ns: fetch other layers, then park). A claim whose owner stalled longer is claimed
 * again, so a stuck registry cannot hold up pulls of the same layer from elsewhere. Never blocks.
 */
typedef enum LayerClaim { LAYER_PRESENT, LAYER_CLAIMED, LAYER_BUSY } LayerClaim;
LayerClaim image_service_try_claim(ImageService *svc, const char *chain_id, const void *owner);
/* Drop `owner`'s claim; pulls parked on the layer are resumed. */
void image_service_release_layer(ImageService *svc, const char *chain_id, const void *owner);

/* The owner of a claim received bytes of the layer (cheap; call as data arrives). */
void image_service_touch_claim(ImageService *svc, const char *chain_id, const void *owner);

/*
 * Park a pull on a layer another pull claimed: `resume(arg)` runs once, on the executor, when that
 * claim is released, when it has stalled long enough to be taken over, or when `cancel` fires. The
 * caller's thread is free meanwhile. false (nothing parked: look again now) when the layer has no
 * live claim any more or `cancel` already fired. Never blocks.
 */
bool image_service_park(ImageService *svc, const char *chain_id, const Cancel *cancel,
                        void (*resume)(void *), void *arg);
