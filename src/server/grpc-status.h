/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <grpc/status.h>

/* The one place errno values become gRPC status codes (see STYLE.md). */
grpc_status_code grpc_status_from_errno(int errnum);
const char *grpc_status_to_string(grpc_status_code code);
