/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pod-annotations.h"
#include "strv.h"
#include "test-util.h"

#define STRV(...) ((char *[]){__VA_ARGS__, NULL})

static char *allowed_devices[] = {"/dev/fuse", "/dev/net/tun", NULL};

static StrMap map_of(char **kv) {
        StrMap m = {};
        for (; kv && kv[0]; kv += 2)
                strmap_add(&m, kv[0], kv[1]);
        return m;
}

static char **devices_for(char **kv, char **handler_allowed, Error **err) {
        StrMap m = map_of(kv);
        char **out = (char **)STRV("sentinel");
        int r = pod_annotation_devices(&m, handler_allowed, allowed_devices, &out, err);
        strmap_done(&m);
        return r < 0 ? NULL : out;
}

static void test_devices_need_the_handler_to_allow_the_annotation(void **state) {
        Error *err = NULL;
        assert_null(devices_for(STRV("devices.crio.io", "/dev/fuse"), NULL, &err));
        assert_null(err);
        assert_null(devices_for(STRV("devices.crio.io", "/dev/fuse"), STRV("io.containers.trace-syscall"),
                                &err));
        assert_null(err);
        assert_null(devices_for(STRV("other", "x"), STRV("devices.crio.io"), &err));
        assert_null(err);
        _cleanup_strv_free_ char **both =
                devices_for(STRV("devices.crio.io", " /dev/fuse , /dev/net/tun:/dev/tun:rw,"),
                            STRV("io.kubernetes.cri-o.Devices"), &err);
        assert_int_equal(strv_length(both), 2);
        assert_string_equal(both[0], "/dev/fuse");
        assert_string_equal(both[1], "/dev/net/tun:/dev/tun:rw");
}

/* The newer name wins when a pod gives both; the older one alone still works. */
static void test_newer_annotation_name_wins(void **state) {
        Error *err = NULL;
        _cleanup_strv_free_ char **newer = devices_for(
                STRV("io.kubernetes.cri-o.Devices", "/dev/net/tun", "devices.crio.io", "/dev/fuse"),
                STRV("devices.crio.io"), &err);
        assert_int_equal(strv_length(newer), 1);
        assert_string_equal(newer[0], "/dev/fuse");
        _cleanup_strv_free_ char **older = devices_for(STRV("io.kubernetes.cri-o.Devices", "/dev/net/tun"),
                                                       STRV("devices.crio.io"), &err);
        assert_int_equal(strv_length(older), 1);
        assert_string_equal(older[0], "/dev/net/tun");
}

static void test_devices_outside_allowed_devices_or_malformed_are_refused(void **state) {
        static const char *const bad[][2] = {
                {"/dev/sda", "not in allowed_devices"},
                {"/dev/fuse,/dev/mem", "/dev/mem is not in allowed_devices"},
                {"/dev/fuse:rwx", "HOST[:CONTAINER][:PERMISSIONS]"},
                {"dev/fuse", "HOST[:CONTAINER][:PERMISSIONS]"},
                {"/dev/fuse/../mem", "not in allowed_devices"},
                {"/dev/fuse:/usr/bin/sh", "not a path under /dev"},
                {"/dev/fuse:/dev/../etc/passwd", "not a path under /dev"},
                {"/dev/fuse:/usr/bin/sh", "not a path under /dev"},
                {"/dev/fuse:/dev/../etc/passwd", "not a path under /dev"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                Error *err = NULL;
                assert_null(devices_for(STRV("devices.crio.io", (char *)bad[i][0]), STRV("devices.crio.io"),
                                        &err));
                assert_non_null(err);
                assert_int_equal(err->code, EINVAL);
                assert_non_null(strstr(err->message, "devices.crio.io"));
                assert_non_null(strstr(err->message, bad[i][1]));
                error_free(err);
        }
}

static void test_default_annotations_never_override_the_pod(void **state) {
        StrMap pod = map_of(STRV("a", "pod"));
        StrMap defaults = map_of(STRV("a", "default", "devices.crio.io", "/dev/fuse"));
        pod_annotations_add_defaults(&pod, &defaults);
        assert_int_equal(pod.n, 2);
        assert_string_equal(strmap_get(&pod, "a"), "pod");
        assert_string_equal(strmap_get(&pod, "devices.crio.io"), "/dev/fuse");
        strmap_done(&pod);
        strmap_done(&defaults);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_devices_need_the_handler_to_allow_the_annotation),
                cmocka_unit_test(test_newer_annotation_name_wins),
                cmocka_unit_test(test_devices_outside_allowed_devices_or_malformed_are_refused),
                cmocka_unit_test(test_default_annotations_never_override_the_pod),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
