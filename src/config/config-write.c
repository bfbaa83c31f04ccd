/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <string.h>

#include "config.h"
#include "strv.h"

#define FIELD(base, key, T) ((T *)((char *)(base) + (key)->offset))

/* Tables in the order `crio config` prints them; runtimes and workloads follow crio.runtime. */
static const char *const table_order[] = {
        "crio",
        "crio.api",
        "crio.runtime",
        "crio.checkpoint_restore",
        "crio.image",
        "crio.network",
        "crio.metrics",
        "crio.tracing",
        "crio.stats",
        "crio.nri",
        "crio.nri.default_validator",
};

static void write_value(FILE *f, const void *base, const ConfigKey *key) {
        switch (key->type) {
        case CT_STRING:
                toml_write_string(f, *FIELD(base, key, char *const));
                break;
        case CT_BOOL:
                fputs(*FIELD(base, key, const bool) ? "true" : "false", f);
                break;
        case CT_INT:
                fprintf(f, "%" PRId64, *FIELD(base, key, const int64_t));
                break;
        case CT_STRV: {
                char *const *l = *FIELD(base, key, char **const);
                if (strv_length(l) == 0) {
                        fputs("[]", f);
                        break;
                }
                fputs("[\n", f);
                STRV_FOREACH(s, l) {
                        fputs("        ", f);
                        toml_write_string(f, *s);
                        fputs(",\n", f);
                }
                fputs("]", f);
                break;
        }
        case CT_MAP: {
                const StrMap *m = FIELD(base, key, const StrMap);
                fputs("{", f);
                for (size_t i = 0; i < m->n; i++) {
                        fputs(i ? ", " : " ", f);
                        toml_write_key(f, m->keys[i]);
                        fputs(" = ", f);
                        toml_write_string(f, m->values[i]);
                }
                fputs(m->n ? " }" : "}", f);
                break;
        }
        }
}

static void write_key(FILE *f, const void *base, const ConfigKey *key) {
        fprintf(f, "\n# %s%s%s\n", key->flags & CK_DEPRECATED ? "(deprecated) " : "",
                key->flags & CK_NOEFFECT ? "(no effect in crio-c) " : "", key->doc);
        if (key->flags & CK_RELOAD)
                fputs("# Reloaded on SIGHUP.\n", f);
        toml_write_key(f, key->name);
        fputs(" = ", f);
        write_value(f, base, key);
        fputc('\n', f);
}

static void write_header(FILE *f, const char *prefix, const char *name, const char *suffix) {
        fprintf(f, "\n[%s", prefix);
        if (name) {
                fputc('.', f);
                toml_write_key(f, name);
        }
        fprintf(f, "%s]\n", suffix ? suffix : "");
}

static void write_runtimes(const Config *c, FILE *f) {
        for (size_t i = 0; i < c->n_runtimes; i++) {
                write_header(f, "crio.runtime.runtimes", c->runtimes[i]->name, NULL);
                for (size_t k = 0; k < runtime_keys_count; k++)
                        write_key(f, c->runtimes[i], &runtime_keys[k]);
        }
}

static void write_workloads(const Config *c, FILE *f) {
        for (size_t i = 0; i < c->n_workloads; i++) {
                const Workload *w = c->workloads[i];
                write_header(f, "crio.runtime.workloads", w->name, NULL);
                for (size_t k = 0; k < workload_keys_count; k++)
                        if (!*workload_keys[k].table)
                                write_key(f, w, &workload_keys[k]);
                write_header(f, "crio.runtime.workloads", w->name, ".resources");
                for (size_t k = 0; k < workload_keys_count; k++)
                        if (*workload_keys[k].table)
                                write_key(f, w, &workload_keys[k]);
        }
}

void config_write_toml(const Config *c, FILE *f) {
        fputs("# crio-c configuration, in the crio.conf(5) format.\n"
              "# Every key is shown with its effective value; drop-ins in crio.conf.d override it per "
              "key.\n",
              f);
        for (size_t t = 0; t < ELEMENTSOF(table_order); t++) {
                write_header(f, table_order[t], NULL, NULL);
                for (size_t k = 0; k < config_keys_count; k++)
                        if (strcmp(config_keys[k].table, table_order[t]) == 0)
                                write_key(f, c, &config_keys[k]);
                if (strcmp(table_order[t], "crio.runtime") == 0) {
                        write_runtimes(c, f);
                        write_workloads(c, f);
                }
        }
}

static json_object *value_to_json(const void *base, const ConfigKey *key) {
        switch (key->type) {
        case CT_STRING:
                return json_object_new_string(*FIELD(base, key, char *const));
        case CT_BOOL:
                return json_object_new_boolean(*FIELD(base, key, const bool));
        case CT_INT:
                return json_object_new_int64(*FIELD(base, key, const int64_t));
        case CT_STRV: {
                json_object *a = json_object_new_array();
                STRV_FOREACH(s, *FIELD(base, key, char **const))
                        json_object_array_add(a, json_object_new_string(*s));
                return a;
        }
        case CT_MAP: {
                const StrMap *m = FIELD(base, key, const StrMap);
                json_object *o = json_object_new_object();
                for (size_t i = 0; i < m->n; i++)
                        json_object_object_add(o, m->keys[i], json_object_new_string(m->values[i]));
                return o;
        }
        }
        return NULL;
}

/* The object for a dotted table path below the root, created on the way. */
static json_object *json_table(json_object *root, const char *path) {
        _cleanup_free_ char *copy = xstrdup(path);
        json_object *cur = root;
        char *save = NULL;
        for (char *part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
                json_object *next = NULL;
                if (!json_object_object_get_ex(cur, part, &next)) {
                        next = json_object_new_object();
                        json_object_object_add(cur, part, next);
                }
                cur = next;
        }
        return cur;
}

static json_object *keys_to_json(const void *base, const ConfigKey *keys, size_t n, const char *sub) {
        json_object *o = json_object_new_object();
        for (size_t k = 0; k < n; k++)
                if (strcmp(keys[k].table, sub) == 0)
                        json_object_object_add(o, keys[k].name, value_to_json(base, &keys[k]));
        return o;
}

json_object *config_to_json(const Config *c) {
        json_object *root = json_object_new_object();
        for (size_t k = 0; k < config_keys_count; k++)
                json_object_object_add(json_table(root, config_keys[k].table), config_keys[k].name,
                                       value_to_json(c, &config_keys[k]));

        json_object *runtimes = json_table(root, "crio.runtime.runtimes");
        for (size_t i = 0; i < c->n_runtimes; i++)
                json_object_object_add(runtimes, c->runtimes[i]->name,
                                       keys_to_json(c->runtimes[i], runtime_keys, runtime_keys_count, ""));
        json_object *workloads = json_table(root, "crio.runtime.workloads");
        for (size_t i = 0; i < c->n_workloads; i++) {
                const Workload *w = c->workloads[i];
                json_object *o = keys_to_json(w, workload_keys, workload_keys_count, "");
                json_object_object_add(o, "resources",
                                       keys_to_json(w, workload_keys, workload_keys_count, "resources"));
                json_object_object_add(workloads, w->name, o);
        }
        return root;
}

char *config_value_to_string(const void *base, const ConfigKey *key) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        if (!f)
                abort();
        write_value(f, base, key);
        fclose(f);
        return buf;
}
