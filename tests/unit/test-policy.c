/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fs-util.h"
#include "policy.h"

#define DIGEST_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define DIGEST_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

#define ACCEPT "[{\"type\": \"insecureAcceptAnything\"}]"
#define REJECT "[{\"type\": \"reject\"}]"
#define SIGNED "[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/etc/pki/key.gpg\"}]"

/* ---- fixtures ---- */

typedef struct TmpDir {
        char *path;
        char *policy;
} TmpDir;

static int tmpdir_setup(void **state) {
        char templ[] = "/tmp/crio-c-test-policy-XXXXXX";
        if (!mkdtemp(templ))
                return -1;
        TmpDir *t = xcalloc(1, sizeof(*t));
        t->path = xstrdup(templ);
        t->policy = xasprintf("%s/policy.json", templ);
        *state = t;
        return 0;
}

static int tmpdir_teardown(void **state) {
        TmpDir *t = *state;
        int r = rm_rf(t->path);
        free(t->path);
        free(t->policy);
        free(t);
        return r;
}

static void write_bytes(const char *path, const char *content, size_t len) {
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(content, 1, len, f), len);
        assert_int_equal(fclose(f), 0);
}

static Policy *load_ok(const TmpDir *t, const char *content) {
        Policy *p = NULL;
        _cleanup_error_ Error *e = NULL;

        write_bytes(t->policy, content, strlen(content));
        if (policy_load(t->policy, &p, &e) < 0) {
                print_message("unexpected error: %s\n%s\n", e->message, content);
                fail();
        }
        assert_null(e);
        assert_non_null(p);
        return p;
}

/* Built by hand: policy_check() reads only the fields, so the reference parser is not needed. */
static ImageRef *ref_new(const char *domain, const char *path, const char *tag, const char *digest) {
        ImageRef *r = xcalloc(1, sizeof(*r));
        r->domain = domain ? xstrdup(domain) : NULL;
        r->path = xstrdup(path);
        r->tag = tag ? xstrdup(tag) : NULL;
        r->digest = digest ? xstrdup(digest) : NULL;
        return r;
}

static void ref_free(ImageRef *r) {
        free(r->domain);
        free(r->path);
        free(r->tag);
        free(r->digest);
        free(r);
}

typedef struct Check {
        const char *domain, *path, *tag, *digest;
        int expected; /* 0 or -errno */
        const char *message;
} Check;

static void run_checks(const Policy *p, const char *transport, const Check *checks, size_t n) {
        for (size_t i = 0; i < n; i++) {
                ImageRef *ref = ref_new(checks[i].domain, checks[i].path, checks[i].tag, checks[i].digest);
                Error *e = NULL;
                int r = policy_check(p, transport, ref, &e);
                if (r != checks[i].expected) {
                        print_message("%s/%s:%s@%s via %s: got %d (%s), expected %d\n",
                                      strempty(checks[i].domain), checks[i].path, strempty(checks[i].tag),
                                      strempty(checks[i].digest), transport, r, e ? e->message : "",
                                      checks[i].expected);
                        fail();
                }
                if (r < 0) {
                        assert_non_null(e);
                        assert_int_equal(e->code, -r);
                        if (checks[i].message && !strstr(e->message, checks[i].message)) {
                                print_message("expected '%s' in '%s'\n", checks[i].message, e->message);
                                fail();
                        }
                } else
                        assert_null(e);
                error_free(e);
                ref_free(ref);
        }
}

/* ---- loading ---- */

static void test_load_missing(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *path = xasprintf("%s/nope.json", t->path);
        _cleanup_error_ Error *e = NULL;
        Policy *p = NULL;

        assert_int_equal(policy_load(path, &p, &e), -ENOENT);
        assert_null(p);
        assert_non_null(e);
        assert_int_equal(e->code, ENOENT);
        assert_non_null(strstr(e->message, path));
}

static void test_load_unreadable(void **state) {
        TmpDir *t = *state;
        _cleanup_error_ Error *e = NULL;
        Policy *p = NULL;

        /* A directory where the file should be. */
        assert_int_equal(policy_load(t->path, &p, &e), -EISDIR);
        assert_null(p);
        assert_non_null(strstr(e->message, t->path));
}

static void test_load_malformed(void **state) {
        static const struct {
                const char *content, *message;
        } cases[] = {
                {"", "not valid JSON"},
                {"{", "not valid JSON"},
                {"{\"default\": " ACCEPT "", "not valid JSON"},
                {"{\"default\": " ACCEPT "} x", "not valid JSON"},
                {"{\"default\": " ACCEPT ",}", "not valid JSON"},
                {"[]", "not a JSON object"},
                {"null", "not a JSON object"},
                {"{}", "\"default\" is missing"},
                {"{\"transports\": {}}", "\"default\" is missing"},
                {"{\"default\": []}", "the list of requirements is empty"},
                {"{\"default\": null}", "not an array"},
                {"{\"default\": {\"type\": \"reject\"}}", "not an array"},
                {"{\"default\": [\"reject\"]}", "requirement 0 is not an object"},
                {"{\"default\": [{}]}", "requirement 0 has no string \"type\""},
                {"{\"default\": [{\"type\": 1}]}", "has no string \"type\""},
                {"{\"default\": [{\"type\": \"insecureAcceptAnything\"}, {\"type\": \"acceptAll\"}]}",
                 "unknown requirement type \"acceptAll\""},
                {"{\"default\": [{\"type\": \"Reject\"}]}", "unknown requirement type"},
                {"{\"default\": [{\"type\": \"insecureAcceptAnything\\u0000x\"}]}",
                 "has a NUL in its \"type\""},
                {"{\"default\": [{\"type\": \"reject\", \"keyPath\": \"/x\"}]}", "takes no keys besides"},
                {"{\"default\": [{\"type\": \"insecureAcceptAnything\", \"x\": 1}]}",
                 "takes no keys besides"},
                {"{\"default\": " ACCEPT ", \"transport\": {}}", "unknown key \"transport\""},
                {"{\"default\": " ACCEPT ", \"transports\": []}", "\"transports\" is not an object"},
                {"{\"default\": " ACCEPT ", \"transports\": {\"docker\": []}}",
                 "transport \"docker\" is not an object"},
                {"{\"default\": " ACCEPT ", \"transports\": {\"docker\": {\"docker.io\": {}}}}",
                 "transport \"docker\" scope \"docker.io\": requirements are not an array"},
                {"{\"default\": " ACCEPT ", \"transports\": {\"docker\": {\"\": []}}}", "empty"},
                {"{\"default\": " ACCEPT ", \"transports\": {\"docker\": {\"a\": " ACCEPT ", \"b\": "
                 "[{\"type\": \"rejected\"}]}}}",
                 "transport \"docker\" scope \"b\": unknown requirement type \"rejected\""},
                {"{\"default\": [{\"type\": \"reject\"}] /* comment */}", "not valid JSON"},
                {"{\"default\": [{\"type\": \"re\xffject\"}]}", "not valid JSON"},
        };

        TmpDir *t = *state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_error_ Error *e = NULL;
                Policy *p = NULL;
                write_bytes(t->policy, cases[i].content, strlen(cases[i].content));
                int r = policy_load(t->policy, &p, &e);
                if (r != -EINVAL || !e || !strstr(e->message, cases[i].message)) {
                        print_message("case %zu: r=%d '%s', expected '%s'\n", i, r, e ? e->message : "",
                                      cases[i].message);
                        fail();
                }
                assert_null(p);
                assert_int_equal(e->code, EINVAL);
                /* Every message names the file. */
                assert_non_null(strstr(e->message, t->policy));
        }
}

static void test_load_nul_and_size(void **state) {
        static const char with_nul[] = "{\"default\": [{\"type\": \"reject\"}]}\0";
        TmpDir *t = *state;
        _cleanup_error_ Error *e = NULL, *e2 = NULL;
        Policy *p = NULL;

        write_bytes(t->policy, with_nul, sizeof(with_nul) - 1);
        assert_int_equal(policy_load(t->policy, &p, &e), -EINVAL);
        assert_non_null(strstr(e->message, "NUL"));
        assert_null(p);

        /* Over 1 MiB: refused before parsing, whatever it holds. */
        size_t len = 1024 * 1024 + 1;
        _cleanup_free_ char *big = xmalloc(len);
        memset(big, ' ', len);
        memcpy(big, "{\"default\": " ACCEPT "}", strlen("{\"default\": " ACCEPT "}"));
        write_bytes(t->policy, big, len);
        assert_int_equal(policy_load(t->policy, &p, &e2), -EINVAL);
        assert_non_null(strstr(e2->message, "larger than"));
        assert_null(p);

        /* One byte less is fine. */
        write_bytes(t->policy, big, len - 1);
        Policy *ok = NULL;
        assert_int_equal(policy_load(t->policy, &ok, NULL), 0);
        policy_free(ok);
}

static void test_load_real_world(void **state) {
        /* What Debian's and Fedora's containers-common ship, plus a signed scope. */
        static const char policy[] =
                "{\n"
                "    \"default\": [\n"
                "        {\n"
                "            \"type\": \"insecureAcceptAnything\"\n"
                "        }\n"
                "    ],\n"
                "    \"transports\": {\n"
                "        \"docker-daemon\": {\n"
                "            \"\": [{\"type\":\"insecureAcceptAnything\"}]\n"
                "        },\n"
                "        \"docker\": {\n"
                "            \"registry.access.redhat.com\": [\n"
                "                {\n"
                "                    \"type\": \"signedBy\",\n"
                "                    \"keyType\": \"GPGKeys\",\n"
                "                    \"keyPaths\": [\"/etc/pki/rpm-gpg/RPM-GPG-KEY-redhat-release\"]\n"
                "                }\n"
                "            ],\n"
                "            \"quay.io/sig\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"/k.pub\","
                "                               \"signedIdentity\": {\"type\": \"matchRepository\"}}]\n"
                "        }\n"
                "    }\n"
                "}\n";
        static const Check checks[] = {
                {"docker.io", "library/busybox", "latest", NULL, 0, NULL},
                {"registry.access.redhat.com", "ubi9/ubi", "latest", NULL, -EOPNOTSUPP,
                 "signature verification (signedBy) is not supported by crio-c yet"},
                {"quay.io", "sig/app", "1", NULL, -EOPNOTSUPP,
                 "signature verification (sigstoreSigned) is not supported by crio-c yet"},
                {"quay.io", "other/app", "1", NULL, 0, NULL},
        };

        Policy *p = load_ok(*state, policy);
        run_checks(p, "docker", checks, ELEMENTSOF(checks));
        policy_free(p);
        policy_free(NULL);
        Policy *none = NULL;
        policy_freep(&none);
}

/* ---- scope precedence ---- */

static void test_scope_precedence(void **state) {
        /* Each scope says the opposite of the next less specific one, so only the right one gives the
         * answer. */
        static const char policy[] = "{\"default\": " REJECT ", \"transports\": {\"docker\": {"
                                     "\"docker.io/library/busybox:1.36\": " REJECT ","
                                     "\"docker.io/library/busybox@" DIGEST_A "\": " REJECT ","
                                     "\"docker.io/library/busybox\": " ACCEPT ","
                                     "\"docker.io/library\": " REJECT ","
                                     "\"docker.io\": " ACCEPT ","
                                     "\"quay.io/ns\": " ACCEPT ","
                                     "\"quay.io\": " REJECT ","
                                     "\"a.b.example.com\": " REJECT ","
                                     "\"*.b.example.com\": " ACCEPT ","
                                     "\"*.example.com\": " REJECT ","
                                     "\"*.org\": " ACCEPT ","
                                     "\"localhost:5000\": " ACCEPT ","
                                     "\"[::1]:5000\": " ACCEPT ","
                                     "\"\": " REJECT "}}}";
        static const Check checks[] = {
                /* repo:tag, then repo@digest, then repo. */
                {"docker.io", "library/busybox", "1.36", NULL, -EACCES,
                 "scope \"docker.io/library/busybox:1.36\""},
                {"docker.io", "library/busybox", "1.37", NULL, 0, NULL},
                {"docker.io", "library/busybox", NULL, DIGEST_A, -EACCES, "@" DIGEST_A},
                {"docker.io", "library/busybox", NULL, DIGEST_B, 0, NULL},
                {"docker.io", "library/busybox", "1.37", DIGEST_A, -EACCES, "@" DIGEST_A},
                {"docker.io", "library/busybox", "1.36", DIGEST_B, -EACCES, ":1.36"},
                {"docker.io", "library/busybox", NULL, NULL, 0, NULL},
                /* Parent namespace, then the host. */
                {"docker.io", "library/alpine", "3", NULL, -EACCES, "scope \"docker.io/library\""},
                {"docker.io", "library", "3", NULL, -EACCES, "scope \"docker.io/library\""},
                {"docker.io", "someone/app", "3", NULL, 0, NULL},
                {"docker.io", "someone/library/app", "3", NULL, 0, NULL},
                {"quay.io", "ns/deep/er/app", "1", NULL, 0, NULL},
                {"quay.io", "nsx/app", "1", NULL, -EACCES, "scope \"quay.io\""},
                {"quay.io", "ns", "1", NULL, 0, NULL},
                /* The host beats wildcards; the longest wildcard wins; a wildcard is not its own domain. */
                {"a.b.example.com", "x", "1", NULL, -EACCES, "scope \"a.b.example.com\""},
                {"c.b.example.com", "x", "1", NULL, 0, NULL},
                {"c.b.example.com:443", "x/y", "1", NULL, 0, NULL},
                {"b.example.com", "x", "1", NULL, -EACCES, "scope \"*.example.com\""},
                {"example.com", "x", "1", NULL, -EACCES, "the default of transport docker"},
                {"example.org", "x", "1", NULL, 0, NULL},
                {"deep.er.example.org", "x", "1", NULL, 0, NULL},
                /* Ports are part of the host scope. */
                {"localhost:5000", "x", "1", NULL, 0, NULL},
                {"localhost:5001", "x", "1", NULL, -EACCES, "the default of transport docker"},
                {"localhost", "x", "1", NULL, -EACCES, "the default of transport docker"},
                {"[::1]:5000", "x", "1", NULL, 0, NULL},
                {"[::1]:5001", "x", "1", NULL, -EACCES, NULL},
                /* Nothing specific: the transport's "" entry, not the global default. */
                {"registry.k8s.io", "pause", "3.9", NULL, -EACCES, "the default of transport docker"},
        };

        Policy *p = load_ok(*state, policy);
        run_checks(p, "docker", checks, ELEMENTSOF(checks));
        policy_free(p);
}

static void test_transport_and_global_defaults(void **state) {
        static const char policy[] = "{\"default\": " ACCEPT ", \"transports\": {"
                                     "\"docker\": {\"docker.io\": " REJECT "},"
                                     "\"oci\": {\"\": " REJECT ", \"docker.io\": " ACCEPT "},"
                                     "\"dir\": null}}";
        static const Check docker[] = {
                {"docker.io", "library/busybox", "latest", NULL, -EACCES,
                 "scope \"docker.io\" of transport docker"},
                /* No "" entry for docker: the global default applies. */
                {"quay.io", "a/b", "latest", NULL, 0, NULL},
        };
        static const Check oci[] = {
                /* Scopes of other transports are not docker scopes: only their "" entry applies. */
                {"docker.io", "library/busybox", "latest", NULL, -EACCES, "the default of transport oci"},
        };
        static const Check unknown[] = {
                {"docker.io", "library/busybox", "latest", NULL, 0, NULL},
        };

        Policy *p = load_ok(*state, policy);
        run_checks(p, "docker", docker, ELEMENTSOF(docker));
        run_checks(p, "oci", oci, ELEMENTSOF(oci));
        run_checks(p, "containers-storage", unknown, ELEMENTSOF(unknown));
        policy_free(p);

        static const char reject_all[] = "{\"default\": " REJECT "}";
        static const Check rejected[] = {
                {"docker.io", "library/busybox", "latest", NULL, -EACCES,
                 "docker.io/library/busybox:latest is rejected by policy (the default policy)"},
        };
        p = load_ok(*state, reject_all);
        run_checks(p, "docker", rejected, ELEMENTSOF(rejected));
        policy_free(p);
}

static void test_requirement_lists(void **state) {
        static const char policy[] =
                "{\"default\": " SIGNED ", \"transports\": {\"docker\": {"
                "\"a.io\": [{\"type\": \"insecureAcceptAnything\"}, {\"type\": \"insecureAcceptAnything\"}],"
                "\"b.io\": [{\"type\": \"insecureAcceptAnything\"}, {\"type\": \"reject\"}],"
                "\"c.io\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyData\": \"AAAA\"},"
                "           {\"type\": \"reject\"}],"
                "\"d.io\": [{\"type\": \"insecureAcceptAnything\"}, {\"type\": \"sigstoreSigned\"},"
                "           {\"type\": \"signedBy\"}],"
                "\"e.io/signed\": " SIGNED ","
                "\"e.io\": " ACCEPT "}}}";
        static const Check checks[] = {
                {"a.io", "x", "1", NULL, 0, NULL},
                {"b.io", "x", "1", NULL, -EACCES, "rejected by policy"},
                /* A reject decides before an unverifiable signature. */
                {"c.io", "x", "1", NULL, -EACCES, "rejected by policy"},
                {"d.io", "x", "1", NULL, -EOPNOTSUPP, "(sigstoreSigned)"},
                {"e.io", "signed/app", "1", NULL, -EOPNOTSUPP, "scope \"e.io/signed\""},
                {"e.io", "unsigned/app", "1", NULL, 0, NULL},
                {"f.io", "x", "1", NULL, -EOPNOTSUPP,
                 "signature verification (signedBy) is not supported by crio-c yet; the default policy "
                 "requires it "
                 "for f.io/x:1"},
        };

        Policy *p = load_ok(*state, policy);
        run_checks(p, "docker", checks, ELEMENTSOF(checks));
        policy_free(p);
}

static void test_unqualified_reference(void **state) {
        static const Check checks[] = {
                {NULL, "busybox", "latest", NULL, -EINVAL, "not qualified"},
        };
        Policy *p = load_ok(*state, "{\"default\": " ACCEPT "}");
        run_checks(p, "docker", checks, ELEMENTSOF(checks));
        policy_free(p);
}

#define TMP_TEST(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                TMP_TEST(test_load_missing),
                TMP_TEST(test_load_unreadable),
                TMP_TEST(test_load_malformed),
                TMP_TEST(test_load_nul_and_size),
                TMP_TEST(test_load_real_world),
                TMP_TEST(test_scope_precedence),
                TMP_TEST(test_transport_and_global_defaults),
                TMP_TEST(test_requirement_lists),
                TMP_TEST(test_unqualified_reference),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
