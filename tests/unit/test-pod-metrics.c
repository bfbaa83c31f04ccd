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
        assert_int_equal(g, POD_METRICS_CPU | POD_METRICS_NETWORK | POD_METRICS_SPEC);
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_groups),
                cmocka_unit_test(test_descriptors_follow_the_groups),
                cmocka_unit_test(test_metrics_of_a_pod),
                cmocka_unit_test(test_spec_metrics_are_the_limits_that_are_set),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
