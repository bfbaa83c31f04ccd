/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/prctl.h>

#include "cancel.h"
#include "macros.h"
#include "worker-pool.h"

typedef struct Job {
        WorkerJob fn;
        void *userdata;
        struct Job *next;
} Job;

struct WorkerPool {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        Job *head, *tail;
        bool stopping;
        size_t n_threads, max_threads;
        size_t n_idle;   /* workers waiting for a job */
        size_t n_queued; /* jobs no worker took yet */
        size_t n_busy;   /* jobs running */
        pthread_t *threads;

        /* The idle job: run once the pool ran jobs and then had none for idle_after_ns. */
        WorkerJob idle_fn;
        void *idle_userdata;
        int64_t idle_after_ns;
        int64_t last_done_ns; /* CLOCK_MONOTONIC, when the last job ended */
        bool idle_due;        /* jobs ran since the idle job last did */
        bool idle_watched;    /* one idle worker waits with a deadline for it */
};

/*
 * With p->lock held and no job queued: wait for one, or, as the one worker watching for a quiet
 * spell, until the idle job is due, and run it then (unlocked). Returns with p->lock held.
 */
static void wait_for_job_locked(WorkerPool *p) {
        if (!p->idle_fn || !p->idle_due || p->idle_watched || p->n_busy > 0) {
                pthread_cond_wait(&p->cond, &p->lock);
                return;
        }
        int64_t due = p->last_done_ns + p->idle_after_ns;
        struct timespec t = {.tv_sec = due / 1000000000LL, .tv_nsec = due % 1000000000LL};
        p->idle_watched = true;
        int r = pthread_cond_timedwait(&p->cond, &p->lock, &t);
        p->idle_watched = false;
        /* A job that ran meanwhile moved the deadline: the next round waits for the new one. */
        if (r != ETIMEDOUT || p->head || p->stopping || p->n_busy > 0 || !p->idle_due ||
            monotonic_ns() < p->last_done_ns + p->idle_after_ns)
                return;
        /* Not counted idle meanwhile: a job submitted now starts another worker rather than wait. */
        p->idle_due = false;
        p->n_idle--;
        pthread_mutex_unlock(&p->lock);
        p->idle_fn(p->idle_userdata);
        pthread_mutex_lock(&p->lock);
        p->n_idle++;
}

static void *worker_main(void *arg) {
        WorkerPool *p = arg;
        /* /debug/goroutines shows thread names; a handler renames its thread to its RPC meanwhile. */
        prctl(PR_SET_NAME, "worker idle");
        pthread_mutex_lock(&p->lock);
        for (;;) {
                p->n_idle++;
                while (!p->head && !p->stopping)
                        wait_for_job_locked(p);
                p->n_idle--;
                Job *j = p->head;
                if (!j) {
                        pthread_mutex_unlock(&p->lock);
                        return NULL;
                }
                p->head = j->next;
                if (!p->head)
                        p->tail = NULL;
                p->n_queued--;
                p->n_busy++;
                pthread_mutex_unlock(&p->lock);
                j->fn(j->userdata);
                prctl(PR_SET_NAME, "worker idle");
                free(j);
                pthread_mutex_lock(&p->lock);
                p->n_busy--;
                p->idle_due = true;
                p->last_done_ns = monotonic_ns();
        }
}

/* Start one more worker; with p->lock held. */
static bool add_worker_locked(WorkerPool *p) {
        if (p->n_threads >= p->max_threads ||
            pthread_create(&p->threads[p->n_threads], NULL, worker_main, p) != 0)
                return false;
        p->n_threads++;
        return true;
}

WorkerPool *worker_pool_new(size_t max_threads) {
        WorkerPool *p = xcalloc(1, sizeof(*p));
        pthread_mutex_init(&p->lock, NULL);
        pthread_condattr_t attr;
        pthread_condattr_init(&attr);
        pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
        pthread_cond_init(&p->cond, &attr);
        pthread_condattr_destroy(&attr);
        p->max_threads = max_threads;
        p->threads = xcalloc(max_threads, sizeof(pthread_t));
        /* One worker now, so that a job always has one; the others as jobs wait for them. */
        pthread_mutex_lock(&p->lock);
        bool started = add_worker_locked(p);
        pthread_mutex_unlock(&p->lock);
        if (!started)
                abort();
        return p;
}

void worker_pool_set_idle_job(WorkerPool *p, int64_t after_ns, WorkerJob fn, void *userdata) {
        pthread_mutex_lock(&p->lock);
        p->idle_fn = fn;
        p->idle_userdata = userdata;
        p->idle_after_ns = after_ns;
        pthread_mutex_unlock(&p->lock);
}

int worker_pool_submit(WorkerPool *p, WorkerJob fn, void *userdata) {
        Job *j = xmalloc(sizeof(*j));
        *j = (Job){.fn = fn, .userdata = userdata};
        pthread_mutex_lock(&p->lock);
        if (p->stopping) {
                pthread_mutex_unlock(&p->lock);
                free(j);
                return -ESHUTDOWN;
        }
        if (p->tail)
                p->tail->next = j;
        else
                p->head = j;
        p->tail = j;
        /*
         * Threads are started when jobs outnumber the idle workers, not all at start-up: an idle
         * daemon keeps a few stacks instead of max_threads. Failing to start one only means the job
         * waits for a busy worker.
         */
        if (++p->n_queued > p->n_idle)
                add_worker_locked(p);
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        return 0;
}

WorkerPool *worker_pool_free(WorkerPool *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < p->n_threads; i++)
                pthread_join(p->threads[i], NULL);
        free(p->threads);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        free(p);
        return NULL;
}
