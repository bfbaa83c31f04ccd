/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "error.h"

/* Registry credentials, from the CRI AuthConfig or from a containers-auth.json(5) file. */
typedef struct Credentials {
        char *username;
        char *password;
        char *identity_token; /* OAuth2 refresh token, exchanged at the token endpoint */
        char *registry_token; /* bearer token sent as is */
} Credentials;

Credentials *credentials_free(Credentials *c);
void credentials_freep(Credentials **c);

/* Decode a base64 "user:password" (the `auth` field). -EINVAL when malformed. */
int credentials_decode_auth(const char *b64, char **ret_user, char **ret_password);

/*
 * Look `host` (and the repository `repo`, for keys like "host/ns/repo") up in auth files, first
 * match wins: each of `files` in order (NULL-terminated; missing files are skipped). Keys may carry
 * a scheme ("https://index.docker.io/v1/" means docker.io) and the most specific key of a file wins.
 * Returns 1 and *ret when found, 0 when not, -EINVAL (naming the file) for a malformed file.
 */
int credentials_lookup(char *const *files, const char *host, const char *repo, Credentials **ret,
                       Error **reterr);

/*
 * The default auth files, in containers-auth.json(5) order: $REGISTRY_AUTH_FILE,
 * $XDG_RUNTIME_DIR/containers/auth.json, /run/containers/<uid>/auth.json, $HOME/.docker/config.json.
 * Caller frees the strv.
 */
char **credentials_default_files(void);
