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
#include <unistd.h>

#include <cmocka.h>

#include "fs-util.h"
#include "auth.h"
#include "strv.h"

/* base64("user:pass"), base64("alice:s3cret"), base64("bob:hunter2"), base64("carol:pw") */
#define AUTH_USER "dXNlcjpwYXNz"
#define AUTH_ALICE "YWxpY2U6czNjcmV0"
#define AUTH_BOB "Ym9iOmh1bnRlcjI="
#define AUTH_CAROL "Y2Fyb2w6cHc="

/* ---- fixtures ---- */

typedef struct TmpDir {
        char *path;
} TmpDir;

static int tmpdir_setup(void **state) {
        char templ[] = "/tmp/crio-c-test-auth-XXXXXX";
        if (!mkdtemp(templ))
                return -1;
        TmpDir *t = xcalloc(1, sizeof(*t));
        t->path = xstrdup(templ);
        *state = t;
        return 0;
}

static int tmpdir_teardown(void **state) {
        TmpDir *t = *state;
        int r = rm_rf(t->path);
        free(t->path);
        free(t);
        return r;
}

/* Write `content` to a file of the temporary directory; returns its path. */
static char *write_auth(const TmpDir *t, const char *name, const char *content) {
        char *path = xasprintf("%s/%s", t->path, name);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fwrite(content, 1, strlen(content), f), strlen(content));
        assert_int_equal(fclose(f), 0);
        return path;
}

static char *missing_path(const TmpDir *t, const char *name) {
        return xasprintf("%s/%s", t->path, name);
}

/* Look up and expect user/password (NULL user: expect no match). */
static void expect_lookup(char *const *files, const char *host, const char *repo, const char *user,
                          const char *password) {
        Credentials *c = NULL;
        _cleanup_error_ Error *e = NULL;
        int r = credentials_lookup(files, host, repo, &c, &e);
        if (r < 0) {
                print_message("lookup %s/%s failed: %s\n", host, strempty(repo), e->message);
                fail();
        }
        assert_null(e);
        if (!user) {
                assert_int_equal(r, 0);
                assert_null(c);
                return;
        }
        assert_int_equal(r, 1);
        assert_non_null(c);
        if (!streq_ptr(c->username, user) || !streq_ptr(c->password, password)) {
                print_message("lookup %s/%s: got %s:%s, expected %s:%s\n", host, strempty(repo),
                              strempty(c->username), strempty(c->password), user, password);
                fail();
        }
        credentials_free(c);
}

static void expect_lookup_error(char *const *files, const char *host, const char *repo, const char *message,
                                const char *path) {
        Credentials *c = NULL;
        _cleanup_error_ Error *e = NULL;
        int r = credentials_lookup(files, host, repo, &c, &e);
        if (r != -EINVAL || !e || !strstr(e->message, message) || (path && !strstr(e->message, path))) {
                print_message("lookup %s: r=%d '%s', expected '%s'\n", host, r, e ? e->message : "",
                              message);
                fail();
        }
        assert_null(c);
        assert_int_equal(e->code, EINVAL);
}

/* ---- decoding ---- */

static void test_decode_valid(void **state) {
        static const struct {
                const char *b64, *user, *password;
        } cases[] = {
                {AUTH_USER, "user", "pass"},
                {AUTH_BOB, "bob", "hunter2"},
                {AUTH_CAROL, "carol", "pw"},
                {"dXNlcjo=", "user", ""},                   /* "user:" */
                {"OnB3", "", "pw"},                         /* ":pw" */
                {"YTpiOmM=", "a", "b:c"},                   /* the first colon splits */
                {"dXNl\r\ncjpw\nYXNz", "user", "pass"},     /* line breaks are skipped, as Go does */
                {"dXNlcjpwAA==", "user", "p"},              /* "user:p\0": NULs around the password go */
                {"dTpw8J+Skg==", "u", "p\xf0\x9f\x92\x92"}, /* "u:p💒" */
                {"dXNlcjpwYXNzd29yZA==", "user", "password"},
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *user = NULL, *password = NULL;
                int r = credentials_decode_auth(cases[i].b64, &user, &password);
                if (r < 0) {
                        print_message("case %zu '%s' refused\n", i, cases[i].b64);
                        fail();
                }
                assert_string_equal(user, cases[i].user);
                assert_string_equal(password, cases[i].password);
                free(user);
                free(password);
        }
}

static void test_decode_invalid(void **state) {
        static const char *const cases[] = {
                "",             /* "" has no colon */
                "dXNlcg==",     /* "user": no colon */
                "dXNlcjpwYXN",  /* missing padding */
                "dXNlcjpwYX=z", /* data after padding */
                "dXNlcjpw=XNz", /* padding in the middle */
                "dXNl=jpwYXNz", /* padding in the middle */
                "====",         /* padding only */
                "d===",         /* too much padding */
                "dXNlcjpwYXNz====",
                "dXNlcjpwYXNz=",
                "dXNlcjpw YXNz",        /* blanks are not skipped */
                "dXNlcjpw\tYXNz",       /* nor tabs */
                "dXNlcjpw-_Nz",         /* URL alphabet */
                "dXNlcjpwYXNz\x80\x80", /* not ASCII */
                "AHU6cA==",             /* "\0u:p": NUL in the user name */
                "dTpwAHE=",             /* "u:p\0q": NUL inside the password */
                NULL,
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *user = (char *)"untouched", *password = (char *)"untouched";
                int r = credentials_decode_auth(cases[i], &user, &password);
                if (r != -EINVAL) {
                        print_message("case %zu '%s': %d\n", i, strempty(cases[i]), r);
                        fail();
                }
                assert_string_equal(user, "untouched");
                assert_string_equal(password, "untouched");
        }
}

/* ---- lookups ---- */

static void test_missing_files_skipped(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *a = missing_path(t, "none.json");
        _cleanup_free_ char *b =
                write_auth(t, "b.json", "{\"auths\": {\"quay.io\": {\"auth\": \"" AUTH_BOB "\"}}}");
        _cleanup_free_ char *below_file = xasprintf("%s/auth.json", b); /* ENOTDIR */
        char *files[] = {a, below_file, b, NULL};

        expect_lookup(files, "quay.io", "ns/app", "bob", "hunter2");
        expect_lookup(files, "ghcr.io", "ns/app", NULL, NULL);
        char *none[] = {a, NULL};
        expect_lookup(none, "quay.io", NULL, NULL, NULL);
        char *empty[] = {NULL};
        expect_lookup(empty, "quay.io", "x", NULL, NULL);
}

static void test_file_precedence(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *first =
                write_auth(t, "first.json", "{\"auths\": {\"quay.io\": {\"auth\": \"" AUTH_ALICE "\"}}}");
        _cleanup_free_ char *second =
                write_auth(t, "second.json",
                           "{\"auths\": {\"quay.io/ns/app\": {\"auth\": \"" AUTH_BOB "\"},"
                           "\"ghcr.io\": {\"auth\": \"" AUTH_CAROL "\"}}}");
        char *files[] = {first, second, NULL};
        char *reversed[] = {second, first, NULL};

        /* The first file with any match wins, even over a more specific key in a later file. */
        expect_lookup(files, "quay.io", "ns/app", "alice", "s3cret");
        expect_lookup(reversed, "quay.io", "ns/app", "bob", "hunter2");
        expect_lookup(reversed, "quay.io", "ns/other", "alice", "s3cret");
        expect_lookup(files, "ghcr.io", "x/y", "carol", "pw");
}

static void test_key_specificity(void **state) {
        TmpDir *t = *state;
        /* Listed from least to most specific, so that file order cannot be what decides. */
        _cleanup_free_ char *f = write_auth(t, "auth.json",
                                            "{\"auths\": {"
                                            "\"quay.io\": {\"auth\": \"" AUTH_USER "\"},"
                                            "\"quay.io/ns\": {\"auth\": \"" AUTH_ALICE "\"},"
                                            "\"quay.io/ns/app\": {\"auth\": \"" AUTH_BOB "\"},"
                                            "\"quay.io/ns/app/sub\": {\"auth\": \"" AUTH_CAROL "\"},"
                                            "\"localhost:5000\": {\"auth\": \"" AUTH_BOB "\"}}}");
        char *files[] = {f, NULL};

        expect_lookup(files, "quay.io", "ns/app", "bob", "hunter2");
        expect_lookup(files, "quay.io", "ns/app/sub", "carol", "pw");
        expect_lookup(files, "quay.io", "ns/app/sub/deeper", "carol", "pw");
        expect_lookup(files, "quay.io", "ns/other", "alice", "s3cret");
        expect_lookup(files, "quay.io", "ns", "alice", "s3cret");
        expect_lookup(files, "quay.io", "nsx/app", "user", "pass");
        expect_lookup(files, "quay.io", NULL, "user", "pass");
        expect_lookup(files, "quay.io", "", "user", "pass");
        expect_lookup(files, "localhost:5000", "x", "bob", "hunter2");
        expect_lookup(files, "localhost", "x", NULL, NULL);
        expect_lookup(files, "localhost:5001", "x", NULL, NULL);
        /* Keys are not prefixes of names: "quay.io" does not cover "quay.io.evil.com". */
        expect_lookup(files, "quay.io.evil.com", "ns/app", NULL, NULL);
}

static void test_legacy_keys(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *docker =
                write_auth(t, "config.json",
                           "{\"auths\": {\"https://index.docker.io/v1/\": "
                           "{\"auth\": \"" AUTH_ALICE "\", \"email\": \"a@example.com\"},"
                           "\"http://registry.example.com:5000/v2/\": {\"auth\": \"" AUTH_BOB "\"},"
                           "\"https://quay.io/ns/app\": {\"auth\": \"" AUTH_CAROL "\"}},"
                           "\"HttpHeaders\": {\"User-Agent\": \"Docker-Client/24.0\"},"
                           "\"psFormat\": \"table\"}");
        char *files[] = {docker, NULL};

        expect_lookup(files, "docker.io", "library/busybox", "alice", "s3cret");
        expect_lookup(files, "index.docker.io", NULL, "alice", "s3cret");
        expect_lookup(files, "registry-1.docker.io", "x/y", "alice", "s3cret");
        expect_lookup(files, "registry.example.com:5000", "a/b", "bob", "hunter2");
        expect_lookup(files, "registry.example.com", "a/b", NULL, NULL);
        /* A URL's path is an API path, not a repository: the key covers the whole host. */
        expect_lookup(files, "quay.io", "other/thing", "carol", "pw");

        /* The key as written wins over one that only matches once normalized. */
        _cleanup_free_ char *both =
                write_auth(t, "both.json",
                           "{\"auths\": {\"https://index.docker.io/v1/\": {\"auth\": \"" AUTH_ALICE
                           "\"}, \"docker.io\": {\"auth\": \"" AUTH_BOB "\"},"
                           "\"registry-1.docker.io/library/busybox\": {\"auth\": \"" AUTH_CAROL "\"}}}");
        char *files2[] = {both, NULL};
        expect_lookup(files2, "docker.io", "library/alpine", "bob", "hunter2");
        expect_lookup(files2, "docker.io", "library/busybox", "carol", "pw");
}

static void test_tokens_and_empty_entries(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *f =
                write_auth(t, "auth.json",
                           "{\"auths\": {"
                           "\"quay.io/ns\": {},"
                           "\"quay.io\": {\"auth\": \"" AUTH_ALICE "\"},"
                           "\"ghcr.io\": {\"identitytoken\": \"refresh-token\"},"
                           "\"gcr.io\": {\"auth\": \"" AUTH_BOB "\", \"identitytoken\": \"tok\"},"
                           "\"empty.io\": {\"auth\": \"\", \"identitytoken\": null}},"
                           "\"credHelpers\": {\"helper.io\": \"ecr-login\", \"quay.io\": \"x\"},"
                           "\"credsStore\": \"desktop\"}");
        char *files[] = {f, NULL};

        /* An entry without credentials is passed over for a less specific one. */
        expect_lookup(files, "quay.io", "ns/app", "alice", "s3cret");
        /* credHelpers and credsStore are not run. */
        expect_lookup(files, "helper.io", "x", NULL, NULL);
        expect_lookup(files, "empty.io", "x", NULL, NULL);

        Credentials *c = NULL;
        assert_int_equal(credentials_lookup(files, "ghcr.io", "a/b", &c, NULL), 1);
        assert_null(c->username);
        assert_null(c->password);
        assert_string_equal(c->identity_token, "refresh-token");
        assert_null(c->registry_token);
        credentials_free(c);

        c = NULL;
        assert_int_equal(credentials_lookup(files, "gcr.io", "a/b", &c, NULL), 1);
        assert_string_equal(c->username, "bob");
        assert_string_equal(c->password, "hunter2");
        assert_string_equal(c->identity_token, "tok");
        credentials_freep(&c);
        assert_null(c);
        credentials_freep(&c);
}

static void test_malformed_files(void **state) {
        static const struct {
                const char *content, *message;
        } cases[] = {
                {"{", "is not valid JSON"},
                {"{\"auths\": {}} trailing", "is not valid JSON"},
                {"{\"auths\": {\"quay.io\": {\"auth\": \"" AUTH_BOB "\"},}}", "is not valid JSON"},
                {"[]", "is not a JSON object"},
                {"\"auths\"", "is not a JSON object"},
                {"{\"auths\": []}", "\"auths\" is not an object"},
                {"{\"auths\": \"quay.io\"}", "\"auths\" is not an object"},
                {"{\"auths\": {\"quay.io\": \"" AUTH_BOB "\"}}", "entry \"quay.io\" is not an object"},
                {"{\"auths\": {\"quay.io\": {\"auth\": 5}}}",
                 "\"auth\" or \"identitytoken\" of \"quay.io\""},
                {"{\"auths\": {\"quay.io\": {\"identitytoken\": {}}}}", "is not a string"},
                {"{\"auths\": {\"quay.io\": {\"auth\": \"dXNlcg==\"}}}",
                 "\"auth\" of \"quay.io\" is not base64"},
                {"{\"auths\": {\"quay.io\": {\"auth\": \"not base64!\"}}}",
                 "is not base64 of user:password"},
                {"{\"auths\": {\"https://quay.io/v1/\": {\"auth\": \"@@@@\"}}}",
                 "\"auth\" of \"https://quay.io/v1/\" is not base64"},
                {"{\"auths\": {\"quay.io\": {\"auth\": \"\xff\"}}}", "is not valid JSON"},
        };

        TmpDir *t = *state;
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *name = xasprintf("bad-%zu.json", i);
                _cleanup_free_ char *f = write_auth(t, name, cases[i].content);
                char *files[] = {f, NULL};
                expect_lookup_error(files, "quay.io", "ns/app", cases[i].message, f);
        }
}

static void test_malformed_file_order(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *good =
                write_auth(t, "good.json", "{\"auths\": {\"quay.io\": {\"auth\": \"" AUTH_BOB "\"}}}");
        _cleanup_free_ char *bad = write_auth(t, "bad.json", "{\"auths\": ");
        _cleanup_free_ char *unrelated =
                write_auth(t, "unrelated.json", "{\"auths\": {\"other.io\": {\"auth\": \"!!\"}}}");
        char *good_first[] = {good, bad, NULL};
        char *bad_first[] = {bad, good, NULL};
        char *unrelated_first[] = {unrelated, good, NULL};

        /* Files after the match are not read; a broken file before it stops the lookup. */
        expect_lookup(good_first, "quay.io", NULL, "bob", "hunter2");
        expect_lookup_error(bad_first, "quay.io", NULL, "is not valid JSON", bad);
        expect_lookup_error(good_first, "ghcr.io", NULL, "is not valid JSON", bad);
        /* Only entries that are looked at must be well formed. */
        expect_lookup(unrelated_first, "quay.io", NULL, "bob", "hunter2");
}

static void test_files_without_credentials(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *empty = write_auth(t, "empty.json", "");
        _cleanup_free_ char *blank = write_auth(t, "blank.json", " \n");
        _cleanup_free_ char *no_auths = write_auth(t, "no-auths.json", "{\"credsStore\": \"desktop\"}");
        _cleanup_free_ char *null_auths = write_auth(t, "null-auths.json", "{\"auths\": null}");
        _cleanup_free_ char *good =
                write_auth(t, "good.json", "{\"auths\": {\"quay.io\": {\"auth\": \"" AUTH_BOB "\"}}}");
        char *files[] = {empty, blank, no_auths, null_auths, good, NULL};

        expect_lookup(files, "quay.io", NULL, "bob", "hunter2");
}

static void test_unreadable_file(void **state) {
        TmpDir *t = *state;
        char *files[] = {t->path, NULL}; /* a directory */
        Credentials *c = NULL;
        _cleanup_error_ Error *e = NULL;

        assert_int_equal(credentials_lookup(files, "quay.io", NULL, &c, &e), -EISDIR);
        assert_null(c);
        assert_non_null(strstr(e->message, t->path));
}

static void test_default_files(void **state) {
        static const char *const vars[] = {"REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "HOME"};
        char *saved[ELEMENTSOF(vars)];
        for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
                const char *v = getenv(vars[i]);
                saved[i] = v ? xstrdup(v) : NULL;
        }
        _cleanup_free_ char *run = xasprintf("/run/containers/%u/auth.json", (unsigned)getuid());

        setenv("REGISTRY_AUTH_FILE", "/etc/crio/auth.json", 1);
        setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
        setenv("HOME", "/home/u", 1);
        char **l = credentials_default_files();
        assert_true(strv_equal(l, (char *[]){(char *)"/etc/crio/auth.json",
                                             (char *)"/run/user/1000/containers/auth.json", run,
                                             (char *)"/home/u/.docker/config.json", NULL}));
        strv_free(l);

        unsetenv("REGISTRY_AUTH_FILE");
        setenv("XDG_RUNTIME_DIR", "", 1);
        unsetenv("HOME");
        l = credentials_default_files();
        assert_true(strv_equal(l, (char *[]){run, NULL}));
        strv_free(l);

        for (size_t i = 0; i < ELEMENTSOF(vars); i++) {
                if (saved[i])
                        setenv(vars[i], saved[i], 1);
                else
                        unsetenv(vars[i]);
                free(saved[i]);
        }
}

#define TMP_TEST(f) cmocka_unit_test_setup_teardown(f, tmpdir_setup, tmpdir_teardown)

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decode_valid),     cmocka_unit_test(test_decode_invalid),
                TMP_TEST(test_missing_files_skipped),    TMP_TEST(test_file_precedence),
                TMP_TEST(test_key_specificity),          TMP_TEST(test_legacy_keys),
                TMP_TEST(test_tokens_and_empty_entries), TMP_TEST(test_malformed_files),
                TMP_TEST(test_malformed_file_order),     TMP_TEST(test_files_without_credentials),
                TMP_TEST(test_unreadable_file),          cmocka_unit_test(test_default_files),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
