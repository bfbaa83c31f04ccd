/* SPDX-License-Identifier: Apache-2.0 */
/* errno to gRPC status codes, and status messages cut to what clients accept. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "grpc-status.h"

static void test_codes(void **state) {
        assert_int_equal(grpc_status_from_errno(-ENOENT), GRPC_STATUS_NOT_FOUND);
        assert_int_equal(grpc_status_from_errno(EINVAL), GRPC_STATUS_INVALID_ARGUMENT);
        assert_int_equal(grpc_status_from_errno(EIO), GRPC_STATUS_INTERNAL);
        assert_string_equal(grpc_status_to_string(GRPC_STATUS_FAILED_PRECONDITION), "FAILED_PRECONDITION");
        assert_string_equal(grpc_status_to_string((GrpcStatus)99), "UNKNOWN");
}

static void test_short_messages_are_kept(void **state) {
        char *m = grpc_status_message("metadata.name is required");
        assert_string_equal(m, "metadata.name is required");
        free(m);
        m = grpc_status_message(NULL);
        assert_string_equal(m, "");
        free(m);
}

/* A message naming a 1 MiB value is cut to the limit, never inside a UTF-8 character. */
static void test_long_messages_are_cut_on_a_character(void **state) {
        size_t n = 1 << 20;
        char *big = malloc(n + 1);
        for (size_t i = 0; i < n; i += 2)
                memcpy(big + i, "\xc3\xa9", 2); /* é, two bytes */
        big[n] = 0;
        char *m = grpc_status_message(big);
        size_t len = strlen(m), kept = len - strlen("... (cut)");
        /* Each byte of é goes on the wire as %XX: what is sent fits in the limit once encoded. */
        assert_true(kept * 3 + strlen("... (cut)") <= GRPC_STATUS_MESSAGE_MAX);
        assert_true(kept * 3 + strlen("... (cut)") > GRPC_STATUS_MESSAGE_MAX - 6);
        assert_string_equal(m + kept, "... (cut)");
        assert_int_equal(kept % 2, 0); /* whole characters only */
        free(m);
        memset(big, 'a', GRPC_STATUS_MESSAGE_MAX);
        big[GRPC_STATUS_MESSAGE_MAX] = 0;
        m = grpc_status_message(big);
        assert_string_equal(m, big); /* exactly at the limit: kept */
        free(m);
        free(big);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_codes),
                cmocka_unit_test(test_short_messages_are_kept),
                cmocka_unit_test(test_long_messages_are_cut_on_a_character),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
