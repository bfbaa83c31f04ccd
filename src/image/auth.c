/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "auth.h"
#include "json-util.h"
#include "fs-util.h"
#include "strv.h"

/* docker's config.json also holds proxies and plugin settings, but never megabytes of them. */
#define AUTH_FILE_MAX_SIZE (4 * 1024 * 1024)

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

Credentials *credentials_free(Credentials *c) {
        if (!c)
                return NULL;
        free(c->username);
        /* Secrets do not linger in freed memory. */
        if (c->password)
                explicit_bzero(c->password, strlen(c->password));
        if (c->identity_token)
                explicit_bzero(c->identity_token, strlen(c->identity_token));
        if (c->registry_token)
                explicit_bzero(c->registry_token, strlen(c->registry_token));
        free(c->password);
        free(c->identity_token);
        free(c->registry_token);
        free(c);
        return NULL;
}

void credentials_freep(Credentials **c) {
        *c = credentials_free(*c);
}

static int base64_value(char c) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const char *p = c ? strchr(alphabet, c) : NULL;
        return p ? (int)(p - alphabet) : -1;
}

/*
 * Standard base64 with padding, as Go's base64.StdEncoding reads it: CR and LF are skipped, '='
 * only ends the last group. Decodes into `out` (at least strlen(s) / 4 * 3 bytes).
 */
static int base64_decode(const char *s, unsigned char *out, size_t *ret_len) {
        size_t n = 0, len = 0, padding = 0;
        uint32_t group = 0;

        for (; *s; s++) {
                if (*s == '\r' || *s == '\n')
                        continue;
                int v = base64_value(*s);
                if (*s == '=' && n % 4 >= 2) {
                        padding++;
                        v = 0;
                } else if (v < 0 || padding > 0)
                        return -EINVAL;
                group = group << 6 | (uint32_t)v;
                if (++n % 4 != 0)
                        continue;
                for (size_t i = 0; i < 3 - padding; i++)
                        out[len++] = (unsigned char)(group >> (16 - 8 * i));
                group = 0;
        }
        if (n % 4 != 0)
                return -EINVAL;
        *ret_len = len;
        return 0;
}

/* Split decoded "user:password"; -EINVAL without a colon or with a NUL where C strings cannot hold one. */
static int split_user_password(const char *raw, size_t len, char **ret_user, char **ret_password) {
        const char *colon = memchr(raw, ':', len);
        if (!colon)
                return -EINVAL;
        size_t user_len = (size_t)(colon - raw);
        const char *pass = colon + 1;
        size_t pass_len = len - user_len - 1;
        /* containers/image trims NULs around the password (some tools wrote one); elsewhere they are bad. */
        while (pass_len > 0 && pass[0] == '\0') {
                pass++;
                pass_len--;
        }
        while (pass_len > 0 && pass[pass_len - 1] == '\0')
                pass_len--;
        if (memchr(raw, '\0', user_len) || memchr(pass, '\0', pass_len))
                return -EINVAL;
        *ret_user = xstrndup(raw, user_len);
        *ret_password = xstrndup(pass, pass_len);
        return 0;
}

int credentials_decode_auth(const char *b64, char **ret_user, char **ret_password) {
        if (!b64)
                return -EINVAL;
        size_t size = strlen(b64) / 4 * 3 + 1, len = 0;
        _cleanup_free_ unsigned char *raw = xmalloc(size);
        int r = base64_decode(b64, raw, &len);
        if (r >= 0)
                r = split_user_password((const char *)raw, len, ret_user, ret_password);
        /* The password must not linger in freed memory, decoded or half-decoded. */
        explicit_bzero(raw, size);
        return r;
}

/* docker.io goes by several names in auth files written by different tools. */
static const char *normalize_host(const char *host) {
        static const char *const docker_hub[] = {"docker.io", "index.docker.io", "registry-1.docker.io"};
        for (size_t i = 0; i < ELEMENTSOF(docker_hub); i++)
                if (strcmp(host, docker_hub[i]) == 0)
                        return "docker.io";
        return host;
}

/*
 * A key as containers/image normalizes it: a scheme means a URL from the days of the v1 API
 * ("https://index.docker.io/v1/"), whose path is not a repository, so only the host counts.
 */
static char *normalize_key(const char *key) {
        static const char *const schemes[] = {"http://", "https://"};
        _cleanup_free_ char *k = NULL;

        for (size_t i = 0; i < ELEMENTSOF(schemes) && !k; i++)
                if (strncmp(key, schemes[i], strlen(schemes[i])) == 0)
                        k = xstrndup(key + strlen(schemes[i]), strcspn(key + strlen(schemes[i]), "/"));
        if (!k)
                k = xstrdup(key);
        size_t host_len = strcspn(k, "/");
        char saved = k[host_len];
        k[host_len] = '\0';
        const char *host = normalize_host(k);
        k[host_len] = saved;
        return xasprintf("%s%s", host, k + host_len);
}

/* The keys to try, most specific first: host/ns/repo, host/ns, host. */
static char **lookup_keys(const char *host, const char *repo) {
        _cleanup_free_ char *name = repo && *repo ? xasprintf("%s/%s", normalize_host(host), repo)
                                                  : xstrdup(normalize_host(host));
        char **l = NULL;

        for (;;) {
                l = strv_push(l, xstrdup(name));
                char *slash = strrchr(name, '/');
                if (!slash)
                        break;
                *slash = '\0';
        }
        return l;
}

/* The entry for `key`: exactly as written if present, else the first whose normalized form matches. */
static json_object *find_entry(json_object *auths, const char *key, const char **ret_key) {
        json_object *v = NULL;
        if (json_object_object_get_ex(auths, key, &v)) {
                *ret_key = key;
                return v;
        }
        json_object_object_foreach(auths, k, entry) {
                _cleanup_free_ char *normalized = normalize_key(k);
                if (strcmp(normalized, key) == 0) {
                        *ret_key = k;
                        return entry;
                }
        }
        return NULL;
}

static int entry_string(json_object *entry, const char *field, const char **ret) {
        json_object *v = NULL;
        *ret = NULL;
        if (!json_object_object_get_ex(entry, field, &v) || json_object_is_type(v, json_type_null))
                return 0;
        if (!json_object_is_type(v, json_type_string) ||
            strlen(json_object_get_string(v)) != (size_t)json_object_get_string_len(v))
                return -EINVAL;
        if (json_object_get_string_len(v) > 0)
                *ret = json_object_get_string(v);
        return 0;
}

/* 1 and *ret for an entry with credentials, 0 for one without (Docker Desktop leaves "{}" behind). */
static int entry_parse(json_object *entry, const char *path, const char *key, Credentials **ret,
                       Error **reterr) {
        const char *auth = NULL, *token = NULL;

        if (!json_object_is_type(entry, json_type_object))
                return error_set(reterr, EINVAL, "auth file %s: entry \"%s\" is not an object", path, key);
        if (entry_string(entry, "auth", &auth) < 0 || entry_string(entry, "identitytoken", &token) < 0)
                return error_set(reterr, EINVAL,
                                 "auth file %s: \"auth\" or \"identitytoken\" of \"%s\" is not a string",
                                 path, key);
        if (!auth && !token)
                return 0;

        _cleanup_(credentials_freep) Credentials *c = xcalloc(1, sizeof(*c));
        if (auth && credentials_decode_auth(auth, &c->username, &c->password) < 0)
                return error_set(reterr, EINVAL,
                                 "auth file %s: \"auth\" of \"%s\" is not base64 of user:password", path,
                                 key);
        c->identity_token = token ? xstrdup(token) : NULL;
        *ret = TAKE_PTR(c);
        return 1;
}

static int read_auths(const char *path, json_object **ret_root, json_object **ret_auths, Error **reterr) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        int r = read_file(path, AUTH_FILE_MAX_SIZE, &text, &len);
        if (r == -ENOENT || r == -ENOTDIR)
                return 0;
        if (r == -EFBIG)
                return error_set(reterr, EINVAL, "auth file %s is larger than %d bytes", path,
                                 AUTH_FILE_MAX_SIZE);
        if (r < 0)
                return error_set(reterr, r, "cannot read auth file %s: %s", path, strerror(-r));
        /* An empty file, as some tools create before the first login, holds no credentials. */
        if (strspn(text, " \t\r\n") == len)
                return 0;

        _cleanup_json_ json_object *root = NULL;
        _cleanup_free_ char *what = xasprintf("auth file %s", path);
        if ((r = json_parse_object(text, len, what, &root, reterr)) < 0)
                return r;
        /*
         * "credHelpers" and "credsStore" name programs (docker-credential-*) that would have to run
         * inside a desktop session, and running binaries named by a file as the daemon's root is not
         * something a pull should do; entries that only point at them are skipped.
         */
        json_object *auths = NULL;
        if (!json_object_object_get_ex(root, "auths", &auths) || json_object_is_type(auths, json_type_null))
                return 0;
        if (!json_object_is_type(auths, json_type_object))
                return error_set(reterr, EINVAL, "auth file %s: \"auths\" is not an object", path);
        *ret_auths = auths;
        *ret_root = TAKE_PTR(root);
        return 1;
}

static int lookup_in_file(const char *path, char *const *keys, Credentials **ret, Error **reterr) {
        _cleanup_json_ json_object *root = NULL;
        json_object *auths = NULL;

        int r = read_auths(path, &root, &auths, reterr);
        if (r <= 0)
                return r;
        STRV_FOREACH(k, keys) {
                const char *key = NULL;
                json_object *entry = find_entry(auths, *k, &key);
                if (!entry)
                        continue;
                if ((r = entry_parse(entry, path, key, ret, reterr)) != 0)
                        return r;
        }
        return 0;
}

int credentials_lookup(char *const *files, const char *host, const char *repo, Credentials **ret,
                       Error **reterr) {
        _cleanup_strv_free_ char **keys = lookup_keys(host, repo);

        STRV_FOREACH(f, files) {
                int r = lookup_in_file(*f, keys, ret, reterr);
                if (r != 0)
                        return r;
        }
        return 0;
}

char **credentials_default_files(void) {
        const char *env = secure_getenv("REGISTRY_AUTH_FILE");
        char **l = xcalloc(1, sizeof(char *));

        if (env && *env)
                l = strv_push(l, xstrdup(env));
        env = secure_getenv("XDG_RUNTIME_DIR");
        if (env && *env)
                l = strv_push(l, xasprintf("%s/containers/auth.json", env));
        l = strv_push(l, xasprintf("/run/containers/%u/auth.json", (unsigned)getuid()));
        env = secure_getenv("HOME");
        if (env && *env)
                l = strv_push(l, xasprintf("%s/.docker/config.json", env));
        return l;
}
