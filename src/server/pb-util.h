/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "api.pb-c.h"
#include "macros.h"

/*
 * Heap-allocate a generated message initialised with its INIT macro. Responses are built only from
 * such allocations and xstrdup'ed strings so protobuf_c_message_free_unpacked() can release them.
 */
#define PB_NEW(type, init)                                                                                  \
        ({                                                                                                  \
                type *_m = xmalloc(sizeof(type));                                                           \
                *_m = (type)init;                                                                           \
                _m;                                                                                         \
        })

/* Append to a repeated field: `n` is the count, `items` the array. */
#define PB_APPEND(n, items, item)                                                                           \
        do {                                                                                                \
                (items) = xrealloc((items), ((n) + 1) * sizeof(*(items)));                                  \
                (items)[(n)++] = (item);                                                                    \
        } while (0)
