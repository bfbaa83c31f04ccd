/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#include "config-load.h"
#include "strv.h"

/* Flags whose names differ from their keys, for compatibility with CRI-O's command line. */
static const struct {
        const char *key;
        const char *flag;
} renamed_flags[] = {
        {"network_dir", "cni-config-dir"},
        {"plugin_dirs", "cni-plugin-dir"},
        {"cni_default_network", "cni-default-network"},
        {"storage_option", "storage-opt"},
};

char *config_key_flag_name(const ConfigKey *key) {
        if ((key->flags & CK_NOFLAG) || key->type == CT_MAP)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(renamed_flags); i++)
                if (strcmp(renamed_flags[i].key, key->name) == 0)
                        return xstrdup(renamed_flags[i].flag);
        char *f = xstrdup(key->name);
        for (char *p = f; *p; p++)
                if (*p == '_')
                        *p = '-';
        return f;
}

char *config_flag_env_name(const char *flag) {
        char *e = xasprintf("CONTAINER_%s", flag);
        for (char *p = e; *p; p++) {
                if (*p == '-')
                        *p = '_';
                else if (*p >= 'a' && *p <= 'z')
                        *p = (char)(*p - 'a' + 'A');
        }
        return e;
}

const ConfigKey *config_key_by_flag(const char *flag) {
        for (size_t i = 0; i < config_keys_count; i++) {
                _cleanup_free_ char *f = config_key_flag_name(&config_keys[i]);
                if (f && strcmp(f, flag) == 0)
                        return &config_keys[i];
        }
        return NULL;
}

void config_sources_done(ConfigSources *s) {
        free(s->config_path);
        free(s->config_dir);
        for (size_t i = 0; i < s->n_overrides; i++)
                free(s->overrides[i].value);
        free(s->overrides);
        *s = (ConfigSources){0};
}

void config_sources_add_override(ConfigSources *s, const ConfigKey *key, const char *value) {
        for (size_t i = 0; i < s->n_overrides; i++) {
                ConfigOverride *o = &s->overrides[i];
                if (o->key != key)
                        continue;
                char *v = key->type == CT_STRV ? xasprintf("%s,%s", o->value, value) : xstrdup(value);
                free(o->value);
                o->value = v;
                return;
        }
        s->overrides = xrealloc(s->overrides, (s->n_overrides + 1) * sizeof(*s->overrides));
        s->overrides[s->n_overrides++] = (ConfigOverride){.key = key, .value = xstrdup(value)};
}

static int apply_file(Config *c, const char *path, bool must_exist, char ***warnings, Error **reterr) {
        _cleanup_toml_ TomlValue *doc = NULL;
        Error *err = NULL;

        int r = toml_parse_file(path, &doc, &err);
        if (r == -ENOENT && !must_exist) {
                error_free(err);
                return 0;
        }
        if (r < 0)
                return error_propagate(reterr, err);
        return config_apply_toml(c, doc, path, warnings, reterr);
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files of a directory, sorted; a missing directory is empty. */
static int list_dropins(const char *dir, char ***ret, Error **reterr) {
        _cleanup_strv_free_ char **names = xcalloc(1, sizeof(char *));
        DIR *d = opendir(dir);
        if (!d) {
                if (errno == ENOENT) {
                        *ret = TAKE_PTR(names);
                        return 0;
                }
                return error_set(reterr, errno, "config directory '%s': %m", dir);
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                struct stat st;
                if (de->d_name[0] == '.')
                        continue;
                if (fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
                        continue;
                names = strv_push(names, xasprintf("%s/%s", dir, de->d_name));
        }
        closedir(d);
        qsort(names, strv_length(names), sizeof(char *), compare_names);
        *ret = TAKE_PTR(names);
        return 0;
}

/* Set one key from a string; `where` names the variable or flag, in errors and no-effect warnings. */
static int set_noting(Config *c, const ConfigKey *key, const char *value, const char *where,
                      char ***warnings, Error **reterr) {
        _cleanup_free_ char *before = key->flags & CK_NOEFFECT ? config_value_to_string(c, key) : NULL;
        int r = config_set_from_string(c, key, value, reterr);
        if (r < 0)
                return error_prefix(reterr, "%s", where);
        _cleanup_free_ char *path = xasprintf("%s.%s", key->table, key->name);
        config_note_no_effect(warnings, where, path, before, c, key);
        return 0;
}

static int apply_environment(Config *c, char ***warnings, Error **reterr) {
        for (size_t i = 0; i < config_keys_count; i++) {
                _cleanup_free_ char *flag = config_key_flag_name(&config_keys[i]);
                if (!flag)
                        continue;
                _cleanup_free_ char *env = config_flag_env_name(flag);
                const char *v = getenv(env);
                if (!v)
                        continue;
                _cleanup_free_ char *where = xasprintf("environment variable %s", env);
                int r = set_noting(c, &config_keys[i], v, where, warnings, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int apply_overrides(Config *c, const ConfigSources *s, char ***warnings, Error **reterr) {
        for (size_t i = 0; i < s->n_overrides; i++) {
                const ConfigOverride *o = &s->overrides[i];
                _cleanup_free_ char *flag = config_key_flag_name(o->key);
                _cleanup_free_ char *where = xasprintf("flag --%s", flag);
                int r = set_noting(c, o->key, o->value, where, warnings, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

/*
 * CRI-O writes storage_driver = "" to mean "whatever storage.conf says", and `crio config --default`
 * on a 1.26 node prints exactly that; overlay is our only driver, so empty is the default.
 */
static void apply_storage_defaults(Config *c) {
        if (c->storage_driver[0] == '\0') {
                free(c->storage_driver);
                c->storage_driver = xstrdup("overlay");
        }
}

/*
 * CRI-O's older, global conmon keys still configure the monitor of handlers that do not set their own:
 * a node's old crio.conf naming its conmon must not lose it.
 */
static void apply_deprecated_monitor_keys(Config *c) {
        const ConfigKey *env_key = config_key_find(runtime_keys, runtime_keys_count, "", "monitor_env");
        _cleanup_strv_free_ char **default_env = strv_split(env_key->def, ',');
        for (size_t i = 0; i < c->n_runtimes; i++) {
                RuntimeHandler *h = c->runtimes[i];
                if (h->monitor_path[0] == '\0' && c->conmon[0] != '\0') {
                        free(h->monitor_path);
                        h->monitor_path = xstrdup(c->conmon);
                }
                if (h->monitor_cgroup[0] == '\0' && c->conmon_cgroup[0] != '\0') {
                        free(h->monitor_cgroup);
                        h->monitor_cgroup = xstrdup(c->conmon_cgroup);
                }
                if (c->conmon_env && c->conmon_env[0] && strv_equal(h->monitor_env, default_env)) {
                        strv_free(h->monitor_env);
                        h->monitor_env = strv_copy(c->conmon_env);
                }
        }
}

static void replace_string(char **field, const char *value) {
        free(*field);
        *field = xstrdup(value);
}

/*
 * inherit_default_runtime: a handler that differs from the default only in what it allows (annotations,
 * devices) takes the default's binary, type, state root and config file, as CRI-O does.
 */
static void apply_inherited_runtimes(Config *c) {
        const RuntimeHandler *def = config_find_runtime(c, c->default_runtime);
        for (size_t i = 0; def && i < c->n_runtimes; i++) {
                RuntimeHandler *h = c->runtimes[i];
                if (!h->inherit_default_runtime || h == def)
                        continue;
                /* Empty path and root mean the handler's own name: the default's, here. */
                _cleanup_free_ char *root = isempty(def->runtime_root) ? xasprintf("/run/%s", def->name)
                                                                       : xstrdup(def->runtime_root);
                replace_string(&h->runtime_path, isempty(def->runtime_path) ? def->name : def->runtime_path);
                replace_string(&h->runtime_type, def->runtime_type);
                replace_string(&h->runtime_root, root);
                replace_string(&h->runtime_config_path, def->runtime_config_path);
        }
}

int config_load(const ConfigSources *s, Config **ret, char ***warnings, Error **reterr) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_strv_free_ char **dropins = NULL;
        int r;

        if (s->config_path) {
                r = apply_file(c, s->config_path, s->config_path_set, warnings, reterr);
                if (r < 0)
                        return r;
        }
        if (s->config_dir) {
                r = list_dropins(s->config_dir, &dropins, reterr);
                if (r < 0)
                        return r;
                STRV_FOREACH(f, dropins) {
                        r = apply_file(c, *f, true, warnings, reterr);
                        if (r < 0)
                                return r;
                }
        }
        r = apply_environment(c, warnings, reterr);
        if (r >= 0)
                r = apply_overrides(c, s, warnings, reterr);
        if (r >= 0) {
                apply_storage_defaults(c);
                apply_deprecated_monitor_keys(c);
                apply_inherited_runtimes(c);
                r = config_validate(c, reterr);
        }
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}
