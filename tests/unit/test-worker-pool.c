/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

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

#define MS 1000000LL

static void sleep_ms(long ms) {
        struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * MS};
        nanosleep(&t, NULL);
}

static int ran_count(Meeting *m) {
        pthread_mutex_lock(&m->lock);
        int n = m->ran;
        pthread_mutex_unlock(&m->lock);
        return n;
}

/* Polls, so that a loaded machine does not fail the test: up to 5 s for `n` runs. */
static int wait_ran(Meeting *m, int n) {
        for (int i = 0; i < 500 && ran_count(m) < n; i++)
                sleep_ms(10);
        return ran_count(m);
}

/* The idle job waits for a job and a quiet spell after it, runs once, and again only after more jobs. */
static void test_idle_job_after_quiet_spell(void **state) {
        Meeting jobs = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        Meeting idle = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        WorkerPool *p = worker_pool_new(2);
        worker_pool_set_idle_job(p, 100 * MS, count, &idle);
        sleep_ms(150);
        assert_int_equal(ran_count(&idle), 0); /* no job ran yet */

        for (int i = 0; i < 10; i++)
                assert_int_equal(worker_pool_submit(p, count, &jobs), 0);
        sleep_ms(10);
        assert_int_equal(ran_count(&idle), 0); /* not quiet for long enough */
        assert_int_equal(wait_ran(&jobs, 10), 10);
        assert_int_equal(wait_ran(&idle, 1), 1);
        sleep_ms(150);
        assert_int_equal(ran_count(&idle), 1); /* once per quiet spell */

        assert_int_equal(worker_pool_submit(p, count, &jobs), 0);
        assert_int_equal(wait_ran(&idle, 2), 2);
        worker_pool_free(p);
        assert_int_equal(ran_count(&jobs), 11);
}

/* Jobs that keep coming closer together than the quiet spell hold the idle job back. */
static void test_idle_job_waits_for_quiet(void **state) {
        Meeting jobs = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        Meeting idle = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
        WorkerPool *p = worker_pool_new(2);
        worker_pool_set_idle_job(p, 200 * MS, count, &idle);
        for (int i = 0; i < 10; i++) {
                assert_int_equal(worker_pool_submit(p, count, &jobs), 0);
                sleep_ms(20);
        }
        assert_int_equal(ran_count(&idle), 0);
        worker_pool_free(p);
        assert_int_equal(ran_count(&idle), 0);
        assert_int_equal(ran_count(&jobs), 10);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_threads_start_as_jobs_wait),
                cmocka_unit_test(test_more_jobs_than_threads_all_run),
                cmocka_unit_test(test_idle_job_after_quiet_spell),
                cmocka_unit_test(test_idle_job_waits_for_quiet),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
