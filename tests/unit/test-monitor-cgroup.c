/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "monitor-cgroup.h"
#include "strv.h"

/* A hybrid host's mountinfo: v1 controllers, a named hierarchy, the unified tree, and other mounts. */
static void test_cgroup_mount_points(void **state) {
        const char *text =
                "22 1 0:20 / /sys rw,nosuid shared:7 - sysfs sysfs rw\n"
                "25 22 0:22 / /sys/fs/cgroup ro,nosuid shared:9 - tmpfs tmpfs ro,mode=755\n"
                "26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw\n"
                "27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid shared:11 - cgroup cgroup rw,name=systemd\n"
                "30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
                "31 25 0:28 / /sys/fs/cgroup/memory rw,nosuid shared:13 shared:14 - cgroup cgroup "
                "rw,memory\n"
                "40 30 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n"
                "50 1 8:1 / /var/lib rw - ext4 /dev/sda1 rw\n"
                "garbage line\n";
        _cleanup_strv_free_ char **roots = cgroup_mount_points(text);
        _cleanup_free_ char *joined = strv_join(roots, " ");
        assert_string_equal(joined,
                            "/sys/fs/cgroup/unified /sys/fs/cgroup/systemd /sys/fs/cgroup/cpu,cpuacct "
                            "/sys/fs/cgroup/memory");
        char **none = cgroup_mount_points("");
        assert_null(none);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cgroup_mount_points),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
