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
        char **insecure_registries;       /* crio.conf's: "host[:port]" or CIDR, as if insecure = true */
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

/*
 * Runs `fn(arg)` later on a pool of threads; -errno when it cannot (the pool is stopping). Must not
 * block: it is called with image-service locks held.
 */
typedef int (*PullExecutor)(void *pool, void (*fn)(void *arg), void *arg);

/*
 * Where pulls that were parked on another pull's layer resume: `fn` on `pool`. NULL (the default, and
 * what the daemon sets before it stops its pool) runs them on the thread that resumes them. Returns
 * once no resumed pull can reach the old pool any more.
 */
void image_service_set_executor(ImageService *svc, PullExecutor fn, void *pool);

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

/* How a pull ended: the image ID (hex of the config digest) or -errno and why. Both are the callee's. */
typedef void (*PullDone)(void *userdata, int r, char *id, Error *err);

/*
 * Pull an image (see docs/images.md): resolve the name (short names through registries.conf),
 * check policy, try each mirror then the registry, fetch manifest, config and missing layers (in
 * parallel, deduplicated against concurrent pulls), commit each layer as it completes, then the
 * image. `req` is copied; `req->cancel` must stay valid until `done` ran.
 *
 * Runs on the caller's thread until the pull ends or needs a layer that another pull is fetching
 * and nothing else is left to fetch: then it parks, returns, and continues on the executor once that
 * layer is committed, abandoned or stalled, or the pull is cancelled. `done(userdata, ...)` runs
 * exactly once, on whichever thread ends the pull (possibly before this returns).
 */
void image_pull_start(ImageService *svc, const PullRequest *req, PullDone done, void *userdata);

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
