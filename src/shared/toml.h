/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "error.h"

/*
 * A TOML 1.0 document parsed into a tree. Every value remembers where it was defined so that
 * config errors and warnings can name file:line:column.
 */
typedef enum TomlType {
        TOML_STRING,
        TOML_INTEGER,
        TOML_FLOAT,
        TOML_BOOL,
        TOML_DATETIME,
        TOML_ARRAY,
        TOML_TABLE,
} TomlType;

typedef enum TomlDatetimeKind {
        TOML_OFFSET_DATETIME, /* 1979-05-27T07:32:00Z, 1979-05-27T00:32:00-07:00 */
        TOML_LOCAL_DATETIME,  /* 1979-05-27T07:32:00 */
        TOML_LOCAL_DATE,      /* 1979-05-27 */
        TOML_LOCAL_TIME,      /* 07:32:00.999 */
} TomlDatetimeKind;

typedef struct TomlDatetime {
        TomlDatetimeKind kind;
        int year, month, day;     /* unset (0) for a local time */
        int hour, minute, second; /* unset (0) for a local date */
        uint32_t nanosecond;      /* fractional seconds, truncated to ns */
        int offset_minutes;       /* offset datetimes only; Z is 0 */
} TomlDatetime;

typedef struct TomlValue TomlValue;

struct TomlValue {
        TomlType type;
        unsigned line, column; /* 1-based position of the value (for tables: of their header or key) */
        size_t string_len;     /* TOML_STRING only */
        union {
                char *string; /* UTF-8, NUL-terminated; string_len holds the length (\u0000 is legal) */
                int64_t integer;
                double floating;
                bool boolean;
                TomlDatetime datetime;
                struct {
                        TomlValue **items;
                        size_t n;
                } array;
                struct {
                        char **keys; /* insertion order */
                        TomlValue **values;
                        unsigned *key_lines; /* line of each key's definition */
                        size_t n;
                } table;
        };
};

/*
 * Parse a whole document. `filename` is used only in messages. On failure returns -EINVAL and sets
 * reterr to "FILE:LINE:COLUMN: what is wrong". On success *ret is the root table (owned by caller).
 * Does not block; input is untrusted (bounded nesting depth, no recursion blow-up).
 */
int toml_parse(const char *text, size_t len, const char *filename, TomlValue **ret, Error **reterr);

/* Read and parse a file. -ENOENT (with message) when it does not exist. */
int toml_parse_file(const char *path, TomlValue **ret, Error **reterr);

TomlValue *toml_free(TomlValue *v);
void toml_freep(TomlValue **v);
#define _cleanup_toml_ _cleanup_(toml_freep)

/* Lookup of a direct child of a table; NULL if absent or `table` is not a table. */
const TomlValue *toml_get(const TomlValue *table, const char *key);

const char *toml_type_to_string(TomlType t);

/* Writers used by `crio config`: emit a valid TOML basic string (with quotes and escapes) or a key
 * (bare when possible, quoted otherwise). */
void toml_write_string(FILE *f, const char *s);
void toml_write_key(FILE *f, const char *key);
