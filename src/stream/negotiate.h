/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "stream.h"

/* Pure parts of the streaming server's HTTP side: paths and protocol negotiation. */

const char *stream_kind_to_string(StreamKind k); /* "exec", "attach", "portforward" */

/* "/exec/<token>" and so on: the kind and a pointer to the token inside url. */
bool stream_parse_path(const char *url, StreamKind *ret_kind, const char **ret_token);

/*
 * Pick the protocol for a comma-separated list the client offered (X-Stream-Protocol-Version for SPDY,
 * Sec-WebSocket-Protocol for WebSocket), honouring the client's order. NULL when none is supported;
 * *ret_version is RC_V1..RC_V5, or 0 for portforward.
 */
const char *negotiate_spdy(StreamKind kind, const char *offered, int *ret_version);
/* *ret_base64: the base64 channel form (text messages) was chosen. */
const char *negotiate_websocket(StreamKind kind, const char *offered, int *ret_version, bool *ret_base64);
