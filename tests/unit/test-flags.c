/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fs-util.h"
#include "test-util.h"

#include "config-load.h"
#include "config.h"
#include "flags.h"
#include "strv.h"

/* ---- helpers ---- */

/* A NULL-terminated argv with "crio" in front. */
#define ARGV(...) ((char *[]){"crio", __VA_ARGS__, NULL})
#define ARGV0 ((char *[]){"crio", NULL})

static int parse(char **argv, CliOptions *ret, Error **reterr) {
        return cli_parse((int)strv_length(argv), argv, ret, reterr);
}

/* Parse argv, which must succeed. */
static void parse_ok(char **argv, CliOptions *ret) {
        _cleanup_error_ Error *err = NULL;
        assert_ok(parse(argv, ret, &err), err);
}

/* Parse argv, which must fail with -EINVAL and a message containing `needle`. */
static void parse_fails(char **argv, const char *needle) {
        _cleanup_error_ Error *err = NULL;
        CliOptions o = {0};
        assert_int_equal(parse(argv, &o, &err), -EINVAL);
        assert_non_null(err);
        assert_int_equal(err->code, EINVAL);
        assert_contains(err->message, needle);
        /* Nothing is handed out on failure. */
        assert_null(o.command);
        assert_null(o.sources.config_path);
}

static const ConfigKey *key_named(const char *table, const char *name) {
        const ConfigKey *k = config_key_find(config_keys, config_keys_count, table, name);
        assert_non_null(k);
        return k;
}

/* The override value recorded for a key, or NULL. */
static const char *override_for(const CliOptions *o, const char *name) {
        for (size_t i = 0; i < o->sources.n_overrides; i++)
                if (strcmp(o->sources.overrides[i].key->name, name) == 0)
                        return o->sources.overrides[i].value;
        return NULL;
}

/* Exactly one override, for `name`, with `value`. */
static void assert_single_override(const CliOptions *o, const char *name, const char *value) {
        assert_int_equal(o->sources.n_overrides, 1);
        assert_string_equal(o->sources.overrides[0].key->name, name);
        assert_string_equal(o->sources.overrides[0].value, value);
}

/* Every test starts and ends without CONTAINER_* variables: cli_parse() reads them. */
static int env_setup(void **state) {
        clear_container_env();
        return 0;
}

static int env_teardown(void **state) {
        clear_container_env();
        return 0;
}

/* ---- the daemon and its config sources ---- */

static void test_no_args_runs_daemon(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV0, &o);
        assert_null(o.command);
        assert_null(o.args);
        assert_false(o.help);
        assert_false(o.version);
        assert_string_equal(o.sources.config_path, "/etc/crio/crio.conf");
        assert_false(o.sources.config_path_set);
        assert_string_equal(o.sources.config_dir, "/etc/crio/crio.conf.d");
        assert_int_equal(o.sources.n_overrides, 0);
        assert_string_equal(o.log_format, "text");
        assert_null(o.log_file);
}

static void test_config_long(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--config", "/x/crio.conf"), &o);
        assert_string_equal(o.sources.config_path, "/x/crio.conf");
        assert_true(o.sources.config_path_set);
        assert_string_equal(o.sources.config_dir, "/etc/crio/crio.conf.d");
        assert_null(o.command);
}

static void test_config_long_equals(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--config=/x/crio.conf"), &o);
        assert_string_equal(o.sources.config_path, "/x/crio.conf");
        assert_true(o.sources.config_path_set);
}

static void test_config_short(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("-c", "/y.conf"), &o);
        assert_string_equal(o.sources.config_path, "/y.conf");
        assert_true(o.sources.config_path_set);
}

static void test_config_dir_short_and_long(void **state) {
        _cleanup_(cli_options_done) CliOptions a = {0};
        _cleanup_(cli_options_done) CliOptions b = {0};
        parse_ok(ARGV("-d", "/etc/dropins"), &a);
        parse_ok(ARGV("--config-dir=/etc/other"), &b);
        assert_string_equal(a.sources.config_dir, "/etc/dropins");
        assert_string_equal(b.sources.config_dir, "/etc/other");
        /* A drop-in directory alone does not make the main file mandatory. */
        assert_false(a.sources.config_path_set);
        assert_string_equal(a.sources.config_path, "/etc/crio/crio.conf");
}

static void test_config_repeated_last_wins(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("-c", "/first.conf", "--config", "/second.conf"), &o);
        assert_string_equal(o.sources.config_path, "/second.conf");
}

/* ---- crio.conf keys as flags ---- */

static void test_log_level_long_equals(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--log-level=debug"), &o);
        assert_single_override(&o, "log_level", "debug");
        assert_ptr_equal(o.sources.overrides[0].key, key_named("crio.runtime", "log_level"));
}

static void test_log_level_long_space(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--log-level", "debug"), &o);
        assert_single_override(&o, "log_level", "debug");
        assert_null(o.command);
}

static void test_log_level_short_space(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("-l", "debug"), &o);
        assert_single_override(&o, "log_level", "debug");
}

static void test_log_level_short_attached(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("-ldebug"), &o);
        assert_single_override(&o, "log_level", "debug");
}

static void test_other_short_aliases(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("-r", "/var/lib/r", "-s", "overlay"), &o);
        assert_int_equal(o.sources.n_overrides, 2);
        assert_string_equal(override_for(&o, "root"), "/var/lib/r");
        assert_string_equal(override_for(&o, "storage_driver"), "overlay");
}

static void test_listen(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--listen", "/x"), &o);
        assert_single_override(&o, "listen", "/x");
        assert_ptr_equal(o.sources.overrides[0].key, key_named("crio.api", "listen"));
}

static void test_value_that_looks_like_flag(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        /* The argument after a value flag is its value even when it starts with '-'. */
        parse_ok(ARGV("--log-filter", "-x"), &o);
        assert_single_override(&o, "log_filter", "-x");
}

static void test_empty_inline_value(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--seccomp-profile="), &o);
        assert_single_override(&o, "seccomp_profile", "");
}

static void test_int_flag(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--metrics-port", "9537"), &o);
        assert_single_override(&o, "metrics_port", "9537");
}

static void test_bool_flag_without_value(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--selinux"), &o);
        assert_single_override(&o, "selinux", "true");
}

static void test_bool_flag_equals_false(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--selinux=false"), &o);
        assert_single_override(&o, "selinux", "false");
}

static void test_bool_flag_before_command(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        /* A boolean flag never takes the next argument, so a command may follow it. */
        parse_ok(ARGV("--selinux", "config"), &o);
        assert_single_override(&o, "selinux", "true");
        assert_string_equal(o.command, "config");
}

static void test_bool_flag_does_not_take_next_argument(void **state) {
        parse_fails(ARGV("--selinux", "false"), "'false'");
}

static void test_repeated_flags(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--log-level", "debug", "--hooks-dir", "/a", "-l", "warn", "--hooks-dir=/b"), &o);
        assert_int_equal(o.sources.n_overrides, 2);
        assert_string_equal(override_for(&o, "log_level"), "warn");
        assert_string_equal(override_for(&o, "hooks_dir"), "/a,/b");
}

static void test_renamed_flags(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--cni-config-dir", "/etc/net.d", "--storage-opt", "a=1", "--storage-opt=b=2",
                      "--cni-plugin-dir", "/opt/bin", "--cni-default-network", "podman"),
                 &o);
        assert_int_equal(o.sources.n_overrides, 4);
        assert_string_equal(override_for(&o, "network_dir"), "/etc/net.d");
        assert_string_equal(override_for(&o, "storage_option"), "a=1,b=2");
        assert_string_equal(override_for(&o, "plugin_dirs"), "/opt/bin");
        assert_string_equal(override_for(&o, "cni_default_network"), "podman");
}

static void test_renamed_flag_old_name_refused(void **state) {
        parse_fails(ARGV("--network-dir", "/etc/net.d"), "--network-dir");
}

/* ---- errors ---- */

static void test_unknown_long_flag(void **state) {
        parse_fails(ARGV("--nope"), "--nope");
}

static void test_unknown_long_flag_with_value(void **state) {
        parse_fails(ARGV("--log-level", "debug", "--nope=1"), "--nope");
}

static void test_unknown_short_flag(void **state) {
        parse_fails(ARGV("-z"), "-z");
}

static void test_missing_value_at_end(void **state) {
        parse_fails(ARGV("--log-level"), "log-level");
}

static void test_missing_value_short(void **state) {
        parse_fails(ARGV("--selinux", "-c"), "config");
}

static void test_missing_value_cli_only(void **state) {
        parse_fails(ARGV("--log-format"), "log-format");
}

static void test_positional_not_a_command(void **state) {
        parse_fails(ARGV("run"), "'run'");
}

static void test_positional_after_flags(void **state) {
        parse_fails(ARGV("--log-level", "debug", "/etc/crio.conf"), "/etc/crio.conf");
}

static void test_lone_dash(void **state) {
        parse_fails(ARGV("-"), "'-'");
}

/* ---- commands ---- */

static void test_command_with_args(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("config", "--default"), &o);
        assert_string_equal(o.command, "config");
        assert_int_equal(strv_length(o.args), 1);
        assert_string_equal(o.args[0], "--default");
        assert_int_equal(o.sources.n_overrides, 0);
}

static void test_command_without_args(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("status"), &o);
        assert_string_equal(o.command, "status");
        assert_non_null(o.args);
        assert_int_equal(strv_length(o.args), 0);
}

static void test_global_flags_then_command(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        /* Flags after the command belong to the command, even ones that look global. */
        parse_ok(ARGV("-c", "/c.conf", "--log-level=debug", "status", "containers", "--id", "abc",
                      "--log-level"),
                 &o);
        assert_string_equal(o.sources.config_path, "/c.conf");
        assert_single_override(&o, "log_level", "debug");
        assert_string_equal(o.command, "status");
        assert_int_equal(strv_length(o.args), 4);
        assert_string_equal(o.args[0], "containers");
        assert_string_equal(o.args[3], "--log-level");
}

static void test_double_dash_then_command(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--log-level", "warn", "--", "config", "--default"), &o);
        assert_string_equal(o.command, "config");
        assert_int_equal(strv_length(o.args), 1);
        assert_string_equal(o.args[0], "--default");
        assert_single_override(&o, "log_level", "warn");
}

static void test_double_dash_alone(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--"), &o);
        assert_null(o.command);
        assert_int_equal(o.sources.n_overrides, 0);
}

static void test_double_dash_ends_flags(void **state) {
        /* After "--" a flag is just a (non-command) argument. */
        parse_fails(ARGV("--", "--log-level", "debug"), "--log-level");
}

static void test_short_flag_with_equals(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("-l=debug"), &o);
        assert_int_equal(o.sources.n_overrides, 1);
        assert_string_equal(o.sources.overrides[0].key->name, "log_level");
        assert_string_equal(o.sources.overrides[0].value, "debug");
}

static void test_bool_cli_flags_take_false(void **state) {
        _cleanup_(cli_options_done) CliOptions a = {0};
        _cleanup_(cli_options_done) CliOptions b = {0};
        parse_ok(ARGV("--help=false"), &a);
        assert_false(a.help);
        parse_ok(ARGV("--version=true"), &b);
        assert_true(b.version);
        parse_fails(ARGV("--help=maybe"), "not a boolean");
}

static void test_help(void **state) {
        _cleanup_(cli_options_done) CliOptions a = {0};
        _cleanup_(cli_options_done) CliOptions b = {0};
        _cleanup_(cli_options_done) CliOptions c = {0};
        parse_ok(ARGV("--help"), &a);
        parse_ok(ARGV("-h"), &b);
        parse_ok(ARGV("help"), &c);
        assert_true(a.help);
        assert_true(b.help);
        assert_false(a.version);
        assert_null(a.command);
        assert_false(c.help);
        assert_string_equal(c.command, "help");
}

static void test_version(void **state) {
        _cleanup_(cli_options_done) CliOptions a = {0};
        _cleanup_(cli_options_done) CliOptions b = {0};
        parse_ok(ARGV("--version"), &a);
        parse_ok(ARGV("-v"), &b);
        assert_true(a.version);
        assert_true(b.version);
        assert_false(a.help);
        assert_null(a.command);
}

static void test_cli_only_options(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        parse_ok(ARGV("--log-format", "json", "--log=/var/log/crio.log", "--registries-conf", "/r.conf",
                      "--registries-conf-dir", "/r.d"),
                 &o);
        assert_string_equal(o.log_format, "json");
        assert_string_equal(o.log_file, "/var/log/crio.log");
        assert_string_equal(o.registries_conf, "/r.conf");
        assert_string_equal(o.registries_conf_dir, "/r.d");
        assert_int_equal(o.sources.n_overrides, 0);
}

static void test_is_command(void **state) {
        assert_true(cli_is_command("config"));
        assert_true(cli_is_command("status"));
        assert_true(cli_is_command("version"));
        assert_true(cli_is_command("help"));
        assert_false(cli_is_command("run"));
        assert_false(cli_is_command("Config"));
        assert_false(cli_is_command(""));
}

/* ---- names ---- */

static void test_key_flag_name(void **state) {
        _cleanup_free_ char *a = config_key_flag_name(key_named("crio.runtime", "log_level"));
        _cleanup_free_ char *b = config_key_flag_name(key_named("crio.network", "network_dir"));
        _cleanup_free_ char *c = config_key_flag_name(key_named("crio", "storage_option"));
        _cleanup_free_ char *d = config_key_flag_name(key_named("crio", "root"));
        _cleanup_free_ char *e = config_key_flag_name(key_named("crio.api", "grpc_max_send_msg_size"));
        assert_string_equal(a, "log-level");
        assert_string_equal(b, "cni-config-dir");
        assert_string_equal(c, "storage-opt");
        assert_string_equal(d, "root");
        assert_string_equal(e, "grpc-max-send-msg-size");
}

static void test_key_flag_name_none(void **state) {
        /* Maps cannot be given on the command line. */
        const ConfigKey *m = config_key_find(runtime_keys, runtime_keys_count, "", "default_annotations");
        assert_non_null(m);
        assert_null(config_key_flag_name(m));
}

static void test_flag_env_name(void **state) {
        _cleanup_free_ char *a = config_flag_env_name("log-level");
        _cleanup_free_ char *b = config_flag_env_name("cni-config-dir");
        _cleanup_free_ char *c = config_flag_env_name("config");
        _cleanup_free_ char *d = config_flag_env_name("nri-listen2");
        assert_string_equal(a, "CONTAINER_LOG_LEVEL");
        assert_string_equal(b, "CONTAINER_CNI_CONFIG_DIR");
        assert_string_equal(c, "CONTAINER_CONFIG");
        assert_string_equal(d, "CONTAINER_NRI_LISTEN2");
}

static void test_key_by_flag(void **state) {
        assert_ptr_equal(config_key_by_flag("log-level"), key_named("crio.runtime", "log_level"));
        assert_ptr_equal(config_key_by_flag("cni-config-dir"), key_named("crio.network", "network_dir"));
        assert_null(config_key_by_flag("network-dir"));
        assert_null(config_key_by_flag("log_level"));
        assert_null(config_key_by_flag("config"));
        assert_null(config_key_by_flag(""));
}

static void test_flag_names_unique(void **state) {
        /* Two keys with one flag name would make one of them unreachable from the command line. */
        for (size_t i = 0; i < config_keys_count; i++) {
                _cleanup_free_ char *f = config_key_flag_name(&config_keys[i]);
                if (!f)
                        continue;
                if (config_key_by_flag(f) != &config_keys[i])
                        print_error("flag --%s does not lead back to %s.%s\n", f, config_keys[i].table,
                                    config_keys[i].name);
                assert_ptr_equal(config_key_by_flag(f), &config_keys[i]);
        }
}

/* ---- environment ---- */

static void test_env_config_path(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        assert_int_equal(setenv("CONTAINER_CONFIG", "/env/crio.conf", 1), 0);
        parse_ok(ARGV0, &o);
        assert_string_equal(o.sources.config_path, "/env/crio.conf");
        assert_true(o.sources.config_path_set);
}

static void test_flag_beats_env_config_path(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        assert_int_equal(setenv("CONTAINER_CONFIG", "/env/crio.conf", 1), 0);
        parse_ok(ARGV("--config", "/flag/crio.conf"), &o);
        assert_string_equal(o.sources.config_path, "/flag/crio.conf");
}

static void test_env_cli_only_options(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        assert_int_equal(setenv("CONTAINER_CONFIG_DIR", "/env/d", 1), 0);
        assert_int_equal(setenv("CONTAINER_LOG_FORMAT", "json", 1), 0);
        assert_int_equal(setenv("CONTAINER_LOG", "/env/log", 1), 0);
        assert_int_equal(setenv("CONTAINER_REGISTRIES_CONF", "/env/r.conf", 1), 0);
        parse_ok(ARGV("--log-format", "text"), &o);
        assert_string_equal(o.sources.config_dir, "/env/d");
        assert_string_equal(o.log_format, "text");
        assert_string_equal(o.log_file, "/env/log");
        assert_string_equal(o.registries_conf, "/env/r.conf");
        assert_null(o.registries_conf_dir);
        assert_false(o.sources.config_path_set);
}

static void test_env_is_not_an_override(void **state) {
        _cleanup_(cli_options_done) CliOptions o = {0};
        /* CONTAINER_* for crio.conf keys is read by config_load(), after the files; not here. */
        assert_int_equal(setenv("CONTAINER_LOG_LEVEL", "debug", 1), 0);
        parse_ok(ARGV0, &o);
        assert_int_equal(o.sources.n_overrides, 0);
}

/* A temporary directory in *state, removed by the teardown even when an assertion fails. */
static int tmpdir_setup(void **state) {
        char templ[] = "/tmp/crio-c-test-flags-XXXXXX";
        clear_container_env();
        if (!mkdtemp(templ))
                return -1;
        *state = xstrdup(templ);
        return 0;
}

static int tmpdir_teardown(void **state) {
        char *dir = *state;
        clear_container_env();
        int r = rm_rf(dir);
        free(dir);
        return r;
}

static void test_parse_then_load(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *conf = xasprintf("%s/crio.conf", dir);
        _cleanup_free_ char *dropins = xasprintf("%s/crio.conf.d", dir);
        FILE *f = fopen(conf, "we");
        assert_non_null(f);
        fputs("[crio.runtime]\nlog_level = \"error\"\nselinux = true\n[crio.api]\nlisten = \"/file.sock\"\n",
              f);
        assert_int_equal(fclose(f), 0);

        _cleanup_(cli_options_done) CliOptions o = {0};
        _cleanup_config_ Config *c = NULL;
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(setenv("CONTAINER_LOG_LEVEL", "warn", 1), 0);
        parse_ok(ARGV("-c", conf, "-d", dropins, "-ldebug", "--selinux=false", "--default-capabilities",
                      "CHOWN", "--default-capabilities", "KILL"),
                 &o);
        assert_ok(config_load(&o.sources, &c, NULL, &err), err);
        /* Flags beat the environment, which beats the file; keys only in the file keep their value. */
        assert_string_equal(c->log_level, "debug");
        assert_false(c->selinux);
        assert_string_equal(c->listen, "/file.sock");
        assert_int_equal(strv_length(c->default_capabilities), 2);
        assert_string_equal(c->default_capabilities[0], "CHOWN");
        assert_string_equal(c->default_capabilities[1], "KILL");
}

/* ---- subcommand flags ---- */

enum { F_SOCKET, F_JSON, F_ID, _F_MAX };

static const CliFlag command_flags[_F_MAX] = {
        [F_SOCKET] = {"socket", 's', true, "daemon socket"},
        [F_JSON] = {"json", 'j', false, "print JSON"},
        [F_ID] = {"id", 0, true, "container ID"},
};

typedef struct Values {
        char *v[_F_MAX];
} Values;

static void values_done(Values *values) {
        for (size_t i = 0; i < _F_MAX; i++)
                free(values->v[i]);
}

static int parse_command(char **args, Values *values, Error **reterr) {
        return cli_parse_command("status", args, command_flags, _F_MAX, values->v, reterr);
}

#define ARGS(...) ((char *[]){__VA_ARGS__, NULL})

static void test_command_value_flag_space(void **state) {
        _cleanup_(values_done) Values v = {0};
        _cleanup_error_ Error *err = NULL;
        assert_ok(parse_command(ARGS("--socket", "/run/x.sock"), &v, &err), err);
        assert_string_equal(v.v[F_SOCKET], "/run/x.sock");
        assert_null(v.v[F_JSON]);
        assert_null(v.v[F_ID]);
}

static void test_command_value_flag_equals(void **state) {
        _cleanup_(values_done) Values v = {0};
        _cleanup_error_ Error *err = NULL;
        assert_ok(parse_command(ARGS("--socket=/run/y.sock", "--id=a=b"), &v, &err), err);
        assert_string_equal(v.v[F_SOCKET], "/run/y.sock");
        assert_string_equal(v.v[F_ID], "a=b");
}

static void test_command_value_flag_short(void **state) {
        _cleanup_(values_done) Values v = {0};
        _cleanup_(values_done) Values w = {0};
        _cleanup_error_ Error *err = NULL;
        assert_ok(parse_command(ARGS("-s", "/run/z.sock"), &v, &err), err);
        assert_ok(parse_command(ARGS("-s/run/w.sock"), &w, &err), err);
        assert_string_equal(v.v[F_SOCKET], "/run/z.sock");
        assert_string_equal(w.v[F_SOCKET], "/run/w.sock");
}

static void test_command_bool_flag(void **state) {
        _cleanup_(values_done) Values v = {0};
        _cleanup_(values_done) Values w = {0};
        _cleanup_(values_done) Values x = {0};
        _cleanup_error_ Error *err = NULL;
        assert_ok(parse_command(ARGS("--json"), &v, &err), err);
        assert_ok(parse_command(ARGS("-j"), &w, &err), err);
        assert_ok(parse_command(ARGS("--json=false"), &x, &err), err);
        assert_string_equal(v.v[F_JSON], "true");
        assert_string_equal(w.v[F_JSON], "true");
        assert_string_equal(x.v[F_JSON], "false");
        assert_null(v.v[F_SOCKET]);
}

static void test_command_flags_combined(void **state) {
        _cleanup_(values_done) Values v = {0};
        _cleanup_error_ Error *err = NULL;
        assert_ok(parse_command(ARGS("--id", "abc", "-j", "--socket", "/a", "--socket", "/b"), &v, &err),
                  err);
        assert_string_equal(v.v[F_ID], "abc");
        assert_string_equal(v.v[F_JSON], "true");
        assert_string_equal(v.v[F_SOCKET], "/b");
}

static void test_command_no_args(void **state) {
        _cleanup_(values_done) Values v = {0};
        _cleanup_(values_done) Values w = {0};
        _cleanup_error_ Error *err = NULL;
        assert_ok(parse_command(NULL, &v, &err), err);
        assert_ok(parse_command((char *[]){NULL}, &w, &err), err);
        assert_null(v.v[F_SOCKET]);
        assert_null(w.v[F_JSON]);
}

static void expect_command_error(char **args, const char *needle) {
        _cleanup_(values_done) Values v = {0};
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(parse_command(args, &v, &err), -EINVAL);
        assert_non_null(err);
        assert_contains(err->message, "status");
        assert_contains(err->message, needle);
}

static void test_command_unknown_flag(void **state) {
        expect_command_error(ARGS("--nope"), "--nope");
        expect_command_error(ARGS("-x"), "-x");
        expect_command_error(ARGS("--sock", "/a"), "--sock");
        expect_command_error(ARGS("--socketx=/a"), "--socketx");
}

static void test_command_positional(void **state) {
        expect_command_error(ARGS("info"), "'info'");
        expect_command_error(ARGS("--json", "extra"), "'extra'");
        expect_command_error(ARGS("-"), "'-'");
}

static void test_command_missing_value(void **state) {
        expect_command_error(ARGS("--socket"), "socket");
        expect_command_error(ARGS("--json", "-s"), "socket");
        expect_command_error(ARGS("--id"), "id");
}

/* ---- usage ---- */

static void test_usage(void **state) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        assert_non_null(f);
        cli_write_usage(f);
        assert_int_equal(fclose(f), 0);
        _cleanup_free_ char *text = buf;
        assert_contains(text, "Usage: crio");
        assert_contains(text, "--log-level");
        assert_contains(text, "--config");
        assert_contains(text, "-c, --config VALUE");
        assert_contains(text, "--config-dir");
        assert_contains(text, "--cni-config-dir");
        assert_contains(text, "--storage-opt");
        assert_contains(text, "--selinux\t");
        assert_contains(text, "(default \"info\")");
        assert_contains(text, "(default 83886080)");
        assert_contains(text, "CONTAINER_");
        /* Maps have no flag, and renamed keys are listed only under their flag name. */
        assert_null(strstr(text, "--default-annotations"));
        assert_null(strstr(text, "--network-dir"));
}

#define ENV_TEST(f) cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                ENV_TEST(test_no_args_runs_daemon),
                ENV_TEST(test_config_long),
                ENV_TEST(test_config_long_equals),
                ENV_TEST(test_config_short),
                ENV_TEST(test_config_dir_short_and_long),
                ENV_TEST(test_config_repeated_last_wins),

                ENV_TEST(test_log_level_long_equals),
                ENV_TEST(test_log_level_long_space),
                ENV_TEST(test_log_level_short_space),
                ENV_TEST(test_log_level_short_attached),
                ENV_TEST(test_other_short_aliases),
                ENV_TEST(test_listen),
                ENV_TEST(test_value_that_looks_like_flag),
                ENV_TEST(test_empty_inline_value),
                ENV_TEST(test_int_flag),
                ENV_TEST(test_bool_flag_without_value),
                ENV_TEST(test_bool_flag_equals_false),
                ENV_TEST(test_bool_flag_before_command),
                ENV_TEST(test_bool_flag_does_not_take_next_argument),
                ENV_TEST(test_repeated_flags),
                ENV_TEST(test_renamed_flags),
                ENV_TEST(test_renamed_flag_old_name_refused),

                ENV_TEST(test_unknown_long_flag),
                ENV_TEST(test_unknown_long_flag_with_value),
                ENV_TEST(test_unknown_short_flag),
                ENV_TEST(test_missing_value_at_end),
                ENV_TEST(test_missing_value_short),
                ENV_TEST(test_missing_value_cli_only),
                ENV_TEST(test_positional_not_a_command),
                ENV_TEST(test_positional_after_flags),
                ENV_TEST(test_lone_dash),

                ENV_TEST(test_command_with_args),
                ENV_TEST(test_command_without_args),
                ENV_TEST(test_global_flags_then_command),
                ENV_TEST(test_double_dash_then_command),
                ENV_TEST(test_double_dash_alone),
                ENV_TEST(test_double_dash_ends_flags),
                ENV_TEST(test_help),
                ENV_TEST(test_short_flag_with_equals),
                ENV_TEST(test_bool_cli_flags_take_false),
                ENV_TEST(test_version),
                ENV_TEST(test_cli_only_options),
                cmocka_unit_test(test_is_command),

                cmocka_unit_test(test_key_flag_name),
                cmocka_unit_test(test_key_flag_name_none),
                cmocka_unit_test(test_flag_env_name),
                cmocka_unit_test(test_key_by_flag),
                cmocka_unit_test(test_flag_names_unique),

                ENV_TEST(test_env_config_path),
                ENV_TEST(test_flag_beats_env_config_path),
                ENV_TEST(test_env_cli_only_options),
                ENV_TEST(test_env_is_not_an_override),
                cmocka_unit_test_setup_teardown(test_parse_then_load, tmpdir_setup, tmpdir_teardown),

                cmocka_unit_test(test_command_value_flag_space),
                cmocka_unit_test(test_command_value_flag_equals),
                cmocka_unit_test(test_command_value_flag_short),
                cmocka_unit_test(test_command_bool_flag),
                cmocka_unit_test(test_command_flags_combined),
                cmocka_unit_test(test_command_no_args),
                cmocka_unit_test(test_command_unknown_flag),
                cmocka_unit_test(test_command_positional),
                cmocka_unit_test(test_command_missing_value),

                cmocka_unit_test(test_usage),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
