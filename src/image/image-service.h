/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "auth.h"
#include "cancel.h"
#include "error.h"
#include "metrics.h"
#include "layer-unpack.h"
#include "store.h"

/* What the image service takes from crio.conf and the command line; replaced as a whole on SIGHUP. */
typedef struct ImageSettings {
        char *registries_conf;     /* main registries.conf */
        char *registries_conf_dir; /* its drop-in directory */
        char *global_auth_file;    /* "" for none */
        char *namespaced_auth_dir; /* <dir>/<namespace>-<sha256 of the image name>.json; "" for none */
        char *signature_policy;    /* "" for /etc/containers/policy.json */
        char *signature_policy_dir;
        char *short_name_mode;            /* "enforcing" or "disabled" */
        char *certs_dir;                  /* /etc/containers/certs.d */
        char **pinned_images;             /* exact, prefix* or *keyword* */
        char *pause_image;                /* always pinned */
        int64_t pull_progress_timeout_ns; /* 0: pull_stall_timeout_ns applies */
        int64_t pull_stall_timeout_ns;
        int64_t pull_connect_timeout_ns;
        int64_t max_parallel_downloads;
        LayerLimits layer_limits;
} ImageSettings;

ImageSettings *image_settings_copy(const ImageSettings *s);
ImageSettings *image_settings_free(ImageSettings *s);
void image_settings_freep(ImageSettings **s);

typedef struct ImageService ImageService;

/* Open the store under `root` and read registries.conf. Warnings name file and line. Blocks on I/O. */
int image_service_new(const char *root, const ImageSettings *settings, ImageService **ret, char ***warnings,
                      Error **reterr);
ImageService *image_service_free(ImageService *svc);
/* Register the pull metrics in `m` (NULL: none). Call before the first pull. */
void image_service_set_metrics(ImageService *svc, Metrics *m);

/* SIGHUP: re-read registries.conf and take new settings; on error the old ones stay. */
int image_service_reload(ImageService *svc, const ImageSettings *settings, char ***warnings, Error **reterr);

Store *image_service_store(ImageService *svc);

/* A copy of the settings for one operation (a reload may replace them meanwhile); caller frees. */
ImageSettings *image_service_settings(ImageService *svc);

typedef struct PullRequest {
        const char *image;              /* as the client wrote it */
        const Credentials *credentials; /* from the CRI AuthConfig; NULL when it had none */
        const char *namespace_;         /* pod namespace, for a per-namespace policy; may be NULL */
        const Cancel *cancel;           /* the RPC's: client gone or deadline passed */
} PullRequest;

/*
 * Pull an image (see docs/images.md): resolve the name (short names through registries.conf),
 * check policy, try each mirror then the registry, fetch manifest, config and missing layers (in
 * parallel, deduplicated against concurrent pulls), and commit it all at once. *ret_id is the image
 * ID (hex of the config digest). Blocks for the whole transfer.
 */
int image_pull(ImageService *svc, const PullRequest *req, char **ret_id, Error **reterr);

/*
 * Find a local image by ID (full, "sha256:"-prefixed or a unique prefix), by reference (tags default
 * to "latest"; short names tried against each search registry), or by repo digest. -ENOENT when
 * absent, -EINVAL for a name that is neither an ID nor a valid reference.
 */
int image_lookup(ImageService *svc, const char *name, StoreImage **ret, Error **reterr);

/* Remove by the same names (a tag of an image with other tags only untags). -ENOENT when absent. */
int image_remove(ImageService *svc, const char *name, Error **reterr);

/*
 * Does a pinned_images pattern (or the pause image) match one of the image's names? `s` is a snapshot
 * from image_service_settings(), taken once per RPC rather than once per image.
 */
bool image_is_pinned(const ImageSettings *s, const StoreImage *img);
