/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup-path.h"
#include "macros.h"

#define SLICE_SUFFIX ".slice"

static bool has_suffix(const char *s, const char *suffix) {
        size_t n = strlen(s), k = strlen(suffix);
        return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" -> "". */
static int expand_slice(const char *slice, char **ret) {
        if (!has_suffix(slice, SLICE_SUFFIX) || strchr(slice, '/'))
                return -EINVAL;
        if (strcmp(slice, "-" SLICE_SUFFIX) == 0) {
                *ret = xstrdup("");
                return 0;
        }
        size_t stem = strlen(slice) - strlen(SLICE_SUFFIX);
        if (stem == 0 || slice[0] == '-' || slice[stem - 1] == '-' || strstr(slice, "--"))
                return -EINVAL;
        /* Each dash ends a parent slice named by everything before it. */
        size_t cap = (stem + 1) * (stem + sizeof(SLICE_SUFFIX) + 1) + 1; /* at most stem + 1 pieces */
        char *out = xmalloc(cap), *w = out;
        for (size_t i = 0; i <= stem; i++) {
                if (i < stem && slice[i] != '-')
                        continue;
                w += snprintf(w, cap - (size_t)(w - out), "/%.*s" SLICE_SUFFIX, (int)i, slice);
        }
        *ret = out;
        return 0;
}

int cgroup_systemd_path(const char *spec, char **ret) {
        const char *c1 = spec ? strchr(spec, ':') : NULL, *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || strchr(c2 + 1, ':'))
                return -EINVAL;
        _cleanup_free_ char *parent = xstrndup(spec, (size_t)(c1 - spec));
        _cleanup_free_ char *prefix = xstrndup(c1 + 1, (size_t)(c2 - c1 - 1));
        const char *name = c2 + 1;
        if (isempty(name) || strchr(prefix, '/') || strchr(name, '/'))
                return -EINVAL;
        _cleanup_free_ char *slice = NULL;
        int r = expand_slice(isempty(parent) ? "system" SLICE_SUFFIX : parent, &slice);
        if (r < 0)
                return r;
        if (has_suffix(name, SLICE_SUFFIX))
                *ret = xasprintf("%s/%s", slice, name);
        else if (isempty(prefix))
                return -EINVAL;
        else
                *ret = xasprintf("%s/%s-%s.scope", slice, prefix, name);
        return 0;
}

char *cgroup_file_path(const char *root, const char *controller, const char *cg, const char *file) {
        return controller ? xasprintf("%s/%s%s/%s", root, controller, cg, file)
                          : xasprintf("%s%s/%s", root, cg, file);
}
