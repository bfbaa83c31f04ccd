/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <grpc/status.h>

/* The one place errno values become gRPC status codes (see STYLE.md). */
grpc_status_code grpc_status_from_errno(int errnum);
const char *grpc_status_to_string(grpc_status_code code);

/*
 * The status message to send for MESSAGE (a copy): at most GRPC_STATUS_MESSAGE_MAX bytes once gRPC has
 * percent-encoded it (3 bytes for each byte outside printable ASCII, and for '%'), cut on a UTF-8
 * character boundary and marked. Error messages name the request's values, which may be a megabyte
 * long; clients refuse trailers past 8 KiB and would see RESOURCE_EXHAUSTED instead of the error.
 */
#define GRPC_STATUS_MESSAGE_MAX 4096
char *grpc_status_message(const char *message);
