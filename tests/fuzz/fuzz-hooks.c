/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hooks.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * An OCI hook file as hooks_dir holds them: parsed, matched against a fixed container and written into
 * a spec. A refusal always says why; an accepted hook always lands under at least one stage.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        Hook *h = NULL;
        Error *err = NULL;
        if (hook_parse((const char *)data, size, &h, &err) < 0) {
                if (!err || !err->message || h)
                        abort();
                error_free(err);
                return 0;
        }
        char *keys[] = {"io.kubernetes.container.name", "example.com/gpu", NULL};
        char *values[] = {"app", "yes", NULL};
        StrMap ann = {.keys = keys, .values = values, .n = 2};
        HookTarget with = {.annotations = &ann, .command = "/usr/bin/python3", .has_bind_mounts = true};
        HookTarget without = {.command = NULL};
        (void)hook_matches(h, &with);
        (void)hook_matches(h, &without);
        json_object *spec = json_object_new_object(), *hooks = NULL;
        hook_add_to_spec(h, spec);
        if (!json_object_object_get_ex(spec, "hooks", &hooks) || json_object_object_length(hooks) == 0)
                abort();
        json_object_put(spec);
        hook_free(h);
        return 0;
}
