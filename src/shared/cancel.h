/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/*
 * A cancellation token. Long operations poll cancel_requested(); a token with a parent is also
 * cancelled when the parent is (an RPC's token -> one pull's token -> its layer downloads), and a
 * deadline (CLOCK_MONOTONIC ns, 0 for none) cancels once it has passed.
 */
typedef struct Cancel {
        atomic_bool flag;
        int64_t deadline_ns;
        const struct Cancel *parent;
} Cancel;

static inline int64_t monotonic_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void cancel_init(Cancel *c, const Cancel *parent, int64_t deadline_ns) {
        atomic_init(&c->flag, false);
        c->deadline_ns = deadline_ns;
        c->parent = parent;
}

static inline void cancel_request(Cancel *c) {
        atomic_store(&c->flag, true);
}

/* True once this token or an ancestor was cancelled or its deadline passed. */
static inline bool cancel_requested(const Cancel *c) {
        int64_t now = 0;
        for (; c; c = c->parent) {
                if (atomic_load(&c->flag))
                        return true;
                if (c->deadline_ns > 0) {
                        if (now == 0)
                                now = monotonic_ns();
                        if (now >= c->deadline_ns)
                                return true;
                }
        }
        return false;
}

/* -ETIMEDOUT when a deadline ended it, -ECANCELED otherwise (call only after cancel_requested). */
static inline int cancel_reason(const Cancel *c) {
        int64_t now = monotonic_ns();
        for (; c; c = c->parent)
                if (!atomic_load(&c->flag) && c->deadline_ns > 0 && now >= c->deadline_ns)
                        return -ETIMEDOUT;
        return -ECANCELED;
}
