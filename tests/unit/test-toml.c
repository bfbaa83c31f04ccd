/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "toml.h"

/* ---- helpers ---- */

static TomlValue *parse_len_ok(const char *text, size_t len) {
        TomlValue *v = NULL;
        Error *e = NULL;

        if (toml_parse(text, len, "test.toml", &v, &e) < 0) {
                print_message("unexpected error: %s\ndocument:\n%.*s\n", e->message, (int)len, text);
                error_free(e);
                fail();
        }
        assert_null(e);
        assert_non_null(v);
        assert_int_equal(v->type, TOML_TABLE);
        return v;
}

static TomlValue *parse_ok(const char *text) {
        return parse_len_ok(text, strlen(text));
}

/* The document must fail with EINVAL; `location` ("LINE:COLUMN") and `what` are checked when given. */
static void check_invalid_len(const char *text, size_t len, const char *location, const char *what) {
        TomlValue *v = NULL;
        Error *e = NULL;

        int r = toml_parse(text, len, "test.toml", &v, &e);
        if (r >= 0) {
                print_message("accepted an invalid document:\n%.*s\n", (int)len, text);
                toml_free(v);
                fail();
        }
        assert_int_equal(r, -EINVAL);
        assert_null(v);
        assert_non_null(e);
        assert_int_equal(e->code, EINVAL);
        assert_true(strncmp(e->message, "test.toml:", strlen("test.toml:")) == 0);
        if (location) {
                char *prefix = NULL;
                assert_true(asprintf(&prefix, "test.toml:%s: ", location) > 0);
                if (strncmp(e->message, prefix, strlen(prefix)) != 0) {
                        print_message("expected '%s...', got '%s'\n", prefix, e->message);
                        fail();
                }
                free(prefix);
        }
        if (what && !strstr(e->message, what)) {
                print_message("expected '%s' in '%s'\n", what, e->message);
                fail();
        }
        error_free(e);
}

static void check_invalid(const char *text, const char *location, const char *what) {
        check_invalid_len(text, strlen(text), location, what);
}

static void check_all_invalid(const char *const *docs, size_t n) {
        for (size_t i = 0; i < n; i++)
                check_invalid(docs[i], NULL, NULL);
}

static void check_all_valid(const char *const *docs, size_t n) {
        for (size_t i = 0; i < n; i++)
                toml_free(parse_ok(docs[i]));
}

/* Follows '/'-separated keys (so that keys may contain dots); arrays are entered by decimal index. */
static const TomlValue *get_path(const TomlValue *v, const char *path) {
        char *copy = strdup(path), *save = NULL;

        assert_non_null(copy);
        for (char *part = strtok_r(copy, "/", &save); part && v; part = strtok_r(NULL, "/", &save)) {
                if (v->type == TOML_ARRAY) {
                        size_t i = strtoul(part, NULL, 10);
                        v = i < v->array.n ? v->array.items[i] : NULL;
                } else
                        v = toml_get(v, part);
        }
        free(copy);
        if (!v)
                print_message("no value at '%s'\n", path);
        assert_non_null(v);
        return v;
}

static const char *get_string(const TomlValue *root, const char *path) {
        const TomlValue *v = get_path(root, path);
        assert_int_equal(v->type, TOML_STRING);
        assert_int_equal(v->string_len, strlen(v->string));
        return v->string;
}

static int64_t get_int(const TomlValue *root, const char *path) {
        const TomlValue *v = get_path(root, path);
        assert_int_equal(v->type, TOML_INTEGER);
        return v->integer;
}

static double get_float(const TomlValue *root, const char *path) {
        const TomlValue *v = get_path(root, path);
        assert_int_equal(v->type, TOML_FLOAT);
        return v->floating;
}

static const TomlDatetime *get_datetime(const TomlValue *root, const char *path, TomlDatetimeKind kind) {
        const TomlValue *v = get_path(root, path);
        assert_int_equal(v->type, TOML_DATETIME);
        assert_int_equal(v->datetime.kind, kind);
        return &v->datetime;
}

static void check_datetime(const TomlDatetime *d, int year, int month, int day, int hour, int minute,
                           int second, uint32_t ns) {
        assert_int_equal(d->year, year);
        assert_int_equal(d->month, month);
        assert_int_equal(d->day, day);
        assert_int_equal(d->hour, hour);
        assert_int_equal(d->minute, minute);
        assert_int_equal(d->second, second);
        assert_int_equal(d->nanosecond, ns);
}

static void check_invalid_value(const char *value_text) {
        char *doc = NULL;
        assert_true(asprintf(&doc, "v = %s\n", value_text) > 0);
        check_invalid(doc, NULL, NULL);
        free(doc);
}

static char *write_to_string(void (*writer)(FILE *, const char *), const char *s) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        assert_non_null(f);
        writer(f, s);
        assert_int_equal(fclose(f), 0);
        return out;
}

/* ---- keys ---- */

static void test_bare_keys(void **state) {
        (void)state;
        TomlValue *root = parse_ok("key = 1\nbare_key = 2\nbare-key = 3\n1234 = 4\nABC_def-9 = 5\n-_- = 6\n"
                                   "true = 7\ninf = 8\n");
        assert_int_equal(root->table.n, 8);
        assert_int_equal(get_int(root, "key"), 1);
        assert_int_equal(get_int(root, "bare_key"), 2);
        assert_int_equal(get_int(root, "bare-key"), 3);
        assert_int_equal(get_int(root, "1234"), 4);
        assert_int_equal(get_int(root, "ABC_def-9"), 5);
        assert_int_equal(get_int(root, "-_-"), 6);
        assert_int_equal(get_int(root, "true"), 7);
        assert_int_equal(get_int(root, "inf"), 8);
        toml_free(root);
}

static void test_quoted_keys(void **state) {
        (void)state;
        TomlValue *root = parse_ok("\"127.0.0.1\" = 1\n\"character encoding\" = 2\n\"ʎǝʞ\" = 3\n"
                                   "'key2' = 4\n'quoted \"value\"' = 5\n\"\" = 6\n\"a\\tb\\u00e9\" = 7\n"
                                   "'c:\\path' = 8\n");
        assert_int_equal(get_int(root, "127.0.0.1"), 1);
        assert_int_equal(get_int(root, "character encoding"), 2);
        assert_int_equal(get_int(root, "ʎǝʞ"), 3);
        assert_int_equal(get_int(root, "key2"), 4);
        assert_int_equal(get_int(root, "quoted \"value\""), 5);
        assert_int_equal(toml_get(root, "")->integer, 6);
        assert_int_equal(get_int(root, "a\tbé"), 7);
        assert_int_equal(get_int(root, "c:\\path"), 8);
        toml_free(root);

        /* Bare and quoted spellings name the same key. */
        check_invalid("spelling = 1\n\"spelling\" = 2\n", "2:1", "duplicate key 'spelling'");
        check_invalid("a = 1\n'a' = 2\n", "2:1", "duplicate key");
        check_invalid("\"\" = 1\n'' = 2\n", "2:1", "duplicate key '\"\"'");
}

static void test_dotted_keys(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("name = \"Orange\"\nphysical.color = \"orange\"\nphysical.shape = \"round\"\n"
                         "site.\"google.com\" = true\nfruit . flavor = 'x'\nfruit\t.\t'color' = 'y'\n"
                         "3.14159 = \"pi\"\na.b.c.d = 1\na.b.e = 2\n");
        assert_string_equal(get_string(root, "physical/color"), "orange");
        assert_string_equal(get_string(root, "physical/shape"), "round");
        assert_true(get_path(root, "site/google.com")->boolean);
        assert_string_equal(get_string(root, "fruit/flavor"), "x");
        assert_string_equal(get_string(root, "fruit/color"), "y");
        assert_string_equal(get_string(root, "3/14159"), "pi");
        assert_int_equal(get_int(root, "a/b/c/d"), 1);
        assert_int_equal(get_int(root, "a/b/e"), 2);
        assert_int_equal(get_path(root, "a/b")->table.n, 2);
        toml_free(root);
}

static void test_key_errors(void **state) {
        static const char *const docs[] = {
                "= 1\n",
                "a =\n",
                "a\n",
                "a b = 1\n",
                "a. = 1\n",
                ".a = 1\n",
                "a..b = 1\n",
                "a.\"\" .. = 1\n",
                "\"a\nb\" = 1\n",
                "'a\nb' = 1\n",
                "\"\"\"a\"\"\" = 1\n",
                "'''a''' = 1\n",
                "a = 1 = 2\n",
                "a == 1\n",
                "ä = 1\n",
                "a$ = 1\n",
                "\"a\" \"b\" = 1\n",
                "a = 1 b = 2\n",
                "[a]b = 1\n",
                "a\\b = 1\n",
                "a = 1\na = 2\n",
                "a.b = 1\na.b = 2\n",
                "\"unterminated = 1\n",
        };
        (void)state;
        check_all_invalid(docs, ELEMENTSOF(docs));
        check_invalid("a\n", "1:2", "expected '=' after a key, found newline");
        check_invalid("  = 1\n", "1:3", "expected a key");
        check_invalid("ä = 1\n", "1:1", "expected a key, found 'ä' (U+00E4)");
        check_invalid("a\tb = 1\n", "1:3", "expected '=' after a key, found 'b'");
        check_invalid("a \x01 = 1\n", "1:3", "found control character U+0001");
        check_invalid("x = 1\na.b = 1\na.b.c = 2\n", "3:3", "cannot add keys to 'a.b'");
        check_invalid("a.b.c = 1\na.b = 2\n", "2:3", "duplicate key 'a.b'");
        /* Keys are C strings, so an embedded NUL would silently alias another key. */
        check_invalid("\"a\\u0000b\" = 1\n", "1:1", "U+0000");
}

/* ---- strings ---- */

static void test_basic_strings(void **state) {
        (void)state;
        TomlValue *root = parse_ok(
                "s1 = \"I'm a string. \\\"You can quote me\\\". Name\\tJos\\u00E9\\nLocation\\tSF.\"\n"
                "s2 = \"\\b\\t\\n\\f\\r\\\"\\\\\"\n"
                "s3 = \"\\u00e9\\u03B1\\U0001F600\\U00000041\"\n"
                "s4 = \"\"\n"
                "s5 = \"tab\tinside # not a comment\" # a comment\n"
                "s6 = \"日本語 ✓\"\n"
                "s7 = \"\\u0000x\"\n");
        assert_string_equal(get_string(root, "s1"),
                            "I'm a string. \"You can quote me\". Name\tJosé\nLocation\tSF.");
        assert_string_equal(get_string(root, "s2"), "\b\t\n\f\r\"\\");
        assert_string_equal(get_string(root, "s3"), "éα😀A");
        assert_string_equal(get_string(root, "s4"), "");
        assert_string_equal(get_string(root, "s5"), "tab\tinside # not a comment");
        assert_string_equal(get_string(root, "s6"), "日本語 ✓");

        /* string_len counts past an escaped NUL. */
        const TomlValue *s7 = toml_get(root, "s7");
        assert_int_equal(s7->string_len, 2);
        assert_memory_equal(s7->string, "\0x", 3);
        toml_free(root);
}

static void test_string_escape_errors(void **state) {
        static const char *const values[] = {
                "\"\\a\"",          "\"\\x41\"",         "\"\\e\"",        "\"\\/\"",     "\"\\ \"",
                "\"\\u12\"",        "\"\\u12G4\"",       "\"\\U0001F60\"", "\"\\uD800\"", "\"\\uDFFF\"",
                "\"\\U00110000\"",  "\"\\UFFFFFFFF\"",   "\"\\\"",         "\"abc\\\n\"", "\"\"\"\\q\"\"\"",
                "\"\"\"\\ x\"\"\"", "\"\"\"a\\ b\"\"\"",
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                check_invalid_value(values[i]);
        check_invalid("x = 1\nz = \"bad\\q\"\n", "2:9",
                      "invalid escape sequence: backslash followed by 'q'");
        check_invalid("z = \"\\uD83D\"\n", "1:6", "not a Unicode scalar value");
        check_invalid("z = \"\\u00\"\n", "1:6", "\\u escape needs 4 hex digits");
}

static void test_string_control_chars(void **state) {
        (void)state;
        for (int c = 0; c < 0x20; c++) {
                if (c == '\t' || c == '\n')
                        continue;
                char doc[32];
                int n = snprintf(doc, sizeof(doc), "a = \"x%cy\"\n", c);
                check_invalid_len(doc, (size_t)n, "1:7", NULL);
                n = snprintf(doc, sizeof(doc), "a = 'x%cy'\n", c);
                check_invalid_len(doc, (size_t)n, "1:7", NULL);
                n = snprintf(doc, sizeof(doc), "a = \"\"\"x%cy\"\"\"\n", c);
                check_invalid_len(doc, (size_t)n, c == '\r' ? NULL : "1:9", NULL);
                n = snprintf(doc, sizeof(doc), "a = '''x%cy'''\n", c);
                check_invalid_len(doc, (size_t)n, c == '\r' ? NULL : "1:9", NULL);
        }
        check_invalid("a = \"x\x7fy\"\n", "1:7", "control character U+007F");
        check_invalid("a = 'x\x7fy'\n", "1:7", "U+007F");
        check_invalid("a = \"line\nbreak\"\n", "1:5", "unterminated string");
        check_invalid("a = 'line\nbreak'\n", "1:5", "unterminated string");
        check_invalid("a = \"x\r\n\"\n", "1:5", NULL);
        check_invalid("a = \"\"\"x\ry\"\"\"\n", "1:9", "U+000D");

        /* Tabs are allowed everywhere in strings. */
        TomlValue *root = parse_ok("a = \"\t\"\nb = '\t'\nc = \"\"\"\t\"\"\"\nd = '''\t'''\n");
        assert_string_equal(get_string(root, "a"), "\t");
        assert_string_equal(get_string(root, "d"), "\t");
        toml_free(root);
}

static void test_literal_strings(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("winpath = 'C:\\Users\\nodejs\\templates'\nwinpath2 = '\\\\ServerX\\admin$'\n"
                         "quoted = 'Tom \"Dubs\" Preston-Werner'\nregex = '<\\i\\c*\\s*>'\nempty = ''\n"
                         "hash = '# not a comment'\n");
        assert_string_equal(get_string(root, "winpath"), "C:\\Users\\nodejs\\templates");
        assert_string_equal(get_string(root, "winpath2"), "\\\\ServerX\\admin$");
        assert_string_equal(get_string(root, "quoted"), "Tom \"Dubs\" Preston-Werner");
        assert_string_equal(get_string(root, "regex"), "<\\i\\c*\\s*>");
        assert_string_equal(get_string(root, "empty"), "");
        assert_string_equal(get_string(root, "hash"), "# not a comment");
        toml_free(root);

        check_invalid("a = 'it's'\n", "1:9", NULL);
        check_invalid("a = 'unterminated\n", "1:5", "unterminated string");
        check_invalid("a = 'unterminated", "1:5", "unterminated string");
}

static void test_multiline_basic_strings(void **state) {
        (void)state;
        TomlValue *root = parse_ok(
                "str1 = \"\"\"\nRoses are red\nViolets are blue\"\"\"\n"
                "str2 = \"\"\"\nThe quick brown \\\n\n\n  fox jumps over \\\n    the lazy dog.\"\"\"\n"
                "str3 = \"\"\"\\\n       The quick brown \\\n       fox jumps over \\\n"
                "       the lazy dog.\\\n       \"\"\"\n"
                "str4 = \"\"\"Here are two quotation marks: \"\". Simple enough.\"\"\"\n"
                "str5 = \"\"\"Here are three quotation marks: \"\"\\\".\"\"\"\n"
                "str6 = \"\"\"Here are fifteen quotation marks: "
                "\"\"\\\"\"\"\\\"\"\"\\\"\"\"\\\"\"\"\\\".\"\"\"\n"
                "str7 = \"\"\"\"This,\" she said, \"is just a pointless statement.\"\"\"\"\n"
                "str8 = \"\"\"a\"\"\"\"\"\n"
                "str9 = \"\"\"\"\"\"\n"
                "str10 = \"\"\"trailing ws \\   \n   x\"\"\"\n"
                "str11 = \"\"\"\n\n# not a comment\n\"\"\"\n"
                "str12 = \"\"\"\\u00e9\\tx\"\"\"\n");
        assert_string_equal(get_string(root, "str1"), "Roses are red\nViolets are blue");
        assert_string_equal(get_string(root, "str2"), "The quick brown fox jumps over the lazy dog.");
        assert_string_equal(get_string(root, "str3"), "The quick brown fox jumps over the lazy dog.");
        assert_string_equal(get_string(root, "str4"), "Here are two quotation marks: \"\". Simple enough.");
        assert_string_equal(get_string(root, "str5"), "Here are three quotation marks: \"\"\".");
        assert_string_equal(get_string(root, "str6"),
                            "Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\".");
        assert_string_equal(get_string(root, "str7"),
                            "\"This,\" she said, \"is just a pointless statement.\"");
        assert_string_equal(get_string(root, "str8"), "a\"\"");
        assert_string_equal(get_string(root, "str9"), "");
        assert_string_equal(get_string(root, "str10"), "trailing ws x");
        assert_string_equal(get_string(root, "str11"), "\n# not a comment\n");
        assert_string_equal(get_string(root, "str12"), "é\tx");
        toml_free(root);
}

static void test_multiline_literal_strings(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("regex2 = '''I [dw]on't need \\d{2} apples'''\n"
                         "lines = '''\nThe first newline is\ntrimmed in raw strings.\n   All other "
                         "whitespace\n   is preserved.\n'''\n"
                         "quot15 = '''Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"'''\n"
                         "apos15 = \"Here are fifteen apostrophes: '''''''''''''''\"\n"
                         "str = ''''That,' she said, 'is still pointless.''''\n"
                         "bs = '''a\\\nb'''\n");
        assert_string_equal(get_string(root, "regex2"), "I [dw]on't need \\d{2} apples");
        assert_string_equal(get_string(root, "lines"),
                            "The first newline is\ntrimmed in raw strings.\n   All other whitespace\n"
                            "   is preserved.\n");
        assert_string_equal(get_string(root, "quot15"),
                            "Here are fifteen quotation marks: \"\"\"\"\"\"\"\"\"\"\"\"\"\"\"");
        assert_string_equal(get_string(root, "apos15"), "Here are fifteen apostrophes: '''''''''''''''");
        assert_string_equal(get_string(root, "str"), "'That,' she said, 'is still pointless.'");
        assert_string_equal(get_string(root, "bs"), "a\\\nb");
        toml_free(root);
}

static void test_multiline_string_errors(void **state) {
        (void)state;
        check_invalid("a = \"\"\"abc", "1:5", "unterminated string");
        check_invalid("x = 0\na = '''\nabc\n''", "2:5", "unterminated string");
        check_invalid("a = \"\"\"a\"\"\"\"\"\"\n", "1:9", "too many quotes");
        check_invalid("a = '''a''''''\n", "1:9", "too many quotes");
        check_invalid("apos15 = '''Here are fifteen apostrophes: ''''''''''''''''''\n", NULL, NULL);
        check_invalid("a = \"\"\"a\"\"\" b\n", "1:13", "expected a newline after a key/value pair");
        check_invalid("a = \"\"\"\nl1\nl2\"\"\" x\n", "3:7", "found 'x'");
        check_invalid("a = \"\"\"x\\", "1:9", "invalid escape");
}

/* ---- numbers and booleans ---- */

static void test_integers(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("a = +99\nb = 42\nc = 0\nd = -17\ne = 1_000\nf = 5_349_221\ng = 53_49_221\n"
                         "h = 1_2_3_4_5\ni = 0xDEADBEEF\nj = 0xdeadbeef\nk = 0xdead_beef\nl = 0o01234567\n"
                         "m = 0o755\nn = 0b11010110\no = +0\np = -0\nq = 9223372036854775807\n"
                         "r = -9223372036854775808\ns = 0x7FFFFFFFFFFFFFFF\nt = 0x0000000000000000001\n"
                         "u = 0b0\nv = 0o0_7\n");
        assert_int_equal(get_int(root, "a"), 99);
        assert_int_equal(get_int(root, "b"), 42);
        assert_int_equal(get_int(root, "c"), 0);
        assert_int_equal(get_int(root, "d"), -17);
        assert_int_equal(get_int(root, "e"), 1000);
        assert_int_equal(get_int(root, "f"), 5349221);
        assert_int_equal(get_int(root, "g"), 5349221);
        assert_int_equal(get_int(root, "h"), 12345);
        assert_int_equal(get_int(root, "i"), 0xdeadbeef);
        assert_int_equal(get_int(root, "j"), 0xdeadbeef);
        assert_int_equal(get_int(root, "k"), 0xdeadbeef);
        assert_int_equal(get_int(root, "l"), 01234567);
        assert_int_equal(get_int(root, "m"), 0755);
        assert_int_equal(get_int(root, "n"), 214);
        assert_int_equal(get_int(root, "o"), 0);
        assert_int_equal(get_int(root, "p"), 0);
        assert_true(get_int(root, "q") == INT64_MAX);
        assert_true(get_int(root, "r") == INT64_MIN);
        assert_true(get_int(root, "s") == INT64_MAX);
        assert_int_equal(get_int(root, "t"), 1);
        assert_int_equal(get_int(root, "u"), 0);
        assert_int_equal(get_int(root, "v"), 7);
        toml_free(root);
}

static void test_integer_errors(void **state) {
        static const char *const values[] = {
                "01",    "00",   "0_0",  "+01",   "-0_1", "1__2", "_1",     "1_",   "0x",
                "0xg",   "0x_1", "0x1_", "+0x1",  "-0x1", "0X1",  "0B1",    "0O1",  "0b2",
                "0o8",   "0b",   "0o",   "++1",   "--1",  "+",    "-",      "1-2",  "1a",
                "0x1.0", "1 2",  "1,",   "0xffg", "١",    "12_",  "1__000", "0b_1", "-_1",
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                check_invalid_value(values[i]);
        check_invalid("v = 9223372036854775808\n", "1:5", "does not fit in 64 bits");
        check_invalid("v = -9223372036854775809\n", "1:5", "does not fit in 64 bits");
        check_invalid("v = 99999999999999999999999999\n", "1:5", "does not fit");
        check_invalid("v = 0x8000000000000000\n", "1:5", "does not fit");
        check_invalid("v = 0xFFFFFFFFFFFFFFFF\n", "1:5", "does not fit");
        check_invalid("v = 0o1777777777777777777777\n", "1:5", "does not fit");
        check_invalid("v = 0b1111111111111111111111111111111111111111111111111111111111111111\n", "1:5",
                      "does not fit");
        check_invalid("v = 012\n", "1:5", "invalid number '012'");
}

static void test_floats(void **state) {
        (void)state;
        TomlValue *root = parse_ok("a = +1.0\nb = 3.1415\nc = -0.01\nd = 5e+22\ne = 1e06\nf = -2E-2\n"
                                   "g = 6.626e-34\nh = 224_617.445_991_228\ni = 0.0\nj = -0.0\nk = +0.0\n"
                                   "l = 1e-400\nm = 1.7976931348623157e308\nn = 0e0\no = 1_0.0_1e1_0\n"
                                   "p = 3.0E+2\nq = 0.000001\n");
        assert_true(get_float(root, "a") == 1.0);
        assert_true(get_float(root, "b") == 3.1415);
        assert_true(get_float(root, "c") == -0.01);
        assert_true(get_float(root, "d") == 5e22);
        assert_true(get_float(root, "e") == 1e6);
        assert_true(get_float(root, "f") == -2e-2);
        assert_true(get_float(root, "g") == 6.626e-34);
        assert_true(get_float(root, "h") == 224617.445991228);
        assert_true(get_float(root, "i") == 0.0 && !signbit(get_float(root, "i")));
        assert_true(get_float(root, "j") == 0.0 && signbit(get_float(root, "j")));
        assert_true(get_float(root, "k") == 0.0);
        assert_true(get_float(root, "l") == 0.0);
        assert_true(get_float(root, "m") == 1.7976931348623157e308);
        assert_true(get_float(root, "n") == 0.0);
        assert_true(get_float(root, "o") == 10.01e10);
        assert_true(get_float(root, "p") == 300.0);
        assert_true(get_float(root, "q") == 0.000001);
        toml_free(root);
}

static void test_float_errors(void **state) {
        static const char *const values[] = {
                ".7",   "7.",     "3.e+20", "+.1",   "-.1",     "1e",       "1e+",    "1e-",
                "1.0e", "1ee2",   "1e2e3",  "1e2.3", "1.2.3",   "0..1",     "1._2",   "1_.2",
                "1.2_", "1_e2",   "1e_2",   "1e2_",  "1e__2",   "03.14",    "-03.14", "+03.14",
                "00.0", "1.2_e2", "1.e2",   "Inf",   "NaN",     "infinity", "in",     "+in",
                "na",   "-nan_",  "in_f",   "1,5",   "0x1.8p1", "1.0f",     "e5",
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                check_invalid_value(values[i]);
        check_invalid("v = 1e400\n", "1:5", "out of range");
        check_invalid("v = -1.8e308\n", "1:5", "out of range");
}

static void test_special_floats(void **state) {
        (void)state;
        TomlValue *root = parse_ok("a = inf\nb = +inf\nc = -inf\nd = nan\ne = +nan\nf = -nan\n"
                                   "g = [inf,-inf,nan]\n");
        assert_true(isinf(get_float(root, "a")) && get_float(root, "a") > 0);
        assert_true(isinf(get_float(root, "b")) && get_float(root, "b") > 0);
        assert_true(isinf(get_float(root, "c")) && get_float(root, "c") < 0);
        assert_true(isnan(get_float(root, "d")) && !signbit(get_float(root, "d")));
        assert_true(isnan(get_float(root, "e")));
        assert_true(isnan(get_float(root, "f")) && signbit(get_float(root, "f")));
        assert_true(isinf(get_float(root, "g/1")));
        assert_true(isnan(get_float(root, "g/2")));
        toml_free(root);
}

static void test_booleans(void **state) {
        static const char *const values[] = {"True",   "FALSE", "tru", "fals", "truee",
                                             "false1", "t",     "f",   "yes",  "1true"};
        (void)state;
        TomlValue *root = parse_ok("t = true\nf = false\narr = [true,false]\n");
        assert_int_equal(get_path(root, "t")->type, TOML_BOOL);
        assert_true(get_path(root, "t")->boolean);
        assert_false(get_path(root, "f")->boolean);
        assert_true(get_path(root, "arr/0")->boolean);
        toml_free(root);
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                check_invalid_value(values[i]);
}

/* ---- dates and times ---- */

static void test_offset_datetimes(void **state) {
        (void)state;
        TomlValue *root = parse_ok("odt1 = 1979-05-27T07:32:00Z\nodt2 = 1979-05-27T00:32:00-07:00\n"
                                   "odt3 = 1979-05-27T00:32:00.999999-07:00\nodt4 = 1979-05-27 07:32:00Z\n"
                                   "odt5 = 1979-05-27t07:32:00z\nodt6 = 2000-01-01T00:00:00.5+05:30\n"
                                   "odt7 = 1987-07-05T17:45:56.123456789123+00:00\n");
        const TomlDatetime *d = get_datetime(root, "odt1", TOML_OFFSET_DATETIME);
        check_datetime(d, 1979, 5, 27, 7, 32, 0, 0);
        assert_int_equal(d->offset_minutes, 0);
        d = get_datetime(root, "odt2", TOML_OFFSET_DATETIME);
        check_datetime(d, 1979, 5, 27, 0, 32, 0, 0);
        assert_int_equal(d->offset_minutes, -420);
        d = get_datetime(root, "odt3", TOML_OFFSET_DATETIME);
        check_datetime(d, 1979, 5, 27, 0, 32, 0, 999999000);
        assert_int_equal(d->offset_minutes, -420);
        check_datetime(get_datetime(root, "odt4", TOML_OFFSET_DATETIME), 1979, 5, 27, 7, 32, 0, 0);
        check_datetime(get_datetime(root, "odt5", TOML_OFFSET_DATETIME), 1979, 5, 27, 7, 32, 0, 0);
        d = get_datetime(root, "odt6", TOML_OFFSET_DATETIME);
        check_datetime(d, 2000, 1, 1, 0, 0, 0, 500000000);
        assert_int_equal(d->offset_minutes, 330);
        /* Digits beyond nanoseconds are truncated. */
        check_datetime(get_datetime(root, "odt7", TOML_OFFSET_DATETIME), 1987, 7, 5, 17, 45, 56, 123456789);
        toml_free(root);
}

static void test_local_datetimes(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("ldt1 = 1979-05-27T07:32:00\nldt2 = 1979-05-27T00:32:00.999999\n"
                         "ldt3 = 1979-05-27 07:32:00 # space separator\nldt4 = 2016-12-31t23:59:60\n"
                         "arr = [1979-05-27T07:32:00,1979-05-27 07:32:00]\n");
        const TomlDatetime *d = get_datetime(root, "ldt1", TOML_LOCAL_DATETIME);
        check_datetime(d, 1979, 5, 27, 7, 32, 0, 0);
        assert_int_equal(d->offset_minutes, 0);
        check_datetime(get_datetime(root, "ldt2", TOML_LOCAL_DATETIME), 1979, 5, 27, 0, 32, 0, 999999000);
        check_datetime(get_datetime(root, "ldt3", TOML_LOCAL_DATETIME), 1979, 5, 27, 7, 32, 0, 0);
        check_datetime(get_datetime(root, "ldt4", TOML_LOCAL_DATETIME), 2016, 12, 31, 23, 59, 60, 0);
        check_datetime(get_datetime(root, "arr/1", TOML_LOCAL_DATETIME), 1979, 5, 27, 7, 32, 0, 0);
        toml_free(root);
}

static void test_local_dates(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("ld1 = 1979-05-27\nld2 = 2000-02-29\nld3 = 2024-02-29\nld4 = 0000-01-01\n"
                         "ld5 = 9999-12-31 # comment\nld6 = 1979-05-27 \narr = [1979-05-27, 2001-01-01]\n");
        check_datetime(get_datetime(root, "ld1", TOML_LOCAL_DATE), 1979, 5, 27, 0, 0, 0, 0);
        check_datetime(get_datetime(root, "ld2", TOML_LOCAL_DATE), 2000, 2, 29, 0, 0, 0, 0);
        check_datetime(get_datetime(root, "ld3", TOML_LOCAL_DATE), 2024, 2, 29, 0, 0, 0, 0);
        check_datetime(get_datetime(root, "ld4", TOML_LOCAL_DATE), 0, 1, 1, 0, 0, 0, 0);
        check_datetime(get_datetime(root, "ld5", TOML_LOCAL_DATE), 9999, 12, 31, 0, 0, 0, 0);
        check_datetime(get_datetime(root, "ld6", TOML_LOCAL_DATE), 1979, 5, 27, 0, 0, 0, 0);
        check_datetime(get_datetime(root, "arr/1", TOML_LOCAL_DATE), 2001, 1, 1, 0, 0, 0, 0);
        toml_free(root);
}

static void test_local_times(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("lt1 = 07:32:00\nlt2 = 00:32:00.999999\nlt3 = 23:59:59.1\nlt4 = 00:00:00\n");
        check_datetime(get_datetime(root, "lt1", TOML_LOCAL_TIME), 0, 0, 0, 7, 32, 0, 0);
        check_datetime(get_datetime(root, "lt2", TOML_LOCAL_TIME), 0, 0, 0, 0, 32, 0, 999999000);
        check_datetime(get_datetime(root, "lt3", TOML_LOCAL_TIME), 0, 0, 0, 23, 59, 59, 100000000);
        check_datetime(get_datetime(root, "lt4", TOML_LOCAL_TIME), 0, 0, 0, 0, 0, 0, 0);
        toml_free(root);
}

static void test_datetime_errors(void **state) {
        static const char *const values[] = {
                "1979-05-27T",
                "1979-05-27T07:32",
                "1979-05-27 07:32",
                "1979-05-27T07:32:00.",
                "1979-05-27T07:32:00.Z",
                "1979-5-27",
                "1979-05-7",
                "79-05-27",
                "19790-05-27",
                "1979-05-27X07:32:00",
                "1979-05-27T07:32:00+07",
                "1979-05-27T07:32:00+7:00",
                "1979-05-27T07:32:00+0700",
                "1979-05-27T07:32:00-07:0",
                "1979-05-27T07:32:00 Z",
                "1979-05-27T7:32:00",
                "1979-05-27T07:2:00",
                "1979-05-27T07:32:0",
                "7:32:00",
                "07:32",
                "07:32:00.",
                "07:32:00Z",
                "07:32:00+01:00",
                "1979-05-27T07:32:00Zx",
                "1979-05-27  07:32:00",
                "1979-05-27_07:32:00",
                "1979-05-27T07:32:00.1.2",
                "+1979-05-27",
                "1979-05-27T07-32-00",
                "T07:32:00",
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                check_invalid_value(values[i]);

        check_invalid("v = 2023-02-30\n", "1:5", "invalid date 2023-02-30");
        check_invalid("v = 1900-02-29\n", "1:5", "invalid date");
        check_invalid("v = 2023-02-29\n", "1:5", "invalid date");
        check_invalid("v = 2023-04-31\n", "1:5", "invalid date");
        check_invalid("v = 2023-13-01\n", "1:5", "invalid date");
        check_invalid("v = 2023-00-10\n", "1:5", "invalid date");
        check_invalid("v = 2023-01-00\n", "1:5", "invalid date");
        check_invalid("v = 2023-01-32\n", "1:5", "invalid date");
        check_invalid("v = 2023-01-01T24:00:00\n", "1:16", "invalid time 24:00:00");
        check_invalid("v = 23:60:00\n", "1:5", "invalid time");
        check_invalid("v = 23:59:61\n", "1:5", "invalid time");
        check_invalid("v = 2023-01-01T00:00:00+24:00\n", "1:24", "invalid time offset");
        check_invalid("v = 2023-01-01T00:00:00-05:60\n", "1:24", "invalid time offset");
        check_invalid("v = 2023-02-30T00:00:00Z\n", "1:5", "invalid date");
}

/* ---- arrays ---- */

static void test_arrays(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("integers = [ 1, 2, 3 ]\ncolors = [ \"red\", \"yellow\", \"green\" ]\n"
                         "nested_arrays_of_ints = [ [ 1, 2 ], [3, 4, 5] ]\n"
                         "nested_mixed_array = [ [ 1, 2 ], [\"a\", \"b\", \"c\"] ]\n"
                         "numbers = [ 0.1, 0.2, 0.5, 1, 2, 5 ]\n"
                         "contributors = [\n  \"Foo Bar <foo@example.com>\",\n"
                         "  { name = \"Baz Qux\", email = \"bazqux@example.com\", url = \"https://x\" }\n]\n"
                         "integers2 = [\n  1, 2, 3\n]\n"
                         "integers3 = [\n  1,\n  2, # this is ok\n]\n"
                         "empty = []\nempty2 = [ ]\nempty3 = [\n\n # only a comment\n]\n"
                         "trailing = [1,]\ncomma_line = [\n 1\n ,\n 2\n]\n"
                         "mixed = [1, 'two', 3.0, true, 1979-05-27, [4], {x = 5}]\n");
        const TomlValue *a = get_path(root, "integers");
        assert_int_equal(a->type, TOML_ARRAY);
        assert_int_equal(a->array.n, 3);
        assert_int_equal(get_int(root, "integers/2"), 3);
        assert_string_equal(get_string(root, "colors/1"), "yellow");
        assert_int_equal(get_int(root, "nested_arrays_of_ints/1/2"), 5);
        assert_string_equal(get_string(root, "nested_mixed_array/1/0"), "a");
        assert_true(get_float(root, "numbers/0") == 0.1);
        assert_int_equal(get_int(root, "numbers/3"), 1);
        assert_string_equal(get_string(root, "contributors/1/email"), "bazqux@example.com");
        assert_int_equal(get_path(root, "integers2")->array.n, 3);
        assert_int_equal(get_path(root, "integers3")->array.n, 2);
        assert_int_equal(get_path(root, "empty")->array.n, 0);
        assert_int_equal(get_path(root, "empty2")->array.n, 0);
        assert_int_equal(get_path(root, "empty3")->array.n, 0);
        assert_int_equal(get_path(root, "trailing")->array.n, 1);
        assert_int_equal(get_int(root, "comma_line/1"), 2);

        static const TomlType mixed[] = {TOML_INTEGER,  TOML_STRING, TOML_FLOAT, TOML_BOOL,
                                         TOML_DATETIME, TOML_ARRAY,  TOML_TABLE};
        a = get_path(root, "mixed");
        assert_int_equal(a->array.n, ELEMENTSOF(mixed));
        for (size_t i = 0; i < ELEMENTSOF(mixed); i++)
                assert_int_equal(a->array.items[i]->type, mixed[i]);
        toml_free(root);
}

static void test_array_errors(void **state) {
        static const char *const values[] = {
                "[,]",        "[1,,2]",   "[1 2]",  "[1,",         "[",     "[1",    "[1]]",
                "[,1]",       "[1 # c]",  "[1 1]",  "[a]",         "[1;2]", "[1,]]", "[ \"a\" \"b\" ]",
                "[\n1\n2\n]", "[1,\n,2]", "[1\r2]", "[# c\x01\n]",
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                check_invalid_value(values[i]);
        check_invalid("a = [1, 2\nb = 3\n", "2:1", "expected ',' or ']' in array, found 'b'");
        check_invalid("a = [1,", "1:8", "expected a value, found end of input");
}

/* ---- inline tables ---- */

static void test_inline_tables(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("name = { first = \"Tom\", last = \"Preston-Werner\" }\n"
                         "point = { x = 1, y = 2 }\nanimal = { type.name = \"pug\" }\n"
                         "empty = {}\nempty2 = {   }\nnested = { a = { b = { c = [1, { d = 2 }] } } }\n"
                         "spaced = {a=1,b=2}\nquoted = { \"q k\" = true, 'l' = false }\n"
                         "multi = { a.b = 1, a.c = 2, d = 3 }\n"
                         "arr = [ { x = 1 }, { x = 2 } ]\n");
        assert_string_equal(get_string(root, "name/first"), "Tom");
        assert_string_equal(get_string(root, "name/last"), "Preston-Werner");
        assert_int_equal(get_int(root, "point/y"), 2);
        assert_string_equal(get_string(root, "animal/type/name"), "pug");
        assert_int_equal(get_path(root, "empty")->type, TOML_TABLE);
        assert_int_equal(get_path(root, "empty")->table.n, 0);
        assert_int_equal(get_path(root, "empty2")->table.n, 0);
        assert_int_equal(get_int(root, "nested/a/b/c/1/d"), 2);
        assert_int_equal(get_int(root, "spaced/b"), 2);
        assert_true(get_path(root, "quoted/q k")->boolean);
        assert_int_equal(get_int(root, "multi/a/c"), 2);
        assert_int_equal(get_int(root, "multi/d"), 3);
        assert_int_equal(get_int(root, "arr/1/x"), 2);
        toml_free(root);
}

static void test_inline_table_errors(void **state) {
        (void)state;
        check_invalid("a = { x = 1,\n y = 2 }\n", "1:13", "expected a key, found newline");
        check_invalid("a = {\n}\n", "1:6", NULL);
        check_invalid("a = { x = 1\n}\n", "1:12", "found newline");
        check_invalid("a = { x = 1, }\n", "1:14", "trailing comma");
        check_invalid("a = { , }\n", "1:7", "expected a key");
        check_invalid("a = { x = 1 y = 2 }\n", "1:13", "expected ',' or '}'");
        check_invalid("a = { x = 1, x = 2 }\n", "1:14", "duplicate key 'x'");
        check_invalid("a = { b = {}, b.c = 1 }\n", "1:15", "cannot add keys to 'b'");
        check_invalid("a = { b.c = 1, b = 2 }\n", "1:16", "duplicate key 'b'");
        check_invalid("a = { x = 1\n", NULL, NULL);
        check_invalid("a = { x = 1", NULL, NULL);
        check_invalid("a = { x }\n", NULL, "expected '='");
        check_invalid("a = { x = }\n", NULL, "expected a value");
        check_invalid("a = { x = 1 # comment }\n", NULL, NULL);

        /* Inline tables are complete: no header, dotted key or array-of-tables header may add to them. */
        check_invalid("a = { b = 1 }\n[a]\n", "2:2",
                      "cannot define table 'a': it is already defined as an "
                      "inline table at line 1");
        check_invalid("a = { b = 1 }\n[a.c]\n", "2:2", "cannot add a table to 'a'");
        check_invalid("a = { b = 1 }\na.c = 2\n", "2:1", "cannot add keys to 'a'");
        check_invalid("a = { b = { c = 1 } }\n[a.b]\n", "2:2", "inline table");
        check_invalid("a = { b = { c = 1 } }\n[a.b.d]\n", "2:2", "inline table");
        check_invalid("[t]\nx = {}\n[t.x.y]\n", "3:4", "inline table");
        check_invalid("a = [{ b = 1 }]\n[[a]]\n", "2:3", "static array");
        check_invalid("a = { b = [] }\n[[a.b]]\n", "2:3", "inline table");
        check_invalid("[[tbl]]\na = { b = 1 }\n[tbl.a.c]\n", "3:6", "inline table");
}

/* ---- tables ---- */

static void test_tables(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("top = 0\n[table-1]\nkey1 = \"some string\"\nkey2 = 123\n\n[table-2]\n"
                         "key1 = \"another string\"\nkey2 = 456\n[dog.\"tater.man\"]\ntype.name = \"pug\"\n"
                         "[ j . \"ʞ\" . 'l' ]\nx = 1\n[\ta\t.\tb\t]\ny = 2\n[empty]\n"
                         "[x.y.z.w]\n[x]\nw = 3\n");
        assert_int_equal(get_int(root, "top"), 0);
        assert_string_equal(get_string(root, "table-1/key1"), "some string");
        assert_int_equal(get_int(root, "table-2/key2"), 456);
        assert_string_equal(get_string(root, "dog/tater.man/type/name"), "pug");
        assert_int_equal(get_int(root, "j/ʞ/l/x"), 1);
        assert_int_equal(get_int(root, "a/b/y"), 2);
        assert_int_equal(get_path(root, "empty")->type, TOML_TABLE);
        assert_int_equal(get_path(root, "empty")->table.n, 0);
        assert_int_equal(get_path(root, "x/y/z/w")->type, TOML_TABLE);
        assert_int_equal(get_int(root, "x/w"), 3);
        toml_free(root);

        /* A sub-table may be defined within a table created by dotted keys. */
        root = parse_ok("[fruit]\napple.color = \"red\"\napple.taste.sweet = true\n[fruit.apple.texture]\n"
                        "smooth = true\n");
        assert_true(get_path(root, "fruit/apple/taste/sweet")->boolean);
        assert_true(get_path(root, "fruit/apple/texture/smooth")->boolean);
        toml_free(root);

        static const char *const good_headers[] = {
                "[a]\n",
                "[ a ]\n",
                "[a . b]\n",
                "['']\n",
                "[\"\"]\n",
                "[a]  # c\n",
                "[[a]]\n[[a]]\n",
                "[a]\r\n",
                "[a]",
                "[a.b]\n[a]\n[a.c]\n",
                "[\"a.b\"]\n[a.b]\n",
                "[a]\n[b]\n[a.b]\n",
        };
        check_all_valid(good_headers, ELEMENTSOF(good_headers));

        static const char *const bad_headers[] = {
                "[]\n",
                "[a\n",
                "[a.]\n",
                "[.a]\n",
                "[a..b]\n",
                "[a]b = 1\n",
                "[a] x\n",
                "[a b]\n",
                "[[a]\n",
                "[a]]\n",
                "[ [a] ]\n",
                "[[a] ]\n",
                "[\"a\nb\"]\n",
                "[a\n]\n",
                "[a]\n[a]\n",
                "[ a ]\n[a]\n",
                "[a.b]\n[a.\"b\"]\n",
                "[#]\n",
                "[a]#\x01\n",
                "[a] = 1\n",
        };
        check_all_invalid(bad_headers, ELEMENTSOF(bad_headers));
}

static void test_dotted_table_creation(void **state) {
        (void)state;
        TomlValue *root = parse_ok("a.b.c = 1\na.d = 2\n[x]\ny.z = 3\ny.w.v = 4\n[x.y.u]\nq = 5\n");
        const TomlValue *a = get_path(root, "a");
        assert_int_equal(a->type, TOML_TABLE);
        assert_int_equal(a->table.n, 2);
        assert_string_equal(a->table.keys[0], "b");
        assert_string_equal(a->table.keys[1], "d");
        assert_int_equal(get_int(root, "a/b/c"), 1);
        assert_int_equal(get_int(root, "x/y/z"), 3);
        assert_int_equal(get_int(root, "x/y/w/v"), 4);
        assert_int_equal(get_int(root, "x/y/u/q"), 5);
        toml_free(root);

        /* Tables made by dotted keys are defined: no [header] may define them again. */
        check_invalid(
                "[fruit]\napple.color = \"red\"\n[fruit.apple]\n", "3:8",
                "cannot define table 'fruit.apple': it is already defined as a table (by dotted keys) at "
                "line 2");
        check_invalid("[fruit]\napple.taste.sweet = true\n[fruit.apple.taste]\n", "3:14", "by dotted keys");
        check_invalid("a.b = 1\n[a]\n", "2:2", "cannot define table 'a'");
        /* And dotted keys may not reach into tables defined by headers. */
        check_invalid("[a.b.c]\nz = 9\n[a]\nb.c.t = 9\n", "4:1", "cannot add keys to 'b'");
        check_invalid("[a.b.c.d]\nz = 9\n[a]\nb.c.d.k.t = 8\n", "4:1", "cannot add keys to 'b'");
}

static void test_arrays_of_tables(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("[[products]]\nname = \"Hammer\"\nsku = 738594937\n\n[[products]]  # empty\n\n"
                         "[[products]]\nname = \"Nail\"\nsku = 284758393\ncolor = \"gray\"\n");
        const TomlValue *p = get_path(root, "products");
        assert_int_equal(p->type, TOML_ARRAY);
        assert_int_equal(p->array.n, 3);
        assert_string_equal(get_string(root, "products/0/name"), "Hammer");
        assert_int_equal(get_path(root, "products/1")->type, TOML_TABLE);
        assert_int_equal(get_path(root, "products/1")->table.n, 0);
        assert_string_equal(get_string(root, "products/2/color"), "gray");
        toml_free(root);

        root = parse_ok("[[fruits]]\nname = \"apple\"\n[fruits.physical]  # subtable\ncolor = \"red\"\n"
                        "shape = \"round\"\n[[fruits.varieties]]  # nested array of tables\nname = \"red "
                        "delicious\"\n"
                        "[[fruits.varieties]]\nname = \"granny smith\"\n\n[[fruits]]\nname = \"banana\"\n"
                        "[[fruits.varieties]]\nname = \"plantain\"\n[fruits.physical]\ncolor = \"yellow\"\n"
                        "[[ spaced . aot ]]\nx = 1\n");
        assert_int_equal(get_path(root, "fruits")->array.n, 2);
        assert_string_equal(get_string(root, "fruits/0/physical/color"), "red");
        assert_string_equal(get_string(root, "fruits/0/varieties/1/name"), "granny smith");
        assert_int_equal(get_path(root, "fruits/1/varieties")->array.n, 1);
        assert_string_equal(get_string(root, "fruits/1/varieties/0/name"), "plantain");
        assert_string_equal(get_string(root, "fruits/1/physical/color"), "yellow");
        assert_int_equal(get_int(root, "spaced/aot/0/x"), 1);
        toml_free(root);

        /* The parent of an array of tables may be defined afterwards. */
        root = parse_ok("[[a.b]]\nx = 1\n[a]\ny = 2\n");
        assert_int_equal(get_int(root, "a/b/0/x"), 1);
        assert_int_equal(get_int(root, "a/y"), 2);
        toml_free(root);
}

static void test_redefinition_errors(void **state) {
        (void)state;
        check_invalid("a = 1\na = 2\n", "2:1", "duplicate key 'a' (first defined at line 1)");
        check_invalid("[fruit]\napple = \"red\"\n\n[fruit]\norange = \"orange\"\n", "4:2",
                      "cannot define table 'fruit': it is already defined as a table at line 1");
        check_invalid("[fruit]\napple = \"red\"\n[fruit.apple]\ntexture = \"smooth\"\n", "3:8",
                      "it is already defined as a string at line 2");
        check_invalid("[a]\nb = 1\n[a.b.c]\n", "3:4", "cannot add a table to 'a.b'");
        check_invalid("[a]\n[a.b]\n[a]\n", "3:2", "cannot define table 'a'");
        check_invalid("[x.y.z]\n[x]\n[x]\n", "3:2", "cannot define table 'x'");
        check_invalid("a = 1\n[a]\n", "2:2", "already defined as an integer at line 1");
        check_invalid("a = []\n[a]\n", "2:2", "static array");
        check_invalid("fruits = []\n[[fruits]]\n", "2:3",
                      "cannot append a table to 'fruits': it is already "
                      "defined as a static array at line 1");
        check_invalid("[fruit]\n[[fruit]]\n", "2:3", "cannot append a table to 'fruit'");
        check_invalid("[[fruit]]\n[fruit]\n", "2:2",
                      "cannot define table 'fruit': it is already defined as an "
                      "array of tables at line 1");
        check_invalid("[fruit.physical]\ncolor = \"red\"\n[[fruit]]\n", "3:3",
                      "cannot append a table to 'fruit'");
        check_invalid("[[fruits]]\nname = \"apple\"\n[[fruits.varieties]]\nname = \"red delicious\"\n"
                      "[fruits.varieties]\nname = \"granny smith\"\n",
                      "5:9", "array of tables");
        check_invalid("[[a]]\n[a.b]\n[a.b]\n", "3:4", "cannot define table 'a.b'");
        check_invalid("a = [1]\n[a.b]\n", "2:2", "cannot add a table to 'a'");
        check_invalid("[[a]]\nb = 1\n[[a.b]]\n", "3:5", "cannot append a table to 'a.b'");
        check_invalid("a.b = 1\na = 2\n", "2:1", "duplicate key 'a'");
        check_invalid("a = {}\na.b = 1\n", "2:1", "inline table");

        /* The same header in different elements of an array of tables is fine. */
        TomlValue *root = parse_ok("[[a]]\n[a.b]\nx = 1\n[[a]]\n[a.b]\nx = 2\n");
        assert_int_equal(get_int(root, "a/1/b/x"), 2);
        toml_free(root);
}

/* ---- whole-document features ---- */

static void test_comments(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("# This is a full-line comment\nkey = \"value\"  # This is a comment at the end\n"
                         "another = \"# This is not a comment\"\n#\n   # indented\n\t#tab\n"
                         "# non-ASCII ✓ 日本\n# tab\tin comment\n[t] # header comment\n"
                         "arr = [ # open\n 1, # one\n # between\n 2 # two\n] # close\n# no newline at end");
        assert_string_equal(get_string(root, "key"), "value");
        assert_string_equal(get_string(root, "another"), "# This is not a comment");
        assert_int_equal(get_path(root, "t/arr")->array.n, 2);
        toml_free(root);

        check_invalid("# ok\n# bad \x01 char\n", "2:7",
                      "control character U+0001 is not allowed in a comment");
        check_invalid("a = 1 # del \x7f\n", "1:13", "U+007F");
        check_invalid("# cr \r alone\n", "1:6", "U+000D");
        check_invalid_len("# nul \0\n", 8, "1:7", "U+0000");
}

static void test_crlf(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("a = 1\r\nb = \"\"\"\r\nx\r\ny\"\"\"\r\n[t]\r\nc = [\r\n1,\r\n2 # c\r\n]\r\n"
                         "d = '''\r\nl\r\n'''\r\ne = \"\"\"p \\\r\n  q\"\"\"\r\n# comment\r\n");
        assert_int_equal(get_int(root, "a"), 1);
        assert_string_equal(get_string(root, "b"), "x\ny");
        assert_int_equal(get_path(root, "t/c")->array.n, 2);
        assert_string_equal(get_string(root, "t/d"), "l\n");
        assert_string_equal(get_string(root, "t/e"), "p q");
        toml_free(root);

        check_invalid("a = 1\rb = 2\n", "1:6", NULL);
        check_invalid("a = 1\r", "1:6", NULL);
        check_invalid("\r\n\r\na = \"x\r\ny\"\r\n", "3:5", "unterminated string");
}

static void test_utf8(void **state) {
        static const char *const bad[] = {
                "a = \"\xff\"\n",             /* never valid */
                "a = \"\xc0\xaf\"\n",         /* overlong '/' */
                "a = \"\xe0\x80\xaf\"\n",     /* overlong */
                "a = \"\xed\xa0\x80\"\n",     /* surrogate */
                "a = \"\xf4\x90\x80\x80\"\n", /* > U+10FFFF */
                "a = \"\x80\"\n",             /* lone continuation */
                "a = \"\xe6\x97\"\n",         /* truncated */
                "# \xfe comment\n",
                "\xc3 = 1\n",
                "a = 1\n\xe6\x97",
        };
        (void)state;
        TomlValue *root = parse_ok("\"ключ\" = \"日本語 😀 é\"\nemoji = '🎉'\n");
        assert_string_equal(get_string(root, "ключ"), "日本語 😀 é");
        assert_string_equal(get_string(root, "emoji"), "🎉");
        toml_free(root);

        /* A byte order mark is skipped at the start, and only there. */
        root = parse_ok("\xef\xbb\xbf"
                        "a = 1\n");
        assert_int_equal(get_int(root, "a"), 1);
        toml_free(root);
        check_invalid("a = 1\n\xef\xbb\xbf"
                      "b = 2\n",
                      "2:1", "found '\xef\xbb\xbf' (U+FEFF)");

        check_all_invalid(bad, ELEMENTSOF(bad));
        check_invalid("a = 1\nb = \"x\xffy\"\n", "2:7", "invalid UTF-8");
        check_invalid("ok = '✓'\nb = \"\xed\xa0\x80\"\n", "2:6", "invalid UTF-8");
}

static void test_error_positions(void **state) {
        TomlValue *v = NULL;
        Error *e = NULL;
        (void)state;

        check_invalid("a = 1\nb = 2\n[t]\n  c = \n", "4:7", "expected a value, found newline");
        check_invalid("a = 1\n\n  a = 2\n", "3:3", "first defined at line 1");
        check_invalid("x = \"\"\"\nmulti\nline\"\"\"\ny = ?\n", "4:5", "expected a value, found '?'");
        check_invalid("[a]\n[b]\n\t[a]\n", "3:3", NULL);
        check_invalid("k = 'v' extra\n", "1:9", "expected a newline after a key/value pair, found 'e'");
        check_invalid("k = ", "1:5", "expected a value, found end of input");
        check_invalid("\n\n\n      = 1", "4:7", NULL);
        check_invalid("a = [\n  1,\n  2,\n  @\n]\n", "4:3", "found '@'");
        check_invalid("a = 1\nb = \"unterminated\n", "2:5", "unterminated string");

        /* Without a filename the message still has the FILE:LINE:COLUMN shape. */
        assert_int_equal(toml_parse("= 1", 3, NULL, &v, &e), -EINVAL);
        assert_string_equal(e->message, "<input>:1:1: expected a key, found '='");
        e = error_free(e);
        assert_int_equal(toml_parse("a = 1\nb = tru\n", 14, "/etc/crio/crio.conf", &v, &e), -EINVAL);
        assert_string_equal(e->message, "/etc/crio/crio.conf:2:5: expected a value, found 't'");
        e = error_free(e);
        assert_null(v);
}

static void test_value_positions(void **state) {
        (void)state;
        TomlValue *root =
                parse_ok("a = 1\n[t]\n  b = \"x\"\n  c.d = [1,\n 2]\n[x.y]\n\n[x]\n[[arr]]\n[[arr]]\n"
                         "s = \"\"\"\n\n\"\"\"\nafter = { in = true }\n");
        assert_int_equal(root->line, 1);
        assert_int_equal(root->column, 1);
        const TomlValue *v = get_path(root, "a");
        assert_int_equal(v->line, 1);
        assert_int_equal(v->column, 5);
        v = get_path(root, "t");
        assert_int_equal(v->line, 2);
        assert_int_equal(v->column, 1);
        v = get_path(root, "t/b");
        assert_int_equal(v->line, 3);
        assert_int_equal(v->column, 7);
        v = get_path(root, "t/c");
        assert_int_equal(v->line, 4);
        assert_int_equal(v->column, 3);
        v = get_path(root, "t/c/d");
        assert_int_equal(v->line, 4);
        assert_int_equal(v->column, 9);
        v = get_path(root, "t/c/d/1");
        assert_int_equal(v->line, 5);
        assert_int_equal(v->column, 2);
        /* A table first implied by [x.y] takes the position of its own header [x]. */
        v = get_path(root, "x");
        assert_int_equal(v->line, 8);
        assert_int_equal(v->column, 1);
        v = get_path(root, "x/y");
        assert_int_equal(v->line, 6);
        v = get_path(root, "arr/1");
        assert_int_equal(v->line, 10);
        v = get_path(root, "arr/1/s");
        assert_int_equal(v->line, 11);
        assert_int_equal(v->column, 5);
        v = get_path(root, "arr/1/after");
        assert_int_equal(v->line, 14);
        assert_int_equal(v->column, 9);
        v = get_path(root, "arr/1/after/in");
        assert_int_equal(v->column, 16);

        /* key_lines: where each key of a table was defined. */
        assert_int_equal(root->table.n, 4);
        assert_int_equal(root->table.key_lines[0], 1); /* a */
        assert_int_equal(root->table.key_lines[1], 2); /* t */
        assert_int_equal(root->table.key_lines[2], 8); /* x, defined at [x] */
        assert_int_equal(root->table.key_lines[3], 9); /* arr */
        v = get_path(root, "t");
        assert_int_equal(v->table.key_lines[0], 3);
        assert_int_equal(v->table.key_lines[1], 4);
        v = get_path(root, "arr/1");
        assert_int_equal(v->table.key_lines[0], 11);
        assert_int_equal(v->table.key_lines[1], 14);
        toml_free(root);
}

static void test_insertion_order(void **state) {
        static const char *const order[] = {"zeta", "alpha", "mid", "beta", "table", "aot"};
        (void)state;
        TomlValue *root =
                parse_ok("zeta = 1\nalpha = 2\nmid.x = 3\nbeta = { z = 1, a = 2, m = 3 }\n[table]\n"
                         "[[aot]]\n");
        assert_int_equal(root->table.n, ELEMENTSOF(order));
        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                assert_string_equal(root->table.keys[i], order[i]);
        const TomlValue *beta = get_path(root, "beta");
        assert_string_equal(beta->table.keys[0], "z");
        assert_string_equal(beta->table.keys[1], "a");
        assert_string_equal(beta->table.keys[2], "m");
        toml_free(root);
}

static char *nested(const char *prefix, const char *open, const char *middle, const char *close,
                    size_t depth) {
        char *out = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&out, &len);

        assert_non_null(f);
        fputs(prefix, f);
        for (size_t i = 0; i < depth; i++)
                fputs(open, f);
        fputs(middle, f);
        for (size_t i = 0; i < depth; i++)
                fputs(close, f);
        fputc('\n', f);
        assert_int_equal(fclose(f), 0);
        return out;
}

static void test_nesting_limit(void **state) {
        char *doc;
        (void)state;

        /* 128 levels below the root are fine; one more is refused before the recursion goes deeper. */
        doc = nested("a = ", "[", "1", "]", 128);
        toml_free(parse_ok(doc));
        free(doc);
        doc = nested("a = ", "[", "", "]", 129);
        check_invalid(doc, "1:133", "nested deeper than 128 levels");
        free(doc);
        doc = nested("a = ", "[", "", "]", 1000000);
        check_invalid(doc, "1:133", "nested deeper");
        free(doc);
        doc = nested("a = ", "{b=", "1", "}", 128);
        toml_free(parse_ok(doc));
        free(doc);
        doc = nested("a = ", "{b=", "1", "}", 100000);
        check_invalid(doc, NULL, "nested deeper");
        free(doc);
        doc = nested("a = ", "[{b=", "1", "}]", 100000);
        check_invalid(doc, NULL, "nested deeper");
        free(doc);

        /* Dotted keys and headers count too: every level is a table to free recursively. */
        doc = nested("", "k.", "", "", 200);
        doc[strlen(doc) - 1] = 0;
        char *kv = NULL;
        assert_true(asprintf(&kv, "%sk = 1\n", doc) > 0);
        check_invalid(kv, "1:257", "key has more than 128 parts");
        free(kv);
        assert_true(asprintf(&kv, "[%sk]\n", doc) > 0);
        check_invalid(kv, NULL, NULL);
        free(kv);
        assert_true(asprintf(&kv, "[%sk]\n%sk = {a = [[1]]}\n", doc + 200, doc + 200) > 0);
        check_invalid(kv, NULL, "nested deeper");
        free(kv);
        free(doc);
}

static void test_large_tables(void **state) {
        char *doc = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&doc, &len);
        (void)state;

        /* Keys are indexed by hash: this would take minutes if lookups were linear. */
        assert_non_null(f);
        for (int i = 0; i < 200000; i++)
                fprintf(f, "key%d = %d\n", i, i);
        for (int i = 0; i < 20000; i++)
                fprintf(f, "[[aot]]\nx = %d\n", i);
        assert_int_equal(fclose(f), 0);
        TomlValue *root = parse_len_ok(doc, len);
        assert_int_equal(root->table.n, 200001);
        assert_string_equal(root->table.keys[123456], "key123456");
        assert_int_equal(root->table.values[199999]->integer, 199999);
        assert_int_equal(root->table.key_lines[199999], 200000);
        assert_int_equal(get_int(root, "aot/19999/x"), 19999);
        toml_free(root);
        free(doc);
}

static void test_empty_documents(void **state) {
        TomlValue *v = NULL;
        Error *e = NULL;
        (void)state;

        TomlValue *root = parse_ok("");
        assert_int_equal(root->table.n, 0);
        toml_free(root);
        toml_free(parse_ok("\n\n  \t\n# only comments\n"));
        toml_free(parse_ok("\xef\xbb\xbf"));
        assert_int_equal(toml_parse(NULL, 0, "null.toml", &v, &e), 0);
        assert_non_null(v);
        assert_int_equal(v->table.n, 0);
        v = toml_free(v);
        assert_int_equal(toml_parse(NULL, 5, "null.toml", &v, &e), -EINVAL);
        assert_null(v);
        error_free(e);
}

/* A realistic crio.conf excerpt, read the way the config loader reads it. */
static void test_crio_conf(void **state) {
        (void)state;
        TomlValue *root = parse_ok(
                "# The CRI-O configuration file.\n[crio]\nroot = \"/var/lib/containers/storage\"\n"
                "runroot = \"/run/containers/storage\"\nstorage_driver = \"overlay\"\n"
                "storage_option = [\n  \"overlay.mountopt=nodev\",\n]\nlog_dir = \"/var/log/crio/pods\"\n\n"
                "[crio.api]\nlisten = \"/var/run/crio/crio.sock\"\nstream_port = \"0\"\n"
                "grpc_max_send_msg_size = 83886080\n\n[crio.runtime]\ndefault_runtime = \"runc\"\n"
                "default_ulimits = [ ]\nconmon_cgroup = \"pod\"\ndefault_capabilities = [\n\t\"CHOWN\",\n"
                "\t\"DAC_OVERRIDE\",\n]\npids_limit = -1\nlog_size_max = -1\n\n"
                "[crio.runtime.runtimes.runc]\nruntime_path = \"/usr/sbin/runc\"\nruntime_type = \"oci\"\n"
                "runtime_root = \"/run/runc\"\nallowed_annotations = [\"io.kubernetes.cri-o.Devices\"]\n\n"
                "[crio.runtime.runtimes.crun]\nruntime_path = \"\"\nmonitor_env = [\"PATH=/usr/bin\"]\n\n"
                "[crio.runtime.workloads.management]\nactivation_annotation = "
                "\"target.workload.openshift.io/management\"\nannotation_prefix = "
                "\"resources.workload.openshift.io\"\nresources = { \"cpushares\" = 0, \"cpuset\" = \"0-1\" "
                "}\n\n"
                "[crio.image]\npause_image = \"registry.k8s.io/pause:3.9\"\n\n[crio.network]\n"
                "plugin_dirs = [\n  \"/opt/cni/bin/\",\n]\n\n[crio.metrics]\nenable_metrics = false\n"
                "metrics_port = 9090\n");
        assert_string_equal(get_string(root, "crio/root"), "/var/lib/containers/storage");
        assert_int_equal(get_int(root, "crio/api/grpc_max_send_msg_size"), 83886080);
        assert_string_equal(get_string(root, "crio/runtime/default_capabilities/1"), "DAC_OVERRIDE");
        assert_int_equal(get_int(root, "crio/runtime/pids_limit"), -1);
        const TomlValue *runtimes = get_path(root, "crio/runtime/runtimes");
        assert_int_equal(runtimes->table.n, 2);
        assert_string_equal(runtimes->table.keys[0], "runc");
        assert_string_equal(runtimes->table.keys[1], "crun");
        assert_int_equal(runtimes->table.key_lines[0], 27);
        assert_string_equal(get_string(root, "crio/runtime/runtimes/runc/runtime_path"), "/usr/sbin/runc");
        assert_int_equal(get_path(root, "crio/runtime/runtimes/runc")->line, 27);
        assert_string_equal(get_string(root, "crio/runtime/workloads/management/resources/cpuset"), "0-1");
        assert_false(get_path(root, "crio/metrics/enable_metrics")->boolean);
        toml_free(root);
}

/* ---- writers ---- */

static void check_write_string(const char *in, const char *expected) {
        char *out = write_to_string(toml_write_string, in);
        assert_string_equal(out, expected);
        free(out);
}

static void check_string_roundtrip(const char *s) {
        char *written = write_to_string(toml_write_string, s);
        char *key = write_to_string(toml_write_key, s);
        char *doc = NULL;

        assert_true(asprintf(&doc, "v = %s\n[t]\n%s = 1\n", written, key) > 0);
        TomlValue *root = parse_ok(doc);
        const TomlValue *v = get_path(root, "v");
        assert_int_equal(v->type, TOML_STRING);
        assert_int_equal(v->string_len, strlen(s));
        assert_string_equal(v->string, s);
        const TomlValue *t = get_path(root, "t");
        assert_int_equal(t->table.n, 1);
        assert_string_equal(t->table.keys[0], s);
        toml_free(root);
        free(doc);
        free(key);
        free(written);
}

static void test_write_string(void **state) {
        (void)state;
        check_write_string("plain", "\"plain\"");
        check_write_string("", "\"\"");
        check_write_string(NULL, "\"\"");
        check_write_string("a\"b\\c", "\"a\\\"b\\\\c\"");
        check_write_string("\b\t\n\f\r", "\"\\b\\t\\n\\f\\r\"");
        check_write_string("\x01\x1f\x7f", "\"\\u0001\\u001F\\u007F\"");
        check_write_string("héllo 😀 日本", "\"héllo 😀 日本\"");
        check_write_string("it's # not a comment", "\"it's # not a comment\"");
        /* Invalid UTF-8 cannot be represented in TOML; it is replaced rather than breaking the file. */
        check_write_string("a\xff"
                           "b\xc3",
                           "\"a\\uFFFDb\\uFFFD\"");
        check_write_string("\xed\xa0\x80", "\"\\uFFFD\\uFFFD\\uFFFD\"");
}

static void test_write_string_roundtrip(void **state) {
        static const char *const strings[] = {
                "",
                "plain",
                "with \"quotes\"",
                "back\\slash\\",
                "\\\"",
                "trailing backslash \\",
                "'single'",
                "'''",
                "\"\"\"",
                "multi\nline\r\ntext",
                "\ttab",
                "ünïcödé ✓ 😀 𝄞",
                "# hash",
                "key = value",
                "[table]",
                "\\u0041 not an escape",
                "\x7f del",
                "a.b.c",
                "-_",
        };
        char all[128];
        (void)state;

        for (size_t i = 0; i < ELEMENTSOF(strings); i++)
                check_string_roundtrip(strings[i]);
        for (int c = 1; c < 128; c++)
                all[c - 1] = (char)c;
        all[127] = 0;
        check_string_roundtrip(all);
        for (int c = 1; c < 0x20; c++) {
                char s[4] = {'x', (char)c, 'y', 0};
                check_string_roundtrip(s);
        }
}

static void test_write_key(void **state) {
        static const struct {
                const char *key, *expected;
        } cases[] = {
                {"abc", "abc"},         {"ABC_def-09", "ABC_def-09"},
                {"1234", "1234"},       {"-", "-"},
                {"", "\"\""},           {"a.b", "\"a.b\""},
                {"a b", "\"a b\""},     {"ключ", "\"ключ\""},
                {"q\"k", "\"q\\\"k\""}, {"tab\t", "\"tab\\t\""},
                {"runc", "runc"},       {"io.kubernetes.cri-o", "\"io.kubernetes.cri-o\""},
        };
        (void)state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *out = write_to_string(toml_write_key, cases[i].key);
                assert_string_equal(out, cases[i].expected);
                free(out);
                check_string_roundtrip(cases[i].key);
        }
        char *out = write_to_string(toml_write_key, NULL);
        assert_string_equal(out, "\"\"");
        free(out);
}

/* ---- small API ---- */

static void test_get_and_free(void **state) {
        (void)state;
        TomlValue *root = parse_ok("a = 1\nb = [1]\n[c]\nd = 'x'\n");
        assert_int_equal(toml_get(root, "a")->integer, 1);
        assert_null(toml_get(root, "missing"));
        assert_null(toml_get(root, "d"));
        assert_null(toml_get(toml_get(root, "a"), "x"));
        assert_null(toml_get(toml_get(root, "b"), "0"));
        assert_null(toml_get(NULL, "a"));
        assert_null(toml_get(root, NULL));
        assert_string_equal(toml_get(toml_get(root, "c"), "d")->string, "x");
        toml_free(root);

        assert_null(toml_free(NULL));
        TomlValue *none = NULL;
        toml_freep(&none);
        assert_null(none);
        {
                _cleanup_toml_ TomlValue *scoped = parse_ok("x = [{y = 'z'}]\n");
                assert_non_null(scoped);
        }

        assert_string_equal(toml_type_to_string(TOML_STRING), "string");
        assert_string_equal(toml_type_to_string(TOML_INTEGER), "integer");
        assert_string_equal(toml_type_to_string(TOML_FLOAT), "float");
        assert_string_equal(toml_type_to_string(TOML_BOOL), "boolean");
        assert_string_equal(toml_type_to_string(TOML_DATETIME), "datetime");
        assert_string_equal(toml_type_to_string(TOML_ARRAY), "array");
        assert_string_equal(toml_type_to_string(TOML_TABLE), "table");
        assert_string_equal(toml_type_to_string((TomlType)42), "unknown");
}

static char *make_temp_file(const char *content) {
        size_t len = strlen(content);
        char *path = strdup("/tmp/test-toml-XXXXXX");
        assert_non_null(path);
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, content, len), (ssize_t)len);
        assert_int_equal(close(fd), 0);
        return path;
}

static void test_parse_file(void **state) {
        TomlValue *v = NULL;
        Error *e = NULL;
        (void)state;

        char *path = make_temp_file("[crio.runtime]\ndefault_runtime = \"crun\"\n");
        assert_int_equal(toml_parse_file(path, &v, &e), 0);
        assert_string_equal(get_string(v, "crio/runtime/default_runtime"), "crun");
        v = toml_free(v);
        unlink(path);
        free(path);

        path = make_temp_file("a = 1\nb = \n");
        assert_int_equal(toml_parse_file(path, &v, &e), -EINVAL);
        assert_null(v);
        char *expected = NULL;
        assert_true(asprintf(&expected, "%s:2:5: expected a value, found newline", path) > 0);
        assert_string_equal(e->message, expected);
        free(expected);
        e = error_free(e);

        /* Files over 16 MiB are refused without being parsed. */
        assert_int_equal(truncate(path, (16 << 20) + 1), 0);
        assert_int_equal(toml_parse_file(path, &v, &e), -EFBIG);
        assert_int_equal(e->code, EFBIG);
        assert_non_null(strstr(e->message, path));
        e = error_free(e);
        assert_null(v);
        unlink(path);

        assert_int_equal(toml_parse_file(path, &v, &e), -ENOENT);
        assert_int_equal(e->code, ENOENT);
        assert_true(strncmp(e->message, path, strlen(path)) == 0);
        e = error_free(e);
        free(path);

        assert_true(toml_parse_file("/", &v, &e) < 0);
        assert_non_null(e);
        e = error_free(e);
        assert_null(v);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bare_keys),
                cmocka_unit_test(test_quoted_keys),
                cmocka_unit_test(test_dotted_keys),
                cmocka_unit_test(test_key_errors),
                cmocka_unit_test(test_basic_strings),
                cmocka_unit_test(test_string_escape_errors),
                cmocka_unit_test(test_string_control_chars),
                cmocka_unit_test(test_literal_strings),
                cmocka_unit_test(test_multiline_basic_strings),
                cmocka_unit_test(test_multiline_literal_strings),
                cmocka_unit_test(test_multiline_string_errors),
                cmocka_unit_test(test_integers),
                cmocka_unit_test(test_integer_errors),
                cmocka_unit_test(test_floats),
                cmocka_unit_test(test_float_errors),
                cmocka_unit_test(test_special_floats),
                cmocka_unit_test(test_booleans),
                cmocka_unit_test(test_offset_datetimes),
                cmocka_unit_test(test_local_datetimes),
                cmocka_unit_test(test_local_dates),
                cmocka_unit_test(test_local_times),
                cmocka_unit_test(test_datetime_errors),
                cmocka_unit_test(test_arrays),
                cmocka_unit_test(test_array_errors),
                cmocka_unit_test(test_inline_tables),
                cmocka_unit_test(test_inline_table_errors),
                cmocka_unit_test(test_tables),
                cmocka_unit_test(test_dotted_table_creation),
                cmocka_unit_test(test_arrays_of_tables),
                cmocka_unit_test(test_redefinition_errors),
                cmocka_unit_test(test_comments),
                cmocka_unit_test(test_crlf),
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_error_positions),
                cmocka_unit_test(test_value_positions),
                cmocka_unit_test(test_insertion_order),
                cmocka_unit_test(test_nesting_limit),
                cmocka_unit_test(test_large_tables),
                cmocka_unit_test(test_empty_documents),
                cmocka_unit_test(test_crio_conf),
                cmocka_unit_test(test_write_string),
                cmocka_unit_test(test_write_string_roundtrip),
                cmocka_unit_test(test_write_key),
                cmocka_unit_test(test_get_and_free),
                cmocka_unit_test(test_parse_file),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
