/* SPDX-License-Identifier: Apache-2.0 */
#include "fuzz-input-file.h"
#include "reference.h"
#include "registries.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Names that reach short-name resolution, mirrors, prefixes and wildcards of whatever was loaded. */
static const char *const names[] = {"busybox",
                                    "library/busybox:1",
                                    "docker.io/library/busybox",
                                    ("quay.io/ns/app@sha256:"
                                     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
                                    "registry.example.com:5000/a/b/c:tag",
                                    "sub.example.com/x"};

static void exercise(const RegistriesConf *c, const char *name) {
        _cleanup_image_ref_ ImageRef *ref = NULL;
        if (image_ref_parse(name, &ref, NULL) < 0)
                abort(); /* our own names are valid */
        if (!ref->domain) {
                ImageRef **cands = NULL;
                size_t n = 0;
                Error *e = NULL;
                for (int enforcing = 0; enforcing < 2; enforcing++) {
                        if (registries_resolve_short_name(c, ref, enforcing, &cands, &n, &e) >= 0) {
                                for (size_t i = 0; i < n; i++)
                                        image_ref_free(cands[i]);
                                free(cands);
                        }
                        e = error_free(e);
                }
                return;
        }
        PullSource *sources = NULL;
        size_t n = 0;
        Error *e = NULL;
        if (registries_pull_sources(c, ref, &sources, &n, &e) >= 0)
                pull_sources_free(sources, n);
        error_free(e);
        (void)registries_find(c, ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char path[64];
        int fd = fuzz_input_file(data, size, path);
        RegistriesConf *c = NULL;
        char **warnings = NULL;
        Error *e = NULL;
        if (registries_conf_load(path, "/nonexistent-crio-c-fuzz", &c, &warnings, &e) >= 0) {
                for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                        exercise(c, names[i]);
                registries_conf_free(c);
        }
        strv_free(warnings);
        error_free(e);
        close(fd);
        return 0;
}
