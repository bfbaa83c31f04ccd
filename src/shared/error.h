/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "macros.h"

/*
 * An error travelling up the RPC path: a positive errno value plus a message for the client.
 * Functions take `Error **reterr` last; error_set() fills it (if not already set) and returns -errnum,
 * so `return error_set(reterr, EINVAL, "...")` is the idiom.
 */
typedef struct Error {
        int code;      /* positive errno */
        char *message; /* owned, never NULL */
} Error;

int error_set(Error **reterr, int errnum, const char *fmt, ...) _printf_(3, 4);

/* Prepend context ("create container 'x': ") to an existing error. Returns -code, or -EIO if unset. */
int error_prefix(Error **reterr, const char *fmt, ...) _printf_(2, 3);

/* Hand `err` (owned) to the caller's reterr unless one is already set; returns -err->code. */
int error_propagate(Error **reterr, Error *err);

Error *error_free(Error *e);
void error_freep(Error **e);

#define _cleanup_error_ _cleanup_(error_freep)
