/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "remotecommand.h"

static void test_channel_names(void **state) {
        assert_int_equal(remotecommand_channel_from_name("stdin"), 0);
        assert_int_equal(remotecommand_channel_from_name("stdout"), 1);
        assert_int_equal(remotecommand_channel_from_name("stderr"), 2);
        assert_int_equal(remotecommand_channel_from_name("error"), 3);
        assert_int_equal(remotecommand_channel_from_name("resize"), 4);
        assert_int_equal(remotecommand_channel_from_name("data"), -1);
        assert_int_equal(remotecommand_channel_from_name("STDIN"), -1);
        assert_int_equal(remotecommand_channel_from_name(NULL), -1);
}

static const char *field(json_object *o, const char *key) {
        json_object *v = NULL;
        return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

static void test_success_status(void **state) {
        char *s = remotecommand_status_json(0, NULL);
        assert_string_equal(s, "{\"metadata\":{},\"status\":\"Success\"}");
        free(s);
}

static void test_exit_code_status(void **state) {
        char *s = remotecommand_status_json(42, NULL);
        json_object *o = json_tokener_parse(s);
        assert_string_equal(field(o, "status"), "Failure");
        assert_string_equal(field(o, "reason"), "NonZeroExitCode");
        json_object *details, *causes;
        assert_true(json_object_object_get_ex(o, "details", &details));
        assert_true(json_object_object_get_ex(details, "causes", &causes));
        json_object *cause = json_object_array_get_idx(causes, 0);
        /* Kubernetes' StatusCause serializes its Type as "reason". */
        assert_string_equal(field(cause, "reason"), "ExitCode");
        assert_string_equal(field(cause, "message"), "42");
        json_object_put(o);
        free(s);
}

static void test_internal_error_status(void **state) {
        char *s = remotecommand_status_json(0, "container \"x\" is not running");
        json_object *o = json_tokener_parse(s);
        assert_string_equal(field(o, "status"), "Failure");
        assert_string_equal(field(o, "reason"), "InternalError");
        assert_string_equal(field(o, "message"), "container \"x\" is not running");
        json_object_put(o);
        free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_channel_names),
                cmocka_unit_test(test_success_status),
                cmocka_unit_test(test_exit_code_status),
                cmocka_unit_test(test_internal_error_status),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
