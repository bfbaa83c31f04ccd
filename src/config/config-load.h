/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "config.h"

/* A value given on the command line for a crio.conf key. */
typedef struct ConfigOverride {
        const ConfigKey *key;
        char *value; /* as typed; repeated array flags are joined with ',' */
} ConfigOverride;

/* Everything the effective config is built from, kept so that SIGHUP can rebuild it. */
typedef struct ConfigSources {
        char *config_path;    /* main file, default /etc/crio/crio.conf */
        bool config_path_set; /* given explicitly: then it must exist */
        char *config_dir;     /* drop-in directory, default /etc/crio/crio.conf.d */
        ConfigOverride *overrides;
        size_t n_overrides;
} ConfigSources;

void config_sources_done(ConfigSources *s);

/* Record (or extend, for array keys) a command-line value. */
void config_sources_add_override(ConfigSources *s, const ConfigKey *key, const char *value);

/*
 * Build the effective config: built-in defaults, the main file, every regular file of the drop-in
 * directory in lexical order, CONTAINER_* environment variables, then flags; each later source
 * wins per key. Then validate. Unknown keys become warnings ("FILE:LINE: unknown key ...").
 * Reads files; does not log.
 */
int config_load(const ConfigSources *s, Config **ret, char ***warnings, Error **reterr);

/* The flag name of a key ("log-level"); NULL for keys without a flag. Caller frees. */
char *config_key_flag_name(const ConfigKey *key);

/* The environment variable of a flag: "log-level" -> "CONTAINER_LOG_LEVEL". Caller frees. */
char *config_flag_env_name(const char *flag);

const ConfigKey *config_key_by_flag(const char *flag);
