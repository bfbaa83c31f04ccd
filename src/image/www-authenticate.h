/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/*
 * HTTP authentication challenges (RFC 7235 section 4.1) as registries send them in WWW-Authenticate,
 *   Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull"
 *   Basic realm="Registry Realm"
 * and the pieces of the distribution token protocol built on them. Everything here is pure: no I/O.
 */
typedef struct AuthChallenge {
        char *scheme;  /* lower case: "bearer", "basic" or any other token */
        char *token68; /* set for the token68 form ("Negotiate YII="); then there are no parameters */
        char **keys;   /* parameter names, lower case, unique; strv, NULL when none */
        char **values; /* parallel to keys, quoted-pair escapes resolved */
} AuthChallenge;

typedef struct AuthChallenges {
        AuthChallenge *items;
        size_t n;
} AuthChallenges;

/*
 * Parse a header value; several WWW-Authenticate headers may be joined with ",". Empty list elements
 * are skipped. -EINVAL with a message naming the offset for anything outside the grammar (unterminated
 * or control characters in quoted strings, a parameter twice, a missing value, no challenge at all).
 */
int www_authenticate_parse(const char *header, AuthChallenges **ret, Error **reterr);
AuthChallenges *auth_challenges_free(AuthChallenges *l);
void auth_challenges_freep(AuthChallenges **l);

/* The first challenge of `scheme` (case-insensitive), or NULL. */
const AuthChallenge *auth_challenges_find(const AuthChallenges *l, const char *scheme);

/* The value of parameter `key` (case-insensitive), or NULL. */
const char *auth_challenge_get(const AuthChallenge *c, const char *key);

/* Percent-encode for a URL query or form component: RFC 3986 unreserved characters stay. Caller frees. */
char *url_component_escape(const char *s);

/*
 * The token endpoint URL of a Bearer challenge: realm?service=...&scope=... (service left out when the
 * challenge has none, scope when NULL; "&" when the realm has a query already). -EINVAL when the realm
 * is missing or not an absolute http(s) URL without spaces, controls or a fragment.
 */
int bearer_token_url(const AuthChallenge *c, const char *scope, char **ret, Error **reterr);

/* The x-www-form-urlencoded body of an OAuth2 refresh-token grant for the challenge. Caller frees. */
char *bearer_refresh_form(const AuthChallenge *c, const char *scope, const char *refresh_token);

/*
 * The bearer token of a token endpoint response: "token", else "access_token" (docker's and OAuth2's
 * names). -EBADMSG for malformed JSON, no token, or a token that cannot go into a header (empty,
 * spaces, control or non-ASCII characters).
 */
int bearer_token_parse(const char *body, size_t len, char **ret_token, Error **reterr);

/* Whether `s` may be sent as a bearer token: non-empty visible ASCII (0x21-0x7e) only. */
bool bearer_token_is_valid(const char *s);
