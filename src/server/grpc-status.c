/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>

#include "grpc-status.h"
#include "grpc-wire.h"
#include "macros.h"

GrpcStatus grpc_status_from_errno(int errnum) {
        switch (errnum < 0 ? -errnum : errnum) {
        case 0:
                return GRPC_STATUS_OK;
        case ENOENT:
        case ESRCH:
                return GRPC_STATUS_NOT_FOUND;
        case EINVAL:
        case ENAMETOOLONG:
                return GRPC_STATUS_INVALID_ARGUMENT;
        case EBADMSG: /* content that fails its digest or does not decode: a registry's fault */
                return GRPC_STATUS_DATA_LOSS;
        case EEXIST:
                return GRPC_STATUS_ALREADY_EXISTS;
        case ETIMEDOUT:
                return GRPC_STATUS_DEADLINE_EXCEEDED;
        case EPERM:
        case EACCES:
                return GRPC_STATUS_PERMISSION_DENIED;
        case ENOSPC:
        case EMSGSIZE:
        case EFBIG:
        case EMFILE:
                return GRPC_STATUS_RESOURCE_EXHAUSTED;
        case EBUSY:
        case ENOTEMPTY:
        case ENODEV: /* a device the node should have (a CDI spec's node) is missing */
                return GRPC_STATUS_FAILED_PRECONDITION;
        case ECANCELED:
                return GRPC_STATUS_CANCELLED;
        case EOPNOTSUPP:
        case ENOSYS:
                return GRPC_STATUS_UNIMPLEMENTED;
        case EAGAIN:
        case ESHUTDOWN:
        case ECONNREFUSED:
                return GRPC_STATUS_UNAVAILABLE;
        case ERANGE:
                return GRPC_STATUS_OUT_OF_RANGE;
        case EUNATCH:
                return GRPC_STATUS_UNAUTHENTICATED;
        default:
                return GRPC_STATUS_INTERNAL;
        }
}

const char *grpc_status_to_string(GrpcStatus code) {
        static const char *const names[] = {
                "OK",
                "CANCELLED",
                "UNKNOWN",
                "INVALID_ARGUMENT",
                "DEADLINE_EXCEEDED",
                "NOT_FOUND",
                "ALREADY_EXISTS",
                "PERMISSION_DENIED",
                "RESOURCE_EXHAUSTED",
                "FAILED_PRECONDITION",
                "ABORTED",
                "OUT_OF_RANGE",
                "UNIMPLEMENTED",
                "INTERNAL",
                "UNAVAILABLE",
                "DATA_LOSS",
                "UNAUTHENTICATED",
        };
        if ((unsigned)code < ELEMENTSOF(names))
                return names[code];
        return "UNKNOWN";
}

char *grpc_status_message(const char *message) {
        static const char mark[] = "... (cut)";
        const char *m = message ? message : "";
        size_t len = strlen(m), wire = 0, keep = 0;
        for (size_t i = 0; i < len; i++)
                wire += grpc_percent_encoded_size((unsigned char)m[i]);
        if (wire <= GRPC_STATUS_MESSAGE_MAX)
                return xstrdup(m);
        for (wire = sizeof(mark) - 1;
             wire + grpc_percent_encoded_size((unsigned char)m[keep]) <= GRPC_STATUS_MESSAGE_MAX;)
                wire += grpc_percent_encoded_size((unsigned char)m[keep++]);
        while (keep > 0 && ((unsigned char)m[keep] & 0xc0) == 0x80)
                keep--; /* not inside a character */
        char *s = xmalloc(keep + sizeof(mark));
        memcpy(s, m, keep);
        memcpy(s + keep, mark, sizeof(mark));
        return s;
}
