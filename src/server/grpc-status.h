/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* gRPC's status codes, with the numbers its spec gives them on the wire (doc/statuscodes.md). */
typedef enum GrpcStatus {
        GRPC_STATUS_OK = 0,
        GRPC_STATUS_CANCELLED = 1,
        GRPC_STATUS_UNKNOWN = 2,
        GRPC_STATUS_INVALID_ARGUMENT = 3,
        GRPC_STATUS_DEADLINE_EXCEEDED = 4,
        GRPC_STATUS_NOT_FOUND = 5,
        GRPC_STATUS_ALREADY_EXISTS = 6,
        GRPC_STATUS_PERMISSION_DENIED = 7,
        GRPC_STATUS_RESOURCE_EXHAUSTED = 8,
        GRPC_STATUS_FAILED_PRECONDITION = 9,
        GRPC_STATUS_ABORTED = 10,
        GRPC_STATUS_OUT_OF_RANGE = 11,
        GRPC_STATUS_UNIMPLEMENTED = 12,
        GRPC_STATUS_INTERNAL = 13,
        GRPC_STATUS_UNAVAILABLE = 14,
        GRPC_STATUS_DATA_LOSS = 15,
        GRPC_STATUS_UNAUTHENTICATED = 16,
} GrpcStatus;

/* The one place errno values become gRPC status codes (see STYLE.md). */
GrpcStatus grpc_status_from_errno(int errnum);
const char *grpc_status_to_string(GrpcStatus code);

/*
 * The status message to send for MESSAGE (a copy): at most GRPC_STATUS_MESSAGE_MAX bytes once
 * percent-encoded for the wire (grpc_percent_encode) (3 bytes for each byte outside printable ASCII, and for
 * '%'), cut on a UTF-8 character boundary and marked. Error messages name the request's values, which may be
 * a megabyte long; clients refuse trailers past 8 KiB and would see RESOURCE_EXHAUSTED instead of the error.
 */
#define GRPC_STATUS_MESSAGE_MAX 4096
char *grpc_status_message(const char *message);
