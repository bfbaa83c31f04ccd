/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>
#include <sys/random.h>

#include "strv.h"
#include "token.h"

StreamRequest *stream_request_free(StreamRequest *r) {
        if (!r)
                return NULL;
        free(r->container_id);
        free(r->pod_id);
        strv_free(r->cmd);
        free(r->ports);
        free(r);
        return NULL;
}

void token_cache_init(TokenCache *c, size_t max, int64_t ttl_ns) {
        *c = (TokenCache){.max = max, .ttl_ns = ttl_ns};
        pthread_mutex_init(&c->lock, NULL);
}

void token_cache_done(TokenCache *c) {
        for (size_t i = 0; i < c->n; i++)
                stream_request_free(c->items[i].request);
        free(c->items);
        pthread_mutex_destroy(&c->lock);
        *c = (TokenCache){};
}

static void drop_at(TokenCache *c, size_t i) {
        stream_request_free(c->items[i].request);
        c->items[i] = c->items[--c->n];
}

static void expire_locked(TokenCache *c, int64_t now_ns) {
        for (size_t i = 0; i < c->n;)
                if (c->items[i].deadline_ns <= now_ns)
                        drop_at(c, i);
                else
                        i++;
}

static void new_token(char out[TOKEN_LEN + 1]) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        uint8_t b[TOKEN_LEN];
        size_t got = 0;
        while (got < sizeof(b)) {
                ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
                if (n > 0)
                        got += (size_t)n;
        }
        /* 64 symbols: each character carries 6 random bits, 192 bits in all. */
        for (size_t i = 0; i < TOKEN_LEN; i++)
                out[i] = alphabet[b[i] & 63];
        out[TOKEN_LEN] = 0;
}

int token_cache_put(TokenCache *c, StreamRequest *r, int64_t now_ns, char ret_token[TOKEN_LEN + 1]) {
        pthread_mutex_lock(&c->lock);
        expire_locked(c, now_ns);
        if (c->n >= c->max) {
                pthread_mutex_unlock(&c->lock);
                stream_request_free(r);
                return -ENOSPC;
        }
        /*
         * The table grows as tokens are handed out: a node seldom has more than a few pending, and a
         * table sized for max (1,000 entries, 56 KiB) would stay resident for nothing.
         */
        if (c->n == c->allocated) {
                size_t grown = c->allocated ? c->allocated * 2 : 8;
                c->allocated = grown < c->max ? grown : c->max;
                c->items = xrealloc(c->items, c->allocated * sizeof(TokenEntry));
        }
        TokenEntry *e = &c->items[c->n++];
        new_token(e->token);
        e->deadline_ns = now_ns + c->ttl_ns;
        e->request = r;
        memcpy(ret_token, e->token, TOKEN_LEN + 1);
        pthread_mutex_unlock(&c->lock);
        return 0;
}

/* Compare in time independent of where the first difference is: tokens are secrets. */
static bool token_equal(const char *a, const char *b) {
        if (strlen(b) != TOKEN_LEN)
                return false;
        unsigned diff = 0;
        for (size_t i = 0; i < TOKEN_LEN; i++)
                diff |= (unsigned)(a[i] ^ b[i]);
        return diff == 0;
}

StreamRequest *token_cache_take(TokenCache *c, const char *token, int64_t now_ns) {
        StreamRequest *r = NULL;
        pthread_mutex_lock(&c->lock);
        expire_locked(c, now_ns);
        for (size_t i = 0; i < c->n; i++)
                if (token_equal(c->items[i].token, token)) {
                        r = TAKE_PTR(c->items[i].request);
                        drop_at(c, i);
                        break;
                }
        pthread_mutex_unlock(&c->lock);
        return r;
}
