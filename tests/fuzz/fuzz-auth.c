/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "auth.h"
#include "fuzz-input-file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const lookups[][2] = {{"docker.io", "library/busybox"},
                                         {"quay.io", "ns/app"},
                                         {"registry.example.com:5000", "a/b/c"},
                                         {"localhost", "x"}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char path[64];
        int fd = fuzz_input_file(data, size, path);
        char *files[] = {path, NULL};
        for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
                Credentials *c = NULL;
                Error *e = NULL;
                int r = credentials_lookup(files, lookups[i][0], lookups[i][1], &c, &e);
                if (r < 0 && (!e || !e->message))
                        abort();
                if (r > 0 && !c)
                        abort();
                credentials_free(c);
                error_free(e);
        }
        /* The `auth` field decoder on the raw input, as a C string. */
        char *s = strndup((const char *)data, size), *user = NULL, *password = NULL;
        if (s && credentials_decode_auth(s, &user, &password) >= 0) {
                free(user);
                free(password);
        }
        free(s);
        close(fd);
        return 0;
}
