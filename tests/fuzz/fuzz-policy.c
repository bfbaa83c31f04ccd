/* SPDX-License-Identifier: Apache-2.0 */
#include "fuzz-input-file.h"
#include "policy.h"
#include "reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"docker.io/library/busybox:latest", "quay.io/ns/app:1",
                                    ("registry.example.com:5000/a/b/c@sha256:"
                                     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
                                    "sub.example.com/x:y"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char path[64];
        int fd = fuzz_input_file(data, size, path);
        Policy *p = NULL;
        Error *e = NULL;
        if (policy_load(path, &p, &e) >= 0) {
                for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                        _cleanup_image_ref_ ImageRef *ref = NULL;
                        if (image_ref_parse(names[i], &ref, NULL) < 0)
                                abort();
                        Error *check = NULL;
                        int r = policy_check(p, "docker", ref, &check);
                        /* A refusal always says why. */
                        if (r < 0 && (!check || !check->message))
                                abort();
                        error_free(check);
                }
                policy_free(p);
        } else if (!e || !e->message)
                abort();
        error_free(e);
        close(fd);
        return 0;
}
