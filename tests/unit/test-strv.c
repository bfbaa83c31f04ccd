/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "strv.h"

/* Compare a strv against a NULL-terminated list of expected strings, naming the first difference. */
static void assert_strv(char *const *l, const char *const *expected) {
        size_t n = 0;
        while (expected[n])
                n++;
        if (strv_length(l) != n)
                print_error("strv has %zu items, expected %zu\n", strv_length(l), n);
        assert_int_equal(strv_length(l), n);
        for (size_t i = 0; i < n; i++)
                assert_string_equal(l[i], expected[i]);
        assert_null(l[n]);
}

#define STRV(...) ((const char *const[]){__VA_ARGS__, NULL})
#define STRV_EMPTY ((const char *const[]){NULL})

static void test_split_empty_string(void **state) {
        _cleanup_strv_free_ char **l = strv_split("", ',');
        /* The empty list is a real (non-NULL) array so callers can store it as a value. */
        assert_non_null(l);
        assert_strv(l, STRV_EMPTY);
}

static void test_split_single(void **state) {
        _cleanup_strv_free_ char **l = strv_split("abc", ',');
        assert_strv(l, STRV("abc"));
}

static void test_split_several(void **state) {
        _cleanup_strv_free_ char **l = strv_split("a,bc,def", ',');
        assert_strv(l, STRV("a", "bc", "def"));
}

static void test_split_separators_at_ends(void **state) {
        _cleanup_strv_free_ char **l = strv_split(",a,b,", ',');
        assert_strv(l, STRV("a", "b"));
}

static void test_split_doubled_separators(void **state) {
        _cleanup_strv_free_ char **l = strv_split("a,,b,,,c", ',');
        assert_strv(l, STRV("a", "b", "c"));
}

static void test_split_only_separators(void **state) {
        _cleanup_strv_free_ char **l = strv_split(",,,", ',');
        assert_non_null(l);
        assert_strv(l, STRV_EMPTY);
}

static void test_split_other_separator(void **state) {
        /* Only the given separator splits; other punctuation stays inside the pieces. */
        _cleanup_strv_free_ char **l = strv_split("/a,b:/c d:", ':');
        assert_strv(l, STRV("/a,b", "/c d"));
}

static void test_split_keeps_spaces(void **state) {
        _cleanup_strv_free_ char **l = strv_split(" a , b ", ',');
        assert_strv(l, STRV(" a ", " b "));
}

static void test_push_onto_null(void **state) {
        _cleanup_strv_free_ char **l = NULL;
        l = strv_push(l, xstrdup("one"));
        assert_non_null(l);
        assert_strv(l, STRV("one"));
}

static void test_push_appends_in_order(void **state) {
        _cleanup_strv_free_ char **l = strv_split("a", ',');
        l = strv_push(l, xstrdup("b"));
        l = strv_push(l, xstrdup("c"));
        assert_strv(l, STRV("a", "b", "c"));
}

static void test_push_many(void **state) {
        _cleanup_strv_free_ char **l = NULL;
        for (int i = 0; i < 100; i++)
                l = strv_push(l, xasprintf("%d", i));
        assert_int_equal(strv_length(l), 100);
        assert_string_equal(l[0], "0");
        assert_string_equal(l[57], "57");
        assert_string_equal(l[99], "99");
        assert_null(l[100]);
}

static void test_length(void **state) {
        _cleanup_strv_free_ char **l = strv_split("x,y,z", ',');
        _cleanup_strv_free_ char **empty = strv_split("", ',');
        assert_int_equal(strv_length(NULL), 0);
        assert_int_equal(strv_length(empty), 0);
        assert_int_equal(strv_length(l), 3);
}

static void test_copy_is_deep(void **state) {
        _cleanup_strv_free_ char **l = strv_split("a,b", ',');
        _cleanup_strv_free_ char **c = strv_copy(l);
        assert_non_null(c);
        assert_ptr_not_equal(c, l);
        assert_ptr_not_equal(c[0], l[0]);
        assert_strv(c, STRV("a", "b"));
        /* Changing the original must not show through the copy. */
        l[0][0] = 'X';
        assert_string_equal(c[0], "a");
}

static void test_copy_null_and_empty(void **state) {
        _cleanup_strv_free_ char **from_null = strv_copy(NULL);
        _cleanup_strv_free_ char **empty = strv_split("", ',');
        _cleanup_strv_free_ char **from_empty = strv_copy(empty);
        assert_non_null(from_null);
        assert_strv(from_null, STRV_EMPTY);
        assert_non_null(from_empty);
        assert_strv(from_empty, STRV_EMPTY);
}

static void test_equal(void **state) {
        _cleanup_strv_free_ char **a = strv_split("a,b,c", ',');
        _cleanup_strv_free_ char **b = strv_split("a,b,c", ',');
        _cleanup_strv_free_ char **shorter = strv_split("a,b", ',');
        _cleanup_strv_free_ char **different = strv_split("a,b,d", ',');
        _cleanup_strv_free_ char **reordered = strv_split("c,b,a", ',');

        assert_true(strv_equal(a, b));
        assert_true(strv_equal(a, a));
        assert_false(strv_equal(a, shorter));
        assert_false(strv_equal(shorter, a));
        assert_false(strv_equal(a, different));
        assert_false(strv_equal(a, reordered));
        assert_false(strv_equal(a, NULL));
        assert_false(strv_equal(NULL, a));
}

static void test_equal_null_is_empty(void **state) {
        _cleanup_strv_free_ char **empty = strv_split("", ',');
        assert_true(strv_equal(NULL, NULL));
        assert_true(strv_equal(NULL, empty));
        assert_true(strv_equal(empty, NULL));
}

static void test_contains(void **state) {
        _cleanup_strv_free_ char **l = strv_split("alpha,beta", ',');
        assert_true(strv_contains(l, "alpha"));
        assert_true(strv_contains(l, "beta"));
        assert_false(strv_contains(l, "alph"));
        assert_false(strv_contains(l, "alphabet"));
        assert_false(strv_contains(l, ""));
        assert_false(strv_contains(NULL, "alpha"));
}

static void test_foreach(void **state) {
        _cleanup_strv_free_ char **l = strv_split("a,b,c", ',');
        _cleanup_free_ char *joined = xstrdup("");
        size_t n = 0;
        STRV_FOREACH(s, l) {
                char *j = xasprintf("%s%s", joined, *s);
                free(joined);
                joined = j;
                n++;
        }
        assert_int_equal(n, 3);
        assert_string_equal(joined, "abc");
        n = 0;
        STRV_FOREACH(s, (char **)NULL)
                n++;
        assert_int_equal(n, 0);
}

static void test_free_null(void **state) {
        char **l = NULL;
        assert_null(strv_free(NULL));
        strv_freep(&l);
        assert_null(l);
}

static void test_free_returns_null(void **state) {
        char **l = strv_split("a,b", ',');
        l = strv_free(l);
        assert_null(l);
        char **m = strv_split("c", ',');
        strv_freep(&m);
        assert_null(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_split_empty_string),
                cmocka_unit_test(test_split_single),
                cmocka_unit_test(test_split_several),
                cmocka_unit_test(test_split_separators_at_ends),
                cmocka_unit_test(test_split_doubled_separators),
                cmocka_unit_test(test_split_only_separators),
                cmocka_unit_test(test_split_other_separator),
                cmocka_unit_test(test_split_keeps_spaces),
                cmocka_unit_test(test_push_onto_null),
                cmocka_unit_test(test_push_appends_in_order),
                cmocka_unit_test(test_push_many),
                cmocka_unit_test(test_length),
                cmocka_unit_test(test_copy_is_deep),
                cmocka_unit_test(test_copy_null_and_empty),
                cmocka_unit_test(test_equal),
                cmocka_unit_test(test_equal_null_is_empty),
                cmocka_unit_test(test_contains),
                cmocka_unit_test(test_foreach),
                cmocka_unit_test(test_free_null),
                cmocka_unit_test(test_free_returns_null),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
