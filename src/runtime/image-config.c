/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "json-util.h"
#include "oci-spec.h"
#include "strv.h"

static char **string_array(json_object *a) {
        char **l = NULL;
        if (!json_object_is_type(a, json_type_array))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i);
                if (json_object_is_type(e, json_type_string))
                        l = strv_push(l, xstrdup(json_object_get_string(e)));
        }
        return l;
}

static char *string_field(json_object *o, const char *key) {
        json_object *v = NULL;
        if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
                return xstrdup(json_object_get_string(v));
        return NULL;
}

int image_run_config_parse(const char *json, size_t len, ImageRunConfig *ret, Error **reterr) {
        json_object *root = NULL, *cfg = NULL, *v = NULL;
        int r = json_parse_object(json, len, "image config", &root, reterr);
        if (r < 0)
                return r;
        ImageRunConfig c = {};
        if (json_object_object_get_ex(root, "config", &cfg) && json_object_is_type(cfg, json_type_object)) {
                if (json_object_object_get_ex(cfg, "Env", &v))
                        c.env = string_array(v);
                if (json_object_object_get_ex(cfg, "Entrypoint", &v)) {
                        c.entrypoint = string_array(v);
                        c.has_entrypoint = json_object_is_type(v, json_type_array);
                }
                if (json_object_object_get_ex(cfg, "Cmd", &v))
                        c.cmd = string_array(v);
                if (json_object_object_get_ex(cfg, "Volumes", &v) &&
                    json_object_is_type(v, json_type_object)) {
                        json_object_object_foreach(v, key, val_unused) {
                                (void)val_unused;
                                c.volumes = strv_push(c.volumes, xstrdup(key));
                        }
                }
                c.working_dir = string_field(cfg, "WorkingDir");
                c.user = string_field(cfg, "User");
                c.stop_signal = string_field(cfg, "StopSignal");
        }
        json_object_put(root);
        *ret = c;
        return 0;
}

void image_run_config_done(ImageRunConfig *c) {
        strv_free(c->env);
        strv_free(c->entrypoint);
        strv_free(c->cmd);
        strv_free(c->volumes);
        free(c->working_dir);
        free(c->user);
        free(c->stop_signal);
        *c = (ImageRunConfig){};
}
