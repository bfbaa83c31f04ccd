/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The string values of crio.conf that crio-c parses itself beyond TOML: sizes ("12MiB"), device
 * entries ("HOST:CONTAINER:PERMISSIONS") and durations ("1m30s"). The first byte picks the parser.
 */
static void parse_one(uint8_t which, const char *text) {
        int64_t n = -1;
        switch (which % 3) {
        case 0:
                if (parse_size(text, &n) == 0 && n < 0)
                        abort(); /* a size is never negative */
                break;
        case 1: {
                char *host = NULL, *ctr = NULL, *perms = NULL;
                if (config_parse_device(text, &host, &ctr, &perms) == 0 &&
                    (host[0] != '/' || ctr[0] != '/' || !perms[0] || strspn(perms, "rwm") != strlen(perms)))
                        abort();
                free(host), free(ctr), free(perms);
                break;
        }
        default:
                (void)parse_duration(text, &n);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size == 0)
                return 0;
        char *text = strndup((const char *)data + 1, size - 1);
        if (text)
                parse_one(data[0], text);
        free(text);
        return 0;
}
