/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <string.h>

#include "digest.h"
#include "reference.h"

/*
 * The grammar of distribution/reference, written out as small scanners rather than regular expressions:
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path
 *   domain     := host [ ":" port ] | "[" ipv6 "]" [ ":" port ]
 *   host       := component ( "." component )*      component := [a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?
 *   path       := pcomp ( "/" pcomp )*               pcomp := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ )
 * [a-z0-9]+ )* tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} digest     := "sha256:" 64 hex | "sha512:"
 * 128 hex   (lower case; see digest.h)
 */

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128
/* The longest reference that can be valid: "docker://", name, tag, "@sha512:" and 128 hex. Anything
 * longer is refused before it is echoed back in a message. */
#define INPUT_MAX_LEN 1024
/* How much of a bad reference a message quotes. */
#define QUOTE_MAX_LEN 256

#define DOCKER_PREFIX "docker://"
#define DOCKER_DOMAIN "docker.io"
#define DOCKER_LEGACY_DOMAIN "index.docker.io"

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

static bool is_lower_alnum(char c) {
        return (c >= 'a' && c <= 'z') || is_digit(c);
}

static bool is_alnum(char c) {
        return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_word(char c) {
        return is_alnum(c) || c == '_';
}

/*
 * The input as a message may quote it: the reference comes from a client, and error messages travel back in
 * gRPC headers and into logs, so control and non-ASCII bytes are escaped and the length is bounded.
 */
static char *quote_input(const char *s) {
        size_t n = strnlen(s, QUOTE_MAX_LEN + 1);
        char *q = xmalloc(4 * QUOTE_MAX_LEN + sizeof("..."));
        char *p = q;

        for (size_t i = 0; i < n && i < QUOTE_MAX_LEN; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c < 0x20 || c >= 0x7f) {
                        static const char hex[] = "0123456789abcdef";
                        *p++ = '\\';
                        *p++ = 'x';
                        *p++ = hex[c >> 4];
                        *p++ = hex[c & 0xf];
                } else
                        *p++ = (char)c;
        }
        if (n > QUOTE_MAX_LEN)
                p = stpcpy(p, "...");
        *p = '\0';
        return q;
}

_printf_(3, 4) static int fail(const char *input, Error **reterr, const char *fmt, ...) {
        _cleanup_free_ char *quoted = quote_input(input);
        _cleanup_free_ char *detail = NULL;
        va_list ap;

        va_start(ap, fmt);
        int r = vasprintf(&detail, fmt, ap);
        va_end(ap);
        if (r < 0)
                detail = NULL;
        return error_set(reterr, EINVAL, "invalid reference '%s': %s", quoted, strempty(detail));
}

/* host names: dot-separated components of letters, digits and inner dashes. */
static bool host_is_valid(const char *s, size_t n) {
        size_t start = 0;

        for (size_t i = 0; i <= n; i++) {
                if (i < n && s[i] != '.')
                        continue;
                size_t len = i - start;
                if (len == 0 || !is_alnum(s[start]) || !is_alnum(s[i - 1]))
                        return false;
                for (size_t j = start; j < i; j++)
                        if (!is_alnum(s[j]) && s[j] != '-')
                                return false;
                start = i + 1;
        }
        return true;
}

/* Port numbers as a registry can listen on them; the docker grammar takes any digits, we bound them. */
static bool port_is_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 5 || strspn(s, "0123456789") != n)
                return false;
        long v = strtol(s, NULL, 10);
        return v >= 1 && v <= 65535;
}

static int check_domain(const char *input, const char *domain, Error **reterr) {
        const char *port = NULL;

        if (domain[0] == '[') {
                const char *end = strchr(domain, ']');
                size_t n = end ? (size_t)(end - domain - 1) : 0;
                if (!end || n == 0 || strspn(domain + 1, "0123456789abcdefABCDEF:") != n)
                        return fail(input, reterr, "invalid IPv6 address in registry host '%s'", domain);
                if (end[1] != '\0' && end[1] != ':')
                        return fail(input, reterr, "invalid registry host '%s'", domain);
                port = end[1] == ':' ? end + 2 : NULL;
        } else {
                const char *colon = strchr(domain, ':');
                size_t n = colon ? (size_t)(colon - domain) : strlen(domain);
                if (!host_is_valid(domain, n))
                        return fail(input, reterr, "invalid registry host '%s'", domain);
                port = colon ? colon + 1 : NULL;
        }
        if (port && !port_is_valid(port))
                return fail(input, reterr, "invalid port '%s' in registry host '%s' (must be 1-65535)", port,
                            domain);
        return 0;
}

/* One path component: alphanumeric runs joined by ".", "_", "__" or any number of "-". */
static bool path_component_is_valid(const char *s, size_t n) {
        size_t i = 0;

        for (;;) {
                size_t run = 0;
                while (i < n && is_lower_alnum(s[i]))
                        i++, run++;
                if (run == 0)
                        return false;
                if (i == n)
                        return true;
                if (s[i] == '.')
                        i++;
                else if (s[i] == '_')
                        i += (i + 1 < n && s[i + 1] == '_') ? 2 : 1;
                else if (s[i] == '-')
                        while (i < n && s[i] == '-')
                                i++;
                else
                        return false;
        }
}

static int check_path(const char *input, const char *path, Error **reterr) {
        if (path[0] == '\0')
                return fail(input, reterr, "repository name is empty");
        for (const char *p = path; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        return fail(input, reterr, "repository name must be lowercase");
        size_t bad = strspn(path, "abcdefghijklmnopqrstuvwxyz0123456789._-/");
        if (path[bad] != '\0') {
                unsigned char c = (unsigned char)path[bad];
                if (c >= 0x20 && c < 0x7f)
                        return fail(input, reterr, "invalid character '%c' in repository name", c);
                return fail(input, reterr, "invalid byte 0x%02x in repository name", c);
        }
        for (const char *p = path;;) {
                size_t n = strcspn(p, "/");
                if (n == 0)
                        return fail(input, reterr, "empty path component in repository name '%s'", path);
                if (!path_component_is_valid(p, n))
                        return fail(input, reterr,
                                    "invalid path component '%.*s' (letters and digits, separated by '.', "
                                    "'_', '__' or dashes, at both ends a letter or digit)",
                                    (int)n, p);
                if (p[n] == '\0')
                        return 0;
                p += n + 1;
        }
}

static int check_tag(const char *input, const char *tag, Error **reterr) {
        size_t n = strlen(tag);

        if (n == 0)
                return fail(input, reterr, "tag is empty");
        if (n > TAG_MAX_LEN)
                return fail(input, reterr, "tag is longer than %d characters", TAG_MAX_LEN);
        if (!is_word(tag[0]))
                return fail(input, reterr, "tag '%s' must start with a letter, digit or '_'", tag);
        for (size_t i = 1; i < n; i++)
                if (!is_word(tag[i]) && tag[i] != '.' && tag[i] != '-')
                        return fail(input, reterr,
                                    "invalid tag '%s' (letters, digits, '_', '.' and '-' only)", tag);
        return 0;
}

static int check_digest(const char *input, const char *digest, Error **reterr) {
        if (digest[0] == '\0')
                return fail(input, reterr, "digest is empty");
        if (digest_is_valid(digest))
                return 0;
        const char *colon = strchr(digest, ':');
        if (!colon)
                return fail(input, reterr, "digest '%s' is not of the form algorithm:hex", digest);
        size_t n = (size_t)(colon - digest);
        if (n == 6 && strncmp(digest, "sha256", n) == 0)
                return fail(input, reterr, "digest '%s' must have 64 lower-case hex digits", digest);
        if (n == 6 && strncmp(digest, "sha512", n) == 0)
                return fail(input, reterr, "digest '%s' must have 128 lower-case hex digits", digest);
        return fail(input, reterr, "unsupported digest algorithm '%.*s' (sha256 and sha512 are)", (int)n,
                    digest);
}

/* Docker Hub's legacy name and its implicit "library/" namespace, so one image has one name. */
static void normalize_docker_hub(ImageRef *r) {
        if (!r->domain || !r->path)
                return;
        if (strcmp(r->domain, DOCKER_LEGACY_DOMAIN) == 0) {
                free(r->domain);
                r->domain = xstrdup(DOCKER_DOMAIN);
        }
        if (strcmp(r->domain, DOCKER_DOMAIN) == 0 && !strchr(r->path, '/')) {
                char *p = xasprintf("library/%s", r->path);
                free(r->path);
                r->path = p;
        }
}

/* The first component names a registry only when it could not be a repository name: see reference.h. */
static bool is_domain_component(const char *s, size_t n) {
        return memchr(s, '.', n) || memchr(s, ':', n) ||
               (n == strlen("localhost") && strncmp(s, "localhost", n) == 0);
}

/* Cut "name[:tag][@digest]" into its parts without judging them yet. */
static void split_reference(const char *s, ImageRef *r) {
        const char *at = strchr(s, '@');
        size_t name_len = at ? (size_t)(at - s) : strlen(s);
        if (at)
                r->digest = xstrdup(at + 1);

        /* A ':' after the last '/' starts the tag; one before it belongs to a registry port. */
        const char *last_slash = memrchr(s, '/', name_len);
        const char *from = last_slash ? last_slash : s;
        const char *colon = memchr(from, ':', name_len - (size_t)(from - s));
        if (colon) {
                r->tag = xstrndup(colon + 1, name_len - (size_t)(colon + 1 - s));
                name_len = (size_t)(colon - s);
        }

        const char *slash = memchr(s, '/', name_len);
        if (slash && is_domain_component(s, (size_t)(slash - s))) {
                r->domain = xstrndup(s, (size_t)(slash - s));
                r->path = xstrndup(slash + 1, name_len - (size_t)(slash + 1 - s));
        } else
                r->path = xstrndup(s, name_len);
}

/* Left to right, so that the first thing wrong is the one reported. */
static int check_reference(const char *input, ImageRef *r, Error **reterr) {
        int ret = r->domain ? check_domain(input, r->domain, reterr) : 0;
        if (ret < 0)
                return ret;
        ret = check_path(input, r->path, reterr);
        if (ret < 0)
                return ret;
        /* The limit is on the name as stored, so that what image_ref_to_string() writes parses again. */
        normalize_docker_hub(r);
        size_t name_len = (r->domain ? strlen(r->domain) + 1 : 0) + strlen(r->path);
        if (name_len > NAME_MAX_LEN)
                return fail(input, reterr, "repository name is longer than %d characters", NAME_MAX_LEN);
        ret = r->tag ? check_tag(input, r->tag, reterr) : 0;
        if (ret < 0)
                return ret;
        return r->digest ? check_digest(input, r->digest, reterr) : 0;
}

int image_ref_parse(const char *s, ImageRef **ret, Error **reterr) {
        if (!s)
                return error_set(reterr, EINVAL, "invalid reference: none given");
        const char *input = s;
        if (strncmp(s, DOCKER_PREFIX, strlen(DOCKER_PREFIX)) == 0)
                s += strlen(DOCKER_PREFIX);
        if (s[0] == '\0')
                return fail(input, reterr, "empty reference");
        size_t n = strnlen(s, INPUT_MAX_LEN + 1);
        if (n > INPUT_MAX_LEN)
                return fail(input, reterr, "longer than %d characters", INPUT_MAX_LEN);

        _cleanup_image_ref_ ImageRef *r = xcalloc(1, sizeof(*r));
        split_reference(s, r);
        int k = check_reference(input, r, reterr);
        if (k < 0)
                return k;
        *ret = TAKE_PTR(r);
        return 0;
}

ImageRef *image_ref_qualify(const ImageRef *ref, const char *domain) {
        if (!ref)
                return NULL;
        ImageRef *q = image_ref_copy(ref);
        if (!q->domain)
                q->domain = xstrdup(domain ? domain : DOCKER_DOMAIN);
        normalize_docker_hub(q);
        if (!q->tag && !q->digest)
                q->tag = xstrdup("latest");
        return q;
}

int image_ref_normalize(const char *s, ImageRef **ret, Error **reterr) {
        _cleanup_image_ref_ ImageRef *r = NULL;

        int k = image_ref_parse(s, &r, reterr);
        if (k < 0)
                return k;
        *ret = image_ref_qualify(r, DOCKER_DOMAIN);
        return 0;
}

char *image_ref_to_string(const ImageRef *r) {
        if (!r || !r->path)
                return NULL;
        return xasprintf("%s%s%s%s%s%s%s", strempty(r->domain), r->domain ? "/" : "", r->path,
                         r->tag ? ":" : "", strempty(r->tag), r->digest ? "@" : "", strempty(r->digest));
}

char *image_ref_name(const ImageRef *r) {
        if (!r || !r->path)
                return NULL;
        return xasprintf("%s%s%s", strempty(r->domain), r->domain ? "/" : "", r->path);
}

static char *strdup_or_null(const char *s) {
        return s ? xstrdup(s) : NULL;
}

ImageRef *image_ref_copy(const ImageRef *r) {
        if (!r)
                return NULL;
        ImageRef *c = xcalloc(1, sizeof(*c));
        c->domain = strdup_or_null(r->domain);
        c->path = strdup_or_null(r->path);
        c->tag = strdup_or_null(r->tag);
        c->digest = strdup_or_null(r->digest);
        return c;
}

ImageRef *image_ref_free(ImageRef *r) {
        if (r) {
                free(r->domain);
                free(r->path);
                free(r->tag);
                free(r->digest);
                free(r);
        }
        return NULL;
}

void image_ref_freep(ImageRef **r) {
        *r = image_ref_free(*r);
}
