/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

/* A port number as the port header carries it: 1-65535 in decimal, or -EINVAL. */
int portforward_parse_port(const char *text);

/*
 * Connect to localhost:port (IPv4, then IPv6) from inside the network namespace at `netns` ("" or NULL:
 * the daemon's own), on a short-lived thread of its own. Blocks up to a few seconds.
 */
int portforward_connect(const char *netns, uint16_t port, int *ret_fd);
