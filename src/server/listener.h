/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "daemon.h"
#include "error.h"

/*
 * The daemon's unix socket. Created with mode 0660 (parent directories made as needed); a stale
 * socket file is replaced, but a socket some process still serves is refused (-EADDRINUSE).
 */
int listener_open(const char *path, Listener **ret, Error **reterr);

/*
 * Start the accept thread: each connection is classified by its first bytes, the HTTP/2 preface
 * going to gRPC and anything else to the HTTP API. Connections that send nothing are dropped after a
 * timeout. Does not block.
 */
int listener_start(Listener *l, RpcServer *rpc, HttpApi *http, Error **reterr);

/* Stop accepting, close pending connections, remove the socket file. Blocks until the thread ended. */
Listener *listener_free(Listener *l);
