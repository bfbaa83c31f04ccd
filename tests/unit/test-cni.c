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

#include "cni-conf.h"
#include "cni-quantity.h"
#include "cni-result.h"
#include "cni.h"
#include "fs-util.h"
#include "test-util.h"

#define BRIDGE_LIST                                                                                         \
        "{\"cniVersion\": \"1.0.0\", \"name\": \"net1\", \"plugins\": ["                                    \
        "{\"type\": \"bridge\", \"bridge\": \"br0\", \"ipam\": {\"type\": \"host-local\"}},"                \
        "{\"type\": \"portmap\", \"capabilities\": {\"portMappings\": true}}]}"

static CniNetwork *parse_ok(const char *path, const char *text) {
        CniNetwork *n = NULL;
        Error *err = NULL;
        assert_ok(cni_network_parse(path, text, strlen(text), &n, &err), err);
        return n;
}

static void parse_fails(const char *path, const char *text, const char *message) {
        CniNetwork *n = NULL;
        Error *err = NULL;
        assert_int_equal(cni_network_parse(path, text, strlen(text), &n, &err), -EINVAL);
        assert_null(n);
        assert_contains(err->message, message);
        error_free(err);
}

static void test_conflist_parses(void **state) {
        CniNetwork *n = parse_ok("/etc/cni/net.d/10-a.conflist", BRIDGE_LIST);
        assert_string_equal(n->name, "net1");
        assert_string_equal(n->cni_version, "1.0.0");
        assert_int_equal(n->n_plugins, 2);
        assert_string_equal(cni_network_plugin_type(n, 0), "bridge");
        assert_string_equal(cni_network_plugin_type(n, 1), "portmap");
        assert_false(n->disable_check);
        cni_network_unref(n);
}

static void test_single_conf_becomes_a_list_of_one(void **state) {
        const char *conf =
                "{\"cniVersion\": \"0.3.1\", \"name\": \"old\", \"type\": \"bridge\", \"bridge\": \"b\"}";
        CniNetwork *n = parse_ok("/x/10-old.conf", conf);
        assert_string_equal(n->name, "old");
        assert_int_equal(n->n_plugins, 1);
        assert_string_equal(cni_network_plugin_type(n, 0), "bridge");
        /* The plugin keeps its own keys. */
        json_object *b = NULL;
        assert_true(json_object_object_get_ex(cni_network_plugin(n, 0), "bridge", &b));
        cni_network_unref(n);
        /* .json is the same form as .conf. */
        cni_network_unref(parse_ok("/x/20.json", conf));
}

static void test_invalid_configurations(void **state) {
        parse_fails("a.conflist", "{\"cniVersion\": \"1.0.0\", \"plugins\": [{\"type\": \"bridge\"}]}",
                    "\"name\"");
        parse_fails("a.conflist", "{\"name\": \"n\", \"plugins\": [{\"type\": \"bridge\"}]}", "cniVersion");
        parse_fails("a.conflist",
                    "{\"cniVersion\": \"9.9.9\", \"name\": \"n\", \"plugins\": [{\"type\": \"b\"}]}",
                    "not supported");
        parse_fails("a.conflist", "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": []}",
                    "non-empty");
        parse_fails("a.conflist",
                    "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": [{\"ipam\": {}}]}",
                    "no \"type\"");
        /* A type is an executable's name, never a path out of the plugin dirs. */
        parse_fails(
                "a.conflist",
                "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": [{\"type\": \"../../bin/sh\"}]}",
                "invalid type");
        parse_fails("a.conflist", "{\"cniVersion\": \"1.0.0\", \"name\": \"bad name\", \"plugins\": []}",
                    "name");
        parse_fails("a.conf", "{\"cniVersion\": \"1.0.0\", \"name\": \"n\"}", "no \"type\"");
        parse_fails("a.conflist", "{\"cniVersion\": \"1.0.0\",", "not valid JSON");
        parse_fails("a.conflist", "[1, 2]", "");
}

static void test_versions(void **state) {
        assert_true(cni_version_known("0.3.1"));
        assert_true(cni_version_known("1.0.0"));
        assert_false(cni_version_known("1.1.0"));
        assert_false(cni_version_known(NULL));
        assert_true(cni_version_compare("0.2.0", "0.3.0") < 0);
        assert_true(cni_version_compare("1.0.0", "0.4.0") > 0);
        assert_int_equal(cni_version_compare("0.4.0", "0.4.0"), 0);
}

static void write_at(const char *dir, const char *name, const char *text) {
        char *path = NULL;
        assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0644), 0);
        free(path);
}

static void test_dir_load_order_and_problems(void **state) {
        char dir[] = "/tmp/test-cni-XXXXXX";
        assert_non_null(mkdtemp(dir));
        write_at(dir, "20-second.conflist",
                 "{\"cniVersion\": \"1.0.0\", \"name\": \"second\", \"plugins\": "
                 "[{\"type\": \"loopback\"}]}");
        write_at(dir, "10-first.conf",
                 "{\"cniVersion\": \"0.4.0\", \"name\": \"first\", \"type\": \"bridge\"}");
        write_at(dir, "05-broken.conflist", "{not json");
        write_at(dir, "README.md", "not a configuration");
        CniDir d;
        cni_dir_load(dir, &d);
        assert_int_equal(d.n_nets, 2);
        assert_string_equal(d.nets[0]->name, "first");
        assert_string_equal(d.nets[1]->name, "second");
        assert_int_equal(strv_length(d.problems), 1);
        assert_contains(d.problems[0], "05-broken.conflist");
        assert_ptr_equal(cni_dir_find(&d, ""), d.nets[0]);
        assert_ptr_equal(cni_dir_find(&d, "second"), d.nets[1]);
        assert_null(cni_dir_find(&d, "third"));
        cni_dir_done(&d);
        rm_rf(dir);
        /* A directory that does not exist yet is empty, not a problem. */
        cni_dir_load("/nonexistent/cni/net.d", &d);
        assert_int_equal(d.n_nets, 0);
        assert_int_equal(strv_length(d.problems), 0);
        cni_dir_done(&d);
}

static char **ips_of(const char *version, const char *text) {
        json_object *o = json_tokener_parse(text);
        char **ips = NULL;
        Error *err = NULL;
        assert_ok(cni_result_pod_ips(o, version, &ips, &err), err);
        json_object_put(o);
        return ips;
}

static void test_result_ips_current(void **state) {
        /* Dual stack: host-side (no sandbox) addresses and loopback are not the pod's. */
        char **ips =
                ips_of("1.0.0", "{\"cniVersion\": \"1.0.0\", \"interfaces\": ["
                                "{\"name\": \"cni0\"}, {\"name\": \"eth0\", \"sandbox\": \"/run/ns/x\"}],"
                                "\"ips\": [{\"address\": \"10.88.0.1/16\", \"interface\": 0},"
                                "{\"address\": \"10.88.0.7/16\", \"interface\": 1},"
                                "{\"address\": \"fd00::7/64\", \"interface\": 1},"
                                "{\"address\": \"127.0.0.1/8\"}]}");
        assert_int_equal(strv_length(ips), 2);
        assert_string_equal(ips[0], "10.88.0.7");
        assert_string_equal(ips[1], "fd00::7");
        strv_free(ips);
        ips = ips_of("0.3.1", "{\"ips\": [{\"address\": \"192.168.1.9/24\"}]}");
        assert_string_equal(ips[0], "192.168.1.9");
        strv_free(ips);
        ips = ips_of("1.0.0", "{\"cniVersion\": \"1.0.0\"}");
        assert_int_equal(strv_length(ips), 0);
        strv_free(ips);
}

static void test_result_ips_legacy_and_malformed(void **state) {
        char **ips =
                ips_of("0.2.0", "{\"ip4\": {\"ip\": \"10.1.0.5/16\"}, \"ip6\": {\"ip\": \"fd01::5/64\"}}");
        assert_int_equal(strv_length(ips), 2);
        assert_string_equal(ips[0], "10.1.0.5");
        assert_string_equal(ips[1], "fd01::5");
        strv_free(ips);
        const char *bad[] = {"{\"ips\": {}}", "{\"ips\": [{\"address\": \"10.0.0.1\"}]}", "{\"ips\": [{}]}"};
        for (size_t i = 0; i < 3; i++) {
                json_object *o = json_tokener_parse(bad[i]);
                char **none = NULL;
                Error *err = NULL;
                assert_int_equal(cni_result_pod_ips(o, "1.0.0", &none, &err), -EINVAL);
                assert_null(none);
                error_free(err);
                json_object_put(o);
        }
}

static void test_error_messages(void **state) {
        char *m = cni_error_message("bridge",
                                    "{\"code\": 11, \"msg\": \"failed to allocate\", \"details\": "
                                    "\"range is full\"}",
                                    "", 1 << 8);
        assert_string_equal(m, "plugin bridge failed (code 11): failed to allocate: range is full");
        free(m);
        m = cni_error_message("portmap", "garbage", "line one\nthe reason\n", 2 << 8);
        assert_string_equal(m, "plugin portmap failed (exit status 2): line one\nthe reason");
        free(m);
        m = cni_error_message("x", "", "", 9);
        assert_string_equal(m, "plugin x failed (killed by signal 9)");
        free(m);
}

static void test_plugin_netconf(void **state) {
        CniNetwork *n = parse_ok("a.conflist", BRIDGE_LIST);
        json_object *rc = json_tokener_parse("{\"portMappings\": [{\"hostPort\": 8080}], \"dns\": {}}");
        json_object *prev = json_tokener_parse("{\"cniVersion\": \"1.0.0\", \"ips\": []}");
        /* The bridge declares no capability: it gets no runtimeConfig, but the list's name and version. */
        json_object *c0 = cni_plugin_netconf(n, 0, NULL, rc);
        assert_string_equal(json_object_get_string(json_object_object_get(c0, "name")), "net1");
        assert_string_equal(json_object_get_string(json_object_object_get(c0, "cniVersion")), "1.0.0");
        assert_null(json_object_object_get(c0, "runtimeConfig"));
        assert_null(json_object_object_get(c0, "prevResult"));
        /* portmap declared portMappings: that and only that, plus the previous result. */
        json_object *c1 = cni_plugin_netconf(n, 1, prev, rc);
        json_object *got = json_object_object_get(c1, "runtimeConfig");
        assert_non_null(json_object_object_get(got, "portMappings"));
        assert_null(json_object_object_get(got, "dns"));
        assert_ptr_equal(json_object_object_get(c1, "prevResult"), prev);
        /* The list itself is not changed by building a plugin's configuration. */
        assert_null(json_object_object_get(cni_network_plugin(n, 1), "runtimeConfig"));
        json_object_put(c0);
        json_object_put(c1);
        json_object_put(rc);
        json_object_put(prev);
        cni_network_unref(n);
}

static void test_plugin_find(void **state) {
        char *path = NULL;
        char *dirs[] = {"/nonexistent", "/bin", NULL};
        assert_int_equal(cni_plugin_find(dirs, "sh", &path), 0);
        assert_string_equal(path, "/bin/sh");
        free(path);
        assert_int_equal(cni_plugin_find(dirs, "no-such-plugin", &path), -ENOENT);
}

static void test_quantities(void **state) {
        uint64_t v = 0;
        assert_int_equal(cni_quantity_parse("100", &v), 0);
        assert_int_equal(v, 100);
        assert_int_equal(cni_quantity_parse("10M", &v), 0);
        assert_int_equal(v, 10000000);
        assert_int_equal(cni_quantity_parse("1.5k", &v), 0);
        assert_int_equal(v, 1500);
        assert_int_equal(cni_quantity_parse("2Mi", &v), 0);
        assert_int_equal(v, 2 << 20);
        const char *bad[] = {"", "-1M", "10 M", "10X", "0x10", "M", "inf", "nan", "1e30", "10m"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(cni_quantity_parse(bad[i], &v), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_conflist_parses),
                cmocka_unit_test(test_single_conf_becomes_a_list_of_one),
                cmocka_unit_test(test_invalid_configurations),
                cmocka_unit_test(test_versions),
                cmocka_unit_test(test_dir_load_order_and_problems),
                cmocka_unit_test(test_result_ips_current),
                cmocka_unit_test(test_result_ips_legacy_and_malformed),
                cmocka_unit_test(test_error_messages),
                cmocka_unit_test(test_plugin_netconf),
                cmocka_unit_test(test_plugin_find),
                cmocka_unit_test(test_quantities),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
