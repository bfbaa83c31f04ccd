/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "registry-errors.h"
#include "strv.h"
#include "www-authenticate.h"

/* A cursor over the header value; the value is a C string, so NUL is the end. */
typedef struct Parser {
        const char *s;
        size_t i;
} Parser;

static bool is_tchar(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_token68_char(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("-._~+/", c));
}

/* qdtext and the second byte of a quoted-pair: HTAB, SP, visible ASCII and obs-text. */
static bool is_quotable(unsigned char c) {
        return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static void skip_ows(Parser *p) {
        while (p->s[p->i] == ' ' || p->s[p->i] == '\t')
                p->i++;
}

static size_t token_length(const char *s) {
        size_t n = 0;
        while (is_tchar(s[n]))
                n++;
        return n;
}

static char *lowercase_dup(const char *s, size_t n) {
        char *r = xstrndup(s, n);
        for (char *q = r; *q; q++)
                if (*q >= 'A' && *q <= 'Z')
                        *q = (char)(*q - 'A' + 'a');
        return r;
}

static void challenge_done(AuthChallenge *c) {
        free(c->scheme);
        free(c->token68);
        strv_free(c->keys);
        strv_free(c->values);
}

AuthChallenges *auth_challenges_free(AuthChallenges *l) {
        if (!l)
                return NULL;
        for (size_t i = 0; i < l->n; i++)
                challenge_done(&l->items[i]);
        free(l->items);
        free(l);
        return NULL;
}

void auth_challenges_freep(AuthChallenges **l) {
        *l = auth_challenges_free(*l);
}

static int parse_quoted_string(Parser *p, char **ret, Error **reterr) {
        size_t start = p->i;
        _cleanup_free_ char *out = xmalloc(strlen(p->s + p->i) + 1);
        size_t n = 0;

        p->i++; /* the opening quote */
        for (;;) {
                unsigned char c = (unsigned char)p->s[p->i];
                if (c == '"')
                        break;
                if (c == '\\') {
                        p->i++;
                        c = (unsigned char)p->s[p->i];
                }
                if (c == '\0')
                        return error_set(reterr, EINVAL, "unterminated quoted string at offset %zu", start);
                if (!is_quotable(c))
                        return error_set(reterr, EINVAL, "control character in quoted string at offset %zu",
                                         p->i);
                out[n++] = (char)c;
                p->i++;
        }
        p->i++; /* the closing quote */
        out[n] = '\0';
        *ret = TAKE_PTR(out);
        return 0;
}

/* auth-param = token BWS "=" BWS ( token / quoted-string ) */
static int parse_param(Parser *p, AuthChallenge *c, Error **reterr) {
        size_t n = token_length(p->s + p->i);
        if (n == 0)
                return error_set(reterr, EINVAL, "expected a parameter name at offset %zu", p->i);
        _cleanup_free_ char *key = lowercase_dup(p->s + p->i, n);
        _cleanup_free_ char *value = NULL;
        p->i += n;
        skip_ows(p);
        if (p->s[p->i] != '=')
                return error_set(reterr, EINVAL, "expected '=' after parameter '%s' at offset %zu", key,
                                 p->i);
        p->i++;
        skip_ows(p);
        if (p->s[p->i] == '"') {
                int r = parse_quoted_string(p, &value, reterr);
                if (r < 0)
                        return r;
        } else {
                n = token_length(p->s + p->i);
                if (n == 0)
                        return error_set(reterr, EINVAL, "missing value of parameter '%s' at offset %zu",
                                         key, p->i);
                value = xstrndup(p->s + p->i, n);
                p->i += n;
        }
        /* RFC 7235: each parameter name occurs once; two realms would leave us guessing which counts. */
        if (strv_contains(c->keys, key))
                return error_set(reterr, EINVAL, "parameter '%s' given twice", key);
        c->keys = strv_push(c->keys, TAKE_PTR(key));
        c->values = strv_push(c->values, TAKE_PTR(value));
        return 0;
}

/* Whether an auth-param starts at `s` (token BWS "="), as opposed to the scheme of the next challenge. */
static bool at_param(const char *s) {
        size_t n = token_length(s);
        if (n == 0)
                return false;
        while (s[n] == ' ' || s[n] == '\t')
                n++;
        return s[n] == '=';
}

/* token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=", alone up to the next comma. */
static bool try_token68(Parser *p, AuthChallenge *c) {
        size_t n = 0;
        while (is_token68_char(p->s[p->i + n]))
                n++;
        if (n == 0)
                return false;
        while (p->s[p->i + n] == '=')
                n++;
        size_t end = n;
        while (p->s[p->i + end] == ' ' || p->s[p->i + end] == '\t')
                end++;
        if (p->s[p->i + end] != '\0' && p->s[p->i + end] != ',')
                return false;
        c->token68 = xstrndup(p->s + p->i, n);
        p->i += end;
        return true;
}

/* The parameters after the scheme, up to the end or to the comma before the next challenge. */
static int parse_params(Parser *p, AuthChallenge *c, Error **reterr) {
        for (;;) {
                int r = parse_param(p, c, reterr);
                if (r < 0)
                        return r;
                skip_ows(p);
                if (p->s[p->i] == '\0')
                        return 0;
                if (p->s[p->i] != ',')
                        return error_set(reterr, EINVAL, "unexpected character at offset %zu", p->i);
                size_t next = p->i;
                while (p->s[next] == ',' || p->s[next] == ' ' || p->s[next] == '\t')
                        next++;
                if (!at_param(p->s + next))
                        return 0; /* the caller continues with the next challenge */
                p->i = next;
        }
}

/* challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ] */
static int parse_challenge(Parser *p, AuthChallenge *c, Error **reterr) {
        size_t n = token_length(p->s + p->i);
        if (n == 0)
                return error_set(reterr, EINVAL, "expected an authentication scheme at offset %zu", p->i);
        c->scheme = lowercase_dup(p->s + p->i, n);
        p->i += n;
        if (p->s[p->i] == '\0' || p->s[p->i] == ',')
                return 0;
        if (p->s[p->i] != ' ' && p->s[p->i] != '\t')
                return error_set(reterr, EINVAL, "expected a space after scheme '%s' at offset %zu",
                                 c->scheme, p->i);
        skip_ows(p);
        if (p->s[p->i] == '\0' || p->s[p->i] == ',' || try_token68(p, c))
                return 0;
        return parse_params(p, c, reterr);
}

int www_authenticate_parse(const char *header, AuthChallenges **ret, Error **reterr) {
        _cleanup_(auth_challenges_freep) AuthChallenges *l = xcalloc(1, sizeof(*l));
        Parser p = {.s = header, .i = 0};

        for (;;) {
                /* Empty list elements (", ,") are allowed by RFC 7230 section 7. */
                while (p.s[p.i] == ',' || p.s[p.i] == ' ' || p.s[p.i] == '\t')
                        p.i++;
                if (p.s[p.i] == '\0')
                        break;
                l->items = xrealloc(l->items, (l->n + 1) * sizeof(*l->items));
                AuthChallenge *c = &l->items[l->n++];
                *c = (AuthChallenge){};
                int r = parse_challenge(&p, c, reterr);
                if (r < 0)
                        return r;
        }
        if (l->n == 0)
                return error_set(reterr, EINVAL, "no authentication challenge");
        *ret = TAKE_PTR(l);
        return 0;
}

const AuthChallenge *auth_challenges_find(const AuthChallenges *l, const char *scheme) {
        for (size_t i = 0; l && i < l->n; i++)
                if (strcasecmp(l->items[i].scheme, scheme) == 0)
                        return &l->items[i];
        return NULL;
}

const char *auth_challenge_get(const AuthChallenge *c, const char *key) {
        for (size_t i = 0; c->keys && c->keys[i]; i++)
                if (strcasecmp(c->keys[i], key) == 0)
                        return c->values[i];
        return NULL;
}

char *url_component_escape(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        char *out = xmalloc(3 * strlen(s) + 1), *q = out;

        for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
                if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                    strchr("-._~", *c)) {
                        *q++ = (char)*c;
                        continue;
                }
                *q++ = '%';
                *q++ = hex[*c >> 4];
                *q++ = hex[*c & 0xf];
        }
        *q = '\0';
        return out;
}

static bool realm_is_valid(const char *realm) {
        const char *rest;
        if (strncasecmp(realm, "https://", 8) == 0)
                rest = realm + 8;
        else if (strncasecmp(realm, "http://", 7) == 0)
                rest = realm + 7;
        else
                return false;
        /* A host is needed; spaces, controls and non-ASCII have no place in a URL we hand to libcurl. */
        if (*rest == '\0' || strchr("/?#", *rest))
                return false;
        for (const unsigned char *c = (const unsigned char *)realm; *c; c++)
                if (*c <= 0x20 || *c >= 0x7f || *c == '#')
                        return false;
        return true;
}

/* "&service=...&scope=..." (without the leading separator), shared by the URL and the form. */
static char *token_query(const AuthChallenge *c, const char *scope) {
        const char *service = auth_challenge_get(c, "service");
        _cleanup_free_ char *s = service ? url_component_escape(service) : NULL;
        _cleanup_free_ char *sc = scope ? url_component_escape(scope) : NULL;

        return xasprintf("%s%s%s%s%s", s ? "service=" : "", strempty(s), s && sc ? "&" : "",
                         sc ? "scope=" : "", strempty(sc));
}

int bearer_token_url(const AuthChallenge *c, const char *scope, char **ret, Error **reterr) {
        const char *realm = auth_challenge_get(c, "realm");
        if (!realm)
                return error_set(reterr, EINVAL, "bearer challenge without realm");
        if (!realm_is_valid(realm))
                return error_set(reterr, EINVAL, "bearer realm '%s' is not an http(s) URL", realm);

        _cleanup_free_ char *query = token_query(c, scope);
        if (query[0] == '\0')
                *ret = xstrdup(realm);
        else
                *ret = xasprintf("%s%s%s", realm, strchr(realm, '?') ? "&" : "?", query);
        return 0;
}

char *bearer_refresh_form(const AuthChallenge *c, const char *scope, const char *refresh_token) {
        _cleanup_free_ char *query = token_query(c, scope);
        _cleanup_free_ char *token = url_component_escape(refresh_token);

        /* client_id is required by the OAuth2 grant; registries only log it. */
        return xasprintf("grant_type=refresh_token&refresh_token=%s&client_id=crio-c%s%s", token,
                         query[0] ? "&" : "", query);
}

bool bearer_token_is_valid(const char *s) {
        if (!s || !*s)
                return false;
        for (const unsigned char *c = (const unsigned char *)s; *c; c++)
                if (*c < 0x21 || *c > 0x7e)
                        return false;
        return true;
}

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

int bearer_token_parse(const char *body, size_t len, char **ret_token, Error **reterr) {
        _cleanup_(json_putp) json_object *root = registry_json_parse(body, len);
        if (!root || !json_object_is_type(root, json_type_object))
                return error_set(reterr, EBADMSG, "token response is not a JSON object");

        json_object *t = NULL;
        /* Docker's token servers send both names; an empty "token" must not hide "access_token". */
        const char *token = NULL;
        if (json_object_object_get_ex(root, "token", &t) && json_object_is_type(t, json_type_string) &&
            json_object_get_string_len(t) > 0)
                token = json_object_get_string(t);
        else if (json_object_object_get_ex(root, "access_token", &t) &&
                 json_object_is_type(t, json_type_string))
                token = json_object_get_string(t);
        if (!token)
                return error_set(reterr, EBADMSG, "token response has no token");
        /* The token goes into an Authorization header: nothing may split or end that header. */
        if (!bearer_token_is_valid(token) || strlen(token) != (size_t)json_object_get_string_len(t))
                return error_set(reterr, EBADMSG, "token response has an invalid token");
        *ret_token = xstrdup(token);
        return 0;
}
