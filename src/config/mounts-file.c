/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fs-util.h"
#include "strv.h"

/* A mounts file names a handful of host paths; anything larger is not one. */
#define MOUNTS_FILE_MAX (1 << 20)

void mounts_file_free(MountsFileEntry *m, size_t n) {
        for (size_t i = 0; m && i < n; i++) {
                free(m[i].source);
                free(m[i].destination);
        }
        free(m);
}

static char *trim(char *s) {
        s += strspn(s, " \t\r");
        size_t n = strlen(s);
        while (n > 0 && strchr(" \t\r", s[n - 1]))
                s[--n] = '\0';
        return s;
}

/* One "/SRC:/DST" line, or "/PATH" for the same path inside; no "..", destination not "/". */
static int parse_line(char *line, MountsFileEntry *ret) {
        char *colon = strchr(line, ':');
        if (colon && strchr(colon + 1, ':'))
                return -EINVAL;
        if (colon)
                *colon = '\0';
        const char *src = trim(line), *dst = colon ? trim(colon + 1) : src;
        if (src[0] != '/' || dst[0] != '/' || strcmp(dst, "/") == 0 || path_has_dotdot(src) ||
            path_has_dotdot(dst))
                return -EINVAL;
        ret->source = xstrdup(src);
        ret->destination = xstrdup(dst);
        return 0;
}

int mounts_file_parse(const char *text, const char *filename, MountsFileEntry **ret, size_t *ret_n,
                      Error **reterr) {
        _cleanup_strv_free_ char **lines = strv_split(text, '\n');
        MountsFileEntry *m = NULL;
        size_t n = 0, lineno = 0;
        STRV_FOREACH(l, lines) {
                lineno++;
                char *line = trim(*l);
                if (line[0] != '/') /* comments; containers-mounts.conf(5) skips any other line too */
                        continue;
                m = xrealloc(m, (n + 1) * sizeof(*m));
                if (parse_line(line, &m[n]) < 0) {
                        mounts_file_free(m, n);
                        return error_set(reterr, EINVAL,
                                         "%s:%zu: not /SOURCE[:/DESTINATION] with absolute paths "
                                         "without \"..\"",
                                         filename, lineno);
                }
                n++;
        }
        *ret = m;
        *ret_n = n;
        return 0;
}

int mounts_file_load(const char *path, MountsFileEntry **ret, size_t *ret_n, Error **reterr) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_file(path, MOUNTS_FILE_MAX, &text, &len);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return error_set(reterr, -r, "cannot read %s: %s", path, strerror(-r));
        if (memchr(text, '\0', len))
                return error_set(reterr, EINVAL, "%s: has a NUL byte", path);
        return mounts_file_parse(text, path, ret, ret_n, reterr);
}
