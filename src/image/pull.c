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

typedef struct PullAttempt PullAttempt;

/*
 * One pull, from start to end, across parkings: the request (copied), a settings snapshot, its token
 * (the RPC's, as parent), and where it stands among the candidate names and their sources.
 */
typedef struct PullJob {
        ImageService *svc;
        PullRequest req; /* points at the copies below */
        char *image;
        char *namespace_;
        Credentials *credentials;
        PullDone done;
        void *userdata;
        ImageSettings *settings;
        Policy *policy;
        Cancel cancel;
        ImageRef **cands; /* qualified names to try, in order */
        size_t n_cands, i_cand;
        PullSource *sources; /* of cands[i_cand]: mirrors, then the registry; NULL until looked up */
        size_t n_sources, i_source;
        PullAttempt *attempt; /* the source being pulled from; NULL between sources */
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
        const char *ns = job->req.namespace_;
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
        const char *ns = job->req.namespace_;
        if (!ns || !*ns || !*job->settings->namespaced_auth_dir || strchr(ns, '/'))
                return NULL;
        _cleanup_free_ char *digest = digest_buffer(DIGEST_SHA256, job->req.image, strlen(job->req.image));
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
        const Credentials *creds = job->req.credentials;
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
        const void *owner;
} Sink;

static int unpack_sink(void *userdata, const void *data, size_t len, Error **reterr) {
        Sink *k = userdata;
        image_service_touch_claim(k->svc, k->chain_id, k->owner);
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
        Sink sink = {.unpack = u, .svc = lf->job->svc, .chain_id = lf->f->chain_ids[t->index], .owner = lf};
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

/*
 * The next layer for this worker, claimed; NULL when none can be claimed now. Layers in the store
 * are done; layers another pull is fetching stay TODO (the pull parks on them once the rest is done).
 */
static LayerTask *next_task(LayerFetch *lf) {
        LayerTask *pick = NULL;
        pthread_mutex_lock(&lf->lock);
        for (size_t i = 0; i < lf->n_tasks && !pick; i++) {
                LayerTask *t = &lf->tasks[i];
                if (t->state != TASK_TODO)
                        continue;
                LayerClaim c = image_service_try_claim(lf->job->svc, lf->f->chain_ids[t->index], lf);
                if (c == LAYER_PRESENT) {
                        const Descriptor *d = &lf->f->manifest->layers[t->index];
                        pull_metrics_layer_reused(&lf->job->svc->metrics, d->digest, d->size);
                        t->state = TASK_DONE;
                } else if (c == LAYER_CLAIMED) {
                        t->state = TASK_RUNNING;
                        pick = t;
                }
        }
        pthread_mutex_unlock(&lf->lock);
        return pick;
}

/*
 * A download thread: claims layers one at a time, skipping those another pull is fetching, until
 * none can be claimed or a layer failed. It never waits for another pull: that is parking's job.
 * Layers in flight when a sibling fails are finished and committed: the kubelet's retry will not
 * fetch them.
 */
static void *layer_worker(void *arg) {
        LayerFetch *lf = arg;
        while (!cancel_requested(lf->cancel) && !atomic_load(&lf->failed)) {
                LayerTask *t = next_task(lf);
                if (!t)
                        break;
                t->result = fetch_one_layer(lf, t, &t->error);
                /* Pulls parked on this layer resume now: they find it present, or take it over. */
                image_service_release_layer(lf->job->svc, lf->f->chain_ids[t->index], lf);
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

static size_t tasks_todo(const LayerFetch *lf) {
        size_t n = 0;
        for (size_t i = 0; i < lf->n_tasks; i++)
                n += lf->tasks[i].state == TASK_TODO;
        return n;
}

/*
 * Fetch every layer that can be claimed now, in parallel. 0 when all are in the store, 1 when the
 * rest is being fetched by other pulls (*ret_busy names one), -errno on failure or cancellation.
 */
static int fetch_layers(LayerFetch *lf, const char **ret_busy, Error **reterr) {
        size_t n_threads = (size_t)lf->job->settings->max_parallel_downloads;
        size_t todo = tasks_todo(lf);
        if (n_threads < 1)
                n_threads = 1;
        if (n_threads > todo)
                n_threads = todo;
        pthread_t threads[64];
        size_t started = 0;
        for (; started < n_threads && started < ELEMENTSOF(threads); started++)
                if (pthread_create(&threads[started], NULL, layer_worker, lf) != 0)
                        break;
        if (started == 0 && todo > 0)
                layer_worker(lf);
        for (size_t i = 0; i < started; i++)
                pthread_join(threads[i], NULL);
        int r = first_failure(lf->tasks, lf->n_tasks, reterr);
        if (r < 0)
                return r;
        if (tasks_todo(lf) == 0)
                return 0;
        if (cancel_requested(lf->cancel))
                return error_set(reterr, -cancel_reason(lf->cancel), "pull cancelled");
        for (size_t i = 0; i < lf->n_tasks; i++)
                if (lf->tasks[i].state == TASK_TODO) {
                        *ret_busy = lf->f->chain_ids[lf->tasks[i].index];
                        break;
                }
        return 1;
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

/* A pull from one source: its client, what it fetched, and its layers. Lives across parkings. */
struct PullAttempt {
        const ImageRef *name;
        const PullSource *src;
        Cancel cancel; /* this source's: the pull's cancellation and deadline */
        RegistryClient *client;
        Fetched f;
        char *id;
        bool holding; /* the image's layers are held in the store */
        LayerFetch lf;
};

static PullAttempt *attempt_free(ImageService *svc, PullAttempt *a) {
        if (!a)
                return NULL;
        if (a->lf.tasks) {
                tasks_free(svc, a->lf.tasks, a->lf.n_tasks);
                pthread_mutex_destroy(&a->lf.lock);
        }
        if (a->holding)
                store_layers_release(image_service_store(svc), a->f.chain_ids);
        registry_client_free(a->client);
        fetched_done(&a->f);
        free(a->id);
        free(a);
        return NULL;
}

/* Open the client, fetch manifest and config, and hold the image's layers for the whole pull. */
static int attempt_open(PullJob *job, const ImageRef *name, const PullSource *src, PullAttempt **ret,
                        Error **reterr) {
        PullAttempt *a = xcalloc(1, sizeof(*a));
        a->name = name;
        a->src = src;
        cancel_init(&a->cancel, &job->cancel, 0);
        int r = open_client(job, name, src, &a->cancel, &a->client, reterr);
        if (r >= 0)
                r = fetch_metadata(a->client, src->ref, &a->f, reterr);
        if (r < 0) {
                attempt_free(job->svc, a);
                return r;
        }
        a->id = config_id(a->f.manifest->config.digest);
        /* A layer found present, or committed early, stays until the image is. */
        store_layers_hold(image_service_store(job->svc), a->f.chain_ids);
        a->holding = true;
        a->lf = (LayerFetch){
                .job = job, .cancel = &a->cancel, .client = a->client, .name = name, .src = src, .f = &a->f};
        pthread_mutex_init(&a->lf.lock, NULL);
        a->lf.n_tasks = strv_length(a->f.chain_ids);
        a->lf.tasks = xcalloc(a->lf.n_tasks + 1, sizeof(LayerTask));
        for (size_t i = 0; i < a->lf.n_tasks; i++)
                a->lf.tasks[i].index = i;
        *ret = a;
        return 0;
}

static void pull_run(void *arg);

/*
 * Fetch the layers, then commit the image: 0 when it is in the store, 1 when the pull parked on a
 * layer another pull is fetching (pull_run() runs again once that changes), -errno on failure.
 */
static int attempt_layers(PullJob *job, PullAttempt *a, Error **reterr) {
        for (;;) {
                const char *busy = NULL;
                int r = fetch_layers(&a->lf, &busy, reterr);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (image_service_park(job->svc, busy, &job->cancel, pull_run, job))
                        return 1;
                /* The claim went away meanwhile, or the pull was cancelled: look again. */
        }
        int64_t t0 = monotonic_ns();
        int r = commit_image(&a->lf, a->name, a->id, reterr);
        if (r >= 0)
                pull_metrics_stage(&job->svc->metrics, "image_commit", seconds_since(t0));
        return r;
}

/* The sources of the current candidate, after its policy check (once per candidate). */
static int load_sources(PullJob *job, Error **reterr) {
        if (job->sources)
                return 0;
        int r = policy_check(job->policy, "docker", job->cands[job->i_cand], reterr);
        if (r >= 0)
                r = image_service_sources(job->svc, job->cands[job->i_cand], &job->sources, &job->n_sources,
                                          reterr);
        if (r < 0)
                return r;
        if (job->n_sources == 0)
                return error_set(reterr, ENOENT, "no registry to pull from");
        return 0;
}

/*
 * The current source failed with `err`: true to try the next mirror, the registry, or the next
 * candidate name (only a short name that resolved to several, in disabled mode); false to end here.
 */
static bool move_on(PullJob *job, const Error *err) {
        bool last_source = job->i_source + 1 >= job->n_sources;
        if (cancel_requested(&job->cancel) || (last_source && job->i_cand + 1 >= job->n_cands))
                return false;
        if (!last_source) {
                _cleanup_free_ char *where = image_ref_to_string(job->sources[job->i_source].ref);
                log_info("pull from %s failed, trying the next source: %s", where, err ? err->message : "");
                job->i_source++;
                return true;
        }
        pull_sources_free(job->sources, job->n_sources);
        job->sources = NULL;
        job->n_sources = job->i_source = 0;
        job->i_cand++;
        return true;
}

/* One step on the current source: open it if needed, then its layers. 1 when parked. */
static int pull_step(PullJob *job, Error **reterr) {
        if (!job->attempt) {
                int r = load_sources(job, reterr);
                if (r >= 0)
                        r = attempt_open(job, job->cands[job->i_cand], &job->sources[job->i_source],
                                         &job->attempt, reterr);
                if (r < 0)
                        return r;
        }
        return attempt_layers(job, job->attempt, reterr);
}

static void job_free(PullJob *job) {
        job->attempt = attempt_free(job->svc, job->attempt);
        for (size_t i = 0; i < job->n_cands; i++)
                image_ref_free(job->cands[i]);
        free(job->cands);
        pull_sources_free(job->sources, job->n_sources);
        policy_free(job->policy);
        image_settings_free(job->settings);
        credentials_free(job->credentials);
        free(job->image);
        free(job->namespace_);
        free(job);
}

/* Report the end of the pull to its caller and free it. */
static void pull_end(PullJob *job, int r, Error *err) {
        char *id = NULL;
        if (r >= 0)
                id = TAKE_PTR(job->attempt->id);
        else {
                if (!err)
                        error_set(&err, -r, "pull failed");
                if (cancel_requested(job->req.cancel)) {
                        /* Say why: the client's deadline or its going away, not a layer's side effect. */
                        int reason = cancel_reason(job->req.cancel);
                        err = error_free(err);
                        error_set(&err, -reason, "pull of '%s' %s", job->image,
                                  reason == -ETIMEDOUT ? "ran past its deadline" : "was cancelled");
                }
                r = error_prefix(&err, "pull '%s'", job->image);
        }
        PullDone done = job->done;
        void *userdata = job->userdata;
        job_free(job);
        done(userdata, r, id, err);
}

/* Run the pull until it ends or parks; also where a parked pull resumes. */
static void pull_run(void *arg) {
        PullJob *job = arg;
        for (;;) {
                Error *err = NULL;
                int r = pull_step(job, &err);
                if (r == 1)
                        return;
                if (r >= 0) {
                        pull_end(job, r, NULL);
                        return;
                }
                job->attempt = attempt_free(job->svc, job->attempt);
                if (!move_on(job, err)) {
                        pull_end(job, r, err);
                        return;
                }
                error_free(err);
        }
}

/* The qualified names to try for what the client asked for. */
static int candidates_for(PullJob *job, const ImageRef *ref, Error **reterr) {
        if (ref->domain) {
                job->cands = xcalloc(1, sizeof(ImageRef *));
                job->cands[0] = image_ref_qualify(ref, ref->domain);
                job->n_cands = 1;
                return 0;
        }
        bool enforcing = strcmp(job->settings->short_name_mode, "disabled") != 0;
        int r = image_service_resolve(job->svc, ref, enforcing, &job->cands, &job->n_cands, reterr);
        if (r >= 0 && job->n_cands == 0)
                return error_set(reterr, ENOENT, "no registry to pull '%s' from", job->image);
        return r;
}

static Credentials *credentials_copy(const Credentials *c) {
        if (!c)
                return NULL;
        Credentials *n = xcalloc(1, sizeof(*n));
        n->username = c->username ? xstrdup(c->username) : NULL;
        n->password = c->password ? xstrdup(c->password) : NULL;
        n->identity_token = c->identity_token ? xstrdup(c->identity_token) : NULL;
        n->registry_token = c->registry_token ? xstrdup(c->registry_token) : NULL;
        return n;
}

void image_pull_start(ImageService *svc, const PullRequest *req, PullDone done, void *userdata) {
        _cleanup_image_ref_ ImageRef *ref = NULL;
        Error *err = NULL;
        PullJob *job = xcalloc(1, sizeof(*job));
        job->svc = svc;
        job->done = done;
        job->userdata = userdata;
        job->image = xstrdup(req->image);
        job->namespace_ = req->namespace_ ? xstrdup(req->namespace_) : NULL;
        job->credentials = credentials_copy(req->credentials);
        job->req = (PullRequest){.image = job->image,
                                 .credentials = job->credentials,
                                 .namespace_ = job->namespace_,
                                 .cancel = req->cancel};
        job->settings = image_service_settings(svc);
        cancel_init(&job->cancel, req->cancel, 0);

        int r = image_ref_parse(req->image, &ref, &err);
        if (r >= 0)
                r = load_policy(job, &err);
        if (r >= 0)
                r = candidates_for(job, ref, &err);
        if (r < 0) {
                pull_end(job, r, err);
                return;
        }
        pull_run(job);
}
