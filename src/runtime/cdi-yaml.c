/* SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "cdi.h"

/*
 * Aliases may point at one subtree or one long scalar many times ("billion laughs"): the nodes and
 * the bytes of scalars produced are bounded. Spec files are far below these.
 */
#define YAML_MAX_NODES 200000
#define YAML_MAX_DEPTH 64
#define YAML_MAX_BYTES (16u << 20)

typedef struct Conv {
        yaml_document_t *doc;
        size_t nodes, bytes;
        Error **reterr;
} Conv;

/* A plain integer as YAML 1.1 writes them: decimal, 0x hex, 0o or leading-0 octal. */
bool cdi_yaml_integer(const char *s, int64_t *ret) {
        const char *digits = s + (*s == '-' || *s == '+');
        int base = 10;
        if (digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X'))
                base = 16, digits += 2;
        else if (digits[0] == '0' && digits[1] == 'o')
                base = 8, digits += 2;
        else if (digits[0] == '0' && digits[1] != '\0')
                base = 8, digits += 1;
        if (!isxdigit((unsigned char)*digits)) /* strtoll would take spaces and a second sign */
                return false;
        char *end = NULL;
        errno = 0;
        long long v = strtoll(digits, &end, base);
        if (*end != '\0' || errno == ERANGE)
                return false;
        *ret = *s == '-' ? -v : v;
        return true;
}

/*
 * Scalars stay strings, as the schema decides what a field is: `name: 0` is a device named "0", and
 * the spec's checks read numbers from strings where a field is a number. Only null is null.
 */
static json_object *scalar(const char *s, bool plain) {
        static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
        for (size_t i = 0; plain && i < ELEMENTSOF(nulls); i++)
                if (strcmp(s, nulls[i]) == 0)
                        return NULL;
        return json_object_new_string(s);
}

static int convert(Conv *c, yaml_node_t *node, int depth, json_object **ret);

static int convert_sequence(Conv *c, yaml_node_t *node, int depth, json_object **ret) {
        json_object *a = json_object_new_array();
        for (yaml_node_item_t *i = node->data.sequence.items.start; i < node->data.sequence.items.top; i++) {
                json_object *item = NULL;
                int r = convert(c, yaml_document_get_node(c->doc, *i), depth + 1, &item);
                if (r < 0)
                        return json_object_put(a), r;
                json_object_array_add(a, item);
        }
        *ret = a;
        return 0;
}

static int convert_mapping(Conv *c, yaml_node_t *node, int depth, json_object **ret) {
        json_object *o = json_object_new_object();
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
                yaml_node_t *key = yaml_document_get_node(c->doc, p->key);
                if (!key || key->type != YAML_SCALAR_NODE) {
                        json_object_put(o);
                        return error_set(c->reterr, EINVAL, "YAML: a mapping key is not a scalar");
                }
                json_object *value = NULL;
                int r = convert(c, yaml_document_get_node(c->doc, p->value), depth + 1, &value);
                if (r < 0)
                        return json_object_put(o), r;
                json_object_object_add(o, (const char *)key->data.scalar.value, value);
        }
        *ret = o;
        return 0;
}

static int convert(Conv *c, yaml_node_t *node, int depth, json_object **ret) {
        if (!node)
                return error_set(c->reterr, EINVAL, "YAML: a node is missing");
        if (++c->nodes > YAML_MAX_NODES || depth > YAML_MAX_DEPTH)
                return error_set(c->reterr, EINVAL, "YAML: more than %d nodes or %d levels", YAML_MAX_NODES,
                                 YAML_MAX_DEPTH);
        switch (node->type) {
        case YAML_SCALAR_NODE: {
                const char *s = (const char *)node->data.scalar.value;
                if (strlen(s) != node->data.scalar.length)
                        return error_set(c->reterr, EINVAL, "YAML: a scalar holds a NUL byte");
                c->bytes += node->data.scalar.length;
                if (c->bytes > YAML_MAX_BYTES)
                        return error_set(c->reterr, EINVAL, "YAML: aliases expand to more than %u MiB",
                                         YAML_MAX_BYTES >> 20);
                *ret = scalar(s, node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE);
                return 0;
        }
        case YAML_SEQUENCE_NODE:
                return convert_sequence(c, node, depth, ret);
        case YAML_MAPPING_NODE:
                return convert_mapping(c, node, depth, ret);
        default:
                return error_set(c->reterr, EINVAL, "YAML: an empty node");
        }
}

int cdi_yaml_to_json(const char *text, size_t len, json_object **ret, Error **reterr) {
        yaml_parser_t parser;
        yaml_document_t doc;
        if (!yaml_parser_initialize(&parser))
                return error_set(reterr, ENOMEM, "YAML: cannot set up the parser");
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
        if (!yaml_parser_load(&parser, &doc)) {
                int r = error_set(reterr, EINVAL, "YAML: %s at line %zu", strempty(parser.problem),
                                  parser.problem_mark.line + 1);
                yaml_parser_delete(&parser);
                return r;
        }
        Conv c = {.doc = &doc, .reterr = reterr};
        yaml_node_t *root = yaml_document_get_root_node(&doc);
        json_object *o = NULL;
        int r = root ? convert(&c, root, 0, &o) : error_set(reterr, EINVAL, "YAML: the document is empty");
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        if (r >= 0)
                *ret = o;
        return r;
}
