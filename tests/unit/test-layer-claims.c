/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs-util.h"
#include "image-service-private.h"
#include "test-util.h"

#define CHAIN "sha256:1111111111111111111111111111111111111111111111111111111111111111"

/* An image service with just a store and the claims: what layer-claims.c works on. */
typedef struct Fixture {
        char *dir;
        ImageService svc;
        int owner_a, owner_b; /* their addresses name two pulls */
} Fixture;

typedef struct Resumed {
        atomic_int times;
        pthread_t thread;
} Resumed;

static void resume(void *arg) {
        Resumed *r = arg;
        r->thread = pthread_self();
        atomic_fetch_add(&r->times, 1);
}

static bool resumed_within(Resumed *r, int ms) {
        for (int i = 0; i < ms && atomic_load(&r->times) == 0; i++)
                usleep(1000);
        return atomic_load(&r->times) == 1;
}

static void test_claim_then_busy_until_released(void **state) {
        Fixture *fx = *state;
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_a), LAYER_CLAIMED);
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_b), LAYER_BUSY);
        image_service_release_layer(&fx->svc, CHAIN, &fx->owner_b); /* not b's: changes nothing */
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_b), LAYER_BUSY);
        image_service_release_layer(&fx->svc, CHAIN, &fx->owner_a);
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_b), LAYER_CLAIMED);
        image_service_release_layer(&fx->svc, CHAIN, &fx->owner_b);
}

static void test_release_resumes_parked_pull(void **state) {
        Fixture *fx = *state;
        Resumed r = {0};
        Cancel c;
        cancel_init(&c, NULL, 0);
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_a), LAYER_CLAIMED);
        assert_true(image_service_park(&fx->svc, CHAIN, &c, resume, &r));
        usleep(50 * 1000);
        assert_int_equal(atomic_load(&r.times), 0);
        /* Without an executor the releasing thread runs it. */
        image_service_release_layer(&fx->svc, CHAIN, &fx->owner_a);
        assert_int_equal(atomic_load(&r.times), 1);
        assert_true(pthread_equal(r.thread, pthread_self()));
        assert_null(fx->svc.waiters);
}

static void test_park_refused_without_live_claim(void **state) {
        Fixture *fx = *state;
        Resumed r = {0};
        Cancel c;
        cancel_init(&c, NULL, 0);
        assert_false(image_service_park(&fx->svc, CHAIN, &c, resume, &r));
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_a), LAYER_CLAIMED);
        cancel_request(&c);
        assert_false(image_service_park(&fx->svc, CHAIN, &c, resume, &r));
        image_service_release_layer(&fx->svc, CHAIN, &fx->owner_a);
        assert_int_equal(atomic_load(&r.times), 0);
}

static void test_cancel_resumes_parked_pull(void **state) {
        Fixture *fx = *state;
        Resumed r = {0};
        Cancel c;
        cancel_init(&c, NULL, 0);
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_a), LAYER_CLAIMED);
        assert_true(image_service_park(&fx->svc, CHAIN, &c, resume, &r));
        cancel_request(&c);
        assert_true(resumed_within(&r, 5000));
        assert_false(pthread_equal(r.thread, pthread_self()));
        image_service_release_layer(&fx->svc, CHAIN, &fx->owner_a);
        assert_int_equal(atomic_load(&r.times), 1);
}

static void test_deadline_resumes_parked_pull(void **state) {
        Fixture *fx = *state;
        Resumed r = {0};
        Cancel parent, c;
        cancel_init(&parent, NULL, monotonic_ns() + 100 * 1000 * 1000);
        cancel_init(&c, &parent, 0);
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_a), LAYER_CLAIMED);
        assert_true(image_service_park(&fx->svc, CHAIN, &c, resume, &r));
        assert_true(resumed_within(&r, 5000));
        image_service_release_layer(&fx->svc, CHAIN, &fx->owner_a);
}

static void test_stalled_claim_resumes_and_is_taken_over(void **state) {
        Fixture *fx = *state;
        Resumed r = {0};
        Cancel c;
        cancel_init(&c, NULL, 0);
        fx->svc.claim_stall_ns = 1000 * 1000 * 1000;
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_a), LAYER_CLAIMED);
        assert_true(image_service_park(&fx->svc, CHAIN, &c, resume, &r));
        /* Bytes arriving keep the claim alive; their end lets the parked pull take over. */
        for (int i = 0; i < 6; i++) {
                usleep(100 * 1000);
                image_service_touch_claim(&fx->svc, CHAIN, &fx->owner_a);
        }
        assert_int_equal(atomic_load(&r.times), 0);
        assert_true(resumed_within(&r, 5000));
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_b), LAYER_CLAIMED);
        /* The stalled owner's late release leaves the new owner's claim in place. */
        image_service_release_layer(&fx->svc, CHAIN, &fx->owner_a);
        fx->svc.claim_stall_ns = 60LL * 1000 * 1000 * 1000;
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_a), LAYER_BUSY);
        image_service_release_layer(&fx->svc, CHAIN, &fx->owner_b);
}

typedef struct Pool {
        atomic_int submitted;
        bool refuse;
} Pool;

static int fake_executor(void *pool, void (*fn)(void *), void *arg) {
        Pool *p = pool;
        if (p->refuse)
                return -ESHUTDOWN;
        atomic_fetch_add(&p->submitted, 1);
        fn(arg);
        return 0;
}

static void test_resumed_pulls_go_to_the_executor(void **state) {
        Fixture *fx = *state;
        Resumed r1 = {0}, r2 = {0};
        Pool pool = {0};
        Cancel c;
        cancel_init(&c, NULL, 0);
        image_service_set_executor(&fx->svc, fake_executor, &pool);
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_a), LAYER_CLAIMED);
        assert_true(image_service_park(&fx->svc, CHAIN, &c, resume, &r1));
        assert_true(image_service_park(&fx->svc, CHAIN, &c, resume, &r2));
        image_service_release_layer(&fx->svc, CHAIN, &fx->owner_a);
        assert_int_equal(atomic_load(&pool.submitted), 2);
        assert_int_equal(atomic_load(&r1.times) + atomic_load(&r2.times), 2);
        /* A pool that refuses (stopping) leaves the pull to the resuming thread. */
        pool.refuse = true;
        Resumed r3 = {0};
        assert_int_equal(image_service_try_claim(&fx->svc, CHAIN, &fx->owner_a), LAYER_CLAIMED);
        assert_true(image_service_park(&fx->svc, CHAIN, &c, resume, &r3));
        image_service_release_layer(&fx->svc, CHAIN, &fx->owner_a);
        assert_int_equal(atomic_load(&r3.times), 1);
        image_service_set_executor(&fx->svc, NULL, NULL);
}

static int setup(void **state) {
        Fixture *fx = xcalloc(1, sizeof(*fx));
        const char *tmp = getenv("TMPDIR");
        fx->dir = xasprintf("%s/test-layer-claims-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        Error *e = NULL;
        _cleanup_free_ char *root = NULL;
        if (!mkdtemp(fx->dir))
                goto fail;
        root = xasprintf("%s/store", fx->dir);
        if (store_open(root, &fx->svc.store, &e) < 0)
                goto fail;
        layer_claims_init(&fx->svc);
        *state = fx;
        return 0;
fail:
        print_error("setup: %s\n", e ? e->message : strerror(errno));
        error_free(e);
        free(fx->dir);
        free(fx);
        return -1;
}

static int teardown(void **state) {
        Fixture *fx = *state;
        layer_claims_done(&fx->svc);
        store_close(fx->svc.store);
        int r = rm_rf(fx->dir);
        free(fx->dir);
        free(fx);
        return r < 0 ? -1 : 0;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_claim_then_busy_until_released, setup, teardown),
                cmocka_unit_test_setup_teardown(test_release_resumes_parked_pull, setup, teardown),
                cmocka_unit_test_setup_teardown(test_park_refused_without_live_claim, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel_resumes_parked_pull, setup, teardown),
                cmocka_unit_test_setup_teardown(test_deadline_resumes_parked_pull, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stalled_claim_resumes_and_is_taken_over, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_resumed_pulls_go_to_the_executor, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
