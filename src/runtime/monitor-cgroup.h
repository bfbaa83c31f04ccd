/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <sys/types.h>

#include "error.h"

/*
 * monitor_cgroup = "pod" (cgroupfs): a container's conmon runs in its own cgroup next to the
 * container's, "<pod cgroup parent>/crio-conmon-<id>", in every hierarchy, so that the pod is charged
 * for its monitors as on CRI-O.
 */

/* The mount points of the cgroup hierarchies in a mountinfo text (v1, named and v2 alike). Pure. */
char **cgroup_mount_points(const char *mountinfo);

/*
 * Create cgroup `cg` (from a hierarchy's root) in every hierarchy, with a v1 cpuset's CPUs and memory
 * nodes taken from its parent at each new level, and move `pid` into it. On failure what was made is
 * removed. Blocks on cgroupfs writes.
 */
int monitor_cgroup_join(const char *cg, pid_t pid, Error **reterr);

/* Remove `cg` from every hierarchy, waiting up to ~2 s for an exiting monitor to leave it. */
void monitor_cgroup_remove(const char *cg);
