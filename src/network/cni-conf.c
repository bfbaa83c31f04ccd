/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni-conf.h"
#include "fs-util.h"
#include "json-util.h"
#include "strv.h"

/* A configuration file is small; anything larger is not one. */
#define CNI_CONF_MAX (1 << 20)

static const char *const known_versions[] = {"0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0"};

bool cni_version_known(const char *version) {
        for (size_t i = 0; version && i < ELEMENTSOF(known_versions); i++)
                if (strcmp(version, known_versions[i]) == 0)
                        return true;
        return false;
}

static int version_index(const char *v) {
        for (size_t i = 0; i < ELEMENTSOF(known_versions); i++)
                if (strcmp(v, known_versions[i]) == 0)
                        return (int)i;
        return -1;
}

int cni_version_compare(const char *a, const char *b) {
        return version_index(a) - version_index(b);
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * Network names and plugin types follow the CNI spec's name rule; a type also names an executable,
 * so the rule keeps it from being a path.
 */
static bool plain_name(const char *s) {
        if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
                return false;
        for (; *s; s++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *s))
                        return false;
        return true;
}

static const char *string_field(json_object *o, const char *key) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

static int check_plugins(json_object *plugins, Error **reterr) {
        if (!plugins || !json_object_is_type(plugins, json_type_array) ||
            json_object_array_length(plugins) == 0)
                return error_set(reterr, EINVAL, "\"plugins\" must be a non-empty array");
        size_t n = json_object_array_length(plugins);
        for (size_t i = 0; i < n; i++) {
                json_object *p = json_object_array_get_idx(plugins, i);
                if (!json_object_is_type(p, json_type_object))
                        return error_set(reterr, EINVAL, "plugins[%zu] is not an object", i);
                const char *type = string_field(p, "type");
                if (!type)
                        return error_set(reterr, EINVAL, "plugins[%zu] has no \"type\"", i);
                if (!plain_name(type))
                        return error_set(reterr, EINVAL, "plugins[%zu] has an invalid type \"%s\"", i, type);
        }
        return 0;
}

/* A single plugin's configuration as a list of one: the plugin keeps every key of the file. */
static json_object *list_from_single(json_object *conf) {
        json_object *list = json_object_new_object();
        json_object *plugins = json_object_new_array();
        json_object_object_add(list, "cniVersion",
                               json_object_get(json_object_object_get(conf, "cniVersion")));
        json_object_object_add(list, "name", json_object_get(json_object_object_get(conf, "name")));
        json_object_array_add(plugins, json_object_get(conf));
        json_object_object_add(list, "plugins", plugins);
        return list;
}

static int validate_list(json_object *list, CniNetwork *n, Error **reterr) {
        const char *name = string_field(list, "name");
        if (!name || !plain_name(name))
                return error_set(reterr, EINVAL, "\"name\" is missing or not a valid network name");
        const char *version = string_field(list, "cniVersion");
        if (!version)
                return error_set(reterr, EINVAL, "\"cniVersion\" is missing");
        if (!cni_version_known(version))
                return error_set(reterr, EINVAL, "cniVersion \"%s\" is not supported", version);
        json_object *plugins = NULL;
        json_object_object_get_ex(list, "plugins", &plugins);
        int r = check_plugins(plugins, reterr);
        if (r < 0)
                return r;
        json_object *dc = NULL;
        n->disable_check =
                json_object_object_get_ex(list, "disableCheck", &dc) && json_object_get_boolean(dc);
        n->name = xstrdup(name);
        n->cni_version = xstrdup(version);
        n->n_plugins = json_object_array_length(plugins);
        return 0;
}

int cni_network_parse(const char *path, const char *text, size_t len, CniNetwork **ret, Error **reterr) {
        json_object *doc = NULL;
        int r = json_parse_object(text, len, "CNI configuration", &doc, reterr);
        if (r < 0)
                return r;
        json_object *list = doc;
        if (!has_suffix(path, ".conflist")) {
                list = list_from_single(doc);
                json_object_put(doc);
        }
        CniNetwork *n = xcalloc(1, sizeof(*n));
        n->refs = 1;
        n->list = list;
        n->path = xstrdup(path);
        r = validate_list(list, n, reterr);
        if (r < 0) {
                cni_network_unref(n);
                return r;
        }
        *ret = n;
        return 0;
}

CniNetwork *cni_network_ref(CniNetwork *n) {
        __atomic_add_fetch(&n->refs, 1, __ATOMIC_RELAXED);
        return n;
}

void cni_network_unref(CniNetwork *n) {
        if (!n || __atomic_sub_fetch(&n->refs, 1, __ATOMIC_ACQ_REL) > 0)
                return;
        free(n->name);
        free(n->cni_version);
        free(n->path);
        json_object_put(n->list);
        free(n);
}

void cni_network_unrefp(CniNetwork **n) {
        cni_network_unref(*n);
}

json_object *cni_network_plugin(const CniNetwork *n, size_t index) {
        return json_object_array_get_idx(json_object_object_get(n->list, "plugins"), index);
}

const char *cni_network_plugin_type(const CniNetwork *n, size_t index) {
        return string_field(cni_network_plugin(n, index), "type");
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The configuration file names of `dir`, sorted; NULL with *ret_err on failure. */
static char **config_files(const char *dir, int *ret_err) {
        DIR *d = opendir(dir);
        if (!d) {
                *ret_err = errno;
                return NULL;
        }
        char **names = xcalloc(1, sizeof(char *));
        for (struct dirent *e; (e = readdir(d));) {
                if (e->d_name[0] == '.')
                        continue;
                if (has_suffix(e->d_name, ".conflist") || has_suffix(e->d_name, ".conf") ||
                    has_suffix(e->d_name, ".json"))
                        names = strv_push(names, xstrdup(e->d_name));
        }
        closedir(d);
        qsort(names, strv_length(names), sizeof(char *), compare_names);
        return names;
}

static void load_one(CniDir *d, const char *path) {
        _cleanup_free_ char *text = NULL;
        _cleanup_error_ Error *err = NULL;
        size_t len = 0;
        CniNetwork *n = NULL;
        int r = read_file(path, CNI_CONF_MAX, &text, &len);
        if (r < 0) {
                d->problems = strv_push(d->problems, xasprintf("%s: cannot read: %s", path, strerror(-r)));
                return;
        }
        if (cni_network_parse(path, text, len, &n, &err) < 0) {
                d->problems = strv_push(d->problems, xasprintf("%s: %s", path, err->message));
                return;
        }
        d->nets = xrealloc(d->nets, (d->n_nets + 1) * sizeof(CniNetwork *));
        d->nets[d->n_nets++] = n;
}

void cni_dir_load(const char *dir, CniDir *ret) {
        *ret = (CniDir){.problems = xcalloc(1, sizeof(char *))};
        int err = 0;
        _cleanup_strv_free_ char **names = config_files(dir, &err);
        if (!names) {
                if (err != ENOENT)
                        ret->problems = strv_push(ret->problems,
                                                  xasprintf("%s: cannot read: %s", dir, strerror(err)));
                return;
        }
        for (char **name = names; *name; name++) {
                bool slash = has_suffix(dir, "/");
                _cleanup_free_ char *path = xasprintf("%s%s%s", dir, slash ? "" : "/", *name);
                load_one(ret, path);
        }
}

void cni_dir_done(CniDir *d) {
        for (size_t i = 0; i < d->n_nets; i++)
                cni_network_unref(d->nets[i]);
        free(d->nets);
        strv_free(d->problems);
        *d = (CniDir){};
}

CniNetwork *cni_dir_find(const CniDir *d, const char *name) {
        for (size_t i = 0; i < d->n_nets; i++)
                if (!name || !*name || strcmp(d->nets[i]->name, name) == 0)
                        return d->nets[i];
        return NULL;
}
