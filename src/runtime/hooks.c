/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs-util.h"
#include "hooks.h"
#include "json-util.h"
#include "log.h"
#include "strv.h"

/* A hook file is a few hundred bytes; anything past this is not one. */
#define HOOK_FILE_MAX (1 << 20)

static const char *const stage_names[] = {
        "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

/* `when`: an unset boolean condition is no condition; regexes are POSIX extended, unanchored. */
typedef struct When {
        bool has_always, always;
        bool has_bind_mounts, bind_mounts;
        regex_t *keys, *values; /* annotation patterns, pairwise */
        size_t n_annotations;
        regex_t *commands;
        size_t n_commands;
} When;

struct Hook {
        char *path;
        char **args, **env;
        int64_t timeout; /* seconds; 0: none */
        unsigned stages; /* bit i: stage_names[i] */
        When when;
};

void hook_free(Hook *h) {
        if (!h)
                return;
        free(h->path);
        strv_free(h->args);
        strv_free(h->env);
        for (size_t i = 0; i < h->when.n_annotations; i++) {
                regfree(&h->when.keys[i]);
                regfree(&h->when.values[i]);
        }
        for (size_t i = 0; i < h->when.n_commands; i++)
                regfree(&h->when.commands[i]);
        free(h->when.keys);
        free(h->when.values);
        free(h->when.commands);
        free(h);
}

static json_object *member(json_object *o, const char *key, json_type type, bool required, const char *path,
                           int *r, Error **reterr) {
        json_object *v = NULL;
        if (*r < 0 || !json_object_object_get_ex(o, key, &v) || !v) {
                if (*r >= 0 && required)
                        *r = error_set(reterr, EINVAL, "%s%s is required", path, key);
                return NULL;
        }
        if (!json_object_is_type(v, type)) {
                *r = error_set(reterr, EINVAL, "%s%s has the wrong type", path, key);
                return NULL;
        }
        return v;
}

/* An array of strings, or -EINVAL naming `field`. */
static int string_array(json_object *a, const char *field, char ***ret, Error **reterr) {
        char **l = NULL;
        for (size_t i = 0; a && i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i);
                if (!json_object_is_type(e, json_type_string)) {
                        strv_free(l);
                        return error_set(reterr, EINVAL, "%s[%zu] is not a string", field, i);
                }
                l = strv_push(l, xstrdup(json_object_get_string(e)));
        }
        *ret = l;
        return 0;
}

/*
 * glibc's regcomp copies the tree under `E+` once and under `E{m,n}` up to n times, so nested or
 * stacked repetitions grow it exponentially: "p+++...+" with 40 pluses takes gigabytes. Patterns are
 * held to a budget of tree copies before they reach regcomp: repetitions in sequence add up, nested
 * ones multiply; stacked ones ("a+*", which RE2 refuses too) and back-references (which RE2 lacks and
 * which make matching the kubelet's annotations slow) are refused.
 */
#define PATTERN_MAX_LEN 1024
#define PATTERN_MAX_COST 4096

static int64_t cost_of_branches(const char **p, int depth);

/* How many times a quantifier at *p (if any) copies the atom before it; advances past it. */
static int64_t quantifier_factor(const char **p) {
        if (**p == '+' || **p == '*' || **p == '?') {
                (*p)++;
                return 2; /* `*` and `?` copy nothing, but their loops weigh on matching as much */
        }
        if (**p != '{')
                return 0;
        int64_t most = 1;
        for ((*p)++; **p && **p != '}';) {
                if (isdigit((unsigned char)**p)) {
                        char *end = NULL;
                        long long n = strtoll(*p, &end, 10);
                        most = n > most ? n : most;
                        *p = end;
                } else
                        (*p)++;
        }
        if (**p == '}')
                (*p)++;
        return most > PATTERN_MAX_COST ? PATTERN_MAX_COST + 1 : most + 1;
}

/* Past a bracket expression whose "[" is consumed, with its [:class:], [.coll.] and [=equiv=] items. */
static void skip_bracket(const char **p) {
        if (**p == '^')
                (*p)++;
        if (**p == ']')
                (*p)++;
        while (**p && **p != ']') {
                const char *close = NULL;
                if (**p == '[' && (*p)[1] && strchr(":.=", (*p)[1]))
                        close = strstr(*p + 2, (const char[]){(*p)[1], ']', '\0'});
                *p = close ? close + 2 : *p + 1;
        }
        if (**p == ']')
                (*p)++;
}

/* One atom: a group, a bracket expression, an escape or a character; its cost before quantifiers. */
static int64_t cost_of_atom(const char **p, int depth) {
        char c = *(*p)++;
        if (c == '(') {
                int64_t inner = depth > 64 ? PATTERN_MAX_COST + 1 : cost_of_branches(p, depth + 1);
                if (**p == ')')
                        (*p)++;
                return inner + 1;
        }
        if (c == '\\' && isdigit((unsigned char)**p))
                return PATTERN_MAX_COST + 1; /* a back-reference: RE2 has none, and it makes matching slow */
        if (c == '[')
                skip_bracket(p);
        else if (c == '\\' && **p)
                (*p)++;
        return 1;
}

static int64_t cost_of_branches(const char **p, int depth) {
        int64_t total = 0;
        while (**p && **p != ')' && total <= PATTERN_MAX_COST) {
                if (**p == '|') {
                        (*p)++;
                        continue;
                }
                int64_t atom = cost_of_atom(p, depth), f = quantifier_factor(p);
                if (f > 0) {
                        atom *= f;
                        if (**p == '?') /* RE2's lazy form, which glibc reads as an optional repetition */
                                (*p)++, atom *= 2;
                        if (**p && strchr("*+?{", **p))
                                return PATTERN_MAX_COST + 1; /* stacked repetitions: RE2 refuses them too */
                }
                total += atom;
        }
        return total;
}

static bool pattern_too_complex(const char *pattern) {
        if (strlen(pattern) > PATTERN_MAX_LEN)
                return true;
        const char *p = pattern;
        int64_t cost = 0;
        while (*p && cost <= PATTERN_MAX_COST) {
                cost += cost_of_branches(&p, 0);
                if (*p == ')') /* an unmatched ")" is an ordinary character in an ERE */
                        p++, cost++;
        }
        return cost > PATTERN_MAX_COST;
}

static int compile(regex_t *re, const char *pattern, const char *field, Error **reterr) {
        if (pattern_too_complex(pattern))
                return error_set(reterr, EINVAL,
                                 "%s: '%.64s' is too long, repeats too much (nested or stacked repetitions) "
                                 "or refers back",
                                 field, pattern);
        if (regcomp(re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
                return error_set(reterr, EINVAL, "%s: '%s' is not a regular expression", field, pattern);
        return 0;
}

static int parse_annotations(json_object *o, When *w, Error **reterr) {
        size_t n = (size_t)json_object_object_length(o);
        w->keys = xcalloc(n ? n : 1, sizeof(regex_t));
        w->values = xcalloc(n ? n : 1, sizeof(regex_t));
        json_object_object_foreach(o, key, val) {
                if (!json_object_is_type(val, json_type_string))
                        return error_set(reterr, EINVAL, "when.annotations[%s] is not a string", key);
                int r = compile(&w->keys[w->n_annotations], key, "when.annotations", reterr);
                if (r < 0)
                        return r;
                r = compile(&w->values[w->n_annotations], json_object_get_string(val), "when.annotations",
                            reterr);
                if (r < 0) {
                        regfree(&w->keys[w->n_annotations]);
                        return r;
                }
                w->n_annotations++;
        }
        return 0;
}

static int parse_commands(json_object *a, When *w, Error **reterr) {
        size_t n = json_object_array_length(a);
        w->commands = xcalloc(n ? n : 1, sizeof(regex_t));
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                if (!json_object_is_type(e, json_type_string))
                        return error_set(reterr, EINVAL, "when.commands[%zu] is not a string", i);
                int r = compile(&w->commands[i], json_object_get_string(e), "when.commands", reterr);
                if (r < 0)
                        return r;
                w->n_commands++;
        }
        return 0;
}

static int parse_when(json_object *o, When *w, Error **reterr) {
        int r = 0;
        json_object *always = member(o, "always", json_type_boolean, false, "when.", &r, reterr);
        json_object *binds = member(o, "hasBindMounts", json_type_boolean, false, "when.", &r, reterr);
        json_object *ann = member(o, "annotations", json_type_object, false, "when.", &r, reterr);
        json_object *cmds = member(o, "commands", json_type_array, false, "when.", &r, reterr);
        if (r < 0)
                return r;
        if (!always && !binds && !ann && !cmds)
                return error_set(reterr, EINVAL,
                                 "when: needs at least one of always, annotations, commands, hasBindMounts");
        w->has_always = always, w->always = always && json_object_get_boolean(always);
        w->has_bind_mounts = binds, w->bind_mounts = binds && json_object_get_boolean(binds);
        if (ann)
                r = parse_annotations(ann, w, reterr);
        if (r >= 0 && cmds)
                r = parse_commands(cmds, w, reterr);
        return r;
}

static int parse_stages(json_object *a, unsigned *ret, Error **reterr) {
        unsigned stages = 0;
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                json_object *e = json_object_array_get_idx(a, i);
                const char *name = json_object_is_type(e, json_type_string) ? json_object_get_string(e) : "";
                size_t k = 0;
                while (k < ELEMENTSOF(stage_names) && strcmp(stage_names[k], name) != 0)
                        k++;
                if (k == ELEMENTSOF(stage_names))
                        return error_set(reterr, EINVAL, "stages[%zu]: '%s' is not a hook stage", i, name);
                stages |= 1u << k;
        }
        if (!stages)
                return error_set(reterr, EINVAL, "stages: needs at least one stage");
        *ret = stages;
        return 0;
}

static int parse_program(json_object *o, Hook *h, Error **reterr) {
        int r = 0;
        json_object *path = member(o, "path", json_type_string, true, "hook.", &r, reterr);
        json_object *args = member(o, "args", json_type_array, false, "hook.", &r, reterr);
        json_object *env = member(o, "env", json_type_array, false, "hook.", &r, reterr);
        json_object *timeout = member(o, "timeout", json_type_int, false, "hook.", &r, reterr);
        if (r < 0)
                return r;
        if (json_object_get_string(path)[0] != '/')
                return error_set(reterr, EINVAL, "hook.path: '%s' is not absolute",
                                 json_object_get_string(path));
        h->path = xstrdup(json_object_get_string(path));
        if (timeout && (h->timeout = json_object_get_int64(timeout)) < 1)
                return error_set(reterr, EINVAL,
                                 "hook.timeout: %" PRId64 " is not a positive number of seconds",
                                 h->timeout);
        r = string_array(args, "hook.args", &h->args, reterr);
        if (r >= 0)
                r = string_array(env, "hook.env", &h->env, reterr);
        return r;
}

static int parse_object(json_object *o, Hook *h, Error **reterr) {
        int r = 0;
        json_object *version = member(o, "version", json_type_string, true, "", &r, reterr);
        json_object *program = member(o, "hook", json_type_object, true, "", &r, reterr);
        json_object *when = member(o, "when", json_type_object, true, "", &r, reterr);
        json_object *stages = member(o, "stages", json_type_array, true, "", &r, reterr);
        if (r < 0)
                return r;
        if (strcmp(json_object_get_string(version), "1.0.0") != 0)
                return error_set(reterr, EINVAL, "version: '%s' is not 1.0.0, the one schema crio-c reads",
                                 json_object_get_string(version));
        r = parse_program(program, h, reterr);
        if (r >= 0)
                r = parse_when(when, &h->when, reterr);
        if (r >= 0)
                r = parse_stages(stages, &h->stages, reterr);
        return r;
}

int hook_parse(const char *text, size_t len, Hook **ret, Error **reterr) {
        json_object *o = NULL;
        int r = json_parse_object(text, len, "hook file is not valid JSON", &o, reterr);
        if (r < 0)
                return r;
        Hook *h = xcalloc(1, sizeof(*h));
        r = parse_object(o, h, reterr);
        json_object_put(o);
        if (r < 0) {
                hook_free(h);
                return r;
        }
        *ret = h;
        return 0;
}

static bool some_annotation_matches(const regex_t *key, const regex_t *value, const StrMap *m) {
        for (size_t i = 0; m && i < m->n; i++)
                if (regexec(key, m->keys[i], 0, NULL, 0) == 0 &&
                    regexec(value, m->values[i], 0, NULL, 0) == 0)
                        return true;
        return false;
}

/*
 * oci-hooks(5): every condition that is set must hold; an `always` or `hasBindMounts` set to false
 * never holds. `commands` holds when one of its patterns matches the command.
 */
bool hook_matches(const Hook *h, const HookTarget *t) {
        const When *w = &h->when;
        if (w->has_always && !w->always)
                return false;
        if (w->has_bind_mounts && !(w->bind_mounts && t->has_bind_mounts))
                return false;
        for (size_t i = 0; i < w->n_annotations; i++)
                if (!some_annotation_matches(&w->keys[i], &w->values[i], t->annotations))
                        return false;
        if (w->n_commands == 0)
                return true;
        for (size_t i = 0; t->command && i < w->n_commands; i++)
                if (regexec(&w->commands[i], t->command, 0, NULL, 0) == 0)
                        return true;
        return false;
}

static json_object *string_array_json(char *const *l) {
        json_object *a = json_object_new_array();
        STRV_FOREACH(s, l)
                json_object_array_add(a, json_object_new_string(*s));
        return a;
}

bool hook_stage_known(const char *name) {
        for (size_t k = 0; k < ELEMENTSOF(stage_names); k++)
                if (strcmp(stage_names[k], name) == 0)
                        return true;
        return false;
}

void hook_add_to_spec(const Hook *h, json_object *spec) {
        json_object *hooks = NULL;
        if (!json_object_object_get_ex(spec, "hooks", &hooks)) {
                hooks = json_object_new_object();
                json_object_object_add(spec, "hooks", hooks);
        }
        for (size_t k = 0; k < ELEMENTSOF(stage_names); k++) {
                if (!(h->stages & (1u << k)))
                        continue;
                json_object *list = NULL;
                if (!json_object_object_get_ex(hooks, stage_names[k], &list)) {
                        list = json_object_new_array();
                        json_object_object_add(hooks, stage_names[k], list);
                }
                json_object *e = json_object_new_object();
                json_object_object_add(e, "path", json_object_new_string(h->path));
                if (h->args)
                        json_object_object_add(e, "args", string_array_json(h->args));
                if (h->env)
                        json_object_object_add(e, "env", string_array_json(h->env));
                if (h->timeout)
                        json_object_object_add(e, "timeout", json_object_new_int64(h->timeout));
                json_object_array_add(list, e);
        }
}

/* names[i] is a file name, paths[i] where it was last found. */
typedef struct HookFiles {
        char **names, **paths;
} HookFiles;

static void collect_dir(HookFiles *f, const char *dir) {
        DIR *d = opendir(dir);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d))) {
                size_t n = strlen(de->d_name);
                if (n <= 5 || strcmp(de->d_name + n - 5, ".json") != 0 || de->d_name[0] == '.')
                        continue;
                char *path = xasprintf("%s/%s", dir, de->d_name);
                size_t i = 0;
                while (f->names && f->names[i] && strcmp(f->names[i], de->d_name) != 0)
                        i++;
                if (f->names && f->names[i]) {
                        free(f->paths[i]);
                        f->paths[i] = path;
                } else {
                        f->names = strv_push(f->names, xstrdup(de->d_name));
                        f->paths = strv_push(f->paths, path);
                }
        }
        closedir(d);
}

static void sort_by_name(HookFiles *f) {
        size_t n = strv_length(f->names);
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && strcmp(f->names[j - 1], f->names[j]) > 0; j--) {
                        char *t = f->names[j];
                        f->names[j] = f->names[j - 1], f->names[j - 1] = t;
                        t = f->paths[j];
                        f->paths[j] = f->paths[j - 1], f->paths[j - 1] = t;
                }
}

static Hook *load_file(const char *path) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        _cleanup_error_ Error *err = NULL;
        Hook *h = NULL;
        int r = read_file(path, HOOK_FILE_MAX, &text, &len);
        if (r < 0)
                log_warn("OCI hook %s: cannot read it: %s", path, strerror(-r));
        else if (hook_parse(text, len, &h, &err) < 0)
                log_warn("OCI hook %s: %s; skipped", path, err->message);
        else if (access(h->path, X_OK) < 0) {
                log_warn("OCI hook %s: %s is not an executable program; skipped", path, h->path);
                hook_free(TAKE_PTR(h));
        }
        return h;
}

Hook **hooks_load(char *const *dirs) {
        HookFiles f = {};
        STRV_FOREACH(d, dirs)
                collect_dir(&f, *d);
        sort_by_name(&f);
        Hook **hooks = NULL;
        size_t n = 0;
        for (size_t i = 0; f.paths && f.paths[i]; i++) {
                Hook *h = load_file(f.paths[i]);
                if (!h)
                        continue;
                hooks = xrealloc(hooks, (n + 2) * sizeof(*hooks));
                hooks[n++] = h;
                hooks[n] = NULL;
        }
        strv_free(f.names);
        strv_free(f.paths);
        return hooks;
}

void hooks_free(Hook **hooks) {
        for (size_t i = 0; hooks && hooks[i]; i++)
                hook_free(hooks[i]);
        free(hooks);
}

void hooks_add_matching(Hook *const *hooks, const HookTarget *t, json_object *spec) {
        for (size_t i = 0; hooks && hooks[i]; i++)
                if (hook_matches(hooks[i], t))
                        hook_add_to_spec(hooks[i], spec);
}
