/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <string.h>
#include <sys/utsname.h>

#include "digest.h"
#include "image-service-private.h"
#include "layer-unpack.h"
#include "log.h"
#include "manifest.h"
#include "policy.h"
#include "reference.h"
#include "registry-client.h"
#include "strv.h"

#define DEFAULT_POLICY "/etc/containers/policy.json"

/* One pull: the request, a settings snapshot and its token (the RPC's, as parent). */
typedef struct PullJob {
        ImageService *svc;
        const PullRequest *req;
        ImageSettings *settings;
        Policy *policy;
        Cancel cancel;
} PullJob;

/* What was fetched from one source before layers: enough to decide what is missing. */
typedef struct Fetched {
        char *top_digest; /* digest of what the tag named (the index, for multi-arch images) */
        char *manifest_digest;
        char *manifest_body;
        size_t manifest_len;
        Manifest *manifest;
        char *config_body;
        size_t config_len;
        ImageConfig *config;
        char **chain_ids;
} Fetched;

static void fetched_done(Fetched *f) {
        free(f->top_digest);
        free(f->manifest_digest);
        free(f->manifest_body);
        manifest_free(f->manifest);
        free(f->config_body);
        image_config_free(f->config);
        strv_free(f->chain_ids);
}

/* The architecture name the OCI image spec uses for this machine. */
static const char *host_architecture(void) {
#if defined(__x86_64__)
        return "amd64";
#elif defined(__aarch64__)
        return "arm64";
#elif defined(__arm__)
        return "arm";
#elif defined(__s390x__)
        return "s390x";
#elif defined(__powerpc64__)
        return "ppc64le";
#else
        return "unknown";
#endif
}

static int load_policy(PullJob *job, Error **reterr) {
        const ImageSettings *s = job->settings;
        const char *ns = job->req->namespace_;
        int r;

        if (ns && *ns && *s->signature_policy_dir) {
                if (strchr(ns, '/') || strcmp(ns, ".") == 0 || strcmp(ns, "..") == 0)
                        return error_set(reterr, EINVAL, "invalid namespace '%s'", ns);
                _cleanup_free_ char *path = xasprintf("%s/%s.json", s->signature_policy_dir, ns);
                r = policy_load(path, &job->policy, reterr);
                if (r != -ENOENT)
                        return r;
                *reterr = error_free(*reterr);
        }
        /* A host without any policy is refused, as CRI-O does: silence must not mean "accept all". */
        const char *path = *s->signature_policy ? s->signature_policy : DEFAULT_POLICY;
        r = policy_load(path, &job->policy, reterr);
        if (r == -ENOENT)
                return error_prefix(reterr, "signature policy");
        return r;
}

/*
 * A credential provider may leave credentials for one namespace and image in
 * <namespaced_auth_dir>/<namespace>-<sha256 hex of the image name as requested>.json (CRI-O's layout).
 */
static char *namespaced_auth_file(PullJob *job) {
        const char *ns = job->req->namespace_;
        if (!ns || !*ns || !*job->settings->namespaced_auth_dir || strchr(ns, '/'))
                return NULL;
        _cleanup_free_ char *digest = digest_buffer(DIGEST_SHA256, job->req->image, strlen(job->req->image));
        return xasprintf("%s/%s-%s.json", job->settings->namespaced_auth_dir, ns,
                         digest + strlen("sha256:"));
}

/* The namespace's file, global_auth_file, then the usual auth.json locations. */
static int lookup_file_credentials(PullJob *job, const PullSource *src, Credentials **ret, Error **reterr) {
        _cleanup_strv_free_ char **files = xcalloc(1, sizeof(char *));
        char *ns_file = namespaced_auth_file(job);
        if (ns_file)
                files = strv_push(files, ns_file);
        if (*job->settings->global_auth_file)
                files = strv_push(files, xstrdup(job->settings->global_auth_file));
        _cleanup_strv_free_ char **defaults = credentials_default_files();
        STRV_FOREACH(f, defaults)
                files = strv_push(files, xstrdup(*f));
        *ret = NULL;
        int r = credentials_lookup(files, src->ref->domain, src->ref->path, ret, reterr);
        return r < 0 ? r : 0;
}

/* The kubelet's credentials are for the image's own registry; mirrors get theirs from files. */
static int open_client(PullJob *job, const ImageRef *name, const PullSource *src, const Cancel *cancel,
                       RegistryClient **ret, Error **reterr) {
        _cleanup_(credentials_freep) Credentials *found = NULL;
        const Credentials *creds = job->req->credentials;
        if (!creds || strcmp(src->ref->domain, name->domain) != 0) {
                int r = lookup_file_credentials(job, src, &found, reterr);
                if (r < 0)
                        return r;
                creds = found;
        }
        RegistryClientOptions o = {
                .host = src->ref->domain,
                .repository = src->ref->path,
                .insecure = src->insecure,
                .credentials = creds,
                .certs_dir = job->settings->certs_dir,
                .cancel = cancel,
                /* Without pull_progress_timeout, a stall still ends: no transfer may hang for ever. */
                .progress_timeout_ns = job->settings->pull_progress_timeout_ns > 0
                                               ? job->settings->pull_progress_timeout_ns
                                               : job->settings->pull_stall_timeout_ns,
                .connect_timeout_ns = job->settings->pull_connect_timeout_ns,
        };
        return registry_client_new(&o, ret, reterr);
}

/* Follow a manifest list or index to the manifest for this machine. */
static int fetch_platform_manifest(RegistryClient *client, ManifestKind kind, Fetched *f,
                                   char **content_type, Error **reterr) {
        ManifestList *list = NULL;
        const Descriptor *d = NULL;
        int r = manifest_list_parse(f->manifest_body, f->manifest_len, kind, &list, reterr);
        if (r >= 0)
                r = manifest_list_select(list, "linux", host_architecture(), NULL, &d, reterr);
        if (r >= 0) {
                _cleanup_free_ char *digest = xstrdup(d->digest);
                free(f->manifest_body);
                free(f->manifest_digest);
                free(*content_type);
                f->manifest_body = NULL;
                f->manifest_digest = NULL;
                *content_type = NULL;
                r = registry_get_manifest(client, digest, &f->manifest_body, &f->manifest_len, content_type,
                                          &f->manifest_digest, reterr);
        }
        manifest_list_free(list);
        return r;
}

static char **chain_ids(char *const *diff_ids) {
        char **chain = xcalloc(1, sizeof(char *));
        STRV_FOREACH(d, diff_ids) {
                size_t n = strv_length(chain);
                if (n == 0) {
                        chain = strv_push(chain, xstrdup(*d));
                        continue;
                }
                /* OCI image-spec: ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n)). */
                _cleanup_free_ char *joined = xasprintf("%s %s", chain[n - 1], *d);
                chain = strv_push(chain, digest_buffer(DIGEST_SHA256, joined, strlen(joined)));
        }
        return chain;
}

static int fetch_metadata(RegistryClient *client, const ImageRef *src_ref, Fetched *f, Error **reterr) {
        _cleanup_free_ char *content_type = NULL;
        const char *reference = src_ref->digest ? src_ref->digest : src_ref->tag;
        int r = registry_get_manifest(client, reference, &f->manifest_body, &f->manifest_len, &content_type,
                                      &f->manifest_digest, reterr);
        if (r < 0)
                return r;
        f->top_digest = xstrdup(f->manifest_digest);
        ManifestKind kind = manifest_kind_detect(content_type, f->manifest_body, f->manifest_len);
        if (kind == MANIFEST_DOCKER_LIST || kind == MANIFEST_OCI_INDEX) {
                r = fetch_platform_manifest(client, kind, f, &content_type, reterr);
                if (r < 0)
                        return r;
                kind = manifest_kind_detect(content_type, f->manifest_body, f->manifest_len);
        }
        r = manifest_parse(f->manifest_body, f->manifest_len, kind, &f->manifest, reterr);
        if (r < 0)
                return r;
        r = registry_get_blob(client, f->manifest->config.digest, IMAGE_CONFIG_MAX_SIZE, &f->config_body,
                              &f->config_len, reterr);
        if (r < 0)
                return error_prefix(reterr, "image config");
        r = image_config_parse(f->config_body, f->config_len, &f->config, reterr);
        if (r < 0)
                return r;
        if (strv_length(f->config->diff_ids) != f->manifest->n_layers)
                return error_set(reterr, EBADMSG, "image config lists %zu layers but the manifest has %zu",
                                 strv_length(f->config->diff_ids), f->manifest->n_layers);
        f->chain_ids = chain_ids(f->config->diff_ids);
        return 0;
}

typedef enum TaskState { TASK_TODO, TASK_RUNNING, TASK_DONE } TaskState;

typedef struct LayerTask {
        size_t index; /* in the manifest */
        TaskState state;
        char *staging;
        int64_t size;
        char *blob_digest;
        int result;
        Error *error;
} LayerTask;

typedef struct LayerFetch {
        PullJob *job;
        Cancel *cancel;         /* this source's: the pull's cancellation and deadline */
        atomic_bool failed;     /* a layer failed: start no more (those in flight finish, for a retry) */
        RegistryClient *client; /* the source's one client: one auth lookup and token for all layers */
        const ImageRef *name;
        const PullSource *src;
        const Fetched *f;
        pthread_mutex_t lock; /* task states */
        LayerTask *tasks;     /* every layer of the image, in manifest order */
        size_t n_tasks;
} LayerFetch;

/* Where a layer's bytes go: the unpacker, and a sign of life for pulls waiting on this layer. */
typedef struct Sink {
        LayerUnpack *unpack;
        ImageService *svc;
        const char *chain_id;
} Sink;

static int unpack_sink(void *userdata, const void *data, size_t len, Error **reterr) {
        Sink *k = userdata;
        image_service_touch_claim(k->svc, k->chain_id);
        return layer_unpack_push(k->unpack, data, len, reterr);
}

static int download_layer(LayerFetch *lf, LayerTask *t, Error **reterr) {
        const Descriptor *d = &lf->f->manifest->layers[t->index];
        LayerUnpack *u = NULL;
        int compression = layer_compression_from_media_type(d->media_type);
        if (compression < 0)
                return error_set(reterr, EINVAL, "layer %s: media type '%s' is not supported", d->digest,
                                 d->media_type);
        int r = store_staging_dir(image_service_store(lf->job->svc), &t->staging, reterr);
        if (r >= 0)
                r = layer_unpack_new_limited(t->staging, (LayerCompression)compression,
                                             &lf->job->settings->layer_limits, d->size, &u, reterr);
        if (r < 0)
                return r;
        layer_unpack_blob_verified_elsewhere(u);
        Sink sink = {.unpack = u, .svc = lf->job->svc, .chain_id = lf->f->chain_ids[t->index]};
        r = registry_fetch_blob(lf->client, d->digest, d->size, unpack_sink, &sink, reterr);
        if (r < 0) {
                layer_unpack_abort(u);
                return r;
        }
        _cleanup_free_ char *diff_id = NULL;
        r = layer_unpack_finish(u, &t->blob_digest, &diff_id, &t->size, reterr);
        if (r < 0)
                return error_prefix(reterr, "layer %s", d->digest);
        if (!t->blob_digest)
                t->blob_digest = xstrdup(d->digest);
        const char *want_diff_id = lf->f->config->diff_ids[t->index];
        if (strcmp(diff_id, want_diff_id) != 0)
                return error_set(reterr, EBADMSG,
                                 "layer %s: content digest %s does not match %s in the image config",
                                 d->digest, diff_id, want_diff_id);
        return 0;
}

/* Download, verify and commit one layer: once committed, a later failure of the pull keeps it. */
static double seconds_since(int64_t t0) {
        return (double)(monotonic_ns() - t0) / 1e9;
}

static int fetch_one_layer(LayerFetch *lf, LayerTask *t, Error **reterr) {
        const PullMetrics *pm = &lf->job->svc->metrics;
        const Descriptor *d = &lf->f->manifest->layers[t->index];
        int64_t t0 = monotonic_ns();
        int r = download_layer(lf, t, reterr);
        if (r < 0)
                return r;
        pull_metrics_stage(pm, "fetch_extract", seconds_since(t0));
        pull_metrics_layer_fetched(pm, d->media_type, d->size);
        const Fetched *f = lf->f;
        StagedLayer l = {
                .chain_id = f->chain_ids[t->index],
                .diff_id = f->config->diff_ids[t->index],
                .blob_digest = t->blob_digest,
                .parent_chain_id = t->index > 0 ? f->chain_ids[t->index - 1] : NULL,
                .size = t->size,
                .staging_dir = t->staging,
        };
        int64_t t1 = monotonic_ns();
        r = store_layer_commit(image_service_store(lf->job->svc), &l, reterr);
        t->staging = mfree(t->staging); /* consumed either way */
        if (r >= 0)
                pull_metrics_stage(pm, "layer_commit", seconds_since(t1));
        return r;
}

/* How long a worker sleeps between looks at layers other pulls are fetching. */
#define CLAIM_POLL_MS 100
/* A layer whose fetching pull received nothing for this long is fetched by a waiting pull as well. */
#define CLAIM_TAKEOVER_NS (10LL * 1000 * 1000 * 1000)

/*
 * The next layer for this worker, claimed; NULL when none can be claimed now. Layers in the store
 * are done; *ret_waiting says some layer is being fetched by another pull (wait, then look again).
 */
static LayerTask *next_task(LayerFetch *lf, bool *ret_waiting) {
        LayerTask *pick = NULL;
        bool waiting = false;
        pthread_mutex_lock(&lf->lock);
        for (size_t i = 0; i < lf->n_tasks && !pick; i++) {
                LayerTask *t = &lf->tasks[i];
                if (t->state != TASK_TODO)
                        continue;
                LayerClaim c =
                        image_service_try_claim(lf->job->svc, lf->f->chain_ids[t->index], CLAIM_TAKEOVER_NS);
                if (c == LAYER_PRESENT) {
                        const Descriptor *d = &lf->f->manifest->layers[t->index];
                        pull_metrics_layer_reused(&lf->job->svc->metrics, d->digest, d->size);
                        t->state = TASK_DONE;
                } else if (c == LAYER_CLAIMED)
                        t->state = TASK_RUNNING;
                waiting |= c == LAYER_BUSY;
                if (c == LAYER_CLAIMED)
                        pick = t;
        }
        pthread_mutex_unlock(&lf->lock);
        *ret_waiting = waiting;
        return pick;
}

/*
 * A download thread: claims layers one at a time, skipping those another pull is fetching (it comes
 * back to them once that pull commits or gives up), until none is left or a layer failed. Layers in
 * flight when a sibling fails are finished and committed: the kubelet's retry will not fetch them.
 */
static void *layer_worker(void *arg) {
        LayerFetch *lf = arg;
        while (!cancel_requested(lf->cancel) && !atomic_load(&lf->failed)) {
                bool waiting = false;
                LayerTask *t = next_task(lf, &waiting);
                if (!t) {
                        if (!waiting)
                                break;
                        image_service_wait_claims(lf->job->svc, CLAIM_POLL_MS);
                        continue;
                }
                t->result = fetch_one_layer(lf, t, &t->error);
                image_service_release_layer(lf->job->svc, lf->f->chain_ids[t->index]);
                pthread_mutex_lock(&lf->lock);
                t->state = TASK_DONE;
                pthread_mutex_unlock(&lf->lock);
                if (t->result < 0)
                        atomic_store(&lf->failed, true);
        }
        return NULL;
}

/* The first real failure: siblings stopped by it report -ECANCELED, which says less. */
static int first_failure(LayerTask *tasks, size_t n, Error **reterr) {
        LayerTask *pick = NULL;
        for (size_t i = 0; i < n; i++)
                if (tasks[i].result < 0 &&
                    (!pick || (pick->result == -ECANCELED && tasks[i].result != -ECANCELED)))
                        pick = &tasks[i];
        if (!pick)
                return 0;
        if (pick->error)
                return error_propagate(reterr, TAKE_PTR(pick->error));
        return error_set(reterr, -pick->result, "layer download failed");
}

static int fetch_layers(LayerFetch *lf, Error **reterr) {
        size_t n_threads = (size_t)lf->job->settings->max_parallel_downloads;
        if (n_threads < 1)
                n_threads = 1;
        if (n_threads > lf->n_tasks)
                n_threads = lf->n_tasks;
        pthread_t threads[64];
        size_t started = 0;
        for (; started < n_threads && started < ELEMENTSOF(threads); started++)
                if (pthread_create(&threads[started], NULL, layer_worker, lf) != 0)
                        break;
        if (started == 0 && lf->n_tasks > 0)
                layer_worker(lf);
        for (size_t i = 0; i < started; i++)
                pthread_join(threads[i], NULL);
        int r = first_failure(lf->tasks, lf->n_tasks, reterr);
        if (r < 0)
                return r;
        for (size_t i = 0; i < lf->n_tasks; i++)
                if (lf->tasks[i].state != TASK_DONE && cancel_requested(lf->cancel))
                        return error_set(reterr, -cancel_reason(lf->cancel), "pull cancelled");
        return 0;
}

static char *config_id(const char *config_digest) {
        const char *hex = strchr(config_digest, ':');
        return xstrdup(hex ? hex + 1 : config_digest);
}

/* Every layer is committed by now: the image adds its rows and names on top. */
static int commit_image(LayerFetch *lf, const ImageRef *name, const char *id, Error **reterr) {
        const Fetched *f = lf->f;
        _cleanup_free_ char *repo = image_ref_name(name);
        /* A pull pinned to a digest does not move the tag written beside it (as containers/image). */
        _cleanup_free_ char *tag = name->tag && !name->digest ? xasprintf("%s:%s", repo, name->tag) : NULL;
        _cleanup_free_ char *digest = xasprintf("%s@%s", repo, f->top_digest);
        ImageCommit c = {
                .id = id,
                .config_digest = f->manifest->config.digest,
                .manifest_digest = f->manifest_digest,
                .config_json = f->config_body,
                .config_len = f->config_len,
                .manifest_json = f->manifest_body,
                .manifest_len = f->manifest_len,
                .user = f->config->user,
                .layers = (const char *const *)f->chain_ids,
                .n_layers = strv_length(f->chain_ids),
                .repo_tag = tag,
                .repo_digest = digest,
        };
        return store_image_commit(image_service_store(lf->job->svc), &c, reterr);
}

static void tasks_free(ImageService *svc, LayerTask *tasks, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (tasks[i].staging)
                        store_staging_remove(image_service_store(svc), tasks[i].staging);
                free(tasks[i].staging);
                free(tasks[i].blob_digest);
                error_free(tasks[i].error);
        }
        free(tasks);
}

static int pull_layers_and_commit(PullJob *job, const ImageRef *name, const PullSource *src,
                                  RegistryClient *client, Cancel *cancel, const Fetched *f, const char *id,
                                  Error **reterr) {
        Store *store = image_service_store(job->svc);
        /* Held for the whole pull: a layer found present, or committed early, stays until the image is. */
        store_layers_hold(store, f->chain_ids);
        LayerFetch lf = {.job = job, .cancel = cancel, .client = client, .name = name, .src = src, .f = f};
        pthread_mutex_init(&lf.lock, NULL);
        lf.n_tasks = strv_length(f->chain_ids);
        lf.tasks = xcalloc(lf.n_tasks + 1, sizeof(LayerTask));
        for (size_t i = 0; i < lf.n_tasks; i++)
                lf.tasks[i].index = i;

        int r = fetch_layers(&lf, reterr);
        int64_t t0 = monotonic_ns();
        if (r >= 0)
                r = commit_image(&lf, name, id, reterr);
        if (r >= 0)
                pull_metrics_stage(&job->svc->metrics, "image_commit", seconds_since(t0));
        tasks_free(job->svc, lf.tasks, lf.n_tasks);
        pthread_mutex_destroy(&lf.lock);
        store_layers_release(store, f->chain_ids);
        return r;
}

static int pull_source(PullJob *job, const ImageRef *name, const PullSource *src, char **ret_id,
                       Error **reterr) {
        _cleanup_(registry_client_freep) RegistryClient *client = NULL;
        Fetched f = {0};
        Cancel cancel;
        cancel_init(&cancel, &job->cancel, 0);
        int r = open_client(job, name, src, &cancel, &client, reterr);
        if (r >= 0)
                r = fetch_metadata(client, src->ref, &f, reterr);
        if (r >= 0) {
                _cleanup_free_ char *id = config_id(f.manifest->config.digest);
                r = pull_layers_and_commit(job, name, src, client, &cancel, &f, id, reterr);
                if (r >= 0)
                        *ret_id = TAKE_PTR(id);
        }
        fetched_done(&f);
        return r;
}

/* Try each mirror, then the registry itself. A cancelled pull stops at once. */
static int pull_candidate(PullJob *job, const ImageRef *name, char **ret_id, Error **reterr) {
        PullSource *sources = NULL;
        size_t n = 0;
        int r = policy_check(job->policy, "docker", name, reterr);
        if (r >= 0)
                r = image_service_sources(job->svc, name, &sources, &n, reterr);
        if (r < 0)
                return r;
        r = -ENOENT;
        for (size_t i = 0; i < n; i++) {
                Error *err = NULL;
                _cleanup_free_ char *where = image_ref_to_string(sources[i].ref);
                r = pull_source(job, name, &sources[i], ret_id, &err);
                if (r >= 0 || cancel_requested(&job->cancel) || i + 1 == n) {
                        if (r < 0)
                                error_propagate(reterr, TAKE_PTR(err));
                        error_free(err);
                        break;
                }
                log_info("pull from %s failed, trying the next source: %s", where, err ? err->message : "");
                error_free(err);
        }
        pull_sources_free(sources, n);
        return r;
}

/* The qualified names to try for what the client asked for. */
static int candidates_for(PullJob *job, const ImageRef *ref, ImageRef ***ret, size_t *ret_n,
                          Error **reterr) {
        if (ref->domain) {
                *ret = xcalloc(1, sizeof(ImageRef *));
                (*ret)[0] = image_ref_qualify(ref, ref->domain);
                *ret_n = 1;
                return 0;
        }
        bool enforcing = strcmp(job->settings->short_name_mode, "disabled") != 0;
        return image_service_resolve(job->svc, ref, enforcing, ret, ret_n, reterr);
}

static int pull_candidates(PullJob *job, ImageRef **cands, size_t n, char **ret_id, Error **reterr) {
        int r = -ENOENT;
        for (size_t i = 0; i < n; i++) {
                Error *err = NULL;
                r = pull_candidate(job, cands[i], ret_id, &err);
                /* Only a name that resolved to several candidates (disabled mode) falls through. */
                if (r >= 0 || cancel_requested(&job->cancel) || i + 1 == n) {
                        if (r < 0)
                                error_propagate(reterr, TAKE_PTR(err));
                        error_free(err);
                        break;
                }
                error_free(err);
        }
        return r;
}

int image_pull(ImageService *svc, const PullRequest *req, char **ret_id, Error **reterr) {
        _cleanup_image_ref_ ImageRef *ref = NULL;
        ImageRef **cands = NULL;
        size_t n = 0;
        PullJob job = {.svc = svc, .req = req, .settings = image_service_settings(svc)};
        cancel_init(&job.cancel, req->cancel, 0);

        int r = image_ref_parse(req->image, &ref, reterr);
        if (r >= 0)
                r = load_policy(&job, reterr);
        if (r >= 0)
                r = candidates_for(&job, ref, &cands, &n, reterr);
        if (r >= 0)
                r = pull_candidates(&job, cands, n, ret_id, reterr);
        if (r < 0 && cancel_requested(req->cancel) && reterr) {
                /* Say why: the client's deadline or its going away, not a layer's side effect. */
                *reterr = error_free(*reterr);
                r = error_set(reterr, -cancel_reason(req->cancel), "pull of '%s' %s", req->image,
                              cancel_reason(req->cancel) == -ETIMEDOUT ? "ran past its deadline"
                                                                       : "was cancelled");
        }
        for (size_t i = 0; i < n; i++)
                image_ref_free(cands[i]);
        free(cands);
        policy_free(job.policy);
        image_settings_free(job.settings);
        return r < 0 ? error_prefix(reterr, "pull '%s'", req->image) : 0;
}
