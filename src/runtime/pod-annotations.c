/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs-util.h"
#include "pod-annotations.h"
#include "strv.h"

static bool allows_devices(char *const *handler_allowed) {
        return strv_contains(handler_allowed, DEVICES_ANNOTATION) ||
               strv_contains(handler_allowed, DEVICES_ANNOTATION_V1);
}

static int check_entry(const char *entry, char *const *allowed_devices, Error **reterr) {
        _cleanup_free_ char *host = NULL, *container = NULL, *perms = NULL;
        if (config_parse_device(entry, &host, &container, &perms) < 0)
                return error_set(reterr, EINVAL,
                                 "annotation %s: '%s' is not HOST[:CONTAINER][:PERMISSIONS] with absolute "
                                 "paths and permissions from \"rwm\"",
                                 DEVICES_ANNOTATION, entry);
        if (!strv_contains(allowed_devices, host))
                return error_set(reterr, EINVAL, "annotation %s: device %s is not in allowed_devices",
                                 DEVICES_ANNOTATION, host);
        /* A pod's author chooses where the node appears: only under /dev, as in CRI-O. */
        if (strncmp(container, "/dev/", 5) != 0 || path_has_dotdot(container))
                return error_set(reterr, EINVAL, "annotation %s: '%s' is not a path under /dev",
                                 DEVICES_ANNOTATION, container);
        return 0;
}

int pod_annotation_devices(const StrMap *annotations, char *const *handler_allowed,
                           char *const *allowed_devices, char ***ret, Error **reterr) {
        const char *value = strmap_get(annotations, DEVICES_ANNOTATION);
        if (!value)
                value = strmap_get(annotations, DEVICES_ANNOTATION_V1);
        if (!value || !allows_devices(handler_allowed)) {
                *ret = NULL;
                return 0;
        }
        _cleanup_strv_free_ char **entries = strv_split(value, ',');
        char **out = NULL;
        STRV_FOREACH(e, entries) {
                char *entry = *e + strspn(*e, " \t");
                entry[strcspn(entry, " \t")] = '\0';
                if (*entry == '\0')
                        continue;
                int r = check_entry(entry, allowed_devices, reterr);
                if (r < 0) {
                        strv_free(out);
                        return r;
                }
                out = strv_push(out, xstrdup(entry));
        }
        *ret = out;
        return 0;
}

void pod_annotations_add_defaults(StrMap *annotations, const StrMap *defaults) {
        for (size_t i = 0; i < defaults->n; i++)
                if (!strmap_get(annotations, defaults->keys[i]))
                        strmap_add(annotations, defaults->keys[i], defaults->values[i]);
}
