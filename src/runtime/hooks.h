/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include <json-c/json.h>

#include "error.h"
#include "runtime.h"

/*
 * OCI hooks as oci-hooks(5) describes them (schema 1.0.0): JSON files in the hooks_dir directories
 * that name a program and the container-lifecycle stages to run it at, and say which containers get
 * it. crio-c only writes matching hooks into the container's config.json; the OCI runtime runs them.
 */

typedef struct Hook Hook;

/* What a hook's `when` conditions look at. */
typedef struct HookTarget {
        const StrMap *annotations; /* the container's, as the kubelet sent them */
        const char *command;       /* process.args[0] of the spec; NULL when there is none */
        bool has_bind_mounts;      /* the kubelet asked for host paths to be mounted */
} HookTarget;

/* Parse and check one hook file's text; -EINVAL with a message naming the field. */
int hook_parse(const char *text, size_t len, Hook **ret, Error **reterr);
void hook_free(Hook *h);

/* All of the hook's `when` conditions hold for the target (they are AND-ed, commands last). */
bool hook_matches(const Hook *h, const HookTarget *t);

/* Whether `name` is an OCI hook stage ("prestart", "createRuntime", ... "poststop"). Pure. */
bool hook_stage_known(const char *name);

/* Add the hook to spec["hooks"] under each of its stages, after what is there. */
void hook_add_to_spec(const Hook *h, json_object *spec);

/*
 * Read every *.json file of `dirs` (a later directory's file replaces an earlier one of the same name;
 * missing directories are skipped), in file-name order. Files that do not parse, or name a program
 * that cannot run, are logged and skipped. NULL-terminated; NULL when there are none.
 */
Hook **hooks_load(char *const *dirs);
void hooks_free(Hook **hooks);

/* Add the hooks that match the target to the spec, in their order. No I/O. */
void hooks_add_matching(Hook *const *hooks, const HookTarget *t, json_object *spec);
