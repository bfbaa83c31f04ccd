/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include "cni-conf.h"
#include "cni-result.h"
#include "json-util.h"
#include "process.h"
#include "strv.h"

/* How much of a plugin's stderr a message quotes when it gave no error object. */
#define STDERR_QUOTE 512

static const char *str_of(json_object *o, const char *key) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return json_object_get_string(v);
}

/* "10.85.0.5/16" -> "10.85.0.5"; NULL when it is not an address with a prefix length. */
static char *address_without_prefix(const char *cidr) {
        const char *slash = cidr ? strchr(cidr, '/') : NULL;
        if (!slash || slash == cidr)
                return NULL;
        return xstrndup(cidr, (size_t)(slash - cidr));
}

/* The loopback plugin reports lo's addresses; they are no pod's address on the network. */
static bool loopback_address(const char *addr) {
        struct in_addr v4;
        struct in6_addr v6;
        if (inet_pton(AF_INET, addr, &v4) == 1)
                return (ntohl(v4.s_addr) >> 24) == 127;
        return inet_pton(AF_INET6, addr, &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

/* Whether interface `index` of the result lives in the pod (has a sandbox); true without an index. */
static bool in_sandbox(json_object *result, json_object *ip) {
        json_object *idx = NULL, *ifs = NULL;
        if (!json_object_object_get_ex(ip, "interface", &idx))
                return true;
        if (!json_object_object_get_ex(result, "interfaces", &ifs) ||
            !json_object_is_type(ifs, json_type_array))
                return true;
        int64_t i = json_object_get_int64(idx);
        if (i < 0 || (size_t)i >= json_object_array_length(ifs))
                return true;
        const char *sandbox = str_of(json_object_array_get_idx(ifs, (size_t)i), "sandbox");
        return sandbox && *sandbox;
}

static int ips_current(json_object *result, char ***ips, Error **reterr) {
        json_object *list = NULL;
        if (!json_object_object_get_ex(result, "ips", &list))
                return 0;
        if (!json_object_is_type(list, json_type_array))
                return error_set(reterr, EINVAL, "CNI result: \"ips\" is not an array");
        for (size_t i = 0; i < json_object_array_length(list); i++) {
                json_object *ip = json_object_array_get_idx(list, i);
                char *addr = address_without_prefix(str_of(ip, "address"));
                if (!addr)
                        return error_set(reterr, EINVAL, "CNI result: ips[%zu] has no valid \"address\"", i);
                if (in_sandbox(result, ip) && !loopback_address(addr))
                        *ips = strv_push(*ips, addr);
                else
                        free(addr);
        }
        return 0;
}

/* Results before 0.3.0: {"ip4": {"ip": "10.1.0.5/16", ...}, "ip6": {...}}. */
static int ips_legacy(json_object *result, char ***ips, Error **reterr) {
        static const char *const keys[] = {"ip4", "ip6"};
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                json_object *o = NULL;
                if (!json_object_object_get_ex(result, keys[i], &o))
                        continue;
                char *addr = address_without_prefix(str_of(o, "ip"));
                if (!addr)
                        return error_set(reterr, EINVAL, "CNI result: \"%s\" has no valid \"ip\"", keys[i]);
                *ips = strv_push(*ips, addr);
        }
        return 0;
}

int cni_result_pod_ips(json_object *result, const char *version, char ***ret_ips, Error **reterr) {
        if (!json_object_is_type(result, json_type_object))
                return error_set(reterr, EINVAL, "CNI result is not an object");
        char **ips = xcalloc(1, sizeof(char *));
        int r = cni_version_compare(version, "0.3.0") >= 0 ? ips_current(result, &ips, reterr)
                                                           : ips_legacy(result, &ips, reterr);
        if (r < 0) {
                strv_free(ips);
                return r;
        }
        *ret_ips = ips;
        return 0;
}

/* The last line-ish part of stderr, trimmed, at most STDERR_QUOTE bytes. */
static char *stderr_tail(const char *text) {
        size_t n = strlen(text);
        while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
                n--;
        size_t start = n > STDERR_QUOTE ? n - STDERR_QUOTE : 0;
        return xstrndup(text + start, n - start);
}

char *cni_error_message(const char *type, const char *stdout_text, const char *stderr_text,
                        int wait_status) {
        json_object *o = NULL;
        _cleanup_error_ Error *ignored = NULL;
        if (stdout_text && *stdout_text &&
            json_parse_object(stdout_text, strlen(stdout_text), "CNI error", &o, &ignored) == 0) {
                const char *msg = str_of(o, "msg"), *details = str_of(o, "details");
                json_object *code = json_object_object_get(o, "code");
                char *m = xasprintf("plugin %s failed (code %" PRId64 "): %s%s%s", type,
                                    code ? json_object_get_int64(code) : 0, msg ? msg : "no message",
                                    details && *details ? ": " : "", details && *details ? details : "");
                json_object_put(o);
                return m;
        }
        _cleanup_free_ char *how = process_status_to_string(wait_status);
        _cleanup_free_ char *tail = stderr_tail(stderr_text ? stderr_text : "");
        return xasprintf("plugin %s failed (%s)%s%s", type, how, *tail ? ": " : "", tail);
}
