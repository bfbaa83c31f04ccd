/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <string.h>

#include <json-c/json.h>

#include "fs-util.h"
#include "json-util.h"
#include "policy.h"
#include "strv.h"

/* A policy file is a few kilobytes; anything near this is not one. */
#define POLICY_MAX_SIZE (1024 * 1024)

/* What a requirement list asks, reduced to what we can decide. */
typedef struct Requirements {
        bool reject;
        const char *signature; /* the first signature requirement type, NULL when none */
} Requirements;

typedef struct Scope {
        char *name;
        Requirements requirements;
} Scope;

typedef struct Transport {
        char *name;
        Scope *scopes;
        size_t n_scopes;
} Transport;

struct Policy {
        Requirements default_requirements;
        Transport *transports;
        size_t n_transports;
};

static void json_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

Policy *policy_free(Policy *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_transports; i++) {
                Transport *t = &p->transports[i];
                for (size_t j = 0; j < t->n_scopes; j++)
                        free(t->scopes[j].name);
                free(t->scopes);
                free(t->name);
        }
        free(p->transports);
        free(p);
        return NULL;
}

void policy_freep(Policy **p) {
        *p = policy_free(*p);
}

/* One requirement object; "insecureAcceptAnything" and "reject" take no other keys. */
static int requirement_parse(json_object *o, const char *where, size_t i, Requirements *reqs,
                             Error **reterr) {
        static const char *const signatures[] = {"signedBy", "sigstoreSigned"};
        json_object *type = NULL;

        if (!json_object_is_type(o, json_type_object))
                return error_set(reterr, EINVAL, "%s: requirement %zu is not an object", where, i);
        if (!json_object_object_get_ex(o, "type", &type) || !json_object_is_type(type, json_type_string))
                return error_set(reterr, EINVAL, "%s: requirement %zu has no string \"type\"", where, i);

        const char *t = json_object_get_string(type);
        /* "reject\u0000x" must not read as "reject". */
        if (strlen(t) != (size_t)json_object_get_string_len(type))
                return error_set(reterr, EINVAL, "%s: requirement %zu has a NUL in its \"type\"", where, i);
        for (size_t k = 0; k < ELEMENTSOF(signatures); k++)
                if (strcmp(t, signatures[k]) == 0) {
                        /* Their keys are not checked: whatever they say, we refuse the image. */
                        if (!reqs->signature)
                                reqs->signature = signatures[k];
                        return 0;
                }
        if (strcmp(t, "insecureAcceptAnything") != 0 && strcmp(t, "reject") != 0)
                return error_set(reterr, EINVAL, "%s: unknown requirement type \"%s\"", where, t);
        /* As containers/image does: a misspelt key must not quietly change what the policy means. */
        if (json_object_object_length(o) != 1)
                return error_set(reterr, EINVAL, "%s: requirement \"%s\" takes no keys besides \"type\"",
                                 where, t);
        if (strcmp(t, "reject") == 0)
                reqs->reject = true;
        return 0;
}

static int requirements_parse(json_object *o, const char *where, Requirements *ret, Error **reterr) {
        Requirements reqs = {};

        if (!json_object_is_type(o, json_type_array))
                return error_set(reterr, EINVAL, "%s: requirements are not an array", where);
        /* An empty list would accept everything by accident; containers/image refuses it too. */
        if (json_object_array_length(o) == 0)
                return error_set(reterr, EINVAL, "%s: the list of requirements is empty", where);
        for (size_t i = 0; i < json_object_array_length(o); i++) {
                int r = requirement_parse(json_object_array_get_idx(o, i), where, i, &reqs, reterr);
                if (r < 0)
                        return r;
        }
        *ret = reqs;
        return 0;
}

static int transport_parse(const char *name, json_object *o, Transport *t, Error **reterr) {
        t->name = xstrdup(name);
        /* Go reads a null map as an empty one. */
        if (json_object_is_type(o, json_type_null))
                return 0;
        if (!json_object_is_type(o, json_type_object))
                return error_set(reterr, EINVAL, "transport \"%s\" is not an object", name);

        t->scopes = xcalloc(json_object_object_length(o), sizeof(Scope));
        json_object_object_foreach(o, scope, v) {
                _cleanup_free_ char *where = xasprintf("transport \"%s\" scope \"%s\"", name, scope);
                Requirements reqs;
                int r = requirements_parse(v, where, &reqs, reterr);
                if (r < 0)
                        return r;
                /* Scopes are not validated, as in containers/image: one that cannot match is inert. */
                t->scopes[t->n_scopes++] = (Scope){xstrdup(scope), reqs};
        }
        return 0;
}

static int transports_parse(json_object *o, Policy *p, Error **reterr) {
        /* Go reads a null map as an empty one. */
        if (json_object_is_type(o, json_type_null))
                return 0;
        if (!json_object_is_type(o, json_type_object))
                return error_set(reterr, EINVAL, "\"transports\" is not an object");

        p->transports = xcalloc(json_object_object_length(o), sizeof(Transport));
        json_object_object_foreach(o, name, v) {
                /* Counted first, so that policy_free() releases a half-parsed transport. */
                Transport *t = &p->transports[p->n_transports++];
                int r = transport_parse(name, v, t, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int policy_parse(json_object *root, Policy *p, Error **reterr) {
        json_object *dflt = NULL;
        bool have_default = false;
        int r;

        json_object_object_foreach(root, key, v) {
                if (strcmp(key, "default") == 0) {
                        dflt = v;
                        have_default = true;
                } else if (strcmp(key, "transports") == 0) {
                        if ((r = transports_parse(v, p, reterr)) < 0)
                                return r;
                } else
                        return error_set(reterr, EINVAL, "unknown key \"%s\"", key);
        }
        if (!have_default)
                return error_set(reterr, EINVAL, "\"default\" is missing");
        return requirements_parse(dflt, "\"default\"", &p->default_requirements, reterr);
}

int policy_load(const char *path, Policy **ret, Error **reterr) {
        _cleanup_free_ char *text = NULL;
        _cleanup_json_ json_object *root = NULL;
        _cleanup_(policy_freep) Policy *p = NULL;
        size_t len = 0;

        int r = read_file(path, POLICY_MAX_SIZE, &text, &len);
        if (r == -ENOENT)
                return error_set(reterr, ENOENT, "policy file %s does not exist", path);
        if (r == -EFBIG)
                return error_set(reterr, EINVAL, "policy file %s is larger than %d bytes", path,
                                 POLICY_MAX_SIZE);
        if (r < 0)
                return error_set(reterr, r, "cannot read policy file %s: %s", path, strerror(-r));

        p = xcalloc(1, sizeof(*p));
        if ((r = json_parse_object(text, len, "policy", &root, reterr)) < 0 ||
            (r = policy_parse(root, p, reterr)) < 0)
                return error_prefix(reterr, "policy file %s", path);
        *ret = TAKE_PTR(p);
        return 0;
}

static const Transport *transport_find(const Policy *p, const char *name) {
        for (size_t i = 0; i < p->n_transports; i++)
                if (strcmp(p->transports[i].name, name) == 0)
                        return &p->transports[i];
        return NULL;
}

static const Scope *scope_find(const Transport *t, const char *name) {
        for (size_t i = 0; i < t->n_scopes; i++)
                if (strcmp(t->scopes[i].name, name) == 0)
                        return &t->scopes[i];
        return NULL;
}

/*
 * The docker transport's scopes for `ref`, most specific first, as containers/image builds them:
 * name@digest, name:tag, name, each parent namespace up to the host (with its port), then
 * "*.sub.domain", "*.domain", ... from the host without its port.
 */
static char **docker_scopes(const ImageRef *ref) {
        _cleanup_free_ char *name = xasprintf("%s/%s", ref->domain, ref->path);
        char **l = NULL;

        if (ref->digest)
                l = strv_push(l, xasprintf("%s@%s", name, ref->digest));
        if (ref->tag)
                l = strv_push(l, xasprintf("%s:%s", name, ref->tag));
        for (;;) {
                l = strv_push(l, xstrdup(name));
                char *slash = strrchr(name, '/');
                if (!slash)
                        break;
                *slash = '\0';
        }
        /* Cut at the first ':' as containers/image does, which leaves "[" of "[::1]:5000": no wildcards. */
        name[strcspn(name, ":")] = '\0';
        for (const char *dot = strchr(name, '.'); dot; dot = strchr(dot + 1, '.'))
                l = strv_push(l, xasprintf("*%s", dot));
        return l;
}

static char *ref_to_string(const ImageRef *ref) {
        return xasprintf("%s/%s%s%s%s%s", ref->domain, ref->path, ref->tag ? ":" : "", strempty(ref->tag),
                         ref->digest ? "@" : "", strempty(ref->digest));
}

static int requirements_check(const Requirements *reqs, const ImageRef *ref, const char *source,
                              Error **reterr) {
        if (!reqs->reject && !reqs->signature)
                return 0;

        _cleanup_free_ char *image = ref_to_string(ref);
        /* A "reject" anywhere in the list decides, whatever a signature would have said. */
        if (reqs->reject)
                return error_set(reterr, EACCES, "%s is rejected by policy (%s)", image, source);
        return error_set(reterr, EOPNOTSUPP,
                         "signature verification (%s) is not supported by crio-c yet; %s requires it for %s",
                         reqs->signature, source, image);
}

int policy_check(const Policy *p, const char *transport, const ImageRef *ref, Error **reterr) {
        if (!ref->domain || !ref->path)
                return error_set(reterr, EINVAL, "policy check of %s: the reference is not qualified",
                                 strempty(ref->path));

        const Transport *t = transport_find(p, transport);
        if (!t)
                return requirements_check(&p->default_requirements, ref, "the default policy", reterr);

        _cleanup_strv_free_ char **scopes = strcmp(transport, "docker") == 0 ? docker_scopes(ref) : NULL;
        STRV_FOREACH(s, scopes) {
                const Scope *scope = scope_find(t, *s);
                if (scope) {
                        _cleanup_free_ char *source =
                                xasprintf("scope \"%s\" of transport %s", *s, transport);
                        return requirements_check(&scope->requirements, ref, source, reterr);
                }
        }
        const Scope *scope = scope_find(t, "");
        if (scope) {
                _cleanup_free_ char *source = xasprintf("the default of transport %s", transport);
                return requirements_check(&scope->requirements, ref, source, reterr);
        }
        return requirements_check(&p->default_requirements, ref, "the default policy", reterr);
}
