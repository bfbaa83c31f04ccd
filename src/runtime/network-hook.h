/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "runtime-private.h"

/*
 * Where pod networking plugs in (src/network/, CNI): setup attaches the pod's pinned network namespace
 * to the node's default CNI network once it is pinned and records the pod's IPs; teardown detaches it
 * when the pod stops or goes away (idempotent: a pod detached already, host-network pods and pods
 * whose namespace is gone are fine). Both block on the plugins.
 */
int network_setup(Runtime *rt, Pod *p, Error **reterr);
int network_teardown(Runtime *rt, Pod *p, Error **reterr);

/* Port mappings a pod may ask for: known protocol, ports in range, a literal host IP. */
int port_mappings_validate(const PodConfig *c, Error **reterr);
