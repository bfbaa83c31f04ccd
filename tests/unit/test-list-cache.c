/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "api.pb-c.h"
#include "list-cache.h"
#include "macros.h"
#include "pb-util.h"

static ProtobufCMessage *version(const char *name) {
        Runtime__V1__VersionResponse *v =
                PB_NEW(Runtime__V1__VersionResponse, RUNTIME__V1__VERSION_RESPONSE__INIT);
        v->runtime_name = xstrdup(name);
        return &v->base;
}

/* The runtime name packed in a slice, unpacked again. */
static char *name_in(const RpcBytes *s) {
        Runtime__V1__VersionResponse *v = runtime__v1__version_response__unpack(NULL, s->len, s->data);
        assert_non_null(v);
        char *name = xstrdup(v->runtime_name);
        runtime__v1__version_response__free_unpacked(v, NULL);
        return name;
}

/* The cache answers for `gen` with the message named `name`. */
static void assert_cached(ListCache *lc, uint64_t gen, const char *name) {
        RpcBytes *got;
        assert_true(list_cache_get(lc, gen, &got));
        _cleanup_free_ char *found = name_in(got);
        assert_string_equal(found, name);
        rpc_bytes_unref(got);
}

static void test_empty_cache_misses(void **state) {
        ListCache lc;
        list_cache_init(&lc);
        RpcBytes *s;
        assert_false(list_cache_get(&lc, 0, &s));
        list_cache_done(&lc);
}

static void test_hit_only_for_the_same_generation(void **state) {
        ListCache lc;
        list_cache_init(&lc);
        RpcBytes *put = list_cache_put(&lc, 7, version("a"));
        assert_cached(&lc, 7, "a");
        RpcBytes *got;
        assert_true(list_cache_get(&lc, 7, &got));
        assert_true(put == got);
        rpc_bytes_unref(got);
        assert_false(list_cache_get(&lc, 8, &got));
        assert_false(list_cache_get(&lc, 6, &got));
        rpc_bytes_unref(put);
        list_cache_done(&lc);
}

static void test_an_older_answer_never_replaces_a_newer_one(void **state) {
        ListCache lc;
        list_cache_init(&lc);
        rpc_bytes_unref(list_cache_put(&lc, 9, version("new")));
        /* A call that read generation 8 and finished its list after one that read 9. */
        RpcBytes *old = list_cache_put(&lc, 8, version("old"));
        _cleanup_free_ char *answered = name_in(old);
        assert_string_equal(answered, "old");
        rpc_bytes_unref(old);
        RpcBytes *got;
        assert_false(list_cache_get(&lc, 8, &got));
        assert_cached(&lc, 9, "new");
        rpc_bytes_unref(list_cache_put(&lc, 10, version("newer")));
        assert_cached(&lc, 10, "newer");
        list_cache_done(&lc);
}

/* A reference handed out stays valid after the cache moved on and after it is gone. */
static void test_references_outlive_the_cache(void **state) {
        ListCache lc;
        list_cache_init(&lc);
        rpc_bytes_unref(list_cache_put(&lc, 1, version("first")));
        RpcBytes *held;
        assert_true(list_cache_get(&lc, 1, &held));
        rpc_bytes_unref(list_cache_put(&lc, 2, version("second")));
        list_cache_done(&lc);
        _cleanup_free_ char *name = name_in(held);
        assert_string_equal(name, "first");
        rpc_bytes_unref(held);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty_cache_misses),
                cmocka_unit_test(test_hit_only_for_the_same_generation),
                cmocka_unit_test(test_an_older_answer_never_replaces_a_newer_one),
                cmocka_unit_test(test_references_outlive_the_cache),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
