/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "runtime.h"

/* The pod annotation that asks for devices of allowed_devices; its older name is accepted too. */
#define DEVICES_ANNOTATION "devices.crio.io"
#define DEVICES_ANNOTATION_V1 "io.kubernetes.cri-o.Devices"

/*
 * The devices a pod asks for with the devices annotation, when its handler's `allowed_annotations`
 * names the annotation (either name): comma-separated "HOST[:CONTAINER][:PERMISSIONS]" entries whose
 * host path is one of `allowed_devices`. The newer name wins when a pod gives both. *ret is NULL when
 * the pod asks for none or its handler does not allow the annotation (it is then ignored, as in CRI-O).
 * -EINVAL naming the entry for one that is malformed or not allowed. Pure.
 */
int pod_annotation_devices(const StrMap *annotations, char *const *handler_allowed,
                           char *const *allowed_devices, char ***ret, Error **reterr);

/* Add the handler's default_annotations that the pod does not set itself. */
void pod_annotations_add_defaults(StrMap *annotations, const StrMap *defaults);
