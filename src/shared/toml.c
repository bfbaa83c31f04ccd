/* SPDX-License-Identifier: Apache-2.0 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "toml.h"

/* Tree depth bound: keeps the recursive parser and toml_free() far from the stack limit. */
#define MAX_DEPTH 128
#define MAX_FILE_SIZE ((size_t)16 << 20)
#define DESCRIBE_MAX 32

/*
 * How a table or array came to exist. TOML's redefinition rules depend on it: a table created only as
 * the parent of a [header] may still be defined once; one defined by a header or by dotted keys may not;
 * inline tables and static arrays are closed once written.
 */
typedef enum NodeKind {
        NODE_PLAIN,
        NODE_TABLE_IMPLICIT,
        NODE_TABLE_HEADER,
        NODE_TABLE_DOTTED,
        NODE_TABLE_INLINE,
        NODE_ARRAY_STATIC,
        NODE_ARRAY_TABLES,
} NodeKind;

/* Every value is allocated as a Node; the TomlValue comes first so toml_free() can free() it as is. */
typedef struct Node {
        TomlValue value;
        NodeKind kind;
} Node;

/* One hash of (table, key) -> position for the whole parse, so that huge tables stay linear. */
typedef struct KeySlot {
        TomlValue *table;
        size_t idx;
} KeySlot;

typedef struct KeyIndex {
        KeySlot *slots;
        size_t cap, n;
} KeyIndex;

typedef struct KeyPath {
        char **parts;
        size_t *pos;
        size_t n;
        unsigned line;
} KeyPath;

typedef struct Buf {
        char *data;
        size_t len, cap;
} Buf;

typedef struct Parser {
        const char *text;
        size_t len, pos;
        const char *filename;
        Error **reterr;
        TomlValue *root, *current;
        unsigned current_depth;
        KeyIndex index;
        /* Position cache for locate(): values are located in increasing order, so this stays linear. */
        size_t loc_pos, loc_line_start;
        unsigned loc_line;
} Parser;

static const char *const type_names[] = {
        [TOML_STRING] = "string", [TOML_INTEGER] = "integer",   [TOML_FLOAT] = "float",
        [TOML_BOOL] = "boolean",  [TOML_DATETIME] = "datetime", [TOML_ARRAY] = "array",
        [TOML_TABLE] = "table",
};

const char *toml_type_to_string(TomlType t) {
        if ((size_t)t >= ELEMENTSOF(type_names))
                return "unknown";
        return type_names[t];
}

/* ---- small helpers ---- */

static bool is_digit(int c) {
        return c >= '0' && c <= '9';
}

static bool is_bare_key_char(int c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
}

static bool is_control(int c) {
        return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static int hex_value(int c) {
        if (is_digit(c))
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Length of the valid UTF-8 sequence at s (overlongs, surrogates and > U+10FFFF rejected), or 0. */
static size_t utf8_sequence_length(const unsigned char *s, size_t avail) {
        unsigned char lo = 0x80, hi = 0xbf;
        size_t n;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4;
        else
                return 0;
        if (s[0] == 0xe0)
                lo = 0xa0;
        else if (s[0] == 0xed)
                hi = 0x9f;
        else if (s[0] == 0xf0)
                lo = 0x90;
        else if (s[0] == 0xf4)
                hi = 0x8f;
        if (avail < n || s[1] < lo || s[1] > hi)
                return 0;
        for (size_t i = 2; i < n; i++)
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
        return n;
}

/* Offset of the first byte that is not valid UTF-8, or len. */
static size_t utf8_first_invalid(const char *text, size_t len) {
        const unsigned char *s = (const unsigned char *)text;
        size_t i = 0;

        while (i < len) {
                size_t n = utf8_sequence_length(s + i, len - i);
                if (n == 0)
                        return i;
                i += n;
        }
        return len;
}

/* Decodes a sequence already checked by utf8_sequence_length(). */
static uint32_t utf8_decode(const unsigned char *s, size_t n) {
        static const unsigned char lead_mask[] = {0x7f, 0x1f, 0x0f, 0x07};
        uint32_t cp = s[0] & lead_mask[n - 1];

        for (size_t i = 1; i < n; i++)
                cp = cp << 6 | (s[i] & 0x3f);
        return cp;
}

static size_t utf8_encode(uint32_t cp, char out[static 4]) {
        if (cp < 0x80) {
                out[0] = (char)cp;
                return 1;
        }
        if (cp < 0x800) {
                out[0] = (char)(0xc0 | (cp >> 6));
                out[1] = (char)(0x80 | (cp & 0x3f));
                return 2;
        }
        if (cp < 0x10000) {
                out[0] = (char)(0xe0 | (cp >> 12));
                out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
                out[2] = (char)(0x80 | (cp & 0x3f));
                return 3;
        }
        out[0] = (char)(0xf0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[3] = (char)(0x80 | (cp & 0x3f));
        return 4;
}

static void buf_put(Buf *b, const char *s, size_t n) {
        if (b->len + n + 1 > b->cap) {
                size_t cap = b->cap ? b->cap : 32;
                while (cap < b->len + n + 1)
                        cap *= 2;
                b->data = xrealloc(b->data, cap);
                b->cap = cap;
        }
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len] = 0;
}

static void buf_putc(Buf *b, char c) {
        buf_put(b, &c, 1);
}

/* Hands out a NUL-terminated string, even when nothing was written. */
static char *buf_steal(Buf *b) {
        if (!b->data)
                buf_put(b, "", 0);
        b->len = b->cap = 0;
        return TAKE_PTR(b->data);
}

static void buf_done(Buf *b) {
        free(b->data);
        *b = (Buf){};
}

/* ---- values ---- */

static TomlValue *node_new(TomlType type, NodeKind kind) {
        Node *n = xcalloc(1, sizeof(Node));
        n->value.type = type;
        n->kind = kind;
        return &n->value;
}

static NodeKind node_kind(const TomlValue *v) {
        return ((const Node *)v)->kind;
}

static void node_set_kind(TomlValue *v, NodeKind kind) {
        ((Node *)v)->kind = kind;
}

TomlValue *toml_free(TomlValue *v) {
        if (!v)
                return NULL;
        if (v->type == TOML_STRING)
                free(v->string);
        else if (v->type == TOML_ARRAY) {
                for (size_t i = 0; i < v->array.n; i++)
                        toml_free(v->array.items[i]);
                free(v->array.items);
        } else if (v->type == TOML_TABLE) {
                for (size_t i = 0; i < v->table.n; i++) {
                        free(v->table.keys[i]);
                        toml_free(v->table.values[i]);
                }
                free(v->table.keys);
                free(v->table.values);
                free(v->table.key_lines);
        }
        free(v);
        return NULL;
}

void toml_freep(TomlValue **v) {
        *v = toml_free(*v);
}

const TomlValue *toml_get(const TomlValue *table, const char *key) {
        if (!table || !key || table->type != TOML_TABLE)
                return NULL;
        for (size_t i = 0; i < table->table.n; i++)
                if (strcmp(table->table.keys[i], key) == 0)
                        return table->table.values[i];
        return NULL;
}

/* Capacity is implied by n (4, 8, 16, ...), so the public structs need no capacity field. */
static size_t grown_capacity(size_t n) {
        if (n == 0)
                return 4;
        if (n >= 4 && (n & (n - 1)) == 0)
                return n * 2;
        return 0;
}

static void array_append(TomlValue *a, TomlValue *item) {
        size_t cap = grown_capacity(a->array.n);
        if (cap > 0)
                a->array.items = xrealloc(a->array.items, cap * sizeof(TomlValue *));
        a->array.items[a->array.n++] = item;
}

static uint64_t key_hash(const TomlValue *table, const char *key) {
        uint64_t h = 0xcbf29ce484222325ULL ^ ((uintptr_t)table * 0x9e3779b97f4a7c15ULL);
        for (const unsigned char *s = (const unsigned char *)key; *s; s++)
                h = (h ^ *s) * 0x100000001b3ULL;
        return h ^ (h >> 29);
}

static void key_index_insert(KeyIndex *ix, TomlValue *table, size_t idx) {
        size_t mask = ix->cap - 1;
        size_t i = key_hash(table, table->table.keys[idx]) & mask;
        while (ix->slots[i].table)
                i = (i + 1) & mask;
        ix->slots[i] = (KeySlot){.table = table, .idx = idx};
        ix->n++;
}

static void key_index_add(KeyIndex *ix, TomlValue *table, size_t idx) {
        if ((ix->n + 1) * 2 > ix->cap) {
                KeySlot *old = ix->slots;
                size_t old_cap = ix->cap;
                ix->cap = old_cap ? old_cap * 2 : 64;
                ix->slots = xcalloc(ix->cap, sizeof(KeySlot));
                ix->n = 0;
                for (size_t i = 0; i < old_cap; i++)
                        if (old[i].table)
                                key_index_insert(ix, old[i].table, old[i].idx);
                free(old);
        }
        key_index_insert(ix, table, idx);
}

static ssize_t table_find(const Parser *p, const TomlValue *table, const char *key) {
        const KeyIndex *ix = &p->index;
        if (ix->cap == 0)
                return -1;
        size_t mask = ix->cap - 1;
        for (size_t i = key_hash(table, key) & mask; ix->slots[i].table; i = (i + 1) & mask) {
                const KeySlot *s = &ix->slots[i];
                if (s->table == table && strcmp(table->table.keys[s->idx], key) == 0)
                        return (ssize_t)s->idx;
        }
        return -1;
}

/* Takes ownership of key and value. */
static void table_append(Parser *p, TomlValue *t, char *key, TomlValue *v, unsigned line) {
        size_t n = t->table.n, cap = grown_capacity(n);
        if (cap > 0) {
                t->table.keys = xrealloc(t->table.keys, cap * sizeof(char *));
                t->table.values = xrealloc(t->table.values, cap * sizeof(TomlValue *));
                t->table.key_lines = xrealloc(t->table.key_lines, cap * sizeof(unsigned));
        }
        t->table.keys[n] = key;
        t->table.values[n] = v;
        t->table.key_lines[n] = line;
        t->table.n = n + 1;
        key_index_add(&p->index, t, n);
}

/* ---- positions and errors ---- */

static void locate(Parser *p, size_t pos, unsigned *ret_line, unsigned *ret_column) {
        /* Going back within the current line is common (a key, then its header's '['); earlier lines
         * are only revisited for an error message, so a rescan from the start is fine there. */
        if (pos < p->loc_line_start) {
                p->loc_pos = p->loc_line_start = 0;
                p->loc_line = 1;
        }
        if (pos < p->loc_pos) {
                *ret_line = p->loc_line;
                *ret_column = (unsigned)(pos - p->loc_line_start + 1);
                return;
        }
        while (p->loc_pos < pos) {
                const char *nl = memchr(p->text + p->loc_pos, '\n', pos - p->loc_pos);
                if (!nl) {
                        p->loc_pos = pos;
                        break;
                }
                p->loc_line++;
                p->loc_pos = p->loc_line_start = (size_t)(nl - p->text) + 1;
        }
        *ret_line = p->loc_line;
        *ret_column = (unsigned)(pos - p->loc_line_start + 1);
}

static void set_position(Parser *p, TomlValue *v, size_t pos) {
        locate(p, pos, &v->line, &v->column);
}

static unsigned line_of(Parser *p, size_t pos) {
        unsigned line, column;
        locate(p, pos, &line, &column);
        return line;
}

_printf_(3, 4) static int parse_error(Parser *p, size_t pos, const char *fmt, ...) {
        unsigned line, column;
        char *msg = NULL;
        va_list ap;

        locate(p, pos, &line, &column);
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        error_set(p->reterr, EINVAL, "%s:%u:%u: %s", p->filename, line, column, msg ? msg : fmt);
        free(msg);
        return -EINVAL;
}

/* Human description of the byte at pos for messages: 'x', end of input, or a code. */
static const char *describe_at(const Parser *p, size_t pos, char buf[static DESCRIBE_MAX]) {
        if (pos >= p->len)
                return "end of input";
        const unsigned char *s = (const unsigned char *)p->text + pos;
        if (s[0] == '\n')
                return "newline";
        if (s[0] == ' ')
                return "space";
        if (s[0] == '\t')
                return "tab";
        /* The input is valid UTF-8 by now, so a multi-byte character can be quoted whole. */
        if (s[0] >= 0x80) {
                size_t n = utf8_sequence_length(s, p->len - pos);
                snprintf(buf, DESCRIBE_MAX, "'%.*s' (U+%04X)", (int)n, (const char *)s, utf8_decode(s, n));
        } else if (is_control(s[0]))
                snprintf(buf, DESCRIBE_MAX, "control character U+%04X", s[0]);
        else
                snprintf(buf, DESCRIBE_MAX, "'%c'", s[0]);
        return buf;
}

/* A key as TOML would write it, for messages. */
static char *key_display(const KeyPath *k, size_t n) {
        char *s = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&s, &len);
        if (!f)
                return xstrdup("?");
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        fputc('.', f);
                toml_write_key(f, k->parts[i]);
        }
        if (fclose(f) != 0) {
                free(s);
                return xstrdup("?");
        }
        return s;
}

/* ---- scanning ---- */

static int peek_at(const Parser *p, size_t off) {
        if (p->pos + off >= p->len)
                return -1;
        return (unsigned char)p->text[p->pos + off];
}

static int peek(const Parser *p) {
        return peek_at(p, 0);
}

static bool looking_at(const Parser *p, const char *s) {
        size_t n = strlen(s);
        return p->len - p->pos >= n && memcmp(p->text + p->pos, s, n) == 0;
}

static void skip_ws(Parser *p) {
        while (peek(p) == ' ' || peek(p) == '\t')
                p->pos++;
}

static bool at_newline(const Parser *p) {
        return peek(p) == '\n' || (peek(p) == '\r' && peek_at(p, 1) == '\n');
}

static bool consume_newline(Parser *p) {
        if (peek(p) == '\n') {
                p->pos++;
                return true;
        }
        if (looking_at(p, "\r\n")) {
                p->pos += 2;
                return true;
        }
        return false;
}

/* At '#': consume the comment up to, not including, the newline. */
static int skip_comment(Parser *p) {
        p->pos++;
        while (p->pos < p->len && !at_newline(p)) {
                if (is_control(peek(p)))
                        return parse_error(p, p->pos, "control character U+%04X is not allowed in a comment",
                                           (unsigned)peek(p));
                p->pos++;
        }
        return 0;
}

/* Whitespace, comments and newlines, as allowed between array elements. */
static int skip_blank(Parser *p) {
        for (;;) {
                skip_ws(p);
                if (peek(p) == '#') {
                        int r = skip_comment(p);
                        if (r < 0)
                                return r;
                }
                if (!consume_newline(p))
                        return 0;
        }
}

/* After a key/value pair or a header: optional whitespace and comment, then a newline or the end. */
static int expect_line_end(Parser *p, const char *after) {
        char buf[DESCRIBE_MAX];

        skip_ws(p);
        if (peek(p) == '#') {
                int r = skip_comment(p);
                if (r < 0)
                        return r;
        }
        if (p->pos >= p->len || consume_newline(p))
                return 0;
        return parse_error(p, p->pos, "expected a newline after %s, found %s", after,
                           describe_at(p, p->pos, buf));
}

/* ---- strings ---- */

static int parse_unicode_escape(Parser *p, size_t digits, Buf *b) {
        size_t start = p->pos - 2;
        uint32_t cp = 0;
        char out[4];

        for (size_t i = 0; i < digits; i++) {
                int h = hex_value(peek(p));
                if (h < 0)
                        return parse_error(p, start, "\\%c escape needs %zu hex digits",
                                           digits == 4 ? 'u' : 'U', digits);
                cp = cp << 4 | (uint32_t)h;
                p->pos++;
        }
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return parse_error(p, start, "escape names U+%04X, which is not a Unicode scalar value", cp);
        buf_put(b, out, utf8_encode(cp, out));
        return 0;
}

/* A backslash at the end of a line in a multi-line basic string eats all whitespace up to the next text. */
static bool skip_line_ending_backslash(Parser *p) {
        size_t save = p->pos;

        skip_ws(p);
        if (!consume_newline(p)) {
                p->pos = save;
                return false;
        }
        for (;;) {
                skip_ws(p);
                if (!consume_newline(p))
                        return true;
        }
}

static int parse_escape(Parser *p, bool multiline, Buf *b) {
        static const char simple[][2] = {{'b', '\b'}, {'t', '\t'}, {'n', '\n'}, {'f', '\f'},
                                         {'r', '\r'}, {'"', '"'},  {'\\', '\\'}};
        size_t start = p->pos;
        int c = peek_at(p, 1);
        char buf[DESCRIBE_MAX];

        p->pos += 2;
        for (size_t i = 0; i < ELEMENTSOF(simple); i++)
                if (c == simple[i][0]) {
                        buf_putc(b, simple[i][1]);
                        return 0;
                }
        if (c == 'u' || c == 'U')
                return parse_unicode_escape(p, c == 'u' ? 4 : 8, b);
        p->pos = start + 1;
        if (multiline && skip_line_ending_backslash(p))
                return 0;
        return parse_error(p, start, "invalid escape sequence: backslash followed by %s",
                           describe_at(p, start + 1, buf));
}

/* In a multi-line string at a quote: a run of 3 to 5 closes it, the extra ones being content. */
static int multiline_quotes(Parser *p, char quote, Buf *b, bool *ret_closed) {
        size_t n = 0;

        while (peek_at(p, n) == quote)
                n++;
        if (n > 5)
                return parse_error(p, p->pos, "too many quotes at the end of a multi-line string");
        *ret_closed = n >= 3;
        for (size_t i = 0; i < (n >= 3 ? n - 3 : n); i++)
                buf_putc(b, quote);
        p->pos += n;
        return 0;
}

/* One step inside a string body; sets *ret_closed at the closing delimiter. */
static int string_step(Parser *p, char quote, bool multiline, size_t start, Buf *b, bool *ret_closed) {
        int c = peek(p);

        if (c < 0)
                return parse_error(p, start, "unterminated string");
        if (c == quote && multiline)
                return multiline_quotes(p, quote, b, ret_closed);
        if (c == quote) {
                p->pos++;
                *ret_closed = true;
                return 0;
        }
        if (c == '\\' && quote == '"')
                return parse_escape(p, multiline, b);
        if (multiline && consume_newline(p)) {
                /* CRLF is normalised to LF so that a value does not depend on the file's line endings. */
                buf_putc(b, '\n');
                return 0;
        }
        if (c == '\n' || (c == '\r' && peek_at(p, 1) == '\n'))
                return parse_error(p, start, "unterminated string: newline before the closing quote");
        if (is_control(c))
                return parse_error(p, p->pos, "control character U+%04X must be escaped in a string",
                                   (unsigned)c);
        buf_putc(b, (char)c);
        p->pos++;
        return 0;
}

/* At a quote: a basic or literal string, multi-line only where a value is expected. */
static int parse_string(Parser *p, bool allow_multiline, char **ret, size_t *ret_len) {
        char quote = p->text[p->pos];
        bool multiline = allow_multiline && looking_at(p, quote == '"' ? "\"\"\"" : "'''");
        size_t start = p->pos;
        bool closed = false;
        Buf b = {};

        p->pos += multiline ? 3 : 1;
        if (multiline)
                (void)consume_newline(p);
        while (!closed) {
                int r = string_step(p, quote, multiline, start, &b, &closed);
                if (r < 0) {
                        buf_done(&b);
                        return r;
                }
        }
        *ret_len = b.len;
        *ret = buf_steal(&b);
        return 0;
}

/* ---- keys ---- */

static void key_path_done(KeyPath *k) {
        for (size_t i = 0; i < k->n; i++)
                free(k->parts[i]);
        free(k->parts);
        free(k->pos);
        *k = (KeyPath){};
}

static int parse_simple_key(Parser *p, char **ret) {
        size_t start = p->pos, len;
        char buf[DESCRIBE_MAX];

        if (peek(p) == '"' || peek(p) == '\'') {
                int r = parse_string(p, false, ret, &len);
                if (r < 0)
                        return r;
                if (strlen(*ret) != len) {
                        free(*ret);
                        *ret = NULL;
                        return parse_error(p, start, "keys containing U+0000 are not supported");
                }
                return 0;
        }
        while (is_bare_key_char(peek(p)))
                p->pos++;
        if (p->pos == start)
                return parse_error(p, start, "expected a key, found %s", describe_at(p, start, buf));
        *ret = xstrndup(p->text + start, p->pos - start);
        return 0;
}

/* A possibly dotted key; whitespace around the dots is allowed, and consumed after the last part. */
static int parse_key(Parser *p, KeyPath *k) {
        k->line = line_of(p, p->pos);
        for (;;) {
                size_t start = p->pos;
                char *part = NULL;

                if (k->n >= MAX_DEPTH)
                        return parse_error(p, start, "key has more than %d parts", MAX_DEPTH);
                int r = parse_simple_key(p, &part);
                if (r < 0)
                        return r;
                size_t cap = grown_capacity(k->n);
                if (cap > 0) {
                        k->parts = xrealloc(k->parts, cap * sizeof(char *));
                        k->pos = xrealloc(k->pos, cap * sizeof(size_t));
                }
                k->parts[k->n] = part;
                k->pos[k->n++] = start;
                skip_ws(p);
                if (peek(p) != '.')
                        return 0;
                p->pos++;
                skip_ws(p);
        }
}

/* ---- numbers ---- */

/* Digits of `base` with single underscores, each between two digits. */
static bool valid_digits(const char *s, size_t n, unsigned base, bool leading_zero_ok) {
        if (n == 0 || (!leading_zero_ok && n > 1 && s[0] == '0'))
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '_') {
                        if (i == 0 || i == n - 1 || s[i + 1] == '_')
                                return false;
                        continue;
                }
                int d = hex_value((unsigned char)s[i]);
                if (d < 0 || (unsigned)d >= base)
                        return false;
        }
        return true;
}

static bool accumulate(const char *s, size_t n, unsigned base, uint64_t limit, uint64_t *ret) {
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++) {
                if (s[i] == '_')
                        continue;
                uint64_t d = (uint64_t)hex_value((unsigned char)s[i]);
                if (v > (limit - d) / base)
                        return false;
                v = v * base + d;
        }
        *ret = v;
        return true;
}

static int parse_integer(Parser *p, size_t start, size_t n, TomlValue **ret) {
        const char *s = p->text + start;
        unsigned base = 10;
        bool negative = false;
        size_t i = 0;
        uint64_t magnitude;

        if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
                base = s[1] == 'x' ? 16 : s[1] == 'o' ? 8 : 2;
                i = 2;
        } else if (s[0] == '+' || s[0] == '-') {
                negative = s[0] == '-';
                i = 1;
        }
        if (!valid_digits(s + i, n - i, base, base != 10))
                return parse_error(p, start, "invalid number '%.*s'", (int)(n < 64 ? n : 64), s);
        if (!accumulate(s + i, n - i, base, negative ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &magnitude))
                return parse_error(p, start, "integer '%.*s' does not fit in 64 bits",
                                   (int)(n < 64 ? n : 64), s);
        *ret = node_new(TOML_INTEGER, NODE_PLAIN);
        if (!negative)
                (*ret)->integer = (int64_t)magnitude;
        else
                (*ret)->integer = magnitude > INT64_MAX ? INT64_MIN : -(int64_t)magnitude;
        return 0;
}

/* [sign] int-part [. digits] [e|E [sign] digits], with a fraction or an exponent or both. */
static bool valid_float(const char *s, size_t n) {
        size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
        size_t j = i, k;

        while (j < n && s[j] != '.' && s[j] != 'e' && s[j] != 'E')
                j++;
        if (j == n || !valid_digits(s + i, j - i, 10, false))
                return false;
        if (s[j] == '.') {
                for (k = j + 1; k < n && s[k] != 'e' && s[k] != 'E'; k++)
                        ;
                if (!valid_digits(s + j + 1, k - j - 1, 10, true))
                        return false;
                j = k;
        }
        if (j == n)
                return true;
        j++;
        if (j < n && (s[j] == '+' || s[j] == '-'))
                j++;
        return valid_digits(s + j, n - j, 10, true);
}

static bool special_float(const char *s, size_t n, double *ret) {
        size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
        double sign = s[0] == '-' ? -1.0 : 1.0;

        if (n - i != 3)
                return false;
        if (memcmp(s + i, "inf", 3) == 0)
                *ret = copysign(INFINITY, sign);
        else if (memcmp(s + i, "nan", 3) == 0)
                *ret = copysign(NAN, sign);
        else
                return false;
        return true;
}

/* strtod() follows LC_NUMERIC; TOML always uses '.', so convert in the C locale. */
static double c_strtod(const char *s) {
        locale_t c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
        if (!c)
                return strtod(s, NULL);
        double d = strtod_l(s, NULL, c);
        freelocale(c);
        return d;
}

static int parse_float(Parser *p, size_t start, size_t n, TomlValue **ret) {
        const char *s = p->text + start;
        double d;

        if (!special_float(s, n, &d)) {
                if (!valid_float(s, n))
                        return parse_error(p, start, "invalid number '%.*s'", (int)(n < 64 ? n : 64), s);
                _cleanup_free_ char *digits = xmalloc(n + 1);
                size_t m = 0;
                for (size_t i = 0; i < n; i++)
                        if (s[i] != '_')
                                digits[m++] = s[i];
                digits[m] = 0;
                d = c_strtod(digits);
                if (isinf(d))
                        return parse_error(p, start, "float '%.*s' is out of range", (int)(n < 64 ? n : 64),
                                           s);
        }
        *ret = node_new(TOML_FLOAT, NODE_PLAIN);
        (*ret)->floating = d;
        return 0;
}

static int parse_number(Parser *p, TomlValue **ret) {
        size_t start = p->pos;

        while (p->pos < p->len && (is_bare_key_char(peek(p)) || peek(p) == '.' || peek(p) == '+'))
                p->pos++;

        const char *s = p->text + start;
        size_t n = p->pos - start;
        bool prefixed = n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b');
        double ignored;
        if (!prefixed &&
            (special_float(s, n, &ignored) || memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n)))
                return parse_float(p, start, n, ret);
        return parse_integer(p, start, n, ret);
}

/* ---- dates and times ---- */

static bool digits_at(const Parser *p, size_t off, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!is_digit(peek_at(p, off + i)))
                        return false;
        return true;
}

/* The caller has checked that the digits are there. */
static int read_digits(Parser *p, size_t n) {
        int v = 0;
        for (size_t i = 0; i < n; i++)
                v = v * 10 + (p->text[p->pos++] - '0');
        return v;
}

static int days_in_month(int year, int month) {
        static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
        return month == 2 && leap ? 29 : days[month - 1];
}

static int parse_date(Parser *p, TomlDatetime *dt) {
        size_t start = p->pos;

        if (!digits_at(p, 0, 4) || peek_at(p, 4) != '-' || !digits_at(p, 5, 2) || peek_at(p, 7) != '-' ||
            !digits_at(p, 8, 2))
                return parse_error(p, start, "invalid date, expected YYYY-MM-DD");
        dt->year = read_digits(p, 4);
        p->pos++;
        dt->month = read_digits(p, 2);
        p->pos++;
        dt->day = read_digits(p, 2);
        if (dt->month < 1 || dt->month > 12 || dt->day < 1 || dt->day > days_in_month(dt->year, dt->month))
                return parse_error(p, start, "invalid date %04d-%02d-%02d", dt->year, dt->month, dt->day);
        return 0;
}

static void parse_fraction(Parser *p, TomlDatetime *dt) {
        size_t digits = 0;

        dt->nanosecond = 0;
        for (; is_digit(peek(p)); p->pos++, digits++)
                if (digits < 9)
                        dt->nanosecond = dt->nanosecond * 10 + (uint32_t)(peek(p) - '0');
        for (; digits < 9; digits++)
                dt->nanosecond *= 10;
}

static int parse_time(Parser *p, TomlDatetime *dt) {
        size_t start = p->pos;

        if (!digits_at(p, 0, 2) || peek_at(p, 2) != ':' || !digits_at(p, 3, 2) || peek_at(p, 5) != ':' ||
            !digits_at(p, 6, 2))
                return parse_error(p, start, "invalid time, expected HH:MM:SS");
        dt->hour = read_digits(p, 2);
        p->pos++;
        dt->minute = read_digits(p, 2);
        p->pos++;
        dt->second = read_digits(p, 2);
        /* RFC 3339 allows a leap second, hence 60. */
        if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
                return parse_error(p, start, "invalid time %02d:%02d:%02d", dt->hour, dt->minute,
                                   dt->second);
        if (peek(p) == '.') {
                if (!is_digit(peek_at(p, 1)))
                        return parse_error(p, p->pos, "expected digits after the decimal point of a time");
                p->pos++;
                parse_fraction(p, dt);
        }
        return 0;
}

static int parse_offset(Parser *p, TomlDatetime *dt) {
        size_t start = p->pos;
        int c = peek(p);

        dt->kind = TOML_OFFSET_DATETIME;
        if (c == 'Z' || c == 'z') {
                p->pos++;
                return 0;
        }
        if (c != '+' && c != '-') {
                dt->kind = TOML_LOCAL_DATETIME;
                return 0;
        }
        if (!digits_at(p, 1, 2) || peek_at(p, 3) != ':' || !digits_at(p, 4, 2))
                return parse_error(p, start, "invalid time offset, expected Z or +HH:MM");
        p->pos++;
        int hours = read_digits(p, 2);
        p->pos++;
        int minutes = read_digits(p, 2);
        if (hours > 23 || minutes > 59)
                return parse_error(p, start, "invalid time offset %c%02d:%02d", c, hours, minutes);
        dt->offset_minutes = (c == '-' ? -1 : 1) * (hours * 60 + minutes);
        return 0;
}

static bool looks_like_datetime(const Parser *p) {
        return (digits_at(p, 0, 4) && peek_at(p, 4) == '-') || (digits_at(p, 0, 2) && peek_at(p, 2) == ':');
}

static int parse_datetime(Parser *p, TomlValue **ret) {
        TomlDatetime dt = {.kind = TOML_LOCAL_TIME};
        int r;

        if (peek_at(p, 2) == ':')
                r = parse_time(p, &dt);
        else {
                dt.kind = TOML_LOCAL_DATE;
                r = parse_date(p, &dt);
                int c = peek(p);
                /* A space separates date and time only when a time follows; otherwise it ends the value. */
                if (r >= 0 &&
                    (c == 'T' || c == 't' || (c == ' ' && digits_at(p, 1, 2) && peek_at(p, 3) == ':'))) {
                        p->pos++;
                        r = parse_time(p, &dt);
                        if (r >= 0)
                                r = parse_offset(p, &dt);
                }
        }
        if (r < 0)
                return r;
        *ret = node_new(TOML_DATETIME, NODE_PLAIN);
        (*ret)->datetime = dt;
        return 0;
}

/* ---- values ---- */

static int parse_value(Parser *p, unsigned depth, TomlValue **ret);
static int parse_keyval(Parser *p, TomlValue *table, unsigned depth);

static int parse_string_value(Parser *p, TomlValue **ret) {
        TomlValue *v = node_new(TOML_STRING, NODE_PLAIN);
        int r = parse_string(p, true, &v->string, &v->string_len);
        if (r < 0) {
                free(v);
                return r;
        }
        *ret = v;
        return 0;
}

static int parse_bool(Parser *p, TomlValue **ret) {
        char buf[DESCRIBE_MAX];
        bool b = looking_at(p, "true");

        if (!b && !looking_at(p, "false"))
                return parse_error(p, p->pos, "expected a value, found %s", describe_at(p, p->pos, buf));
        p->pos += b ? 4 : 5;
        *ret = node_new(TOML_BOOL, NODE_PLAIN);
        (*ret)->boolean = b;
        return 0;
}

static int parse_array(Parser *p, unsigned depth, TomlValue **ret) {
        _cleanup_toml_ TomlValue *a = node_new(TOML_ARRAY, NODE_ARRAY_STATIC);
        char buf[DESCRIBE_MAX];

        p->pos++;
        for (;;) {
                TomlValue *item = NULL;
                int r = skip_blank(p);
                if (r < 0)
                        return r;
                if (peek(p) == ']')
                        break;
                r = parse_value(p, depth + 1, &item);
                if (r < 0)
                        return r;
                array_append(a, item);
                r = skip_blank(p);
                if (r < 0)
                        return r;
                if (peek(p) == ']')
                        break;
                if (peek(p) != ',')
                        return parse_error(p, p->pos, "expected ',' or ']' in array, found %s",
                                           describe_at(p, p->pos, buf));
                p->pos++;
        }
        p->pos++;
        *ret = TAKE_PTR(a);
        return 0;
}

static int parse_inline_table(Parser *p, unsigned depth, TomlValue **ret) {
        _cleanup_toml_ TomlValue *t = node_new(TOML_TABLE, NODE_TABLE_INLINE);
        char buf[DESCRIBE_MAX];

        p->pos++;
        skip_ws(p);
        while (peek(p) != '}') {
                int r = parse_keyval(p, t, depth);
                if (r < 0)
                        return r;
                skip_ws(p);
                if (peek(p) == '}')
                        break;
                if (peek(p) != ',')
                        return parse_error(p, p->pos, "expected ',' or '}' in inline table, found %s",
                                           describe_at(p, p->pos, buf));
                p->pos++;
                skip_ws(p);
                if (peek(p) == '}')
                        return parse_error(p, p->pos, "trailing comma is not allowed in an inline table");
        }
        p->pos++;
        *ret = TAKE_PTR(t);
        return 0;
}

static int parse_value(Parser *p, unsigned depth, TomlValue **ret) {
        size_t start = p->pos;
        unsigned line, column;
        int c = peek(p), r;
        char buf[DESCRIBE_MAX];

        /* Located before parsing so that locate() only moves forward. */
        locate(p, start, &line, &column);
        if ((c == '[' || c == '{') && depth > MAX_DEPTH)
                return parse_error(p, start, "arrays and tables nested deeper than %d levels", MAX_DEPTH);
        if (c == '"' || c == '\'')
                r = parse_string_value(p, ret);
        else if (c == '[')
                r = parse_array(p, depth, ret);
        else if (c == '{')
                r = parse_inline_table(p, depth, ret);
        else if (c == 't' || c == 'f')
                r = parse_bool(p, ret);
        else if (looks_like_datetime(p))
                r = parse_datetime(p, ret);
        else if (is_digit(c) || c == '+' || c == '-' || c == 'i' || c == 'n')
                r = parse_number(p, ret);
        else
                return parse_error(p, start, "expected a value, found %s", describe_at(p, start, buf));
        if (r < 0)
                return r;
        (*ret)->line = line;
        (*ret)->column = column;
        return 0;
}

/* ---- tables and keys ---- */

static const char *describe_existing(const TomlValue *v) {
        switch (v->type) {
        case TOML_TABLE:
                switch (node_kind(v)) {
                case NODE_TABLE_INLINE:
                        return "an inline table";
                case NODE_TABLE_DOTTED:
                        return "a table (by dotted keys)";
                case NODE_TABLE_IMPLICIT:
                        return "a table (by a [table] header)";
                default:
                        return "a table";
                }
        case TOML_ARRAY:
                return node_kind(v) == NODE_ARRAY_TABLES ? "an array of tables" : "a static array";
        case TOML_INTEGER:
                return "an integer";
        case TOML_STRING:
                return "a string";
        case TOML_FLOAT:
                return "a float";
        case TOML_BOOL:
                return "a boolean";
        case TOML_DATETIME:
                return "a datetime";
        }
        return "a value";
}

static int conflict_error(Parser *p, const KeyPath *k, size_t upto, const TomlValue *existing, unsigned line,
                          const char *what) {
        _cleanup_free_ char *name = key_display(k, upto);
        return parse_error(p, k->pos[upto - 1], "cannot %s '%s': it is already defined as %s at line %u",
                           what, name, describe_existing(existing), line);
}

static int dotted_step(Parser *p, TomlValue **t, const KeyPath *k, size_t i) {
        ssize_t idx = table_find(p, *t, k->parts[i]);
        TomlValue *child;

        if (idx < 0) {
                child = node_new(TOML_TABLE, NODE_TABLE_DOTTED);
                set_position(p, child, k->pos[i]);
                table_append(p, *t, xstrdup(k->parts[i]), child, k->line);
                *t = child;
                return 0;
        }
        child = (*t)->table.values[idx];
        /* Only tables made by dotted keys in this same section may be extended by dotted keys. */
        if (child->type != TOML_TABLE || node_kind(child) != NODE_TABLE_DOTTED)
                return conflict_error(p, k, i + 1, child, (*t)->table.key_lines[idx], "add keys to");
        *t = child;
        return 0;
}

static int parse_keyval(Parser *p, TomlValue *table, unsigned depth) {
        _cleanup_(key_path_done) KeyPath k = {};
        TomlValue *t = table, *v = NULL;
        char buf[DESCRIBE_MAX];

        int r = parse_key(p, &k);
        if (r < 0)
                return r;
        if (peek(p) != '=')
                return parse_error(p, p->pos, "expected '=' after a key, found %s",
                                   describe_at(p, p->pos, buf));
        p->pos++;
        skip_ws(p);
        /* The dotted keys' tables count here; the value, if a container, is checked by parse_value(). */
        if (depth + k.n - 1 > MAX_DEPTH)
                return parse_error(p, k.pos[0], "key nested deeper than %d levels", MAX_DEPTH);
        for (size_t i = 0; i + 1 < k.n; i++) {
                r = dotted_step(p, &t, &k, i);
                if (r < 0)
                        return r;
        }
        ssize_t idx = table_find(p, t, k.parts[k.n - 1]);
        if (idx >= 0) {
                _cleanup_free_ char *name = key_display(&k, k.n);
                return parse_error(p, k.pos[k.n - 1], "duplicate key '%s' (first defined at line %u)", name,
                                   t->table.key_lines[idx]);
        }
        r = parse_value(p, depth + (unsigned)k.n, &v);
        if (r < 0)
                return r;
        table_append(p, t, TAKE_PTR(k.parts[k.n - 1]), v, k.line);
        return 0;
}

/* A parent named in a [header]: created implicitly, or entered (the last element of an array of tables). */
static int header_step(Parser *p, TomlValue **t, const KeyPath *k, size_t i, unsigned *depth) {
        ssize_t idx = table_find(p, *t, k->parts[i]);
        TomlValue *child;

        (*depth)++;
        if (idx < 0) {
                child = node_new(TOML_TABLE, NODE_TABLE_IMPLICIT);
                set_position(p, child, k->pos[i]);
                table_append(p, *t, xstrdup(k->parts[i]), child, k->line);
                *t = child;
                return 0;
        }
        child = (*t)->table.values[idx];
        if (child->type == TOML_ARRAY && node_kind(child) == NODE_ARRAY_TABLES) {
                child = child->array.items[child->array.n - 1];
                (*depth)++;
        }
        if (child->type != TOML_TABLE || node_kind(child) == NODE_TABLE_INLINE)
                return conflict_error(p, k, i + 1, (*t)->table.values[idx], (*t)->table.key_lines[idx],
                                      "add a table to");
        *t = child;
        return 0;
}

static int header_define(Parser *p, TomlValue *parent, const KeyPath *k, size_t start, TomlValue **ret) {
        ssize_t idx = table_find(p, parent, k->parts[k->n - 1]);
        TomlValue *t;

        if (idx < 0) {
                t = node_new(TOML_TABLE, NODE_TABLE_HEADER);
                table_append(p, parent, xstrdup(k->parts[k->n - 1]), t, k->line);
        } else {
                t = parent->table.values[idx];
                /* A table that so far only existed as the parent of another header may be defined once. */
                if (t->type != TOML_TABLE || node_kind(t) != NODE_TABLE_IMPLICIT)
                        return conflict_error(p, k, k->n, t, parent->table.key_lines[idx], "define table");
                node_set_kind(t, NODE_TABLE_HEADER);
                parent->table.key_lines[idx] = k->line;
        }
        set_position(p, t, start);
        *ret = t;
        return 0;
}

static int header_append(Parser *p, TomlValue *parent, const KeyPath *k, size_t start, TomlValue **ret) {
        ssize_t idx = table_find(p, parent, k->parts[k->n - 1]);
        TomlValue *a, *t;

        if (idx < 0) {
                a = node_new(TOML_ARRAY, NODE_ARRAY_TABLES);
                set_position(p, a, start);
                table_append(p, parent, xstrdup(k->parts[k->n - 1]), a, k->line);
        } else {
                a = parent->table.values[idx];
                if (a->type != TOML_ARRAY || node_kind(a) != NODE_ARRAY_TABLES)
                        return conflict_error(p, k, k->n, a, parent->table.key_lines[idx],
                                              "append a table to");
        }
        t = node_new(TOML_TABLE, NODE_TABLE_HEADER);
        set_position(p, t, start);
        array_append(a, t);
        *ret = t;
        return 0;
}

/* At '[': a [table] or [[array of tables]] header, which becomes the target of following keys. */
static int parse_table_header(Parser *p) {
        _cleanup_(key_path_done) KeyPath k = {};
        size_t start = p->pos;
        bool array = peek_at(p, 1) == '[';
        const char *close = array ? "]]" : "]";
        TomlValue *t = p->root;
        unsigned depth = 0;
        char buf[DESCRIBE_MAX];

        p->pos += array ? 2 : 1;
        skip_ws(p);
        int r = parse_key(p, &k);
        if (r < 0)
                return r;
        if (!looking_at(p, close))
                return parse_error(p, p->pos, "expected '%s' to close the table header, found %s", close,
                                   describe_at(p, p->pos, buf));
        p->pos += strlen(close);
        for (size_t i = 0; i + 1 < k.n; i++) {
                r = header_step(p, &t, &k, i, &depth);
                if (r < 0)
                        return r;
        }
        depth += array ? 2 : 1;
        if (depth > MAX_DEPTH)
                return parse_error(p, start, "table nested deeper than %d levels", MAX_DEPTH);
        r = array ? header_append(p, t, &k, start, &t) : header_define(p, t, &k, start, &t);
        if (r < 0)
                return r;
        p->current = t;
        p->current_depth = depth;
        return 0;
}

static int parse_document(Parser *p) {
        while (p->pos < p->len) {
                int r = 0;

                skip_ws(p);
                int c = peek(p);
                if (c == '[')
                        r = parse_table_header(p);
                else if (c >= 0 && c != '#' && !at_newline(p))
                        r = parse_keyval(p, p->current, p->current_depth);
                if (r < 0)
                        return r;
                r = expect_line_end(p, c == '[' ? "a table header" : "a key/value pair");
                if (r < 0)
                        return r;
        }
        return 0;
}

int toml_parse(const char *text, size_t len, const char *filename, TomlValue **ret, Error **reterr) {
        Parser p = {
                .text = text ? text : "",
                .len = text ? len : 0,
                .filename = filename ? filename : "<input>",
                .reterr = reterr,
                .loc_line = 1,
        };

        if (!ret || (!text && len > 0))
                return error_set(reterr, EINVAL, "%s: invalid arguments to toml_parse()", p.filename);
        size_t bad = utf8_first_invalid(p.text, p.len);
        if (bad < p.len)
                return parse_error(&p, bad, "invalid UTF-8");
        if (looking_at(&p, "\xef\xbb\xbf"))
                p.pos = 3;
        p.root = p.current = node_new(TOML_TABLE, NODE_TABLE_HEADER);
        p.root->line = p.root->column = 1;

        int r = parse_document(&p);
        free(p.index.slots);
        if (r < 0) {
                toml_free(p.root);
                return r;
        }
        *ret = p.root;
        return 0;
}

/* ---- files ---- */

static int read_bounded(int fd, const char *path, char **ret, size_t *ret_len, Error **reterr) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                if (len == cap) {
                        cap = cap ? cap * 2 : 65536;
                        if (cap > MAX_FILE_SIZE + 1)
                                cap = MAX_FILE_SIZE + 1;
                        data = xrealloc(data, cap);
                }
                ssize_t n = read(fd, data + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        int e = errno;
                        return error_set(reterr, e, "%s: read failed: %s", path, strerror(e));
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                if (len > MAX_FILE_SIZE)
                        return error_set(reterr, EFBIG, "%s: file is larger than %zu MiB", path,
                                         MAX_FILE_SIZE >> 20);
        }
        *ret_len = len;
        *ret = TAKE_PTR(data);
        return 0;
}

int toml_parse_file(const char *path, TomlValue **ret, Error **reterr) {
        _cleanup_free_ char *data = NULL;
        size_t len = 0;

        if (!path)
                return error_set(reterr, EINVAL, "toml_parse_file(): no path");
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int e = errno;
                return error_set(reterr, e, "%s: %s", path, strerror(e));
        }
        int r = read_bounded(fd, path, &data, &len, reterr);
        if (r < 0)
                return r;
        return toml_parse(data, len, path, ret, reterr);
}

/* ---- writers ---- */

static void write_ascii_escaped(FILE *f, unsigned char c) {
        static const char named[][2] = {{'\b', 'b'}, {'\t', 't'}, {'\n', 'n'}, {'\f', 'f'},
                                        {'\r', 'r'}, {'"', '"'},  {'\\', '\\'}};

        for (size_t i = 0; i < ELEMENTSOF(named); i++)
                if (c == (unsigned char)named[i][0]) {
                        fputc('\\', f);
                        fputc(named[i][1], f);
                        return;
                }
        if (is_control(c))
                fprintf(f, "\\u%04X", (unsigned)c);
        else
                fputc(c, f);
}

void toml_write_string(FILE *f, const char *s) {
        const unsigned char *u = (const unsigned char *)(s ? s : "");
        size_t len = strlen((const char *)u);

        fputc('"', f);
        for (size_t i = 0; i < len;) {
                if (u[i] < 0x80) {
                        write_ascii_escaped(f, u[i++]);
                        continue;
                }
                size_t n = utf8_sequence_length(u + i, len - i);
                /* TOML must be valid UTF-8: a stray byte becomes U+FFFD rather than breaking the file. */
                if (n == 0) {
                        fputs("\\uFFFD", f);
                        i++;
                        continue;
                }
                fwrite(u + i, 1, n, f);
                i += n;
        }
        fputc('"', f);
}

void toml_write_key(FILE *f, const char *key) {
        bool bare = key && *key;

        for (const char *c = key; bare && *c; c++)
                bare = is_bare_key_char((unsigned char)*c);
        if (bare)
                fputs(key, f);
        else
                toml_write_string(f, key);
}
