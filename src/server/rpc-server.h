/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "daemon.h"
#include "error.h"

/*
 * The CRI's gRPC server: gRPC over HTTP/2 (libnghttp2 for the framing, HPACK and flow control),
 * without a listener of its own: connections accepted by the daemon's listener are handed over with
 * rpc_server_adopt_fd(). One connection thread reads and writes every connection and never blocks;
 * it answers the reads marked inline itself, and every other handler runs on the daemon's worker pool.
 */
int rpc_server_new(Daemon *d, RpcServer **ret, Error **reterr);

/* Hand a connected socket (its HTTP/2 preface arrived, unread) to the server, which owns it from now on. */
void rpc_server_adopt_fd(RpcServer *s, int fd);

/*
 * Stop taking calls, let in-flight calls finish for up to `grace_ms`, then cancel the rest (their
 * handlers see their Cancel token fire). Blocks. The connection thread keeps running.
 */
void rpc_server_shutdown(RpcServer *s, int grace_ms);

/*
 * Free the server once no handler can answer a call any more: call after rpc_server_shutdown()
 * and after the worker pool that runs handlers has been drained. Blocks.
 */
RpcServer *rpc_server_free(RpcServer *s);
