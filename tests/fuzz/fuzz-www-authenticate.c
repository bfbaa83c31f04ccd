/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "www-authenticate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool all_of(const char *s, bool (*pred)(unsigned char)) {
        for (; *s; s++)
                if (!pred((unsigned char)*s))
                        return false;
        return true;
}

static bool is_lower_tchar(unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_value_char(unsigned char c) {
        return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_url_char(unsigned char c) {
        return c > 0x20 && c < 0x7f;
}

/* What a successful parse promises: names are lower-case tokens, unique; values hold no controls. */
static void check_challenge(const AuthChallenge *c) {
        if (!c->scheme[0] || !all_of(c->scheme, is_lower_tchar))
                abort();
        if (c->token68 && (c->keys || !c->token68[0] ||
                           strspn(c->token68, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
                                              "nopqrstuvwxyz0123456789-._~+/=") != strlen(c->token68)))
                abort();
        for (size_t i = 0; c->keys && c->keys[i]; i++) {
                if (!c->keys[i][0] || !all_of(c->keys[i], is_lower_tchar) ||
                    !all_of(c->values[i], is_value_char))
                        abort();
                for (size_t j = 0; j < i; j++)
                        if (strcmp(c->keys[i], c->keys[j]) == 0)
                                abort();
                if (auth_challenge_get(c, c->keys[i]) != c->values[i])
                        abort();
        }
}

static void write_quoted(FILE *f, const char *v) {
        fputc('"', f);
        for (; *v; v++) {
                if (*v == '"' || *v == '\\')
                        fputc('\\', f);
                fputc(*v, f);
        }
        fputc('"', f);
}

/* The challenges written back in canonical form, which must parse to the same challenges. */
static char *serialize(const AuthChallenges *l) {
        char *s = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&s, &len);
        if (!f)
                abort();
        for (size_t i = 0; i < l->n; i++) {
                const AuthChallenge *c = &l->items[i];
                fprintf(f, "%s%s", i ? ", " : "", c->scheme);
                if (c->token68)
                        fprintf(f, " %s", c->token68);
                for (size_t k = 0; c->keys && c->keys[k]; k++) {
                        fprintf(f, "%s%s=", k ? ", " : " ", c->keys[k]);
                        write_quoted(f, c->values[k]);
                }
        }
        if (fclose(f) != 0)
                abort();
        return s;
}

static bool same(const AuthChallenges *a, const AuthChallenges *b) {
        if (a->n != b->n)
                return false;
        for (size_t i = 0; i < a->n; i++) {
                const AuthChallenge *x = &a->items[i], *y = &b->items[i];
                if (strcmp(x->scheme, y->scheme) != 0 || !streq_ptr(x->token68, y->token68))
                        return false;
                for (size_t k = 0; x->keys && x->keys[k]; k++)
                        if (!y->keys || !y->keys[k] || strcmp(x->keys[k], y->keys[k]) != 0 ||
                            strcmp(x->values[k], y->values[k]) != 0)
                                return false;
                if ((x->keys == NULL) != (y->keys == NULL))
                        return false;
        }
        return true;
}

static void check_token_request(const AuthChallenges *l) {
        const AuthChallenge *c = auth_challenges_find(l, "bearer");
        char *url = NULL;
        Error *e = NULL;
        if (!c)
                return;
        if (bearer_token_url(c, "repository:a/b:pull", &url, &e) == 0) {
                if (!all_of(url, is_url_char) || strncasecmp(url, "http", 4) != 0)
                        abort();
        } else if (!e || url)
                abort();
        char *form = bearer_refresh_form(c, "repository:a/b:pull", "tok");
        if (!all_of(form, is_url_char))
                abort();
        free(form);
        free(url);
        error_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* Header values reach the parser as C strings: the input up to its first NUL. */
        char *header = strndup((const char *)data, size);
        AuthChallenges *l = NULL, *again = NULL;
        Error *e = NULL;

        if (!header)
                abort();
        if (www_authenticate_parse(header, &l, &e) < 0) {
                if (!e || e->code != EINVAL || l)
                        abort();
                error_free(e);
                free(header);
                return 0;
        }
        if (e || !l || l->n == 0)
                abort();
        for (size_t i = 0; i < l->n; i++)
                check_challenge(&l->items[i]);
        char *s = serialize(l);
        if (www_authenticate_parse(s, &again, NULL) < 0 || !same(l, again)) {
                fprintf(stderr, "round trip failed:\n  in:  %s\n  out: %s\n", header, s);
                abort();
        }
        check_token_request(l);
        auth_challenges_free(again);
        auth_challenges_free(l);
        free(s);
        free(header);
        return 0;
}
