/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "stats-parse.h"

/* Where the kernel mounts the cgroup hierarchies. */
#define CGROUP_FS_ROOT "/sys/fs/cgroup"

/* Files only the metric groups need (ListPodSandboxMetrics), read when a group asks for them. */
enum {
        CGROUP_READ_OOM = 1 << 0,     /* oom: memory.oom_control / memory.events */
        CGROUP_READ_BLKIO = 1 << 1,   /* diskIO: blkio.throttle.* / io.stat */
        CGROUP_READ_HUGETLB = 1 << 2, /* hugetlb: hugetlb.<size>.* */
        CGROUP_READ_ALL = CGROUP_READ_OOM | CGROUP_READ_BLKIO | CGROUP_READ_HUGETLB,
};

/*
 * Read cgroup `cg` (a path from a hierarchy's root: "/crio-c/crio-<id>", or a systemd scope's
 * "/system.slice/crio-<id>.scope") under `root` into *s: CPU, memory, swap, processes and PSI, plus OOM
 * kills, block I/O and huge pages as `extra` (CGROUP_READ_*) asks. The layout is found under `root`: v1
 * controllers (cpuacct present), with the unified tree at unified/ on a hybrid host, or one v2 tree. What
 * the cgroup has no file for stays absent (has_* false). Blocks only on cgroup files; never fails
 * (unit-tested on fake trees in tests/unit/test-cgroup-stats.c).
 */
void cgroup_stats_read(const char *root, const char *cg, unsigned extra, UsageSample *s);
