/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "cdi.h"
#include "fs-util.h"
#include "strv.h"
#include "test-util.h"

#define STRV(...) ((char *[]){__VA_ARGS__, NULL})

static json_object *yaml(const char *text) {
        json_object *o = NULL;
        Error *err = NULL;
        assert_ok(cdi_yaml_to_json(text, strlen(text), &o, &err), err);
        return o;
}

static json_object *at(json_object *o, const char *key) {
        json_object *v = NULL;
        return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* Plain scalars are typed as JSON would be (YAML 1.1 octal included); quoted ones stay strings. */
static void test_yaml_scalars_are_typed(void **state) {
        json_object *o = yaml("a: 1\nb: 0o17\nc: 0666\nd: '0666'\ne: true\nf: ~\ng: [x, 2]\nh: {k: v}\n"
                              "i: -5\nj: 0x1F\nk: 08\nl: \"true\"\nm: 1.5\n");
        assert_int_equal(json_object_get_int64(at(o, "a")), 1);
        assert_int_equal(json_object_get_int64(at(o, "b")), 15);
        assert_int_equal(json_object_get_int64(at(o, "c")), 0666);
        assert_true(json_object_is_type(at(o, "d"), json_type_string));
        assert_true(json_object_get_boolean(at(o, "e")) &&
                    json_object_is_type(at(o, "e"), json_type_boolean));
        assert_true(json_object_object_get_ex(o, "f", NULL) && !at(o, "f"));
        assert_int_equal(json_object_array_length(at(o, "g")), 2);
        assert_int_equal(json_object_get_int64(json_object_array_get_idx(at(o, "g"), 1)), 2);
        assert_string_equal(json_object_get_string(at(at(o, "h"), "k")), "v");
        assert_int_equal(json_object_get_int64(at(o, "i")), -5);
        assert_int_equal(json_object_get_int64(at(o, "j")), 31);
        assert_string_equal(json_object_get_string(at(o, "k")), "08"); /* not octal: a string */
        assert_true(json_object_is_type(at(o, "l"), json_type_string));
        assert_true(json_object_is_type(at(o, "m"), json_type_string));
        json_object_put(o);
}

static void test_yaml_errors_and_alias_bombs(void **state) {
        static const char *const bad[] = {
                "a: [1, 2\n",
                "",
                "? [a]\n: b\n",
                /* 10^6 nodes from 60 through aliases */
                "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_object *o = NULL;
                Error *err = NULL;
                assert_int_equal(cdi_yaml_to_json(bad[i], strlen(bad[i]), &o, &err), -EINVAL);
                assert_null(o);
                assert_contains(err->message, "YAML");
                error_free(err);
        }
}

static const char *const good_spec =
        "{\"cdiVersion\": \"0.6.0\", \"kind\": \"vendor.com/gpu\","
        " \"containerEdits\": {\"env\": [\"COMMON=1\"]},"
        " \"devices\": [{\"name\": \"0\", \"containerEdits\": {"
        "   \"env\": [\"GPU=0\"],"
        "   \"deviceNodes\": [{\"path\": \"/dev/gpu0\", \"hostPath\": \"/dev/null\"}],"
        "   \"mounts\": [{\"hostPath\": \"/usr/lib\", \"containerPath\": \"/drv\","
        "                 \"options\": [\"ro\"]}],"
        "   \"hooks\": [{\"hookName\": \"createContainer\", \"path\": \"/bin/true\","
        "                \"args\": [\"true\"], \"timeout\": 5}]}},"
        "  {\"name\": \"all\", \"containerEdits\": {\"env\": [\"GPU=all\"]}}]}";

static void test_spec_validation(void **state) {
        json_object *spec = NULL;
        Error *err = NULL;
        assert_ok(cdi_spec_parse(good_spec, strlen(good_spec), false, &spec, &err), err);
        json_object_put(spec);
        static const char *const bad[][2] = {
                {"{\"kind\": \"vendor.com/gpu\", \"devices\": []}", "cdiVersion"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"gpu\", \"devices\": []}", "kind"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"vendor.com/a/b\", \"devices\": []}", "kind"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/gpu\", \"devices\": [{\"name\": \"-x\"}]}",
                 "devices[0].name"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/gpu\", \"devices\": [{\"name\": \"x\","
                 " \"containerEdits\": {\"env\": [\"NOEQUALS\"]}}]}",
                 "devices[0].containerEdits.env[0]"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/gpu\", \"devices\": [{\"name\": \"x\","
                 " \"containerEdits\": {\"deviceNodes\": [{\"path\": \"dev/x\"}]}}]}",
                 "deviceNodes[0].path"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/gpu\", \"devices\": [{\"name\": \"x\","
                 " \"containerEdits\": {\"deviceNodes\": [{\"path\": \"/dev/x\", \"type\": \"z\"}]}}]}",
                 "type"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/gpu\", \"devices\": [{\"name\": \"x\","
                 " \"containerEdits\": {\"deviceNodes\": [{\"path\": \"/dev/x\", \"major\": -1}]}}]}",
                 "whole numbers"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/gpu\", \"devices\": [],"
                 " \"containerEdits\": {\"hooks\": [{\"hookName\": \"atStart\", \"path\": \"/x\"}]}}",
                 "containerEdits.hooks[0].hookName"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/gpu\", \"devices\": [],"
                 " \"containerEdits\": {\"mounts\": [{\"hostPath\": \"/x\", \"containerPath\": \"y\"}]}}",
                 "containerEdits.mounts[0]"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                spec = NULL;
                assert_int_equal(cdi_spec_parse(bad[i][0], strlen(bad[i][0]), false, &spec, &err), -EINVAL);
                assert_null(spec);
                assert_contains(err->message, bad[i][1]);
                error_free(TAKE_PTR(err));
        }
}

static void test_requested_names(void **state) {
        StrMap a = {};
        strmap_add(&a, "cdi.k8s.io/gpu-plugin_0", "vendor.com/gpu=0,vendor.com/gpu=1");
        strmap_add(&a, "other", "vendor.com/gpu=2");
        char **names = NULL;
        Error *err = NULL;
        assert_ok(cdi_requested(&a, STRV("vendor.com/gpu=1", "x.io/nic=eth:1"), &names, &err), err);
        _cleanup_free_ char *joined = strv_join(names, " ");
        assert_string_equal(joined, "vendor.com/gpu=0 vendor.com/gpu=1 x.io/nic=eth:1");
        strv_free(names);
        StrMap none = {};
        assert_ok(cdi_requested(&none, NULL, &names, &err), err);
        assert_null(names);
        assert_int_equal(cdi_requested(&none, STRV("gpu0"), &names, &err), -EINVAL);
        assert_contains(err->message, "CDI_devices");
        error_free(TAKE_PTR(err));
        strmap_add(&a, "cdi.k8s.io/bad", "vendor.com/gpu");
        assert_int_equal(cdi_requested(&a, NULL, &names, &err), -EINVAL);
        assert_contains(err->message, "cdi.k8s.io/bad");
        error_free(err);
        strmap_done(&a);
}

typedef struct Dirs {
        char *root, *first, *second;
} Dirs;

static int dirs_setup(void **state) {
        char templ[] = "/tmp/crio-c-test-cdi-XXXXXX";
        if (!mkdtemp(templ))
                return -1;
        Dirs *d = xcalloc(1, sizeof(*d));
        d->root = xstrdup(templ);
        d->first = xasprintf("%s/etc", templ);
        d->second = xasprintf("%s/run", templ);
        mkdir(d->first, 0755);
        mkdir(d->second, 0755);
        *state = d;
        return 0;
}

static int dirs_teardown(void **state) {
        Dirs *d = *state;
        rm_rf(d->root);
        free(d->root), free(d->first), free(d->second), free(d);
        return 0;
}

static void put(const char *dir, const char *name, const char *text) {
        _cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
}

static json_object *base_spec(void) {
        const char *text =
                "{\"process\": {\"env\": [\"PATH=/bin\", \"GPU=none\"]}, \"mounts\": [],"
                " \"linux\": {\"resources\": {\"devices\": [{\"allow\": false, \"access\": \"rwm\"}]}}}";
        return json_tokener_parse(text);
}

static bool env_has(json_object *spec, const char *entry) {
        json_object *env = at(at(spec, "process"), "env");
        for (size_t i = 0; i < json_object_array_length(env); i++)
                if (strcmp(json_object_get_string(json_object_array_get_idx(env, i)), entry) == 0)
                        return true;
        return false;
}

/* Edits land in the spec: env replaced by name, a node with its cgroup rule, a bind mount, a hook. */
static void test_apply_edits(void **state) {
        Dirs *d = *state;
        put(d->first, "gpu.json", good_spec);
        CdiRegistry *r = cdi_registry_load(STRV(d->first));
        json_object *spec = base_spec();
        Error *err = NULL;
        assert_ok(cdi_apply(r, STRV("vendor.com/gpu=0", "vendor.com/gpu=all"), spec, &err), err);
        assert_true(env_has(spec, "COMMON=1") && env_has(spec, "GPU=all") && !env_has(spec, "GPU=none"));
        assert_int_equal(json_object_array_length(at(at(spec, "process"), "env")), 3); /* COMMON once */
        json_object *dev = json_object_array_get_idx(at(at(spec, "linux"), "devices"), 0);
        assert_string_equal(json_object_get_string(at(dev, "path")), "/dev/gpu0");
        assert_string_equal(json_object_get_string(at(dev, "type")), "c");
        assert_int_equal(json_object_get_int(at(dev, "major")), 1); /* /dev/null is 1:3 */
        assert_int_equal(json_object_get_int(at(dev, "minor")), 3);
        json_object *rules = at(at(at(spec, "linux"), "resources"), "devices");
        assert_int_equal(json_object_array_length(rules), 2);
        json_object *rule = json_object_array_get_idx(rules, 1);
        assert_true(json_object_get_boolean(at(rule, "allow")));
        assert_string_equal(json_object_get_string(at(rule, "access")), "rwm");
        json_object *m = json_object_array_get_idx(at(spec, "mounts"), 0);
        assert_string_equal(json_object_get_string(at(m, "destination")), "/drv");
        assert_string_equal(json_object_get_string(at(m, "type")), "bind");
        assert_int_equal(json_object_array_length(at(m, "options")), 2); /* ro, and bind added */
        json_object *hook = json_object_array_get_idx(at(at(spec, "hooks"), "createContainer"), 0);
        assert_string_equal(json_object_get_string(at(hook, "path")), "/bin/true");
        assert_int_equal(json_object_get_int(at(hook, "timeout")), 5);
        json_object_put(spec);
        cdi_registry_free(r);
}

/* A later directory wins; two files of one directory make the device unresolvable; broken files are named.
 */
static void test_registry_precedence_twins_and_problems(void **state) {
        Dirs *d = *state;
        put(d->first, "a.json",
            "{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/x\", \"devices\": ["
            "{\"name\": \"one\", \"containerEdits\": {\"env\": [\"WHO=first\"]}},"
            "{\"name\": \"two\", \"containerEdits\": {\"env\": [\"WHO=a\"]}}]}");
        put(d->first, "b.json",
            "{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/x\", \"devices\": [{\"name\": \"two\"}]}");
        put(d->first, "broken.json", "{\"cdiVersion\": ");
        put(d->second, "later.yaml",
            "cdiVersion: 0.5.0\nkind: v.com/x\ndevices:\n- name: one\n  containerEdits:\n"
            "    env: [WHO=second]\n    deviceNodes:\n    - path: /dev/x\n      hostPath: /dev/zero\n"
            "      permissions: r\n");
        CdiRegistry *r = cdi_registry_load(STRV(d->first, d->second, "/nonexistent"));
        json_object *spec = base_spec();
        Error *err = NULL;
        assert_ok(cdi_apply(r, STRV("v.com/x=one"), spec, &err), err);
        assert_true(env_has(spec, "WHO=second"));
        json_object *rule = json_object_array_get_idx(at(at(at(spec, "linux"), "resources"), "devices"), 1);
        assert_string_equal(json_object_get_string(at(rule, "access")), "r");
        assert_int_equal(cdi_apply(r, STRV("v.com/x=two"), spec, &err), -ENOENT);
        assert_contains(err->message, "a.json");
        assert_contains(err->message, "b.json");
        error_free(TAKE_PTR(err));
        assert_int_equal(cdi_apply(r, STRV("v.com/x=three"), spec, &err), -ENOENT);
        assert_contains(err->message, "v.com/x=three");
        assert_contains(err->message, "broken.json");
        error_free(err);
        json_object_put(spec);
        cdi_registry_free(r);
}

static void test_missing_host_node_fails(void **state) {
        Dirs *d = *state;
        put(d->first, "n.json",
            "{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/x\", \"devices\": [{\"name\": \"gone\","
            " \"containerEdits\": {\"deviceNodes\": [{\"path\": \"/dev/crio-c-test-absent\"}]}}]}");
        CdiRegistry *r = cdi_registry_load(STRV(d->first));
        json_object *spec = base_spec();
        Error *err = NULL;
        assert_int_equal(cdi_apply(r, STRV("v.com/x=gone"), spec, &err), -EINVAL);
        assert_contains(err->message, "/dev/crio-c-test-absent");
        error_free(err);
        json_object_put(spec);
        cdi_registry_free(r);
}

#define DIR_TEST(f) cmocka_unit_test_setup_teardown(f, dirs_setup, dirs_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_yaml_scalars_are_typed),
                cmocka_unit_test(test_yaml_errors_and_alias_bombs),
                cmocka_unit_test(test_spec_validation),
                cmocka_unit_test(test_requested_names),
                DIR_TEST(test_apply_edits),
                DIR_TEST(test_registry_precedence_twins_and_problems),
                DIR_TEST(test_missing_host_node_fails),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
