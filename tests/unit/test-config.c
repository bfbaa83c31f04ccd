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
#include <json-c/json.h>

#include "config-load.h"
#include "config.h"
#include "strv.h"
#include "toml.h"

/* ---- helpers ---- */

#define assert_strv(l, ...)                                                                                 \
        do {                                                                                                \
                _cleanup_strv_free_ char **_want = strv_split((const char *)(__VA_ARGS__), ',');            \
                char *const *_got = (l);                                                                    \
                assert_non_null(_got);                                                                      \
                assert_int_equal(strv_length(_got), strv_length(_want));                                    \
                for (size_t _i = 0; _want[_i]; _i++)                                                        \
                        assert_string_equal(_got[_i], _want[_i]);                                           \
        } while (0)

static TomlValue *parse_doc(const char *text) {
        _cleanup_error_ Error *err = NULL;
        TomlValue *doc = NULL;
        assert_ok(toml_parse(text, strlen(text), "test.conf", &doc, &err), err);
        assert_non_null(doc);
        return doc;
}

/* Parse `text` (which must be valid TOML) as "test.conf" and apply it to `c`. */
static int apply_text(Config *c, const char *text, char ***warnings, Error **reterr) {
        _cleanup_toml_ TomlValue *doc = parse_doc(text);
        return config_apply_toml(c, doc, "test.conf", warnings, reterr);
}

/* The keys crio-c does not act on still parse; the tests of parsing may use them, and their warning. */
static void assert_only_no_effect_warnings(char *const *warnings) {
        STRV_FOREACH(w, warnings)
                if (!strstr(*w, " has no effect in crio-c ")) {
                        print_error("unexpected warning: %s\n", *w);
                        fail();
                }
}

static Config *config_from_text(const char *text) {
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        Config *c = config_new_default();
        assert_ok(apply_text(c, text, &warnings, &err), err);
        assert_only_no_effect_warnings(warnings);
        return c;
}

static char *config_to_toml_string(const Config *c) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        config_write_toml(c, f);
        assert_int_equal(fclose(f), 0);
        assert_non_null(buf);
        return buf;
}

static const ConfigKey *key_named(const char *table, const char *name) {
        const ConfigKey *k = config_key_find(config_keys, config_keys_count, table, name);
        assert_non_null(k);
        return k;
}

static const ConfigKey *runtime_key_named(const char *name) {
        const ConfigKey *k = config_key_find(runtime_keys, runtime_keys_count, "", name);
        assert_non_null(k);
        return k;
}

static Workload *find_workload(const Config *c, const char *name) {
        for (size_t i = 0; i < c->n_workloads; i++)
                if (strcmp(c->workloads[i]->name, name) == 0)
                        return c->workloads[i];
        return NULL;
}

static const char *map_get(const StrMap *m, const char *key) {
        for (size_t i = 0; i < m->n; i++)
                if (strcmp(m->keys[i], key) == 0)
                        return m->values[i];
        return NULL;
}

static int group_setup(void **state) {
        clear_container_env();
        return 0;
}

/* ---- validation helpers ---- */

/* Apply `text` (which must apply cleanly) and expect config_validate() to refuse it naming `needles`. */
static void expect_invalid(const char *text, const char *needle1, const char *needle2) {
        _cleanup_config_ Config *c = config_from_text(text);
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_non_null(err);
        assert_int_equal(err->code, EINVAL);
        assert_contains(err->message, needle1);
        if (needle2)
                assert_contains(err->message, needle2);
}

static void expect_valid(const char *text) {
        _cleanup_config_ Config *c = config_from_text(text);
        _cleanup_error_ Error *err = NULL;
        assert_ok(config_validate(c, &err), err);
        assert_null(err);
}

/* Apply `text` and expect a type error whose message names all of `needles` (NULL-terminated). */
static void expect_apply_error(const char *text, const char *const *needles) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        assert_int_equal(apply_text(c, text, &warnings, &err), -EINVAL);
        assert_non_null(err);
        for (size_t i = 0; needles[i]; i++)
                assert_contains(err->message, needles[i]);
}

#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ---- defaults ---- */

static void test_default_runtime_handlers(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        assert_string_equal(c->default_runtime, "runc");
        assert_int_equal(c->n_runtimes, 2);
        assert_string_equal(c->runtimes[0]->name, "runc");
        assert_string_equal(c->runtimes[1]->name, "crun");
        assert_string_equal(c->runtimes[0]->runtime_root, "/run/runc");
        assert_string_equal(c->runtimes[1]->runtime_root, "/run/crun");
        assert_string_equal(c->runtimes[0]->runtime_type, "oci");
        assert_string_equal(c->runtimes[0]->runtime_path, "");
        assert_string_equal(c->runtimes[0]->container_min_memory, "12MiB");
        assert_string_equal(c->runtimes[1]->container_min_memory, "500KiB");
        assert_int_equal(c->runtimes[0]->container_create_timeout, 240);
        assert_strv(c->runtimes[0]->monitor_env,
                    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        assert_int_equal(c->runtimes[0]->default_annotations.n, 0);
        assert_ptr_equal(config_find_runtime(c, "runc"), c->runtimes[0]);
        assert_ptr_equal(config_find_runtime(c, "crun"), c->runtimes[1]);
        assert_null(config_find_runtime(c, "kata"));
        assert_int_equal(c->n_workloads, 0);
}

static void test_default_api(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        assert_string_equal(c->listen, "/var/run/crio/crio.sock");
        assert_int_equal(c->grpc_max_send_msg_size, 83886080);
        assert_int_equal(c->grpc_max_recv_msg_size, 83886080);
        assert_string_equal(c->stream_address, "127.0.0.1");
        assert_string_equal(c->stream_port, "0");
        assert_false(c->stream_enable_tls);
        assert_string_equal(c->tls_min_version, "VersionTLS12");
}

static void test_default_runtime_table(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        assert_string_equal(c->log_level, "info");
        assert_string_equal(c->cgroup_manager, "cgroupfs");
        assert_strv(c->default_capabilities,
                    "CHOWN,DAC_OVERRIDE,FSETID,FOWNER,SETGID,SETUID,SETPCAP,NET_BIND_SERVICE,KILL");
        assert_strv(c->cdi_spec_dirs, "/etc/cdi,/var/run/cdi");
        assert_strv(c->allowed_devices, "/dev/fuse,/dev/net/tun");
        assert_false(c->selinux);
        assert_true(c->drop_infra_ctr);
        assert_int_equal(c->ctr_stop_timeout, 30);
        assert_int_equal(c->pids_limit, -1);
        assert_string_equal(c->log_filter, "");
}

static void test_default_other_tables(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        assert_string_equal(c->root, "/var/lib/crio-c");
        assert_string_equal(c->runroot, "/run/crio-c");
        assert_string_equal(c->storage_driver, "overlay");
        assert_true(c->internal_repair);
        assert_string_equal(c->pause_image, "registry.k8s.io/pause:3.10.1");
        assert_string_equal(c->image_volumes, "mkdir");
        assert_string_equal(c->pull_progress_timeout, "0s");
        assert_strv(c->plugin_dirs, "/opt/cni/bin/");
        assert_string_equal(c->network_dir, "/etc/cni/net.d/");
        assert_int_equal(c->metrics_port, 9090);
        assert_true(strv_contains(c->metrics_collectors, "operations_total"));
        assert_true(strv_contains(c->metrics_collectors, "default_runtime"));
        assert_false(c->enable_nri); /* crio-c has no NRI: its default says so */
        assert_string_equal(c->nri_plugin_registration_timeout, "5s");
        assert_false(c->nri_enable_default_validator);
}

static void test_default_empty_arrays_are_lists(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        /* An empty default is an empty list, not NULL, so writers and copies treat it as a value. */
        assert_non_null(c->storage_option);
        assert_int_equal(strv_length(c->storage_option), 0);
        assert_non_null(c->default_env);
        assert_int_equal(strv_length(c->default_env), 0);
}

static void test_default_validates(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        assert_ok(config_validate(c, &err), err);
}

static void test_free_null(void **state) {
        Config *c = NULL;
        assert_null(config_free(NULL));
        config_freep(&c);
        assert_null(c);
}

/* ---- applying TOML: value types ---- */

static void test_apply_string(void **state) {
        _cleanup_config_ Config *c = config_from_text("[crio.runtime]\nlog_level = \"debug\"\n"
                                                      "[crio.api]\nlisten = '/run/literal.sock'\n");
        assert_string_equal(c->log_level, "debug");
        assert_string_equal(c->listen, "/run/literal.sock");
}

static void test_apply_bool(void **state) {
        _cleanup_config_ Config *c =
                config_from_text("[crio.runtime]\nselinux = true\ndrop_infra_ctr = false\n");
        assert_true(c->selinux);
        assert_false(c->drop_infra_ctr);
}

static void test_apply_int(void **state) {
        _cleanup_config_ Config *c =
                config_from_text("[crio.api]\ngrpc_max_send_msg_size = 1_024\n"
                                 "grpc_max_recv_msg_size = -5\n"
                                 "[crio.metrics]\nmetrics_port = 0x2537\n"
                                 "[crio.tracing]\n"
                                 "tracing_sampling_rate_per_million = 9223372036854775807\n");
        assert_int_equal(c->grpc_max_send_msg_size, 1024);
        assert_int_equal(c->grpc_max_recv_msg_size, -5);
        assert_int_equal(c->metrics_port, 0x2537);
        assert_true(c->tracing_sampling_rate_per_million == INT64_MAX);
}

static void test_apply_string_array(void **state) {
        _cleanup_config_ Config *c = config_from_text("[crio.runtime]\n"
                                                      "default_capabilities = [\"CHOWN\", \"KILL\",]\n"
                                                      "default_env = [\n  \"A=1\",\n  'B=2',\n]\n"
                                                      "hooks_dir = []\n");
        assert_strv(c->default_capabilities, "CHOWN,KILL");
        assert_strv(c->default_env, "A=1,B=2");
        assert_non_null(c->hooks_dir);
        assert_int_equal(strv_length(c->hooks_dir), 0);
}

static void test_apply_string_map_inline(void **state) {
        _cleanup_config_ Config *c = config_from_text(
                "[crio.runtime.runtimes.runc]\n"
                "default_annotations = { \"io.example/b\" = \"2\", a = \"1\", \"x.y\" = \"3\" }\n");
        const StrMap *m = &c->runtimes[0]->default_annotations;
        assert_int_equal(m->n, 3);
        /* Insertion order is kept. */
        assert_string_equal(m->keys[0], "io.example/b");
        assert_string_equal(m->values[0], "2");
        assert_string_equal(m->keys[1], "a");
        assert_string_equal(m->values[1], "1");
        assert_string_equal(m->keys[2], "x.y");
        assert_string_equal(m->values[2], "3");
}

static void test_apply_string_map_subtable(void **state) {
        _cleanup_config_ Config *c = config_from_text("[crio.runtime.runtimes.crun.platform_runtime_paths]\n"
                                                      "\"linux/amd64\" = \"/usr/bin/crun-amd64\"\n"
                                                      "\"linux/arm64\" = \"/usr/bin/crun-arm64\"\n");
        const StrMap *m = &config_find_runtime(c, "crun")->platform_runtime_paths;
        assert_int_equal(m->n, 2);
        assert_string_equal(map_get(m, "linux/amd64"), "/usr/bin/crun-amd64");
        assert_string_equal(map_get(m, "linux/arm64"), "/usr/bin/crun-arm64");
        assert_int_equal(config_find_runtime(c, "runc")->platform_runtime_paths.n, 0);
}

static void test_apply_map_replaces_whole_value(void **state) {
        _cleanup_config_ Config *c = config_from_text(
                "[crio.runtime.runtimes.runc]\ndefault_annotations = { a = \"1\", b = \"2\" }\n");
        _cleanup_error_ Error *err = NULL;
        /* "Every key present replaces the current value": a map is one value. */
        assert_ok(apply_text(c, "[crio.runtime.runtimes.runc]\ndefault_annotations = { c = \"3\" }\n", NULL,
                             &err),
                  err);
        const StrMap *m = &c->runtimes[0]->default_annotations;
        assert_int_equal(m->n, 1);
        assert_string_equal(map_get(m, "c"), "3");
        assert_null(map_get(m, "a"));
}

static void test_apply_dotted_and_inline_forms(void **state) {
        _cleanup_config_ Config *c = config_from_text("crio.runtime.log_level = \"warn\"\n"
                                                      "crio.api = { listen = \"/run/inline.sock\" }\n"
                                                      "crio.image.pause_image = \"example.com/pause:1\"\n");
        _cleanup_config_ Config *d =
                config_from_text("[crio]\nruntime = { selinux = true, log_level = \"error\" }\n");
        assert_string_equal(c->log_level, "warn");
        assert_string_equal(c->listen, "/run/inline.sock");
        assert_string_equal(c->pause_image, "example.com/pause:1");
        assert_true(d->selinux);
        assert_string_equal(d->log_level, "error");
}

static void test_apply_nested_known_table(void **state) {
        _cleanup_config_ Config *c = config_from_text("[crio.nri]\nenable_nri = true\n"
                                                      "[crio.nri.default_validator]\n"
                                                      "nri_enable_default_validator = true\n"
                                                      "nri_validator_required_plugins = [\"p1\"]\n");
        assert_true(c->enable_nri);
        assert_true(c->nri_enable_default_validator);
        assert_strv(c->nri_validator_required_plugins, "p1");
}

static void test_apply_empty_document(void **state) {
        _cleanup_config_ Config *c = config_from_text("# nothing but a comment\n");
        _cleanup_config_ Config *d = config_new_default();
        _cleanup_free_ char *a = config_to_toml_string(c);
        _cleanup_free_ char *b = config_to_toml_string(d);
        assert_string_equal(a, b);
}

static void test_apply_unicode_string(void **state) {
        _cleanup_config_ Config *c =
                config_from_text("[crio.runtime]\ntimezone = \"\\u00e9\\U0001F600 caf\xc3\xa9\"\n");
        assert_string_equal(c->timezone, "\xc3\xa9\xf0\x9f\x98\x80 caf\xc3\xa9");
}

/* ---- applying TOML: wrong types ---- */

static void test_wrong_type_string(void **state) {
        expect_apply_error("[crio.runtime]\nlog_level = 5\n",
                           NEEDLES("test.conf:2:13", "crio.runtime.log_level", "string", "integer"));
}

static void test_wrong_type_bool(void **state) {
        expect_apply_error("[crio.runtime]\nselinux = \"true\"\n",
                           NEEDLES("test.conf:2:", "crio.runtime.selinux", "boolean"));
}

static void test_wrong_type_int(void **state) {
        expect_apply_error("\n[crio.metrics]\nmetrics_port = 9090.0\n",
                           NEEDLES("test.conf:3:16", "crio.metrics.metrics_port", "integer", "float"));
}

static void test_wrong_type_array_given_string(void **state) {
        expect_apply_error("[crio.runtime]\nhooks_dir = \"/etc/hooks\"\n",
                           NEEDLES("test.conf:2:", "crio.runtime.hooks_dir", "array"));
}

static void test_wrong_type_array_with_non_string(void **state) {
        expect_apply_error("[crio.runtime]\ndefault_capabilities = [\"CHOWN\", 1]\n",
                           NEEDLES("test.conf:2:", "crio.runtime.default_capabilities"));
}

static void test_wrong_type_map_value(void **state) {
        expect_apply_error("[crio.runtime.runtimes.runc]\ndefault_annotations = { a = 1 }\n",
                           NEEDLES("test.conf:2:", "crio.runtime.runtimes.runc.default_annotations"));
}

static void test_wrong_type_map_given_string(void **state) {
        expect_apply_error("[crio.runtime.runtimes.runc]\ndefault_annotations = \"a=1\"\n",
                           NEEDLES("test.conf:2:", "crio.runtime.runtimes.runc.default_annotations"));
}

static void test_wrong_type_runtime_key(void **state) {
        expect_apply_error("[crio.runtime.runtimes.runc]\nruntime_root = true\n",
                           NEEDLES("test.conf:2:", "crio.runtime.runtimes.runc.runtime_root", "boolean"));
}

static void test_wrong_type_workload_key(void **state) {
        expect_apply_error("[crio.runtime.workloads.w]\nactivation_annotation = 1\n",
                           NEEDLES("test.conf:2:", "crio.runtime.workloads.w.activation_annotation"));
}

static void test_wrong_type_workload_resource(void **state) {
        expect_apply_error("[crio.runtime.workloads.w.resources]\ncpushares = \"512\"\n",
                           NEEDLES("test.conf:2:", "crio.runtime.workloads.w.resources.cpushares"));
}

static void test_wrong_type_string_with_nul(void **state) {
        /* A C string cannot hold U+0000; accepting it would silently truncate the value. */
        expect_apply_error("[crio.runtime]\nlog_level = \"in\\u0000fo\"\n",
                           NEEDLES("test.conf:2:", "crio.runtime.log_level"));
}

static void test_wrong_type_table_for_string(void **state) {
        expect_apply_error("[crio.runtime.log_level]\nx = \"y\"\n",
                           NEEDLES("crio.runtime.log_level", "table"));
}

static void test_wrong_type_crio_not_table(void **state) {
        expect_apply_error("crio = 1\n", NEEDLES("test.conf:1:", "crio", "table"));
}

static void test_wrong_type_runtimes_not_table(void **state) {
        expect_apply_error("[crio.runtime]\nruntimes = [\"runc\"]\n",
                           NEEDLES("test.conf:2:", "crio.runtime.runtimes", "table"));
}

static void test_wrong_type_handler_not_table(void **state) {
        expect_apply_error("[crio.runtime.runtimes]\nmyrt = \"/usr/bin/myrt\"\n",
                           NEEDLES("test.conf:2:", "crio.runtime.runtimes.myrt", "table"));
}

static void test_wrong_type_workload_not_table(void **state) {
        expect_apply_error("[crio.runtime.workloads]\nw = 1\n",
                           NEEDLES("test.conf:2:", "crio.runtime.workloads.w", "table"));
}

/* ---- applying TOML: unknown keys ---- */

static void test_unknown_key_warns(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        assert_ok(apply_text(c, "[crio.runtime]\nnope = 1\nlog_level = \"warn\"\n", &warnings, &err), err);
        assert_strv(warnings, "test.conf:2: unknown key crio.runtime.nope");
        /* The unknown key does not stop the rest of the table. */
        assert_string_equal(c->log_level, "warn");
}

/* A key CRI-O has and crio-c does not act on warns where a file changes it, and only there. */
static void test_no_effect_key_warns(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        assert_ok(apply_text(c,
                             "[crio.runtime]\n"
                             "log_level = \"warn\"\n"
                             "shared_cpuset = \"0-1\"\n"
                             "selinux = false\n"
                             "[crio.runtime.runtimes.runc]\n"
                             "monitor_exec_cgroup = \"container\"\n"
                             "[crio.runtime.workloads.w]\n"
                             "resources = { cpushares = 512 }\n",
                             &warnings, &err),
                  err);
        /* selinux = false is its default: nothing changes, nothing to say. log_level has an effect. */
        assert_strv(warnings,
                    "test.conf:3: crio.runtime.shared_cpuset has no effect in crio-c (accepted for "
                    "compatibility with CRI-O),"
                    "test.conf:6: crio.runtime.runtimes.runc.monitor_exec_cgroup has no effect in crio-c "
                    "(accepted for compatibility with CRI-O),"
                    "test.conf:8: crio.runtime.workloads.w.resources.cpushares has no effect in crio-c "
                    "(accepted for compatibility with CRI-O)");
        assert_string_equal(c->shared_cpuset, "0-1");
}

static void test_parse_size(void **state) {
        static const struct {
                const char *text;
                int64_t bytes;
        } good[] = {
                {"0", 0},
                {"4096", 4096},
                {"12MiB", 12 << 20},
                {"500KiB", 500 << 10},
                {"12m", 12 << 20},
                {"12MB", 12 << 20},
                {"1g", 1 << 30},
                {"7b", 7},
                {"8388607TiB", INT64_C(8388607) << 40},
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                int64_t n = -1;
                assert_int_equal(parse_size(good[i].text, &n), 0);
                assert_int_equal(n, good[i].bytes);
        }
        static const char *const bad[] = {"",       "MiB", "-1",     "+5",   " 5",
                                          "12 MiB", "12x", "12MiBs", "12iB", "1.5g"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int64_t n = 0;
                assert_int_equal(parse_size(bad[i], &n), -EINVAL);
        }
        int64_t n = 0;
        assert_int_equal(parse_size("8388608TiB", &n), -ERANGE);
        assert_int_equal(parse_size("99999999999999999999", &n), -ERANGE);
}

static void test_parse_device(void **state) {
        static const char *const good[][4] = {
                {"/dev/fuse", "/dev/fuse", "/dev/fuse", "rwm"},
                {"/dev/sdc:/dev/xvdc", "/dev/sdc", "/dev/xvdc", "rwm"},
                {"/dev/sdc:rw", "/dev/sdc", "/dev/sdc", "rw"},
                {"/dev/sdc:/dev/xvdc:r", "/dev/sdc", "/dev/xvdc", "r"},
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *host = NULL, *ctr = NULL, *perms = NULL;
                assert_int_equal(config_parse_device(good[i][0], &host, &ctr, &perms), 0);
                assert_string_equal(host, good[i][1]);
                assert_string_equal(ctr, good[i][2]);
                assert_string_equal(perms, good[i][3]);
        }
        static const char *const bad[] = {"",
                                          "dev/fuse",
                                          "/dev/a:dev/b",
                                          "/dev/a:/dev/b:rwx",
                                          "/dev/a:/dev/b:",
                                          "/dev/a:/dev/b:r:w",
                                          "/dev/a:x"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *host = NULL, *ctr = NULL, *perms = NULL;
                assert_int_equal(config_parse_device(bad[i], &host, &ctr, &perms), -EINVAL);
                assert_null(host);
        }
        _cleanup_config_ Config *c =
                config_from_text("[crio.runtime]\nadditional_devices = [\"/dev/a:rwx\"]\n");
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_non_null(strstr(err->message, "crio.runtime.additional_devices"));
}

static void test_timezone_file(void **state) {
        static const char *const good[][2] = {
                {"Local", "/etc/localtime"},
                {"local", "/etc/localtime"},
                {"UTC", "/usr/share/zoneinfo/UTC"},
                {"Europe/Paris", "/usr/share/zoneinfo/Europe/Paris"},
                {"Etc/GMT+5", "/usr/share/zoneinfo/Etc/GMT+5"},
                {"America/Port-au-Prince", "/usr/share/zoneinfo/America/Port-au-Prince"},
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                _cleanup_free_ char *path = NULL;
                assert_int_equal(config_timezone_file(good[i][0], &path), 0);
                assert_string_equal(path, good[i][1]);
        }
        char *none = (char *)"x";
        assert_int_equal(config_timezone_file("", &none), 0);
        assert_null(none);
        static const char *const bad[] = {
                "/etc/passwd", "../../etc/passwd", "Europe/../../x", "a b", "a\nb", "Europe/Paris;x", ".."};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char *path = NULL;
                assert_int_equal(config_timezone_file(bad[i], &path), -EINVAL);
                assert_null(path);
        }
}

/* A name that is not a zone, or a zone this node has no file for, stops the daemon naming the key. */
static void test_validate_timezone(void **state) {
        static const char *const bad[] = {"../etc/passwd", "Nowhere/Atlantis"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *text = xasprintf("[crio.runtime]\ntimezone = \"%s\"\n", bad[i]);
                _cleanup_config_ Config *c = config_from_text(text);
                _cleanup_error_ Error *err = NULL;
                assert_int_equal(config_validate(c, &err), -EINVAL);
                assert_non_null(strstr(err->message, "crio.runtime.timezone"));
                assert_non_null(strstr(err->message, bad[i]));
        }
        _cleanup_config_ Config *local = config_from_text("[crio.runtime]\ntimezone = \"Local\"\n");
        _cleanup_error_ Error *err = NULL;
        if (access("/etc/localtime", F_OK) == 0)
                assert_ok(config_validate(local, &err), err);
}

/* monitor_cgroup: "pod" or empty with cgroupfs, as CRI-O; the deprecated conmon_cgroup fills it in. */
static void test_monitor_cgroup(void **state) {
        _cleanup_config_ Config *slice =
                config_from_text("[crio.runtime.runtimes.runc]\nmonitor_cgroup = \"system.slice\"\n");
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(config_validate(slice, &err), -EINVAL);
        assert_contains(err->message, "crio.runtime.runtimes.runc.monitor_cgroup");
        error_free(TAKE_PTR(err));
        _cleanup_config_ Config *systemd = config_from_text(
                "[crio.runtime]\ncgroup_manager = \"systemd\"\n[crio.runtime.runtimes.runc]\nmonitor_cgroup "
                "= \"system.slice\"\n");
        assert_ok(config_validate(systemd, &err), err);
        _cleanup_config_ Config *pod =
                config_from_text("[crio.runtime.runtimes.runc]\nmonitor_cgroup = \"pod\"\n");
        assert_ok(config_validate(pod, &err), err);
}

static void test_cpu_list(void **state) {
        static const char *const good[] = {"0", "0-1", "0-1,4", "3,1", "0-0", "8191"};
        static const char *const bad[] = {"",   ",",  "0,",    ",0",  "1-0",  "a",
                                          "0-", "-1", "0-1-2", "0 1", "8192", "+1"};
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                assert_true(config_cpu_list_valid(good[i]));
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_false(config_cpu_list_valid(bad[i]));
        _cleanup_config_ Config *c = config_from_text("[crio.runtime]\ninfra_ctr_cpuset = \"0-x\"\n");
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_contains(err->message, "crio.runtime.infra_ctr_cpuset");
}

static void test_mounts_file_parse(void **state) {
        MountsFileEntry *m = NULL;
        size_t n = 0;
        _cleanup_error_ Error *err = NULL;
        assert_ok(mounts_file_parse(
                          "# secrets\n\n/usr/share/rhel/secrets:/run/secrets\n  /a : /b \nskipped\n/same\n",
                          "f", &m, &n, &err),
                  err);
        assert_int_equal(n, 3);
        assert_string_equal(m[2].source, "/same");
        assert_string_equal(m[2].destination, "/same");
        assert_string_equal(m[0].source, "/usr/share/rhel/secrets");
        assert_string_equal(m[0].destination, "/run/secrets");
        assert_string_equal(m[1].source, "/a");
        assert_string_equal(m[1].destination, "/b");
        mounts_file_free(m, n);
        assert_ok(mounts_file_parse("", "f", &m, &n, &err), err);
        assert_int_equal(n, 0);
        mounts_file_free(m, n);
        static const char *const bad[] = {"/a:b\n",     "/a:/b:/c\n", "/a:/\n", "/a/../x:/b\n",
                                          "/a:/b/..\n", "/:\n",       "/\n"};
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *text = xasprintf("/ok:/ok\n%s", bad[i]);
                m = NULL;
                assert_int_equal(mounts_file_parse(text, "/etc/mounts.conf", &m, &n, &err), -EINVAL);
                assert_null(m);
                assert_non_null(strstr(err->message, "/etc/mounts.conf:2:"));
                error_free(TAKE_PTR(err));
        }
}

static void test_validate_size_key(void **state) {
        _cleanup_config_ Config *c =
                config_from_text("[crio.runtime.runtimes.runc]\ncontainer_min_memory = \"lots\"\n");
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_non_null(strstr(err->message, "crio.runtime.runtimes.runc.container_min_memory"));
        assert_non_null(strstr(err->message, "lots"));
}

static void test_unknown_top_level_tables(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        assert_ok(apply_text(c, "title = \"x\"\n[other]\nx = 1\n[crio.api]\nlisten = \"/a\"\n", &warnings,
                             &err),
                  err);
        assert_strv(warnings, "test.conf:1: unknown key title,test.conf:2: unknown key other");
        assert_string_equal(c->listen, "/a");
}

static void test_unknown_subtable(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        assert_ok(apply_text(c, "[crio.bogus]\nx = 1\n", &warnings, &err), err);
        assert_strv(warnings, "test.conf:1: unknown key crio.bogus");
}

static void test_unknown_key_in_wrong_table(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        /* log_level belongs to [crio.runtime]; in [crio] it is unknown and must not be applied. */
        assert_ok(apply_text(c, "[crio]\nlog_level = \"debug\"\n", &warnings, &err), err);
        assert_strv(warnings, "test.conf:2: unknown key crio.log_level");
        assert_string_equal(c->log_level, "info");
}

static void test_unknown_runtime_and_workload_keys(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        assert_ok(apply_text(c,
                             "[crio.runtime.runtimes.runc]\nnope = 1\n"
                             "[crio.runtime.workloads.w]\nnada = 2\n"
                             "[crio.runtime.workloads.w.resources]\nnix = 3\n",
                             &warnings, &err),
                  err);
        assert_strv(warnings, "test.conf:2: unknown key crio.runtime.runtimes.runc.nope,"
                              "test.conf:4: unknown key crio.runtime.workloads.w.nada,"
                              "test.conf:6: unknown key crio.runtime.workloads.w.resources.nix");
}

static void test_unknown_key_without_warning_list(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        assert_ok(apply_text(c, "[crio.runtime]\nnope = 1\nselinux = true\n", NULL, &err), err);
        assert_true(c->selinux);
}

/* ---- runtime handlers and workloads ---- */

static void test_runtime_handler_added_with_defaults(void **state) {
        _cleanup_config_ Config *c = config_from_text("[crio.runtime.runtimes.myrt]\n"
                                                      "runtime_path = \"/usr/local/bin/myrt\"\n"
                                                      "runtime_type = \"vm\"\n");
        assert_int_equal(c->n_runtimes, 3);
        assert_string_equal(c->runtimes[0]->name, "runc");
        assert_string_equal(c->runtimes[1]->name, "crun");
        RuntimeHandler *h = c->runtimes[2];
        assert_ptr_equal(config_find_runtime(c, "myrt"), h);
        assert_string_equal(h->name, "myrt");
        assert_string_equal(h->runtime_path, "/usr/local/bin/myrt");
        assert_string_equal(h->runtime_type, "vm");
        /* Keys the table does not set have the handler defaults, not runc's built-in root. */
        assert_string_equal(h->runtime_root, "");
        assert_string_equal(h->container_min_memory, "12MiB");
        assert_int_equal(h->container_create_timeout, 240);
        assert_strv(h->monitor_env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        assert_false(h->inherit_default_runtime);
}

static void test_runtime_handler_empty_table(void **state) {
        _cleanup_config_ Config *c = config_from_text("[crio.runtime.runtimes.kata]\n");
        assert_int_equal(c->n_runtimes, 3);
        assert_non_null(config_find_runtime(c, "kata"));
        assert_string_equal(config_find_runtime(c, "kata")->runtime_type, "oci");
}

static void test_runtime_handler_quoted_name(void **state) {
        _cleanup_config_ Config *c =
                config_from_text("[crio.runtime.runtimes.\"my.rt v2\"]\nruntime_root = \"/x\"\n");
        RuntimeHandler *h = config_find_runtime(c, "my.rt v2");
        assert_non_null(h);
        assert_string_equal(h->runtime_root, "/x");
}

static void test_runtime_handler_merge_per_key(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        assert_ok(apply_text(c, "[crio.runtime.runtimes.runc]\nruntime_path = \"/opt/runc\"\n", NULL, &err),
                  err);
        assert_int_equal(c->n_runtimes, 2);
        assert_string_equal(c->runtimes[0]->runtime_path, "/opt/runc");
        assert_string_equal(c->runtimes[0]->runtime_root, "/run/runc");
        assert_string_equal(c->runtimes[1]->runtime_root, "/run/crun");
}

static void test_runtime_handler_added_then_extended(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        assert_ok(
                apply_text(c,
                           "[crio.runtime.runtimes.myrt]\nruntime_path = \"/a\"\nmonitor_cgroup = \"pod\"\n",
                           NULL, &err),
                err);
        assert_ok(apply_text(c, "[crio.runtime.runtimes.myrt]\nruntime_path = \"/b\"\n", NULL, &err), err);
        assert_int_equal(c->n_runtimes, 3);
        RuntimeHandler *h = config_find_runtime(c, "myrt");
        assert_non_null(h);
        assert_string_equal(h->runtime_path, "/b");
        assert_string_equal(h->monitor_cgroup, "pod");
}

static void test_workload_added(void **state) {
        _cleanup_config_ Config *c =
                config_from_text("[crio.runtime.workloads.management]\n"
                                 "activation_annotation = \"target.workload.openshift.io/management\"\n"
                                 "allowed_annotations = [\"io.kubernetes.cri-o.userns-mode\"]\n"
                                 "[crio.runtime.workloads.management.resources]\n"
                                 "cpushares = 1024\n"
                                 "cpuset = \"0-1\"\n");
        assert_int_equal(c->n_workloads, 1);
        Workload *w = c->workloads[0];
        assert_string_equal(w->name, "management");
        assert_string_equal(w->activation_annotation, "target.workload.openshift.io/management");
        assert_string_equal(w->annotation_prefix, "");
        assert_strv(w->allowed_annotations, "io.kubernetes.cri-o.userns-mode");
        assert_int_equal(w->cpushares, 1024);
        assert_string_equal(w->cpuset, "0-1");
        assert_int_equal(w->cpuquota, 0);
        assert_int_equal(w->cpulimit, 0);
}

static void test_workload_inline_resources(void **state) {
        _cleanup_config_ Config *c = config_from_text(
                "[crio.runtime.workloads.w]\nresources = { cpuquota = 5000, cpuperiod = 10000 }\n");
        Workload *w = find_workload(c, "w");
        assert_non_null(w);
        assert_int_equal(w->cpuquota, 5000);
        assert_int_equal(w->cpuperiod, 10000);
}

static void test_workload_merge(void **state) {
        _cleanup_config_ Config *c =
                config_from_text("[crio.runtime.workloads.a]\nannotation_prefix = \"p\"\n"
                                 "[crio.runtime.workloads.a.resources]\ncpushares = 2\n"
                                 "[crio.runtime.workloads.b]\n");
        _cleanup_error_ Error *err = NULL;
        assert_ok(apply_text(c, "[crio.runtime.workloads.a.resources]\ncpuset = \"3\"\n", NULL, &err), err);
        assert_int_equal(c->n_workloads, 2);
        Workload *a = find_workload(c, "a");
        assert_non_null(a);
        assert_non_null(find_workload(c, "b"));
        assert_string_equal(a->annotation_prefix, "p");
        assert_int_equal(a->cpushares, 2);
        assert_string_equal(a->cpuset, "3");
}

/* ---- merge order ---- */

static void test_merge_later_document_wins_per_key(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        assert_ok(apply_text(c,
                             "[crio]\nroot = \"/a/root\"\n"
                             "[crio.runtime]\nlog_level = \"debug\"\nselinux = true\n"
                             "default_capabilities = [\"CHOWN\"]\n",
                             NULL, &err),
                  err);
        assert_ok(apply_text(c,
                             "[crio.runtime]\nlog_level = \"error\"\ndefault_capabilities = []\n"
                             "[crio.api]\nlisten = \"/b.sock\"\n",
                             NULL, &err),
                  err);
        assert_string_equal(c->log_level, "error");
        assert_int_equal(strv_length(c->default_capabilities), 0);
        assert_string_equal(c->listen, "/b.sock");
        /* Keys only in the first document survive the second. */
        assert_string_equal(c->root, "/a/root");
        assert_true(c->selinux);
}

/* ---- validation ---- */

static void test_validate_bad_log_level(void **state) {
        expect_invalid("[crio.runtime]\nlog_level = \"loud\"\n", "crio.runtime.log_level", "loud");
}

static void test_validate_bad_cgroup_manager(void **state) {
        expect_invalid("[crio.runtime]\ncgroup_manager = \"bogus\"\n", "crio.runtime.cgroup_manager",
                       "bogus");
}

static void test_validate_bad_image_volumes(void **state) {
        expect_invalid("[crio.image]\nimage_volumes = \"x\"\n", "crio.image.image_volumes", "'x'");
}

static void test_validate_choice_is_exact(void **state) {
        /* A prefix or a superstring of an allowed value is not allowed. */
        expect_invalid("[crio.image]\nimage_volumes = \"mkdi\"\n", "crio.image.image_volumes", NULL);
        expect_invalid("[crio.image]\nimage_volumes = \"mkdirs\"\n", "crio.image.image_volumes", NULL);
        expect_invalid("[crio.image]\nimage_volumes = \"\"\n", "crio.image.image_volumes", NULL);
}

static void test_validate_bad_runtime_type(void **state) {
        expect_invalid("[crio.runtime.runtimes.myrt]\nruntime_type = \"docker\"\n",
                       "crio.runtime.runtimes.myrt.runtime_type", "docker");
}

static void test_validate_bad_duration(void **state) {
        expect_invalid("[crio.image]\npull_progress_timeout = \"5 parsecs\"\n",
                       "crio.image.pull_progress_timeout", "5 parsecs");
}

static void test_validate_bad_duration_other_tables(void **state) {
        expect_invalid("[crio.api]\nstream_idle_timeout = \"10\"\n", "crio.api.stream_idle_timeout", NULL);
        expect_invalid("[crio.nri]\nnri_plugin_request_timeout = \"2 s\"\n",
                       "crio.nri.nri_plugin_request_timeout", NULL);
}

static void test_validate_bad_log_filter(void **state) {
        expect_invalid("[crio.runtime]\nlog_filter = \"(\"\n", "crio.runtime.log_filter", NULL);
}

static void test_validate_missing_default_runtime(void **state) {
        expect_invalid("[crio.runtime]\ndefault_runtime = \"kata\"\n", "crio.runtime.default_runtime",
                       "kata");
}

static void test_validate_relative_listen(void **state) {
        expect_invalid("[crio.api]\nlisten = \"run/crio.sock\"\n", "crio.api.listen", "run/crio.sock");
        expect_invalid("[crio.api]\nlisten = \"\"\n", "crio.api.listen", NULL);
}

static void test_validate_relative_root(void **state) {
        expect_invalid("[crio]\nroot = \"var/lib\"\n", "crio.root", NULL);
        expect_invalid("[crio]\nrunroot = \"run\"\n", "crio.runroot", NULL);
}

static void test_validate_stream_port_not_number(void **state) {
        expect_invalid("[crio.api]\nstream_port = \"abc\"\n", "crio.api.stream_port", "abc");
        expect_invalid("[crio.api]\nstream_port = \"\"\n", "crio.api.stream_port", NULL);
        expect_invalid("[crio.api]\nstream_port = \"80x\"\n", "crio.api.stream_port", "80x");
}

static void test_validate_stream_port_out_of_range(void **state) {
        expect_invalid("[crio.api]\nstream_port = \"70000\"\n", "crio.api.stream_port", "70000");
        expect_invalid("[crio.api]\nstream_port = \"-1\"\n", "crio.api.stream_port", NULL);
}

static void test_validate_metrics_port_out_of_range(void **state) {
        expect_invalid("[crio.metrics]\nmetrics_port = 70000\n", "crio.metrics.metrics_port", "70000");
        expect_invalid("[crio.metrics]\nmetrics_port = -1\n", "crio.metrics.metrics_port", NULL);
}

static void test_validate_good_configs(void **state) {
        const char *levels[] = {"trace", "debug", "info", "warn", "warning", "error", "fatal", "panic"};
        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                _cleanup_free_ char *text = xasprintf("[crio.runtime]\nlog_level = \"%s\"\n", levels[i]);
                expect_valid(text);
        }
        expect_valid("[crio.runtime]\ncgroup_manager = \"systemd\"\ndefault_runtime = \"crun\"\n"
                     "log_filter = \"^(sandbox|container) [a-z]+$\"\n"
                     "[crio.image]\nimage_volumes = \"bind\"\npull_progress_timeout = \"1m30s\"\n"
                     "[crio.api]\nstream_port = \"65535\"\nstream_idle_timeout = \"4h\"\n"
                     "[crio.metrics]\nmetrics_port = 65535\n");
        expect_valid("[crio.api]\nstream_port = \"0\"\n[crio.metrics]\nmetrics_port = 0\n"
                     "[crio.runtime.runtimes.kata]\nruntime_type = \"vm\"\nexec_cpu_affinity = \"first\"\n"
                     "[crio.runtime]\ndefault_runtime = \"kata\"\n");
}

/* ---- durations ---- */

static void expect_duration(const char *s, int64_t want) {
        int64_t ns = 42;
        int r = parse_duration(s, &ns);
        if (r < 0)
                print_error("parse_duration(\"%s\") failed: %d\n", s, r);
        assert_int_equal(r, 0);
        if (ns != want)
                print_error("parse_duration(\"%s\") = %lld, want %lld\n", s, (long long)ns, (long long)want);
        assert_true(ns == want);
}

static void expect_bad_duration(const char *s) {
        int64_t ns = 42;
        int r = parse_duration(s, &ns);
        if (r != -EINVAL)
                print_error("parse_duration(\"%s\") = %d (ns %lld), want -EINVAL\n", s, r, (long long)ns);
        assert_int_equal(r, -EINVAL);
        /* The out-parameter is written only on success. */
        assert_true(ns == 42);
}

static void test_duration_zero(void **state) {
        expect_duration("0", 0);
        expect_duration("0s", 0);
        expect_duration("-0", 0);
}

static void test_duration_units(void **state) {
        expect_duration("2ns", 2);
        expect_duration("3us", 3000);
        expect_duration("3\xc2\xb5s", 3000);
        expect_duration("300ms", 300000000);
        expect_duration("5s", 5000000000LL);
        expect_duration("2m", 120000000000LL);
        expect_duration("1h", 3600000000000LL);
}

static void test_duration_compound(void **state) {
        expect_duration("1h2m3.5s", 3723500000000LL);
        expect_duration("1m30s", 90000000000LL);
        expect_duration("1s500ms", 1500000000LL);
}

static void test_duration_fraction(void **state) {
        expect_duration("1.5h", 5400000000000LL);
        expect_duration(".5s", 500000000);
        expect_duration("0.25m", 15000000000LL);
}

static void test_duration_sign(void **state) {
        expect_duration("-5s", -5000000000LL);
        expect_duration("+5s", 5000000000LL);
        expect_duration("-1m30s", -90000000000LL);
}

static void test_duration_exact(void **state) {
        /* Integer arithmetic: a double sum would give 1000999999 and 64999. */
        expect_duration("1.001s", 1001000000LL);
        expect_duration("0.000065s", 65000);
        expect_duration("9223372036854775807ns", INT64_MAX);
        expect_duration("1.0000000000000000001s", 1000000000LL);
}

static void test_duration_overflow(void **state) {
        int64_t ns = 42;
        assert_int_equal(parse_duration("9223372036854775808ns", &ns), -ERANGE);
        assert_int_equal(parse_duration("-9223372036854775808ns", &ns), -ERANGE);
        assert_int_equal(parse_duration("3000000h", &ns), -ERANGE);
        assert_int_equal(parse_duration("99999999999999999999s", &ns), -ERANGE);
        assert_true(ns == 42);
}

static void test_duration_rejects_go_invalid_numbers(void **state) {
        expect_bad_duration("1e3s");
        expect_bad_duration("0x10s");
        expect_bad_duration(" 5s");
}

static void test_nul_in_array_and_map_rejected(void **state) {
        expect_apply_error("[crio.runtime]\ndefault_env = [\"A=1\\u0000B=2\"]\n",
                           NEEDLES("crio.runtime.default_env", "array of strings"));
        expect_apply_error("[crio.runtime.runtimes.runc]\ndefault_annotations = { a = \"x\\u0000y\" }\n",
                           NEEDLES("default_annotations", "table of strings"));
}

static void test_known_table_given_plain_value(void **state) {
        expect_apply_error("[crio]\napi = 5\n", NEEDLES("crio.api", "must be a table"));
        expect_apply_error("[crio]\nruntime = \"x\"\n", NEEDLES("crio.runtime", "must be a table"));
        expect_apply_error("[crio.runtime.workloads.w]\nresources = 5\n",
                           NEEDLES("crio.runtime.workloads.w.resources", "must be a table"));
}

static void test_validate_stream_port_strict(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        free(c->stream_port);
        c->stream_port = xstrdup(" 80");
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_contains(err->message, "crio.api.stream_port");
        err = error_free(err);
        free(c->stream_port);
        c->stream_port = xstrdup("+80");
        assert_int_equal(config_validate(c, &err), -EINVAL);
}

static void test_set_int_rejects_leading_blank(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        const ConfigKey *k = config_key_find(config_keys, config_keys_count, "crio.metrics", "metrics_port");
        assert_int_equal(config_set_from_string(c, k, " 42", NULL), -EINVAL);
        assert_int_equal(config_set_from_string(c, k, "-1", NULL), 0);
}

static void test_duration_invalid(void **state) {
        expect_bad_duration("");
        expect_bad_duration("5");
        expect_bad_duration("5x");
        expect_bad_duration("s");
        expect_bad_duration("-");
        expect_bad_duration("5 s");
        expect_bad_duration(" 5s");
        expect_bad_duration("5s ");
        expect_bad_duration("1h-5m");
        expect_bad_duration("5S");
        expect_bad_duration("1.2.3s");
}

static void test_duration_null(void **state) {
        int64_t ns = 42;
        assert_int_equal(parse_duration(NULL, &ns), -EINVAL);
        assert_true(ns == 42);
}

/* ---- grpc sizes ---- */

static void test_grpc_sizes(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        assert_int_equal(config_grpc_max_send(c), 83886080);
        assert_int_equal(config_grpc_max_recv(c), 83886080);
        c->grpc_max_send_msg_size = 1024;
        c->grpc_max_recv_msg_size = 4096;
        assert_int_equal(config_grpc_max_send(c), 1024);
        assert_int_equal(config_grpc_max_recv(c), 4096);
}

static void test_grpc_sizes_nonpositive(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        c->grpc_max_send_msg_size = 0;
        c->grpc_max_recv_msg_size = -1;
        assert_int_equal(config_grpc_max_send(c), 83886080);
        assert_int_equal(config_grpc_max_recv(c), 83886080);
        c->grpc_max_send_msg_size = INT64_MIN;
        assert_int_equal(config_grpc_max_send(c), 83886080);
}

static void test_grpc_sizes_too_large(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        c->grpc_max_send_msg_size = (int64_t)INT32_MAX + 1;
        c->grpc_max_recv_msg_size = INT32_MAX;
        assert_int_equal(config_grpc_max_send(c), 83886080);
        assert_int_equal(config_grpc_max_recv(c), INT32_MAX);
}

/* ---- writing TOML ---- */

/* Write `c`, read it back onto fresh defaults and write again: the two texts must be identical. */
static Config *roundtrip(const Config *c) {
        _cleanup_free_ char *first = config_to_toml_string(c);
        _cleanup_config_ Config *back = config_from_text(first);
        _cleanup_free_ char *second = config_to_toml_string(back);
        assert_string_equal(first, second);
        return TAKE_PTR(back);
}

static void test_write_roundtrip_default(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_config_ Config *back = roundtrip(c);
        assert_int_equal(back->n_runtimes, 2);
        assert_int_equal(back->n_workloads, 0);
}

static const char custom_config[] =
        "[crio]\n"
        "root = \"/var/lib/with \\\"quotes\\\" and \\\\backslash\"\n"
        "storage_option = []\n"
        "[crio.api]\n"
        "listen = \"/run/x.sock\"\n"
        "grpc_max_send_msg_size = -9223372036854775808\n"
        "[crio.runtime]\n"
        "default_capabilities = []\n"
        "default_env = [\"A=1\", \"B=line\\nbreak\", \"C=tab\\there\", \"D=\\u00e9\\u2603\\U0001F600\", "
        "\"E=\\\"q\\\"\"]\n"
        "pinns_path = \"ctl\\u0001\\u001f\\u007f\\b\\f\\r end\"\n"
        "log_level = \"debug\"\n"
        "selinux = true\n"
        "[crio.runtime.runtimes.myrt]\n"
        "runtime_path = \"/opt/my rt/bin\"\n"
        "default_annotations = { \"io.example/a\" = \"1\", plain = \"two\", \"\" = \"empty key\", "
        "\"q\\\"k\" = \"v\\\\\" }\n"
        "platform_runtime_paths = { \"linux/amd64\" = \"/bin/a\" }\n"
        "allowed_annotations = []\n"
        "monitor_env = []\n"
        "[crio.runtime.runtimes.\"dotted.name\"]\n"
        "runtime_type = \"vm\"\n"
        "[crio.runtime.workloads.management]\n"
        "activation_annotation = \"target.workload.openshift.io/management\"\n"
        "allowed_annotations = [\"io.kubernetes.cri-o.userns-mode\"]\n"
        "[crio.runtime.workloads.management.resources]\n"
        "cpushares = 1024\n"
        "cpuset = \"0-3\"\n"
        "cpuquota = -1\n"
        "[crio.runtime.workloads.\"second one\"]\n"
        "[crio.metrics]\n"
        "metrics_port = 9537\n"
        "[crio.tracing]\n"
        "tracing_sampling_rate_per_million = 9223372036854775807\n";

static void test_write_roundtrip_custom(void **state) {
        _cleanup_config_ Config *c = config_from_text(custom_config);
        _cleanup_config_ Config *back = roundtrip(c);

        assert_string_equal(back->root, "/var/lib/with \"quotes\" and \\backslash");
        assert_int_equal(strv_length(back->storage_option), 0);
        assert_int_equal(strv_length(back->default_capabilities), 0);
        assert_strv(back->default_env,
                    "A=1,B=line\nbreak,C=tab\there,D=\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80,E=\"q\"");
        assert_string_equal(back->pinns_path, "ctl\x01\x1f\x7f\b\f\r end");
        assert_string_equal(back->log_level, "debug");
        assert_true(back->selinux);
        assert_true(back->grpc_max_send_msg_size == INT64_MIN);
        assert_true(back->tracing_sampling_rate_per_million == INT64_MAX);
        assert_int_equal(back->metrics_port, 9537);

        assert_int_equal(back->n_runtimes, 4);
        assert_string_equal(back->runtimes[2]->name, "myrt");
        assert_string_equal(back->runtimes[3]->name, "dotted.name");
        RuntimeHandler *h = back->runtimes[2];
        assert_string_equal(h->runtime_path, "/opt/my rt/bin");
        assert_int_equal(h->default_annotations.n, 4);
        assert_string_equal(h->default_annotations.keys[0], "io.example/a");
        assert_string_equal(map_get(&h->default_annotations, ""), "empty key");
        assert_string_equal(map_get(&h->default_annotations, "q\"k"), "v\\");
        assert_string_equal(map_get(&h->platform_runtime_paths, "linux/amd64"), "/bin/a");
        assert_int_equal(strv_length(h->monitor_env), 0);
        assert_string_equal(back->runtimes[3]->runtime_type, "vm");

        assert_int_equal(back->n_workloads, 2);
        Workload *w = back->workloads[0];
        assert_string_equal(w->name, "management");
        assert_string_equal(w->activation_annotation, "target.workload.openshift.io/management");
        assert_strv(w->allowed_annotations, "io.kubernetes.cri-o.userns-mode");
        assert_int_equal(w->cpushares, 1024);
        assert_int_equal(w->cpuquota, -1);
        assert_string_equal(w->cpuset, "0-3");
        assert_string_equal(back->workloads[1]->name, "second one");
}

static void test_write_roundtrip_set_directly(void **state) {
        /* Values that never came from TOML: every byte a C string can hold except invalid UTF-8. */
        _cleanup_config_ Config *c = config_new_default();
        char all[128];
        for (int i = 1; i < 128; i++)
                all[i - 1] = (char)i;
        all[127] = '\0';
        free(c->timezone);
        c->timezone = xstrdup(all);
        c->default_sysctls = strv_push(c->default_sysctls, xstrdup("net.ipv4.ip_forward=1"));
        _cleanup_config_ Config *back = roundtrip(c);
        assert_string_equal(back->timezone, all);
        assert_strv(back->default_sysctls, "net.ipv4.ip_forward=1");
}

static void test_write_escapes(void **state) {
        _cleanup_config_ Config *c = config_from_text(custom_config);
        _cleanup_free_ char *text = config_to_toml_string(c);
        assert_contains(text, "root = \"/var/lib/with \\\"quotes\\\" and \\\\backslash\"\n");
        assert_contains(text, "\"B=line\\nbreak\"");
        assert_contains(text, "[crio.runtime.runtimes.\"dotted.name\"]\n");
        assert_contains(text, "[crio.runtime.workloads.management.resources]\n");
        /* Control characters are escaped: the raw bytes would make the file invalid TOML. */
        assert_null(strchr(text, '\x01'));
        assert_null(strchr(text, '\x7f'));
        assert_null(strchr(text, '\r'));
}

static void test_write_layout(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_free_ char *text = config_to_toml_string(c);
        assert_contains(text, "\n[crio]\n");
        assert_contains(text, "\n[crio.api]\n");
        assert_contains(text, "listen = \"/var/run/crio/crio.sock\"\n");
        assert_contains(text, "log_level = \"info\"\n");
        assert_contains(text, "grpc_max_send_msg_size = 83886080\n");
        assert_contains(text, "selinux = false\n");
        assert_contains(text, "storage_option = []\n");
        assert_contains(text, "default_capabilities = [\n        \"CHOWN\",\n");
        assert_contains(text, "[crio.runtime.runtimes.runc]\n");
        assert_contains(text, "runtime_root = \"/run/runc\"\n");
        assert_contains(text, "default_annotations = {}\n");
        assert_contains(text, "# Reloaded on SIGHUP.\nlog_level");
        assert_contains(text, "# (deprecated) ");
        /* Handlers are printed inside [crio.runtime], before the next top-level table. */
        const char *runc = strstr(text, "[crio.runtime.runtimes.runc]");
        const char *image = strstr(text, "\n[crio.image]\n");
        assert_non_null(image);
        assert_true(runc < image);
        assert_true(strstr(text, "\n[crio.runtime]\n") < runc);
}

/* ---- JSON ---- */

static json_object *json_get(json_object *o, const char *const *path) {
        for (size_t i = 0; path[i]; i++) {
                json_object *next = NULL;
                if (!json_object_object_get_ex(o, path[i], &next)) {
                        print_error("JSON has no '%s'\n", path[i]);
                        fail();
                }
                o = next;
        }
        return o;
}

#define JPATH(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_json_listen_and_runc(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        json_object *j = config_to_json(c);
        assert_non_null(j);
        json_object *listen = json_get(j, JPATH("crio", "api", "listen"));
        assert_true(json_object_is_type(listen, json_type_string));
        assert_string_equal(json_object_get_string(listen), "/var/run/crio/crio.sock");
        json_object *runc = json_get(j, JPATH("crio", "runtime", "runtimes", "runc"));
        assert_true(json_object_is_type(runc, json_type_object));
        assert_string_equal(json_object_get_string(json_get(runc, JPATH("runtime_root"))), "/run/runc");
        assert_non_null(json_get(j, JPATH("crio", "runtime", "runtimes", "crun")));
        assert_string_equal(json_object_get_string(json_get(j, JPATH("crio", "root"))), "/var/lib/crio-c");
        json_object_put(j);
}

static void test_json_types(void **state) {
        _cleanup_config_ Config *c = config_from_text(custom_config);
        json_object *j = config_to_json(c);
        json_object *v = json_get(j, JPATH("crio", "api", "grpc_max_recv_msg_size"));
        assert_true(json_object_is_type(v, json_type_int));
        assert_int_equal(json_object_get_int64(v), 83886080);
        v = json_get(j, JPATH("crio", "runtime", "selinux"));
        assert_true(json_object_is_type(v, json_type_boolean));
        assert_true(json_object_get_boolean(v));
        v = json_get(j, JPATH("crio", "runtime", "default_env"));
        assert_true(json_object_is_type(v, json_type_array));
        assert_int_equal(json_object_array_length(v), 5);
        assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), "B=line\nbreak");
        v = json_get(j, JPATH("crio", "runtime", "runtimes", "myrt", "default_annotations"));
        assert_true(json_object_is_type(v, json_type_object));
        assert_string_equal(json_object_get_string(json_get(v, JPATH("q\"k"))), "v\\");
        v = json_get(j, JPATH("crio", "nri", "default_validator", "nri_enable_default_validator"));
        assert_true(json_object_is_type(v, json_type_boolean));
        json_object_put(j);
}

static void test_json_workloads(void **state) {
        _cleanup_config_ Config *c = config_from_text(custom_config);
        json_object *j = config_to_json(c);
        json_object *w = json_get(j, JPATH("crio", "runtime", "workloads", "management"));
        assert_string_equal(json_object_get_string(json_get(w, JPATH("activation_annotation"))),
                            "target.workload.openshift.io/management");
        assert_int_equal(json_object_get_int64(json_get(w, JPATH("resources", "cpushares"))), 1024);
        assert_string_equal(json_object_get_string(json_get(w, JPATH("resources", "cpuset"))), "0-3");
        /* Resource keys live only under "resources". */
        assert_false(json_object_object_get_ex(w, "cpushares", NULL));
        json_object_put(j);
}

/* ---- single values ---- */

static void test_value_to_string(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_free_ char *s = config_value_to_string(c, key_named("crio.runtime", "log_level"));
        _cleanup_free_ char *b = config_value_to_string(c, key_named("crio.runtime", "selinux"));
        _cleanup_free_ char *i = config_value_to_string(c, key_named("crio.metrics", "metrics_port"));
        _cleanup_free_ char *n = config_value_to_string(c, key_named("crio.runtime", "pids_limit"));
        _cleanup_free_ char *e = config_value_to_string(c, key_named("crio", "storage_option"));
        _cleanup_free_ char *l = config_value_to_string(c, key_named("crio.network", "plugin_dirs"));
        _cleanup_free_ char *m =
                config_value_to_string(c->runtimes[0], runtime_key_named("default_annotations"));
        assert_string_equal(s, "\"info\"");
        assert_string_equal(b, "false");
        assert_string_equal(i, "9090");
        assert_string_equal(n, "-1");
        assert_string_equal(e, "[]");
        assert_string_equal(l, "[\n        \"/opt/cni/bin/\",\n]");
        assert_string_equal(m, "{}");
}

static void test_value_to_string_escapes_and_maps(void **state) {
        _cleanup_config_ Config *c =
                config_from_text("[crio.runtime]\ntimezone = \"a\\\"b\"\n"
                                 "[crio.runtime.runtimes.runc]\n"
                                 "default_annotations = { a = \"1\", \"b c\" = \"2\" }\n");
        _cleanup_free_ char *s = config_value_to_string(c, key_named("crio.runtime", "timezone"));
        _cleanup_free_ char *m =
                config_value_to_string(c->runtimes[0], runtime_key_named("default_annotations"));
        assert_string_equal(s, "\"a\\\"b\"");
        assert_string_equal(m, "{ a = \"1\", \"b c\" = \"2\" }");
}

static void test_copy_value(void **state) {
        _cleanup_config_ Config *src =
                config_from_text("[crio.runtime]\nlog_level = \"debug\"\nselinux = true\n"
                                 "default_env = [\"A=1\"]\npids_limit = 100\n"
                                 "[crio.runtime.runtimes.runc]\n"
                                 "default_annotations = { a = \"1\" }\n");
        _cleanup_config_ Config *dst = config_from_text("[crio.runtime.runtimes.runc]\n"
                                                        "default_annotations = { old = \"x\" }\n");
        const char *names[] = {"log_level", "selinux", "default_env", "pids_limit"};
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const ConfigKey *k = key_named("crio.runtime", names[i]);
                config_copy_value(dst, src, k);
                _cleanup_free_ char *a = config_value_to_string(src, k);
                _cleanup_free_ char *b = config_value_to_string(dst, k);
                assert_string_equal(a, b);
        }
        config_copy_value(dst->runtimes[0], src->runtimes[0], runtime_key_named("default_annotations"));
        /* The copy is deep and replaces the old value entirely. */
        src->log_level[0] = 'X';
        src->default_env[0][0] = 'X';
        src->runtimes[0]->default_annotations.values[0][0] = 'X';
        assert_string_equal(dst->log_level, "debug");
        assert_strv(dst->default_env, "A=1");
        assert_true(dst->selinux);
        assert_int_equal(dst->pids_limit, 100);
        assert_int_equal(dst->runtimes[0]->default_annotations.n, 1);
        assert_string_equal(map_get(&dst->runtimes[0]->default_annotations, "a"), "1");
}

static void test_set_from_string(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        _cleanup_error_ Error *err = NULL;
        assert_ok(config_set_from_string(c, key_named("crio.runtime", "log_level"), "debug", &err), err);
        assert_ok(config_set_from_string(c, key_named("crio.runtime", "selinux"), "true", &err), err);
        assert_ok(config_set_from_string(c, key_named("crio.runtime", "drop_infra_ctr"), "0", &err), err);
        assert_ok(config_set_from_string(c, key_named("crio.metrics", "metrics_port"), "-42", &err), err);
        assert_ok(config_set_from_string(c, key_named("crio.runtime", "hooks_dir"), "/a,,/b,", &err), err);
        assert_string_equal(c->log_level, "debug");
        assert_true(c->selinux);
        assert_false(c->drop_infra_ctr);
        assert_int_equal(c->metrics_port, -42);
        assert_strv(c->hooks_dir, "/a,/b");
}

static void test_set_from_string_errors(void **state) {
        _cleanup_config_ Config *c = config_new_default();
        Error *err = NULL;
        assert_int_equal(config_set_from_string(c, key_named("crio.runtime", "selinux"), "yes", &err),
                         -EINVAL);
        assert_contains(err->message, "selinux");
        assert_contains(err->message, "yes");
        err = error_free(err);
        assert_int_equal(config_set_from_string(c, key_named("crio.metrics", "metrics_port"), "90x", &err),
                         -EINVAL);
        assert_contains(err->message, "metrics_port");
        err = error_free(err);
        assert_int_equal(config_set_from_string(c, key_named("crio.metrics", "metrics_port"), "", &err),
                         -EINVAL);
        err = error_free(err);
        assert_int_equal(config_set_from_string(c, key_named("crio.metrics", "metrics_port"),
                                                "99999999999999999999", &err),
                         -EINVAL);
        err = error_free(err);
        assert_int_equal(config_set_from_string(c->runtimes[0], runtime_key_named("default_annotations"),
                                                "a=b", &err),
                         -EINVAL);
        assert_contains(err->message, "default_annotations");
        err = error_free(err);
        assert_false(c->selinux);
        assert_int_equal(c->metrics_port, 9090);
}

static void test_key_find(void **state) {
        const ConfigKey *k = config_key_find(config_keys, config_keys_count, "crio.runtime", "log_level");
        assert_non_null(k);
        assert_string_equal(k->name, "log_level");
        assert_int_equal(k->type, CT_STRING);
        assert_string_equal(k->def, "info");
        assert_true(k->flags & CK_RELOAD);
        assert_null(config_key_find(config_keys, config_keys_count, "crio", "log_level"));
        assert_null(config_key_find(config_keys, config_keys_count, "crio.runtime", "nope"));
        assert_non_null(config_key_find(runtime_keys, runtime_keys_count, "", "runtime_root"));
        assert_non_null(config_key_find(workload_keys, workload_keys_count, "resources", "cpuset"));
        assert_null(config_key_find(workload_keys, workload_keys_count, "", "cpuset"));
}

static void test_key_tables_are_consistent(void **state) {
        /* Every key has a doc and a default its type accepts; a duplicate name in a table would shadow. */
        for (size_t i = 0; i < config_keys_count; i++) {
                const ConfigKey *k = &config_keys[i];
                assert_non_null(k->doc);
                assert_true(strlen(k->doc) > 0);
                assert_ptr_equal(config_key_find(config_keys, config_keys_count, k->table, k->name), k);
                if (k->choices && k->type == CT_STRING) {
                        _cleanup_free_ char *pattern = xasprintf("|%s|", k->choices);
                        _cleanup_free_ char *needle = xasprintf("|%s|", k->def);
                        assert_contains(pattern, needle);
                }
        }
}

/* ---- config_load ---- */

typedef struct TmpDir {
        char *path;
        char *conf;   /* <path>/crio.conf */
        char *dropin; /* <path>/crio.conf.d */
} TmpDir;

static int tmpdir_setup(void **state) {
        char templ[] = "/tmp/crio-c-test-config-XXXXXX";
        clear_container_env();
        if (!mkdtemp(templ))
                return -1;
        TmpDir *t = xcalloc(1, sizeof(*t));
        t->path = xstrdup(templ);
        t->conf = xasprintf("%s/crio.conf", templ);
        t->dropin = xasprintf("%s/crio.conf.d", templ);
        if (mkdir(t->dropin, 0755) < 0)
                return -1;
        *state = t;
        return 0;
}

static int tmpdir_teardown(void **state) {
        TmpDir *t = *state;
        clear_container_env();
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
        assert_int_equal(fputs(content, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
}

static ConfigSources sources_for(const TmpDir *t, bool path_set) {
        return (ConfigSources){.config_path = xstrdup(t->conf),
                               .config_path_set = path_set,
                               .config_dir = xstrdup(t->dropin)};
}

static void test_load_main_and_dropins_in_order(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, true);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;

        write_file(t->conf, NULL, "[crio.runtime]\nlog_level = \"warn\"\npinns_path = \"/main\"\n");
        /* Written out of order: the drop-ins are applied by name, not by creation or readdir order. */
        write_file(t->dropin, "02.conf", "[crio.runtime]\nlog_level = \"error\"\n");
        write_file(t->dropin, "10.conf", "[crio.runtime]\nselinux = true\n");
        write_file(t->dropin, "01.conf", "[crio.runtime]\nlog_level = \"debug\"\n[crio]\nroot = \"/r1\"\n");
        assert_ok(config_load(&s, &c, &warnings, &err), err);
        assert_non_null(c);
        assert_string_equal(c->log_level, "error");
        assert_string_equal(c->root, "/r1");
        assert_string_equal(c->pinns_path, "/main");
        assert_true(c->selinux);
        /* selinux is one of the keys crio-c does not act on: set, it warns where. */
        _cleanup_free_ char *want = xasprintf("%s/10.conf:2: crio.runtime.selinux has no effect in crio-c "
                                              "(accepted for compatibility with CRI-O)",
                                              t->dropin);
        assert_strv(warnings, want);
}

static void test_load_dropin_handlers_merge(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;

        write_file(t->conf, NULL, "[crio.runtime.runtimes.kata]\nruntime_path = \"/usr/bin/kata\"\n");
        write_file(t->dropin, "01.conf",
                   "[crio.runtime]\ndefault_runtime = \"kata\"\n"
                   "[crio.runtime.runtimes.kata]\nruntime_type = \"vm\"\n"
                   "[crio.runtime.runtimes.runc]\nruntime_path = \"/opt/runc\"\n");
        assert_ok(config_load(&s, &c, NULL, &err), err);
        RuntimeHandler *kata = config_find_runtime(c, "kata");
        assert_non_null(kata);
        assert_string_equal(kata->runtime_path, "/usr/bin/kata");
        assert_string_equal(kata->runtime_type, "vm");
        assert_string_equal(config_find_runtime(c, "runc")->runtime_path, "/opt/runc");
        assert_string_equal(config_find_runtime(c, "runc")->runtime_root, "/run/runc");
        assert_string_equal(c->default_runtime, "kata");
}

static void test_load_missing_main_allowed(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        write_file(t->dropin, "01.conf", "[crio.runtime]\nlog_level = \"debug\"\n");
        assert_ok(config_load(&s, &c, NULL, &err), err);
        assert_string_equal(c->log_level, "debug");
        assert_string_equal(c->listen, "/var/run/crio/crio.sock");
}

static void test_load_missing_main_required(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, true);
        Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(config_load(&s, &c, NULL, &err), -ENOENT);
        assert_null(c);
        assert_non_null(err);
        assert_int_equal(err->code, ENOENT);
        assert_contains(err->message, t->conf);
}

static void test_load_missing_dropin_dir(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        free(s.config_dir);
        s.config_dir = xasprintf("%s/does-not-exist", t->path);
        write_file(t->conf, NULL, "[crio.runtime]\nlog_level = \"warn\"\n");
        assert_ok(config_load(&s, &c, NULL, &err), err);
        assert_string_equal(c->log_level, "warn");
}

static void test_load_dropin_dir_is_file(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        free(s.config_dir);
        s.config_dir = xstrdup(t->conf);
        write_file(t->conf, NULL, "[crio.runtime]\nlog_level = \"warn\"\n");
        assert_int_equal(config_load(&s, &c, NULL, &err), -ENOTDIR);
        assert_null(c);
        assert_contains(err->message, t->conf);
}

static void test_load_no_sources(void **state) {
        ConfigSources s = {0};
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        assert_ok(config_load(&s, &c, NULL, &err), err);
        assert_string_equal(c->log_level, "info");
        assert_int_equal(c->n_runtimes, 2);
}

static void test_load_ignores_hidden_and_subdirs(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_free_ char *sub = xasprintf("%s/05.conf", t->dropin);

        /* Either of these, if read, would fail the load. */
        write_file(t->dropin, ".x.conf", "this is = = not toml\n");
        assert_int_equal(mkdir(sub, 0755), 0);
        write_file(sub, "inner.conf", "[crio.runtime]\nlog_level = 5\n");
        write_file(t->dropin, "01.conf", "[crio.runtime]\nlog_level = \"trace\"\n");
        assert_ok(config_load(&s, &c, &warnings, &err), err);
        assert_string_equal(c->log_level, "trace");
        assert_int_equal(strv_length(warnings), 0);
}

static void test_load_dropin_syntax_error(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        write_file(t->dropin, "01.conf", "[crio.runtime]\nlog_level = \"debug\"\n");
        write_file(t->dropin, "02.conf", "[crio.runtime]\nlog_level = = \"x\"\n");
        assert_int_equal(config_load(&s, &c, NULL, &err), -EINVAL);
        assert_null(c);
        assert_non_null(err);
        _cleanup_free_ char *where = xasprintf("%s/02.conf:2:", t->dropin);
        assert_contains(err->message, where);
}

static void test_load_dropin_type_error(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        write_file(t->dropin, "01.conf", "[crio.api]\n\nlisten = 1\n");
        assert_int_equal(config_load(&s, &c, NULL, &err), -EINVAL);
        assert_null(c);
        _cleanup_free_ char *where = xasprintf("%s/01.conf:3:10", t->dropin);
        assert_contains(err->message, where);
        assert_contains(err->message, "crio.api.listen");
}

static void test_load_main_syntax_error(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        /* A main file that exists must parse even when its path was not given explicitly. */
        write_file(t->conf, NULL, "[crio\n");
        assert_int_equal(config_load(&s, &c, NULL, &err), -EINVAL);
        assert_null(c);
        assert_contains(err->message, t->conf);
}

static void test_load_validation_error(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        write_file(t->dropin, "01.conf", "[crio.runtime]\ncgroup_manager = \"bogus\"\n");
        assert_int_equal(config_load(&s, &c, NULL, &err), -EINVAL);
        assert_null(c);
        assert_contains(err->message, "crio.runtime.cgroup_manager");
}

static void test_load_unknown_key_warning_names_file(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        write_file(t->conf, NULL, "[crio.runtime]\nlog_level = \"warn\"\nnope = true\n");
        write_file(t->dropin, "01.conf", "[crio.image]\n\n\nnada = 1\n");
        assert_ok(config_load(&s, &c, &warnings, &err), err);
        _cleanup_free_ char *w1 = xasprintf("%s:3: unknown key crio.runtime.nope", t->conf);
        _cleanup_free_ char *w2 = xasprintf("%s/01.conf:4: unknown key crio.image.nada", t->dropin);
        assert_int_equal(strv_length(warnings), 2);
        assert_string_equal(warnings[0], w1);
        assert_string_equal(warnings[1], w2);
}

static void test_load_env_beats_files(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        write_file(t->conf, NULL, "[crio.runtime]\nlog_level = \"warn\"\n");
        write_file(t->dropin, "01.conf", "[crio.runtime]\nlog_level = \"error\"\nselinux = false\n");
        assert_int_equal(setenv("CONTAINER_LOG_LEVEL", "debug", 1), 0);
        assert_int_equal(setenv("CONTAINER_SELINUX", "true", 1), 0);
        assert_int_equal(setenv("CONTAINER_DEFAULT_CAPABILITIES", "CHOWN,KILL", 1), 0);
        assert_int_equal(setenv("CONTAINER_CNI_CONFIG_DIR", "/env/net.d", 1), 0);
        assert_ok(config_load(&s, &c, NULL, &err), err);
        assert_string_equal(c->log_level, "debug");
        assert_true(c->selinux);
        assert_strv(c->default_capabilities, "CHOWN,KILL");
        assert_string_equal(c->network_dir, "/env/net.d");
}

static void test_load_no_effect_warnings_name_their_source(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        write_file(t->conf, NULL, "[crio.runtime]\nlog_level = \"warn\"\n");
        assert_int_equal(setenv("CONTAINER_SELINUX", "true", 1), 0);
        assert_int_equal(setenv("CONTAINER_LOG_LEVEL", "debug", 1), 0);
        assert_ok(config_load(&s, &c, &warnings, &err), err);
        assert_strv(warnings,
                    "environment variable CONTAINER_SELINUX: crio.runtime.selinux has no effect in "
                    "crio-c (accepted for compatibility with CRI-O)");
        assert_true(c->selinux);
}

/* CRI-O's global conmon keys still reach the handlers that leave theirs unset. */
static void test_load_deprecated_conmon_keys(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        write_file(t->conf, NULL,
                   "[crio.runtime]\nconmon = \"/opt/bin/conmon\"\nconmon_env = [\"PATH=/opt/bin\"]\n"
                   "conmon_cgroup = \"pod\"\n"
                   "[crio.runtime.runtimes.own]\nmonitor_path = \"/usr/bin/conmon\"\n"
                   "monitor_env = [\"PATH=/bin\"]\n");
        assert_ok(config_load(&s, &c, NULL, &err), err);
        const RuntimeHandler *runc = config_find_runtime(c, "runc"), *own = config_find_runtime(c, "own");
        assert_string_equal(runc->monitor_path, "/opt/bin/conmon");
        assert_strv(runc->monitor_env, "PATH=/opt/bin");
        assert_string_equal(own->monitor_path, "/usr/bin/conmon");
        assert_strv(own->monitor_env, "PATH=/bin");
        assert_string_equal(runc->monitor_cgroup, "pod");
        assert_string_equal(own->monitor_cgroup, "pod");
}

/* A handler with inherit_default_runtime runs the default's binary with its state root. */
static void test_load_inherit_default_runtime(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        write_file(
                t->conf, NULL,
                "[crio.runtime.runtimes.runc]\nruntime_path = \"/opt/bin/runc\"\n"
                "[crio.runtime.runtimes.fuse]\ninherit_default_runtime = true\nruntime_path = \"/nowhere\"\n"
                "allowed_annotations = [\"devices.crio.io\"]\n"
                "[crio.runtime.runtimes.own]\nruntime_path = \"/usr/bin/crun\"\n");
        assert_ok(config_load(&s, &c, NULL, &err), err);
        const RuntimeHandler *fuse = config_find_runtime(c, "fuse"), *own = config_find_runtime(c, "own");
        assert_string_equal(fuse->runtime_path, "/opt/bin/runc");
        assert_string_equal(fuse->runtime_root, config_find_runtime(c, "runc")->runtime_root);
        assert_strv(fuse->allowed_annotations, "devices.crio.io"); /* its own */
        assert_string_equal(own->runtime_path, "/usr/bin/crun");
}

static void test_load_env_bad_value(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(setenv("CONTAINER_SELINUX", "maybe", 1), 0);
        assert_int_equal(config_load(&s, &c, NULL, &err), -EINVAL);
        assert_null(c);
        assert_contains(err->message, "CONTAINER_SELINUX");
        assert_contains(err->message, "maybe");
}

static void test_load_env_value_validated(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(setenv("CONTAINER_LOG_LEVEL", "loud", 1), 0);
        assert_int_equal(config_load(&s, &c, NULL, &err), -EINVAL);
        assert_null(c);
        assert_contains(err->message, "crio.runtime.log_level");
}

static void test_load_override_beats_env(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        write_file(t->dropin, "01.conf", "[crio.runtime]\nlog_level = \"error\"\n");
        assert_int_equal(setenv("CONTAINER_LOG_LEVEL", "debug", 1), 0);
        config_sources_add_override(&s, key_named("crio.runtime", "log_level"), "warn");
        assert_ok(config_load(&s, &c, NULL, &err), err);
        assert_string_equal(c->log_level, "warn");
}

static void test_load_override_bad_value(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        config_sources_add_override(&s, key_named("crio.metrics", "metrics_port"), "ninety");
        assert_int_equal(config_load(&s, &c, NULL, &err), -EINVAL);
        assert_null(c);
        assert_contains(err->message, "--metrics-port");
        assert_contains(err->message, "ninety");
}

static void test_override_array_joins(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, false);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        const ConfigKey *caps = key_named("crio.runtime", "default_capabilities");
        const ConfigKey *level = key_named("crio.runtime", "log_level");

        config_sources_add_override(&s, caps, "CHOWN");
        config_sources_add_override(&s, level, "debug");
        config_sources_add_override(&s, caps, "KILL");
        config_sources_add_override(&s, level, "error");
        assert_int_equal(s.n_overrides, 2);
        assert_ptr_equal(s.overrides[0].key, caps);
        assert_string_equal(s.overrides[0].value, "CHOWN,KILL");
        /* A repeated scalar flag: the last one wins. */
        assert_ptr_equal(s.overrides[1].key, level);
        assert_string_equal(s.overrides[1].value, "error");

        write_file(t->conf, NULL, "[crio.runtime]\ndefault_capabilities = [\"SYS_ADMIN\"]\n");
        assert_ok(config_load(&s, &c, NULL, &err), err);
        assert_strv(c->default_capabilities, "CHOWN,KILL");
        assert_string_equal(c->log_level, "error");
}

static void test_load_sample_files(void **state) {
        ConfigSources s = {
                .config_path = (char *)TEST_DATA_DIR "/unit/data/crio.conf",
                .config_path_set = true,
                .config_dir = (char *)TEST_DATA_DIR "/unit/data/crio.conf.d",
        };
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        assert_ok(config_load(&s, &c, &warnings, &err), err);
        assert_only_no_effect_warnings(warnings);
        /* storage_option, 2 handler keys (one an annotation crio-c does not act on), 4 workload keys */
        assert_int_equal(strv_length(warnings), 7);
        assert_string_equal(c->root, "/var/lib/containers/storage");
        assert_strv(c->storage_option, "overlay.mountopt=nodev");
        assert_string_equal(c->stream_port, "10010");
        assert_int_equal(config_grpc_max_send(c), 16777216);
        assert_string_equal(c->default_runtime, "crun");
        assert_string_equal(c->cgroup_manager, "systemd");
        /* Set to "warn" by crio.conf, then to "debug" by crio.conf.d/10-debug.conf. */
        assert_string_equal(c->log_level, "debug");
        assert_strv(c->default_capabilities, "CHOWN,KILL,NET_BIND_SERVICE");
        RuntimeHandler *crun = config_find_runtime(c, "crun");
        assert_string_equal(crun->runtime_path, "/usr/bin/crun");
        assert_string_equal(crun->runtime_root, "/run/crun");
        RuntimeHandler *kata = config_find_runtime(c, "kata");
        assert_non_null(kata);
        assert_string_equal(kata->runtime_type, "vm");
        assert_string_equal(
                map_get(&kata->default_annotations, "io.katacontainers.config.hypervisor.default_memory"),
                "1024");
        Workload *w = find_workload(c, "management");
        assert_non_null(w);
        assert_int_equal(w->cpushares, 512);
        assert_string_equal(w->cpuset, "0-1");
        assert_string_equal(c->pull_progress_timeout, "10m");
        assert_strv(c->plugin_dirs, "/opt/cni/bin/,/usr/libexec/cni/");
        assert_true(c->enable_metrics);
        assert_int_equal(c->metrics_port, 9537);
}

/* What `crio config --default` writes on a CRI-O 1.26 node loads: only unknown keys warn. */
static void test_load_crio_1_26_default(void **state) {
        ConfigSources s = {
                .config_path = (char *)TEST_DATA_DIR "/unit/data/crio-1.26-default.conf",
                .config_path_set = true,
        };
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        assert_ok(config_load(&s, &c, &warnings, &err), err);
        /* The keys it sets to other values than crio-c's, where crio-c does not act on them, are named. */
        static const char *const no_effect[] = {
                "13: crio.version_file_persist",
                ("112: crio.runtime.runtimes.runc.allowed_annotations: annotation "
                 "io.containers.trace-syscall"),
                "172: crio.tracing.tracing_endpoint",
        };
        const char *file = TEST_DATA_DIR "/unit/data/crio-1.26-default.conf";
        assert_int_equal(strv_length(warnings), 1 + ELEMENTSOF(no_effect));
        _cleanup_free_ char *unknown =
                xasprintf("%s:43: unknown key crio.runtime.seccomp_use_default_when_empty", file);
        assert_string_equal(warnings[1], unknown);
        for (size_t i = 0; i < ELEMENTSOF(no_effect); i++) {
                _cleanup_free_ char *want =
                        xasprintf("%s:%s has no effect in crio-c (accepted for compatibility with CRI-O)",
                                  file, no_effect[i]);
                assert_string_equal(warnings[i < 1 ? i : i + 1], want);
        }
        assert_string_equal(c->storage_driver, "overlay");
        assert_string_equal(c->root, "/var/lib/containers/storage");
        assert_string_equal(c->default_runtime, "runc");
        assert_string_equal(c->cgroup_manager, "systemd");
        assert_string_equal(c->pause_image, "registry.k8s.io/pause:3.9");
        assert_false(c->enable_nri);
        assert_string_equal(config_find_runtime(c, "runc")->runtime_root, "/run/runc");
}

static void test_validate_default_mounts_file(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *file = xasprintf("%s/mounts.conf", t->path);
        write_file(file, NULL, "/etc:/host-etc\n/broken:relative\n");
        _cleanup_free_ char *text = xasprintf("[crio.runtime]\ndefault_mounts_file = \"%s\"\n", file);
        _cleanup_config_ Config *c = config_from_text(text);
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(config_validate(c, &err), -EINVAL);
        assert_non_null(strstr(err->message, "crio.runtime.default_mounts_file"));
        _cleanup_free_ char *where = xasprintf("%s:2:", file);
        assert_non_null(strstr(err->message, where));
        error_free(TAKE_PTR(err));
        write_file(file, NULL, "/etc:/host-etc\n");
        assert_ok(config_validate(c, &err), err);
        unlink(file); /* a missing file has no mounts, as in CRI-O */
        assert_ok(config_validate(c, &err), err);
        _cleanup_config_ Config *rel =
                config_from_text("[crio.runtime]\ndefault_mounts_file = \"m.conf\"\n");
        assert_int_equal(config_validate(rel, &err), -EINVAL);
        assert_non_null(strstr(err->message, "not an absolute path"));
        error_free(TAKE_PTR(err));
        _cleanup_config_ Config *prefix = config_from_text("[crio.runtime]\nbind_mount_prefix = \"host\"\n");
        assert_int_equal(config_validate(prefix, &err), -EINVAL);
        assert_non_null(strstr(err->message, "crio.runtime.bind_mount_prefix"));
}

static void test_empty_storage_driver_is_overlay(void **state) {
        TmpDir *t = *state;
        _cleanup_(config_sources_done) ConfigSources s = sources_for(t, true);
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        write_file(t->conf, NULL, "[crio]\nstorage_driver = \"\"\n");
        assert_ok(config_load(&s, &c, NULL, &err), err);
        assert_string_equal(c->storage_driver, "overlay");
        config_free(TAKE_PTR(c));
        write_file(t->conf, NULL, "[crio]\nstorage_driver = \"btrfs\"\n");
        assert_int_equal(config_load(&s, &c, NULL, &err), -EINVAL);
        assert_non_null(strstr(err->message, "storage_driver"));
}

#define TMP_TEST(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_default_runtime_handlers),
                cmocka_unit_test(test_duration_exact),
                cmocka_unit_test(test_duration_overflow),
                cmocka_unit_test(test_duration_rejects_go_invalid_numbers),
                cmocka_unit_test(test_nul_in_array_and_map_rejected),
                cmocka_unit_test(test_known_table_given_plain_value),
                cmocka_unit_test(test_validate_stream_port_strict),
                cmocka_unit_test(test_set_int_rejects_leading_blank),
                cmocka_unit_test(test_default_api),
                cmocka_unit_test(test_default_runtime_table),
                cmocka_unit_test(test_default_other_tables),
                cmocka_unit_test(test_default_empty_arrays_are_lists),
                cmocka_unit_test(test_default_validates),
                cmocka_unit_test(test_free_null),

                cmocka_unit_test(test_apply_string),
                cmocka_unit_test(test_apply_bool),
                cmocka_unit_test(test_apply_int),
                cmocka_unit_test(test_apply_string_array),
                cmocka_unit_test(test_apply_string_map_inline),
                cmocka_unit_test(test_apply_string_map_subtable),
                cmocka_unit_test(test_apply_map_replaces_whole_value),
                cmocka_unit_test(test_apply_dotted_and_inline_forms),
                cmocka_unit_test(test_apply_nested_known_table),
                cmocka_unit_test(test_apply_empty_document),
                cmocka_unit_test(test_apply_unicode_string),

                cmocka_unit_test(test_wrong_type_string),
                cmocka_unit_test(test_wrong_type_bool),
                cmocka_unit_test(test_wrong_type_int),
                cmocka_unit_test(test_wrong_type_array_given_string),
                cmocka_unit_test(test_wrong_type_array_with_non_string),
                cmocka_unit_test(test_wrong_type_map_value),
                cmocka_unit_test(test_wrong_type_map_given_string),
                cmocka_unit_test(test_wrong_type_runtime_key),
                cmocka_unit_test(test_wrong_type_workload_key),
                cmocka_unit_test(test_wrong_type_workload_resource),
                cmocka_unit_test(test_wrong_type_string_with_nul),
                cmocka_unit_test(test_wrong_type_table_for_string),
                cmocka_unit_test(test_wrong_type_crio_not_table),
                cmocka_unit_test(test_wrong_type_runtimes_not_table),
                cmocka_unit_test(test_wrong_type_handler_not_table),
                cmocka_unit_test(test_wrong_type_workload_not_table),

                cmocka_unit_test(test_unknown_key_warns),
                cmocka_unit_test(test_no_effect_key_warns),
                cmocka_unit_test(test_parse_size),
                cmocka_unit_test(test_validate_size_key),
                cmocka_unit_test(test_parse_device),
                cmocka_unit_test(test_timezone_file),
                cmocka_unit_test(test_validate_timezone),
                cmocka_unit_test(test_mounts_file_parse),
                cmocka_unit_test(test_cpu_list),
                cmocka_unit_test(test_monitor_cgroup),
                cmocka_unit_test(test_unknown_top_level_tables),
                cmocka_unit_test(test_unknown_subtable),
                cmocka_unit_test(test_unknown_key_in_wrong_table),
                cmocka_unit_test(test_unknown_runtime_and_workload_keys),
                cmocka_unit_test(test_unknown_key_without_warning_list),

                cmocka_unit_test(test_runtime_handler_added_with_defaults),
                cmocka_unit_test(test_runtime_handler_empty_table),
                cmocka_unit_test(test_runtime_handler_quoted_name),
                cmocka_unit_test(test_runtime_handler_merge_per_key),
                cmocka_unit_test(test_runtime_handler_added_then_extended),
                cmocka_unit_test(test_workload_added),
                cmocka_unit_test(test_workload_inline_resources),
                cmocka_unit_test(test_workload_merge),
                cmocka_unit_test(test_merge_later_document_wins_per_key),

                cmocka_unit_test(test_validate_bad_log_level),
                cmocka_unit_test(test_validate_bad_cgroup_manager),
                cmocka_unit_test(test_validate_bad_image_volumes),
                cmocka_unit_test(test_validate_choice_is_exact),
                cmocka_unit_test(test_validate_bad_runtime_type),
                cmocka_unit_test(test_validate_bad_duration),
                cmocka_unit_test(test_validate_bad_duration_other_tables),
                cmocka_unit_test(test_validate_bad_log_filter),
                cmocka_unit_test(test_validate_missing_default_runtime),
                cmocka_unit_test(test_validate_relative_listen),
                cmocka_unit_test(test_validate_relative_root),
                cmocka_unit_test(test_validate_stream_port_not_number),
                cmocka_unit_test(test_validate_stream_port_out_of_range),
                cmocka_unit_test(test_validate_metrics_port_out_of_range),
                cmocka_unit_test(test_validate_good_configs),

                cmocka_unit_test(test_duration_zero),
                cmocka_unit_test(test_duration_units),
                cmocka_unit_test(test_duration_compound),
                cmocka_unit_test(test_duration_fraction),
                cmocka_unit_test(test_duration_sign),
                cmocka_unit_test(test_duration_invalid),
                cmocka_unit_test(test_duration_null),

                cmocka_unit_test(test_grpc_sizes),
                cmocka_unit_test(test_grpc_sizes_nonpositive),
                cmocka_unit_test(test_grpc_sizes_too_large),

                cmocka_unit_test(test_write_roundtrip_default),
                cmocka_unit_test(test_write_roundtrip_custom),
                cmocka_unit_test(test_write_roundtrip_set_directly),
                cmocka_unit_test(test_write_escapes),
                cmocka_unit_test(test_write_layout),

                cmocka_unit_test(test_json_listen_and_runc),
                cmocka_unit_test(test_json_types),
                cmocka_unit_test(test_json_workloads),

                cmocka_unit_test(test_value_to_string),
                cmocka_unit_test(test_value_to_string_escapes_and_maps),
                cmocka_unit_test(test_copy_value),
                cmocka_unit_test(test_set_from_string),
                cmocka_unit_test(test_set_from_string_errors),
                cmocka_unit_test(test_key_find),
                cmocka_unit_test(test_key_tables_are_consistent),

                TMP_TEST(test_load_main_and_dropins_in_order),
                TMP_TEST(test_load_dropin_handlers_merge),
                TMP_TEST(test_load_missing_main_allowed),
                TMP_TEST(test_load_missing_main_required),
                TMP_TEST(test_load_missing_dropin_dir),
                TMP_TEST(test_load_dropin_dir_is_file),
                TMP_TEST(test_load_no_sources),
                TMP_TEST(test_load_ignores_hidden_and_subdirs),
                TMP_TEST(test_load_dropin_syntax_error),
                TMP_TEST(test_load_dropin_type_error),
                TMP_TEST(test_load_main_syntax_error),
                TMP_TEST(test_load_validation_error),
                TMP_TEST(test_load_unknown_key_warning_names_file),
                TMP_TEST(test_load_env_beats_files),
                TMP_TEST(test_load_no_effect_warnings_name_their_source),
                TMP_TEST(test_load_inherit_default_runtime),
                TMP_TEST(test_load_deprecated_conmon_keys),
                TMP_TEST(test_load_env_bad_value),
                TMP_TEST(test_load_env_value_validated),
                TMP_TEST(test_load_override_beats_env),
                TMP_TEST(test_load_override_bad_value),
                TMP_TEST(test_override_array_joins),
                TMP_TEST(test_load_sample_files),
                cmocka_unit_test(test_load_crio_1_26_default),
                TMP_TEST(test_empty_storage_driver_is_overlay),
                TMP_TEST(test_validate_default_mounts_file),
        };
        return cmocka_run_group_tests(tests, group_setup, NULL);
}
