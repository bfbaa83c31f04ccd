/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "daemon.h"
#include "error.h"

/*
 * Process-wide gRPC set-up, before any other thread exists: it changes the environment for a moment
 * (the poller gRPC core uses) and turns off abseil's deadlock detector. rpc_server_global_done() drops
 * the reference it took, after the last server was freed.
 */
void rpc_server_global_init(void);
void rpc_server_global_done(void);

/*
 * gRPC core server without a listener of its own: connections accepted by the daemon's listener are
 * handed over with rpc_server_adopt_fd(). One completion-queue thread moves calls along and never
 * blocks; handlers run on the daemon's worker pool.
 */
int rpc_server_new(Daemon *d, RpcServer **ret, Error **reterr);

/* Hand a connected socket (after its HTTP/2 preface arrived) to gRPC, which owns it from now on. */
void rpc_server_adopt_fd(RpcServer *s, int fd);

/*
 * Stop taking calls, let in-flight calls finish for up to `grace_ms`, then cancel the rest (their
 * handlers see their Cancel token fire). Blocks. The completion thread keeps running.
 */
void rpc_server_shutdown(RpcServer *s, int grace_ms);

/*
 * Free the server once nothing can start a batch on it any more: call after rpc_server_shutdown()
 * and after the worker pool that runs handlers has been drained. Blocks.
 */
RpcServer *rpc_server_free(RpcServer *s);
