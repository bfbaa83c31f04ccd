/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <json-c/json.h>

#include "error.h"

/* What CNI plugins answer: results of ADD, and the error object of a failed call. */

/*
 * The pod's IP addresses (without prefix length) in a result of spec `version`: `ips` from 0.3.0 on,
 * `ip4`/`ip6` before. Addresses of host-side interfaces and loopback addresses are left out. An empty list
 * when it has none. -EINVAL when the result is malformed. Caller frees the list.
 */
int cni_result_pod_ips(json_object *result, const char *version, char ***ret_ips, Error **reterr);

/*
 * The message of a failed call: the plugin's error object ({"code", "msg", "details"}) when its
 * stdout holds one, otherwise the end of its stderr. `type` names the plugin. Caller frees.
 */
char *cni_error_message(const char *type, const char *stdout_text, const char *stderr_text, int wait_status);
