/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cgroup-path.h"

static void expect_path(const char *spec, const char *want) {
        char *p = NULL;
        assert_int_equal(cgroup_systemd_path(spec, &p), 0);
        assert_string_equal(p, want);
        free(p);
}

static void test_systemd_default_slice(void **state) {
        expect_path("system.slice:crio:abc", "/system.slice/crio-abc.scope");
        expect_path(":crio:abc", "/system.slice/crio-abc.scope"); /* no parent: system.slice */
        expect_path("-.slice:crio:abc", "/crio-abc.scope");       /* the root slice */
}

static void test_systemd_kubelet_pod_slice(void **state) {
        /* What a kubelet with the systemd driver passes as a burstable pod's cgroup parent. */
        expect_path(
                "kubepods-burstable-pod1234.slice:crio:abc",
                "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1234.slice/crio-abc.scope");
        expect_path("kubepods.slice:crio:abc", "/kubepods.slice/crio-abc.scope");
}

static void test_systemd_slice_unit_name(void **state) {
        expect_path("a-b.slice:crio:c.slice", "/a.slice/a-b.slice/c.slice");
}

static void test_systemd_rejects_malformed(void **state) {
        char *p = NULL;
        const char *bad[] = {
                "system.slice:crio", "system.slice:crio:a:b", "system:crio:abc",    "a--b.slice:crio:abc",
                "-a.slice:crio:abc", "a-.slice:crio:abc",     "a/b.slice:crio:abc", "system.slice:crio:",
                "system.slice::abc", "system.slice:crio:a/b", ".slice:crio:abc",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(cgroup_systemd_path(bad[i], &p), -EINVAL);
                assert_null(p);
        }
        assert_int_equal(cgroup_systemd_path(NULL, &p), -EINVAL);
}

static void expect_file(const char *root, const char *controller, const char *cg, const char *file,
                        const char *want) {
        char *p = cgroup_file_path(root, controller, cg, file);
        assert_string_equal(p, want);
        free(p);
}

static void test_file_v1_and_v2_layouts(void **state) {
        char *cg = NULL;
        assert_int_equal(cgroup_systemd_path("kubepods-pod1.slice:crio:abc", &cg), 0);
        /* v1: one tree per controller, the same path in each. */
        expect_file("/sys/fs/cgroup", "memory", cg, "memory.stat",
                    "/sys/fs/cgroup/memory/kubepods.slice/kubepods-pod1.slice/crio-abc.scope/memory.stat");
        expect_file("/sys/fs/cgroup", "blkio", cg, "blkio.throttle.io_service_bytes_recursive",
                    "/sys/fs/cgroup/blkio/kubepods.slice/kubepods-pod1.slice/crio-abc.scope/"
                    "blkio.throttle.io_service_bytes_recursive");
        /* v2: one tree; on a hybrid host it is mounted at unified/. */
        expect_file("/sys/fs/cgroup", NULL, cg, "io.stat",
                    "/sys/fs/cgroup/kubepods.slice/kubepods-pod1.slice/crio-abc.scope/io.stat");
        expect_file("/sys/fs/cgroup/unified", NULL, cg, "cpu.pressure",
                    "/sys/fs/cgroup/unified/kubepods.slice/kubepods-pod1.slice/crio-abc.scope/cpu.pressure");
        free(cg);
        /* The cgroupfs manager's paths go through the same function. */
        expect_file("/sys/fs/cgroup", "cpuacct", "/crio-c/crio-abc", "cpuacct.usage",
                    "/sys/fs/cgroup/cpuacct/crio-c/crio-abc/cpuacct.usage");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_systemd_default_slice),
                cmocka_unit_test(test_systemd_kubelet_pod_slice),
                cmocka_unit_test(test_systemd_slice_unit_name),
                cmocka_unit_test(test_systemd_rejects_malformed),
                cmocka_unit_test(test_file_v1_and_v2_layouts),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
