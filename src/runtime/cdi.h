/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <json-c/json.h>

#include "runtime.h"

/*
 * Container Device Interface (CDI, spec 0.3-0.8 without intelRdt and netDevices, whose specs are
 * refused rather than half-applied): vendors describe devices in JSON or YAML files under
 * cdi_spec_dirs as edits to a container's OCI spec (env, device nodes, mounts, hooks). A kubelet asks
 * for them by fully qualified name ("vendor.com/class=name") in `cdi.k8s.io/...` annotations (from a
 * device plugin) or in ContainerConfig.CDI_devices.
 */

/* Annotations whose values (comma-separated names) request CDI devices. */
#define CDI_ANNOTATION_PREFIX "cdi.k8s.io/"

typedef struct CdiRegistry CdiRegistry;

/*
 * Read every *.json, *.yaml and *.yml spec file in `dirs`; a device defined in a later directory wins
 * over one of the same name in an earlier one, and two files of one directory defining it make it
 * unresolvable. Files that cannot be read or are not valid specs are recorded and skipped (their
 * reasons end up in the error of a device that cannot be found). Never fails. Blocks on I/O.
 */
CdiRegistry *cdi_registry_load(char *const *dirs);
CdiRegistry *cdi_registry_free(CdiRegistry *r);
/* A registry of one spec that cdi_spec_parse() accepted, as if read from `file` (for tests and the fuzzer).
 */
CdiRegistry *cdi_registry_of(json_object *spec, const char *file);

/*
 * The device names a container asks for: the values of its CDI annotations, then `cri_names`, in that
 * order without repeats. -EINVAL naming the annotation or field for a name that is not
 * "vendor/class=name". *ret is NULL when there are none. Pure.
 */
int cdi_requested(const StrMap *annotations, char *const *cri_names, char ***ret, Error **reterr);

/*
 * Apply the edits of each named device (and once, those of its spec) to `spec`: env entries (replacing
 * the same name), device nodes with their cgroup rules (type and numbers read from the host node when
 * the spec leaves them out), mounts and hooks. -ENOENT naming a device no spec defines (or defines
 * twice); -EINVAL for edits that cannot apply. Blocks on I/O (stat of device nodes).
 */
int cdi_apply(const CdiRegistry *r, char *const *names, json_object *spec, Error **reterr);

/*
 * Parse one spec file's text (JSON, or YAML when `yaml`) into a validated spec object. -EINVAL with a
 * reason otherwise. Pure. (Exposed for tests and the fuzzer.)
 */
int cdi_spec_parse(const char *text, size_t len, bool yaml, json_object **ret, Error **reterr);

/*
 * YAML (1.1, as libyaml reads it) to json-c: mappings, sequences, and scalars as strings (a plain
 * null as null); the spec's checks turn the number fields into numbers. Aliases are followed, with
 * bounds on the nodes and the scalar bytes produced. -EINVAL with libyaml's message. Pure.
 */
int cdi_yaml_to_json(const char *text, size_t len, json_object **ret, Error **reterr);

/* A YAML 1.1 integer: decimal, 0x hex, 0o or leading-0 octal, with a sign. Pure. */
bool cdi_yaml_integer(const char *s, int64_t *ret);
