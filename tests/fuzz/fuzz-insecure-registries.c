/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "insecure-registries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * crio.conf's insecure_registries entries (host, host:port, CIDR) against a registry domain as
 * references name it. The input is "ENTRY\nDOMAIN"; both are operator or image-reference text, and
 * the CIDR and address parsers copy into fixed buffers.
 */
static void check(char *entry, const char *domain) {
        char *entries[] = {entry, NULL};
        bool valid = insecure_registry_entry_valid(entry);
        bool listed = insecure_registry_listed(entries, domain);
        /* A plain entry names exactly one registry: itself, whatever its letters' case. */
        if (!strchr(entry, '/') && (strcasecmp(entry, domain) == 0) != listed)
                abort();
        /* A CIDR that does not parse matches nothing. */
        if (strchr(entry, '/') && !valid && listed)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = strndup((const char *)data, size);
        if (!text)
                return 0;
        char *newline = strchr(text, '\n');
        if (newline) {
                *newline = 0;
                check(text, newline + 1);
        } else
                check(text, text);
        free(text);
        return 0;
}
