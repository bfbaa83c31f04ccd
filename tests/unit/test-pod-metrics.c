/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macros.h"
#include "pod-metrics.h"

static void test_groups(void **state) {
        unsigned g = 0;
        const char *bad = NULL;
        assert_int_equal(pod_metrics_groups(NULL, &g, &bad), 0);
        assert_int_equal(g, 0);
        char *const some[] = {"cpu", "network", "spec", "hugetlb", NULL};
        assert_int_equal(pod_metrics_groups(some, &g, &bad), 0);
        assert_int_equal(g, POD_METRICS_CPU | POD_METRICS_NETWORK | POD_METRICS_SPEC | POD_METRICS_HUGETLB);
        char *const rest[] = {"oom", "diskIO", "pressure", NULL};
        assert_int_equal(pod_metrics_groups(rest, &g, &bad), 0);
        assert_int_equal(g, POD_METRICS_OOM | POD_METRICS_DISKIO | POD_METRICS_PRESSURE);
        char *const all[] = {"all", NULL};
        assert_int_equal(pod_metrics_groups(all, &g, &bad), 0);
        assert_true(g & POD_METRICS_DISK);
        char *const wrong[] = {"cpu", "gpu", NULL};
        assert_int_equal(pod_metrics_groups(wrong, &g, &bad), -EINVAL);
        assert_string_equal(bad, "gpu");
}

static void free_descriptors(Runtime__V1__MetricDescriptor **l, size_t n) {
        for (size_t i = 0; i < n; i++)
                protobuf_c_message_free_unpacked(&l[i]->base, NULL);
        free(l);
}

static void test_descriptors_follow_the_groups(void **state) {
        size_t n = 0;
        Runtime__V1__MetricDescriptor **l = pod_metrics_descriptors(0, &n);
        assert_int_equal(n, 1);
        assert_string_equal(l[0]->name, "container_last_seen");
        assert_int_equal(l[0]->n_label_keys, 6);
        free_descriptors(l, n);
        l = pod_metrics_descriptors(POD_METRICS_NETWORK, &n);
        assert_int_equal(n, 9);
        assert_string_equal(l[1]->name, "container_network_receive_bytes_total");
        assert_string_equal(l[1]->label_keys[6], "interface");
        free_descriptors(l, n);
}

static void test_descriptors_of_the_new_groups(void **state) {
        size_t n = 0;
        Runtime__V1__MetricDescriptor **l =
                pod_metrics_descriptors(POD_METRICS_HUGETLB | POD_METRICS_DISKIO | POD_METRICS_PRESSURE, &n);
        assert_int_equal(n, 1 + 3 + 5 + 6);
        for (size_t i = 0; i < n; i++) {
                if (strcmp(l[i]->name, "container_blkio_device_usage_total") == 0) {
                        assert_int_equal(l[i]->n_label_keys, 10);
                        assert_string_equal(l[i]->label_keys[6], "device");
                        assert_string_equal(l[i]->label_keys[9], "operation");
                } else if (strncmp(l[i]->name, "container_fs_", 13) == 0) {
                        assert_int_equal(l[i]->n_label_keys, 7);
                        assert_string_equal(l[i]->label_keys[6], "device");
                } else if (strncmp(l[i]->name, "container_hugetlb_", 18) == 0) {
                        assert_int_equal(l[i]->n_label_keys, 7);
                        assert_string_equal(l[i]->label_keys[6], "pagesize");
                } else {
                        assert_int_equal(l[i]->n_label_keys, 6);
                }
        }
        free_descriptors(l, n);
        l = pod_metrics_descriptors(POD_METRICS_OOM, &n);
        assert_int_equal(n, 2);
        assert_string_equal(l[1]->name, "container_oom_events_total");
        free_descriptors(l, n);
}

static const Runtime__V1__Metric *find(Runtime__V1__Metric **l, size_t n, const char *name,
                                       const char *ifc) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(l[i]->name, name) == 0 && (!ifc || strcmp(l[i]->label_values[6], ifc) == 0))
                        return l[i];
        return NULL;
}

static void test_metrics_of_a_pod(void **state) {
        PodInfo pod = {.id = "p1", .name = "web", .namespace_ = "ns"};
        ContainerInfo ctr = {.id = "c1", .name = "app", .image = "busybox"};
        ContainerStatsInfo cs = {.info = &ctr,
                                 .usage = {.timestamp = 5000000000,
                                           .has_cpu = true,
                                           .cpu_ns = 2500000000,
                                           .has_memory = true,
                                           .mem_working_set = 4096},
                                 .has_layer = true,
                                 .layer_bytes = 77};
        ContainerStatsInfo *ctrs[] = {&cs};
        NetIfUsage ifaces[] = {{.name = "lo", .rx_bytes = 10},
                               {.name = "eth0", .rx_bytes = 20, .tx_errors = 2}};
        PodStatsInfo ps = {.info = &pod,
                           .usage = {.timestamp = 5000000000},
                           .has_network = true,
                           .net_timestamp = 6,
                           .ifaces = ifaces,
                           .n_ifaces = 2,
                           .ctrs = ctrs,
                           .n_ctrs = 1};
        Runtime__V1__PodSandboxMetrics *m =
                pod_metrics_from_stats(&ps, POD_METRICS_CPU | POD_METRICS_MEMORY | POD_METRICS_NETWORK);
        assert_string_equal(m->pod_sandbox_id, "p1");
        const Runtime__V1__Metric *rx =
                find(m->metrics, m->n_metrics, "container_network_receive_bytes_total", "eth0");
        assert_non_null(rx);
        assert_int_equal(rx->value->value, 20);
        assert_string_equal(rx->label_values[0], "POD");
        assert_string_equal(rx->label_values[5], "web");
        assert_int_equal(find(m->metrics, m->n_metrics, "container_network_transmit_errors_total", "eth0")
                                 ->value->value,
                         2);
        /* CPU and memory are the containers'; the disk group is not asked for. */
        assert_null(find(m->metrics, m->n_metrics, "container_cpu_usage_seconds_total", NULL));
        assert_int_equal(m->n_container_metrics, 1);
        Runtime__V1__ContainerMetrics *c = m->container_metrics[0];
        assert_string_equal(c->container_id, "c1");
        const Runtime__V1__Metric *cpu =
                find(c->metrics, c->n_metrics, "container_cpu_usage_seconds_total", NULL);
        assert_int_equal(cpu->value->value, 2);
        assert_int_equal(cpu->metric_type, RUNTIME__V1__METRIC_TYPE__COUNTER);
        assert_string_equal(cpu->label_values[0], "app");
        assert_string_equal(cpu->label_values[2], "busybox");
        assert_int_equal(find(c->metrics, c->n_metrics, "container_last_seen", NULL)->value->value, 5);
        assert_int_equal(
                find(c->metrics, c->n_metrics, "container_memory_working_set_bytes", NULL)->value->value,
                4096);
        assert_null(find(c->metrics, c->n_metrics, "container_fs_usage_bytes", NULL));
        assert_null(find(c->metrics, c->n_metrics, "container_network_receive_bytes_total", NULL));
        assert_null(find(c->metrics, c->n_metrics, "container_spec_memory_limit_bytes", NULL));
        protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void test_spec_metrics_are_the_limits_that_are_set(void **state) {
        PodInfo pod = {.id = "p1", .name = "web", .namespace_ = "ns"};
        ContainerInfo ctr = {.id = "c1", .name = "app", .image = "busybox"};
        ContainerStatsInfo cs = {.info = &ctr,
                                 .usage = {.timestamp = 5000000000},
                                 .spec_cpu_period = 100000,
                                 .spec_cpu_shares = 512,
                                 .spec_memory_limit = 268435456};
        ContainerStatsInfo *ctrs[] = {&cs};
        PodStatsInfo ps = {.info = &pod, .usage = {.timestamp = 5000000000}, .ctrs = ctrs, .n_ctrs = 1};
        Runtime__V1__PodSandboxMetrics *m = pod_metrics_from_stats(&ps, POD_METRICS_SPEC);
        Runtime__V1__ContainerMetrics *c = m->container_metrics[0];
        const Runtime__V1__Metric *mem =
                find(c->metrics, c->n_metrics, "container_spec_memory_limit_bytes", NULL);
        assert_non_null(mem);
        assert_int_equal(mem->value->value, 268435456);
        assert_int_equal(mem->metric_type, RUNTIME__V1__METRIC_TYPE__GAUGE);
        assert_int_equal(find(c->metrics, c->n_metrics, "container_spec_cpu_shares", NULL)->value->value,
                         512);
        assert_int_equal(find(c->metrics, c->n_metrics, "container_spec_cpu_period", NULL)->value->value,
                         100000);
        /* Not set: left out. Spec metrics are the containers', never the pod's. */
        assert_null(find(c->metrics, c->n_metrics, "container_spec_cpu_quota", NULL));
        assert_null(find(c->metrics, c->n_metrics, "container_spec_memory_swap_limit_bytes", NULL));
        assert_null(find(m->metrics, m->n_metrics, "container_spec_memory_limit_bytes", NULL));
        protobuf_c_message_free_unpacked(&m->base, NULL);
}

static const Runtime__V1__Metric *find_label(Runtime__V1__Metric **l, size_t n, const char *name, size_t k,
                                             const char *v) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(l[i]->name, name) == 0 && l[i]->n_label_values > k &&
                    strcmp(l[i]->label_values[k], v) == 0)
                        return l[i];
        return NULL;
}

static void test_hugetlb_oom_diskio_pressure_metrics(void **state) {
        PodInfo pod = {.id = "p1", .name = "web", .namespace_ = "ns"};
        ContainerInfo ctr = {.id = "c1", .name = "app", .image = "busybox"};
        ContainerStatsInfo cs = {
                .info = &ctr,
                .usage = {.timestamp = 5000000000,
                          .has_oom = true,
                          .oom_kills = 3,
                          .psi = {[PSI_CPU] = {.has_some = true, .some.total_us = 2500000},
                                  [PSI_IO] = {.has_some = true,
                                              .has_full = true,
                                              .some.total_us = 7000000,
                                              .full.total_us = 1000000}},
                          .n_blkio = 1,
                          .blkio = {{.major = 253,
                                     .minor = 0,
                                     .name = "/dev/vda",
                                     .read_bytes = 4096,
                                     .write_bytes = 8192,
                                     .reads = 1,
                                     .writes = 2}},
                          .n_hugetlb = 2,
                          .hugetlb = {{.pagesize = "2MB", .usage = 2097152, .failcnt = 1},
                                      {.pagesize = "1GB", .has_max_usage = true, .max_usage = 5}}}};
        ContainerStatsInfo *ctrs[] = {&cs};
        PodStatsInfo ps = {.info = &pod, .usage = {.timestamp = 5000000000}, .ctrs = ctrs, .n_ctrs = 1};
        Runtime__V1__PodSandboxMetrics *m = pod_metrics_from_stats(
                &ps, POD_METRICS_HUGETLB | POD_METRICS_OOM | POD_METRICS_DISKIO | POD_METRICS_PRESSURE);
        assert_int_equal(m->n_metrics, 1); /* the pod has only container_last_seen */
        Runtime__V1__ContainerMetrics *c = m->container_metrics[0];
        Runtime__V1__Metric **l = c->metrics;
        size_t n = c->n_metrics;
        assert_int_equal(find(l, n, "container_oom_events_total", NULL)->value->value, 3);
        assert_int_equal(find_label(l, n, "container_hugetlb_usage_bytes", 6, "2MB")->value->value, 2097152);
        assert_int_equal(find_label(l, n, "container_hugetlb_failcnt", 6, "2MB")->value->value, 1);
        assert_non_null(find_label(l, n, "container_hugetlb_usage_bytes", 6, "1GB"));
        /* v2 keeps no maximum: left out rather than reported as 0. */
        assert_null(find_label(l, n, "container_hugetlb_max_usage_bytes", 6, "2MB"));
        assert_int_equal(find_label(l, n, "container_hugetlb_max_usage_bytes", 6, "1GB")->value->value, 5);
        const Runtime__V1__Metric *rd = find_label(l, n, "container_blkio_device_usage_total", 9, "Read");
        assert_int_equal(rd->value->value, 4096);
        assert_string_equal(rd->label_values[6], "/dev/vda");
        assert_string_equal(rd->label_values[7], "253");
        assert_string_equal(rd->label_values[8], "0");
        assert_int_equal(find_label(l, n, "container_blkio_device_usage_total", 9, "Write")->value->value,
                         8192);
        assert_int_equal(find_label(l, n, "container_fs_writes_bytes_total", 6, "/dev/vda")->value->value,
                         8192);
        assert_int_equal(find(l, n, "container_fs_reads_total", NULL)->value->value, 1);
        assert_int_equal(find(l, n, "container_fs_writes_total", NULL)->value->value, 2);
        /* PSI in whole seconds; a line the kernel did not write is left out. */
        assert_int_equal(find(l, n, "container_pressure_cpu_waiting_seconds_total", NULL)->value->value, 2);
        assert_null(find(l, n, "container_pressure_cpu_stalled_seconds_total", NULL));
        assert_null(find(l, n, "container_pressure_memory_waiting_seconds_total", NULL));
        assert_int_equal(find(l, n, "container_pressure_io_waiting_seconds_total", NULL)->value->value, 7);
        assert_int_equal(find(l, n, "container_pressure_io_stalled_seconds_total", NULL)->value->value, 1);
        protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void test_new_groups_report_nothing_the_cgroup_lacks(void **state) {
        PodInfo pod = {.id = "p1", .name = "web", .namespace_ = "ns"};
        ContainerInfo ctr = {.id = "c1", .name = "app", .image = "busybox"};
        ContainerStatsInfo cs = {.info = &ctr, .usage = {.timestamp = 5000000000}};
        ContainerStatsInfo *ctrs[] = {&cs};
        PodStatsInfo ps = {.info = &pod, .usage = {.timestamp = 5000000000}, .ctrs = ctrs, .n_ctrs = 1};
        Runtime__V1__PodSandboxMetrics *m = pod_metrics_from_stats(&ps, ~0u);
        assert_int_equal(m->container_metrics[0]->n_metrics, 1); /* container_last_seen */
        protobuf_c_message_free_unpacked(&m->base, NULL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_groups),
                cmocka_unit_test(test_descriptors_follow_the_groups),
                cmocka_unit_test(test_metrics_of_a_pod),
                cmocka_unit_test(test_spec_metrics_are_the_limits_that_are_set),
                cmocka_unit_test(test_descriptors_of_the_new_groups),
                cmocka_unit_test(test_hugetlb_oom_diskio_pressure_metrics),
                cmocka_unit_test(test_new_groups_report_nothing_the_cgroup_lacks),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
