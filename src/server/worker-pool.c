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
        size_t n_threads;
        pthread_t *threads;
};

static void *worker_main(void *arg) {
        WorkerPool *p = arg;
        /* /debug/goroutines shows thread names; a handler renames its thread to its RPC meanwhile. */
        prctl(PR_SET_NAME, "worker idle");
        for (;;) {
                pthread_mutex_lock(&p->lock);
                while (!p->head && !p->stopping)
                        pthread_cond_wait(&p->cond, &p->lock);
                Job *j = p->head;
                if (!j) {
                        pthread_mutex_unlock(&p->lock);
                        return NULL;
                }
                p->head = j->next;
                if (!p->head)
                        p->tail = NULL;
                pthread_mutex_unlock(&p->lock);
                j->fn(j->userdata);
                prctl(PR_SET_NAME, "worker idle");
                free(j);
        }
}

WorkerPool *worker_pool_new(size_t n_threads) {
        WorkerPool *p = xcalloc(1, sizeof(*p));
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        p->threads = xcalloc(n_threads, sizeof(pthread_t));
        for (size_t i = 0; i < n_threads; i++) {
                if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
                        break;
                p->n_threads++;
        }
        if (p->n_threads == 0)
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
