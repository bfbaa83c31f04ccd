/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The pure part of stats: parsing cgroup and procfs text and the arithmetic on samples. Nothing here
 * reads files, so every function is unit-tested (tests/unit/test-stats-parse.c).
 */

/* One line of a PSI file ("some avg10=0.12 avg60=0.05 avg300=0.01 total=123456"); total in µs. */
typedef struct PsiLine {
        double avg10, avg60, avg300;
        uint64_t total_us;
} PsiLine;

/* A cgroup's <resource>.pressure file; "full" is absent from cpu.pressure on older kernels. */
typedef struct PsiStats {
        bool has_some, has_full;
        PsiLine some, full;
} PsiStats;

typedef enum PsiResource { PSI_CPU, PSI_MEMORY, PSI_IO, PSI_N } PsiResource;

/* One block device's counters: bytes and operations per direction. */
typedef struct BlkioDevice {
        unsigned major, minor;
        char name[32]; /* "/dev/vda" when resolved, else "" */
        uint64_t read_bytes, write_bytes, reads, writes;
} BlkioDevice;

/* One huge page size's usage; max_usage exists on v1 only. */
typedef struct HugetlbUsage {
        char pagesize[16]; /* "2MB", "1GB": the kernel's names in hugetlb.<size>.* */
        bool has_max_usage;
        uint64_t usage, max_usage, failcnt;
} HugetlbUsage;

#define STATS_BLKIO_MAX 16
#define STATS_HUGETLB_MAX 4

/* One cgroup's usage at one instant. Absent parts have their has_* flag false. */
typedef struct UsageSample {
        int64_t timestamp; /* CLOCK_REALTIME ns */
        bool has_cpu, has_nano_cores, has_memory, has_available, has_pids;
        uint64_t cpu_ns, nano_cores;
        uint64_t mem_working_set, mem_usage, mem_available, mem_rss, mem_page_faults, mem_major_page_faults;
        uint64_t pids;
        bool has_swap, has_swap_available, has_oom, has_blkio;
        uint64_t swap_usage, swap_available, oom_kills;
        PsiStats psi[PSI_N];
        size_t n_blkio, n_hugetlb;
        BlkioDevice blkio[STATS_BLKIO_MAX];
        HugetlbUsage hugetlb[STATS_HUGETLB_MAX];
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

/* Parse a <resource>.pressure file into *ret (lines it lacks stay absent). -EINVAL on malformed text. */
int stats_parse_psi(const char *text, PsiStats *ret);

/*
 * Add v1 blkio.throttle.io_service_bytes (`bytes`) or io_serviced text ("8:0 Read 4096" lines; other
 * operations and the "Total" line are skipped) to s->blkio, a device per major:minor. -EINVAL on
 * malformed text, -E2BIG past STATS_BLKIO_MAX devices (those seen so far are kept).
 */
int stats_parse_blkio_v1(const char *text, bool bytes, UsageSample *s);

/* The same from v2 io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" lines). */
int stats_parse_io_stat(const char *text, UsageSample *s);

/*
 * The kernel's name for a huge page size from a /sys/kernel/mm/hugepages entry ("hugepages-2048kB" ->
 * "2MB", "hugepages-1048576kB" -> "1GB", "hugepages-64kB" -> "64KB"). -EINVAL for other names.
 */
int stats_hugetlb_pagesize(const char *dirent, char *ret, size_t size);

/*
 * Swap from v1 files (memsw usage and limit, memory usage and limit; memsw counts memory plus swap) or
 * v2's memory.swap.current and memory.swap.max (pass usage/limit of memory as NULL). Sets has_swap when
 * the usage parses and has_swap_available when there is a limit.
 */
void stats_swap_v1(const char *memsw_usage, const char *memsw_limit, uint64_t mem_usage,
                   const char *mem_limit, UsageSample *s);
void stats_swap_v2(const char *swap_current, const char *swap_max, UsageSample *s);
