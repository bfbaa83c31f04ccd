/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cdi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A CDI spec file from cdi_spec_dirs: the first byte picks YAML (odd) or JSON (even), the rest is the
 * file. A refusal always says why; an accepted spec is an object with a kind and a list of devices.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        json_object *spec = NULL, *v = NULL;
        Error *err = NULL;
        if (cdi_spec_parse((const char *)data + 1, size - 1, data[0] & 1, &spec, &err) < 0) {
                if (!err || !err->message || spec)
                        abort();
                error_free(err);
                return 0;
        }
        if (!json_object_object_get_ex(spec, "kind", &v) ||
            !json_object_object_get_ex(spec, "devices", &v) || !json_object_is_type(v, json_type_array))
                abort();
        json_object_put(spec);
        return 0;
}
