/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

#include <json-c/json.h>

#include "cni-conf.h"
#include "error.h"

/*
 * The CNI protocol, runtime side: plugins run as child processes, one per plugin of a list, with the
 * request in their environment and the network configuration on stdin (CNI spec, "Execution
 * Protocol"). Every call blocks until the plugins finish or time out.
 */

typedef struct CniInvocation {
        const char *container_id;
        const char *netns;           /* path of the network namespace; "" when it is gone (DEL) */
        const char *ifname;          /* "eth0" */
        const char *args;            /* CNI_ARGS: "K=V;K=V" */
        json_object *runtime_config; /* capability name -> value, handed to plugins that declare it */
        char *const *plugin_dirs;
        int64_t timeout_ms; /* per plugin call */
} CniInvocation;

/* Where plugin `type` is: the first of `dirs` that has it as an executable. -ENOENT otherwise. */
int cni_plugin_find(char *const *dirs, const char *type, char **ret_path);

/*
 * VERSION of every plugin of the list: each must exist and speak the list's cniVersion. -ENOENT or
 * -EINVAL with a message naming the plugin.
 */
int cni_network_verify(const CniNetwork *n, char *const *dirs, int64_t timeout_ms, Error **reterr);

/*
 * The configuration plugin `index` receives: its own object plus the list's name and cniVersion, the
 * previous result (when given) and the runtime_config entries of the capabilities it declares.
 * Caller owns it.
 */
json_object *cni_plugin_netconf(const CniNetwork *n, size_t index, json_object *prev_result,
                                json_object *runtime_config);

/* ADD through the whole list, each plugin given the previous one's result. Caller owns *ret_result. */
int cni_add(const CniNetwork *n, const CniInvocation *inv, json_object **ret_result, Error **reterr);

/*
 * DEL through the list in reverse. Every plugin is called even when one fails (so that whatever can be
 * released is); the first failure is returned. `prev_result` (may be NULL) is the ADD result.
 */
int cni_del(const CniNetwork *n, const CniInvocation *inv, json_object *prev_result, Error **reterr);

/* CHECK through the list (lists of version 0.4.0 on that do not disable it; 0 otherwise). */
int cni_check(const CniNetwork *n, const CniInvocation *inv, json_object *prev_result, Error **reterr);
