/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "strv.h"

size_t strv_length(char *const *l) {
        size_t n = 0;
        while (l && l[n])
                n++;
        return n;
}

char **strv_free(char **l) {
        for (size_t i = 0; l && l[i]; i++)
                free(l[i]);
        free(l);
        return NULL;
}

void strv_freep(char ***l) {
        *l = strv_free(*l);
}

char **strv_push(char **l, char *s) {
        size_t n = strv_length(l);
        l = xrealloc(l, (n + 2) * sizeof(char *));
        l[n] = s;
        l[n + 1] = NULL;
        return l;
}

char **strv_copy(char *const *l) {
        size_t n = strv_length(l);
        char **c = xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
                c[i] = xstrdup(l[i]);
        return c;
}

bool strv_equal(char *const *a, char *const *b) {
        size_t n = strv_length(a);
        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (strcmp(a[i], b[i]) != 0)
                        return false;
        return true;
}

bool strv_contains(char *const *l, const char *s) {
        STRV_FOREACH(i, l)
                if (strcmp(*i, s) == 0)
                        return true;
        return false;
}

char **strv_split(const char *s, char sep) {
        char **l = xcalloc(1, sizeof(char *));
        const char *p = s;

        while (p && *p) {
                const char *end = strchr(p, sep);
                size_t len = end ? (size_t)(end - p) : strlen(p);
                if (len > 0)
                        l = strv_push(l, xstrndup(p, len));
                p = end ? end + 1 : p + len;
        }
        return l;
}

char *strv_join(char *const *l, const char *sep) {
        size_t len = 1, n = 0;
        STRV_FOREACH(s, l)
                len += strlen(*s) + strlen(sep);
        char *out = xmalloc(len);
        out[0] = 0;
        STRV_FOREACH(s, l) {
                size_t k = strlen(*s);
                if (n > 0) {
                        memcpy(out + n, sep, strlen(sep));
                        n += strlen(sep);
                }
                memcpy(out + n, *s, k);
                n += k;
                out[n] = 0;
        }
        return out;
}
