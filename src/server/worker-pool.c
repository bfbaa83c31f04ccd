/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdbool.h>
#include <sys/prctl.h>

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
        pthread_t *threads;
};

static void *worker_main(void *arg) {
        WorkerPool *p = arg;
        /* /debug/goroutines shows thread names; a handler renames its thread to its RPC meanwhile. */
        prctl(PR_SET_NAME, "worker idle");
        for (;;) {
                pthread_mutex_lock(&p->lock);
                p->n_idle++;
                while (!p->head && !p->stopping)
                        pthread_cond_wait(&p->cond, &p->lock);
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
                pthread_mutex_unlock(&p->lock);
                j->fn(j->userdata);
                prctl(PR_SET_NAME, "worker idle");
                free(j);
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
        pthread_cond_init(&p->cond, NULL);
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
