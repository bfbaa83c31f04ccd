/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test-util.h"

#include "reference.h"

/* ---- helpers ---- */

#define SHA256_HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA256 "sha256:" SHA256_HEX
#define SHA512 "sha512:" SHA256_HEX SHA256_HEX

static void assert_str_or_null(const char *got, const char *want, const char *what, const char *input) {
        if (streq_ptr(got, want))
                return;
        print_error("%s: %s is '%s', expected '%s'\n", input, what, got ? got : "(null)",
                    want ? want : "(null)");
        fail();
}

static void assert_fields(const ImageRef *r, const char *domain, const char *path, const char *tag,
                          const char *digest, const char *input) {
        assert_non_null(r);
        assert_str_or_null(r->domain, domain, "domain", input);
        assert_str_or_null(r->path, path, "path", input);
        assert_str_or_null(r->tag, tag, "tag", input);
        assert_str_or_null(r->digest, digest, "digest", input);
}

static ImageRef *parse_ok(const char *s) {
        ImageRef *r = NULL;
        _cleanup_error_ Error *err = NULL;
        int k = image_ref_parse(s, &r, &err);
        if (k < 0)
                print_error("'%s' should parse: %s\n", s, err ? err->message : "(no message)");
        assert_int_equal(k, 0);
        assert_null(err);
        assert_non_null(r);
        return r;
}

/* `s` must be refused with EINVAL, *ret left alone, and a message "invalid reference '...': ...needle...".
 */
static void check_invalid(const char *s, const char *needle) {
        ImageRef *sentinel = (ImageRef *)0x1, *r = sentinel;
        _cleanup_error_ Error *err = NULL;

        int k = image_ref_parse(s, &r, &err);
        if (k >= 0) {
                _cleanup_free_ char *str = image_ref_to_string(r);
                print_error("accepted invalid reference '%s' as '%s'\n", s, str);
                image_ref_free(r);
                fail();
        }
        assert_int_equal(k, -EINVAL);
        assert_ptr_equal(r, sentinel);
        assert_non_null(err);
        assert_int_equal(err->code, EINVAL);
        assert_contains(err->message, "invalid reference '");
        assert_contains(err->message, needle);
}

static char *repeat(char c, size_t n) {
        char *s = xmalloc(n + 1);
        memset(s, c, n);
        s[n] = '\0';
        return s;
}

/* ---- valid references ---- */

typedef struct ValidCase {
        const char *input;
        const char *domain, *path, *tag, *digest;
        const char *string; /* image_ref_to_string() of the result */
} ValidCase;

static const ValidCase valid_cases[] = {
        /* short names */
        {"busybox", NULL, "busybox", NULL, NULL, "busybox"},
        {"busybox:1.36", NULL, "busybox", "1.36", NULL, "busybox:1.36"},
        {"library/busybox:1", NULL, "library/busybox", "1", NULL, "library/busybox:1"},
        {"a/b/c/d/e", NULL, "a/b/c/d/e", NULL, NULL, "a/b/c/d/e"},
        {"foo.bar", NULL, "foo.bar", NULL, NULL, "foo.bar"},
        {"localhost", NULL, "localhost", NULL, NULL, "localhost"},
        {"localhost:5000", NULL, "localhost", "5000", NULL, "localhost:5000"},
        {"0", NULL, "0", NULL, NULL, "0"},
        {"0/1", NULL, "0/1", NULL, NULL, "0/1"},
        {"docker://busybox", NULL, "busybox", NULL, NULL, "busybox"},
        /* path component separators */
        {"a.b", NULL, "a.b", NULL, NULL, "a.b"},
        {"a_b", NULL, "a_b", NULL, NULL, "a_b"},
        {"a__b", NULL, "a__b", NULL, NULL, "a__b"},
        {"a-b", NULL, "a-b", NULL, NULL, "a-b"},
        {"a---b", NULL, "a---b", NULL, NULL, "a---b"},
        {"a.b_c__d-e---f9", NULL, "a.b_c__d-e---f9", NULL, NULL, "a.b_c__d-e---f9"},
        {"ns-1/img_2.x/v__3", NULL, "ns-1/img_2.x/v__3", NULL, NULL, "ns-1/img_2.x/v__3"},
        /* domains */
        {"quay.io/podman/hello", "quay.io", "podman/hello", NULL, NULL, "quay.io/podman/hello"},
        {"localhost/foo", "localhost", "foo", NULL, NULL, "localhost/foo"},
        {"localhost:5000/foo:bar", "localhost:5000", "foo", "bar", NULL, "localhost:5000/foo:bar"},
        {"Example.COM/foo", "Example.COM", "foo", NULL, NULL, "Example.COM/foo"},
        {"a-b.example-1.com/x", "a-b.example-1.com", "x", NULL, NULL, "a-b.example-1.com/x"},
        {"a.b.c.d.e/x", "a.b.c.d.e", "x", NULL, NULL, "a.b.c.d.e/x"},
        {"192.168.0.1/x", "192.168.0.1", "x", NULL, NULL, "192.168.0.1/x"},
        {"1.2.3.4:65535/x", "1.2.3.4:65535", "x", NULL, NULL, "1.2.3.4:65535/x"},
        {"host:1/x", "host:1", "x", NULL, NULL, "host:1/x"},
        {"[::1]/x", "[::1]", "x", NULL, NULL, "[::1]/x"},
        {"[::1]:5000/x", "[::1]:5000", "x", NULL, NULL, "[::1]:5000/x"},
        {"[2001:db8::1]:443/ns/img:tag", "[2001:db8::1]:443", "ns/img", "tag", NULL,
         "[2001:db8::1]:443/ns/img:tag"},
        {"[FE80::1]/x", "[FE80::1]", "x", NULL, NULL, "[FE80::1]/x"},
        {"docker://quay.io/a/b:c", "quay.io", "a/b", "c", NULL, "quay.io/a/b:c"},
        /* Docker Hub spellings */
        {"docker.io/busybox", "docker.io", "library/busybox", NULL, NULL, "docker.io/library/busybox"},
        {"docker.io/library/busybox", "docker.io", "library/busybox", NULL, NULL,
         "docker.io/library/busybox"},
        {"index.docker.io/busybox", "docker.io", "library/busybox", NULL, NULL, "docker.io/library/busybox"},
        {"index.docker.io/foo/bar:1", "docker.io", "foo/bar", "1", NULL, "docker.io/foo/bar:1"},
        {"docker.io/library", "docker.io", "library/library", NULL, NULL, "docker.io/library/library"},
        /* tags */
        {"x:latest", NULL, "x", "latest", NULL, "x:latest"},
        {"x:_", NULL, "x", "_", NULL, "x:_"},
        {"x:A", NULL, "x", "A", NULL, "x:A"},
        {"x:9", NULL, "x", "9", NULL, "x:9"},
        {"x:1.2-rc_3.X", NULL, "x", "1.2-rc_3.X", NULL, "x:1.2-rc_3.X"},
        {"x:a..--__", NULL, "x", "a..--__", NULL, "x:a..--__"},
        /* digests, alone and with a tag */
        {"x@" SHA256, NULL, "x", NULL, SHA256, "x@" SHA256},
        {"x@" SHA512, NULL, "x", NULL, SHA512, "x@" SHA512},
        {"x:t@" SHA256, NULL, "x", "t", SHA256, "x:t@" SHA256},
        {"localhost:5000/x:t@" SHA256, "localhost:5000", "x", "t", SHA256, "localhost:5000/x:t@" SHA256},
        {"localhost:5000/x@" SHA512, "localhost:5000", "x", NULL, SHA512, "localhost:5000/x@" SHA512},
        {"docker://docker.io/busybox:1@" SHA256, "docker.io", "library/busybox", "1", SHA256,
         "docker.io/library/busybox:1@" SHA256},
};

static void check_valid_case(const ValidCase *c) {
        _cleanup_image_ref_ ImageRef *r = parse_ok(c->input);
        assert_fields(r, c->domain, c->path, c->tag, c->digest, c->input);

        _cleanup_free_ char *s = image_ref_to_string(r);
        assert_str_or_null(s, c->string, "to_string", c->input);

        /* What to_string() writes parses back to the same fields. */
        _cleanup_image_ref_ ImageRef *again = parse_ok(s);
        assert_fields(again, r->domain, r->path, r->tag, r->digest, s);
}

static void test_valid_references(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(valid_cases); i++)
                check_valid_case(&valid_cases[i]);
}

static void test_length_limits_accept(void **state) {
        /* A tag of exactly 128 characters. */
        _cleanup_free_ char *tag = repeat('t', 128);
        _cleanup_free_ char *with_tag = xasprintf("x:%s", tag);
        _cleanup_image_ref_ ImageRef *r = parse_ok(with_tag);
        assert_string_equal(r->tag, tag);

        /* A name of exactly 255 characters, short and with a domain. */
        _cleanup_free_ char *name = repeat('a', 255);
        _cleanup_image_ref_ ImageRef *r2 = parse_ok(name);
        assert_int_equal(strlen(r2->path), 255);

        _cleanup_free_ char *path = repeat('b', 255 - strlen("quay.io/"));
        _cleanup_free_ char *qualified = xasprintf("quay.io/%s:%s@%s", path, tag, SHA512);
        _cleanup_image_ref_ ImageRef *r3 = parse_ok(qualified);
        assert_string_equal(r3->path, path);
        assert_string_equal(r3->digest, SHA512);
}

/* ---- invalid references ---- */

typedef struct InvalidCase {
        const char *input;
        const char *needle;
} InvalidCase;

static const InvalidCase invalid_cases[] = {
        /* empty */
        {"", "empty reference"},
        {"docker://", "empty reference"},
        {"docker.io/", "repository name is empty"},
        {":tag", "repository name is empty"},
        {"@" SHA256, "repository name is empty"},
        /* case */
        {"Busybox", "repository name must be lowercase"},
        {"busyBox:1", "repository name must be lowercase"},
        {"docker.io/Library/busybox", "repository name must be lowercase"},
        {"LOCALHOST/foo", "repository name must be lowercase"},
        /* path components */
        {"foo//bar", "empty path component"},
        {"/foo", "empty path component"},
        {"foo/", "empty path component"},
        {"quay.io/foo/", "empty path component"},
        {"foo..bar", "invalid path component 'foo..bar'"},
        {"foo._bar", "invalid path component"},
        {"foo_.bar", "invalid path component"},
        {"foo___bar", "invalid path component"},
        {"foo-_bar", "invalid path component"},
        {"-foo", "invalid path component '-foo'"},
        {"foo-", "invalid path component"},
        {"foo.", "invalid path component"},
        {"_foo", "invalid path component"},
        {".foo", "invalid path component"},
        {"__", "invalid path component"},
        {"a/-b/c", "invalid path component '-b'"},
        {"foo bar", "invalid character ' ' in repository name"},
        {"foo!", "invalid character '!'"},
        {"foo+bar", "invalid character '+'"},
        {"foo\x01", "invalid byte 0x01"},
        {"f\xc3\xa9", "invalid byte 0xc3"},
        {"[::1]", "invalid character '['"},
        /* domains */
        {"exa_mple.com/foo", "invalid registry host 'exa_mple.com'"},
        {"-example.com/foo", "invalid registry host"},
        {"example-.com/foo", "invalid registry host"},
        {"example..com/foo", "invalid registry host"},
        {".example.com/foo", "invalid registry host"},
        {"example.com./foo", "invalid registry host"},
        {"ex*ample.com/foo", "invalid registry host"},
        {"Ex ample.com/foo", "invalid registry host"},
        /* ports */
        {"localhost:/foo", "invalid port '' in registry host 'localhost:'"},
        {"localhost:abc/foo", "invalid port 'abc'"},
        {"localhost:0/foo", "invalid port '0'"},
        {"localhost:65536/foo", "invalid port '65536'"},
        {"localhost:123456/foo", "invalid port"},
        {"localhost:-1/foo", "invalid port"},
        {"localhost:+1/foo", "invalid port"},
        {"example.com:5000:1/foo", "invalid port '5000:1'"},
        {"foo:bar/baz", "invalid port 'bar'"},
        /* IPv6 */
        {"[::1/foo", "invalid IPv6 address"},
        {"[]:5000/foo", "invalid IPv6 address"},
        {"[]/foo", "invalid character '['"}, /* no '.' or ':': a path, not a host */
        {"[::g]/foo", "invalid IPv6 address"},
        {"[::1]x/foo", "invalid registry host '[::1]x'"},
        {"[::1]:/foo", "invalid port"},
        {"[::1]:99999/foo", "invalid port"},
        /* tags */
        {"foo:", "tag is empty"},
        {"quay.io/foo:", "tag is empty"},
        {"foo:.bar", "tag '.bar' must start with a letter, digit or '_'"},
        {"foo:-bar", "must start with"},
        {"foo:bar!", "invalid tag 'bar!'"},
        {"foo:a:b", "invalid tag 'a:b'"},
        {"foo:a b", "invalid tag"},
        {"foo:a/b", "invalid port"}, /* "foo:a" before the slash is a host with a bad port */
        /* digests */
        {"foo@", "digest is empty"},
        {"foo:t@", "digest is empty"},
        {"foo@sha256", "digest 'sha256' is not of the form algorithm:hex"},
        {"foo@sha256:abc", "must have 64 lower-case hex digits"},
        {"foo@sha256:" SHA256_HEX "0", "must have 64 lower-case hex digits"},
        {"foo@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "64 lower-case"},
        {"foo@sha512:" SHA256_HEX, "must have 128 lower-case hex digits"},
        {"foo@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm 'md5'"},
        {"foo@sha384:" SHA256_HEX, "unsupported digest algorithm 'sha384'"},
        {"foo@SHA256:" SHA256_HEX, "unsupported digest algorithm 'SHA256'"},
        {"foo@" SHA256 "@" SHA256, "64 lower-case"},
        {"foo@" SHA256 ":tag", "64 lower-case"},
        {"foo@bar@" SHA256, "unsupported digest algorithm"},
};

static void test_invalid_references(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(invalid_cases); i++)
                check_invalid(invalid_cases[i].input, invalid_cases[i].needle);
}

static void test_exact_message(void **state) {
        _cleanup_error_ Error *err = NULL;
        ImageRef *r = NULL;

        assert_int_equal(image_ref_parse("Busybox", &r, &err), -EINVAL);
        assert_string_equal(err->message, "invalid reference 'Busybox': repository name must be lowercase");
        error_free(err);
        err = NULL;
        assert_int_equal(image_ref_parse("docker://busybox:", &r, &err), -EINVAL);
        assert_string_equal(err->message, "invalid reference 'docker://busybox:': tag is empty");
        assert_null(r);
}

static void test_length_limits_refuse(void **state) {
        _cleanup_free_ char *tag = repeat('t', 129);
        _cleanup_free_ char *long_tag = xasprintf("x:%s", tag);
        check_invalid(long_tag, "tag is longer than 128 characters");

        _cleanup_free_ char *name = repeat('a', 256);
        check_invalid(name, "repository name is longer than 255 characters");

        /* The limit is on the name as stored: "library/" pushes this one over. */
        _cleanup_free_ char *path = repeat('b', 255 - strlen("docker.io/"));
        _cleanup_free_ char *hub = xasprintf("docker.io/%s", path);
        check_invalid(hub, "longer than 255");
        _cleanup_free_ char *other = xasprintf("quay.io/%s", path);
        _cleanup_image_ref_ ImageRef *r = parse_ok(other);
        assert_string_equal(r->domain, "quay.io");
}

static void test_messages_are_bounded_and_escaped(void **state) {
        _cleanup_free_ char *huge = repeat('a', 5000);
        _cleanup_error_ Error *err = NULL;
        ImageRef *r = NULL;

        assert_int_equal(image_ref_parse(huge, &r, &err), -EINVAL);
        assert_contains(err->message, "longer than 1024 characters");
        assert_contains(err->message, "...");
        assert_true(strlen(err->message) < 400);
        error_free(err);
        err = NULL;

        assert_int_equal(image_ref_parse("a\nb\x7f", &r, &err), -EINVAL);
        assert_contains(err->message, "'a\\x0ab\\x7f'");
        assert_null(strchr(err->message, '\n'));
        assert_null(r);
}

static void test_null_and_no_reterr(void **state) {
        _cleanup_error_ Error *err = NULL;
        ImageRef *r = NULL;

        assert_int_equal(image_ref_parse(NULL, &r, &err), -EINVAL);
        assert_non_null(err);
        /* Without a place for the message the error code still comes back. */
        assert_int_equal(image_ref_parse("Bad", &r, NULL), -EINVAL);
        assert_null(r);
        assert_null(image_ref_to_string(NULL));
        assert_null(image_ref_name(NULL));
        assert_null(image_ref_copy(NULL));
        assert_null(image_ref_qualify(NULL, "docker.io"));
        assert_null(image_ref_free(NULL));
}

/* ---- normalisation and qualification ---- */

typedef struct NormalizeCase {
        const char *input, *want;
} NormalizeCase;

static const NormalizeCase normalize_cases[] = {
        {"busybox", "docker.io/library/busybox:latest"},
        {"busybox:1.36", "docker.io/library/busybox:1.36"},
        {"busybox@" SHA256, "docker.io/library/busybox@" SHA256},
        {"busybox:1@" SHA256, "docker.io/library/busybox:1@" SHA256},
        {"library/busybox", "docker.io/library/busybox:latest"},
        {"foo/bar", "docker.io/foo/bar:latest"},
        {"docker://busybox", "docker.io/library/busybox:latest"},
        {"index.docker.io/busybox", "docker.io/library/busybox:latest"},
        {"docker.io/busybox:x", "docker.io/library/busybox:x"},
        {"quay.io/foo", "quay.io/foo:latest"},
        {"localhost/foo", "localhost/foo:latest"},
        {"localhost:5000/foo@" SHA512, "localhost:5000/foo@" SHA512},
        {"localhost", "docker.io/library/localhost:latest"},
        {"localhost:5000", "docker.io/library/localhost:5000"},
};

static void test_normalize(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(normalize_cases); i++) {
                _cleanup_image_ref_ ImageRef *r = NULL;
                _cleanup_error_ Error *err = NULL;
                assert_int_equal(image_ref_normalize(normalize_cases[i].input, &r, &err), 0);
                _cleanup_free_ char *s = image_ref_to_string(r);
                assert_str_or_null(s, normalize_cases[i].want, "normalized", normalize_cases[i].input);
        }
}

static void test_normalize_invalid(void **state) {
        _cleanup_error_ Error *err = NULL;
        ImageRef *sentinel = (ImageRef *)0x1, *r = sentinel;

        assert_int_equal(image_ref_normalize("Busybox", &r, &err), -EINVAL);
        assert_ptr_equal(r, sentinel);
        assert_contains(err->message, "must be lowercase");
}

static void test_qualify(void **state) {
        _cleanup_image_ref_ ImageRef *short_ref = parse_ok("busybox");
        _cleanup_image_ref_ ImageRef *q1 = image_ref_qualify(short_ref, "quay.io");
        assert_fields(q1, "quay.io", "busybox", "latest", NULL, "quay.io");
        _cleanup_image_ref_ ImageRef *q2 = image_ref_qualify(short_ref, "index.docker.io");
        assert_fields(q2, "docker.io", "library/busybox", "latest", NULL, "index.docker.io");
        _cleanup_image_ref_ ImageRef *q3 = image_ref_qualify(short_ref, NULL);
        assert_fields(q3, "docker.io", "library/busybox", "latest", NULL, "NULL domain");
        /* The input is not changed. */
        assert_fields(short_ref, NULL, "busybox", NULL, NULL, "input");

        _cleanup_image_ref_ ImageRef *nested = parse_ok("ns/img@" SHA256);
        _cleanup_image_ref_ ImageRef *q4 = image_ref_qualify(nested, "localhost:5000");
        assert_fields(q4, "localhost:5000", "ns/img", NULL, SHA256, "digest only");

        /* A qualified reference keeps its domain; only the default tag is added. */
        _cleanup_image_ref_ ImageRef *qualified = parse_ok("quay.io/a/b");
        _cleanup_image_ref_ ImageRef *q5 = image_ref_qualify(qualified, "docker.io");
        assert_fields(q5, "quay.io", "a/b", "latest", NULL, "qualified");
        _cleanup_image_ref_ ImageRef *tagged = parse_ok("quay.io/a/b:v1@" SHA256);
        _cleanup_image_ref_ ImageRef *q6 = image_ref_qualify(tagged, "docker.io");
        assert_fields(q6, "quay.io", "a/b", "v1", SHA256, "tag and digest");
}

static void test_name_and_copy(void **state) {
        _cleanup_image_ref_ ImageRef *r = parse_ok("localhost:5000/ns/img:v1@" SHA256);
        _cleanup_free_ char *name = image_ref_name(r);
        assert_string_equal(name, "localhost:5000/ns/img");

        _cleanup_image_ref_ ImageRef *short_ref = parse_ok("ns/img:v1");
        _cleanup_free_ char *short_name = image_ref_name(short_ref);
        assert_string_equal(short_name, "ns/img");

        _cleanup_image_ref_ ImageRef *c = image_ref_copy(r);
        assert_fields(c, "localhost:5000", "ns/img", "v1", SHA256, "copy");
        assert_ptr_not_equal(c->path, r->path);
        c->path[0] = 'X';
        assert_string_equal(r->path, "ns/img");

        _cleanup_image_ref_ ImageRef *c2 = image_ref_copy(short_ref);
        assert_fields(c2, NULL, "ns/img", "v1", NULL, "copy of a short name");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_references),
                cmocka_unit_test(test_length_limits_accept),
                cmocka_unit_test(test_invalid_references),
                cmocka_unit_test(test_exact_message),
                cmocka_unit_test(test_length_limits_refuse),
                cmocka_unit_test(test_messages_are_bounded_and_escaped),
                cmocka_unit_test(test_null_and_no_reterr),
                cmocka_unit_test(test_normalize),
                cmocka_unit_test(test_normalize_invalid),
                cmocka_unit_test(test_qualify),
                cmocka_unit_test(test_name_and_copy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
