/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "flags.h"
#include "strv.h"

static const char *const commands[] = {"config", "status", "version", "wipe", "help"};

/* Options that are not crio.conf keys. */
typedef enum CliOnly {
        OPT_CONFIG,
        OPT_CONFIG_DIR,
        OPT_LOG,
        OPT_LOG_FORMAT,
        OPT_REGISTRIES_CONF,
        OPT_REGISTRIES_CONF_DIR,
        OPT_HELP,
        OPT_VERSION,
        _OPT_MAX,
} CliOnly;

static const CliFlag cli_only[_OPT_MAX] = {
        [OPT_CONFIG] = {"config", 'c', true, "main configuration file"},
        [OPT_CONFIG_DIR] = {"config-dir", 'd', true, "drop-in directory, read in lexical order"},
        [OPT_LOG] = {"log", 0, true, "write the daemon log to this file instead of stderr"},
        [OPT_LOG_FORMAT] = {"log-format", 0, true, "text or json"},
        [OPT_REGISTRIES_CONF] = {"registries-conf", 0, true, "registries.conf path"},
        [OPT_REGISTRIES_CONF_DIR] = {"registries-conf-dir", 0, true, "registries.conf.d path"},
        [OPT_HELP] = {"help", 'h', false, "show this help"},
        [OPT_VERSION] = {"version", 'v', false, "print the version"},
};

/* Short aliases of config flags, as CRI-O has them. */
static const struct {
        char short_name;
        const char *flag;
} short_aliases[] = {{'l', "log-level"}, {'r', "root"}, {'s', "storage-driver"}};

bool cli_is_command(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(commands); i++)
                if (strcmp(commands[i], name) == 0)
                        return true;
        return false;
}

void cli_options_done(CliOptions *o) {
        config_sources_done(&o->sources);
        free(o->log_file);
        free(o->log_format);
        free(o->registries_conf);
        free(o->registries_conf_dir);
        free(o->command);
        strv_free(o->args);
        *o = (CliOptions){0};
}

/* One parsed option: its long name and inline value (after '='), if any. */
typedef struct Token {
        char *name;
        const char *inline_value;
} Token;

static int split_token(const char *arg, Token *t, Error **reterr) {
        if (arg[1] != '-') {
                /* -x, -xVALUE */
                char c = arg[1];
                const char *name = NULL;
                for (size_t i = 0; i < _OPT_MAX; i++)
                        if (cli_only[i].short_name == c)
                                name = cli_only[i].name;
                for (size_t i = 0; i < ELEMENTSOF(short_aliases); i++)
                        if (short_aliases[i].short_name == c)
                                name = short_aliases[i].flag;
                if (!name || c == '\0')
                        return error_set(reterr, EINVAL, "unknown flag '%s'", arg);
                t->name = xstrdup(name);
                /* -ldebug and -l=debug both mean "debug", as Go's flag package reads them. */
                t->inline_value = arg[2] == '=' ? arg + 3 : (arg[2] ? arg + 2 : NULL);
                return 0;
        }
        const char *eq = strchr(arg + 2, '=');
        t->name = eq ? xstrndup(arg + 2, (size_t)(eq - arg - 2)) : xstrdup(arg + 2);
        t->inline_value = eq ? eq + 1 : NULL;
        return 0;
}

/* Take the option's value: inline, or the next argument. */
static int take_value(const Token *t, int argc, char *const *argv, int *i, const char **ret,
                      Error **reterr) {
        if (t->inline_value) {
                *ret = t->inline_value;
                return 0;
        }
        if (*i + 1 >= argc)
                return error_set(reterr, EINVAL, "flag --%s needs a value", t->name);
        *ret = argv[++*i];
        return 0;
}

static void set_string(char **field, const char *v) {
        free(*field);
        *field = xstrdup(v);
}

static int apply_cli_only(CliOptions *o, CliOnly which, const char *v, Error **reterr) {
        bool b = true;
        if (!cli_only[which].takes_value && v) {
                if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
                        b = true;
                else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
                        b = false;
                else
                        return error_set(reterr, EINVAL, "flag --%s: '%s' is not a boolean",
                                         cli_only[which].name, v);
        }
        switch (which) {
        case OPT_CONFIG:
                set_string(&o->sources.config_path, v);
                o->sources.config_path_set = true;
                break;
        case OPT_CONFIG_DIR:
                set_string(&o->sources.config_dir, v);
                break;
        case OPT_LOG:
                set_string(&o->log_file, v);
                break;
        case OPT_LOG_FORMAT:
                set_string(&o->log_format, v);
                break;
        case OPT_REGISTRIES_CONF:
                set_string(&o->registries_conf, v);
                break;
        case OPT_REGISTRIES_CONF_DIR:
                set_string(&o->registries_conf_dir, v);
                break;
        case OPT_HELP:
                o->help = b;
                break;
        case OPT_VERSION:
                o->version = b;
                break;
        default:
                break;
        }
        return 0;
}

static int parse_option(CliOptions *o, int argc, char *const *argv, int *i, Error **reterr) {
        Token t = {0};
        const char *v = NULL;
        int r = split_token(argv[*i], &t, reterr);
        if (r < 0)
                return r;
        _cleanup_free_ char *name = t.name;

        for (size_t k = 0; k < _OPT_MAX; k++) {
                if (strcmp(cli_only[k].name, name) != 0)
                        continue;
                if (!cli_only[k].takes_value)
                        v = t.inline_value;
                else if ((r = take_value(&t, argc, argv, i, &v, reterr)) < 0)
                        return r;
                return apply_cli_only(o, (CliOnly)k, v, reterr);
        }
        const ConfigKey *key = config_key_by_flag(name);
        if (!key)
                return error_set(reterr, EINVAL, "unknown flag '--%s'", name);
        if (key->type == CT_BOOL && !t.inline_value)
                v = "true";
        else if ((r = take_value(&t, argc, argv, i, &v, reterr)) < 0)
                return r;
        config_sources_add_override(&o->sources, key, v);
        return 0;
}

/* CLI-only options may also come from CONTAINER_* variables, as every flag can. */
static void apply_cli_env(CliOptions *o) {
        static const CliOnly from_env[] = {OPT_CONFIG,     OPT_CONFIG_DIR,      OPT_LOG,
                                           OPT_LOG_FORMAT, OPT_REGISTRIES_CONF, OPT_REGISTRIES_CONF_DIR};
        for (size_t k = 0; k < ELEMENTSOF(from_env); k++) {
                _cleanup_free_ char *env = config_flag_env_name(cli_only[from_env[k]].name);
                const char *v = getenv(env);
                bool already = (from_env[k] == OPT_CONFIG && o->sources.config_path_set) ||
                               (from_env[k] == OPT_CONFIG_DIR && o->sources.config_dir) ||
                               (from_env[k] == OPT_LOG && o->log_file) ||
                               (from_env[k] == OPT_LOG_FORMAT && o->log_format) ||
                               (from_env[k] == OPT_REGISTRIES_CONF && o->registries_conf) ||
                               (from_env[k] == OPT_REGISTRIES_CONF_DIR && o->registries_conf_dir);
                if (v && !already)
                        apply_cli_only(o, from_env[k], v, NULL);
        }
        if (!o->sources.config_path)
                o->sources.config_path = xstrdup(DEFAULT_CONFIG_PATH);
        if (!o->sources.config_dir)
                o->sources.config_dir = xstrdup(DEFAULT_CONFIG_DIR);
        if (!o->log_format)
                o->log_format = xstrdup("text");
}

int cli_parse(int argc, char *const *argv, CliOptions *ret, Error **reterr) {
        CliOptions o = {0};
        int i, r = 0;

        for (i = 1; i < argc && r >= 0; i++) {
                const char *a = argv[i];
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                if (a[0] != '-' || a[1] == '\0')
                        break;
                r = parse_option(&o, argc, argv, &i, reterr);
        }
        if (r >= 0 && i < argc) {
                if (!cli_is_command(argv[i]))
                        r = error_set(reterr, EINVAL, "unexpected argument '%s'", argv[i]);
                else {
                        o.command = xstrdup(argv[i]);
                        o.args = xcalloc(1, sizeof(char *));
                        for (int k = i + 1; k < argc; k++)
                                o.args = strv_push(o.args, xstrdup(argv[k]));
                }
        }
        if (r < 0) {
                cli_options_done(&o);
                return r;
        }
        apply_cli_env(&o);
        *ret = o;
        return 0;
}

static const CliFlag *find_flag(const CliFlag *flags, size_t n, const char *arg, const char **ret_inline) {
        *ret_inline = NULL;
        if (arg[1] != '-') {
                for (size_t k = 0; k < n; k++)
                        if (flags[k].short_name && flags[k].short_name == arg[1]) {
                                *ret_inline = arg[2] ? arg + 2 : NULL;
                                return &flags[k];
                        }
                return NULL;
        }
        const char *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        for (size_t k = 0; k < n; k++)
                if (strlen(flags[k].name) == len && strncmp(flags[k].name, arg + 2, len) == 0) {
                        *ret_inline = eq ? eq + 1 : NULL;
                        return &flags[k];
                }
        return NULL;
}

int cli_parse_command(const char *command, char *const *args, const CliFlag *flags, size_t n_flags,
                      char **values, Error **reterr) {
        size_t n = strv_length(args);
        for (size_t i = 0; i < n; i++) {
                const char *a = args[i], *inline_value;
                if (a[0] != '-' || a[1] == '\0')
                        return error_set(reterr, EINVAL, "%s: unexpected argument '%s'", command, a);
                const CliFlag *f = find_flag(flags, n_flags, a, &inline_value);
                if (!f)
                        return error_set(reterr, EINVAL, "%s: unknown flag '%s'", command, a);
                const char *v = inline_value;
                if (f->takes_value && !v) {
                        if (i + 1 >= n)
                                return error_set(reterr, EINVAL, "%s: flag --%s needs a value", command,
                                                 f->name);
                        v = args[++i];
                }
                size_t idx = (size_t)(f - flags);
                free(values[idx]);
                values[idx] = xstrdup(f->takes_value ? v : (v ? v : "true"));
        }
        return 0;
}

static void write_flag_default(FILE *f, const ConfigKey *key) {
        switch (key->type) {
        case CT_STRV:
        case CT_STRING:
                if (*key->def)
                        fprintf(f, " (default \"%s\")", key->def);
                break;
        default:
                fprintf(f, " (default %s)", key->def);
        }
}

void cli_write_usage(FILE *f) {
        fputs("Usage: crio [GLOBAL FLAGS] [COMMAND [FLAGS]]\n\n"
              "crio-c: a Kubernetes CRI runtime. Without a command it runs the daemon.\n\n"
              "Commands:\n"
              "  config    print the effective configuration as TOML (--default: the built-in one)\n"
              "  status    query a running daemon over its socket (info, config, containers --id ID)\n"
              "  version   print version information (--json)\n"
              "  wipe      remove what a node restart left of pods and containers (--force: everything)\n"
              "  help      show this help\n\n"
              "Global flags (each also read from the CONTAINER_<FLAG> environment variable):\n",
              f);
        for (size_t i = 0; i < _OPT_MAX; i++) {
                const CliFlag *c = &cli_only[i];
                if (c->short_name)
                        fprintf(f, "  -%c, --%s%s\t%s\n", c->short_name, c->name,
                                c->takes_value ? " VALUE" : "", c->help);
                else
                        fprintf(f, "  --%s%s\t%s\n", c->name, c->takes_value ? " VALUE" : "", c->help);
        }
        for (size_t i = 0; i < config_keys_count; i++) {
                _cleanup_free_ char *flag = config_key_flag_name(&config_keys[i]);
                if (!flag)
                        continue;
                fprintf(f, "  --%s%s\t[%s] %s", flag, config_keys[i].type == CT_BOOL ? "" : " VALUE",
                        config_keys[i].table, config_keys[i].doc);
                write_flag_default(f, &config_keys[i]);
                fputc('\n', f);
        }
}
