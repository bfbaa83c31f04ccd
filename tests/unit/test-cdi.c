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

/* Scalars stay strings (the spec's checks type the number fields); a plain null is null. */
static void test_yaml_scalars_stay_strings(void **state) {
        json_object *o = yaml("a: 1\nb: 0o17\nd: '0666'\ne: true\nf: ~\ng: [x, 2]\nh: {k: v}\n");
        assert_string_equal(json_object_get_string(at(o, "a")), "1");
        assert_true(json_object_is_type(at(o, "a"), json_type_string));
        assert_string_equal(json_object_get_string(at(o, "b")), "0o17");
        assert_string_equal(json_object_get_string(at(o, "d")), "0666");
        assert_true(json_object_is_type(at(o, "e"), json_type_string));
        assert_true(json_object_object_get_ex(o, "f", NULL) && !at(o, "f"));
        assert_string_equal(json_object_get_string(json_object_array_get_idx(at(o, "g"), 1)), "2");
        assert_string_equal(json_object_get_string(at(at(o, "h"), "k")), "v");
        json_object_put(o);
}

static void test_yaml_integers(void **state) {
        static const struct {
                const char *text;
                int64_t value;
        } good[] = {{"1", 1}, {"0o17", 15}, {"0666", 0666}, {"0x1F", 31}, {"-5", -5}, {"+7", 7}, {"0", 0}};
        static const char *const bad[] = {
                "08", "1.5", " 1", "+-1", "0x", "", "x", "1e3", "99999999999999999999"};
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                int64_t v = -1;
                assert_true(cdi_yaml_integer(good[i].text, &v));
                assert_int_equal(v, good[i].value);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int64_t v = -1;
                assert_false(cdi_yaml_integer(bad[i], &v));
        }
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
        /* One long scalar used many times: few nodes, but gigabytes of strings without a byte bound. */
        char *long_scalar = xmalloc(100000 + 1);
        memset(long_scalar, 'x', 100000);
        long_scalar[100000] = 0;
        _cleanup_free_ char *uses =
                strv_join(STRV("*a", "*a", "*a", "*a", "*a", "*a", "*a", "*a", "*a", "*a"), ",");
        _cleanup_free_ char *row = xasprintf("[%s]", uses);
        _cleanup_free_ char *bomb = xasprintf(
                "a: &a %s\nb: &b %s\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
                long_scalar, row);
        free(long_scalar);
        json_object *expanded = NULL;
        Error *bomb_err = NULL;
        assert_int_equal(cdi_yaml_to_json(bomb, strlen(bomb), &expanded, &bomb_err), -EINVAL);
        assert_contains(bomb_err->message, "MiB");
        error_free(bomb_err);
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
        assert_int_equal(cdi_apply(r, STRV("v.com/x=gone"), spec, &err), -ENODEV);
        assert_contains(err->message, "/dev/crio-c-test-absent");
        error_free(err);
        json_object_put(spec);
        cdi_registry_free(r);
}

/* What YAML writes as numbers works where the spec wants strings, and strings where it wants numbers. */
static void test_yaml_spec_fields_take_their_types(void **state) {
        const char *text =
                "cdiVersion: 0.6.0\nkind: my_vendor.com/gpu\ndevices:\n- name: 0\n  containerEdits:\n"
                "    deviceNodes: [{path: /dev/g0, type: c, major: 0o303, minor: 1, fileMode: 0660}]\n"
                "    hooks: [{hookName: createContainer, path: /bin/true, args: [x, 1], timeout: 5}]\n"
                "    additionalGids: [44, '0x2d']\n";
        json_object *spec = NULL;
        Error *err = NULL;
        assert_ok(cdi_spec_parse(text, strlen(text), true, &spec, &err), err);
        json_object *edits = at(json_object_array_get_idx(at(spec, "devices"), 0), "containerEdits");
        json_object *node = json_object_array_get_idx(at(edits, "deviceNodes"), 0);
        assert_true(json_object_is_type(at(node, "major"), json_type_int));
        assert_int_equal(json_object_get_int(at(node, "major")), 195);
        assert_int_equal(json_object_get_int(at(node, "fileMode")), 0660);
        assert_int_equal(json_object_get_int(json_object_array_get_idx(at(edits, "additionalGids"), 1)), 45);
        json_object_put(spec);
}

static void test_spec_refuses_what_it_cannot_apply(void **state) {
        static const char *const bad[][2] = {
                {"{\"cdiVersion\": \"0.8.0\", \"kind\": \"v.com/nic\", \"devices\": [{\"name\": \"x\","
                 " \"containerEdits\": {\"netDevices\": [{\"hostInterfaceName\": \"eth1\", \"name\": "
                 "\"eth1\"}]}}]}",
                 "'netDevices' is not a CDI field crio-c applies"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/x\", \"devices\": [{\"name\": \"a\"}, "
                 "{\"name\": \"a\"}]}",
                 "devices[1].name repeats devices[0].name"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"1vendor.com/x\", \"devices\": []}", "kind"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/x\", \"devices\": [], \"extra\": 1}",
                 "'extra'"},
                {"{\"cdiVersion\": \"0.6.0\", \"kind\": \"v.com/x\", \"devices\": [],"
                 " \"containerEdits\": {\"additionalGids\": [-1]}}",
                 "additionalGids[0]"},
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                json_object *spec = NULL;
                Error *err = NULL;
                assert_int_equal(cdi_spec_parse(bad[i][0], strlen(bad[i][0]), false, &spec, &err), -EINVAL);
                assert_contains(err->message, bad[i][1]);
                error_free(err);
        }
}

/* Owners: the spec's, else a non-root container user's; groups added once; mounts back in depth order. */
static void test_apply_owner_groups_and_mount_order(void **state) {
        Dirs *d = *state;
        put(d->first, "o.json",
            "{\"cdiVersion\": \"0.7.0\", \"kind\": \"v.com/x\", \"containerEdits\": {\"additionalGids\": "
            "[44]},"
            " \"devices\": [{\"name\": \"a\", \"containerEdits\": {\"additionalGids\": [44, 45],"
            "   \"deviceNodes\": [{\"path\": \"/dev/a\", \"hostPath\": \"/dev/null\"},"
            "                     {\"path\": \"/dev/b\", \"hostPath\": \"/dev/null\", \"uid\": 7}],"
            "   \"mounts\": [{\"hostPath\": \"/usr\", \"containerPath\": \"/opt/v\"}]}},"
            " {\"name\": \"blk\", \"containerEdits\": {\"deviceNodes\": [{\"path\": \"/dev/b\", "
            "\"hostPath\": "
            "\"/dev/null\", \"type\": \"b\"}]}}]}");
        CdiRegistry *r = cdi_registry_load(STRV(d->first));
        json_object *spec =
                json_tokener_parse("{\"process\": {\"user\": {\"uid\": 1000, \"gid\": 0}},"
                                   " \"mounts\": [{\"destination\": \"/proc\"}, {\"destination\": "
                                   "\"/opt/v/conf\"}, {\"destination\": \"/\"}]}");
        Error *err = NULL;
        assert_ok(cdi_apply(r, STRV("v.com/x=a"), spec, &err), err);
        json_object *devs = at(at(spec, "linux"), "devices");
        assert_int_equal(json_object_get_int(at(json_object_array_get_idx(devs, 0), "uid")), 1000);
        assert_null(at(json_object_array_get_idx(devs, 0), "gid")); /* root's group: left to the runtime */
        assert_int_equal(json_object_get_int(at(json_object_array_get_idx(devs, 1), "uid")), 7);
        json_object *gids = at(at(at(spec, "process"), "user"), "additionalGids");
        assert_int_equal(json_object_array_length(gids), 2);
        const char *order[] = {"/", "/proc", "/opt/v", "/opt/v/conf"};
        json_object *mounts = at(spec, "mounts");
        assert_int_equal(json_object_array_length(mounts), 4);
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                assert_string_equal(
                        json_object_get_string(at(json_object_array_get_idx(mounts, i), "destination")),
                        order[i]);
        /* A spec whose type the host node contradicts (a character device called a block one). */
        assert_int_equal(cdi_apply(r, STRV("v.com/x=blk"), spec, &err), -ENODEV);
        assert_contains(err->message, "/dev/null");
        error_free(err);
        json_object_put(spec);
        cdi_registry_free(r);
}

#define DIR_TEST(f) cmocka_unit_test_setup_teardown(f, dirs_setup, dirs_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_yaml_scalars_stay_strings),
                cmocka_unit_test(test_yaml_integers),
                cmocka_unit_test(test_yaml_errors_and_alias_bombs),
                cmocka_unit_test(test_spec_validation),
                cmocka_unit_test(test_requested_names),
                DIR_TEST(test_apply_edits),
                DIR_TEST(test_registry_precedence_twins_and_problems),
                DIR_TEST(test_missing_host_node_fails),
                cmocka_unit_test(test_yaml_spec_fields_take_their_types),
                cmocka_unit_test(test_spec_refuses_what_it_cannot_apply),
                DIR_TEST(test_apply_owner_groups_and_mount_order),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
