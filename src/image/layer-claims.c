/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>

#include "image-service-private.h"

/* A claim whose pull received nothing for this long is fetched by a waiting pull as well. */
#define CLAIM_STALL_NS (10LL * 1000 * 1000 * 1000)
/* How often the watchdog looks at parked pulls for a client that left (nothing signals it). */
#define WATCHDOG_TICK_NS (200LL * 1000 * 1000)

static void *watchdog_main(void *arg);

void layer_claims_init(ImageService *svc) {
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&svc->claims_changed, &attr);
        pthread_condattr_destroy(&attr);
        pthread_mutex_init(&svc->claims_lock, NULL);
        pthread_mutex_init(&svc->executor_lock, NULL);
        svc->claim_stall_ns = CLAIM_STALL_NS;
        svc->watchdog_running = pthread_create(&svc->watchdog, NULL, watchdog_main, svc) == 0;
}

/* Run a resumed pull on the executor, or here when there is none (or it refuses). */
static void resume_all(ImageService *svc, ClaimWaiter *list) {
        while (list) {
                ClaimWaiter *w = list;
                list = w->next;
                pthread_mutex_lock(&svc->executor_lock);
                int r = svc->executor ? svc->executor(svc->executor_pool, w->resume, w->arg) : -ESHUTDOWN;
                pthread_mutex_unlock(&svc->executor_lock);
                if (r < 0)
                        w->resume(w->arg);
                free(w->chain_id);
                free(w);
        }
}

void layer_claims_done(ImageService *svc) {
        pthread_mutex_lock(&svc->claims_lock);
        svc->claims_stopping = true;
        pthread_cond_broadcast(&svc->claims_changed);
        pthread_mutex_unlock(&svc->claims_lock);
        if (svc->watchdog_running)
                pthread_join(svc->watchdog, NULL);
        /* Normally none: the daemon ends every call first, which resumes (and ends) their pulls. */
        pthread_mutex_lock(&svc->claims_lock);
        ClaimWaiter *left = TAKE_PTR(svc->waiters);
        pthread_mutex_unlock(&svc->claims_lock);
        resume_all(svc, left);
        for (size_t i = 0; i < svc->n_claims; i++)
                free(svc->claims[i].chain_id);
        free(svc->claims);
        pthread_mutex_destroy(&svc->claims_lock);
        pthread_cond_destroy(&svc->claims_changed);
        pthread_mutex_destroy(&svc->executor_lock);
}

void image_service_set_executor(ImageService *svc, PullExecutor fn, void *pool) {
        pthread_mutex_lock(&svc->executor_lock);
        svc->executor = fn;
        svc->executor_pool = pool;
        pthread_mutex_unlock(&svc->executor_lock);
}

/* When the layer's freshest claim last saw bytes; 0 when nobody claims it. claims_lock held. */
static int64_t claim_touched_locked(ImageService *svc, const char *chain_id) {
        int64_t touched = 0;
        for (size_t i = 0; i < svc->n_claims; i++)
                if (strcmp(svc->claims[i].chain_id, chain_id) == 0 && svc->claims[i].touched_ns > touched)
                        touched = svc->claims[i].touched_ns;
        return touched;
}

static bool claim_live_locked(ImageService *svc, const char *chain_id, int64_t now) {
        int64_t touched = claim_touched_locked(svc, chain_id);
        return touched > 0 && now - touched < svc->claim_stall_ns;
}

LayerClaim image_service_try_claim(ImageService *svc, const char *chain_id, const void *owner) {
        LayerClaim c = LAYER_CLAIMED;
        int64_t now = monotonic_ns();
        pthread_mutex_lock(&svc->claims_lock);
        if (claim_live_locked(svc, chain_id, now))
                c = LAYER_BUSY;
        else if (store_layer_exists(svc->store, chain_id))
                c = LAYER_PRESENT;
        if (c == LAYER_CLAIMED) {
                svc->claims = xrealloc(svc->claims, (svc->n_claims + 1) * sizeof(LayerClaimEntry));
                svc->claims[svc->n_claims++] =
                        (LayerClaimEntry){.chain_id = xstrdup(chain_id), .owner = owner, .touched_ns = now};
        }
        pthread_mutex_unlock(&svc->claims_lock);
        return c;
}

void image_service_touch_claim(ImageService *svc, const char *chain_id, const void *owner) {
        int64_t now = monotonic_ns();
        pthread_mutex_lock(&svc->claims_lock);
        for (size_t i = 0; i < svc->n_claims; i++)
                if (svc->claims[i].owner == owner && strcmp(svc->claims[i].chain_id, chain_id) == 0)
                        svc->claims[i].touched_ns = now;
        pthread_mutex_unlock(&svc->claims_lock);
}

/* Unlink the waiters `due` says should run now; they come back as a list. claims_lock held. */
static ClaimWaiter *take_waiters_locked(ImageService *svc,
                                        bool (*due)(ImageService *, ClaimWaiter *, void *), void *userdata) {
        ClaimWaiter *taken = NULL;
        for (ClaimWaiter **p = &svc->waiters; *p;) {
                ClaimWaiter *w = *p;
                if (!due(svc, w, userdata)) {
                        p = &w->next;
                        continue;
                }
                *p = w->next;
                w->next = taken;
                taken = w;
        }
        return taken;
}

static bool waits_for(ImageService *svc, ClaimWaiter *w, void *chain_id) {
        (void)svc;
        return strcmp(w->chain_id, chain_id) == 0;
}

void image_service_release_layer(ImageService *svc, const char *chain_id, const void *owner) {
        pthread_mutex_lock(&svc->claims_lock);
        for (size_t i = 0; i < svc->n_claims; i++)
                if (svc->claims[i].owner == owner && strcmp(svc->claims[i].chain_id, chain_id) == 0) {
                        free(svc->claims[i].chain_id);
                        svc->claims[i] = svc->claims[--svc->n_claims];
                        break;
                }
        ClaimWaiter *woken = take_waiters_locked(svc, waits_for, (void *)chain_id);
        pthread_mutex_unlock(&svc->claims_lock);
        resume_all(svc, woken);
}

bool image_service_park(ImageService *svc, const char *chain_id, const Cancel *cancel,
                        void (*resume)(void *), void *arg) {
        pthread_mutex_lock(&svc->claims_lock);
        bool park = !svc->claims_stopping && !cancel_requested(cancel) &&
                    claim_live_locked(svc, chain_id, monotonic_ns());
        if (park) {
                ClaimWaiter *w = xmalloc(sizeof(*w));
                *w = (ClaimWaiter){.chain_id = xstrdup(chain_id),
                                   .cancel = cancel,
                                   .resume = resume,
                                   .arg = arg,
                                   .next = svc->waiters};
                svc->waiters = w;
                pthread_cond_broadcast(&svc->claims_changed);
        }
        pthread_mutex_unlock(&svc->claims_lock);
        return park;
}

/* A parked pull whose client left or whose deadline passed, or whose layer's fetch stalled. */
static bool overdue(ImageService *svc, ClaimWaiter *w, void *now) {
        return cancel_requested(w->cancel) || !claim_live_locked(svc, w->chain_id, *(int64_t *)now);
}

/* The earliest time something may become due: a deadline, a stall, or the next look for departures. */
static int64_t next_look_locked(ImageService *svc, int64_t now) {
        int64_t next = now + WATCHDOG_TICK_NS;
        for (ClaimWaiter *w = svc->waiters; w; w = w->next) {
                int64_t stall_at = claim_touched_locked(svc, w->chain_id) + svc->claim_stall_ns;
                if (stall_at < next)
                        next = stall_at;
                for (const Cancel *c = w->cancel; c; c = c->parent)
                        if (c->deadline_ns > 0 && c->deadline_ns < next)
                                next = c->deadline_ns;
        }
        return next;
}

/*
 * No pool thread waits for another pull's layer: this one thread watches the parked pulls and
 * resumes those whose claim went stale (to take it over) or whose pull was cancelled (to end it).
 */
static void *watchdog_main(void *arg) {
        ImageService *svc = arg;
        prctl(PR_SET_NAME, "pull watchdog");
        pthread_mutex_lock(&svc->claims_lock);
        while (!svc->claims_stopping) {
                int64_t now = monotonic_ns();
                ClaimWaiter *due = take_waiters_locked(svc, overdue, &now);
                if (due) {
                        pthread_mutex_unlock(&svc->claims_lock);
                        resume_all(svc, due);
                        pthread_mutex_lock(&svc->claims_lock);
                        continue;
                }
                if (!svc->waiters) {
                        pthread_cond_wait(&svc->claims_changed, &svc->claims_lock);
                        continue;
                }
                int64_t next = next_look_locked(svc, now);
                struct timespec t = {.tv_sec = next / 1000000000LL, .tv_nsec = next % 1000000000LL};
                pthread_cond_timedwait(&svc->claims_changed, &svc->claims_lock, &t);
        }
        pthread_mutex_unlock(&svc->claims_lock);
        return NULL;
}
