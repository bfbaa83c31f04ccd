/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include <openssl/evp.h>

#include "digest.h"

struct Digester {
        DigestAlgorithm algorithm;
        EVP_MD_CTX *ctx;
};

static const struct {
        const char *name;
        size_t hex_len;
} algorithms[] = {
        [DIGEST_SHA256] = {"sha256", 64},
        [DIGEST_SHA512] = {"sha512", 128},
};

int digest_parse(const char *s, DigestAlgorithm *ret_algorithm, const char **ret_hex) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(algorithms); i++) {
                size_t n = strlen(algorithms[i].name);
                if (strncmp(s, algorithms[i].name, n) != 0 || s[n] != ':')
                        continue;
                const char *hex = s + n + 1;
                if (strlen(hex) != algorithms[i].hex_len || strspn(hex, "0123456789abcdef") != strlen(hex))
                        return -EINVAL;
                if (ret_algorithm)
                        *ret_algorithm = (DigestAlgorithm)i;
                if (ret_hex)
                        *ret_hex = hex;
                return 0;
        }
        return -EINVAL;
}

bool digest_is_valid(const char *s) {
        return digest_parse(s, NULL, NULL) == 0;
}

Digester *digester_new(DigestAlgorithm algorithm) {
        Digester *d = xcalloc(1, sizeof(*d));
        d->algorithm = algorithm;
        d->ctx = EVP_MD_CTX_new();
        const EVP_MD *md = algorithm == DIGEST_SHA512 ? EVP_sha512() : EVP_sha256();
        if (!d->ctx || EVP_DigestInit_ex(d->ctx, md, NULL) != 1)
                abort();
        return d;
}

void digester_update(Digester *d, const void *data, size_t len) {
        if (len > 0 && EVP_DigestUpdate(d->ctx, data, len) != 1)
                abort();
}

char *digester_result(Digester *d) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned len = 0;
        EVP_MD_CTX *copy = EVP_MD_CTX_new();
        /* Finish a copy so the digester stays usable (and freeable) as before. */
        if (!copy || EVP_MD_CTX_copy_ex(copy, d->ctx) != 1 || EVP_DigestFinal_ex(copy, md, &len) != 1)
                abort();
        EVP_MD_CTX_free(copy);
        const char *name = algorithms[d->algorithm].name;
        size_t n = strlen(name);
        char *s = xmalloc(n + 1 + 2 * len + 1);
        memcpy(s, name, n);
        s[n] = ':';
        for (unsigned i = 0; i < len; i++) {
                static const char hexdigits[] = "0123456789abcdef";
                s[n + 1 + 2 * i] = hexdigits[md[i] >> 4];
                s[n + 2 + 2 * i] = hexdigits[md[i] & 0xf];
        }
        s[n + 1 + 2 * len] = '\0';
        return s;
}

Digester *digester_free(Digester *d) {
        if (d) {
                EVP_MD_CTX_free(d->ctx);
                free(d);
        }
        return NULL;
}

void digester_freep(Digester **d) {
        *d = digester_free(*d);
}

char *digest_buffer(DigestAlgorithm algorithm, const void *data, size_t len) {
        Digester *d = digester_new(algorithm);
        digester_update(d, data, len);
        char *s = digester_result(d);
        digester_free(d);
        return s;
}
