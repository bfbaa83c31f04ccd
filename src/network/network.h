/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "error.h"

/*
 * Pod networking through CNI: the node's default network (from network_dir, watched so that a new or
 * fixed configuration is picked up without a restart), attached to and detached from pods' network
 * namespaces. What an attachment used (configuration, arguments, result) is cached on disk per pod,
 * so that a detach after a daemon restart, or after the configuration changed, undoes exactly it.
 */

typedef struct NetworkManager NetworkManager;

typedef struct NetworkSettings {
        const char *network_dir;
        char *const *plugin_dirs;
        const char *default_network; /* "" : the first valid one */
        const char *cache_dir;       /* where attachments are recorded */
        int64_t plugin_timeout_ms;
} NetworkSettings;

/* Load the configuration once and start watching network_dir. Caller frees. Blocks for the load. */
int network_manager_new(const NetworkSettings *s, NetworkManager **ret, Error **reterr);
NetworkManager *network_manager_free(NetworkManager *m);

/*
 * Whether a usable default network exists; when not, *ret_message says why (caller frees; NULL when
 * ready). Never blocks on plugins: it reads what the watcher found.
 */
bool network_manager_ready(NetworkManager *m, char **ret_message);

/* One pod's attachment request. */
typedef struct PodNetwork {
        const char *pod_id; /* the CNI container ID */
        const char *netns;  /* pinned network namespace */
        const char *name, *namespace_, *uid;
        json_object *runtime_config; /* portMappings, bandwidth, dns, ipRanges; borrowed, may be NULL */
} PodNetwork;

/*
 * ADD the pod to the default network; on success *ret_ips holds its addresses (caller frees). A failed
 * ADD is undone with DEL before returning. -EBUSY when no network is ready. Blocks on plugins.
 */
int network_pod_attach(NetworkManager *m, const PodNetwork *pn, char ***ret_ips, Error **reterr);

/*
 * DEL what network_pod_attach() recorded for the pod; 0 when nothing is recorded (never attached, or
 * detached already). The record stays when DEL fails, so a retry can finish it. Blocks on plugins.
 */
int network_pod_detach(NetworkManager *m, const char *pod_id, Error **reterr);

/* The pod IDs that have an attachment recorded (caller frees). */
char **network_recorded_pods(NetworkManager *m);

/* CHECK a recorded attachment (0 when none is recorded). Blocks on plugins. */
int network_pod_check(NetworkManager *m, const char *pod_id, Error **reterr);

/*
 * CHECK the pod's attachment soon, in the background (after a restart: is the network the pod had
 * still intact?); a failure is logged as a warning. Never blocks.
 */
void network_check_later(NetworkManager *m, const char *pod_id);
