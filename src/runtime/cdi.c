/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "cdi.h"
#include "fs-util.h"
#include "hooks.h"
#include "json-util.h"
#include "strv.h"

/* Spec files of GPU vendors are tens of KiB; this bounds a broken or hostile one. */
#define CDI_SPEC_MAX (4 << 20)

typedef struct CdiEntry {
        char *name;          /* "vendor/class=device" */
        json_object *spec;   /* the whole spec (a reference) */
        json_object *device; /* borrowed from spec */
        size_t dir;          /* index in cdi_spec_dirs: a later one wins */
        char *file, *twin;   /* twin: a second file of the same directory defining it */
} CdiEntry;

struct CdiRegistry {
        CdiEntry *entries;
        size_t n;
        char **problems; /* "FILE: reason" for files skipped */
};

/* ---------------------------------------------------------------------------------------------- */
/* Names */

static bool isalnum_ascii(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool name_chars(const char *s, size_t n, const char *extra) {
        if (n == 0 || !isalnum_ascii(s[0]) || !isalnum_ascii(s[n - 1]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum_ascii(s[i]) && !strchr(extra, s[i]))
                        return false;
        return true;
}

static bool isalpha_ascii(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* "vendor.com/class": both parts start with a letter, as CDI's names do. */
static bool kind_valid(const char *kind) {
        const char *slash = strchr(kind, '/');
        if (!slash || strchr(slash + 1, '/'))
                return false;
        size_t vendor = (size_t)(slash - kind), class = strlen(slash + 1);
        return vendor <= 253 && isalpha_ascii(kind[0]) && name_chars(kind, vendor, "-_.") && class <= 63 &&
               isalpha_ascii(slash[1]) && name_chars(slash + 1, class, "-_.");
}

static bool device_name_valid(const char *name) {
        return name_chars(name, strlen(name), "-_.:");
}

static bool qualified_name_valid(const char *q) {
        const char *eq = strchr(q, '=');
        if (!eq)
                return false;
        _cleanup_free_ char *kind = xstrndup(q, (size_t)(eq - q));
        return kind_valid(kind) && device_name_valid(eq + 1);
}

static char **add_requested(char **l, const char *name) {
        return strv_contains(l, name) ? l : strv_push(l, xstrdup(name));
}

int cdi_requested(const StrMap *annotations, char *const *cri_names, char ***ret, Error **reterr) {
        char **out = NULL;
        for (size_t i = 0; i < annotations->n; i++) {
                if (strncmp(annotations->keys[i], CDI_ANNOTATION_PREFIX, strlen(CDI_ANNOTATION_PREFIX)) != 0)
                        continue;
                _cleanup_strv_free_ char **names = strv_split(annotations->values[i], ',');
                STRV_FOREACH(n, names) {
                        if (!qualified_name_valid(*n)) {
                                strv_free(out);
                                return error_set(reterr, EINVAL,
                                                 "annotation %s: '%s' is not a CDI device name "
                                                 "(vendor.com/class=name)",
                                                 annotations->keys[i], *n);
                        }
                        out = add_requested(out, *n);
                }
        }
        STRV_FOREACH(n, cri_names) {
                if (!qualified_name_valid(*n)) {
                        strv_free(out);
                        return error_set(
                                reterr, EINVAL,
                                "CDI_devices: '%s' is not a CDI device name (vendor.com/class=name)", *n);
                }
                out = add_requested(out, *n);
        }
        *ret = out;
        return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* Spec validation: after it, cdi_apply() trusts every field it reads. */

static json_object *field(json_object *o, const char *key) {
        json_object *v = NULL;
        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static bool is_type(json_object *v, json_type t) {
        return v && json_object_is_type(v, t);
}

static bool absolute_string(json_object *v) {
        return is_type(v, json_type_string) && json_object_get_string(v)[0] == '/';
}

static int check_strings(json_object *a, const char *what, bool need_eq, Error **reterr) {
        if (!a)
                return 0;
        if (!is_type(a, json_type_array))
                return error_set(reterr, EINVAL, "%s is not a list", what);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *s = json_object_array_get_idx(a, i);
                if (!is_type(s, json_type_string) || (need_eq && !strchr(json_object_get_string(s), '=')))
                        return error_set(reterr, EINVAL, "%s[%zu] is not a %s", what, i,
                                         need_eq ? "NAME=VALUE string" : "string");
        }
        return 0;
}

/* An optional whole number; one given as a string (every YAML scalar is) becomes a number here. */
static bool optional_int(json_object *o, const char *key, int64_t min) {
        json_object *v = field(o, key);
        int64_t n = 0;
        if (is_type(v, json_type_string)) {
                if (!cdi_yaml_integer(json_object_get_string(v), &n))
                        return false;
                json_object_object_add(o, key, json_object_new_int64(n));
                v = field(o, key);
        }
        return !v || (is_type(v, json_type_int) && json_object_get_int64(v) >= min);
}

/* Only the keys the spec defines: a key crio-c would skip could be an edit the device needs. */
static int check_keys(json_object *o, const char *const *known, const char *where, Error **reterr) {
        json_object_object_foreach(o, key, value) {
                (void)value;
                bool ok = false;
                for (const char *const *k = known; *k && !ok; k++)
                        ok = strcmp(*k, key) == 0;
                if (!ok)
                        return error_set(reterr, EINVAL, "%s: '%s' is not a CDI field crio-c applies", where,
                                         key);
        }
        return 0;
}

static int check_node(json_object *d, const char *where, Error **reterr) {
        static const char *const known[] = {"path",     "hostPath",    "type", "major", "minor",
                                            "fileMode", "permissions", "uid",  "gid",   NULL};
        json_object *type = field(d, "type"), *perms = field(d, "permissions");
        int r = check_keys(d, known, where, reterr);
        if (r < 0)
                return r;
        if (!absolute_string(field(d, "path")))
                return error_set(reterr, EINVAL, "%s.path is not an absolute path", where);
        if (field(d, "hostPath") && !absolute_string(field(d, "hostPath")))
                return error_set(reterr, EINVAL, "%s.hostPath is not an absolute path", where);
        const char *t = is_type(type, json_type_string) ? json_object_get_string(type) : "";
        if (type && (!t[0] || t[1] || !strchr("bcup", t[0])))
                return error_set(reterr, EINVAL, "%s.type is not one of b, c, u, p", where);
        if (perms && (!is_type(perms, json_type_string) ||
                      strspn(json_object_get_string(perms), "rwm") != strlen(json_object_get_string(perms))))
                return error_set(reterr, EINVAL, "%s.permissions is not made of r, w and m", where);
        if (!optional_int(d, "major", 0) || !optional_int(d, "minor", 0) ||
            !optional_int(d, "fileMode", 0) || !optional_int(d, "uid", 0) || !optional_int(d, "gid", 0))
                return error_set(reterr, EINVAL, "%s: major, minor, fileMode, uid and gid are whole numbers",
                                 where);
        return 0;
}

static int check_mount(json_object *m, const char *where, Error **reterr) {
        static const char *const known[] = {"hostPath", "containerPath", "options", "type", NULL};
        if (check_keys(m, known, where, reterr) < 0)
                return -EINVAL;
        if (!absolute_string(field(m, "hostPath")) || !absolute_string(field(m, "containerPath")))
                return error_set(reterr, EINVAL, "%s: hostPath and containerPath must be absolute paths",
                                 where);
        if (field(m, "type") && !is_type(field(m, "type"), json_type_string))
                return error_set(reterr, EINVAL, "%s.type is not a string", where);
        _cleanup_free_ char *opts = xasprintf("%s.options", where);
        return check_strings(field(m, "options"), opts, false, reterr);
}

static bool hook_name_valid(json_object *v) {
        return is_type(v, json_type_string) && hook_stage_known(json_object_get_string(v));
}

static int check_hook(json_object *h, const char *where, Error **reterr) {
        static const char *const known[] = {"hookName", "path", "args", "env", "timeout", NULL};
        if (check_keys(h, known, where, reterr) < 0)
                return -EINVAL;
        if (!hook_name_valid(field(h, "hookName")))
                return error_set(reterr, EINVAL, "%s.hookName is not an OCI hook stage", where);
        if (!absolute_string(field(h, "path")))
                return error_set(reterr, EINVAL, "%s.path is not an absolute path", where);
        if (!optional_int(h, "timeout", 1))
                return error_set(reterr, EINVAL, "%s.timeout is not a number of seconds above 0", where);
        _cleanup_free_ char *args = xasprintf("%s.args", where), *env = xasprintf("%s.env", where);
        int r = check_strings(field(h, "args"), args, false, reterr);
        return r < 0 ? r : check_strings(field(h, "env"), env, true, reterr);
}

typedef int (*CheckItem)(json_object *item, const char *where, Error **reterr);

static int check_list(json_object *edits, const char *key, const char *where, CheckItem check,
                      Error **reterr) {
        json_object *a = field(edits, key);
        if (!a)
                return 0;
        if (!is_type(a, json_type_array))
                return error_set(reterr, EINVAL, "%s.%s is not a list", where, key);
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                _cleanup_free_ char *at = xasprintf("%s.%s[%zu]", where, key, i);
                json_object *item = json_object_array_get_idx(a, i);
                if (!is_type(item, json_type_object))
                        return error_set(reterr, EINVAL, "%s is not an object", at);
                int r = check(item, at, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* additionalGids (CDI 0.7): whole numbers, from strings in YAML. */
static int check_gids(json_object *edits, const char *where, Error **reterr) {
        json_object *a = field(edits, "additionalGids");
        if (a && !is_type(a, json_type_array))
                return error_set(reterr, EINVAL, "%s.additionalGids is not a list", where);
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *g = json_object_array_get_idx(a, i);
                int64_t n = -1;
                if (is_type(g, json_type_string) && cdi_yaml_integer(json_object_get_string(g), &n))
                        json_object_array_put_idx(a, i, g = json_object_new_int64(n));
                if (!is_type(g, json_type_int) || json_object_get_int64(g) < 0 ||
                    json_object_get_int64(g) > UINT32_MAX)
                        return error_set(reterr, EINVAL, "%s.additionalGids[%zu] is not a group ID", where,
                                         i);
        }
        return 0;
}

static int check_edits(json_object *edits, const char *where, Error **reterr) {
        static const char *const known[] = {"env", "deviceNodes", "mounts", "hooks", "additionalGids", NULL};
        if (!edits)
                return 0;
        if (!is_type(edits, json_type_object))
                return error_set(reterr, EINVAL, "%s is not an object", where);
        _cleanup_free_ char *env = xasprintf("%s.env", where);
        int r = check_keys(edits, known, where, reterr);
        if (r >= 0)
                r = check_strings(field(edits, "env"), env, true, reterr);
        if (r >= 0)
                r = check_gids(edits, where, reterr);
        if (r >= 0)
                r = check_list(edits, "deviceNodes", where, check_node, reterr);
        if (r >= 0)
                r = check_list(edits, "mounts", where, check_mount, reterr);
        if (r >= 0)
                r = check_list(edits, "hooks", where, check_hook, reterr);
        return r;
}

/* A device name twice in one spec would make which edits apply depend on the order of reading. */
static int check_unique_names(json_object *devices, Error **reterr) {
        for (size_t i = 0; i < json_object_array_length(devices); i++)
                for (size_t j = 0; j < i; j++)
                        if (strcmp(json_object_get_string(
                                           field(json_object_array_get_idx(devices, i), "name")),
                                   json_object_get_string(
                                           field(json_object_array_get_idx(devices, j), "name"))) == 0)
                                return error_set(reterr, EINVAL,
                                                 "devices[%zu].name repeats devices[%zu].name", i, j);
        return 0;
}

static int check_spec(json_object *spec, Error **reterr) {
        static const char *const known[] = {"cdiVersion", "kind",           "annotations",
                                            "devices",    "containerEdits", NULL};
        static const char *const device_keys[] = {"name", "annotations", "containerEdits", NULL};
        json_object *kind = field(spec, "kind"), *devices = field(spec, "devices");
        if (!is_type(spec, json_type_object))
                return error_set(reterr, EINVAL, "a spec is an object");
        if (check_keys(spec, known, "spec", reterr) < 0)
                return -EINVAL;
        if (!is_type(field(spec, "cdiVersion"), json_type_string))
                return error_set(reterr, EINVAL, "cdiVersion is missing");
        if (!is_type(kind, json_type_string) || !kind_valid(json_object_get_string(kind)))
                return error_set(reterr, EINVAL, "kind is not vendor.com/class");
        if (!is_type(devices, json_type_array))
                return error_set(reterr, EINVAL, "devices is not a list");
        int r = check_edits(field(spec, "containerEdits"), "containerEdits", reterr);
        for (size_t i = 0; r >= 0 && i < json_object_array_length(devices); i++) {
                json_object *d = json_object_array_get_idx(devices, i), *name = field(d, "name");
                if (!is_type(name, json_type_string) || !device_name_valid(json_object_get_string(name)))
                        return error_set(reterr, EINVAL, "devices[%zu].name is not a device name", i);
                _cleanup_free_ char *at = xasprintf("devices[%zu]", i);
                _cleanup_free_ char *where = xasprintf("devices[%zu].containerEdits", i);
                r = check_keys(d, device_keys, at, reterr);
                if (r >= 0)
                        r = check_edits(field(d, "containerEdits"), where, reterr);
        }
        return r < 0 ? r : check_unique_names(devices, reterr);
}

int cdi_spec_parse(const char *text, size_t len, bool yaml, json_object **ret, Error **reterr) {
        json_object *spec = NULL;
        int r = yaml ? cdi_yaml_to_json(text, len, &spec, reterr)
                     : json_parse_object(text, len, "spec", &spec, reterr);
        if (r >= 0)
                r = check_spec(spec, reterr);
        if (r < 0) {
                json_object_put(spec);
                return r;
        }
        *ret = spec;
        return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* The registry */

static CdiEntry *find_entry(const CdiRegistry *r, const char *name) {
        for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->entries[i].name, name) == 0)
                        return &r->entries[i];
        return NULL;
}

static void entry_done(CdiEntry *e) {
        free(e->name);
        free(e->file);
        free(e->twin);
        json_object_put(e->spec);
}

static void add_device(CdiRegistry *r, json_object *spec, json_object *device, size_t dir,
                       const char *file) {
        _cleanup_free_ char *name = xasprintf("%s=%s", json_object_get_string(field(spec, "kind")),
                                              json_object_get_string(field(device, "name")));
        CdiEntry *e = find_entry(r, name);
        if (e && e->dir == dir) {
                free(e->twin);
                e->twin = xstrdup(file);
                return;
        }
        if (!e) {
                r->entries = xrealloc(r->entries, (r->n + 1) * sizeof(*r->entries));
                e = &r->entries[r->n++];
        } else
                entry_done(e);
        *e = (CdiEntry){.name = TAKE_PTR(name),
                        .spec = json_object_get(spec),
                        .device = device,
                        .dir = dir,
                        .file = xstrdup(file)};
}

static bool has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n > m && strcmp(s + n - m, suffix) == 0;
}

static void load_file(CdiRegistry *r, const char *path, size_t dir) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        _cleanup_error_ Error *err = NULL;
        json_object *spec = NULL;
        int q = read_file(path, CDI_SPEC_MAX, &text, &len);
        if (q < 0) {
                r->problems = strv_push(r->problems, xasprintf("%s: %s", path, strerror(-q)));
                return;
        }
        if (cdi_spec_parse(text, len, !has_suffix(path, ".json"), &spec, &err) < 0) {
                r->problems = strv_push(r->problems, xasprintf("%s: %s", path, err->message));
                return;
        }
        json_object *devices = field(spec, "devices");
        for (size_t i = 0; i < json_object_array_length(devices); i++)
                add_device(r, spec, json_object_array_get_idx(devices, i), dir, path);
        json_object_put(spec);
}

static int compare_names(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The spec files of one directory, in name order so that a twin is always the same file. */
static void load_dir(CdiRegistry *r, const char *dir, size_t index) {
        DIR *d = opendir(dir);
        char **names = NULL;
        for (struct dirent *de; d && (de = readdir(d));)
                if (de->d_name[0] != '.' &&
                    (has_suffix(de->d_name, ".json") || has_suffix(de->d_name, ".yaml") ||
                     has_suffix(de->d_name, ".yml")))
                        names = strv_push(names, xstrdup(de->d_name));
        if (d)
                closedir(d);
        size_t n = strv_length(names);
        if (n)
                qsort(names, n, sizeof(char *), compare_names);
        STRV_FOREACH(name, names) {
                _cleanup_free_ char *path = xasprintf("%s/%s", dir, *name);
                load_file(r, path, index);
        }
        strv_free(names);
}

CdiRegistry *cdi_registry_of(json_object *spec, const char *file) {
        CdiRegistry *r = xcalloc(1, sizeof(*r));
        json_object *devices = field(spec, "devices");
        for (size_t i = 0; i < json_object_array_length(devices); i++)
                add_device(r, spec, json_object_array_get_idx(devices, i), 0, file);
        return r;
}

CdiRegistry *cdi_registry_load(char *const *dirs) {
        CdiRegistry *r = xcalloc(1, sizeof(*r));
        size_t i = 0;
        STRV_FOREACH(dir, dirs)
                load_dir(r, *dir, i++);
        return r;
}

CdiRegistry *cdi_registry_free(CdiRegistry *r) {
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n; i++)
                entry_done(&r->entries[i]);
        free(r->entries);
        strv_free(r->problems);
        free(r);
        return NULL;
}

/* ---------------------------------------------------------------------------------------------- */
/* Edits */

static json_object *ensure(json_object *o, const char *key, json_type type) {
        json_object *v = field(o, key);
        if (!is_type(v, type)) {
                v = type == json_type_array ? json_object_new_array() : json_object_new_object();
                json_object_object_add(o, key, v);
        }
        return v;
}

static void apply_env(json_object *spec, json_object *env) {
        json_object *list = ensure(ensure(spec, "process", json_type_object), "env", json_type_array);
        for (size_t i = 0; env && i < json_object_array_length(env); i++) {
                const char *entry = json_object_get_string(json_object_array_get_idx(env, i));
                size_t key = strcspn(entry, "=") + 1, j = 0, n = json_object_array_length(list);
                for (; j < n; j++)
                        if (strncmp(json_object_get_string(json_object_array_get_idx(list, j)), entry,
                                    key) == 0)
                                break;
                if (j < n)
                        json_object_array_put_idx(list, j, json_object_new_string(entry));
                else
                        json_object_array_add(list, json_object_new_string(entry));
        }
}

/* Remove the entries of array `a` whose `key` is `value` (a device or mount at the same path). */
static void remove_where(json_object *a, const char *key, const char *value) {
        for (size_t i = json_object_array_length(a); i-- > 0;) {
                json_object *v = field(json_object_array_get_idx(a, i), key);
                if (v && strcmp(json_object_get_string(v), value) == 0)
                        json_object_array_del_idx(a, i, 1);
        }
}

static int64_t int_or(json_object *o, const char *key, int64_t fallback) {
        json_object *v = field(o, key);
        return v ? json_object_get_int64(v) : fallback;
}

static char node_type(mode_t mode) {
        return S_ISBLK(mode) ? 'b' : S_ISCHR(mode) ? 'c' : S_ISFIFO(mode) ? 'p' : 0;
}

/* A uid or gid: the spec's, else the container user's when not root (so that it can open the node). */
static void add_owner(json_object *out, json_object *node, json_object *spec, const char *key) {
        json_object *user = field(field(spec, "process"), "user");
        int64_t id = int_or(node, key, int_or(user, key, 0));
        if (field(node, key) || id > 0)
                json_object_object_add(out, key, json_object_new_int64(id));
}

/*
 * As CDI's reference library fills them: the host node (not following a symlink) is read unless the
 * spec gives the type and the major number (or a fifo); a type that the host node contradicts is an
 * error, and the mode comes from the host node when the spec leaves it out.
 */
static int fill_node(json_object *node, json_object *spec, const char *device, json_object *out,
                     char *ret_type, Error **reterr) {
        const char *path = json_object_get_string(field(node, "path"));
        json_object *host = field(node, "hostPath"), *type = field(node, "type");
        const char *host_path = host ? json_object_get_string(host) : path;
        char t = type ? json_object_get_string(type)[0] : 0;
        struct stat st = {};
        bool complete = t && (t == 'p' || field(node, "major"));
        if (!complete && lstat(host_path, &st) < 0)
                return error_set(reterr, ENODEV, "CDI device %s: device node %s: %m", device, host_path);
        if (!complete && (!node_type(st.st_mode) || (t && (t == 'u' ? 'c' : t) != node_type(st.st_mode))))
                return error_set(reterr, ENODEV, "CDI device %s: %s is not a %s device node", device,
                                 host_path, t ? "matching" : "character, block or fifo");
        t = t ? t : node_type(st.st_mode);
        json_object_object_add(out, "path", json_object_new_string(path));
        json_object_object_add(out, "type", json_object_new_string((char[]){t, 0}));
        if (t != 'p') {
                bool given = field(node, "major") != NULL;
                json_object_object_add(
                        out, "major",
                        json_object_new_int64(given ? int_or(node, "major", 0) : major(st.st_rdev)));
                json_object_object_add(
                        out, "minor",
                        json_object_new_int64(given ? int_or(node, "minor", 0) : minor(st.st_rdev)));
        }
        if (field(node, "fileMode") || !complete)
                json_object_object_add(out, "fileMode",
                                       json_object_new_int64(int_or(node, "fileMode", st.st_mode & 07777)));
        add_owner(out, node, spec, "uid");
        add_owner(out, node, spec, "gid");
        *ret_type = t;
        return 0;
}

static int apply_node(json_object *spec, json_object *node, const char *device, Error **reterr) {
        json_object *linux_ = ensure(spec, "linux", json_type_object);
        json_object *out = json_object_new_object();
        char type = 0;
        int r = fill_node(node, spec, device, out, &type, reterr);
        if (r < 0)
                return json_object_put(out), r;
        json_object *devices = ensure(linux_, "devices", json_type_array);
        remove_where(devices, "path", json_object_get_string(field(out, "path")));
        json_object_array_add(devices, out);
        if (type == 'p')
                return 0;
        json_object *rule = json_object_new_object();
        json_object_object_add(rule, "allow", json_object_new_boolean(true));
        json_object_object_add(rule, "type", json_object_new_string(type == 'u' ? "c" : (char[]){type, 0}));
        json_object_object_add(rule, "major", json_object_get(field(out, "major")));
        json_object_object_add(rule, "minor", json_object_get(field(out, "minor")));
        json_object *perms = field(node, "permissions");
        json_object_object_add(rule, "access",
                               json_object_new_string(perms ? json_object_get_string(perms) : "rwm"));
        json_object_array_add(
                ensure(ensure(linux_, "resources", json_type_object), "devices", json_type_array), rule);
        return 0;
}

static bool has_bind_option(json_object *options) {
        for (size_t i = 0; options && i < json_object_array_length(options); i++) {
                const char *o = json_object_get_string(json_object_array_get_idx(options, i));
                if (strcmp(o, "bind") == 0 || strcmp(o, "rbind") == 0)
                        return true;
        }
        return false;
}

static void apply_mount(json_object *spec, json_object *m) {
        json_object *type = field(m, "type"), *options = field(m, "options");
        const char *t = type ? json_object_get_string(type) : "bind";
        json_object *out = json_object_new_object();
        json_object_object_add(out, "destination", json_object_get(field(m, "containerPath")));
        json_object_object_add(out, "type", json_object_new_string(t));
        json_object_object_add(out, "source", json_object_get(field(m, "hostPath")));
        json_object *opts = json_object_new_array();
        for (size_t i = 0; options && i < json_object_array_length(options); i++)
                json_object_array_add(opts, json_object_get(json_object_array_get_idx(options, i)));
        if (strcmp(t, "bind") == 0 && !has_bind_option(options))
                json_object_array_add(opts, json_object_new_string("bind"));
        json_object_object_add(out, "options", opts);
        json_object *mounts = ensure(spec, "mounts", json_type_array);
        remove_where(mounts, "destination", json_object_get_string(field(m, "containerPath")));
        json_object_array_add(mounts, out);
}

static void apply_hook(json_object *spec, json_object *h) {
        json_object *out = json_object_new_object();
        json_object_object_add(out, "path", json_object_get(field(h, "path")));
        static const char *const copied[] = {"args", "env", "timeout"};
        for (size_t i = 0; i < ELEMENTSOF(copied); i++)
                if (field(h, copied[i]))
                        json_object_object_add(out, copied[i], json_object_get(field(h, copied[i])));
        const char *stage = json_object_get_string(field(h, "hookName"));
        json_object_array_add(ensure(ensure(spec, "hooks", json_type_object), stage, json_type_array), out);
}

static void apply_gids(json_object *spec, json_object *gids) {
        json_object *user = ensure(ensure(spec, "process", json_type_object), "user", json_type_object);
        json_object *list = ensure(user, "additionalGids", json_type_array);
        for (size_t i = 0; gids && i < json_object_array_length(gids); i++) {
                int64_t gid = json_object_get_int64(json_object_array_get_idx(gids, i));
                bool present = false;
                for (size_t j = 0; j < json_object_array_length(list) && !present; j++)
                        present = json_object_get_int64(json_object_array_get_idx(list, j)) == gid;
                if (!present)
                        json_object_array_add(list, json_object_new_int64(gid));
        }
}

static int apply_edits(json_object *spec, json_object *edits, const char *device, Error **reterr) {
        if (!edits)
                return 0;
        apply_env(spec, field(edits, "env"));
        if (field(edits, "additionalGids"))
                apply_gids(spec, field(edits, "additionalGids"));
        json_object *nodes = field(edits, "deviceNodes"), *mounts = field(edits, "mounts"),
                    *hooks = field(edits, "hooks");
        for (size_t i = 0; nodes && i < json_object_array_length(nodes); i++) {
                int r = apply_node(spec, json_object_array_get_idx(nodes, i), device, reterr);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; mounts && i < json_object_array_length(mounts); i++)
                apply_mount(spec, json_object_array_get_idx(mounts, i));
        for (size_t i = 0; hooks && i < json_object_array_length(hooks); i++)
                apply_hook(spec, json_object_array_get_idx(hooks, i));
        return 0;
}

static int resolve(const CdiRegistry *r, const char *name, const CdiEntry **ret, Error **reterr) {
        const CdiEntry *e = find_entry(r, name);
        if (e && e->twin)
                return error_set(reterr, ENOENT, "CDI device %s: defined in both %s and %s", name, e->file,
                                 e->twin);
        if (e) {
                *ret = e;
                return 0;
        }
        _cleanup_free_ char *problems = strv_join(r->problems, "; ");
        return error_set(reterr, ENOENT, "CDI device %s: no spec in cdi_spec_dirs defines it%s%s", name,
                         r->problems ? "; specs skipped: " : "", strempty(problems));
}

static size_t path_depth(json_object *mount) {
        size_t n = 0;
        for (const char *p = json_object_get_string(field(mount, "destination")); p && *p; p++)
                n += *p == '/' && p[1] && p[1] != '/';
        return n;
}

/*
 * Mounts in order of depth, keeping the order of equal ones: a device's mount of /opt/v added last
 * must not hide the kubelet's mount of /opt/v/conf made before it.
 */
static void sort_mounts(json_object *spec) {
        json_object *mounts = field(spec, "mounts");
        size_t n = mounts ? json_object_array_length(mounts) : 0;
        json_object *sorted = json_object_new_array();
        for (size_t depth = 0, placed = 0; placed < n; depth++)
                for (size_t i = 0; i < n; i++) {
                        json_object *m = json_object_array_get_idx(mounts, i);
                        if (path_depth(m) == depth) {
                                json_object_array_add(sorted, json_object_get(m));
                                placed++;
                        }
                }
        json_object_object_add(spec, "mounts", sorted);
}

int cdi_apply(const CdiRegistry *r, char *const *names, json_object *spec, Error **reterr) {
        const CdiEntry **done = xcalloc(strv_length(names) + 1, sizeof(*done));
        size_t n_done = 0;
        int q = 0;
        STRV_FOREACH(name, names) {
                const CdiEntry *e = NULL;
                q = resolve(r, *name, &e, reterr);
                if (q < 0)
                        break;
                /* The spec's own edits go once, however many of its devices are asked for. */
                bool seen = false;
                for (size_t i = 0; i < n_done; i++)
                        seen = seen || done[i]->spec == e->spec;
                done[n_done++] = e;
                if (!seen)
                        q = apply_edits(spec, field(e->spec, "containerEdits"), *name, reterr);
                if (q >= 0)
                        q = apply_edits(spec, field(e->device, "containerEdits"), *name, reterr);
                if (q < 0)
                        break;
        }
        free(done);
        if (q >= 0)
                sort_mounts(spec);
        return q;
}
