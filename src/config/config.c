/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <stddef.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "strv.h"

const ConfigKey config_keys[] = {
#define KEY(tbl, n, type, d, fl, ch, doc) {tbl, #n, CT_##type, offsetof(Config, n), d, fl, ch, doc},
#include "config-keys.def"
#undef KEY
};
const size_t config_keys_count = ELEMENTSOF(config_keys);

const ConfigKey runtime_keys[] = {
#define RKEY(n, type, d, fl, ch, doc) {"", #n, CT_##type, offsetof(RuntimeHandler, n), d, fl, ch, doc},
#include "runtime-keys.def"
#undef RKEY
};
const size_t runtime_keys_count = ELEMENTSOF(runtime_keys);

const ConfigKey workload_keys[] = {
#define WKEY(sub, n, type, d, fl, ch, doc) {sub, #n, CT_##type, offsetof(Workload, n), d, fl, ch, doc},
#include "workload-keys.def"
#undef WKEY
};
const size_t workload_keys_count = ELEMENTSOF(workload_keys);

#define FIELD(base, key, T) ((T *)((char *)(base) + (key)->offset))

static void strmap_clear(StrMap *m) {
        for (size_t i = 0; i < m->n; i++) {
                free(m->keys[i]);
                free(m->values[i]);
        }
        free(m->keys);
        free(m->values);
        *m = (StrMap){0};
}

static void strmap_set(StrMap *m, const char *k, const char *v) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->keys[i], k) == 0) {
                        free(m->values[i]);
                        m->values[i] = xstrdup(v);
                        return;
                }
        m->keys = xrealloc(m->keys, (m->n + 1) * sizeof(char *));
        m->values = xrealloc(m->values, (m->n + 1) * sizeof(char *));
        m->keys[m->n] = xstrdup(k);
        m->values[m->n] = xstrdup(v);
        m->n++;
}

static void value_clear(void *base, const ConfigKey *key) {
        switch (key->type) {
        case CT_STRING:
                free(*FIELD(base, key, char *));
                *FIELD(base, key, char *) = NULL;
                break;
        case CT_STRV:
                *FIELD(base, key, char **) = strv_free(*FIELD(base, key, char **));
                break;
        case CT_MAP:
                strmap_clear(FIELD(base, key, StrMap));
                break;
        default:
                break;
        }
}

static void fields_free(void *base, const ConfigKey *keys, size_t n) {
        for (size_t i = 0; i < n; i++)
                value_clear(base, &keys[i]);
}

static void fields_set_defaults(void *base, const ConfigKey *keys, size_t n) {
        for (size_t i = 0; i < n; i++) {
                /* Built-in defaults are known to parse; a failure here is a bug in a .def file. */
                if (keys[i].type != CT_MAP && config_set_from_string(base, &keys[i], keys[i].def, NULL) < 0)
                        abort();
        }
}

static RuntimeHandler *runtime_handler_free(RuntimeHandler *h) {
        if (h) {
                fields_free(h, runtime_keys, runtime_keys_count);
                free(h->name);
                free(h);
        }
        return NULL;
}

static Workload *workload_free(Workload *w) {
        if (w) {
                fields_free(w, workload_keys, workload_keys_count);
                free(w->name);
                free(w);
        }
        return NULL;
}

RuntimeHandler *config_find_runtime(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_runtimes; i++)
                if (strcmp(c->runtimes[i]->name, name) == 0)
                        return c->runtimes[i];
        return NULL;
}

static RuntimeHandler *runtime_get_or_add(Config *c, const char *name) {
        RuntimeHandler *h = config_find_runtime(c, name);
        if (h)
                return h;
        h = xcalloc(1, sizeof(*h));
        h->name = xstrdup(name);
        fields_set_defaults(h, runtime_keys, runtime_keys_count);
        c->runtimes = xrealloc(c->runtimes, (c->n_runtimes + 1) * sizeof(*c->runtimes));
        c->runtimes[c->n_runtimes++] = h;
        return h;
}

static Workload *workload_get_or_add(Config *c, const char *name) {
        for (size_t i = 0; i < c->n_workloads; i++)
                if (strcmp(c->workloads[i]->name, name) == 0)
                        return c->workloads[i];
        Workload *w = xcalloc(1, sizeof(*w));
        w->name = xstrdup(name);
        fields_set_defaults(w, workload_keys, workload_keys_count);
        c->workloads = xrealloc(c->workloads, (c->n_workloads + 1) * sizeof(*c->workloads));
        c->workloads[c->n_workloads++] = w;
        return w;
}

static void replace_string(char **field, const char *value) {
        free(*field);
        *field = xstrdup(value);
}

Config *config_new_default(void) {
        Config *c = xcalloc(1, sizeof(*c));
        fields_set_defaults(c, config_keys, config_keys_count);

        /* runc is the default here: crun refuses cgroup v1 hybrid hosts (see docs/decisions.md). */
        RuntimeHandler *runc = runtime_get_or_add(c, "runc");
        replace_string(&runc->runtime_root, "/run/runc");
        RuntimeHandler *crun = runtime_get_or_add(c, "crun");
        replace_string(&crun->runtime_root, "/run/crun");
        replace_string(&crun->container_min_memory, "500KiB");
        return c;
}

Config *config_free(Config *c) {
        if (!c)
                return NULL;
        fields_free(c, config_keys, config_keys_count);
        for (size_t i = 0; i < c->n_runtimes; i++)
                runtime_handler_free(c->runtimes[i]);
        free(c->runtimes);
        for (size_t i = 0; i < c->n_workloads; i++)
                workload_free(c->workloads[i]);
        free(c->workloads);
        free(c);
        return NULL;
}

void config_freep(Config **c) {
        *c = config_free(*c);
}

const ConfigKey *config_key_find(const ConfigKey *keys, size_t n, const char *table, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(keys[i].table, table) == 0 && strcmp(keys[i].name, name) == 0)
                        return &keys[i];
        return NULL;
}

static int parse_bool(const char *s, bool *ret) {
        if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
                *ret = true;
        else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

static int parse_int64(const char *s, int64_t *ret) {
        char *end = NULL;
        /* strtoll skips leading blanks; a flag value with them is a typo, not a number. */
        if (*s != '-' && *s != '+' && (*s < '0' || *s > '9'))
                return -EINVAL;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;
        *ret = v;
        return 0;
}

int config_set_from_string(void *base, const ConfigKey *key, const char *value, Error **reterr) {
        bool b;
        int64_t i;

        switch (key->type) {
        case CT_STRING:
                replace_string(FIELD(base, key, char *), value);
                return 0;
        case CT_BOOL:
                if (parse_bool(value, &b) < 0)
                        return error_set(reterr, EINVAL, "%s: '%s' is not a boolean", key->name, value);
                *FIELD(base, key, bool) = b;
                return 0;
        case CT_INT:
                if (parse_int64(value, &i) < 0)
                        return error_set(reterr, EINVAL, "%s: '%s' is not an integer", key->name, value);
                *FIELD(base, key, int64_t) = i;
                return 0;
        case CT_STRV:
                strv_free(*FIELD(base, key, char **));
                *FIELD(base, key, char **) = strv_split(value, ',');
                return 0;
        case CT_MAP:
                break;
        }
        return error_set(reterr, EINVAL, "%s cannot be set from the command line", key->name);
}

static const char *const type_names[] = {
        [CT_STRING] = "a string",          [CT_BOOL] = "a boolean",         [CT_INT] = "an integer",
        [CT_STRV] = "an array of strings", [CT_MAP] = "a table of strings",
};

/* A string we can hold in a C string: TOML allows \u0000, crio.conf values never need it. */
static bool toml_is_c_string(const TomlValue *v) {
        return v->type == TOML_STRING && strlen(v->string) == v->string_len;
}

static bool toml_is_string_array(const TomlValue *v) {
        if (v->type != TOML_ARRAY)
                return false;
        for (size_t i = 0; i < v->array.n; i++)
                if (!toml_is_c_string(v->array.items[i]))
                        return false;
        return true;
}

static bool toml_is_string_table(const TomlValue *v) {
        if (v->type != TOML_TABLE)
                return false;
        for (size_t i = 0; i < v->table.n; i++)
                if (!toml_is_c_string(v->table.values[i]))
                        return false;
        return true;
}

static bool toml_matches(const ConfigKey *key, const TomlValue *v) {
        switch (key->type) {
        case CT_STRING:
                return toml_is_c_string(v);
        case CT_BOOL:
                return v->type == TOML_BOOL;
        case CT_INT:
                return v->type == TOML_INTEGER;
        case CT_STRV:
                return toml_is_string_array(v);
        case CT_MAP:
                return toml_is_string_table(v);
        }
        return false;
}

/* Store a type-checked TOML value into the field described by `key`. */
static int set_from_toml(void *base, const ConfigKey *key, const char *path, const TomlValue *v,
                         const char *filename, Error **reterr) {
        if (!toml_matches(key, v))
                return error_set(reterr, EINVAL, "%s:%u:%u: %s must be %s, not %s", filename, v->line,
                                 v->column, path, type_names[key->type], toml_type_to_string(v->type));
        value_clear(base, key);
        switch (key->type) {
        case CT_STRING:
                *FIELD(base, key, char *) = xstrdup(v->string);
                break;
        case CT_BOOL:
                *FIELD(base, key, bool) = v->boolean;
                break;
        case CT_INT:
                *FIELD(base, key, int64_t) = v->integer;
                break;
        case CT_STRV: {
                char **l = xcalloc(1, sizeof(char *));
                for (size_t i = 0; i < v->array.n; i++)
                        l = strv_push(l, xstrdup(v->array.items[i]->string));
                *FIELD(base, key, char **) = l;
                break;
        }
        case CT_MAP:
                for (size_t i = 0; i < v->table.n; i++)
                        strmap_set(FIELD(base, key, StrMap), v->table.keys[i], v->table.values[i]->string);
                break;
        }
        return 0;
}

typedef struct ApplyCtx {
        const char *filename;
        char ***warnings;
        Error **reterr;
} ApplyCtx;

static void warn_unknown(ApplyCtx *ctx, unsigned line, const char *table, const char *name) {
        if (ctx->warnings)
                *ctx->warnings =
                        strv_push(*ctx->warnings, xasprintf("%s:%u: unknown key %s%s%s", ctx->filename, line,
                                                            table, *table ? "." : "", name));
}

void config_note_no_effect(char ***warnings, const char *where, const char *path, const char *before,
                           const void *base, const ConfigKey *key) {
        if (!warnings || !before || !(key->flags & CK_NOEFFECT))
                return;
        _cleanup_free_ char *after = config_value_to_string(base, key);
        if (strcmp(before, after) != 0)
                *warnings = strv_push(*warnings, xasprintf("%s: %s has no effect in crio-c (accepted for "
                                                           "compatibility with CRI-O)",
                                                           where, path));
}

/*
 * A handler's allowed_annotations act on the annotations crio-c implements (docs/runtime.md); the
 * others a file names warn, as keys without effect do.
 */
static void note_unimplemented_annotations(ApplyCtx *ctx, const void *base, const ConfigKey *key,
                                           const char *path, unsigned line) {
        static const char *const implemented[] = {"devices.crio.io", "io.kubernetes.cri-o.Devices"};
        if (!ctx->warnings || key->flags & CK_NOEFFECT || strcmp(key->name, "allowed_annotations") != 0)
                return;
        STRV_FOREACH(a, *FIELD(base, key, char **)) {
                bool known = false;
                for (size_t i = 0; i < ELEMENTSOF(implemented); i++)
                        known = known || strcmp(*a, implemented[i]) == 0;
                if (!known)
                        *ctx->warnings = strv_push(
                                *ctx->warnings, xasprintf("%s:%u: %s: annotation %s has no effect in crio-c "
                                                          "(accepted for compatibility with CRI-O)",
                                                          ctx->filename, line, path, *a));
        }
}

/* One key of a file; a key crio-c does not act on warns when the file changes its value. */
static int apply_key(ApplyCtx *ctx, void *base, const ConfigKey *key, const char *path, const TomlValue *v,
                     unsigned line) {
        _cleanup_free_ char *before = key->flags & CK_NOEFFECT ? config_value_to_string(base, key) : NULL;
        int r = set_from_toml(base, key, path, v, ctx->filename, ctx->reterr);
        if (r >= 0 && before) {
                _cleanup_free_ char *where = xasprintf("%s:%u", ctx->filename, line);
                config_note_no_effect(ctx->warnings, where, path, before, base, key);
        }
        if (r >= 0)
                note_unimplemented_annotations(ctx, base, key, path, line);
        return r;
}

/* Apply the keys of one table against a descriptor list; subtables named in `sub` recurse there. */
static int apply_keys(ApplyCtx *ctx, void *base, const ConfigKey *keys, size_t nkeys, const char *table,
                      const char *desc_table, const TomlValue *t) {
        for (size_t i = 0; i < t->table.n; i++) {
                const char *name = t->table.keys[i];
                const ConfigKey *key = config_key_find(keys, nkeys, desc_table, name);
                if (!key) {
                        warn_unknown(ctx, t->table.key_lines[i], table, name);
                        continue;
                }
                _cleanup_free_ char *path = xasprintf("%s.%s", table, name);
                int r = apply_key(ctx, base, key, path, t->table.values[i], t->table.key_lines[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int require_table(ApplyCtx *ctx, const TomlValue *v, const char *path) {
        if (v->type == TOML_TABLE)
                return 0;
        return error_set(ctx->reterr, EINVAL, "%s:%u:%u: %s must be a table, not %s", ctx->filename, v->line,
                         v->column, path, toml_type_to_string(v->type));
}

static int apply_runtimes(ApplyCtx *ctx, Config *c, const TomlValue *t) {
        for (size_t i = 0; i < t->table.n; i++) {
                const char *name = t->table.keys[i];
                _cleanup_free_ char *path = xasprintf("crio.runtime.runtimes.%s", name);
                int r = require_table(ctx, t->table.values[i], path);
                if (r < 0)
                        return r;
                RuntimeHandler *h = runtime_get_or_add(c, name);
                r = apply_keys(ctx, h, runtime_keys, runtime_keys_count, path, "", t->table.values[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int apply_workload(ApplyCtx *ctx, Workload *w, const char *path, const TomlValue *t) {
        for (size_t i = 0; i < t->table.n; i++) {
                const char *name = t->table.keys[i];
                const TomlValue *v = t->table.values[i];
                if (strcmp(name, "resources") == 0) {
                        _cleanup_free_ char *sub = xasprintf("%s.resources", path);
                        int r = require_table(ctx, v, sub);
                        if (r >= 0)
                                r = apply_keys(ctx, w, workload_keys, workload_keys_count, sub, "resources",
                                               v);
                        if (r < 0)
                                return r;
                        continue;
                }
                const ConfigKey *key = config_key_find(workload_keys, workload_keys_count, "", name);
                if (!key) {
                        warn_unknown(ctx, t->table.key_lines[i], path, name);
                        continue;
                }
                _cleanup_free_ char *kpath = xasprintf("%s.%s", path, name);
                int r = apply_key(ctx, w, key, kpath, v, t->table.key_lines[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int apply_workloads(ApplyCtx *ctx, Config *c, const TomlValue *t) {
        for (size_t i = 0; i < t->table.n; i++) {
                _cleanup_free_ char *path = xasprintf("crio.runtime.workloads.%s", t->table.keys[i]);
                int r = require_table(ctx, t->table.values[i], path);
                if (r < 0)
                        return r;
                r = apply_workload(ctx, workload_get_or_add(c, t->table.keys[i]), path, t->table.values[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static bool is_known_table(const char *path) {
        for (size_t i = 0; i < config_keys_count; i++)
                if (strcmp(config_keys[i].table, path) == 0)
                        return true;
        return false;
}

/* Walk a table of the [crio] tree: its own keys, then known subtables, runtimes and workloads. */
static int apply_table(ApplyCtx *ctx, Config *c, const char *path, const TomlValue *t) {
        for (size_t i = 0; i < t->table.n; i++) {
                const char *name = t->table.keys[i];
                const TomlValue *v = t->table.values[i];
                _cleanup_free_ char *sub = xasprintf("%s.%s", path, name);
                int r;

                if (strcmp(sub, "crio.runtime.runtimes") == 0 ||
                    strcmp(sub, "crio.runtime.workloads") == 0) {
                        r = require_table(ctx, v, sub);
                        if (r >= 0)
                                r = strcmp(name, "runtimes") == 0 ? apply_runtimes(ctx, c, v)
                                                                  : apply_workloads(ctx, c, v);
                } else if (is_known_table(sub)) {
                        r = require_table(ctx, v, sub);
                        if (r >= 0)
                                r = apply_table(ctx, c, sub, v);
                } else {
                        const ConfigKey *key = config_key_find(config_keys, config_keys_count, path, name);
                        if (!key) {
                                warn_unknown(ctx, t->table.key_lines[i], path, name);
                                continue;
                        }
                        r = apply_key(ctx, c, key, sub, v, t->table.key_lines[i]);
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int config_apply_toml(Config *c, const TomlValue *doc, const char *filename, char ***warnings,
                      Error **reterr) {
        ApplyCtx ctx = {.filename = filename, .warnings = warnings, .reterr = reterr};

        for (size_t i = 0; i < doc->table.n; i++) {
                const TomlValue *v = doc->table.values[i];
                if (strcmp(doc->table.keys[i], "crio") != 0) {
                        warn_unknown(&ctx, doc->table.key_lines[i], "", doc->table.keys[i]);
                        continue;
                }
                int r = require_table(&ctx, v, "crio");
                if (r < 0)
                        return r;
                r = apply_table(&ctx, c, "crio", v);
                if (r < 0)
                        return r;
        }
        return 0;
}

void config_copy_value(void *dst, const void *src, const ConfigKey *key) {
        value_clear(dst, key);
        switch (key->type) {
        case CT_STRING:
                *FIELD(dst, key, char *) = xstrdup(*FIELD(src, key, char *));
                break;
        case CT_BOOL:
                *FIELD(dst, key, bool) = *FIELD(src, key, bool);
                break;
        case CT_INT:
                *FIELD(dst, key, int64_t) = *FIELD(src, key, int64_t);
                break;
        case CT_STRV:
                *FIELD(dst, key, char **) = strv_copy(*FIELD(src, key, char **));
                break;
        case CT_MAP: {
                const StrMap *m = FIELD(src, key, StrMap);
                for (size_t i = 0; i < m->n; i++)
                        strmap_set(FIELD(dst, key, StrMap), m->keys[i], m->values[i]);
                break;
        }
        }
}
