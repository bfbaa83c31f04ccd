/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "image-service.h"
#include "runtime.h"
#include "log.h"
#include "pb-util.h"
#include "rpc-image.h"
#include "strv.h"

static const char *image_name(const Runtime__V1__ImageSpec *spec) {
        return spec && spec->image ? spec->image : "";
}

static int require_image_name(const Runtime__V1__ImageSpec *spec, Error **reterr) {
        if (!*image_name(spec))
                return error_set(reterr, EINVAL, "image.image must name an image");
        return 0;
}

/* The AuthConfig as credentials; NULL when the kubelet sent none. `auth` splits into user:password. */
static int credentials_from_cri(const Runtime__V1__AuthConfig *a, Credentials **ret, Error **reterr) {
        *ret = NULL;
        if (!a ||
            (!*a->username && !*a->password && !*a->auth && !*a->identity_token && !*a->registry_token))
                return 0;
        Credentials *c = xcalloc(1, sizeof(*c));
        if (*a->auth) {
                if (credentials_decode_auth(a->auth, &c->username, &c->password) < 0) {
                        credentials_free(c);
                        return error_set(reterr, EINVAL, "auth.auth is not base64 of user:password");
                }
        } else {
                c->username = xstrdup(a->username);
                c->password = xstrdup(a->password);
        }
        c->identity_token = *a->identity_token ? xstrdup(a->identity_token) : NULL;
        c->registry_token = *a->registry_token ? xstrdup(a->registry_token) : NULL;
        *ret = c;
        return 0;
}

/* What a pull's answer needs once it ends, on whichever thread that is. */
typedef struct PullCall {
        Daemon *daemon;
        RpcDeferred *deferred;
        char *image;
} PullCall;

static void pull_done(void *userdata, int r, char *id, Error *err) {
        PullCall *pc = userdata;
        /* A pull's buffers are freed by now: give the pages back instead of keeping them resident. */
        daemon_release_freed_memory();
        daemon_metrics_pull(&pc->daemon->metrics, r);
        Runtime__V1__PullImageResponse *resp = NULL;
        if (r >= 0) {
                log_info("pulled image %s as %s", pc->image, id);
                resp = PB_NEW(Runtime__V1__PullImageResponse, RUNTIME__V1__PULL_IMAGE_RESPONSE__INIT);
                resp->image_ref = TAKE_PTR(id);
        }
        free(id);
        RpcDeferred *d = pc->deferred;
        free(pc->image);
        free(pc);
        rpc_deferred_finish(d, r, resp ? &resp->base : NULL, err);
}

/*
 * The pull answers when it ends: a pull parked on a layer another pull is fetching frees this thread
 * for other pulls meanwhile (docs/images.md).
 */
int rpc_pull_image(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                   Error **reterr) {
        const Runtime__V1__PullImageRequest *r = (const Runtime__V1__PullImageRequest *)req;
        _cleanup_(credentials_freep) Credentials *creds = NULL;

        (void)ret_resp;
        int q = require_image_name(r->image, reterr);
        if (q >= 0)
                q = credentials_from_cri(r->auth, &creds, reterr);
        if (q < 0)
                return q;
        const Runtime__V1__PodSandboxMetadata *md = r->sandbox_config ? r->sandbox_config->metadata : NULL;
        PullRequest pr = {
                .image = r->image->image,
                .credentials = creds,
                .namespace_ = md ? md->namespace_ : NULL,
                .cancel = ctx->cancel,
        };
        PullCall *pc = xmalloc(sizeof(*pc));
        *pc = (PullCall){.daemon = ctx->daemon, .deferred = ctx->deferred, .image = xstrdup(pr.image)};
        image_pull_start(ctx->daemon->images, &pr, pull_done, pc);
        return RPC_DEFERRED;
}

static char **strv_for_pb(char *const *l, size_t *ret_n) {
        *ret_n = strv_length(l);
        return strv_copy(l);
}

/*
 * Config User "1000", "1000:1000" -> uid; "nobody[:group]" -> username; "" -> neither, which the
 * kubelet reads as "the image does not say" (as CRI-O reports it).
 */
static void set_user(Runtime__V1__Image *img, const char *user) {
        _cleanup_free_ char *u = xstrndup(user, strcspn(user, ":"));
        char *end = NULL;
        if (!*u) {
                img->username = xstrdup("");
                return;
        }
        errno = 0;
        long long uid = strtoll(u, &end, 10);
        if (errno || *end || uid < 0 || u[0] == '-' || u[0] == '+' || u[0] == ' ') {
                img->username = xstrdup(u);
                return;
        }
        img->uid = PB_NEW(Runtime__V1__Int64Value, RUNTIME__V1__INT64_VALUE__INIT);
        img->uid->value = uid;
        img->username = xstrdup("");
}

static Runtime__V1__Image *image_to_pb(const ImageSettings *settings, const StoreImage *s) {
        Runtime__V1__Image *img = PB_NEW(Runtime__V1__Image, RUNTIME__V1__IMAGE__INIT);
        img->id = xstrdup(s->id);
        img->repo_tags = strv_for_pb(s->repo_tags, &img->n_repo_tags);
        img->repo_digests = strv_for_pb(s->repo_digests, &img->n_repo_digests);
        img->size = (uint64_t)(s->size > 0 ? s->size : 1);
        set_user(img, s->user);
        img->spec = PB_NEW(Runtime__V1__ImageSpec, RUNTIME__V1__IMAGE_SPEC__INIT);
        img->spec->image = xstrdup(s->id);
        img->pinned = image_is_pinned(settings, s);
        return img;
}

/* Verbose ImageStatus: {"info": {...}} with the image config and where the image lives. */
static char *verbose_info(ImageService *svc, const StoreImage *s) {
        _cleanup_free_ char *config = NULL;
        size_t len = 0;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "id", json_object_new_string(s->id));
        json_object_object_add(o, "manifestDigest", json_object_new_string(s->manifest_digest));
        json_object_object_add(o, "configDigest", json_object_new_string(s->config_digest));
        json_object *layers = json_object_new_array();
        STRV_FOREACH(l, s->layers)
                json_object_array_add(layers, json_object_new_string(*l));
        json_object_object_add(o, "layers", layers);
        if (store_blob_read(image_service_store(svc), s->config_digest, &config, &len, NULL) >= 0)
                json_object_object_add(o, "imageSpec", json_tokener_parse(config));
        char *out = xstrdup(
                json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return out;
}

int rpc_image_status(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                     Error **reterr) {
        const Runtime__V1__ImageStatusRequest *r = (const Runtime__V1__ImageStatusRequest *)req;
        ImageService *svc = ctx->daemon->images;
        _cleanup_store_image_ StoreImage *img = NULL;

        int q = require_image_name(r->image, reterr);
        if (q < 0)
                return q;
        Runtime__V1__ImageStatusResponse *resp =
                PB_NEW(Runtime__V1__ImageStatusResponse, RUNTIME__V1__IMAGE_STATUS_RESPONSE__INIT);
        *ret_resp = &resp->base;
        q = image_lookup(svc, r->image->image, &img, reterr);
        /* An unknown image is an empty answer, not an error: the kubelet then pulls it. */
        if (q == -ENOENT) {
                *reterr = error_free(*reterr);
                return 0;
        }
        if (q < 0) {
                protobuf_c_message_free_unpacked(*ret_resp, NULL);
                *ret_resp = NULL;
                return q;
        }
        _cleanup_(image_settings_freep) ImageSettings *settings = image_service_settings(svc);
        resp->image = image_to_pb(settings, img);
        if (r->verbose) {
                Runtime__V1__ImageStatusResponse__InfoEntry *e =
                        PB_NEW(Runtime__V1__ImageStatusResponse__InfoEntry,
                               RUNTIME__V1__IMAGE_STATUS_RESPONSE__INFO_ENTRY__INIT);
                e->key = xstrdup("info");
                e->value = verbose_info(svc, img);
                PB_APPEND(resp->n_info, resp->info, e);
        }
        return 0;
}

int rpc_list_images(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                    Error **reterr) {
        const Runtime__V1__ListImagesRequest *r = (const Runtime__V1__ListImagesRequest *)req;
        ImageService *svc = ctx->daemon->images;
        StoreImage **list = NULL;
        size_t n = 0;
        int q;

        if (r->filter && *image_name(r->filter->image)) {
                StoreImage *one = NULL;
                q = image_lookup(svc, r->filter->image->image, &one, NULL);
                if (q >= 0) {
                        list = xcalloc(1, sizeof(*list));
                        list[n++] = one;
                }
        } else if ((q = store_image_list(image_service_store(svc), &list, &n, reterr)) < 0)
                return q;
        Runtime__V1__ListImagesResponse *resp =
                PB_NEW(Runtime__V1__ListImagesResponse, RUNTIME__V1__LIST_IMAGES_RESPONSE__INIT);
        _cleanup_(image_settings_freep) ImageSettings *settings = image_service_settings(svc);
        for (size_t i = 0; i < n; i++)
                PB_APPEND(resp->n_images, resp->images, image_to_pb(settings, list[i]));
        store_images_free(list, n);
        *ret_resp = &resp->base;
        return 0;
}

/*
 * An image whose layers a container's rootfs stacks on may not go away; untagging one of several
 * names is fine, since the image stays.
 */
static int refuse_if_in_use(Daemon *d, const char *name, Error **reterr) {
        _cleanup_store_image_ StoreImage *img = NULL;
        _cleanup_error_ Error *err = NULL;
        if (image_lookup(d->images, name, &img, &err) < 0 || !runtime_image_in_use(d->runtime, img->id))
                return 0;
        size_t names = strv_length(img->repo_tags) + strv_length(img->repo_digests);
        bool by_tag = strv_contains(img->repo_tags, name) || strv_contains(img->repo_digests, name);
        if (by_tag && strv_length(img->repo_tags) > 1)
                return 0;
        if (by_tag && names > 1 && strv_length(img->repo_tags) == 1 && !strv_contains(img->repo_tags, name))
                return 0;
        return error_set(reterr, EBUSY, "image '%s' is in use by a container", name);
}

int rpc_remove_image(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                     Error **reterr) {
        const Runtime__V1__RemoveImageRequest *r = (const Runtime__V1__RemoveImageRequest *)req;
        int q = require_image_name(r->image, reterr);
        if (q < 0)
                return q;
        q = refuse_if_in_use(ctx->daemon, r->image->image, reterr);
        if (q < 0)
                return q;
        q = image_remove(ctx->daemon->images, r->image->image, reterr);
        /* Removing what is not there succeeds: the CRI asks RemoveImage to be idempotent. */
        if (q == -ENOENT)
                *reterr = error_free(*reterr);
        else if (q < 0)
                return q;
        else
                log_info("removed image %s", r->image->image);
        *ret_resp =
                &PB_NEW(Runtime__V1__RemoveImageResponse, RUNTIME__V1__REMOVE_IMAGE_RESPONSE__INIT)->base;
        return 0;
}

static Runtime__V1__FilesystemUsage *fs_usage(const char *mountpoint, int64_t bytes, int64_t inodes) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        Runtime__V1__FilesystemUsage *u =
                PB_NEW(Runtime__V1__FilesystemUsage, RUNTIME__V1__FILESYSTEM_USAGE__INIT);
        u->timestamp = (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
        u->fs_id = PB_NEW(Runtime__V1__FilesystemIdentifier, RUNTIME__V1__FILESYSTEM_IDENTIFIER__INIT);
        u->fs_id->mountpoint = xstrdup(mountpoint);
        u->used_bytes = PB_NEW(Runtime__V1__UInt64Value, RUNTIME__V1__UINT64_VALUE__INIT);
        u->used_bytes->value = (uint64_t)bytes;
        u->inodes_used = PB_NEW(Runtime__V1__UInt64Value, RUNTIME__V1__UINT64_VALUE__INIT);
        u->inodes_used->value = (uint64_t)inodes;
        return u;
}

int rpc_image_fs_info(RpcContext *ctx, const ProtobufCMessage *req, ProtobufCMessage **ret_resp,
                      Error **reterr) {
        Store *store = image_service_store(ctx->daemon->images);
        int64_t bytes = 0, inodes = 0;
        int q = store_usage(store, &bytes, &inodes, reterr);
        if (q < 0)
                return q;
        _cleanup_free_ char *layers = xasprintf("%s/layers", store_root(store));
        _cleanup_free_ char *containers = xasprintf("%s/containers", store_root(store));
        Runtime__V1__ImageFsInfoResponse *resp =
                PB_NEW(Runtime__V1__ImageFsInfoResponse, RUNTIME__V1__IMAGE_FS_INFO_RESPONSE__INIT);
        PB_APPEND(resp->n_image_filesystems, resp->image_filesystems, fs_usage(layers, bytes, inodes));
        /* Containers' writable layers come with the runtime; until then they use nothing. */
        PB_APPEND(resp->n_container_filesystems, resp->container_filesystems, fs_usage(containers, 0, 0));
        *ret_resp = &resp->base;
        return 0;
}
