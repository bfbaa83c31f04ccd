/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "config-load.h"
#include "error.h"

#define DEFAULT_CONFIG_PATH "/etc/crio/crio.conf"
#define DEFAULT_CONFIG_DIR "/etc/crio/crio.conf.d"

/* The global command line: `crio [GLOBAL FLAGS] [COMMAND [COMMAND ARGS]]`. */
typedef struct CliOptions {
        ConfigSources sources;
        char *log_file;   /* --log */
        char *log_format; /* --log-format: "text" or "json" */
        char *registries_conf;
        char *registries_conf_dir;
        bool help;
        bool version;
        char *command; /* NULL: run the daemon */
        char **args;   /* arguments after the command (owned strv) */
} CliOptions;

void cli_options_done(CliOptions *o);

/*
 * Parse argv. Every crio.conf key with a flag is accepted as --flag VALUE or --flag=VALUE (booleans
 * may omit the value); CONTAINER_* variables supply the CLI-only options not given. An unknown flag,
 * a missing value or a stray positional argument is -EINVAL with a message naming it.
 */
int cli_parse(int argc, char *const *argv, CliOptions *ret, Error **reterr);

/* Write the global usage text, listing every flag with its default. */
void cli_write_usage(FILE *f);

/* Known subcommands. */
bool cli_is_command(const char *name);

/* A subcommand's own flags. */
typedef struct CliFlag {
        const char *name;
        char short_name;
        bool takes_value;
        const char *help;
} CliFlag;

/*
 * Parse subcommand arguments against `flags`: values[i] receives the value of flags[i] ("true" for a
 * flag without value; NULL when absent). Positional arguments are refused.
 */
int cli_parse_command(const char *command, char *const *args, const CliFlag *flags, size_t n_flags,
                      char **values, Error **reterr);
