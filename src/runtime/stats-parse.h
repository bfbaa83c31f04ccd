/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The pure part of stats: parsing cgroup and procfs text and the arithmetic on samples. Nothing here
 * reads files, so every function is unit-tested (tests/unit/test-stats-parse.c).
 */

/* One cgroup's usage at one instant. Absent parts have their has_* flag false. */
typedef struct UsageSample {
        int64_t timestamp; /* CLOCK_REALTIME ns */
        bool has_cpu, has_nano_cores, has_memory, has_available, has_pids;
        uint64_t cpu_ns, nano_cores;
        uint64_t mem_working_set, mem_usage, mem_available, mem_rss, mem_page_faults, mem_major_page_faults;
        uint64_t pids;
} UsageSample;

/* Cumulative counters of one network interface (a line of /proc/net/dev). */
typedef struct NetIfUsage {
        char name[32];
        uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped;
        uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped;
} NetIfUsage;

/* The value of "key value" line `key` in memory.stat / cpu.stat text. */
bool stats_field(const char *text, const char *key, uint64_t *ret);

/* A file holding one decimal number ("max" and garbage are false). */
bool stats_parse_u64(const char *text, uint64_t *ret);

/*
 * Memory from the cgroup's usage, memory.stat text and limit (NULL: none). `v1` picks the v1 key names
 * (total_*). Working set is usage less inactive file pages, as the kubelet defines it.
 */
void stats_memory_from(uint64_t usage, const char *stat_text, const char *limit_text, bool v1,
                       UsageSample *s);

/* Parse /proc/net/dev text; *ret is a calloc'ed array, freed by the caller. -EINVAL on malformed text. */
int stats_parse_net_dev(const char *text, NetIfUsage **ret, size_t *ret_n);

/*
 * The interface the kubelet shows as the pod's: eth0 if present, otherwise the first that is not the
 * loopback. NULL when there is none.
 */
const NetIfUsage *stats_default_interface(const NetIfUsage *l, size_t n);

/* Set s->nano_cores from the CPU used since `prev` (a sample of the same cgroup), when that is sound. */
void stats_cpu_rate(const UsageSample *prev, UsageSample *s);

/* Add `s` into `sum` (a pod's usage from its containers); a part is present if any addend has it. */
void stats_usage_add(UsageSample *sum, const UsageSample *s);
