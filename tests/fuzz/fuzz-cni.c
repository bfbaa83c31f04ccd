/* SPDX-License-Identifier: Apache-2.0 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cni-conf.h"
#include "cni-quantity.h"
#include "cni-result.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * What CNI hands us: network configuration files from the node (.conflist/.conf), a plugin's result on
 * stdout, and bandwidth quantities from pod annotations. The first byte picks which; the rest is the
 * text. A parsed network lists plugins whose types can be read; a result gives IP strings or an error.
 */
static void parse_network(const char *text, size_t len) {
        CniNetwork *n = NULL;
        Error *err = NULL;
        if (cni_network_parse("fuzz.conflist", text, len, &n, &err) == 0) {
                for (size_t i = 0; cni_network_plugin(n, i); i++) {
                        /* Every accepted plugin has a type, and it names a file, never a path. */
                        const char *type = cni_network_plugin_type(n, i);
                        if (!type || strchr(type, '/'))
                                abort();
                }
                cni_network_unref(n);
        } else if (!err || !err->message) {
                abort(); /* a refusal says why */
        }
        error_free(err);
}

static void parse_result(const char *text, uint8_t version) {
        static const char *const versions[] = {"0.1.0", "0.2.0", "0.3.1", "0.4.0", "1.0.0"};
        json_object *o = json_tokener_parse(text);
        char **ips = NULL;
        Error *err = NULL;
        if (o && cni_result_pod_ips(o, versions[version % 5], &ips, &err) == 0)
                strv_free(ips);
        error_free(err);
        json_object_put(o);
        free(cni_error_message("fuzz", text, text, version));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size == 0 || size > 1 << 16)
                return 0;
        char *text = malloc(size);
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        uint64_t q = 0;
        switch (data[0] % 3) {
        case 0:
                parse_network(text, size - 1);
                break;
        case 1:
                parse_result(text, data[0] / 3);
                break;
        default:
                (void)cni_quantity_parse(text, &q);
                break;
        }
        free(text);
        return 0;
}
