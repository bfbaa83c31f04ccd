/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <string.h>

#include "error.h"

int error_set(Error **reterr, int errnum, const char *fmt, ...) {
        if (errnum < 0)
                errnum = -errnum;
        if (errnum == 0)
                errnum = EIO;
        if (!reterr || *reterr)
                return -errnum;

        va_list ap;
        char *msg = NULL;
        va_start(ap, fmt);
        int r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                msg = xstrdup(strerror(errnum));

        Error *e = xmalloc(sizeof(*e));
        e->code = errnum;
        e->message = msg;
        *reterr = e;
        return -errnum;
}

int error_prefix(Error **reterr, const char *fmt, ...) {
        if (!reterr || !*reterr)
                return -EIO;

        va_list ap;
        char *prefix = NULL;
        va_start(ap, fmt);
        int r = vasprintf(&prefix, fmt, ap);
        va_end(ap);
        if (r >= 0) {
                char *joined = xasprintf("%s: %s", prefix, (*reterr)->message);
                free(prefix);
                free((*reterr)->message);
                (*reterr)->message = joined;
        }
        return -(*reterr)->code;
}

int error_propagate(Error **reterr, Error *err) {
        int r = err ? -err->code : -EIO;
        if (reterr && !*reterr)
                *reterr = err;
        else
                error_free(err);
        return r;
}

Error *error_free(Error *e) {
        if (e) {
                free(e->message);
                free(e);
        }
        return NULL;
}

void error_freep(Error **e) {
        *e = error_free(*e);
}
