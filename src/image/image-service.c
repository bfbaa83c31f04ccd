/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "image-service-private.h"
#include "insecure-registries.h"
#include "log.h"
#include "reference.h"
#include "strv.h"

static char *dup_or_empty(const char *s) {
        return xstrdup(s ? s : "");
}

ImageSettings *image_settings_copy(const ImageSettings *s) {
        ImageSettings *c = xcalloc(1, sizeof(*c));
        c->registries_conf = dup_or_empty(s->registries_conf);
        c->registries_conf_dir = dup_or_empty(s->registries_conf_dir);
        c->global_auth_file = dup_or_empty(s->global_auth_file);
        c->namespaced_auth_dir = dup_or_empty(s->namespaced_auth_dir);
        c->signature_policy = dup_or_empty(s->signature_policy);
        c->signature_policy_dir = dup_or_empty(s->signature_policy_dir);
        c->short_name_mode = dup_or_empty(s->short_name_mode);
        c->certs_dir = dup_or_empty(s->certs_dir);
        c->pinned_images = strv_copy(s->pinned_images);
        c->insecure_registries = strv_copy(s->insecure_registries);
        c->pause_image = dup_or_empty(s->pause_image);
        c->pull_progress_timeout_ns = s->pull_progress_timeout_ns;
        c->pull_stall_timeout_ns = s->pull_stall_timeout_ns;
        c->pull_connect_timeout_ns = s->pull_connect_timeout_ns;
        c->max_parallel_downloads = s->max_parallel_downloads;
        c->layer_limits = s->layer_limits;
        return c;
}

ImageSettings *image_settings_free(ImageSettings *s) {
        if (!s)
                return NULL;
        free(s->registries_conf);
        free(s->registries_conf_dir);
        free(s->global_auth_file);
        free(s->namespaced_auth_dir);
        free(s->signature_policy);
        free(s->signature_policy_dir);
        free(s->short_name_mode);
        free(s->certs_dir);
        strv_free(s->pinned_images);
        strv_free(s->insecure_registries);
        free(s->pause_image);
        free(s);
        return NULL;
}

void image_settings_freep(ImageSettings **s) {
        *s = image_settings_free(*s);
}

static int load_registries(const ImageSettings *s, RegistriesConf **ret, char ***warnings, Error **reterr) {
        int r = registries_conf_load(s->registries_conf, s->registries_conf_dir, ret, warnings, reterr);
        if (r < 0)
                return error_prefix(reterr, "registries configuration");
        return 0;
}

int image_service_new(const char *root, const ImageSettings *settings, ImageService **ret, char ***warnings,
                      Error **reterr) {
        RegistriesConf *registries = NULL;
        Store *store = NULL;
        int r = load_registries(settings, &registries, warnings, reterr);
        if (r < 0)
                return r;
        r = store_open(root, &store, reterr);
        if (r < 0) {
                registries_conf_free(registries);
                return r;
        }
        ImageService *svc = xcalloc(1, sizeof(*svc));
        svc->store = store;
        svc->registries = registries;
        svc->settings = image_settings_copy(settings);
        pthread_rwlock_init(&svc->settings_lock, NULL);
        layer_claims_init(svc);
        *ret = svc;
        return 0;
}

void image_service_set_metrics(ImageService *svc, Metrics *m) {
        pull_metrics_init(&svc->metrics, m);
}

ImageService *image_service_free(ImageService *svc) {
        if (!svc)
                return NULL;
        /* First: a pull still parked resumes (and ends) while the store is open. */
        layer_claims_done(svc);
        store_close(svc->store);
        registries_conf_free(svc->registries);
        image_settings_free(svc->settings);
        pthread_rwlock_destroy(&svc->settings_lock);
        free(svc);
        return NULL;
}

int image_service_reload(ImageService *svc, const ImageSettings *settings, char ***warnings,
                         Error **reterr) {
        RegistriesConf *registries = NULL;
        int r = load_registries(settings, &registries, warnings, reterr);
        if (r < 0)
                return r;
        ImageSettings *copy = image_settings_copy(settings);
        pthread_rwlock_wrlock(&svc->settings_lock);
        RegistriesConf *old_registries = svc->registries;
        ImageSettings *old_settings = svc->settings;
        svc->registries = registries;
        svc->settings = copy;
        pthread_rwlock_unlock(&svc->settings_lock);
        /* Pulls in flight work on their own snapshots, so the old objects can go now. */
        registries_conf_free(old_registries);
        image_settings_free(old_settings);
        return 0;
}

Store *image_service_store(ImageService *svc) {
        return svc->store;
}

ImageSettings *image_service_settings(ImageService *svc) {
        pthread_rwlock_rdlock(&svc->settings_lock);
        ImageSettings *s = image_settings_copy(svc->settings);
        pthread_rwlock_unlock(&svc->settings_lock);
        return s;
}

int image_service_resolve(ImageService *svc, const ImageRef *short_ref, bool enforcing, ImageRef ***ret,
                          size_t *ret_n, Error **reterr) {
        pthread_rwlock_rdlock(&svc->settings_lock);
        int r = registries_resolve_short_name(svc->registries, short_ref, enforcing, ret, ret_n, reterr);
        pthread_rwlock_unlock(&svc->settings_lock);
        return r;
}

int image_service_sources(ImageService *svc, const ImageRef *ref, PullSource **ret, size_t *ret_n,
                          Error **reterr) {
        pthread_rwlock_rdlock(&svc->settings_lock);
        int r = registries_pull_sources(svc->registries, ref, ret, ret_n, reterr);
        for (size_t i = 0; r >= 0 && i < *ret_n; i++)
                if (insecure_registry_listed(svc->settings->insecure_registries, (*ret)[i].ref->domain))
                        (*ret)[i].insecure = true;
        pthread_rwlock_unlock(&svc->settings_lock);
        return r;
}

/* An ID, "sha256:"+ID, or an ID prefix: lower-case hex only. */
static bool looks_like_id(const char *name) {
        const char *hex = strncmp(name, "sha256:", 7) == 0 ? name + 7 : name;
        return strlen(hex) >= 3 && strspn(hex, "0123456789abcdef") == strlen(hex);
}

/*
 * The store key of a qualified reference: "name@digest" when it has a digest (a tag beside it
 * says nothing more), else "name:tag" with the default tag.
 */
static char *store_key(const ImageRef *ref) {
        _cleanup_image_ref_ ImageRef *q = image_ref_qualify(ref, ref->domain);
        if (q->digest) {
                q->tag = mfree(q->tag);
        }
        return image_ref_to_string(q);
}

static int lookup_ref(ImageService *svc, const ImageRef *ref, StoreImage **ret, char **ret_key) {
        _cleanup_free_ char *key = store_key(ref);
        int r = store_image_lookup(svc->store, key, ret, NULL);
        if (r >= 0 && ret_key)
                *ret_key = TAKE_PTR(key);
        return r;
}

/* A short name: the first search registry (or alias) under which the image is stored. */
static int lookup_short_name(ImageService *svc, const ImageRef *ref, StoreImage **ret, char **ret_key,
                             Error **reterr) {
        ImageRef **cands = NULL;
        size_t n = 0;
        int r = image_service_resolve(svc, ref, false, &cands, &n, reterr);
        if (r < 0)
                return r;
        r = -ENOENT;
        for (size_t i = 0; i < n; i++) {
                if (r < 0)
                        r = lookup_ref(svc, cands[i], ret, ret_key);
                image_ref_free(cands[i]);
        }
        free(cands);
        return r;
}

static int lookup_with_key(ImageService *svc, const char *name, StoreImage **ret, char **ret_key,
                           Error **reterr) {
        _cleanup_image_ref_ ImageRef *ref = NULL;
        _cleanup_error_ Error *perr = NULL;

        if (looks_like_id(name) && store_image_lookup(svc->store, name, ret, NULL) >= 0) {
                if (ret_key)
                        *ret_key = xstrdup((*ret)->id);
                return 0;
        }
        if (image_ref_parse(name, &ref, &perr) < 0)
                return looks_like_id(name) ? error_set(reterr, ENOENT, "image '%s' not found", name)
                                           : error_set(reterr, EINVAL, "%s", perr->message);
        int r = ref->domain ? lookup_ref(svc, ref, ret, ret_key)
                            : lookup_short_name(svc, ref, ret, ret_key, reterr);
        if (r == -ENOENT || (r < 0 && !(reterr && *reterr)))
                return error_set(reterr, ENOENT, "image '%s' not found", name);
        return r;
}

int image_lookup(ImageService *svc, const char *name, StoreImage **ret, Error **reterr) {
        return lookup_with_key(svc, name, ret, NULL, reterr);
}

/* Remove exactly what `name` matched: a tag (untagging when others remain), a digest, or the ID. */
int image_remove(ImageService *svc, const char *name, Error **reterr) {
        _cleanup_store_image_ StoreImage *img = NULL;
        _cleanup_free_ char *key = NULL;
        int r = lookup_with_key(svc, name, &img, &key, reterr);
        if (r < 0)
                return r;
        return store_image_remove(svc->store, key, reterr);
}

static bool pattern_matches(const char *pattern, const char *name) {
        size_t n = strlen(pattern);
        if (n == 0)
                return false;
        /* exact, "prefix*" or "*keyword*", as crio.conf(5) defines pinned_images */
        if (n > 1 && pattern[0] == '*' && pattern[n - 1] == '*') {
                _cleanup_free_ char *kw = xstrndup(pattern + 1, n - 2);
                return strstr(name, kw) != NULL;
        }
        if (pattern[n - 1] == '*')
                return strncmp(name, pattern, n - 1) == 0;
        return strcmp(name, pattern) == 0;
}

bool image_is_pinned(const ImageSettings *s, const StoreImage *img) {
        bool pinned = false;
        STRV_FOREACH(t, img->repo_tags) {
                if (*s->pause_image && strcmp(*t, s->pause_image) == 0)
                        pinned = true;
                STRV_FOREACH(p, s->pinned_images)
                        if (pattern_matches(*p, *t))
                                pinned = true;
        }
        return pinned;
}
