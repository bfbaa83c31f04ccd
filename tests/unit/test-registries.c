/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs-util.h"
#include "test-util.h"

#include "insecure-registries.h"
#include "registries.h"
#include "strv.h"

/* ---- helpers ---- */

#define SHA256 "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

typedef struct TmpDir {
        char *path;
        char *conf;   /* <path>/registries.conf */
        char *dropin; /* <path>/registries.conf.d */
} TmpDir;

static int tmpdir_setup(void **state) {
        char templ[] = "/tmp/crio-c-test-registries-XXXXXX";
        if (!mkdtemp(templ))
                return -1;
        TmpDir *t = xcalloc(1, sizeof(*t));
        t->path = xstrdup(templ);
        t->conf = xasprintf("%s/registries.conf", templ);
        t->dropin = xasprintf("%s/registries.conf.d", templ);
        *state = t;
        return mkdir(t->dropin, 0755);
}

static int tmpdir_teardown(void **state) {
        TmpDir *t = *state;
        int r = rm_rf(t->path);
        free(t->path);
        free(t->conf);
        free(t->dropin);
        free(t);
        return r;
}

static void write_file(const char *dir, const char *name, const char *content) {
        _cleanup_free_ char *path = name ? xasprintf("%s/%s", dir, name) : xstrdup(dir);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_true(fputs(content, f) >= 0);
        assert_int_equal(fclose(f), 0);
}

static void write_conf(const TmpDir *t, const char *content) {
        write_file(t->conf, NULL, content);
}

/* Load what the test wrote; it must load, and with exactly `n_warnings` warnings. */
static RegistriesConf *load_ok(const TmpDir *t, size_t n_warnings, char ***ret_warnings) {
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        RegistriesConf *c = NULL;

        assert_ok(registries_conf_load(t->conf, t->dropin, &c, &warnings, &err), err);
        assert_null(err);
        assert_non_null(c);
        assert_non_null(c->unqualified_search_registries);
        if (strv_length(warnings) != n_warnings)
                STRV_FOREACH(w, warnings)
                        print_error("warning: %s\n", *w);
        assert_int_equal(strv_length(warnings), n_warnings);
        if (ret_warnings)
                *ret_warnings = TAKE_PTR(warnings);
        return c;
}

/* Loading must fail with `code`, and the message must contain every one of `needles` (NULL-terminated). */
static void load_fails(const TmpDir *t, int code, const char *const *needles) {
        _cleanup_error_ Error *err = NULL;
        RegistriesConf *sentinel = (RegistriesConf *)0x1, *c = sentinel;

        int r = registries_conf_load(t->conf, t->dropin, &c, NULL, &err);
        if (r >= 0) {
                registries_conf_free(c);
                print_error("loading succeeded, expected '%s'\n", needles[0]);
                fail();
        }
        assert_int_equal(r, -code);
        assert_ptr_equal(c, sentinel);
        assert_non_null(err);
        assert_int_equal(err->code, code);
        for (size_t i = 0; needles[i]; i++)
                assert_contains(err->message, needles[i]);
}

/* The main file holding `text` must be refused naming the file and all of `needles`. */
static void conf_fails(const TmpDir *t, const char *text, const char *const *needles) {
        _cleanup_free_ char *file = xasprintf("%s:", t->conf);
        write_conf(t, text);
        load_fails(t, EINVAL, (const char *const[]){file, NULL});
        load_fails(t, EINVAL, needles);
}

static ImageRef *ref(const char *s) {
        _cleanup_error_ Error *err = NULL;
        ImageRef *r = NULL;
        assert_ok(image_ref_parse(s, &r, &err), err);
        return r;
}

static char *append(char *list, const char *item) {
        char *joined = xasprintf("%s%s%s", strempty(list), list ? ", " : "", item);
        free(list);
        return joined;
}

/* Pull sources of `s` as "REF [insecure] [mirror], ...". */
static char *sources_of(const RegistriesConf *c, const char *s) {
        _cleanup_image_ref_ ImageRef *r = ref(s);
        _cleanup_error_ Error *err = NULL;
        PullSource *sources = NULL;
        size_t n = 0;
        char *list = NULL;

        assert_ok(registries_pull_sources(c, r, &sources, &n, &err), err);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *str = image_ref_to_string(sources[i].ref);
                _cleanup_free_ char *item = xasprintf("%s%s%s", str, sources[i].insecure ? " insecure" : "",
                                                      sources[i].is_mirror ? " mirror" : "");
                list = append(list, item);
        }
        pull_sources_free(sources, n);
        return list;
}

static void assert_sources(const RegistriesConf *c, const char *s, const char *want) {
        _cleanup_free_ char *got = sources_of(c, s);
        if (strcmp(got, want) != 0) {
                print_error("sources of %s:\n  got  %s\n  want %s\n", s, got, want);
                fail();
        }
}

static char *candidates_of(const RegistriesConf *c, const char *s, bool enforcing) {
        _cleanup_image_ref_ ImageRef *r = ref(s);
        _cleanup_error_ Error *err = NULL;
        ImageRef **l = NULL;
        size_t n = 0;
        char *list = NULL;

        assert_ok(registries_resolve_short_name(c, r, enforcing, &l, &n, &err), err);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *str = image_ref_to_string(l[i]);
                list = append(list, str);
                image_ref_free(l[i]);
        }
        assert_null(l[n]);
        free(l);
        return list;
}

static void assert_candidates(const RegistriesConf *c, const char *s, bool enforcing, const char *want) {
        _cleanup_free_ char *got = candidates_of(c, s, enforcing);
        if (!streq_ptr(got, want)) {
                print_error("candidates of %s:\n  got  %s\n  want %s\n", s, got, want);
                fail();
        }
}

/* The prefix of the entry registries_find() picks for `s`, or NULL. */
static const char *found_prefix(const RegistriesConf *c, const char *s) {
        _cleanup_image_ref_ ImageRef *r = ref(s);
        const RegistryEntry *e = registries_find(c, r);
        return e ? e->prefix : NULL;
}

static void assert_found(const RegistriesConf *c, const char *s, const char *want) {
        const char *got = found_prefix(c, s);
        if (!streq_ptr(got, want)) {
                print_error("prefix for %s: got %s, want %s\n", s, got ? got : "(none)",
                            want ? want : "(none)");
                fail();
        }
}

/* ---- loading ---- */

static void test_missing_files(void **state) {
        TmpDir *t = *state;
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);

        assert_int_equal(strv_length(c->unqualified_search_registries), 0);
        assert_int_equal(c->n_registries, 0);
        assert_int_equal(c->n_aliases, 0);
        assert_null(c->short_name_mode);
        assert_sources(c, "quay.io/a/b:1", "quay.io/a/b:1");
        assert_candidates(c, "busybox", true, "docker.io/library/busybox:latest");

        /* Neither path is needed; a missing directory is no drop-ins. */
        _cleanup_free_ char *nodir = xasprintf("%s/nope.d", t->path);
        _cleanup_error_ Error *err = NULL;
        RegistriesConf *c2 = NULL;
        assert_ok(registries_conf_load(NULL, nodir, &c2, NULL, &err), err);
        registries_conf_free(c2);
        assert_ok(registries_conf_load(NULL, NULL, &c2, NULL, &err), err);
        registries_conf_free(c2);
}

static void test_every_key(void **state) {
        TmpDir *t = *state;
        write_conf(t,
                   "unqualified-search-registries = ['registry.fedoraproject.org', 'quay.io', 'docker.io']\n"
                   "short-name-mode = 'enforcing'\n"
                   "[[registry]]\n"
                   "prefix = 'example.com/foo'\n"
                   "location = 'internal.example.com:5000/bar'\n"
                   "insecure = true\n"
                   "blocked = false\n"
                   "mirror-by-digest-only = true\n"
                   "[[registry.mirror]]\n"
                   "location = 'mirror-1.example.com'\n"
                   "insecure = true\n"
                   "[[registry.mirror]]\n"
                   "location = 'mirror-2.example.com/ns'\n"
                   "[[registry]]\n"
                   "location = 'quay.io'\n"
                   "[[registry.mirror]]\n"
                   "location = 'm.example.com'\n"
                   "pull-from-mirror = 'tag-only'\n"
                   "[[registry]]\n"
                   "prefix = 'bad.example.com'\n"
                   "blocked = true\n"
                   "[aliases]\n"
                   "busybox = 'docker.io/library/busybox'\n"
                   "'ns/tool' = 'quay.io/ns/tool'\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);

        _cleanup_strv_free_ char **search = strv_split("registry.fedoraproject.org,quay.io,docker.io", ',');
        assert_true(strv_equal(c->unqualified_search_registries, search));
        assert_string_equal(c->short_name_mode, "enforcing");
        assert_int_equal(c->n_registries, 3);

        const RegistryEntry *e = &c->registries[0];
        assert_string_equal(e->prefix, "example.com/foo");
        assert_string_equal(e->location, "internal.example.com:5000/bar");
        assert_true(e->insecure);
        assert_false(e->blocked);
        assert_true(e->mirror_by_digest_only);
        assert_int_equal(e->n_mirrors, 2);
        assert_string_equal(e->mirrors[0].location, "mirror-1.example.com");
        assert_true(e->mirrors[0].insecure);
        assert_int_equal(e->mirrors[0].pull_from_mirror, PULL_FROM_MIRROR_ALL);
        assert_string_equal(e->mirrors[1].location, "mirror-2.example.com/ns");
        assert_false(e->mirrors[1].insecure);

        e = &c->registries[1];
        assert_string_equal(e->prefix, "quay.io");
        assert_string_equal(e->location, "quay.io");
        assert_false(e->insecure || e->blocked || e->mirror_by_digest_only);
        assert_int_equal(e->mirrors[0].pull_from_mirror, PULL_FROM_MIRROR_TAG_ONLY);

        e = &c->registries[2];
        assert_string_equal(e->prefix, "bad.example.com");
        assert_string_equal(e->location, "bad.example.com"); /* defaults to the prefix */
        assert_true(e->blocked);
        assert_int_equal(e->n_mirrors, 0);

        assert_int_equal(c->n_aliases, 2);
        assert_string_equal(c->alias_names[0], "busybox");
        assert_string_equal(c->alias_values[0], "docker.io/library/busybox");
        assert_string_equal(c->alias_names[1], "ns/tool");
        assert_string_equal(c->alias_values[1], "quay.io/ns/tool");
        assert_null(c->alias_names[2]);
}

static void test_values_are_normalized(void **state) {
        TmpDir *t = *state;
        write_conf(t, "unqualified-search-registries = ['quay.io/', 'index.docker.io', 'localhost:5000']\n"
                      "[[registry]]\n"
                      "location = 'example.com/foo//'\n"
                      "[[registry.mirror]]\n"
                      "location = 'mirror.example.com/'\n"
                      "[aliases]\n"
                      "hello = 'docker.io/hello'\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);

        _cleanup_strv_free_ char **search = strv_split("quay.io,docker.io,localhost:5000", ',');
        assert_true(strv_equal(c->unqualified_search_registries, search));
        assert_string_equal(c->registries[0].prefix, "example.com/foo");
        assert_string_equal(c->registries[0].location, "example.com/foo");
        assert_string_equal(c->registries[0].mirrors[0].location, "mirror.example.com");
        assert_string_equal(c->alias_values[0], "docker.io/library/hello");
}

static void test_dropins_override_in_order(void **state) {
        TmpDir *t = *state;
        write_conf(t, "unqualified-search-registries = ['main.io']\n"
                      "short-name-mode = 'enforcing'\n"
                      "[[registry]]\n"
                      "prefix = 'example.com'\n"
                      "location = 'from-main.io'\n"
                      "insecure = true\n"
                      "[[registry]]\n"
                      "location = 'kept.io'\n"
                      "[aliases]\n"
                      "a = 'main.io/a'\n"
                      "b = 'main.io/b'\n"
                      "c = 'main.io/c'\n");
        /* Lexical order: 10-x.conf, 20-y.conf, 5-z.conf. */
        write_file(t->dropin, "20-y.conf",
                   "unqualified-search-registries = ['y.io', 'y2.io']\n"
                   "[[registry]]\n"
                   "prefix = 'example.com'\n"
                   "location = 'from-y.io'\n"
                   "[aliases]\n"
                   "b = 'y.io/b'\n"
                   "c = ''\n");
        write_file(t->dropin, "10-x.conf",
                   "unqualified-search-registries = ['x.io']\n"
                   "short-name-mode = 'disabled'\n"
                   "[[registry]]\n"
                   "prefix = 'example.com'\n"
                   "location = 'from-x.io'\n"
                   "[aliases]\n"
                   "d = 'x.io/d'\n");
        write_file(t->dropin, "5-z.conf",
                   "[[registry]]\n"
                   "location = 'new.io'\n"
                   "[aliases]\n"
                   "b = 'z.io/b'\n");
        /* Not drop-ins: another suffix, a hidden file, a directory. */
        write_file(t->dropin, "30.toml", "short-name-mode = 'permissive'\n");
        write_file(t->dropin, ".hidden.conf", "short-name-mode = 'permissive'\n");
        _cleanup_free_ char *subdir = xasprintf("%s/sub.conf", t->dropin);
        assert_int_equal(mkdir(subdir, 0755), 0);

        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);

        /* The last file that sets the list wins; 5-z.conf does not set it. */
        _cleanup_strv_free_ char **search = strv_split("y.io,y2.io", ',');
        assert_true(strv_equal(c->unqualified_search_registries, search));
        assert_string_equal(c->short_name_mode, "disabled");

        /* Same prefix: replaced as a whole (insecure from the main file is gone). */
        assert_int_equal(c->n_registries, 3);
        const RegistryEntry *e = registries_find(c, &(ImageRef){.domain = "example.com", .path = "x"});
        assert_non_null(e);
        assert_string_equal(e->location, "from-y.io");
        assert_false(e->insecure);
        assert_found(c, "kept.io/x", "kept.io");
        assert_found(c, "new.io/x", "new.io");

        /* Aliases merge by name; "" removes one. */
        assert_candidates(c, "a", true, "main.io/a:latest");
        assert_candidates(c, "b", true, "z.io/b:latest");
        assert_candidates(c, "d", true, "x.io/d:latest");
        assert_candidates(c, "c", false, "y.io/c:latest, y2.io/c:latest");
        assert_int_equal(c->n_aliases, 3);
}

static void test_dropin_errors_name_the_dropin(void **state) {
        TmpDir *t = *state;
        write_conf(t, "unqualified-search-registries = ['main.io']\n");
        write_file(t->dropin, "50-bad.conf", "\n[[registry]]\nlocation = 'a.io'\nblocked = 'yes'\n");
        _cleanup_free_ char *where = xasprintf("%s/50-bad.conf:4:11:", t->dropin);
        load_fails(t, EINVAL,
                   (const char *const[]){where, "registry.blocked must be a boolean, not string", NULL});
}

static void test_toml_syntax_error(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *where = xasprintf("%s:2:", t->conf);
        write_conf(t, "unqualified-search-registries = ['a.io']\n[[registry]\n");
        load_fails(t, EINVAL, (const char *const[]){where, NULL});
}

static void test_dropin_dir_not_a_directory(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *file = xasprintf("%s/file", t->path);
        _cleanup_error_ Error *err = NULL;
        RegistriesConf *c = NULL;

        write_file(file, NULL, "");
        assert_int_equal(registries_conf_load(t->conf, file, &c, NULL, &err), -ENOTDIR);
        assert_null(c);
        assert_contains(err->message, file);
}

static void test_main_file_unreadable(void **state) {
        TmpDir *t = *state;
        _cleanup_error_ Error *err = NULL;
        RegistriesConf *c = NULL;

        /* A directory where the file should be is an error, unlike a missing file. */
        assert_int_equal(mkdir(t->conf, 0755), 0);
        int r = registries_conf_load(t->conf, NULL, &c, NULL, &err);
        assert_true(r < 0);
        assert_null(c);
        assert_non_null(err);
        assert_contains(err->message, t->conf);
}

typedef struct BadConf {
        const char *text;
        const char *needle1, *needle2;
} BadConf;

static const BadConf wrong_types[] = {
        {"unqualified-search-registries = 'docker.io'\n", ":1:33: unqualified-search-registries",
         "must be an array of strings, not string"},
        {"unqualified-search-registries = [1]\n", "unqualified-search-registries",
         "must be a string, not integer"},
        {"short-name-mode = true\n", ":1:19: short-name-mode", "must be a string, not boolean"},
        {"registry = 'x'\n", "registry must be an array of tables ([[registry]]), not string", NULL},
        {"registry = [1]\n", "registry must be a table, not integer", NULL},
        {"[[registry]]\nprefix = 1\nlocation = 'a.io'\n", ":2:10: registry.prefix",
         "must be a string, not integer"},
        {"[[registry]]\nlocation = []\n", "registry.location", "must be a string, not array"},
        {"[[registry]]\nlocation = 'a.io'\ninsecure = 'yes'\n", ":3:12: registry.insecure",
         "must be a boolean, not string"},
        {"[[registry]]\nlocation = 'a.io'\nblocked = 1\n", "registry.blocked",
         "must be a boolean, not integer"},
        {"[[registry]]\nlocation = 'a.io'\nmirror-by-digest-only = 'true'\n",
         "registry.mirror-by-digest-only", "must be a boolean"},
        {"[[registry]]\nlocation = 'a.io'\nmirror = 'm.io'\n", "registry.mirror",
         "must be an array of tables ([[registry.mirror]]), not string"},
        {"[[registry]]\nlocation = 'a.io'\nmirror = [1.5]\n", "registry.mirror",
         "must be a table, not float"},
        {"[[registry]]\nlocation = 'a.io'\n[[registry.mirror]]\nlocation = 5\n",
         ":4:12: registry.mirror.location", "must be a string, not integer"},
        {"[[registry]]\nlocation = 'a.io'\n[[registry.mirror]]\nlocation = 'm.io'\ninsecure = 0\n",
         "registry.mirror.insecure", "must be a boolean, not integer"},
        {"[[registry]]\nlocation = 'a.io'\n[[registry.mirror]]\nlocation = 'm.io'\npull-from-mirror = "
         "true\n",
         "registry.mirror.pull-from-mirror", "must be a string, not boolean"},
        {"aliases = 1\n", "aliases must be a table, not integer", NULL},
        {"[aliases]\nbusybox = 1\n", ":2:11: aliases.\"busybox\"", "must be a string, not integer"},
        {"registries = 1\n", "registries must be a table, not integer", NULL},
        {"[registries.search]\nregistries = 'a.io'\n", "registries.search.registries",
         "must be an array of strings, not string"},
        {"[registries]\nsearch = []\n", "registries.search must be a table, not array", NULL},
        {"[registries.insecure]\nregistries = [true]\n", "registries.insecure.registries",
         "must be a string, not boolean"},
        {"[registries.block]\nregistries = {}\n", "registries.block.registries",
         "must be an array of strings"},
        {"short-name-mode = \"enf\\u0000orcing\"\n", "short-name-mode", "contains a NUL character"},
};

static void check_bad_confs(const TmpDir *t, const BadConf *cases, size_t n) {
        for (size_t i = 0; i < n; i++)
                conf_fails(t, cases[i].text,
                           (const char *const[]){cases[i].needle1, cases[i].needle2, NULL});
}

static void test_wrong_types(void **state) {
        check_bad_confs(*state, wrong_types, ELEMENTSOF(wrong_types));
}

static const BadConf invalid_values[] = {
        {"short-name-mode = 'strict'\n",
         "short-name-mode: 'strict' is not one of enforcing, permissive, disabled", NULL},
        {"unqualified-search-registries = ['example.com/ns']\n",
         "'example.com/ns' must be a registry host[:port]", NULL},
        {"unqualified-search-registries = ['https://quay.io']\n", "not a URL or path", NULL},
        {"unqualified-search-registries = ['registry']\n", "'registry' is not a registry host[:port]", NULL},
        {"unqualified-search-registries = ['exa_mple.com']\n", "'exa_mple.com' is not a registry host",
         NULL},
        {"unqualified-search-registries = ['']\n", "'' is not a registry host", NULL},
        {"[[registry]]\ninsecure = true\n", ":1:1: registry: neither prefix nor location is set", NULL},
        {"[[registry]]\nprefix = ''\nlocation = ''\n", "neither prefix nor location is set", NULL},
        {"[[registry]]\nlocation = 'http://a.io'\n",
         "registry.location: 'http://a.io': URI schemes are not supported", NULL},
        {"[[registry]]\nlocation = 'https://a.io/x'\n", "URI schemes are not supported", NULL},
        {"[[registry]]\nlocation = 'registry'\n",
         "registry.location: 'registry' is not a valid registry host[:port]", NULL},
        {"[[registry]]\nlocation = 'a.io:99999'\n", "'a.io:99999' is not a valid registry host", NULL},
        {"[[registry]]\nlocation = 'ns/repo'\n", "'ns/repo' does not start with a registry host", NULL},
        {"[[registry]]\nprefix = 'Example.com/Foo'\nlocation = 'a.io'\n", "registry.prefix",
         "repository name must be lowercase"},
        {"[[registry]]\nprefix = 'example.com/foo'\nlocation = 'a.io/x@sha256:12'\n", "registry.location",
         "64 lower-case hex digits"},
        {"[[registry]]\nprefix = '*.exa_mple.com'\n", "'*.exa_mple.com' is not a valid wildcard", NULL},
        {"[[registry]]\nprefix = '*.example.com/foo'\n", "is not a valid wildcard", NULL},
        {"[[registry]]\nprefix = '*.example.com:5000'\n", "is not a valid wildcard", NULL},
        {"[[registry]]\nprefix = '*.'\n", "is not a valid wildcard", NULL},
        {"[[registry]]\nprefix = '*.-a.com'\n", "is not a valid wildcard", NULL},
        {"[[registry]]\nprefix = 'example.*.com'\n", "registry.prefix",
         "'example.*.com' is not a valid registry host"},
        {"[[registry]]\nlocation = '*.example.com'\n", "registry.location",
         "'*.example.com' is not a valid"},
        {"[[registry]]\nlocation = 'a.io'\npull-from-mirror = 'all'\n",
         "registry.pull-from-mirror: only a [[registry.mirror]] can set it", NULL},
        {"[[registry]]\nlocation = 'a.io'\n[[registry.mirror]]\ninsecure = true\n",
         "registry.mirror: location is not set", NULL},
        {"[[registry]]\nlocation = 'a.io'\n[[registry.mirror]]\nlocation = 'http://m.io'\n",
         "registry.mirror.location", "URI schemes"},
        {"[[registry]]\nlocation = 'a.io'\n[[registry.mirror]]\nlocation = 'm.io'\npull-from-mirror = "
         "'never'\n",
         "'never' is not one of all, digest-only, tag-only", NULL},
        {"[[registry]]\nlocation = 'a.io'\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = "
         "'m.io'\npull-from-mirror = 'all'\n",
         "mirror-by-digest-only cannot be combined with a mirror's pull-from-mirror", NULL},
        {"[aliases]\n'docker.io/busybox' = 'docker.io/library/busybox'\n",
         "'docker.io/busybox' names a registry; an alias is for a short name", NULL},
        {"[aliases]\n'busybox:1' = 'docker.io/library/busybox'\n", "must not have a tag or digest", NULL},
        {"[aliases]\n'Busybox' = 'docker.io/library/busybox'\n", "is not a short name", "must be lowercase"},
        {"[aliases]\nbusybox = 'library/busybox'\n", "'library/busybox' must be fully qualified", NULL},
        {"[aliases]\nbusybox = 'docker.io/busybox:1'\n", "must not have a tag or digest", NULL},
        {"[aliases]\nbusybox = 'docker.io/busybox@" SHA256 "'\n", "must not have a tag or digest", NULL},
        {"[aliases]\nbusybox = 'docker.io/BusyBox'\n", "aliases.\"busybox\"", "must be lowercase"},
        {"[registries.search]\nregistries = ['a.io']\n[[registry]]\nlocation = 'b.io'\n",
         "registry: cannot be mixed with the version 1 [registries] tables", NULL},
        {"unqualified-search-registries = ['a.io']\n[registries.block]\nregistries = ['b.io']\n",
         ":1:33: unqualified-search-registries: cannot be mixed", NULL},
        {"[registries.insecure]\nregistries = ['http://b.io']\n", "registries.insecure.registries",
         "URI schemes"},
};

static void test_invalid_values(void **state) {
        check_bad_confs(*state, invalid_values, ELEMENTSOF(invalid_values));
}

static void test_unknown_keys_warn(void **state) {
        TmpDir *t = *state;
        _cleanup_strv_free_ char **warnings = NULL;
        write_conf(t, "foo = 1\n"
                      "credential-helpers = ['x']\n"
                      "[[registry]]\n"
                      "location = 'a.io'\n"
                      "mirrors = []\n"
                      "[[registry.mirror]]\n"
                      "location = 'm.io'\n"
                      "weight = 2\n"
                      "[registries.search]\n"
                      "registries = []\n");
        /* The last table makes this a mixed file, so check the warnings on a v2-only copy first. */
        load_fails(t, EINVAL, (const char *const[]){"cannot be mixed", NULL});

        write_conf(t, "foo = 1\n"
                      "credential-helpers = ['x']\n"
                      "[[registry]]\n"
                      "location = 'a.io'\n"
                      "mirrors = []\n"
                      "[[registry.mirror]]\n"
                      "location = 'm.io'\n"
                      "weight = 2\n");
        write_file(t->dropin, "v1.conf",
                   "[registries.search]\nregistries = []\nextra = 1\n[registries.other]\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 6, &warnings);

        _cleanup_free_ char *w0 = xasprintf("%s:1: unknown key foo", t->conf);
        _cleanup_free_ char *w1 = xasprintf("%s:2: credential-helpers is not supported", t->conf);
        _cleanup_free_ char *w2 = xasprintf("%s:5: unknown key registry.mirrors", t->conf);
        _cleanup_free_ char *w3 = xasprintf("%s:8: unknown key registry.mirror.weight", t->conf);
        _cleanup_free_ char *w4 = xasprintf("%s/v1.conf:3: unknown key registries.search.extra", t->dropin);
        _cleanup_free_ char *w5 = xasprintf("%s/v1.conf:4: unknown key registries.other", t->dropin);
        assert_contains(warnings[0], w0);
        assert_contains(warnings[1], w1);
        assert_contains(warnings[2], w2);
        assert_contains(warnings[3], w3);
        assert_contains(warnings[4], w4);
        assert_contains(warnings[5], w5);
        /* The known keys still took effect. */
        assert_int_equal(c->registries[0].n_mirrors, 1);

        /* Without a warnings list, loading still works. */
        _cleanup_error_ Error *err = NULL;
        RegistriesConf *c2 = NULL;
        assert_ok(registries_conf_load(t->conf, t->dropin, &c2, NULL, &err), err);
        registries_conf_free(c2);
}

static void test_duplicate_prefix_in_one_file(void **state) {
        TmpDir *t = *state;
        _cleanup_strv_free_ char **warnings = NULL;
        write_conf(t, "[[registry]]\n"
                      "location = 'a.io'\n"
                      "insecure = true\n"
                      "[[registry]]\n"
                      "prefix = 'a.io'\n"
                      "location = 'b.io'\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 1, &warnings);

        assert_int_equal(c->n_registries, 1);
        assert_string_equal(c->registries[0].location, "a.io");
        assert_true(c->registries[0].insecure);
        assert_contains(warnings[0], ":4: [[registry]] with prefix 'a.io' is defined twice");
}

static void test_v1_format(void **state) {
        TmpDir *t = *state;
        write_conf(t, "[registries.search]\n"
                      "registries = ['quay.io', 'docker.io']\n"
                      "[registries.insecure]\n"
                      "registries = ['insecure.io:5000', 'both.io']\n"
                      "[registries.block]\n"
                      "registries = ['blocked.io', 'both.io/ns/']\n"
                      "[registries.block.more]\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 1, NULL);

        _cleanup_strv_free_ char **search = strv_split("quay.io,docker.io", ',');
        assert_true(strv_equal(c->unqualified_search_registries, search));
        assert_int_equal(c->n_registries, 4);
        assert_sources(c, "insecure.io:5000/x:1", "insecure.io:5000/x:1 insecure");
        assert_sources(c, "both.io/x:1", "both.io/x:1 insecure");

        _cleanup_image_ref_ ImageRef *blocked = ref("blocked.io/x");
        _cleanup_image_ref_ ImageRef *both = ref("both.io/ns/x");
        _cleanup_error_ Error *err = NULL;
        PullSource *s = NULL;
        size_t n = 0;
        assert_int_equal(registries_pull_sources(c, blocked, &s, &n, &err), -EACCES);
        error_free(err);
        err = NULL;
        assert_int_equal(registries_pull_sources(c, both, &s, &n, &err), -EACCES);
        assert_null(s);
}

/* ---- matching ---- */

static void test_prefix_matching(void **state) {
        TmpDir *t = *state;
        write_conf(t,
                   "[[registry]]\nprefix = 'example.com'\nlocation = 'b.io'\n"
                   "[[registry]]\nprefix = 'example.com/foo'\nlocation = 'a.io'\n"
                   "[[registry]]\nprefix = 'example.com/foo/bar'\nlocation = 'c.io'\n"
                   "[[registry]]\nprefix = 'example.com:5000/ns:v1'\nlocation = 'tagged.io/x:v2'\n"
                   "[[registry]]\nprefix = 'pinned.io/x@" SHA256 "'\nlocation = 'other.io/y@" SHA256 "'\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);

        assert_found(c, "example.com/foo/bar/baz:1", "example.com/foo/bar");
        assert_found(c, "example.com/foo/bar:tag", "example.com/foo/bar");
        assert_found(c, "example.com/foo/bar@" SHA256, "example.com/foo/bar");
        assert_found(c, "example.com/foo:tag", "example.com/foo");
        assert_found(c, "example.com/foo", "example.com/foo");
        assert_found(c, "example.com/foo/barbaz", "example.com/foo");
        assert_found(c, "example.com/foobar", "example.com");
        assert_found(c, "example.com/x", "example.com");
        /* Another port is another registry; a longer host is another host. */
        assert_found(c, "example.com:5000/foo", NULL);
        assert_found(c, "example.community/foo", NULL);
        assert_found(c, "sub.example.com/foo", NULL);
        assert_found(c, "other.com/example.com/foo", NULL);
        /* A prefix can pin a tag or a digest. */
        assert_found(c, "example.com:5000/ns:v1", "example.com:5000/ns:v1");
        assert_found(c, "example.com:5000/ns:v10", NULL);
        assert_found(c, "pinned.io/x@" SHA256, "pinned.io/x@" SHA256);
        assert_found(c, "pinned.io/x", NULL);

        /* The location replaces exactly the matched part. */
        assert_sources(c, "example.com/foo/img:1", "a.io/img:1");
        assert_sources(c, "example.com/foo/bar/baz@" SHA256, "c.io/baz@" SHA256);
        assert_sources(c, "example.com/foobar", "b.io/foobar");
        assert_sources(c, "example.com:5000/ns:v1", "tagged.io/x:v2");
        assert_sources(c, "pinned.io/x@" SHA256, "other.io/y@" SHA256);
        /* No entry: pulled from where it says. */
        assert_sources(c, "example.com:5000/foo", "example.com:5000/foo");

        /* registries_find() wants a qualified reference. */
        _cleanup_image_ref_ ImageRef *short_ref = ref("foo");
        assert_null(registries_find(c, short_ref));
        assert_null(registries_find(NULL, short_ref));
        assert_null(registries_find(c, NULL));
}

static void test_wildcards(void **state) {
        TmpDir *t = *state;
        write_conf(t, "[[registry]]\nprefix = '*.example.com'\ninsecure = true\n"
                      "[[registry]]\nprefix = '*.b.example.com'\nlocation = 'mirror.io/b'\n"
                      "[[registry]]\nprefix = 'plain.example.com'\nlocation = 'plain.io'\n"
                      "[[registry]]\nprefix = 'a.b.example.com/ns'\nlocation = 'ns.io'\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);

        assert_found(c, "a.example.com/x", "*.example.com");
        assert_found(c, "x.y.example.com:5000/x:1", "*.example.com");
        assert_found(c, "a.b.example.com/x", "*.b.example.com");
        assert_found(c, "a.b.example.com/ns/x", "a.b.example.com/ns");
        /* A plain prefix wins over a longer wildcard. */
        assert_found(c, "plain.example.com/x", "plain.example.com");
        assert_found(c, "example.com/x", NULL);
        assert_found(c, "aexample.com/x", NULL);
        assert_found(c, "a.example.com.evil.io/x", NULL);
        assert_found(c, "evil.io/a.example.com/x", NULL);
        assert_found(c, "[::1]:5000/x", NULL);

        /* Without a location the host stays; with one, the whole host[:port] is replaced. */
        assert_sources(c, "a.example.com/x:1", "a.example.com/x:1 insecure");
        assert_sources(c, "q.b.example.com:5000/x:1", "mirror.io/b/x:1");
        assert_string_equal(
                registries_find(c, &(ImageRef){.domain = "z.example.com", .path = "p"})->location,
                "*.example.com");
}

/* ---- pull sources ---- */

static void test_blocked(void **state) {
        TmpDir *t = *state;
        write_conf(t, "[[registry]]\nprefix = 'docker.io/library'\nlocation = 'docker.io/library'\nblocked "
                      "= true\n"
                      "[[registry]]\nprefix = 'docker.io'\nlocation = 'docker.io'\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);
        _cleanup_image_ref_ ImageRef *r = NULL;
        _cleanup_error_ Error *err = NULL;
        PullSource *sentinel = (PullSource *)0x1, *s = sentinel;
        size_t n = 42;

        assert_int_equal(image_ref_normalize("busybox", &r, &err), 0);
        assert_int_equal(registries_pull_sources(c, r, &s, &n, &err), -EACCES);
        assert_ptr_equal(s, sentinel);
        assert_int_equal(n, 42);
        assert_int_equal(err->code, EACCES);
        assert_contains(err->message, "'docker.io/library/busybox:latest' is blocked");
        assert_contains(err->message, "registry 'docker.io/library'");
        assert_sources(c, "docker.io/other/x", "docker.io/other/x");
}

static void test_mirror_order(void **state) {
        TmpDir *t = *state;
        write_conf(t, "[[registry]]\n"
                      "prefix = 'docker.io'\n"
                      "location = 'registry-1.docker.io'\n"
                      "[[registry.mirror]]\n"
                      "location = 'first.mirror.io/hub'\n"
                      "[[registry.mirror]]\n"
                      "location = 'second.mirror.io:5000'\n"
                      "insecure = true\n"
                      "[[registry.mirror]]\n"
                      "location = 'third.mirror.io'\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);

        assert_sources(
                c, "docker.io/library/busybox:1",
                "first.mirror.io/hub/library/busybox:1 mirror, second.mirror.io:5000/library/busybox:1 "
                "insecure mirror, third.mirror.io/library/busybox:1 mirror, "
                "registry-1.docker.io/library/busybox:1");
}

static void test_digest_only_mirrors(void **state) {
        TmpDir *t = *state;
        write_conf(t, "[[registry]]\n"
                      "location = 'a.io'\n"
                      "mirror-by-digest-only = true\n"
                      "[[registry.mirror]]\n"
                      "location = 'm1.io'\n"
                      "[[registry]]\n"
                      "location = 'b.io'\n"
                      "[[registry.mirror]]\n"
                      "location = 'all.io'\n"
                      "pull-from-mirror = 'all'\n"
                      "[[registry.mirror]]\n"
                      "location = 'digest.io'\n"
                      "pull-from-mirror = 'digest-only'\n"
                      "[[registry.mirror]]\n"
                      "location = 'tag.io'\n"
                      "pull-from-mirror = 'tag-only'\n"
                      "[[registry.mirror]]\n"
                      "location = 'default.io'\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);

        assert_sources(c, "a.io/x:1", "a.io/x:1");
        assert_sources(c, "a.io/x", "a.io/x");
        assert_sources(c, "a.io/x@" SHA256, "m1.io/x@" SHA256 " mirror, a.io/x@" SHA256);
        /* A tag with a digest pulls by digest. */
        assert_sources(c, "a.io/x:1@" SHA256, "m1.io/x:1@" SHA256 " mirror, a.io/x:1@" SHA256);

        assert_sources(c, "b.io/x:1",
                       "all.io/x:1 mirror, tag.io/x:1 mirror, default.io/x:1 mirror, b.io/x:1");
        assert_sources(c, "b.io/x@" SHA256,
                       "all.io/x@" SHA256 " mirror, digest.io/x@" SHA256 " mirror, default.io/x@" SHA256
                       " mirror, b.io/x@" SHA256);
}

static void test_pull_sources_errors(void **state) {
        TmpDir *t = *state;
        /* A location with a tag cannot take a path after it: the rewrite fails at pull time. */
        write_conf(t, "[[registry]]\nprefix = 'example.com/foo'\nlocation = 'other.io/bar:v2'\n"
                      "[[registry]]\nprefix = 'example.com/bar'\nlocation = 'a.io'\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);
        _cleanup_image_ref_ ImageRef *r = ref("example.com/foo/x:1");
        _cleanup_image_ref_ ImageRef *short_ref = ref("busybox");
        _cleanup_error_ Error *err = NULL;
        PullSource *s = NULL;
        size_t n = 0;

        assert_int_equal(registries_pull_sources(c, r, &s, &n, &err), -EINVAL);
        assert_contains(err->message, "rewriting 'example.com/foo/x:1' for 'other.io/bar:v2'");
        assert_null(s);
        error_free(err);
        err = NULL;
        /* Nor may the rewrite lose the registry host: "a.io" + ":1" would be a short name. */
        _cleanup_image_ref_ ImageRef *tagged = ref("example.com/bar:1");
        assert_int_equal(registries_pull_sources(c, tagged, &s, &n, &err), -EINVAL);
        assert_contains(err->message, "gives 'a.io:1', which has no registry host");
        error_free(err);
        err = NULL;
        assert_int_equal(registries_pull_sources(c, short_ref, &s, &n, &err), -EINVAL);
        assert_contains(err->message, "reference 'busybox' is not fully qualified");
        error_free(err);
        err = NULL;
        assert_int_equal(registries_pull_sources(c, NULL, &s, &n, &err), -EINVAL);
        assert_null(s);
        /* A NULL config is an empty one. */
        assert_sources(NULL, "quay.io/a", "quay.io/a");
}

/* ---- short names ---- */

static void test_aliases(void **state) {
        TmpDir *t = *state;
        write_conf(t, "unqualified-search-registries = ['quay.io', 'docker.io']\n"
                      "[aliases]\n"
                      "busybox = 'quay.io/libpod/busybox'\n"
                      "'ns/tool' = 'localhost:5000/tools/tool'\n"
                      "hello = 'docker.io/hello'\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);

        /* An alias is the only candidate, so even enforcing mode takes it. */
        assert_candidates(c, "busybox", true, "quay.io/libpod/busybox:latest");
        assert_candidates(c, "busybox:1.36", true, "quay.io/libpod/busybox:1.36");
        assert_candidates(c, "busybox@" SHA256, true, "quay.io/libpod/busybox@" SHA256);
        assert_candidates(c, "busybox:1@" SHA256, true, "quay.io/libpod/busybox:1@" SHA256);
        assert_candidates(c, "ns/tool", true, "localhost:5000/tools/tool:latest");
        assert_candidates(c, "hello", false, "docker.io/library/hello:latest");
        /* Aliases match whole names only. */
        assert_candidates(c, "busybox2", false,
                          "quay.io/busybox2:latest, docker.io/library/busybox2:latest");
        assert_candidates(c, "tool", false, "quay.io/tool:latest, docker.io/library/tool:latest");
        /* A qualified name is its own and only candidate. */
        assert_candidates(c, "docker.io/busybox", true, "docker.io/library/busybox:latest");
}

static void test_enforcing_ambiguous(void **state) {
        TmpDir *t = *state;
        write_conf(
                t,
                "unqualified-search-registries = ['registry.fedoraproject.org', 'quay.io', 'docker.io']\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);
        _cleanup_image_ref_ ImageRef *r = ref("busybox:1");
        _cleanup_error_ Error *err = NULL;
        ImageRef **sentinel = (ImageRef **)0x1, **l = sentinel;
        size_t n = 42;

        assert_int_equal(registries_resolve_short_name(c, r, true, &l, &n, &err), -EINVAL);
        assert_ptr_equal(l, sentinel);
        assert_int_equal(n, 42);
        assert_string_equal(
                err->message,
                "short name 'busybox:1' is ambiguous with short_name_mode \"enforcing\": it could be "
                "registry.fedoraproject.org/busybox:1, quay.io/busybox:1, docker.io/library/busybox:1; "
                "use a fully qualified reference or add an alias to registries.conf");

        /* Not enforcing: all of them, in order. */
        assert_candidates(
                c, "busybox:1", false,
                "registry.fedoraproject.org/busybox:1, quay.io/busybox:1, docker.io/library/busybox:1");
}

static void test_disabled_mode_order(void **state) {
        TmpDir *t = *state;
        write_conf(t, "short-name-mode = 'disabled'\n"
                      "unqualified-search-registries = ['c.io', 'a.io:5000', 'docker.io', 'b.io', "
                      "'index.docker.io']\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);

        assert_string_equal(c->short_name_mode, "disabled");
        /* Configured order, the repeated Docker Hub only once. */
        assert_candidates(
                c, "ns/img", false,
                "c.io/ns/img:latest, a.io:5000/ns/img:latest, docker.io/ns/img:latest, b.io/ns/img:latest");
}

static void test_no_search_registries(void **state) {
        TmpDir *t = *state;
        write_conf(t, "unqualified-search-registries = []\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);

        assert_int_equal(strv_length(c->unqualified_search_registries), 0);
        assert_candidates(c, "busybox", true, "docker.io/library/busybox:latest");
        assert_candidates(NULL, "ns/x@" SHA256, true, "docker.io/ns/x@" SHA256);

        _cleanup_error_ Error *err = NULL;
        ImageRef **l = NULL;
        size_t n = 0;
        assert_int_equal(registries_resolve_short_name(c, NULL, false, &l, &n, &err), -EINVAL);
        assert_null(l);
}

static void test_single_search_registry_enforcing(void **state) {
        TmpDir *t = *state;
        write_conf(t, "unqualified-search-registries = ['quay.io']\nshort-name-mode = 'permissive'\n");
        _cleanup_(registries_conf_freep) RegistriesConf *c = load_ok(t, 0, NULL);

        assert_string_equal(c->short_name_mode, "permissive");
        assert_candidates(c, "busybox", true, "quay.io/busybox:latest");
}

static void test_insecure_registry_entries(void **state) {
        const char *valid[] = {"registry.local", "registry.local:5000", "127.0.0.1:5000", "[fd00::1]:5000",
                               "10.0.0.0/8",     "192.168.1.0/24",      "fd00::/8",       "0.0.0.0/0"};
        const char *invalid[] = {"",
                                 "https://registry.local",
                                 "registry.local/ns",
                                 "10.0.0.0/33",
                                 "10.0.0.0/",
                                 "10.0.0/8",
                                 "fd00::/129",
                                 "reg istry",
                                 "1.2.3.4/8x"};
        for (size_t i = 0; i < ELEMENTSOF(valid); i++)
                assert_true(insecure_registry_entry_valid(valid[i]));
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
                assert_false(insecure_registry_entry_valid(invalid[i]));
}

static void test_insecure_registry_matching(void **state) {
        char *list[] = {"Registry.Local:5000", "10.1.0.0/16", "fd00:1::/32", "172.16.5.5/32", NULL};
        assert_true(insecure_registry_listed(list, "registry.local:5000")); /* names: case-insensitive */
        assert_false(insecure_registry_listed(list, "registry.local"));     /* the port is part of it */
        assert_false(insecure_registry_listed(list, "other.local:5000"));
        assert_true(insecure_registry_listed(list, "10.1.200.3:5000"));
        assert_true(insecure_registry_listed(list, "10.1.0.1"));
        assert_false(insecure_registry_listed(list, "10.2.0.1:5000"));
        assert_true(insecure_registry_listed(list, "[fd00:1:ffff::2]:5000"));
        assert_false(insecure_registry_listed(list, "[fd00:2::2]:5000"));
        assert_true(insecure_registry_listed(list, "172.16.5.5:443"));
        assert_false(insecure_registry_listed(list, "172.16.5.4:443"));
        assert_false(insecure_registry_listed(list, "10.1.example.com")); /* names are not resolved */
        assert_false(insecure_registry_listed(NULL, "registry.local:5000"));
        char *odd_prefix[] = {"10.1.2.128/25", NULL};
        assert_true(insecure_registry_listed(odd_prefix, "10.1.2.200"));
        assert_false(insecure_registry_listed(odd_prefix, "10.1.2.100"));
}

#define TMP_TEST(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                TMP_TEST(test_missing_files),
                TMP_TEST(test_every_key),
                TMP_TEST(test_values_are_normalized),
                TMP_TEST(test_dropins_override_in_order),
                TMP_TEST(test_dropin_errors_name_the_dropin),
                TMP_TEST(test_toml_syntax_error),
                TMP_TEST(test_dropin_dir_not_a_directory),
                TMP_TEST(test_main_file_unreadable),
                TMP_TEST(test_wrong_types),
                TMP_TEST(test_invalid_values),
                TMP_TEST(test_unknown_keys_warn),
                TMP_TEST(test_duplicate_prefix_in_one_file),
                TMP_TEST(test_v1_format),
                TMP_TEST(test_prefix_matching),
                TMP_TEST(test_wildcards),
                TMP_TEST(test_blocked),
                TMP_TEST(test_mirror_order),
                TMP_TEST(test_digest_only_mirrors),
                TMP_TEST(test_pull_sources_errors),
                TMP_TEST(test_aliases),
                TMP_TEST(test_enforcing_ambiguous),
                TMP_TEST(test_disabled_mode_order),
                TMP_TEST(test_no_search_registries),
                TMP_TEST(test_single_search_registry_enforcing),
                cmocka_unit_test(test_insecure_registry_entries),
                cmocka_unit_test(test_insecure_registry_matching),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
