/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fs-util.h"
#include "hooks.h"
#include "strv.h"

static char *const STRV_NONE[] = {"/nonexistent/hooks.d", NULL};

/* A hook file around `when` and `stages` (JSON fragments), running /bin/true. */
static char *hook_text(const char *when, const char *stages) {
        return xasprintf("{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/true\"}, \"when\": %s, "
                         "\"stages\": %s}",
                         when, stages);
}

static Hook *parse_ok(const char *text) {
        Hook *h = NULL;
        _cleanup_error_ Error *err = NULL;
        if (hook_parse(text, strlen(text), &h, &err) < 0)
                print_error("%s\n", err->message);
        assert_non_null(h);
        return h;
}

static void assert_refused(const char *text, const char *fragment) {
        Hook *h = NULL;
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(hook_parse(text, strlen(text), &h, &err), -EINVAL);
        assert_null(h);
        if (!strstr(err->message, fragment))
                print_error("'%s' does not name '%s'\n", err->message, fragment);
        assert_non_null(strstr(err->message, fragment));
}

static const char *spec_string(json_object *spec, const char *stage, size_t i, const char *key) {
        json_object *hooks = NULL, *list = NULL, *v = NULL;
        if (!json_object_object_get_ex(spec, "hooks", &hooks) ||
            !json_object_object_get_ex(hooks, stage, &list) || i >= json_object_array_length(list) ||
            !json_object_object_get_ex(json_object_array_get_idx(list, i), key, &v))
                return NULL;
        return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Every field reaches config.json, under each stage it names and only there. */
static void test_full_hook_into_spec(void **state) {
        Hook *h = parse_ok("{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/usr/bin/nvidia-hook\", "
                           "\"args\": [\"nvidia-hook\", \"prestart\"], \"env\": [\"A=1\"], \"timeout\": 5}, "
                           "\"when\": {\"always\": true}, \"stages\": [\"createRuntime\", \"poststop\"], "
                           "\"future\": {\"unknown\": \"keys are ignored\"}}");
        json_object *spec = json_object_new_object();
        hook_add_to_spec(h, spec);
        assert_string_equal(spec_string(spec, "createRuntime", 0, "path"), "\"/usr/bin/nvidia-hook\"");
        assert_string_equal(spec_string(spec, "createRuntime", 0, "args"), "[\"nvidia-hook\",\"prestart\"]");
        assert_string_equal(spec_string(spec, "createRuntime", 0, "env"), "[\"A=1\"]");
        assert_string_equal(spec_string(spec, "createRuntime", 0, "timeout"), "5");
        assert_string_equal(spec_string(spec, "poststop", 0, "path"), "\"/usr/bin/nvidia-hook\"");
        assert_null(spec_string(spec, "prestart", 0, "path"));
        /* A second hook goes after the first. */
        hook_add_to_spec(h, spec);
        assert_non_null(spec_string(spec, "poststop", 1, "path"));
        json_object_put(spec);
        hook_free(h);
}

static void test_refusals(void **state) {
        assert_refused("not json", "not valid JSON");
        assert_refused("{\"version\": \"0.1.0\", \"hook\": \"/bin/true\", \"stage\": [\"prestart\"]}",
                       "hook");
        assert_refused("{\"version\": \"2.0.0\", \"hook\": {\"path\": \"/bin/true\"}, \"when\": "
                       "{\"always\": true}, "
                       "\"stages\": [\"prestart\"]}",
                       "version");
        assert_refused(
                "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"bin/true\"}, \"when\": {\"always\": true}, "
                "\"stages\": [\"prestart\"]}",
                "hook.path");
        assert_refused("{\"version\": \"1.0.0\", \"hook\": {}, \"when\": {\"always\": true}, "
                       "\"stages\": [\"prestart\"]}",
                       "hook.path is required");
        assert_refused("{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/true\", \"timeout\": 0}, "
                       "\"when\": {\"always\": true}, \"stages\": [\"prestart\"]}",
                       "hook.timeout");
        assert_refused("{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/true\", \"args\": [1]}, "
                       "\"when\": {\"always\": true}, \"stages\": [\"prestart\"]}",
                       "hook.args[0]");
        _cleanup_free_ char *no_when =
                xstrdup("{\"version\": \"1.0.0\", \"hook\": {\"path\": \"/bin/true\"}, "
                        "\"stages\": [\"prestart\"]}");
        assert_refused(no_when, "when is required");
        _cleanup_free_ char *empty_when = hook_text("{}", "[\"prestart\"]");
        assert_refused(empty_when, "at least one of");
        _cleanup_free_ char *bad_stage = hook_text("{\"always\": true}", "[\"prestart\", \"beforeBoot\"]");
        assert_refused(bad_stage, "stages[1]");
        _cleanup_free_ char *no_stage = hook_text("{\"always\": true}", "[]");
        assert_refused(no_stage, "stages");
        _cleanup_free_ char *bad_regex = hook_text("{\"commands\": [\"(unclosed\"]}", "[\"prestart\"]");
        assert_refused(bad_regex, "when.commands");
        _cleanup_free_ char *bad_ann = hook_text("{\"annotations\": {\"a\": 1}}", "[\"prestart\"]");
        assert_refused(bad_ann, "when.annotations[a]");
}

/*
 * glibc's regcomp copies the tree under each `+` and `{m,n}`: stacked or nested repetitions, found by
 * the fuzzer to take gigabytes, are refused before it; repetitions in sequence are fine.
 */
static void test_pattern_budget(void **state) {
        static const char *const refused[] = {
                "p++++++++++++++++++++++++++++++++++++++++",
                "(a{100}){100}",
                "((((((((((((a+)+)+)+)+)+)+)+)+)+)+)+)+",
                "x{99999999999999999999}",
                "(a*)\\\\1",
                "a**",
                "po++++++**A",
        };
        for (size_t i = 0; i < ELEMENTSOF(refused); i++) {
                _cleanup_free_ char *when = xasprintf("{\"commands\": [\"%s\"]}", refused[i]);
                _cleanup_free_ char *text = hook_text(when, "[\"prestart\"]");
                assert_refused(text, "repeats too much");
        }
        _cleanup_free_ char *long_pattern = xasprintf("{\"commands\": [\"%01100d\"]}", 0);
        _cleanup_free_ char *long_text = hook_text(long_pattern, "[\"prestart\"]");
        assert_refused(long_text, "too long");
        static const char *const accepted[] = {
                "a+b+c+d+e+f+g+h+i+j+k+l+m+n+o+p+q+r+s+t+",
                "^/usr/bin/(python|perl)[0-9.]*$",
                "[[:alpha:]]+[)(]{2,8}\\\\(x\\\\)",
                "(a{30}){30}",
                "^/usr/bin/.*?python",
        };
        for (size_t i = 0; i < ELEMENTSOF(accepted); i++) {
                _cleanup_free_ char *when = xasprintf("{\"commands\": [\"%s\"]}", accepted[i]);
                _cleanup_free_ char *text = hook_text(when, "[\"prestart\"]");
                hook_free(parse_ok(text));
        }
}

static bool matches(const char *when, const HookTarget *t) {
        _cleanup_free_ char *text = hook_text(when, "[\"prestart\"]");
        Hook *h = parse_ok(text);
        bool m = hook_matches(h, t);
        hook_free(h);
        return m;
}

static void test_matching(void **state) {
        char *keys[] = {"io.kubernetes.cri-o.Devices", "gpu.example.com/want", NULL};
        char *values[] = {"/dev/fuse", "yes", NULL};
        StrMap ann = {.keys = keys, .values = values, .n = 2};
        HookTarget t = {.annotations = &ann, .command = "/usr/bin/python3", .has_bind_mounts = false};
        HookTarget none = {.command = NULL};

        assert_true(matches("{\"always\": true}", &t));
        assert_false(matches("{\"always\": false}", &t));
        /* A key pattern and its value pattern must match the same annotation; patterns are unanchored. */
        assert_true(matches("{\"annotations\": {\"^gpu\\\\.example\\\\.com/\": \"^yes$\"}}", &t));
        assert_false(matches("{\"annotations\": {\"^gpu\\\\.example\\\\.com/\": \"fuse\"}}", &t));
        assert_true(matches("{\"annotations\": {\"Devices\": \"fuse\"}}", &t));
        assert_false(matches("{\"annotations\": {\"Devices\": \"fuse\"}}", &none));
        /* Every annotation pair must hold. */
        assert_false(matches("{\"annotations\": {\"Devices\": \"fuse\", \"absent\": \".*\"}}", &t));
        assert_true(matches("{\"commands\": [\"^/bin/sh$\", \"python\"]}", &t));
        assert_false(matches("{\"commands\": [\"^/bin/sh$\"]}", &t));
        assert_false(matches("{\"commands\": [\".*\"]}", &none));
        assert_false(matches("{\"hasBindMounts\": true}", &t));
        t.has_bind_mounts = true;
        assert_true(matches("{\"hasBindMounts\": true}", &t));
        assert_false(matches("{\"hasBindMounts\": false}", &t));
        /* Conditions are AND-ed. */
        assert_true(matches("{\"always\": true, \"hasBindMounts\": true, \"commands\": [\"python\"]}", &t));
        assert_false(matches("{\"always\": true, \"commands\": [\"^sh\"]}", &t));
        assert_false(matches("{\"always\": false, \"hasBindMounts\": true}", &t));
}

static void write_hook(const char *dir, const char *name, const char *text) {
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
        assert_int_equal(write_file_replace(path, text, strlen(text), 0644), 0);
}

static char *hook_for(const char *program, const char *stage) {
        return xasprintf(
                "{\"version\": \"1.0.0\", \"hook\": {\"path\": \"%s\"}, \"when\": {\"always\": true}, "
                "\"stages\": [\"%s\"]}",
                program, stage);
}

/*
 * Directories in order, a later one's file replacing an earlier one's of the same name; file-name
 * order; other files, broken hooks and programs that cannot run are skipped.
 */
static void test_apply_directories(void **state) {
        char tmpl[] = "/tmp/test-hooks-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        _cleanup_free_ char *a = xasprintf("%s/a", tmpl), *b = xasprintf("%s/b", tmpl);
        _cleanup_free_ char *missing = xasprintf("%s/missing", tmpl);
        assert_int_equal(mkdir(a, 0755), 0);
        assert_int_equal(mkdir(b, 0755), 0);
        _cleanup_free_ char *sh = hook_for("/bin/sh", "prestart"), *tr = hook_for("/bin/true", "prestart");
        _cleanup_free_ char *fa = hook_for("/bin/false", "prestart");
        _cleanup_free_ char *gone = hook_for("/nonexistent/hook", "prestart");
        write_hook(a, "20-second.json", sh);
        write_hook(a, "10-first.json", fa);
        write_hook(b, "10-first.json", tr); /* replaces a's */
        write_hook(a, "05-broken.json", "{\"version\": \"1.0.0\"}");
        write_hook(a, "06-gone.json", gone);
        write_hook(b, "30-notes.txt", sh);
        char *dirs[] = {a, missing, b, NULL};
        HookTarget t = {.command = "/bin/sleep"};
        Hook **hooks = hooks_load(dirs);
        json_object *spec = json_object_new_object();
        hooks_add_matching(hooks, &t, spec);
        hooks_free(hooks);
        assert_string_equal(spec_string(spec, "prestart", 0, "path"), "\"/bin/true\"");
        assert_string_equal(spec_string(spec, "prestart", 1, "path"), "\"/bin/sh\"");
        assert_null(spec_string(spec, "prestart", 2, "path"));
        json_object_put(spec);
        assert_null(hooks_load(STRV_NONE));
        assert_int_equal(rm_rf(tmpl), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_full_hook_into_spec), cmocka_unit_test(test_refusals),
                cmocka_unit_test(test_pattern_budget),      cmocka_unit_test(test_matching),
                cmocka_unit_test(test_apply_directories),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
