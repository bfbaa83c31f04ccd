/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_fields(const ImageRef *a, const ImageRef *b) {
        return streq_ptr(a->domain, b->domain) && streq_ptr(a->path, b->path) && streq_ptr(a->tag, b->tag) &&
               streq_ptr(a->digest, b->digest);
}

/* What image_ref_to_string() writes must parse back to exactly the same reference. */
static void check_roundtrip(const ImageRef *r) {
        _cleanup_free_ char *s = image_ref_to_string(r);
        ImageRef *again = NULL;
        Error *e = NULL;

        if (!s || image_ref_parse(s, &again, &e) < 0) {
                fprintf(stderr, "'%s' does not parse again: %s\n", s, e ? e->message : "?");
                abort();
        }
        if (!same_fields(r, again)) {
                fprintf(stderr, "'%s' parses to different fields\n", s);
                abort();
        }
        _cleanup_free_ char *name = image_ref_name(r);
        if (!name || strncmp(s, name, strlen(name)) != 0)
                abort();
        image_ref_free(again);
}

/* Qualifying never fails, fills in domain and a tag or digest, and keeps what was there. */
static void check_qualify(const ImageRef *r, const char *domain) {
        _cleanup_image_ref_ ImageRef *q = image_ref_qualify(r, domain);

        if (!q || !q->domain || (!q->tag && !q->digest))
                abort();
        if (!streq_ptr(q->digest, r->digest) || (r->tag && !streq_ptr(q->tag, r->tag)))
                abort();
        if (r->domain && !streq_ptr(q->domain, r->domain))
                abort();
        /* The name can outgrow 255 characters by the domain added; otherwise it is a valid reference. */
        _cleanup_free_ char *s = image_ref_to_string(q);
        ImageRef *again = NULL;
        Error *e = NULL;
        if (image_ref_parse(s, &again, &e) < 0) {
                if (!e || !strstr(e->message, "longer than"))
                        abort();
                error_free(e);
                return;
        }
        if (!same_fields(q, again))
                abort();
        image_ref_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* References arrive as C strings; an embedded NUL ends them. */
        _cleanup_free_ char *s = xstrndup((const char *)data, size);
        ImageRef *r = NULL;
        Error *e = NULL;

        if (image_ref_parse(s, &r, &e) < 0) {
                if (r || !e || e->code != EINVAL || strncmp(e->message, "invalid reference", 17) != 0)
                        abort();
                error_free(e);
                return 0;
        }
        if (e || !r || !r->path)
                abort();
        check_roundtrip(r);
        check_qualify(r, "docker.io");
        check_qualify(r, "index.docker.io");
        check_qualify(r, "localhost:5000");
        check_qualify(r, NULL);

        ImageRef *n = NULL;
        if (image_ref_normalize(s, &n, NULL) < 0 || !n->domain)
                abort();
        image_ref_free(n);
        image_ref_free(r);
        return 0;
}
