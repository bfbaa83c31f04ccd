/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>

#include "image-service.h"
#include "registries.h"

/* Shared by image-service.c and pull.c only. */
struct ImageService {
        Store *store;

        pthread_rwlock_t settings_lock; /* settings and registries change together on reload */
        ImageSettings *settings;
        RegistriesConf *registries;

        /* Layers some pull is fetching now (chain IDs), so that no layer is fetched twice at once. */
        pthread_mutex_t claims_lock;
        pthread_cond_t claims_changed;
        char **claimed;
};

/* registries_resolve_short_name() and registries_pull_sources() on the current registries.conf. */
int image_service_resolve(ImageService *svc, const ImageRef *short_ref, bool enforcing, ImageRef ***ret,
                          size_t *ret_n, Error **reterr);
int image_service_sources(ImageService *svc, const ImageRef *ref, PullSource **ret, size_t *ret_n,
                          Error **reterr);

/*
 * Claim the chain IDs in `wanted` that are not in the store yet. Waits while any of them is claimed
 * by another pull (which holds nothing else meanwhile, so two pulls never wait for each other).
 * *ret_claimed lists what this caller now owns (possibly empty). -ECANCELED/-ETIMEDOUT via cancel.
 */
int image_service_claim_layers(ImageService *svc, char *const *wanted, const Cancel *cancel,
                               char ***ret_claimed);
void image_service_release_layers(ImageService *svc, char **claimed);
