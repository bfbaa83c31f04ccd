/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "stats-parse.h"

/* /proc/net/dev as the kernel writes it: two header lines, then one right-aligned line per interface. */
static const char NET_DEV[] =
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo "
        "colls carrier compressed\n"
        "    lo:    1200      12    0    0    0     0          0         0     1200      12    0    0    0  "
        "   "
        "0       0          0\n"
        "  eth0: 987654     321    2    3    0     0          0         0   123456     111    4    5    0   "
        "  "
        "0       0          0\n";

static void test_net_dev_parses_every_interface(void **state) {
        NetIfUsage *l = NULL;
        size_t n = 0;
        assert_int_equal(stats_parse_net_dev(NET_DEV, &l, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(l[0].name, "lo");
        assert_int_equal(l[0].rx_bytes, 1200);
        assert_string_equal(l[1].name, "eth0");
        assert_int_equal(l[1].rx_bytes, 987654);
        assert_int_equal(l[1].rx_packets, 321);
        assert_int_equal(l[1].rx_errors, 2);
        assert_int_equal(l[1].rx_dropped, 3);
        assert_int_equal(l[1].tx_bytes, 123456);
        assert_int_equal(l[1].tx_packets, 111);
        assert_int_equal(l[1].tx_errors, 4);
        assert_int_equal(l[1].tx_dropped, 5);
        free(l);
}

static void test_net_dev_headers_only_is_empty(void **state) {
        NetIfUsage *l = NULL;
        size_t n = 7;
        assert_int_equal(stats_parse_net_dev("Inter-| Receive | Transmit\n face |bytes\n", &l, &n), 0);
        assert_int_equal(n, 0);
        free(l);
}

static void test_net_dev_rejects_short_lines(void **state) {
        NetIfUsage *l = NULL;
        size_t n = 0;
        assert_int_equal(stats_parse_net_dev("  eth0: 1 2 3\n", &l, &n), -EINVAL);
        assert_int_equal(stats_parse_net_dev(": 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", &l, &n), -EINVAL);
        assert_int_equal(
                stats_parse_net_dev("a-name-that-is-far-too-long-for-an-interface: 1 2 3 4 5 6 7 8 9 "
                                    "10 11 12 13 14 15 16\n",
                                    &l, &n),
                -EINVAL);
}

static void test_default_interface_prefers_eth0_then_not_lo(void **state) {
        NetIfUsage l[3] = {{.name = "lo"}, {.name = "net1"}, {.name = "eth0"}};
        assert_string_equal(stats_default_interface(l, 3)->name, "eth0");
        assert_string_equal(stats_default_interface(l, 2)->name, "net1");
        assert_null(stats_default_interface(l, 1));
        assert_null(stats_default_interface(NULL, 0));
}

static void test_field_finds_whole_keys_only(void **state) {
        const char *text = "total_rss_huge 5\ntotal_rss 42\ninactive_file 7\n";
        uint64_t v = 0;
        assert_true(stats_field(text, "total_rss", &v));
        assert_int_equal(v, 42);
        assert_true(stats_field(text, "inactive_file", &v));
        assert_int_equal(v, 7);
        assert_false(stats_field(text, "rss", &v));
        assert_false(stats_field(NULL, "rss", &v));
}

static void test_parse_u64(void **state) {
        uint64_t v = 0;
        assert_true(stats_parse_u64("123\n", &v));
        assert_int_equal(v, 123);
        assert_false(stats_parse_u64("max\n", &v));
        assert_false(stats_parse_u64("-1", &v));
        assert_false(stats_parse_u64("12abc", &v));
        assert_false(stats_parse_u64("99999999999999999999999", &v));
        assert_false(stats_parse_u64(NULL, &v));
}

static void test_memory_working_set_v1(void **state) {
        UsageSample s = {0};
        stats_memory_from(1000,
                          "total_inactive_file 300\ntotal_rss 600\ntotal_pgfault 9\ntotal_pgmajfault 1\n",
                          "9223372036854771712\n", true, &s);
        assert_true(s.has_memory);
        assert_int_equal(s.mem_usage, 1000);
        assert_int_equal(s.mem_working_set, 700);
        assert_int_equal(s.mem_rss, 600);
        assert_int_equal(s.mem_page_faults, 9);
        assert_int_equal(s.mem_major_page_faults, 1);
        assert_false(s.has_available); /* v1's "no limit" */
}

static void test_memory_v2_with_limit(void **state) {
        UsageSample s = {0};
        stats_memory_from(1000, "anon 500\ninactive_file 2000\npgfault 3\npgmajfault 0\n", "4096\n", false,
                          &s);
        assert_int_equal(s.mem_working_set, 0); /* never negative */
        assert_int_equal(s.mem_rss, 500);
        assert_true(s.has_available);
        assert_int_equal(s.mem_available, 4096);
        UsageSample t = {0};
        stats_memory_from(1000, "", "max\n", false, &t);
        assert_false(t.has_available);
        assert_int_equal(t.mem_working_set, 1000);
}

static void test_cpu_rate(void **state) {
        UsageSample prev = {.timestamp = 1000000000, .has_cpu = true, .cpu_ns = 500000000};
        UsageSample s = {.timestamp = 3000000000, .has_cpu = true, .cpu_ns = 1500000000};
        stats_cpu_rate(&prev, &s);
        assert_true(s.has_nano_cores);
        assert_int_equal(s.nano_cores, 500000000); /* half a core */
}

static void test_cpu_rate_needs_a_sound_previous_sample(void **state) {
        UsageSample s = {.timestamp = 2, .has_cpu = true, .cpu_ns = 10};
        stats_cpu_rate(NULL, &s);
        assert_false(s.has_nano_cores);
        UsageSample none = {0};
        stats_cpu_rate(&none, &s);
        assert_false(s.has_nano_cores);
        UsageSample later = {.timestamp = 5, .has_cpu = true, .cpu_ns = 1};
        stats_cpu_rate(&later, &s); /* the clock went back */
        assert_false(s.has_nano_cores);
        UsageSample more = {.timestamp = 1, .has_cpu = true, .cpu_ns = 20};
        stats_cpu_rate(&more, &s); /* the counter went back: a container left the sum */
        assert_false(s.has_nano_cores);
}

static void test_usage_add(void **state) {
        UsageSample sum = {0};
        UsageSample a = {.timestamp = 5, .has_cpu = true, .cpu_ns = 10, .has_pids = true, .pids = 2};
        UsageSample b = {.timestamp = 7,
                         .has_memory = true,
                         .mem_usage = 100,
                         .mem_working_set = 60,
                         .has_pids = true,
                         .pids = 1};
        stats_usage_add(&sum, &a);
        stats_usage_add(&sum, &b);
        assert_int_equal(sum.timestamp, 7);
        assert_true(sum.has_cpu && sum.has_memory && sum.has_pids);
        assert_int_equal(sum.cpu_ns, 10);
        assert_int_equal(sum.mem_usage, 100);
        assert_int_equal(sum.mem_working_set, 60);
        assert_int_equal(sum.pids, 3);
        assert_false(sum.has_available);
}

static void test_psi_some_and_full(void **state) {
        PsiStats p = {0};
        assert_int_equal(stats_parse_psi("some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\n"
                                         "full avg10=0.00 avg60=0.00 avg300=0.00 total=789\n",
                                         &p),
                         0);
        assert_true(p.has_some && p.has_full);
        assert_int_equal(p.some.total_us, 123456);
        assert_true(p.some.avg10 > 1.49 && p.some.avg10 < 1.51);
        assert_true(p.some.avg60 > 0.24 && p.some.avg60 < 0.26);
        assert_int_equal(p.full.total_us, 789);
}

static void test_psi_some_only_and_malformed(void **state) {
        PsiStats p = {.has_full = true};
        assert_int_equal(stats_parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n", &p), 0);
        assert_true(p.has_some);
        assert_false(p.has_full); /* older kernels write no "full" line for cpu */
        PsiStats q = {0};
        assert_int_equal(stats_parse_psi("some avg10=0.00 total=5\n", &q), -EINVAL);
        assert_int_equal(stats_parse_psi("most avg10=0.00 avg60=0.00 avg300=0.00 total=5\n", &q), -EINVAL);
        assert_int_equal(stats_parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=5x\n", &q), -EINVAL);
        assert_false(q.has_some); /* untouched on failure */
}

static void test_blkio_v1_bytes_and_ops_per_device(void **state) {
        UsageSample s = {0};
        assert_int_equal(stats_parse_blkio_v1("253:0 Read 4096\n253:0 Write 8192\n253:0 Sync 8192\n"
                                              "253:0 Async 4096\n253:0 Discard 0\n253:0 Total 12288\n"
                                              "7:1 Read 512\n7:1 Write 0\nTotal 12800\n",
                                              true, &s),
                         0);
        assert_int_equal(stats_parse_blkio_v1("253:0 Read 1\n253:0 Write 2\nTotal 3\n", false, &s), 0);
        assert_true(s.has_blkio);
        assert_int_equal(s.n_blkio, 2);
        assert_int_equal(s.blkio[0].major, 253);
        assert_int_equal(s.blkio[0].minor, 0);
        assert_int_equal(s.blkio[0].read_bytes, 4096);
        assert_int_equal(s.blkio[0].write_bytes, 8192);
        assert_int_equal(s.blkio[0].reads, 1);
        assert_int_equal(s.blkio[0].writes, 2);
        assert_int_equal(s.blkio[1].major, 7);
        assert_int_equal(s.blkio[1].read_bytes, 512);
}

static void test_blkio_v1_empty_and_malformed(void **state) {
        UsageSample s = {0};
        assert_int_equal(stats_parse_blkio_v1("Total 0\n", true, &s), 0);
        assert_false(s.has_blkio); /* a cgroup that did no I/O lists no device */
        assert_int_equal(stats_parse_blkio_v1("253:0 Read\n", true, &s), -EINVAL);
        assert_int_equal(stats_parse_blkio_v1("sda Read 1\n", true, &s), -EINVAL);
}

static void test_blkio_device_limit(void **state) {
        UsageSample s = {0};
        char text[64];
        for (unsigned i = 0; i < STATS_BLKIO_MAX; i++) {
                snprintf(text, sizeof(text), "8:%u Read 1\n", i);
                assert_int_equal(stats_parse_blkio_v1(text, true, &s), 0);
        }
        assert_int_equal(stats_parse_blkio_v1("9:0 Read 1\n", true, &s), -E2BIG);
        assert_int_equal(s.n_blkio, STATS_BLKIO_MAX);
}

static void test_io_stat_v2(void **state) {
        UsageSample s = {0};
        assert_int_equal(stats_parse_io_stat("253:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
                                             "8:16 rbytes=10 wbytes=0 rios=3 wios=0 dbytes=0 dios=0\n",
                                             &s),
                         0);
        assert_true(s.has_blkio);
        assert_int_equal(s.n_blkio, 2);
        assert_int_equal(s.blkio[0].read_bytes, 4096);
        assert_int_equal(s.blkio[0].write_bytes, 8192);
        assert_int_equal(s.blkio[0].reads, 1);
        assert_int_equal(s.blkio[0].writes, 2);
        assert_int_equal(s.blkio[1].major, 8);
        assert_int_equal(s.blkio[1].minor, 16);
        assert_int_equal(s.blkio[1].reads, 3);
        UsageSample t = {0};
        assert_int_equal(stats_parse_io_stat("", &t), 0);
        assert_false(t.has_blkio);
        assert_int_equal(stats_parse_io_stat("253:0 rbytes=x\n", &t), -EINVAL);
        assert_int_equal(stats_parse_io_stat("253:0rbytes=1\n", &t), -EINVAL);
        assert_int_equal(stats_parse_io_stat("253 rbytes=1\n", &t), -EINVAL);
}

static void test_hugetlb_pagesize_names(void **state) {
        char b[16];
        assert_int_equal(stats_hugetlb_pagesize("hugepages-2048kB", b, sizeof(b)), 0);
        assert_string_equal(b, "2MB");
        assert_int_equal(stats_hugetlb_pagesize("hugepages-1048576kB", b, sizeof(b)), 0);
        assert_string_equal(b, "1GB");
        assert_int_equal(stats_hugetlb_pagesize("hugepages-64kB", b, sizeof(b)), 0);
        assert_string_equal(b, "64KB");
        assert_int_equal(stats_hugetlb_pagesize("hugepages-32768kB", b, sizeof(b)), 0);
        assert_string_equal(b, "32MB");
        assert_int_equal(stats_hugetlb_pagesize("hugepages-2048", b, sizeof(b)), -EINVAL);
        assert_int_equal(stats_hugetlb_pagesize("hugepages-kB", b, sizeof(b)), -EINVAL);
        assert_int_equal(stats_hugetlb_pagesize("hugepages-0kB", b, sizeof(b)), -EINVAL);
        assert_int_equal(stats_hugetlb_pagesize(".", b, sizeof(b)), -EINVAL);
        assert_int_equal(stats_hugetlb_pagesize("hugepages-2048kB", b, 3), -ENAMETOOLONG);
}

static void test_swap_v1(void **state) {
        UsageSample s = {0};
        /* 1000 in memory and swap together, 700 of it in memory; memsw allows 500 beyond memory's 1000. */
        stats_swap_v1("1000\n", "1500\n", 700, "1000\n", &s);
        assert_true(s.has_swap && s.has_swap_available);
        assert_int_equal(s.swap_usage, 300);
        assert_int_equal(s.swap_available, 200);
        UsageSample t = {0};
        stats_swap_v1("700\n", "9223372036854771712\n", 700, "9223372036854771712\n", &t);
        assert_true(t.has_swap);
        assert_int_equal(t.swap_usage, 0);
        assert_false(t.has_swap_available); /* no limit: nothing to subtract from */
        UsageSample u = {0};
        stats_swap_v1(NULL, NULL, 700, NULL, &u); /* swap accounting off: no memsw files */
        assert_false(u.has_swap);
}

static void test_swap_v2(void **state) {
        UsageSample s = {0};
        stats_swap_v2("4096\n", "10000\n", &s);
        assert_true(s.has_swap && s.has_swap_available);
        assert_int_equal(s.swap_usage, 4096);
        assert_int_equal(s.swap_available, 5904);
        UsageSample t = {0};
        stats_swap_v2("0\n", "max\n", &t);
        assert_true(t.has_swap);
        assert_false(t.has_swap_available);
        UsageSample u = {0};
        stats_swap_v2(NULL, "max\n", &u);
        assert_false(u.has_swap);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_net_dev_parses_every_interface),
                cmocka_unit_test(test_net_dev_headers_only_is_empty),
                cmocka_unit_test(test_net_dev_rejects_short_lines),
                cmocka_unit_test(test_default_interface_prefers_eth0_then_not_lo),
                cmocka_unit_test(test_field_finds_whole_keys_only),
                cmocka_unit_test(test_parse_u64),
                cmocka_unit_test(test_memory_working_set_v1),
                cmocka_unit_test(test_memory_v2_with_limit),
                cmocka_unit_test(test_cpu_rate),
                cmocka_unit_test(test_cpu_rate_needs_a_sound_previous_sample),
                cmocka_unit_test(test_usage_add),
                cmocka_unit_test(test_psi_some_and_full),
                cmocka_unit_test(test_psi_some_only_and_malformed),
                cmocka_unit_test(test_blkio_v1_bytes_and_ops_per_device),
                cmocka_unit_test(test_blkio_v1_empty_and_malformed),
                cmocka_unit_test(test_blkio_device_limit),
                cmocka_unit_test(test_io_stat_v2),
                cmocka_unit_test(test_hugetlb_pagesize_names),
                cmocka_unit_test(test_swap_v1),
                cmocka_unit_test(test_swap_v2),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
