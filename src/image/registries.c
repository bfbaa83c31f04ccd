/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "registries.h"
#include "strv.h"
#include "toml.h"

/*
 * containers-registries.conf(5) version 2 and containers-registries.conf.d(5) drop-ins, as
 * containers/image reads them, with these choices where it is lax or quirky:
 *  - Version 1 files ([registries.search], [registries.insecure], [registries.block]) are converted the way
 *    containers/image converts them: search becomes unqualified-search-registries, the other two become
 *    [[registry]] entries with insecure or blocked set. A file that mixes [registries] with the v2 keys
 *    `registry` or `unqualified-search-registries` is refused.
 *  - Prefixes, locations and mirror locations are checked when loading (host[:port][/path][:tag][@digest],
 *    or *.domain for a prefix) instead of failing at pull time; a [[registry]] with only a prefix pulls from
 *    the prefix itself.
 *  - Within one file the first [[registry]] of a prefix wins (with a warning); across files a later one
 *    replaces it. unqualified-search-registries and short-name-mode in a later file replace earlier values;
 *    aliases merge name by name and an empty value removes an earlier alias.
 *  - A prefix ending in a bare host does not match another port of that host (containers/image matches
 *    "example.com" against "example.com:5000/x" and documents that as unintended).
 */

typedef struct LoadCtx {
        const char *filename;
        char ***warnings;
        Error **reterr;
} LoadCtx;

static const char *const short_name_modes[] = {"enforcing", "permissive", "disabled"};

/* Keys of registries.conf that only other tools use: accepted with a warning that they do nothing here. */
static const char *const ignored_keys[] = {"credential-helpers", "additional-layer-store-auth-helper"};

static bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static bool is_wildcard(const char *s) {
        return strncmp(s, "*.", 2) == 0;
}

_printf_(3, 4) static void warn(LoadCtx *ctx, unsigned line, const char *fmt, ...) {
        _cleanup_free_ char *detail = NULL;
        va_list ap;

        if (!ctx->warnings)
                return;
        va_start(ap, fmt);
        int r = vasprintf(&detail, fmt, ap);
        va_end(ap);
        if (r < 0)
                return;
        *ctx->warnings = strv_push(*ctx->warnings, xasprintf("%s:%u: %s", ctx->filename, line, detail));
}

/* An error about one value, positioned at it: "FILE:LINE:COLUMN: KEY: what is wrong". */
_printf_(4, 5) static int value_error(LoadCtx *ctx, const TomlValue *v, const char *key, const char *fmt,
                                      ...) {
        _cleanup_free_ char *detail = NULL;
        va_list ap;

        va_start(ap, fmt);
        int r = vasprintf(&detail, fmt, ap);
        va_end(ap);
        if (r < 0)
                detail = NULL;
        return error_set(ctx->reterr, EINVAL, "%s:%u:%u: %s: %s", ctx->filename, v->line, v->column, key,
                         strempty(detail));
}

static int type_error(LoadCtx *ctx, const TomlValue *v, const char *key, const char *expected) {
        return error_set(ctx->reterr, EINVAL, "%s:%u:%u: %s must be %s, not %s", ctx->filename, v->line,
                         v->column, key, expected, toml_type_to_string(v->type));
}

static int get_string(LoadCtx *ctx, const TomlValue *v, const char *key, const char **ret) {
        if (v->type != TOML_STRING)
                return type_error(ctx, v, key, "a string");
        /* TOML allows "\u0000"; nothing here can hold it, and a truncated name would match the wrong thing.
         */
        if (strlen(v->string) != v->string_len)
                return value_error(ctx, v, key, "contains a NUL character");
        *ret = v->string;
        return 0;
}

static int get_bool(LoadCtx *ctx, const TomlValue *v, const char *key, bool *ret) {
        if (v->type != TOML_BOOL)
                return type_error(ctx, v, key, "a boolean");
        *ret = v->boolean;
        return 0;
}

static char *trim_slashes(const char *s) {
        size_t n = strlen(s);
        while (n > 0 && s[n - 1] == '/')
                n--;
        return xstrndup(s, n);
}

static bool has_uri_scheme(const char *s) {
        return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* The registry host of "HOST[:PORT]" as a reference would hold it, or NULL when it is not one. */
static char *parse_host(const char *s) {
        _cleanup_free_ char *probe = xasprintf("%s/x", s);
        _cleanup_image_ref_ ImageRef *ref = NULL;

        if (strchr(s, '/') || image_ref_parse(probe, &ref, NULL) < 0 || !ref->domain)
                return NULL;
        return TAKE_PTR(ref->domain);
}

/* Where images live: "host[:port]" or a reference with a registry host, optionally with tag or digest. */
static int check_location(LoadCtx *ctx, const TomlValue *v, const char *key, const char *s) {
        _cleanup_image_ref_ ImageRef *ref = NULL;
        _cleanup_error_ Error *err = NULL;

        if (s[0] == '\0')
                return value_error(ctx, v, key, "is empty");
        if (has_uri_scheme(s))
                return value_error(ctx, v, key,
                                   "'%s': URI schemes are not supported, write host[:port][/path]", s);
        if (!strchr(s, '/')) {
                _cleanup_free_ char *host = parse_host(s);
                return host ? 0 : value_error(ctx, v, key, "'%s' is not a valid registry host[:port]", s);
        }
        if (image_ref_parse(s, &ref, &err) < 0)
                return value_error(ctx, v, key, "%s", err->message);
        if (!ref->domain)
                return value_error(ctx, v, key, "'%s' does not start with a registry host", s);
        return 0;
}

/* The part of "*.example.com" after "*.": a DNS name (no port, no path). */
static bool wildcard_is_valid(const char *s) {
        const char *p = s + 2;

        if (*p == '\0')
                return false;
        for (const char *start = p;; p++) {
                if (*p != '.' && *p != '\0') {
                        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", *p))
                                return false;
                        continue;
                }
                if (p == start || *start == '-' || p[-1] == '-')
                        return false;
                if (*p == '\0')
                        return true;
                start = p + 1;
        }
}

static int parse_search_entry(LoadCtx *ctx, const TomlValue *v, const char *key, char **ret) {
        const char *s;
        int r = get_string(ctx, v, key, &s);
        if (r < 0)
                return r;
        _cleanup_free_ char *t = trim_slashes(s);
        if (has_uri_scheme(t) || strchr(t, '/'))
                return value_error(ctx, v, key, "'%s' must be a registry host[:port], not a URL or path", s);
        char *host = parse_host(t);
        if (!host)
                return value_error(
                        ctx, v, key,
                        "'%s' is not a registry host[:port] (a host needs a '.' or a port, or must "
                        "be localhost)",
                        s);
        *ret = host;
        return 0;
}

static int parse_search(LoadCtx *ctx, const TomlValue *v, const char *key, char ***ret) {
        if (v->type != TOML_ARRAY)
                return type_error(ctx, v, key, "an array of strings");
        _cleanup_strv_free_ char **l = xcalloc(1, sizeof(char *));
        for (size_t i = 0; i < v->array.n; i++) {
                char *host = NULL;
                int r = parse_search_entry(ctx, v->array.items[i], key, &host);
                if (r < 0)
                        return r;
                l = strv_push(l, host);
        }
        strv_free(*ret);
        *ret = TAKE_PTR(l);
        return 0;
}

static int parse_short_name_mode(LoadCtx *ctx, const TomlValue *v, RegistriesConf *fc) {
        const char *s;
        int r = get_string(ctx, v, "short-name-mode", &s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(short_name_modes); i++)
                if (streq(s, short_name_modes[i])) {
                        free(fc->short_name_mode);
                        fc->short_name_mode = xstrdup(s);
                        return 0;
                }
        return value_error(ctx, v, "short-name-mode", "'%s' is not one of enforcing, permissive, disabled",
                           s);
}

/* ---- [[registry]] ---- */

static void entry_done(RegistryEntry *e) {
        free(e->prefix);
        free(e->location);
        for (size_t i = 0; i < e->n_mirrors; i++)
                free(e->mirrors[i].location);
        free(e->mirrors);
        *e = (RegistryEntry){0};
}

static int parse_pull_from_mirror(LoadCtx *ctx, const TomlValue *v, PullFromMirror *ret) {
        static const char *const names[] = {
                [PULL_FROM_MIRROR_ALL] = "all",
                [PULL_FROM_MIRROR_DIGEST_ONLY] = "digest-only",
                [PULL_FROM_MIRROR_TAG_ONLY] = "tag-only",
        };
        const char *key = "registry.mirror.pull-from-mirror", *s;
        int r = get_string(ctx, v, key, &s);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (streq(s, names[i])) {
                        *ret = (PullFromMirror)i;
                        return 0;
                }
        return value_error(ctx, v, key, "'%s' is not one of all, digest-only, tag-only", s);
}

static int parse_location(LoadCtx *ctx, const TomlValue *v, const char *key, char **ret) {
        const char *s;
        int r = get_string(ctx, v, key, &s);
        if (r < 0)
                return r;
        _cleanup_free_ char *t = trim_slashes(s);
        r = check_location(ctx, v, key, t);
        if (r < 0)
                return r;
        free(*ret);
        *ret = TAKE_PTR(t);
        return 0;
}

static int parse_mirror(LoadCtx *ctx, const TomlValue *t, RegistryMirror *m, bool *pull_from_mirror_set) {
        if (t->type != TOML_TABLE)
                return type_error(ctx, t, "registry.mirror", "a table");
        for (size_t i = 0; i < t->table.n; i++) {
                const char *name = t->table.keys[i];
                const TomlValue *v = t->table.values[i];
                int r = 0;
                if (streq(name, "location"))
                        r = parse_location(ctx, v, "registry.mirror.location", &m->location);
                else if (streq(name, "insecure"))
                        r = get_bool(ctx, v, "registry.mirror.insecure", &m->insecure);
                else if (streq(name, "pull-from-mirror")) {
                        r = parse_pull_from_mirror(ctx, v, &m->pull_from_mirror);
                        *pull_from_mirror_set = true;
                } else
                        warn(ctx, t->table.key_lines[i], "unknown key registry.mirror.%s", name);
                if (r < 0)
                        return r;
        }
        if (!m->location)
                return value_error(ctx, t, "registry.mirror", "location is not set");
        return 0;
}

static int parse_mirrors(LoadCtx *ctx, const TomlValue *v, RegistryEntry *e, bool *pull_from_mirror_set) {
        if (v->type != TOML_ARRAY)
                return type_error(ctx, v, "registry.mirror", "an array of tables ([[registry.mirror]])");
        e->mirrors = xcalloc(v->array.n, sizeof(RegistryMirror));
        for (size_t i = 0; i < v->array.n; i++) {
                /* Counted before parsing so that a half-parsed mirror is freed with the entry. */
                e->n_mirrors = i + 1;
                int r = parse_mirror(ctx, v->array.items[i], &e->mirrors[i], pull_from_mirror_set);
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef struct RegistryKeys {
        const TomlValue *prefix, *location;
        bool pull_from_mirror_set;
} RegistryKeys;

static int parse_registry_key(LoadCtx *ctx, const TomlValue *t, size_t i, RegistryEntry *e,
                              RegistryKeys *k) {
        const char *name = t->table.keys[i];
        const TomlValue *v = t->table.values[i];

        if (streq(name, "prefix"))
                k->prefix = v;
        else if (streq(name, "location"))
                k->location = v;
        else if (streq(name, "insecure"))
                return get_bool(ctx, v, "registry.insecure", &e->insecure);
        else if (streq(name, "blocked"))
                return get_bool(ctx, v, "registry.blocked", &e->blocked);
        else if (streq(name, "mirror-by-digest-only"))
                return get_bool(ctx, v, "registry.mirror-by-digest-only", &e->mirror_by_digest_only);
        else if (streq(name, "mirror"))
                return parse_mirrors(ctx, v, e, &k->pull_from_mirror_set);
        else if (streq(name, "pull-from-mirror"))
                return value_error(ctx, v, "registry.pull-from-mirror",
                                   "only a [[registry.mirror]] can set it");
        else
                warn(ctx, t->table.key_lines[i], "unknown key registry.%s", name);
        return 0;
}

/* An empty prefix or location counts as unset, as in containers/image. */
static int optional_string(LoadCtx *ctx, const TomlValue *v, const char *key, char **ret) {
        const char *s = NULL;
        int r = v ? get_string(ctx, v, key, &s) : 0;
        if (r < 0)
                return r;
        *ret = s && s[0] ? trim_slashes(s) : NULL;
        return 0;
}

static int check_prefix(LoadCtx *ctx, const TomlValue *v, const char *prefix) {
        if (!is_wildcard(prefix))
                return check_location(ctx, v, "registry.prefix", prefix);
        if (!wildcard_is_valid(prefix))
                return value_error(ctx, v, "registry.prefix",
                                   "'%s' is not a valid wildcard (*.example.com: a domain, no port or path)",
                                   prefix);
        return 0;
}

static int finish_registry(LoadCtx *ctx, const TomlValue *t, const RegistryKeys *k, RegistryEntry *e) {
        _cleanup_free_ char *prefix = NULL, *location = NULL;
        int r = optional_string(ctx, k->prefix, "registry.prefix", &prefix);
        if (r >= 0)
                r = optional_string(ctx, k->location, "registry.location", &location);
        if (r < 0)
                return r;
        if (!prefix && !location)
                return value_error(ctx, t, "registry", "neither prefix nor location is set");
        r = location ? check_location(ctx, k->location, "registry.location", location) : 0;
        if (r >= 0 && prefix)
                r = check_prefix(ctx, k->prefix, prefix);
        if (r < 0)
                return r;
        if (e->mirror_by_digest_only && k->pull_from_mirror_set)
                return value_error(
                        ctx, t, "registry",
                        "mirror-by-digest-only cannot be combined with a mirror's pull-from-mirror");
        e->prefix = prefix ? TAKE_PTR(prefix) : xstrdup(location);
        e->location = location ? TAKE_PTR(location) : xstrdup(e->prefix);
        return 0;
}

static int parse_registry(LoadCtx *ctx, const TomlValue *t, RegistryEntry *e) {
        RegistryKeys k = {0};

        if (t->type != TOML_TABLE)
                return type_error(ctx, t, "registry", "a table");
        for (size_t i = 0; i < t->table.n; i++) {
                int r = parse_registry_key(ctx, t, i, e, &k);
                if (r < 0)
                        return r;
        }
        return finish_registry(ctx, t, &k, e);
}

static RegistryEntry *entry_append(RegistriesConf *c) {
        c->registries = xrealloc(c->registries, (c->n_registries + 1) * sizeof(RegistryEntry));
        RegistryEntry *e = &c->registries[c->n_registries++];
        *e = (RegistryEntry){0};
        return e;
}

static RegistryEntry *entry_find(const RegistriesConf *c, const char *prefix) {
        for (size_t i = 0; i < c->n_registries; i++)
                if (streq(c->registries[i].prefix, prefix))
                        return &c->registries[i];
        return NULL;
}

static int parse_registries(LoadCtx *ctx, const TomlValue *v, RegistriesConf *fc) {
        if (v->type != TOML_ARRAY)
                return type_error(ctx, v, "registry", "an array of tables ([[registry]])");
        for (size_t i = 0; i < v->array.n; i++) {
                _cleanup_(entry_done) RegistryEntry e = {0};
                int r = parse_registry(ctx, v->array.items[i], &e);
                if (r < 0)
                        return r;
                if (entry_find(fc, e.prefix)) {
                        warn(ctx, v->array.items[i]->line,
                             "[[registry]] with prefix '%s' is defined twice in this file; the first one is "
                             "used",
                             e.prefix);
                        continue;
                }
                *entry_append(fc) = e;
                e = (RegistryEntry){0};
        }
        return 0;
}

/* ---- [aliases] ---- */

/* Takes ownership of both strings. */
static void alias_append(RegistriesConf *c, char *name, char *value) {
        c->alias_names = xrealloc(c->alias_names, (c->n_aliases + 2) * sizeof(char *));
        c->alias_values = xrealloc(c->alias_values, (c->n_aliases + 2) * sizeof(char *));
        c->alias_names[c->n_aliases] = name;
        c->alias_values[c->n_aliases] = value;
        c->n_aliases++;
        c->alias_names[c->n_aliases] = c->alias_values[c->n_aliases] = NULL;
}

static int alias_name(LoadCtx *ctx, const TomlValue *v, const char *key, const char *name, char **ret) {
        _cleanup_image_ref_ ImageRef *ref = NULL;
        _cleanup_error_ Error *err = NULL;

        if (image_ref_parse(name, &ref, &err) < 0)
                return value_error(ctx, v, key, "the name is not a short name: %s", err->message);
        if (ref->domain)
                return value_error(ctx, v, key, "'%s' names a registry; an alias is for a short name", name);
        if (ref->tag || ref->digest)
                return value_error(ctx, v, key, "the short name '%s' must not have a tag or digest", name);
        *ret = TAKE_PTR(ref->path);
        return 0;
}

static int alias_value(LoadCtx *ctx, const TomlValue *v, const char *key, char **ret) {
        _cleanup_image_ref_ ImageRef *ref = NULL;
        _cleanup_error_ Error *err = NULL;
        const char *s;

        int r = get_string(ctx, v, key, &s);
        if (r < 0)
                return r;
        if (s[0] == '\0') {
                *ret = xstrdup(""); /* removes the alias that an earlier file set */
                return 0;
        }
        if (image_ref_parse(s, &ref, &err) < 0)
                return value_error(ctx, v, key, "%s", err->message);
        if (!ref->domain)
                return value_error(ctx, v, key, "'%s' must be fully qualified (registry/repository)", s);
        if (ref->tag || ref->digest)
                return value_error(ctx, v, key, "'%s' must not have a tag or digest", s);
        *ret = image_ref_name(ref);
        return 0;
}

static int parse_aliases(LoadCtx *ctx, const TomlValue *t, RegistriesConf *fc) {
        if (t->type != TOML_TABLE)
                return type_error(ctx, t, "aliases", "a table");
        for (size_t i = 0; i < t->table.n; i++) {
                _cleanup_free_ char *key = xasprintf("aliases.\"%s\"", t->table.keys[i]);
                _cleanup_free_ char *name = NULL, *value = NULL;
                int r = alias_name(ctx, t->table.values[i], key, t->table.keys[i], &name);
                if (r >= 0)
                        r = alias_value(ctx, t->table.values[i], key, &value);
                if (r < 0)
                        return r;
                alias_append(fc, TAKE_PTR(name), TAKE_PTR(value));
        }
        return 0;
}

/* ---- version 1 ---- */

static int parse_v1_hosts(LoadCtx *ctx, const TomlValue *v, const char *key, bool blocked,
                          RegistriesConf *fc) {
        if (v->type != TOML_ARRAY)
                return type_error(ctx, v, key, "an array of strings");
        for (size_t i = 0; i < v->array.n; i++) {
                _cleanup_free_ char *location = NULL;
                int r = parse_location(ctx, v->array.items[i], key, &location);
                if (r < 0)
                        return r;
                RegistryEntry *e = entry_find(fc, location);
                if (!e) {
                        e = entry_append(fc);
                        e->prefix = xstrdup(location);
                        e->location = TAKE_PTR(location);
                }
                if (blocked)
                        e->blocked = true;
                else
                        e->insecure = true;
        }
        return 0;
}

static int parse_v1_table(LoadCtx *ctx, const char *kind, const TomlValue *t, RegistriesConf *fc) {
        _cleanup_free_ char *path = xasprintf("registries.%s", kind);
        if (t->type != TOML_TABLE)
                return type_error(ctx, t, path, "a table");
        for (size_t i = 0; i < t->table.n; i++) {
                _cleanup_free_ char *key = xasprintf("%s.%s", path, t->table.keys[i]);
                const TomlValue *v = t->table.values[i];
                int r = 0;
                if (!streq(t->table.keys[i], "registries"))
                        warn(ctx, t->table.key_lines[i], "unknown key %s", key);
                else if (streq(kind, "search"))
                        r = parse_search(ctx, v, key, &fc->unqualified_search_registries);
                else
                        r = parse_v1_hosts(ctx, v, key, streq(kind, "block"), fc);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_v1(LoadCtx *ctx, const TomlValue *t, RegistriesConf *fc) {
        if (t->type != TOML_TABLE)
                return type_error(ctx, t, "registries", "a table");
        for (size_t i = 0; i < t->table.n; i++) {
                const char *kind = t->table.keys[i];
                int r = 0;
                if (streq(kind, "search") || streq(kind, "insecure") || streq(kind, "block"))
                        r = parse_v1_table(ctx, kind, t->table.values[i], fc);
                else
                        warn(ctx, t->table.key_lines[i], "unknown key registries.%s", kind);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_not_mixed(LoadCtx *ctx, const TomlValue *doc) {
        static const char *const v2_keys[] = {"registry", "unqualified-search-registries"};

        if (!toml_get(doc, "registries"))
                return 0;
        for (size_t i = 0; i < ELEMENTSOF(v2_keys); i++) {
                const TomlValue *v = toml_get(doc, v2_keys[i]);
                if (v)
                        return value_error(ctx, v, v2_keys[i],
                                           "cannot be mixed with the version 1 [registries] tables; convert "
                                           "the file to version 2 (containers-registries.conf(5))");
        }
        return 0;
}

/* ---- one file ---- */

static bool is_ignored_key(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(ignored_keys); i++)
                if (streq(name, ignored_keys[i]))
                        return true;
        return false;
}

static int parse_top_key(LoadCtx *ctx, const TomlValue *doc, size_t i, RegistriesConf *fc) {
        const char *name = doc->table.keys[i];
        const TomlValue *v = doc->table.values[i];

        if (streq(name, "unqualified-search-registries"))
                return parse_search(ctx, v, name, &fc->unqualified_search_registries);
        if (streq(name, "short-name-mode"))
                return parse_short_name_mode(ctx, v, fc);
        if (streq(name, "registry"))
                return parse_registries(ctx, v, fc);
        if (streq(name, "aliases"))
                return parse_aliases(ctx, v, fc);
        if (streq(name, "registries"))
                return parse_v1(ctx, v, fc);
        if (is_ignored_key(name))
                warn(ctx, doc->table.key_lines[i], "%s is not supported by crio-c and is ignored", name);
        else
                warn(ctx, doc->table.key_lines[i], "unknown key %s", name);
        return 0;
}

static int parse_document(LoadCtx *ctx, const TomlValue *doc, RegistriesConf *fc) {
        int r = check_not_mixed(ctx, doc);
        for (size_t i = 0; r >= 0 && i < doc->table.n; i++)
                r = parse_top_key(ctx, doc, i, fc);
        return r;
}

/* ---- merging files ---- */

/* Takes ownership of both strings; an empty value removes the alias. */
static void alias_set(RegistriesConf *c, char *name, char *value) {
        for (size_t i = 0; i < c->n_aliases; i++) {
                if (!streq(c->alias_names[i], name))
                        continue;
                free(name);
                free(c->alias_values[i]);
                if (value[0] != '\0') {
                        c->alias_values[i] = value;
                        return;
                }
                free(value);
                free(c->alias_names[i]);
                /* Shift the NULL terminators down with the rest. */
                memmove(c->alias_names + i, c->alias_names + i + 1, (c->n_aliases - i) * sizeof(char *));
                memmove(c->alias_values + i, c->alias_values + i + 1, (c->n_aliases - i) * sizeof(char *));
                c->n_aliases--;
                return;
        }
        if (value[0] == '\0') {
                free(name);
                free(value);
                return;
        }
        alias_append(c, name, value);
}

/* Moves everything `fc` set into `c`, as containers-registries.conf.d(5) merges a later file. */
static void merge_file(RegistriesConf *c, RegistriesConf *fc) {
        if (fc->unqualified_search_registries) {
                strv_free(c->unqualified_search_registries);
                c->unqualified_search_registries = TAKE_PTR(fc->unqualified_search_registries);
        }
        if (fc->short_name_mode) {
                free(c->short_name_mode);
                c->short_name_mode = TAKE_PTR(fc->short_name_mode);
        }
        for (size_t i = 0; i < fc->n_registries; i++) {
                RegistryEntry *old = entry_find(c, fc->registries[i].prefix);
                if (old)
                        entry_done(old);
                else
                        old = entry_append(c);
                *old = fc->registries[i];
                fc->registries[i] = (RegistryEntry){0};
        }
        for (size_t i = 0; i < fc->n_aliases; i++)
                alias_set(c, TAKE_PTR(fc->alias_names[i]), TAKE_PTR(fc->alias_values[i]));
}

static int load_file(RegistriesConf *c, const char *path, char ***warnings, Error **reterr) {
        _cleanup_toml_ TomlValue *doc = NULL;
        Error *err = NULL;

        int r = toml_parse_file(path, &doc, &err);
        if (r == -ENOENT) {
                error_free(err);
                return 0;
        }
        if (r < 0)
                return error_propagate(reterr, err);
        _cleanup_(registries_conf_freep) RegistriesConf *fc = xcalloc(1, sizeof(*fc));
        LoadCtx ctx = {.filename = path, .warnings = warnings, .reterr = reterr};
        r = parse_document(&ctx, doc, fc);
        if (r < 0)
                return r;
        merge_file(c, fc);
        return 0;
}

static bool is_dropin_name(const char *name) {
        size_t n = strlen(name);
        /* Hidden files are skipped, as for crio.conf.d: editors and package managers leave them behind. */
        return name[0] != '.' && n > strlen(".conf") && streq(name + n - strlen(".conf"), ".conf");
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.conf regular files of `dir` (symlinks followed), sorted; a missing directory has none. */
static int list_dropins(const char *dir, char ***ret, Error **reterr) {
        _cleanup_strv_free_ char **names = xcalloc(1, sizeof(char *));
        DIR *d = opendir(dir);
        if (!d) {
                if (errno != ENOENT)
                        return error_set(reterr, errno, "registries.conf.d '%s': %m", dir);
                *ret = TAKE_PTR(names);
                return 0;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                struct stat st;
                if (!is_dropin_name(de->d_name) || fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
                    !S_ISREG(st.st_mode))
                        continue;
                names = strv_push(names, xasprintf("%s/%s", dir, de->d_name));
        }
        closedir(d);
        qsort(names, strv_length(names), sizeof(char *), compare_strings);
        *ret = TAKE_PTR(names);
        return 0;
}

int registries_conf_load(const char *path, const char *dir, RegistriesConf **ret, char ***warnings,
                         Error **reterr) {
        _cleanup_(registries_conf_freep) RegistriesConf *c = xcalloc(1, sizeof(*c));
        _cleanup_strv_free_ char **dropins = NULL;

        int r = path ? load_file(c, path, warnings, reterr) : 0;
        if (r >= 0 && dir)
                r = list_dropins(dir, &dropins, reterr);
        STRV_FOREACH(f, dropins) {
                if (r < 0)
                        break;
                r = load_file(c, *f, warnings, reterr);
        }
        if (r < 0)
                return r;
        if (!c->unqualified_search_registries)
                c->unqualified_search_registries = xcalloc(1, sizeof(char *));
        *ret = TAKE_PTR(c);
        return 0;
}

RegistriesConf *registries_conf_free(RegistriesConf *c) {
        if (!c)
                return NULL;
        strv_free(c->unqualified_search_registries);
        for (size_t i = 0; i < c->n_registries; i++)
                entry_done(&c->registries[i]);
        free(c->registries);
        for (size_t i = 0; i < c->n_aliases; i++) {
                free(c->alias_names[i]);
                free(c->alias_values[i]);
        }
        free(c->alias_names);
        free(c->alias_values);
        free(c->short_name_mode);
        free(c);
        return NULL;
}

void registries_conf_freep(RegistriesConf **c) {
        *c = registries_conf_free(*c);
}

/* ---- matching ---- */

/*
 * How much of `s` (a qualified reference written out) a plain prefix covers, or -1. The prefix must end
 * where a path component does: before '/' or '@', or before ':' once the prefix has a path, where the ':'
 * starts a tag. After a bare host a ':' starts a port, and another port is another registry.
 */
static ssize_t match_plain(const char *s, const char *prefix) {
        size_t n = strlen(prefix);

        if (strncmp(s, prefix, n) != 0)
                return -1;
        if (s[n] == '\0' || s[n] == '/' || s[n] == '@' || (s[n] == ':' && strchr(prefix, '/')))
                return (ssize_t)n;
        return -1;
}

/* "*.example.com" covers a host that is a subdomain of example.com; the match is all of host[:port]. */
static ssize_t match_wildcard(const char *s, const char *prefix) {
        const char *suffix = prefix + 1;
        size_t m = strlen(suffix), host_len = strcspn(s, ":/");

        if (s[0] == '[' || host_len <= m || strncmp(s + host_len - m, suffix, m) != 0)
                return -1;
        return (ssize_t)strcspn(s, "/");
}

/* The longest plain prefix that matches, else the longest wildcard; *ret_len is the length matched. */
static const RegistryEntry *find_entry(const RegistriesConf *c, const char *s, size_t *ret_len) {
        const RegistryEntry *found[2] = {NULL, NULL};
        size_t found_prefix_len[2] = {0, 0}, found_len[2] = {0, 0};

        for (size_t i = 0; c && i < c->n_registries; i++) {
                const RegistryEntry *e = &c->registries[i];
                int w = is_wildcard(e->prefix);
                ssize_t m = w ? match_wildcard(s, e->prefix) : match_plain(s, e->prefix);
                size_t prefix_len = strlen(e->prefix);
                if (m < 0 || prefix_len <= found_prefix_len[w])
                        continue;
                found[w] = e;
                found_prefix_len[w] = prefix_len;
                found_len[w] = (size_t)m;
        }
        int w = found[0] ? 0 : 1;
        if (found[w])
                *ret_len = found_len[w];
        return found[w];
}

const RegistryEntry *registries_find(const RegistriesConf *c, const ImageRef *ref) {
        if (!c || !ref || !ref->domain)
                return NULL;
        _cleanup_free_ char *s = image_ref_to_string(ref);
        size_t len;
        return find_entry(c, s, &len);
}

/* ---- pull sources ---- */

static bool mirror_applies(const RegistryEntry *e, const RegistryMirror *m, bool digested) {
        if (e->mirror_by_digest_only)
                return digested;
        switch (m->pull_from_mirror) {
        case PULL_FROM_MIRROR_DIGEST_ONLY:
                return digested;
        case PULL_FROM_MIRROR_TAG_ONLY:
                return !digested;
        case PULL_FROM_MIRROR_ALL:
                break;
        }
        return true;
}

/* `s` with its first `len` bytes replaced by `location`; a wildcard location leaves the host as it is. */
static int rewrite(const char *s, size_t len, const char *location, ImageRef **ret, Error **reterr) {
        _cleanup_free_ char *t = is_wildcard(location) ? xstrdup(s) : xasprintf("%s%s", location, s + len);
        _cleanup_image_ref_ ImageRef *r = NULL;

        int k = image_ref_parse(t, &r, reterr);
        if (k < 0) {
                error_prefix(reterr, "rewriting '%s' for '%s'", s, location);
                return k;
        }
        /* A prefix that ends in a tag with a bare host as location: "example.com/foo:1" -> "a.io:1". */
        if (!r->domain)
                return error_set(reterr, EINVAL,
                                 "rewriting '%s' for '%s' gives '%s', which has no registry host", s,
                                 location, t);
        *ret = TAKE_PTR(r);
        return 0;
}

void pull_sources_free(PullSource *s, size_t n) {
        for (size_t i = 0; s && i < n; i++)
                image_ref_free(s[i].ref);
        free(s);
}

static int add_source(PullSource *sources, size_t *n, const char *s, size_t len, const char *location,
                      bool insecure, bool is_mirror, Error **reterr) {
        ImageRef *ref = NULL;
        int r = rewrite(s, len, location, &ref, reterr);
        if (r < 0)
                return r;
        sources[(*n)++] = (PullSource){.ref = ref, .insecure = insecure, .is_mirror = is_mirror};
        return 0;
}

static int entry_sources(const RegistryEntry *e, const char *s, size_t len, bool digested, PullSource **ret,
                         size_t *ret_n, Error **reterr) {
        PullSource *sources = xcalloc(e->n_mirrors + 1, sizeof(PullSource));
        size_t n = 0;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < e->n_mirrors; i++)
                if (mirror_applies(e, &e->mirrors[i], digested))
                        r = add_source(sources, &n, s, len, e->mirrors[i].location, e->mirrors[i].insecure,
                                       true, reterr);
        if (r >= 0)
                r = add_source(sources, &n, s, len, e->location, e->insecure, false, reterr);
        if (r < 0) {
                pull_sources_free(sources, n);
                return r;
        }
        *ret = sources;
        *ret_n = n;
        return 0;
}

int registries_pull_sources(const RegistriesConf *c, const ImageRef *ref, PullSource **ret, size_t *ret_n,
                            Error **reterr) {
        if (!ref || !ref->domain) {
                _cleanup_free_ char *s = image_ref_to_string(ref);
                return error_set(reterr, EINVAL, "reference '%s' is not fully qualified", strempty(s));
        }
        _cleanup_free_ char *s = image_ref_to_string(ref);
        size_t len = 0;
        const RegistryEntry *e = find_entry(c, s, &len);
        if (e && e->blocked)
                return error_set(reterr, EACCES,
                                 "pulling '%s' is blocked: registry '%s' is blocked in registries.conf", s,
                                 e->prefix);
        if (e)
                return entry_sources(e, s, len, ref->digest != NULL, ret, ret_n, reterr);
        PullSource *sources = xcalloc(1, sizeof(PullSource));
        sources[0] = (PullSource){.ref = image_ref_copy(ref)};
        *ret = sources;
        *ret_n = 1;
        return 0;
}

/* ---- short names ---- */

static const char *find_alias(const RegistriesConf *c, const char *name) {
        for (size_t i = 0; c && i < c->n_aliases; i++)
                if (streq(c->alias_names[i], name))
                        return c->alias_values[i];
        return NULL;
}

/* The alias target with the tag or digest the user gave (or "latest"). */
static int alias_candidate(const char *alias, const ImageRef *short_ref, ImageRef **ret, Error **reterr) {
        _cleanup_image_ref_ ImageRef *target = NULL;

        int r = image_ref_parse(alias, &target, reterr);
        if (r < 0)
                return error_prefix(reterr, "alias of '%s'", short_ref->path);
        free(target->tag);
        free(target->digest);
        target->tag = short_ref->tag ? xstrdup(short_ref->tag) : NULL;
        target->digest = short_ref->digest ? xstrdup(short_ref->digest) : NULL;
        *ret = image_ref_qualify(target, NULL);
        return 0;
}

static bool candidates_contain(ImageRef **l, size_t n, const ImageRef *r) {
        _cleanup_free_ char *s = image_ref_to_string(r);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *t = image_ref_to_string(l[i]);
                if (streq(s, t))
                        return true;
        }
        return false;
}

static void candidates_free(ImageRef **l, size_t n) {
        for (size_t i = 0; l && i < n; i++)
                image_ref_free(l[i]);
        free(l);
}

static int ambiguous(const ImageRef *short_ref, ImageRef **l, size_t n, Error **reterr) {
        _cleanup_free_ char *name = image_ref_to_string(short_ref);
        _cleanup_free_ char *list = NULL;

        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *s = image_ref_to_string(l[i]);
                char *joined = xasprintf("%s%s%s", strempty(list), list ? ", " : "", s);
                free(list);
                list = joined;
        }
        return error_set(reterr, EINVAL,
                         "short name '%s' is ambiguous with short_name_mode \"enforcing\": it could be %s; "
                         "use a fully qualified reference or add an alias to registries.conf",
                         name, list);
}

/* The short name qualified with each search registry, in order and without repeats. */
static size_t search_candidates(const RegistriesConf *c, const ImageRef *short_ref, ImageRef **l) {
        static char *const default_search[] = {"docker.io", NULL};
        char *const *search = c && strv_length(c->unqualified_search_registries) > 0
                                      ? c->unqualified_search_registries
                                      : default_search;
        size_t n = 0;

        STRV_FOREACH(domain, search) {
                ImageRef *q = image_ref_qualify(short_ref, *domain);
                if (candidates_contain(l, n, q))
                        image_ref_free(q);
                else
                        l[n++] = q;
        }
        return n;
}

int registries_resolve_short_name(const RegistriesConf *c, const ImageRef *short_ref, bool enforcing,
                                  ImageRef ***ret, size_t *ret_n, Error **reterr) {
        if (!short_ref || !short_ref->path)
                return error_set(reterr, EINVAL, "no image name given");
        const char *alias = short_ref->domain ? NULL : find_alias(c, short_ref->path);
        size_t n = 0;
        /* Room for every search registry (or the default one) and a NULL at the end. */
        ImageRef **l =
                xcalloc(strv_length(c ? c->unqualified_search_registries : NULL) + 2, sizeof(ImageRef *));
        int r = 0;

        /* A qualified name needs no resolving; taking it keeps callers simple. */
        if (short_ref->domain)
                l[n++] = image_ref_qualify(short_ref, NULL);
        else if (alias) {
                r = alias_candidate(alias, short_ref, &l[n], reterr);
                n += r >= 0;
        } else
                n = search_candidates(c, short_ref, l);
        if (r >= 0 && enforcing && n > 1)
                r = ambiguous(short_ref, l, n, reterr);
        if (r < 0) {
                candidates_free(l, n);
                return r;
        }
        *ret = l;
        *ret_n = n;
        return 0;
}
