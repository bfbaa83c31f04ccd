/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "runtime-private.h"

/*
 * Where pod networking plugs in: called once the pod's network namespace is pinned (setup) and
 * when the pod stops or goes away (teardown, idempotent, also with the namespace already gone).
 * Until CNI support lands, a pod's network namespace holds only loopback (brought up when it was
 * created), and setup records no IPs.
 */
int network_setup(Runtime *rt, Pod *p, Error **reterr);
void network_teardown(Runtime *rt, Pod *p);
