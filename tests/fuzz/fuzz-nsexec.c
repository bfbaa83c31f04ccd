/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nsexec-plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * What crio-nsexec parses: the container's /etc/passwd (written by whoever controls the image or the
 * container, read as root inside it) and, defensively, its plan. The first byte picks which; for
 * passwd the next two bytes are the uid looked up.
 */
static void parse_passwd(const uint8_t *data, size_t size) {
        if (size < 2)
                return;
        uid_t uid = (uid_t)(data[0] | data[1] << 8);
        char *text = malloc(size - 2 + 1);
        memcpy(text, data + 2, size - 2);
        text[size - 2] = 0;
        char *home = exec_plan_passwd_home(text, uid);
        if (home && (!*home || strchr(home, '\n') || strchr(home, ':')))
                abort(); /* a home is one non-empty field of one line */
        free(home);
        free(text);
}

static void parse_plan(const uint8_t *data, size_t size) {
        char *buf = malloc(size ? size : 1);
        memcpy(buf, data, size);
        ExecPlan p = {};
        Error *err = NULL;
        if (exec_plan_parse(buf, size, &p, &err) == 0) {
                /* An accepted plan runs something, somewhere absolute, with consistent capabilities. */
                if (!p.args || !p.args[0] || !p.env || p.cwd[0] != '/' ||
                    (p.cap_effective & ~p.cap_permitted))
                        abort();
                exec_plan_done(&p);
        } else if (!err || !err->message) {
                abort();
        }
        error_free(err);
        free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size == 0)
                return 0;
        if (data[0] & 1)
                parse_passwd(data + 1, size - 1);
        else
                parse_plan(data + 1, size - 1);
        return 0;
}
