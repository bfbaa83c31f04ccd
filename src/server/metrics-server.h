/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "daemon.h"
#include "error.h"

typedef struct MetricsServer MetricsServer;

/*
 * Serve GET /metrics on metrics_host:metrics_port (HTTPS with metrics_cert and metrics_key) and on
 * metrics_socket when set, each on its own libmicrohttpd thread. *ret is NULL when enable_metrics is
 * off. Fails when an address cannot be bound or the certificate cannot be read.
 */
int metrics_server_new(Daemon *d, MetricsServer **ret, Error **reterr);
MetricsServer *metrics_server_free(MetricsServer *s);
