/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const target_spec = "{\"process\": {\"env\": [\"A=1\"], \"user\": {\"uid\": 5}}, "
                                       "\"mounts\": [{\"destination\": \"/proc\"}]}";

/* Every device of an accepted spec applies to a container's spec, or fails saying why. */
static void apply_each(json_object *spec, json_object *kind, json_object *devices) {
        CdiRegistry *r = cdi_registry_of(spec, "fuzz.json");
        for (size_t i = 0; i < json_object_array_length(devices); i++) {
                json_object *name = NULL;
                json_object_object_get_ex(json_object_array_get_idx(devices, i), "name", &name);
                char *q = xasprintf("%s=%s", json_object_get_string(kind), json_object_get_string(name));
                char *names[] = {q, NULL};
                json_object *target = json_tokener_parse(target_spec);
                Error *err = NULL;
                if (cdi_apply(r, names, target, &err) < 0) {
                        if (!err || !err->message)
                                abort();
                        error_free(err);
                }
                json_object_put(target);
                free(q);
        }
        cdi_registry_free(r);
}

/*
 * A CDI spec file from cdi_spec_dirs: the first byte picks YAML (odd) or JSON (even), the rest is the
 * file. A refusal always says why; an accepted spec is an object with a kind and a list of devices,
 * each of which then applies to a container's spec or fails saying why.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        json_object *spec = NULL, *kind = NULL, *devices = NULL;
        Error *err = NULL;
        if (cdi_spec_parse((const char *)data + 1, size - 1, data[0] & 1, &spec, &err) < 0) {
                if (!err || !err->message || spec)
                        abort();
                error_free(err);
                return 0;
        }
        if (!json_object_object_get_ex(spec, "kind", &kind) ||
            !json_object_object_get_ex(spec, "devices", &devices) ||
            !json_object_is_type(devices, json_type_array))
                abort();
        apply_each(spec, kind, devices);
        json_object_put(spec);
        return 0;
}
