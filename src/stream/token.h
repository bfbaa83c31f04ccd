/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <pthread.h>
#include <stdint.h>

#include "stream.h"

/* Single-use tokens for pending stream requests, expiring after a time to live, at most `max` at once. */

#define TOKEN_LEN 32 /* characters: 24 random bytes in URL-safe base64 */

typedef struct TokenEntry {
        char token[TOKEN_LEN + 1];
        int64_t deadline_ns;
        StreamRequest *request;
} TokenEntry;

typedef struct TokenCache {
        pthread_mutex_t lock;
        TokenEntry *items;
        size_t n, allocated, max;
        int64_t ttl_ns;
} TokenCache;

void token_cache_init(TokenCache *c, size_t max, int64_t ttl_ns);
void token_cache_done(TokenCache *c);
/* Store r (taking it) under a new token copied to ret_token. -ENOSPC when max live tokens are pending. */
int token_cache_put(TokenCache *c, StreamRequest *r, int64_t now_ns, char ret_token[TOKEN_LEN + 1]);
/* Remove and return the request of a live token, or NULL (unknown, used or expired). */
StreamRequest *token_cache_take(TokenCache *c, const char *token, int64_t now_ns);
