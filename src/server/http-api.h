/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "daemon.h"
#include "error.h"

/*
 * The HTTP/1.1 JSON API on the CRI socket (read by `crio status` and the kubelet's cAdvisor):
 * GET /info, /config, /containers/:id, /pause/:id, /unpause/:id. Served by libmicrohttpd's own
 * thread, with bounded request size and a read timeout.
 */
int http_api_new(Daemon *d, HttpApi **ret, Error **reterr);

/* Hand over an accepted connection; the API owns `fd` from now on. Does not block. */
void http_api_add_connection(HttpApi *h, int fd);

HttpApi *http_api_free(HttpApi *h);
