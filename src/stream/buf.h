/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "macros.h"

/* A growable byte buffer; consumers take bytes from the front. Callers bound its size themselves. */
typedef struct Buf {
        uint8_t *data;
        size_t len, cap;
} Buf;

static inline void buf_reserve(Buf *b, size_t more) {
        if (b->len + more <= b->cap)
                return;
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + more)
                cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
}

static inline void buf_append(Buf *b, const void *p, size_t n) {
        if (n == 0)
                return;
        buf_reserve(b, n);
        memcpy(b->data + b->len, p, n);
        b->len += n;
}

static inline void buf_put_u8(Buf *b, uint8_t v) {
        buf_append(b, &v, 1);
}

static inline void buf_put_be16(Buf *b, uint16_t v) {
        uint8_t p[2] = {v >> 8, v & 0xff};
        buf_append(b, p, 2);
}

static inline void buf_put_be32(Buf *b, uint32_t v) {
        uint8_t p[4] = {v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff};
        buf_append(b, p, 4);
}

/* Drop the first n bytes. */
static inline void buf_consume(Buf *b, size_t n) {
        if (n >= b->len) {
                b->len = 0;
                return;
        }
        memmove(b->data, b->data + n, b->len - n);
        b->len -= n;
}

/* Free the memory; a large idle buffer is given back rather than kept at its peak. */
static inline void buf_done(Buf *b) {
        b->data = mfree(b->data);
        b->len = b->cap = 0;
}

static inline uint32_t be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint16_t be16(const uint8_t *p) {
        return (uint16_t)(p[0] << 8 | p[1]);
}
