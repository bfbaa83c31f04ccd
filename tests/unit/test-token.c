/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "token.h"

#define SEC 1000000000LL

static StreamRequest *request(const char *id) {
        StreamRequest *r = xcalloc(1, sizeof(StreamRequest));
        r->container_id = xstrdup(id);
        return r;
}

static void test_token_is_single_use(void **state) {
        TokenCache c;
        token_cache_init(&c, 10, 60 * SEC);
        char t[TOKEN_LEN + 1];
        assert_int_equal(token_cache_put(&c, request("a"), 0, t), 0);
        assert_int_equal(strlen(t), TOKEN_LEN);
        assert_int_equal(strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                         TOKEN_LEN);
        StreamRequest *r = token_cache_take(&c, t, SEC);
        assert_non_null(r);
        assert_string_equal(r->container_id, "a");
        stream_request_free(r);
        assert_null(token_cache_take(&c, t, SEC));
        token_cache_done(&c);
}

static void test_tokens_differ_and_expire(void **state) {
        TokenCache c;
        token_cache_init(&c, 10, 60 * SEC);
        char t1[TOKEN_LEN + 1], t2[TOKEN_LEN + 1];
        assert_int_equal(token_cache_put(&c, request("a"), 0, t1), 0);
        assert_int_equal(token_cache_put(&c, request("b"), 30 * SEC, t2), 0);
        assert_string_not_equal(t1, t2);
        assert_null(token_cache_take(&c, t1, 60 * SEC)); /* a minute old: expired */
        StreamRequest *r = token_cache_take(&c, t2, 60 * SEC);
        assert_non_null(r);
        assert_string_equal(r->container_id, "b");
        stream_request_free(r);
        token_cache_done(&c);
}

static void test_pending_tokens_are_bounded(void **state) {
        TokenCache c;
        token_cache_init(&c, 3, 60 * SEC);
        char t[TOKEN_LEN + 1];
        for (int i = 0; i < 3; i++)
                assert_int_equal(token_cache_put(&c, request("x"), 0, t), 0);
        assert_int_equal(token_cache_put(&c, request("y"), 0, t), -ENOSPC);
        /* Expired ones make room again. */
        assert_int_equal(token_cache_put(&c, request("z"), 61 * SEC, t), 0);
        token_cache_done(&c); /* frees what is still pending */
}

static void test_wrong_tokens(void **state) {
        TokenCache c;
        token_cache_init(&c, 3, 60 * SEC);
        char t[TOKEN_LEN + 1];
        assert_int_equal(token_cache_put(&c, request("x"), 0, t), 0);
        char other[TOKEN_LEN + 2];
        memcpy(other, t, TOKEN_LEN + 1);
        other[0] = other[0] == 'A' ? 'B' : 'A';
        assert_null(token_cache_take(&c, other, 0));
        assert_null(token_cache_take(&c, "", 0));
        memcpy(other, t, TOKEN_LEN);
        other[TOKEN_LEN] = 'x';
        other[TOKEN_LEN + 1] = 0;
        assert_null(token_cache_take(&c, other, 0)); /* a longer string with the token as prefix */
        StreamRequest *r = token_cache_take(&c, t, 0);
        assert_non_null(r);
        stream_request_free(r);
        token_cache_done(&c);
}

/* The table grows past its first 8 slots up to max, and every token stays valid while it moves. */
static void test_table_grows_to_max(void **state) {
        TokenCache c;
        token_cache_init(&c, 20, 60 * SEC);
        char t[20][TOKEN_LEN + 1];
        for (int i = 0; i < 20; i++)
                assert_int_equal(token_cache_put(&c, request(i % 2 ? "odd" : "even"), 0, t[i]), 0);
        char extra[TOKEN_LEN + 1];
        assert_int_equal(token_cache_put(&c, request("x"), 0, extra), -ENOSPC);
        for (int i = 19; i >= 0; i--) {
                StreamRequest *r = token_cache_take(&c, t[i], SEC);
                assert_non_null(r);
                assert_string_equal(r->container_id, i % 2 ? "odd" : "even");
                stream_request_free(r);
        }
        assert_int_equal(token_cache_put(&c, request("y"), SEC, extra), 0);
        token_cache_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_token_is_single_use),
                cmocka_unit_test(test_tokens_differ_and_expire),
                cmocka_unit_test(test_pending_tokens_are_bounded),
                cmocka_unit_test(test_wrong_tokens),
                cmocka_unit_test(test_table_grows_to_max),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
