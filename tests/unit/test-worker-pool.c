/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "worker-pool.h"

typedef struct Meeting {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int arrived, needed, ran;
} Meeting;

/* Waits until `needed` jobs are running at once: only possible if the pool started enough threads. */
static void meet(void *userdata) {
        Meeting *m = userdata;
        pthread_mutex_lock(&m->lock);
        m->arrived++;
        pthread_cond_broadcast(&m->cond);
        while (m->arrived < m->needed)
                pthread_cond_wait(&m->cond, &m->lock);
        m->ran++;
        pthread_mutex_unlock(&m->lock);
}

static void count(void *userdata) {
        Meeting *m = userdata;
        pthread_mutex_lock(&m->lock);
        m->ran++;
        pthread_mutex_unlock(&m->lock);
}

static void test_threads_start_as_jobs_wait(void **state) {
        Meeting m = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .needed = 4};
        WorkerPool *p = worker_pool_new(4);
        for (int i = 0; i < 4; i++)
                assert_int_equal(worker_pool_submit(p, meet, &m), 0);
        worker_pool_free(p);
        assert_int_equal(m.ran, 4);
}

static void test_more_jobs_than_threads_all_run(void **state) {
        Meeting m = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        WorkerPool *p = worker_pool_new(2);
        for (int i = 0; i < 50; i++)
                assert_int_equal(worker_pool_submit(p, count, &m), 0);
        worker_pool_free(p);
        assert_int_equal(m.ran, 50);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_threads_start_as_jobs_wait),
                cmocka_unit_test(test_more_jobs_than_threads_all_run),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
