/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

/*
 * Where a container's cgroup lives, computed without touching the filesystem (so both managers' layouts
 * are unit-tested on any host; tests/unit/test-cgroup-path.c).
 */

/*
 * The cgroup that runc's systemd driver creates for cgroupsPath `spec` ("slice:prefix:name"), relative
 * to the root of a hierarchy: the slice expanded into its parents ("a-b.slice" ->
 * "/a.slice/a-b.slice"), then the unit "<prefix>-<name>.scope" (or `name` itself when it is a slice).
 * An empty slice is "system.slice", "-.slice" the root. The same path holds under every v1 controller
 * and on the unified (v2) tree, as systemd keeps its units at the same place in each; it assumes PID 1
 * sits at the root of each hierarchy, as systemd does. *ret is malloc'ed; -EINVAL for a malformed spec.
 */
int cgroup_systemd_path(const char *spec, char **ret);

/*
 * The file `file` of cgroup `cg` (a path from a hierarchy's root, "/crio-c/crio-<id>") under `root`:
 * "<root>/<controller><cg>/<file>" for a v1 controller, "<root><cg>/<file>" with `controller` NULL for
 * a unified tree (pure v2 mounts it at /sys/fs/cgroup, a hybrid host at /sys/fs/cgroup/unified).
 */
char *cgroup_file_path(const char *root, const char *controller, const char *cg, const char *file);
