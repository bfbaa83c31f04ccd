/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci-spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The CRI resource strings checked before they reach the runtime: cpuset_cpus and cpuset_mems (CPU
 * lists) and a hugepage limit's page_size. The input is the string; accepted ones must be made of
 * what the kernel's list syntax and the kubelet's size names allow.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *text = strndup((const char *)data, size);
        if (!text)
                return 0;
        HugepageLimit page = {.page_size = text, .limit = 1};
        Resources cpus = {.cpuset_cpus = text}, mems = {.cpuset_mems = text};
        Resources pages = {.hugepages = &page, .n_hugepages = 1};
        Error *err = NULL;
        if (resources_validate(&cpus, &err) == 0 &&
            (!*text || strspn(text, "0123456789,-") != strlen(text) || text[0] == ',' || text[0] == '-'))
                abort();
        error_free(err);
        err = NULL;
        if ((resources_validate(&mems, &err) == 0) != (resources_validate(&cpus, NULL) == 0))
                abort(); /* one syntax for both lists */
        error_free(err);
        err = NULL;
        if (resources_validate(&pages, &err) == 0 && strspn(text, "0123456789") == 0)
                abort();
        error_free(err);
        free(text);
        return 0;
}
