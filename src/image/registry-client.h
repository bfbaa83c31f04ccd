/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "cancel.h"
#include "error.h"

/*
 * A client of one repository on one registry (distribution API v2, libcurl). It negotiates
 * authentication on the first 401: Bearer (token from the WWW-Authenticate realm, with service and
 * scope "repository:<repo>:pull", using credentials or an identity token; anonymous when there are
 * none) or Basic. Tokens are cached for the client's life. TLS uses the system CAs plus
 * <certs_dir>/<host>/ (*.crt as CAs, *.cert + *.key as client certificate). Insecure registries are
 * tried over HTTPS without certificate checks, then over plain HTTP when TLS fails there. Requests are
 * retried with backoff (3 tries) on 5xx, 429 and connection resets, as long as nothing was handed to the
 * caller yet. Every call blocks; it returns early with -ECANCELED when `cancel` is cancelled,
 * -ETIMEDOUT when its deadline passes or no byte arrives for progress_timeout_ns.
 *
 * errno mapping: 401/403 -EACCES ("unauthorized: ..."), 404 -ENOENT, TLS failures -EPROTO,
 * connection refused/unreachable -ECONNREFUSED, other HTTP errors -EIO; messages name the URL's
 * host and path and the registry's error code/message when the body has one.
 */
typedef struct RegistryClient RegistryClient;

typedef struct RegistryClientOptions {
        const char *host;       /* "registry.example.com:5000"; "docker.io" means registry-1.docker.io */
        const char *repository; /* "library/busybox" */
        bool insecure;
        const Credentials *credentials; /* NULL: anonymous */
        const char *certs_dir;          /* default /etc/containers/certs.d */
        const Cancel *cancel;           /* may be NULL; carries the deadline */
        int64_t progress_timeout_ns;    /* a transfer receiving nothing this long fails; 0: none */
        int64_t connect_timeout_ns;     /* 0: libcurl's default (300 s) */
} RegistryClientOptions;

int registry_client_new(const RegistryClientOptions *o, RegistryClient **ret, Error **reterr);
RegistryClient *registry_client_free(RegistryClient *c);
void registry_client_freep(RegistryClient **c);

/*
 * GET /v2/<repo>/manifests/<reference> (a tag or digest) accepting every manifest and index type.
 * The body is capped at MANIFEST_MAX_SIZE. When `reference` is a digest the body is verified against
 * it (-EBADMSG on mismatch). *ret_digest is the body's sha256 digest (or the reference digest).
 */
int registry_get_manifest(RegistryClient *c, const char *reference, char **ret_body, size_t *ret_len,
                          char **ret_content_type, char **ret_digest, Error **reterr);

/* GET a whole blob of at most `max_size` bytes and verify its digest (-EBADMSG on mismatch). */
int registry_get_blob(RegistryClient *c, const char *digest, size_t max_size, char **ret_body,
                      size_t *ret_len, Error **reterr);

/*
 * Stream a blob to `sink` as it arrives. A negative return from the sink aborts the transfer with
 * that error. After the last byte the digest is verified (-EBADMSG on mismatch) and the size checked
 * against `expected_size` when >= 0 (-EBADMSG for a short or long body).
 */
typedef int (*BlobSink)(void *userdata, const void *data, size_t len, Error **reterr);
int registry_fetch_blob(RegistryClient *c, const char *digest, int64_t expected_size, BlobSink sink,
                        void *userdata, Error **reterr);

/*
 * The URL the client requests: "<scheme>://<host>/v2/<repository>/<kind>/<reference>", with "docker.io"
 * as registry-1.docker.io and http:// when `plain_http`; `kind` is "manifests" or "blobs".
 * Does not validate its arguments. Caller frees.
 */
char *registry_url(const char *host, bool plain_http, const char *repository, const char *kind,
                   const char *reference);

/* Process-wide libcurl set-up, done once; clients do it themselves before their first handle. */
void registry_client_global_init(void);
