/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <json-c/json.h>

#include "error.h"
#include "toml.h"

/* The crio.conf(5) model. Every key is declared once, in config-keys.def and its siblings. */

typedef enum ConfigType {
        CT_STRING,
        CT_BOOL,
        CT_INT,
        CT_STRV,
        CT_MAP,
} ConfigType;

enum {
        CK_RELOAD = 1 << 0,     /* applied by SIGHUP */
        CK_NOFLAG = 1 << 1,     /* no command-line flag */
        CK_DURATION = 1 << 2,   /* string holding a duration ("1m30s") */
        CK_DEPRECATED = 1 << 3, /* kept for compatibility */
        CK_NOEFFECT = 1 << 4,   /* accepted for compatibility with CRI-O; crio-c does not act on it */
        CK_SIZE = 1 << 5,       /* string holding a size in bytes ("12MiB") */
};

/* A string-to-string table (TOML table of strings), in insertion order. */
typedef struct StrMap {
        char **keys;
        char **values;
        size_t n;
} StrMap;

typedef struct ConfigKey {
        const char *table; /* dotted TOML table, "crio.runtime"; "" or a subtable name for handler keys */
        const char *name;
        ConfigType type;
        size_t offset; /* of the value inside its struct */
        const char *def;
        unsigned flags;
        const char *choices; /* "a|b|c" or NULL */
        const char *doc;
} ConfigKey;

#define CFG_FIELD_STRING(n) char *n;
#define CFG_FIELD_BOOL(n) bool n;
#define CFG_FIELD_INT(n) int64_t n;
#define CFG_FIELD_STRV(n) char **n;
#define CFG_FIELD_MAP(n) StrMap n;

/* [crio.runtime.runtimes.NAME] */
typedef struct RuntimeHandler {
        char *name;
#define RKEY(name, type, def, flags, choices, doc) CFG_FIELD_##type(name)
#include "runtime-keys.def"
#undef RKEY
} RuntimeHandler;

/* [crio.runtime.workloads.NAME] */
typedef struct Workload {
        char *name;
#define WKEY(sub, name, type, def, flags, choices, doc) CFG_FIELD_##type(name)
#include "workload-keys.def"
#undef WKEY
} Workload;

typedef struct Config {
#define KEY(table, name, type, def, flags, choices, doc) CFG_FIELD_##type(name)
#include "config-keys.def"
#undef KEY
        RuntimeHandler **runtimes; /* in definition order; the built-in runc and crun come first */
        size_t n_runtimes;
        Workload **workloads;
        size_t n_workloads;
} Config;

extern const ConfigKey config_keys[];
extern const size_t config_keys_count;
extern const ConfigKey runtime_keys[];
extern const size_t runtime_keys_count;
extern const ConfigKey workload_keys[];
extern const size_t workload_keys_count;

/* A Config holding the built-in defaults. Never fails. */
Config *config_new_default(void);
Config *config_free(Config *c);
void config_freep(Config **c);
#define _cleanup_config_ _cleanup_(config_freep)

/*
 * Apply one parsed TOML document on top of `c`: every key present replaces the current value.
 * Unknown keys are not errors: a "FILE:LINE: unknown key ..." line is pushed to *warnings.
 * A wrong type is -EINVAL naming file:line and the key. On error `c` may be partly updated;
 * callers load into a scratch Config so a failed load never touches the live one.
 */
int config_apply_toml(Config *c, const TomlValue *doc, const char *filename, char ***warnings,
                      Error **reterr);

/* Set a key from its command-line/environment text: "true", "42", "a,b,c". */
int config_set_from_string(void *base, const ConfigKey *key, const char *value, Error **reterr);

/* Semantic checks after all sources are merged: choices, durations, regexes, handler references. */
int config_validate(const Config *c, Error **reterr);

/* Find a key by table and name in one of the descriptor tables. */
const ConfigKey *config_key_find(const ConfigKey *keys, size_t n, const char *table, const char *name);

RuntimeHandler *config_find_runtime(const Config *c, const char *name);

/*
 * One additional_devices entry, "HOST[:CONTAINER][:PERMISSIONS]" as CRI-O writes them: absolute paths,
 * permissions a non-empty subset of "rwm" (default "rwm"); CONTAINER defaults to HOST. -EINVAL when
 * malformed. The strings are new; the caller frees them.
 */
int config_parse_device(const char *spec, char **ret_host, char **ret_container, char **ret_permissions);

/*
 * The host file a container's /etc/localtime shows for `timezone`: "/etc/localtime" for "Local" (any
 * case), else the zone's file under /usr/share/zoneinfo. NULL for "". -EINVAL for a name that is
 * absolute, has a ".." or characters no zone name has. The path is new; the caller frees it. Pure.
 */
int config_timezone_file(const char *timezone, char **ret_path);

/* Whether `list` is a Linux CPU list: "N" or "N-M" items (N <= M < 8192), comma-separated. Pure. */
bool config_cpu_list_valid(const char *list);

/* One line of a default_mounts_file: a host path bound read-only into every container. */
typedef struct MountsFileEntry {
        char *source, *destination;
} MountsFileEntry;

/*
 * Parse the text of a mounts file: "/SRC:/DST" or "/PATH" lines; lines not starting with '/' (comments,
 * blanks) are skipped, as containers-mounts.conf(5) does. -EINVAL naming `filename` and the line for a
 * line with a relative destination, "..", or more than one ':'. The array is new (NULL when empty).
 */
int mounts_file_parse(const char *text, const char *filename, MountsFileEntry **ret, size_t *ret_n,
                      Error **reterr);
/* Read and parse the file at `path`; a missing file has no entries. Blocks on I/O. */
int mounts_file_load(const char *path, MountsFileEntry **ret, size_t *ret_n, Error **reterr);
void mounts_file_free(MountsFileEntry *m, size_t n);

/* GnuTLS priorities (libmicrohttpd's TLS) for the streaming and metrics servers, from tls_min_version. */
const char *config_tls_priorities(const Config *c);

/* Effective grpc limits: the configured size, or 80 MiB when <= 0 or larger than INT_MAX. */
int config_grpc_max_send(const Config *c);
int config_grpc_max_recv(const Config *c);

/* `crio config`: commented TOML that parses back to the same Config. */
void config_write_toml(const Config *c, FILE *f);

/* The same data as a JSON object ({"crio": {"root": ..., "api": {...}}}); caller owns it. */
json_object *config_to_json(const Config *c);

/* Go-style duration ("1h2m3.5s", "300ms", "0"): nanoseconds, or -EINVAL. Exposed for tests. */
int parse_duration(const char *s, int64_t *ret_ns);

/*
 * A size as CRI-O writes them ("12MiB", "500KiB", "1g", "4096"): a decimal integer and an optional
 * unit, b, k, m, g, t or p with an optional "i" and "b" after it, any case, all powers of 1024.
 * -EINVAL when malformed, -ERANGE past INT64_MAX.
 */
int parse_size(const char *s, int64_t *ret_bytes);

/* A key's value as TOML text ("\"info\"", "true", "[\"a\"]"), for comparing and logging. */
char *config_value_to_string(const void *base, const ConfigKey *key);

/*
 * `base` now holds a value for `key` that was `before` (its TOML text): if crio-c does not act on the
 * key (CK_NOEFFECT) and the value changed, add a warning naming `where` (file:line, flag or variable).
 */
void config_note_no_effect(char ***warnings, const char *where, const char *path, const char *before,
                           const void *base, const ConfigKey *key);

/* Copy one key's value from `src` to `dst` (both of the struct the key describes). */
void config_copy_value(void *dst, const void *src, const ConfigKey *key);
