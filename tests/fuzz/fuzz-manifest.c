/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "manifest.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sentinel_storage;
#define SENTINEL ((void *)&sentinel_storage)

/* A failure carries a message and the same errno as the return value, and leaves the output alone. */
static void check_failure(int r, Error *e, void *out) {
        if (r >= 0 || !e || e->code != -r || !e->message[0] || out != SENTINEL)
                abort();
        error_free(e);
}

static void check_descriptor(const Descriptor *d) {
        if (!d->media_type || !digest_is_valid(d->digest) || d->size < 0)
                abort();
        if ((d->os == NULL) != (d->architecture == NULL) || (d->variant && !d->os))
                abort();
}

static void fuzz_manifest(const char *body, size_t size, ManifestKind kind) {
        Manifest *m = SENTINEL;
        Error *e = NULL;
        int r = manifest_parse(body, size, kind, &m, &e);
        if (r < 0) {
                check_failure(r, e, m);
                return;
        }
        if (e || m->kind != kind || m->n_layers > MANIFEST_MAX_LAYERS)
                abort();
        check_descriptor(&m->config);
        for (size_t i = 0; i < m->n_layers; i++) {
                check_descriptor(&m->layers[i]);
                if (layer_compression_from_media_type(m->layers[i].media_type) < 0)
                        abort();
        }
        manifest_free(m);
}

static void fuzz_select(const ManifestList *l, const char *os, const char *arch, const char *variant) {
        const Descriptor *d = SENTINEL;
        Error *e = NULL;
        int r = manifest_list_select(l, os, arch, variant, &d, &e);
        if (r < 0) {
                if (r != -ENOENT)
                        abort();
                check_failure(r, e, (void *)d);
                return;
        }
        if (e || d < l->manifests || d >= l->manifests + l->n_manifests || !d->os)
                abort();
}

static void fuzz_list(const char *body, size_t size, ManifestKind kind) {
        ManifestList *l = SENTINEL;
        Error *e = NULL;
        int r = manifest_list_parse(body, size, kind, &l, &e);
        if (r < 0) {
                check_failure(r, e, l);
                return;
        }
        if (e || l->kind != kind || l->n_manifests > MANIFEST_MAX_LAYERS)
                abort();
        for (size_t i = 0; i < l->n_manifests; i++)
                check_descriptor(&l->manifests[i]);
        fuzz_select(l, "linux", "amd64", NULL);
        fuzz_select(l, "linux", "arm", "v7");
        fuzz_select(l, "linux", "aarch64", "");
        manifest_list_free(l);
}

static void fuzz_config(const char *body, size_t size) {
        ImageConfig *c = SENTINEL;
        Error *e = NULL;
        int r = image_config_parse(body, size, &c, &e);
        if (r < 0) {
                check_failure(r, e, c);
                return;
        }
        if (e || !c->env || !c->entrypoint || !c->cmd || !c->volumes || !c->exposed_ports || !c->diff_ids ||
            strv_length(c->label_keys) != strv_length(c->label_values))
                abort();
        STRV_FOREACH(id, c->diff_ids)
                if (!digest_is_valid(*id))
                        abort();
        image_config_free(c);
}

/* Detect the kind, then run every parser: each must refuse what is not its kind without harm. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *body = (const char *)data;
        ManifestKind kind = manifest_kind_detect(NULL, body, size);

        fuzz_manifest(body, size, kind == MANIFEST_DOCKER_V2 ? kind : MANIFEST_OCI);
        fuzz_list(body, size, kind == MANIFEST_DOCKER_LIST ? kind : MANIFEST_OCI_INDEX);
        if (kind == MANIFEST_DOCKER_SCHEMA1)
                fuzz_manifest(body, size, kind);
        fuzz_config(body, size);
        return 0;
}
