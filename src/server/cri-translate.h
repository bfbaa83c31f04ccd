/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "api.pb-c.h"
#include "runtime.h"

/* CRI messages to the runtime engine's structs and back. */
PodConfig *pod_config_from_cri(const Runtime__V1__PodSandboxConfig *c, const char *runtime_handler);
/* -EINVAL naming the field for settings no container can run with (an unknown seccomp profile). */
int container_config_from_cri(const Runtime__V1__ContainerConfig *c, ContainerConfig **ret, Error **reterr);
void resources_from_cri(const Runtime__V1__LinuxContainerResources *r, Resources *ret);
Runtime__V1__LinuxContainerResources *resources_to_cri(const Resources *r);

/* A map field entry of any of the generated *Entry types (they share this layout). */
typedef struct MapEntry {
        ProtobufCMessage base;
        char *key;
        char *value;
} MapEntry;

/* Build a repeated map field of entry type `desc` from a StrMap. */
void *map_entries_new(const ProtobufCMessageDescriptor *desc, const StrMap *m, size_t *ret_n);
/* Do all selector entries appear in `labels`? */
bool labels_match(const StrMap *labels, void *const *selector, size_t n);

/* Metadata of answers, heap-allocated for protobuf_c_message_free_unpacked(). */
Runtime__V1__ContainerMetadata *container_metadata_to_cri(const ContainerInfo *c);
Runtime__V1__PodSandboxMetadata *pod_metadata_to_cri(const PodInfo *p);
