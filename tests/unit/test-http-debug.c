/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <cmocka.h>

#include "http-debug.h"
#include "macros.h"
#include "test-util.h"

static void test_stat_state(void **state) {
        assert_int_equal(debug_stat_state("12 (crio) S 1 2"), 'S');
        assert_int_equal(debug_stat_state("12 (a) b) R 1"), 'R');
        assert_int_equal(debug_stat_state("12 (x"), '?');
        assert_int_equal(debug_stat_state("12 (x)"), '?');
}

static void test_threads_name_this_one(void **state) {
        prctl(PR_SET_NAME, "unit-thread");
        _cleanup_free_ char *text = debug_threads_text();
        assert_contains(text, "[unit-thread]: running\n");
}

static void test_heap_reports_allocator_numbers(void **state) {
        _cleanup_free_ char *text = debug_heap_text();
        assert_contains(text, "in_use_bytes ");
        assert_contains(text, "<malloc version=");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_stat_state),
                cmocka_unit_test(test_threads_name_this_one),
                cmocka_unit_test(test_heap_reports_allocator_numbers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
