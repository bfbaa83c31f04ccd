/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cni-quantity.h"
#include "macros.h"

static const struct {
        const char *suffix;
        double factor;
} suffixes[] = {
        {"", 1},
        {"k", 1e3},
        {"M", 1e6},
        {"G", 1e9},
        {"T", 1e12},
        {"P", 1e15},
        {"E", 1e18},
        {"Ki", 1024.0},
        {"Mi", 1048576.0},
        {"Gi", 1073741824.0},
        {"Ti", 1099511627776.0},
        {"Pi", 1125899906842624.0},
        {"Ei", 1152921504606846976.0},
};

int cni_quantity_parse(const char *s, uint64_t *ret) {
        /* strtod also takes hexadecimal, which no quantity is. */
        if (!s || !*s || !strchr("0123456789.", *s) || strpbrk(s, "xX"))
                return -EINVAL;
        char *end = NULL;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || !isfinite(v) || v < 0)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                if (strcmp(end, suffixes[i].suffix) != 0)
                        continue;
                double total = v * suffixes[i].factor;
                if (total >= 9223372036854775808.0)
                        return -EINVAL;
                *ret = (uint64_t)total;
                return 0;
        }
        return -EINVAL;
}
