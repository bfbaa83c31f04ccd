/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "stats-parse.h"

/* Where the kernel mounts the cgroup hierarchies. */
#define CGROUP_FS_ROOT "/sys/fs/cgroup"

/*
 * Read cgroup `cg` (a path from a hierarchy's root: "/crio-c/crio-<id>", or a systemd scope's
 * "/system.slice/crio-<id>.scope") under `root` into *s: CPU, memory, swap, OOM kills, processes, block
 * I/O, huge pages and PSI. The layout is found under `root`: v1 controllers (cpuacct present), with
 * the unified tree at unified/ on a hybrid host, or one v2 tree. What the cgroup has no file for stays
 * absent (has_* false). Blocks only on cgroup files; never fails (unit-tested on fake trees in
 * tests/unit/test-cgroup-stats.c).
 */
void cgroup_stats_read(const char *root, const char *cg, UsageSample *s);
