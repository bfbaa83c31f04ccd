/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "registry-client.h"
#include "registry-errors.h"
#include "www-authenticate.h"

static AuthChallenges *parse_ok(const char *header) {
        AuthChallenges *l = NULL;
        Error *e = NULL;
        int r = www_authenticate_parse(header, &l, &e);
        if (r < 0)
                print_error("'%s' failed: %s\n", header, e->message);
        assert_int_equal(r, 0);
        assert_null(e);
        assert_non_null(l);
        return l;
}

/* A parse that must fail with -EINVAL and a message containing `needle`. */
static void parse_fails(const char *header, const char *needle) {
        AuthChallenges *l = NULL;
        _cleanup_error_ Error *e = NULL;
        assert_int_equal(www_authenticate_parse(header, &l, &e), -EINVAL);
        assert_null(l);
        assert_non_null(e);
        if (!strstr(e->message, needle))
                print_error("'%s': message '%s' lacks '%s'\n", header, e->message, needle);
        assert_non_null(strstr(e->message, needle));
}

static size_t n_params(const AuthChallenge *c) {
        size_t n = 0;
        while (c->keys && c->keys[n])
                n++;
        return n;
}

/* ---- WWW-Authenticate: valid headers ---- */

static void test_challenge_docker_hub(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l =
                parse_ok("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                         "scope=\"repository:library/busybox:pull\"");
        assert_int_equal(l->n, 1);
        const AuthChallenge *c = &l->items[0];
        assert_string_equal(c->scheme, "bearer");
        assert_null(c->token68);
        assert_int_equal(n_params(c), 3);
        assert_string_equal(auth_challenge_get(c, "realm"), "https://auth.docker.io/token");
        assert_string_equal(auth_challenge_get(c, "service"), "registry.docker.io");
        assert_string_equal(auth_challenge_get(c, "scope"), "repository:library/busybox:pull");
        assert_null(auth_challenge_get(c, "error"));
}

static void test_challenge_basic(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l = parse_ok("Basic realm=\"Registry Realm\"");
        assert_int_equal(l->n, 1);
        assert_string_equal(l->items[0].scheme, "basic");
        assert_string_equal(auth_challenge_get(&l->items[0], "realm"), "Registry Realm");
        assert_ptr_equal(auth_challenges_find(l, "Basic"), &l->items[0]);
        assert_null(auth_challenges_find(l, "bearer"));
}

static void test_challenge_case_insensitive(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l = parse_ok("BEARER Realm=\"R\", SERVICE=Svc");
        const AuthChallenge *c = auth_challenges_find(l, "bearer");
        assert_non_null(c);
        assert_string_equal(c->scheme, "bearer");
        assert_string_equal(c->keys[0], "realm");
        assert_string_equal(c->keys[1], "service");
        /* Names fold, values do not. */
        assert_string_equal(auth_challenge_get(c, "REALM"), "R");
        assert_string_equal(auth_challenge_get(c, "service"), "Svc");
}

static void test_challenge_escapes(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l =
                parse_ok("Bearer realm=\"a\\\"b\\\\c\\d\",service=\"\\,\"");
        assert_string_equal(auth_challenge_get(&l->items[0], "realm"), "a\"b\\cd");
        assert_string_equal(auth_challenge_get(&l->items[0], "service"), ",");
}

static void test_challenge_commas_and_spaces_inside_quotes(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l =
                parse_ok("Bearer scope=\"repository:a:pull,push repository:b:pull\", realm=\"x\"");
        assert_int_equal(l->n, 1);
        assert_string_equal(auth_challenge_get(&l->items[0], "scope"),
                            "repository:a:pull,push repository:b:pull");
        assert_string_equal(auth_challenge_get(&l->items[0], "realm"), "x");
}

static void test_challenge_token_values_and_whitespace(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l =
                parse_ok("  Bearer\trealm = \"x\" ,  service= svc.example ,error=insufficient_scope  ");
        const AuthChallenge *c = &l->items[0];
        assert_int_equal(n_params(c), 3);
        assert_string_equal(auth_challenge_get(c, "realm"), "x");
        assert_string_equal(auth_challenge_get(c, "service"), "svc.example");
        assert_string_equal(auth_challenge_get(c, "error"), "insufficient_scope");
}

static void test_challenge_empty_quoted_value(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l = parse_ok("Basic realm=\"\"");
        assert_string_equal(auth_challenge_get(&l->items[0], "realm"), "");
}

static void test_challenge_several(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l =
                parse_ok("Basic realm=\"b\", Bearer realm=\"r\",service=\"s\", Negotiate");
        assert_int_equal(l->n, 3);
        assert_string_equal(l->items[0].scheme, "basic");
        assert_string_equal(l->items[1].scheme, "bearer");
        assert_string_equal(l->items[2].scheme, "negotiate");
        assert_int_equal(n_params(&l->items[1]), 2);
        assert_int_equal(n_params(&l->items[2]), 0);
        assert_ptr_equal(auth_challenges_find(l, "bearer"), &l->items[1]);
}

static void test_challenge_token68(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l =
                parse_ok("Negotiate YIIa+/b==, Basic realm=\"x\"");
        assert_int_equal(l->n, 2);
        assert_string_equal(l->items[0].token68, "YIIa+/b==");
        assert_null(l->items[0].keys);
        assert_string_equal(auth_challenge_get(&l->items[1], "realm"), "x");
}

static void test_challenge_token68_or_param(void **state) {
        /* The grammar is ambiguous only in appearance: a value is required, so "x=" is a token68. */
        _cleanup_(auth_challenges_freep) AuthChallenges *l = parse_ok("Bearer realm=, Basic realm=b");
        assert_int_equal(l->n, 2);
        assert_string_equal(l->items[0].token68, "realm=");
        assert_null(auth_challenge_get(&l->items[0], "realm"));
        assert_string_equal(auth_challenge_get(&l->items[1], "realm"), "b");
}

static void test_challenge_scheme_only_and_empty_elements(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l = parse_ok(" , ,Negotiate,, NTLM , ");
        assert_int_equal(l->n, 2);
        assert_string_equal(l->items[0].scheme, "negotiate");
        assert_string_equal(l->items[1].scheme, "ntlm");
}

static void test_challenge_unknown_scheme_with_params(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l = parse_ok("X-Custom foo=\"bar\", baz=1");
        assert_string_equal(l->items[0].scheme, "x-custom");
        assert_string_equal(auth_challenge_get(&l->items[0], "baz"), "1");
}

static void test_challenge_obs_text(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l = parse_ok("Basic realm=\"caf\xc3\xa9\tbar\"");
        assert_string_equal(auth_challenge_get(&l->items[0], "realm"), "caf\xc3\xa9\tbar");
}

/* ---- WWW-Authenticate: invalid headers ---- */

static void test_challenge_invalid(void **state) {
        parse_fails("", "no authentication challenge");
        parse_fails("  , ,", "no authentication challenge");
        parse_fails("Bearer realm=\"unterminated", "unterminated quoted string at offset 13");
        parse_fails("Bearer realm=\"x\\", "unterminated");
        parse_fails("Bearer realm=\"a\", service=", "missing value of parameter 'service'");
        parse_fails("Bearer realm=\"a\", service= ,x=y", "missing value of parameter 'service'");
        /* "realm=" alone is a token68; what follows it then starts a malformed challenge. */
        parse_fails("Bearer realm=,service=x", "expected a space after scheme 'service'");
        parse_fails("Bearer realm=\"a\",REALM=\"b\"", "parameter 'realm' given twice");
        parse_fails("Bearer realm=\"a\" service=\"b\"", "unexpected character");
        parse_fails("Bearer realm=\"a\"x", "unexpected character");
        parse_fails("Bearer realm=a b", "unexpected character");
        parse_fails("Bearer realm=\"a\x01z\"", "control character in quoted string");
        parse_fails("Bearer realm=\"a\x7fz\"", "control character");
        parse_fails("Bearer realm=\"a\\\x01\"", "control character");
        parse_fails("=\"x\"", "expected an authentication scheme at offset 0");
        parse_fails("\"Bearer\"", "expected an authentication scheme");
        parse_fails("Bearer,realm=\"x\"", "expected a space after scheme 'realm'");
        parse_fails("Bearer@ realm=x", "expected a space after scheme 'bearer'");
        parse_fails("Bearer @", "expected a parameter name");
        parse_fails("Bearer realm=\"x\", =y", "expected an authentication scheme");
}

/* ---- Token endpoint URL, form and response ---- */

static AuthChallenge *bearer_of(AuthChallenges *l) {
        return (AuthChallenge *)auth_challenges_find(l, "bearer");
}

static void test_escape(void **state) {
        _cleanup_free_ char *a = url_component_escape("repository:a/b:pull,push");
        _cleanup_free_ char *b = url_component_escape("A-z_0.9~ +&=%\xc3\xa9");
        _cleanup_free_ char *c = url_component_escape("");
        assert_string_equal(a, "repository%3Aa%2Fb%3Apull%2Cpush");
        assert_string_equal(b, "A-z_0.9~%20%2B%26%3D%25%C3%A9");
        assert_string_equal(c, "");
}

static void test_token_url(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l =
                parse_ok("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\"");
        _cleanup_free_ char *url = NULL;
        assert_int_equal(bearer_token_url(bearer_of(l), "repository:library/busybox:pull", &url, NULL), 0);
        assert_string_equal(url, "https://auth.docker.io/token?service=registry.docker.io"
                                 "&scope=repository%3Alibrary%2Fbusybox%3Apull");
}

static void test_token_url_variants(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l = parse_ok(
                "Bearer realm=\"http://h:5001/t?x=1\", Bearer realm=\"https://h/t\",service=\"a b\"");
        _cleanup_free_ char *u1 = NULL, *u2 = NULL, *u3 = NULL;
        /* A realm with a query gets "&"; without service and scope it is used as it is. */
        assert_int_equal(bearer_token_url(&l->items[0], "s", &u1, NULL), 0);
        assert_string_equal(u1, "http://h:5001/t?x=1&scope=s");
        assert_int_equal(bearer_token_url(&l->items[0], NULL, &u2, NULL), 0);
        assert_string_equal(u2, "http://h:5001/t?x=1");
        assert_int_equal(bearer_token_url(&l->items[1], NULL, &u3, NULL), 0);
        assert_string_equal(u3, "https://h/t?service=a%20b");
}

static void check_bad_realm(const char *header, const char *needle) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l = parse_ok(header);
        _cleanup_error_ Error *e = NULL;
        char *url = NULL;
        assert_int_equal(bearer_token_url(&l->items[0], "s", &url, &e), -EINVAL);
        assert_null(url);
        if (!strstr(e->message, needle))
                print_error("'%s': message '%s' lacks '%s'\n", header, e->message, needle);
        assert_non_null(strstr(e->message, needle));
}

static void test_token_url_bad_realm(void **state) {
        check_bad_realm("Bearer service=\"x\"", "without realm");
        check_bad_realm("Bearer realm=\"ftp://h/t\"", "not an http(s) URL");
        check_bad_realm("Bearer realm=\"/token\"", "not an http(s) URL");
        check_bad_realm("Bearer realm=\"https://\"", "not an http(s) URL");
        check_bad_realm("Bearer realm=\"https:///t\"", "not an http(s) URL");
        check_bad_realm("Bearer realm=\"https://h/a b\"", "not an http(s) URL");
        check_bad_realm("Bearer realm=\"https://h/t#frag\"", "not an http(s) URL");
        check_bad_realm("Bearer realm=\"https://h/\xc3\xa9\"", "not an http(s) URL");
        check_bad_realm("Bearer realm=\"file:///etc/passwd\"", "not an http(s) URL");
}

static void test_refresh_form(void **state) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l =
                parse_ok("Bearer realm=\"https://h/t\",service=\"reg.io\"");
        _cleanup_free_ char *f = bearer_refresh_form(bearer_of(l), "repository:a:pull", "r&t=1");
        assert_string_equal(f, "grant_type=refresh_token&refresh_token=r%26t%3D1&client_id=crio-c"
                               "&service=reg.io&scope=repository%3Aa%3Apull");
}

static void token_ok(const char *json, const char *expected) {
        _cleanup_free_ char *t = NULL;
        assert_int_equal(bearer_token_parse(json, strlen(json), &t, NULL), 0);
        assert_string_equal(t, expected);
}

static void token_fails(const char *json, size_t len, const char *needle) {
        _cleanup_error_ Error *e = NULL;
        char *t = NULL;
        assert_int_equal(bearer_token_parse(json, len, &t, &e), -EBADMSG);
        assert_null(t);
        assert_non_null(strstr(e->message, needle));
}

static void test_token_response(void **state) {
        token_ok("{\"token\":\"abc.def-ghi\"}", "abc.def-ghi");
        token_ok("{\"access_token\":\"xyz\",\"expires_in\":300}", "xyz");
        token_ok("{\"token\":\"t1\",\"access_token\":\"t2\"}", "t1");
        token_ok("{\"token\":\"\",\"access_token\":\"t2\"}", "t2");
        token_ok(" {\"token\":\"a\"}\r\n", "a");
}

static void test_token_response_invalid(void **state) {
        static const char nul[] = "{\"token\":\"a\\u0000b\"}";
        token_fails("", 0, "not a JSON object");
        token_fails("not json", 8, "not a JSON object");
        token_fails("[\"token\"]", 9, "not a JSON object");
        token_fails("{\"token\":\"a\"} x", 15, "not a JSON object");
        token_fails("{\"token\":\"a\"", 12, "not a JSON object");
        token_fails("{}", 2, "has no token");
        token_fails("{\"token\":5}", 11, "has no token");
        token_fails("{\"token\":\"\"}", 12, "has no token");
        token_fails("{\"access_token\":\"\"}", 19, "invalid token");
        token_fails("{\"token\":\"a b\"}", 15, "invalid token");
        token_fails("{\"token\":\"a\\r\\nX-Evil: 1\"}", 26, "invalid token");
        token_fails(nul, sizeof(nul) - 1, "invalid token");
        token_fails("{\"token\":\"caf\xc3\xa9\"}", 17, "invalid token");
}

/* ---- Error bodies ---- */

static void body_message(const char *content_type, const char *body, const char *expected) {
        _cleanup_free_ char *m = registry_error_body_message(content_type, body, body ? strlen(body) : 0);
        if (!expected) {
                assert_null(m);
                return;
        }
        assert_non_null(m);
        assert_string_equal(m, expected);
}

static void test_error_body_distribution(void **state) {
        body_message("application/json",
                     "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\","
                     "\"detail\":{\"Tag\":\"x\"}}]}",
                     "MANIFEST_UNKNOWN: manifest unknown");
        body_message(NULL,
                     "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"a\"},{\"code\":\"DENIED\"},"
                     "{\"message\":\"only text\"}]}",
                     "UNAUTHORIZED: a; DENIED; only text");
        /* Entries that are not objects or say nothing are skipped; at most four are shown. */
        body_message(NULL,
                     "{\"errors\":[1,{},{\"code\":\"A\"},{\"code\":\"B\"},{\"code\":\"C\"},{\"code\":\"D\"},"
                     "{\"code\":\"E\"}]}",
                     "A; B; C; D");
}

static void test_error_body_token_servers(void **state) {
        body_message("application/json", "{\"details\":\"incorrect username or password\"}",
                     "incorrect username or password");
        body_message(NULL, "{\"error\":\"invalid_grant\",\"error_description\":\"bad refresh token\"}",
                     "invalid_grant: bad refresh token");
        body_message(NULL, "{\"message\":\"rate limited\"}", "rate limited");
        body_message(NULL, "{\"errors\":[]}", NULL);
        body_message(NULL, "{\"other\":1}", NULL);
        body_message(NULL, "[1,2]", NULL);
}

static void test_error_body_text(void **state) {
        body_message("text/plain; charset=utf-8", "blob unknown to registry\nmore\n",
                     "blob unknown to registry");
        body_message("text/plain", "\n", NULL);
        body_message("text/html", "<html><body>502 Bad Gateway</body></html>", NULL);
        body_message(NULL, "plain words", NULL);
        body_message("application/json", "{broken", NULL);
        body_message(NULL, NULL, NULL);
        body_message(NULL, "", NULL);
}

static void test_error_body_sanitized_and_capped(void **state) {
        body_message(NULL, "{\"errors\":[{\"code\":\"X\",\"message\":\"a\\nb\\u0007c\\u001b[31m\"}]}",
                     "X: a b c [31m");

        _cleanup_free_ char *json = NULL, *m = NULL;
        char long_text[2000];
        memset(long_text, 'y', sizeof(long_text) - 1);
        long_text[sizeof(long_text) - 1] = '\0';
        json = xasprintf("{\"details\":\"%s\"}", long_text);
        m = registry_error_body_message(NULL, json, strlen(json));
        assert_non_null(m);
        assert_int_equal(strlen(m), 256 + 3);
        assert_string_equal(m + 256, "...");
}

/* ---- errno mapping and retries ---- */

static void test_status_errno(void **state) {
        assert_int_equal(registry_http_status_errno(401), EACCES);
        assert_int_equal(registry_http_status_errno(403), EACCES);
        assert_int_equal(registry_http_status_errno(404), ENOENT);
        assert_int_equal(registry_http_status_errno(400), EIO);
        assert_int_equal(registry_http_status_errno(302), EIO);
        assert_int_equal(registry_http_status_errno(500), EAGAIN);
        assert_int_equal(registry_http_status_errno(503), EAGAIN);
        assert_int_equal(registry_http_status_errno(429), EAGAIN);
}

static void test_curl_errno(void **state) {
        assert_int_equal(registry_curl_code_errno(CURLE_PEER_FAILED_VERIFICATION), EPROTO);
        assert_int_equal(registry_curl_code_errno(CURLE_SSL_CONNECT_ERROR), EPROTO);
        assert_int_equal(registry_curl_code_errno(CURLE_SSL_CACERT_BADFILE), EPROTO);
        assert_int_equal(registry_curl_code_errno(CURLE_SSL_CERTPROBLEM), EPROTO);
        assert_int_equal(registry_curl_code_errno(CURLE_COULDNT_CONNECT), ECONNREFUSED);
        assert_int_equal(registry_curl_code_errno(CURLE_COULDNT_RESOLVE_HOST), ECONNREFUSED);
        /* Transport failures are worth a later retry: UNAVAILABLE, not INTERNAL. */
        assert_int_equal(registry_curl_code_errno(CURLE_RECV_ERROR), EAGAIN);
        assert_int_equal(registry_curl_code_errno(CURLE_GOT_NOTHING), EAGAIN);
        assert_int_equal(registry_curl_code_errno(CURLE_OPERATION_TIMEDOUT), EAGAIN);
        assert_int_equal(registry_curl_code_errno(CURLE_TOO_MANY_REDIRECTS), EIO);
        assert_int_equal(registry_curl_code_errno(CURLE_UNSUPPORTED_PROTOCOL), EIO);
}

static void test_refine_curl_code(void **state) {
        const char *alert = "OpenSSL SSL_read: OpenSSL/3.0.19: error:0A00045C:SSL routines::tlsv13 alert "
                            "certificate required, errno 0";
        const char *eof =
                "OpenSSL SSL_read: error:0A000126:SSL routines::unexpected eof while reading, errno 0";
        assert_int_equal(registry_refine_curl_code(CURLE_RECV_ERROR, alert), CURLE_SSL_CONNECT_ERROR);
        assert_int_equal(registry_refine_curl_code(CURLE_SEND_ERROR, alert), CURLE_SSL_CONNECT_ERROR);
        assert_int_equal(registry_refine_curl_code(CURLE_RECV_ERROR, eof), CURLE_RECV_ERROR);
        assert_int_equal(registry_refine_curl_code(CURLE_RECV_ERROR, "Connection reset by peer"),
                         CURLE_RECV_ERROR);
        assert_int_equal(registry_refine_curl_code(CURLE_RECV_ERROR, NULL), CURLE_RECV_ERROR);
        assert_int_equal(registry_refine_curl_code(CURLE_OK, alert), CURLE_OK);
}

static void test_retry_statuses(void **state) {
        static const long yes[] = {500, 502, 503, 504, 429, 599};
        static const long no[] = {200, 301, 400, 401, 403, 404, 416, 501, 505};
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                assert_true(registry_should_retry(CURLE_OK, yes[i], 0, 1));
                assert_true(registry_should_retry(CURLE_OK, yes[i], 0, 2));
                assert_false(registry_should_retry(CURLE_OK, yes[i], 0, REGISTRY_MAX_ATTEMPTS));
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                assert_false(registry_should_retry(CURLE_OK, no[i], 0, 1));
}

static void test_resume(void **state) {
        /* A cut after bytes were handed on resumes; one before any did is a plain retry. */
        assert_true(registry_should_resume(CURLE_RECV_ERROR, 100, 0));
        assert_true(registry_should_resume(CURLE_PARTIAL_FILE, 100, REGISTRY_MAX_FRUITLESS_RESUMES - 1));
        assert_false(registry_should_resume(CURLE_PARTIAL_FILE, 100, REGISTRY_MAX_FRUITLESS_RESUMES));
        assert_false(registry_should_resume(CURLE_RECV_ERROR, 0, 0));
        assert_false(registry_should_resume(CURLE_ABORTED_BY_CALLBACK, 100, 0));
        assert_false(registry_should_resume(CURLE_OK, 100, 0));
}

static void test_retry_transport(void **state) {
        static const CURLcode yes[] = {CURLE_RECV_ERROR,   CURLE_SEND_ERROR, CURLE_GOT_NOTHING,
                                       CURLE_PARTIAL_FILE, CURLE_HTTP2,      CURLE_HTTP2_STREAM};
        static const CURLcode no[] = {CURLE_COULDNT_CONNECT,     CURLE_COULDNT_RESOLVE_HOST,
                                      CURLE_SSL_CONNECT_ERROR,   CURLE_PEER_FAILED_VERIFICATION,
                                      CURLE_ABORTED_BY_CALLBACK, CURLE_WRITE_ERROR,
                                      CURLE_TOO_MANY_REDIRECTS,  CURLE_UNSUPPORTED_PROTOCOL};
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                assert_true(registry_should_retry(yes[i], 0, 0, 1));
                assert_false(registry_should_retry(yes[i], 0, 0, REGISTRY_MAX_ATTEMPTS));
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                assert_false(registry_should_retry(no[i], 0, 0, 1));
}

static void test_no_retry_after_bytes_handed_on(void **state) {
        /* The sink has seen data: sending the request again would hand it the same bytes twice. */
        assert_false(registry_should_retry(CURLE_OK, 503, 1, 1));
        assert_false(registry_should_retry(CURLE_RECV_ERROR, 200, 4096, 1));
        assert_false(registry_should_retry(CURLE_PARTIAL_FILE, 200, 1, 1));
}

static void test_retry_delays(void **state) {
        assert_int_equal(registry_retry_delay_ms(1), 100);
        assert_int_equal(registry_retry_delay_ms(2), 400);
        assert_int_equal(registry_retry_delay_ms(3), 1600);
        assert_true(registry_retry_delay_ms(1000) <= 4 * 60000);
}

/* ---- URLs ---- */

static void url_is(const char *host, bool insecure, const char *repo, const char *kind, const char *ref,
                   const char *expected) {
        _cleanup_free_ char *u = registry_url(host, insecure, repo, kind, ref);
        assert_string_equal(u, expected);
}

static void test_urls(void **state) {
        url_is("docker.io", false, "library/busybox", "manifests", "latest",
               "https://registry-1.docker.io/v2/library/busybox/manifests/latest");
        url_is("docker.io", true, "library/busybox", "manifests", "1.36",
               "http://registry-1.docker.io/v2/library/busybox/manifests/1.36");
        url_is("quay.io", false, "a/b/c", "blobs", "sha256:ab", "https://quay.io/v2/a/b/c/blobs/sha256:ab");
        url_is("localhost:5000", true, "x", "blobs", "sha256:ab",
               "http://localhost:5000/v2/x/blobs/sha256:ab");
        url_is("[::1]:5000", false, "x", "manifests", "v1", "https://[::1]:5000/v2/x/manifests/v1");
        /* Only docker.io itself is an alias; other names are hosts in their own right. */
        url_is("index.docker.io", false, "x", "manifests", "v1",
               "https://index.docker.io/v2/x/manifests/v1");
        url_is("docker.io.example.com", false, "x", "manifests", "v1",
               "https://docker.io.example.com/v2/x/manifests/v1");
}

/* ---- Client construction and checks made before any request ---- */

static int new_client(const char *host, const char *repo, const Credentials *cr, const char *certs_dir,
                      RegistryClient **ret, Error **e) {
        RegistryClientOptions o = {
                .host = host, .repository = repo, .credentials = cr, .certs_dir = certs_dir};
        return registry_client_new(&o, ret, e);
}

static void client_rejects(const char *host, const char *repo, const Credentials *cr, const char *needle) {
        RegistryClient *c = NULL;
        _cleanup_error_ Error *e = NULL;
        assert_int_equal(new_client(host, repo, cr, "/nonexistent", &c, &e), -EINVAL);
        assert_null(c);
        if (!strstr(e->message, needle))
                print_error("%s/%s: message '%s' lacks '%s'\n", strempty(host), strempty(repo), e->message,
                            needle);
        assert_non_null(strstr(e->message, needle));
}

static void test_client_validates_names(void **state) {
        static const char *const bad_hosts[] = {"",   "a/b",  "user@host", "..",  ".hidden",
                                                "-x", "a..b", "h st",      "h?x", "h#x"};
        static const char *const bad_repos[] = {"",   "Upper/x", "a//b", "/a",  "a/",  "-a",
                                                "a-", "a/../b",  "a/.b", "a b", "a?b", "a%2fb"};
        client_rejects(NULL, "x", NULL, "invalid registry host");
        client_rejects("h", NULL, NULL, "invalid repository name");
        for (size_t i = 0; i < ELEMENTSOF(bad_hosts); i++)
                client_rejects(bad_hosts[i], "x", NULL, "invalid registry host");
        for (size_t i = 0; i < ELEMENTSOF(bad_repos); i++)
                client_rejects("h", bad_repos[i], NULL, "invalid repository name");

        Credentials cr = {.registry_token = (char *)"abc\r\nX-Evil: 1"};
        client_rejects("h", "x", &cr, "registry token");
}

static void test_client_accepts(void **state) {
        static const char *const repos[] = {"x", "library/busybox", "a.b_c-d/e__f/g0", "0/1"};
        Credentials cr = {.username = (char *)"", .registry_token = (char *)""};
        for (size_t i = 0; i < ELEMENTSOF(repos); i++) {
                _cleanup_(registry_client_freep) RegistryClient *c = NULL;
                assert_int_equal(
                        new_client("registry.example.com:5000", repos[i], &cr, "/nonexistent", &c, NULL), 0);
                assert_non_null(c);
        }
        registry_client_free(NULL);
}

static void test_client_refuses_bad_reference(void **state) {
        _cleanup_(registry_client_freep) RegistryClient *c = NULL;
        static const char *const bad[] = {
                "",
                "../x",
                "a/b",
                "-x",
                ".x",
                "a?b",
                "sha256:abc",
                "md5:00",
                "sha256:ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"};
        /* Nothing listens on port 1: these must fail before any connection is tried. */
        assert_int_equal(new_client("127.0.0.1:1", "x", NULL, "/nonexistent", &c, NULL), 0);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_error_ Error *e = NULL;
                char *body = NULL;
                assert_int_equal(registry_get_manifest(c, bad[i], &body, NULL, NULL, NULL, &e), -EINVAL);
                assert_null(body);
                assert_non_null(strstr(e->message, "invalid tag or digest"));
        }
        _cleanup_error_ Error *e = NULL;
        char *body = NULL;
        assert_int_equal(registry_get_blob(c, "sha256:xyz", 10, &body, NULL, &e), -EINVAL);
        assert_non_null(strstr(e->message, "invalid blob digest"));
}

static void test_client_interrupted_before_request(void **state) {
        Cancel cancelled, expired;
        cancel_init(&cancelled, NULL, 0);
        cancel_request(&cancelled);
        cancel_init(&expired, NULL, 1); /* long past on CLOCK_MONOTONIC */
        RegistryClientOptions o = {
                .host = "127.0.0.1:1", .repository = "x", .certs_dir = "/nonexistent", .cancel = &cancelled};
        _cleanup_(registry_client_freep) RegistryClient *c = NULL, *d = NULL;
        _cleanup_error_ Error *e1 = NULL, *e2 = NULL;
        char *body = NULL;

        assert_int_equal(registry_client_new(&o, &c, NULL), 0);
        assert_int_equal(registry_get_manifest(c, "latest", &body, NULL, NULL, NULL, &e1), -ECANCELED);
        assert_non_null(strstr(e1->message, "cancelled"));

        o.cancel = &expired;
        assert_int_equal(registry_client_new(&o, &d, NULL), 0);
        assert_int_equal(registry_fetch_blob(
                                 d,
                                 "sha256:0000000000000000000000000000000000000000000000000000000000000000",
                                 -1, NULL, NULL, &e2),
                         -ETIMEDOUT);
        assert_non_null(strstr(e2->message, "deadline exceeded"));
        assert_null(body);
}

/* ---- certs.d ---- */

static char *make_certs_dir(const char *host, const char *const *files) {
        char tmpl[] = "/tmp/test-registry-client-XXXXXX";
        assert_non_null(mkdtemp(tmpl));
        _cleanup_free_ char *dir = xasprintf("%s/%s", tmpl, host);
        assert_int_equal(mkdir(dir, 0755), 0);
        for (size_t i = 0; files[i]; i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", dir, files[i]);
                FILE *f = fopen(p, "we");
                assert_non_null(f);
                fputs("-----BEGIN CERTIFICATE-----\nnot really\n-----END CERTIFICATE-----", f);
                fclose(f);
        }
        return xstrdup(tmpl);
}

static void remove_certs_dir(const char *root, const char *host, const char *const *files) {
        for (size_t i = 0; files[i]; i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s/%s", root, host, files[i]);
                unlink(p);
        }
        _cleanup_free_ char *dir = xasprintf("%s/%s", root, host);
        rmdir(dir);
        rmdir(root);
}

static int client_with_files(const char *const *files, Error **e) {
        _cleanup_free_ char *root = make_certs_dir("reg.example:5000", files);
        _cleanup_(registry_client_freep) RegistryClient *c = NULL;
        int r = new_client("reg.example:5000", "x", NULL, root, &c, e);
        remove_certs_dir(root, "reg.example:5000", files);
        return r;
}

static void test_certs_dir(void **state) {
        static const char *const good[] = {"ca.crt",     "other.crt", "client.cert",
                                           "client.key", "README",    NULL};
        static const char *const no_key[] = {"ca.crt", "client.cert", NULL};
        static const char *const no_cert[] = {"client.key", NULL};
        _cleanup_error_ Error *e1 = NULL, *e2 = NULL;

        assert_int_equal(client_with_files(good, NULL), 0);
        assert_int_equal(client_with_files(no_key, &e1), -EINVAL);
        assert_non_null(strstr(e1->message, "client.cert has no matching client.key"));
        assert_int_equal(client_with_files(no_cert, &e2), -EINVAL);
        assert_non_null(strstr(e2->message, "client.key has no matching client.cert"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_challenge_docker_hub),
                cmocka_unit_test(test_challenge_basic),
                cmocka_unit_test(test_challenge_case_insensitive),
                cmocka_unit_test(test_challenge_escapes),
                cmocka_unit_test(test_challenge_commas_and_spaces_inside_quotes),
                cmocka_unit_test(test_challenge_token_values_and_whitespace),
                cmocka_unit_test(test_challenge_empty_quoted_value),
                cmocka_unit_test(test_challenge_several),
                cmocka_unit_test(test_challenge_token68),
                cmocka_unit_test(test_challenge_token68_or_param),
                cmocka_unit_test(test_challenge_scheme_only_and_empty_elements),
                cmocka_unit_test(test_challenge_unknown_scheme_with_params),
                cmocka_unit_test(test_challenge_obs_text),
                cmocka_unit_test(test_challenge_invalid),
                cmocka_unit_test(test_escape),
                cmocka_unit_test(test_token_url),
                cmocka_unit_test(test_token_url_variants),
                cmocka_unit_test(test_token_url_bad_realm),
                cmocka_unit_test(test_refresh_form),
                cmocka_unit_test(test_token_response),
                cmocka_unit_test(test_token_response_invalid),
                cmocka_unit_test(test_error_body_distribution),
                cmocka_unit_test(test_error_body_token_servers),
                cmocka_unit_test(test_error_body_text),
                cmocka_unit_test(test_error_body_sanitized_and_capped),
                cmocka_unit_test(test_status_errno),
                cmocka_unit_test(test_curl_errno),
                cmocka_unit_test(test_refine_curl_code),
                cmocka_unit_test(test_retry_statuses),
                cmocka_unit_test(test_retry_transport),
                cmocka_unit_test(test_resume),
                cmocka_unit_test(test_no_retry_after_bytes_handed_on),
                cmocka_unit_test(test_retry_delays),
                cmocka_unit_test(test_urls),
                cmocka_unit_test(test_client_validates_names),
                cmocka_unit_test(test_client_accepts),
                cmocka_unit_test(test_client_refuses_bad_reference),
                cmocka_unit_test(test_client_interrupted_before_request),
                cmocka_unit_test(test_certs_dir),
        };
        registry_client_global_init();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
