/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cgroup-path.h"
#include "cgroup-stats.h"
#include "fs-util.h"
#include "macros.h"

/*
 * Fake cgroup trees in a temporary directory, laid out as the kernel mounts them on v1 hybrid and v2
 * hosts, with the container at the path runc's systemd driver gives it: the systemd manager's stats
 * read end to end, short of a systemd to create the scope.
 */

#define SPEC "kubepods-burstable-pod1.slice:crio:abc"

static char root[] = "/tmp/test-cgroup-stats-XXXXXX";

static void put(const char *dir, const char *cg, const char *file, const char *text) {
        _cleanup_free_ char *p = xasprintf("%s/%s%s/%s", root, dir, cg, file);
        assert_int_equal(mkdir_parents(p, 0755), 0);
        assert_int_equal(write_file_atomic(p, text, strlen(text), 0644), 0);
}

static int setup(void **state) {
        if (!mkdtemp(root))
                return -1;
        char *cg = NULL;
        if (cgroup_systemd_path(SPEC, &cg) < 0)
                return -1;
        *state = cg;
        return 0;
}

static int teardown(void **state) {
        free(*state);
        return rm_rf(root) < 0 ? -1 : 0;
}

/* Each test starts from an empty root. */
static void empty_root(void) {
        assert_int_equal(rm_rf(root), 0);
        assert_int_equal(mkdir(root, 0700), 0);
}

static const char PSI[] = "some avg10=0.50 avg60=0.10 avg300=0.02 total=3000000\n"
                          "full avg10=0.00 avg60=0.00 avg300=0.00 total=1000\n";

static bool have_2mb_pages(void) {
        return access("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) == 0;
}

static void build_v1_hybrid(const char *cg) {
        put("cpuacct", cg, "cpuacct.usage", "123456789\n");
        put("memory", cg, "memory.usage_in_bytes", "1000\n");
        put("memory", cg, "memory.stat", "total_inactive_file 300\ntotal_rss 600\ntotal_pgfault 9\n");
        put("memory", cg, "memory.limit_in_bytes", "2000\n");
        put("memory", cg, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
        put("memory", cg, "memory.memsw.usage_in_bytes", "1100\n");
        put("memory", cg, "memory.memsw.limit_in_bytes", "3000\n");
        put("pids", cg, "pids.current", "4\n");
        put("blkio", cg, "blkio.throttle.io_service_bytes_recursive",
            "254:0 Read 4096\n254:0 Write 8192\n254:0 Sync 0\n254:0 Async 12288\n254:0 Discard 0\n"
            "254:0 Total 12288\nTotal 12288\n");
        put("blkio", cg, "blkio.throttle.io_serviced_recursive", "254:0 Read 1\n254:0 Write 2\nTotal 3\n");
        put("hugetlb", cg, "hugetlb.2MB.usage_in_bytes", "2097152\n");
        put("hugetlb", cg, "hugetlb.2MB.max_usage_in_bytes", "4194304\n");
        put("hugetlb", cg, "hugetlb.2MB.failcnt", "1\n");
        put("unified", "", "cgroup.controllers", "\n");
        put("unified", cg, "cpu.pressure", PSI);
        put("unified", cg, "memory.pressure", PSI);
        put("unified", cg, "io.pressure", PSI);
}

static void test_v1_hybrid_systemd_scope(void **state) {
        const char *cg = *state;
        empty_root();
        assert_string_equal(cg, "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice/"
                                "crio-abc.scope");
        build_v1_hybrid(cg);
        UsageSample s = {0};
        cgroup_stats_read(root, cg, CGROUP_READ_ALL, &s);
        assert_true(s.has_cpu && s.has_memory && s.has_pids && s.has_oom && s.has_swap && s.has_blkio);
        assert_int_equal(s.cpu_ns, 123456789);
        assert_int_equal(s.mem_working_set, 700);
        assert_int_equal(s.mem_available, 1300);
        assert_int_equal(s.pids, 4);
        assert_int_equal(s.oom_kills, 2);
        assert_int_equal(s.swap_usage, 100);
        assert_true(s.has_swap_available);
        assert_int_equal(s.swap_available, 900); /* 3000 - 2000 of swap allowed, 100 used */
        assert_int_equal(s.n_blkio, 1);
        assert_int_equal(s.blkio[0].major, 254);
        assert_int_equal(s.blkio[0].read_bytes, 4096);
        assert_int_equal(s.blkio[0].write_bytes, 8192);
        assert_int_equal(s.blkio[0].writes, 2);
        for (size_t i = 0; i < PSI_N; i++) {
                assert_true(s.psi[i].has_some && s.psi[i].has_full);
                assert_int_equal(s.psi[i].some.total_us, 3000000);
        }
        /* Without a metric group asking, the files only metrics need are not read. */
        UsageSample t = {0};
        cgroup_stats_read(root, cg, 0, &t);
        assert_true(t.has_cpu && t.has_memory && t.has_swap && t.psi[PSI_IO].has_some);
        assert_false(t.has_oom || t.has_blkio);
        assert_int_equal(t.n_hugetlb, 0);
        if (have_2mb_pages()) {
                assert_int_equal(s.n_hugetlb, 1);
                assert_string_equal(s.hugetlb[0].pagesize, "2MB");
                assert_int_equal(s.hugetlb[0].usage, 2097152);
                assert_true(s.hugetlb[0].has_max_usage);
                assert_int_equal(s.hugetlb[0].max_usage, 4194304);
                assert_int_equal(s.hugetlb[0].failcnt, 1);
        }
}

static void test_v2_systemd_scope(void **state) {
        const char *cg = *state;
        empty_root();
        put("", "", "cgroup.controllers", "cpu io memory pids hugetlb\n");
        put("", cg, "cpu.stat", "usage_usec 5000\nuser_usec 4000\nsystem_usec 1000\n");
        put("", cg, "memory.current", "1000\n");
        put("", cg, "memory.stat", "anon 500\ninactive_file 100\npgfault 3\npgmajfault 1\n");
        put("", cg, "memory.max", "max\n");
        put("", cg, "memory.events", "low 0\nhigh 0\nmax 4\noom 1\noom_kill 3\n");
        put("", cg, "memory.swap.current", "4096\n");
        put("", cg, "memory.swap.max", "10000\n");
        put("", cg, "pids.current", "2\n");
        put("", cg, "io.stat", "254:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n");
        put("", cg, "hugetlb.2MB.current", "0\n");
        put("", cg, "hugetlb.2MB.events", "max 5\n");
        put("", cg, "cpu.pressure", PSI);
        UsageSample s = {0};
        cgroup_stats_read(root, cg, CGROUP_READ_ALL, &s);
        assert_int_equal(s.cpu_ns, 5000000);
        assert_int_equal(s.mem_working_set, 900);
        assert_false(s.has_available);
        assert_int_equal(s.oom_kills, 3);
        assert_int_equal(s.swap_usage, 4096);
        assert_int_equal(s.swap_available, 5904);
        assert_int_equal(s.pids, 2);
        assert_int_equal(s.blkio[0].reads, 3);
        assert_int_equal(s.blkio[0].write_bytes, 2);
        assert_true(s.psi[PSI_CPU].has_some);
        assert_false(s.psi[PSI_MEMORY].has_some); /* no memory.pressure file: absent */
        if (have_2mb_pages()) {
                assert_int_equal(s.n_hugetlb, 1);
                assert_false(s.hugetlb[0].has_max_usage);
                assert_int_equal(s.hugetlb[0].failcnt, 5);
        }
}

static void test_v1_without_unified_or_extras(void **state) {
        const char *cg = "/crio-c/crio-abc"; /* the cgroupfs manager's path */
        empty_root();
        put("cpuacct", cg, "cpuacct.usage", "1\n");
        put("memory", cg, "memory.usage_in_bytes", "10\n");
        put("memory", cg, "memory.stat", "total_rss 5\n");
        UsageSample s = {0};
        cgroup_stats_read(root, cg, CGROUP_READ_ALL, &s);
        assert_true(s.has_cpu && s.has_memory);
        /* No swap accounting, no OOM file, no blkio, hugetlb or unified tree: absent, not zero. */
        assert_false(s.has_swap || s.has_oom || s.has_pids || s.has_blkio);
        assert_int_equal(s.n_hugetlb, 0);
        assert_false(s.psi[PSI_CPU].has_some || s.psi[PSI_IO].has_some);
        UsageSample none = {0};
        cgroup_stats_read(root, "/crio-c/crio-gone", CGROUP_READ_ALL,
                          &none); /* the container's cgroup is gone */
        assert_false(none.has_cpu || none.has_memory);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_v1_hybrid_systemd_scope),
                cmocka_unit_test(test_v2_systemd_scope),
                cmocka_unit_test(test_v1_without_unified_or_extras),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
