/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "reference.h"

/* containers-registries.conf(5) version 2, as far as pulling images needs it. */

typedef enum PullFromMirror {
        PULL_FROM_MIRROR_ALL,
        PULL_FROM_MIRROR_DIGEST_ONLY,
        PULL_FROM_MIRROR_TAG_ONLY,
} PullFromMirror;

typedef struct RegistryMirror {
        char *location; /* "mirror.example.com/ns", may include a path */
        bool insecure;
        PullFromMirror pull_from_mirror;
} RegistryMirror;

typedef struct RegistryEntry {
        char *prefix;   /* what references must start with: "example.com/foo", or "*.example.com" */
        char *location; /* replaces the prefix when pulling; defaults to the prefix */
        bool insecure;  /* plain HTTP allowed, TLS not verified */
        bool blocked;
        bool mirror_by_digest_only;
        RegistryMirror *mirrors;
        size_t n_mirrors;
} RegistryEntry;

typedef struct RegistriesConf {
        char **unqualified_search_registries; /* strv; may be empty */
        RegistryEntry *registries;
        size_t n_registries;
        char **alias_names; /* [aliases]: short name -> qualified reference */
        char **alias_values;
        size_t n_aliases;
        char *short_name_mode; /* from the file, or NULL; crio.conf's short_name_mode wins */
} RegistriesConf;

/*
 * Load the main file (a missing one is an empty config) and then every *.conf of `dir` in lexical
 * order (a missing dir is fine). Drop-ins follow registries.conf(5): [[registry]] entries with the
 * same prefix replace earlier ones, lists and aliases given in a later file replace or extend as
 * the man page says. Unknown keys are warnings; wrong types, a prefix that is not a valid
 * reference or wildcard, or a v1 file mixing [registries.search] with v2 tables are -EINVAL naming
 * file and key. Blocks on file reads.
 */
int registries_conf_load(const char *path, const char *dir, RegistriesConf **ret, char ***warnings,
                         Error **reterr);
RegistriesConf *registries_conf_free(RegistriesConf *c);
void registries_conf_freep(RegistriesConf **c);

/* The [[registry]] entry for a qualified reference: longest matching prefix, then wildcards. */
const RegistryEntry *registries_find(const RegistriesConf *c, const ImageRef *ref);

/* One place to try a pull from: the reference rewritten for a mirror or the registry's location. */
typedef struct PullSource {
        ImageRef *ref;
        bool insecure;
        bool is_mirror;
} PullSource;

/*
 * Where to pull a qualified reference from, in order: each mirror that applies (mirror_by_digest_only
 * and pull-from-mirror honoured), then the location. A blocked registry is -EACCES naming it.
 */
int registries_pull_sources(const RegistriesConf *c, const ImageRef *ref, PullSource **ret, size_t *ret_n,
                            Error **reterr);
void pull_sources_free(PullSource *s, size_t n);

/*
 * Candidates for a short name, in the order to try them: an alias if one matches (then it is the
 * only candidate), else the name qualified with each unqualified-search registry (docker.io alone
 * when none are configured). With `enforcing` and more than one candidate the name is ambiguous:
 * -EINVAL with a message listing the candidates. Caller frees the array and its refs.
 */
int registries_resolve_short_name(const RegistriesConf *c, const ImageRef *short_ref, bool enforcing,
                                  ImageRef ***ret, size_t *ret_n, Error **reterr);
