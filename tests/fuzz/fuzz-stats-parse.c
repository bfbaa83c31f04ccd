/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The cgroup and /proc files the stats read. The first byte picks the parser, the rest is the file's
 * text. Every parser must stay within its bounds (the device table, the name buffer) whatever the text.
 */
static void parse_one(uint8_t which, const char *text) {
        UsageSample s = {0};
        switch (which % 8) {
        case 0: {
                NetIfUsage *l = NULL;
                size_t n = 0;
                if (stats_parse_net_dev(text, &l, &n) == 0) {
                        bool found = stats_default_interface(l, n) != NULL;
                        for (size_t i = 0; i < n; i++) {
                                if (strnlen(l[i].name, sizeof(l[i].name)) == sizeof(l[i].name))
                                        abort(); /* names are always terminated */
                                if (!found && strcmp(l[i].name, "lo") != 0)
                                        abort(); /* a non-loopback interface must be found as the pod's */
                        }
                }
                free(l);
                return;
        }
        case 1: {
                PsiStats p = {0};
                (void)stats_parse_psi(text, &p);
                return;
        }
        case 2:
        case 3:
                (void)stats_parse_blkio_v1(text, which % 8 == 2, &s);
                break;
        case 4:
                (void)stats_parse_io_stat(text, &s);
                break;
        case 5: {
                char name[16];
                if (stats_hugetlb_pagesize(text, name, sizeof(name)) == 0 &&
                    strnlen(name, sizeof(name)) == sizeof(name))
                        abort();
                return;
        }
        case 6:
                stats_memory_from(1 << 20, text, text, which & 8, &s);
                break;
        default:
                stats_swap_v1(text, text, 1 << 20, text, &s);
                stats_swap_v2(text, text, &s);
                break;
        }
        if (s.n_blkio > STATS_BLKIO_MAX)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size == 0 || size > 1 << 16)
                return 0;
        char *text = malloc(size);
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        parse_one(data[0], text);
        free(text);
        return 0;
}
