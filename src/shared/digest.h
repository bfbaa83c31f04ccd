/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Content digests as the OCI image spec writes them: "sha256:<64 hex>" or "sha512:<128 hex>". */
typedef enum DigestAlgorithm {
        DIGEST_SHA256,
        DIGEST_SHA512,
} DigestAlgorithm;

/* Check the form (known algorithm, lower-case hex of the right length). */
bool digest_is_valid(const char *s);

/* The algorithm of a valid digest, and its hex part (a pointer into `s`). -EINVAL if not valid. */
int digest_parse(const char *s, DigestAlgorithm *ret_algorithm, const char **ret_hex);

/* Incremental hashing (OpenSSL EVP). Never fails short of memory exhaustion, which aborts. */
typedef struct Digester Digester;
Digester *digester_new(DigestAlgorithm algorithm);
void digester_update(Digester *d, const void *data, size_t len);
/* "sha256:..." of everything fed so far; the digester can be freed afterwards. Caller frees. */
char *digester_result(Digester *d);
Digester *digester_free(Digester *d);
void digester_freep(Digester **d);

/* One-shot digest of a buffer. Caller frees. */
char *digest_buffer(DigestAlgorithm algorithm, const void *data, size_t len);
