/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Writes `s` back as both a value and a key and parses the result: what `crio config` emits must read
 * back as exactly the same string. Strings are written up to their first NUL (the writers take C
 * strings), so that prefix is what must survive.
 */
static void check_roundtrip(const char *s) {
        char *doc = NULL;
        size_t len = 0, n = strlen(s);
        FILE *f = open_memstream(&doc, &len);
        TomlValue *root = NULL;
        Error *e = NULL;

        if (!f)
                abort();
        fputs("v = ", f);
        toml_write_string(f, s);
        fputs("\n[t]\n", f);
        toml_write_key(f, s);
        fputs(" = 1\n", f);
        if (fclose(f) != 0)
                abort();
        if (toml_parse(doc, len, "roundtrip", &root, &e) < 0) {
                fprintf(stderr, "written TOML does not parse: %s\n%s\n", e->message, doc);
                abort();
        }
        const TomlValue *v = toml_get(root, "v"), *t = toml_get(root, "t");
        if (!v || v->type != TOML_STRING || v->string_len != n || memcmp(v->string, s, n) != 0)
                abort();
        if (!t || t->type != TOML_TABLE || t->table.n != 1 || strcmp(t->table.keys[0], s) != 0)
                abort();
        toml_free(root);
        free(doc);
}

/* Walks the whole tree: checks positions and round-trips every string and key. */
static void walk(const TomlValue *v) {
        if (v->line == 0 || v->column == 0)
                abort();
        switch (v->type) {
        case TOML_STRING:
                check_roundtrip(v->string);
                break;
        case TOML_ARRAY:
                for (size_t i = 0; i < v->array.n; i++)
                        walk(v->array.items[i]);
                break;
        case TOML_TABLE:
                for (size_t i = 0; i < v->table.n; i++) {
                        if (v->table.key_lines[i] == 0 ||
                            toml_get(v, v->table.keys[i]) != v->table.values[i])
                                abort();
                        check_roundtrip(v->table.keys[i]);
                        walk(v->table.values[i]);
                }
                break;
        default:
                break;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        TomlValue *root = NULL;
        Error *e = NULL;

        if (toml_parse((const char *)data, size, "fuzz.toml", &root, &e) < 0) {
                /* Every error names a position. */
                if (!e || strncmp(e->message, "fuzz.toml:", 10) != 0)
                        abort();
                error_free(e);
                return 0;
        }
        if (e)
                abort();
        walk(root);
        toml_free(root);
        return 0;
}
