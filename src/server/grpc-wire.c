/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "grpc-wire.h"
#include "macros.h"

void grpc_prefix_write(uint8_t out[GRPC_PREFIX_LEN], size_t len) {
        out[0] = 0;
        out[1] = (uint8_t)(len >> 24);
        out[2] = (uint8_t)(len >> 16);
        out[3] = (uint8_t)(len >> 8);
        out[4] = (uint8_t)len;
}

size_t grpc_prefix_length(const uint8_t *prefix) {
        return (size_t)prefix[1] << 24 | (size_t)prefix[2] << 16 | (size_t)prefix[3] << 8 | prefix[4];
}

GrpcBody grpc_body_parse(const uint8_t *body, size_t len, const uint8_t **ret_msg, size_t *ret_len,
                         bool *ret_compressed) {
        if (len == 0)
                return GRPC_BODY_EMPTY;
        if (len < GRPC_PREFIX_LEN)
                return GRPC_BODY_INCOMPLETE;
        size_t msg_len = grpc_prefix_length(body);
        if (len - GRPC_PREFIX_LEN < msg_len)
                return GRPC_BODY_INCOMPLETE;
        if (len - GRPC_PREFIX_LEN > msg_len)
                return GRPC_BODY_EXTRA;
        *ret_msg = body + GRPC_PREFIX_LEN;
        *ret_len = msg_len;
        *ret_compressed = body[0] != 0;
        return GRPC_BODY_ONE;
}

int64_t grpc_timeout_parse(const char *value, size_t len) {
        if (len < 2 || len > 9)
                return -1;
        int64_t n = 0;
        for (size_t i = 0; i + 1 < len; i++) {
                if (value[i] < '0' || value[i] > '9')
                        return -1;
                n = n * 10 + (value[i] - '0');
        }
        int64_t unit_ns;
        switch (value[len - 1]) {
        case 'H':
                unit_ns = 3600LL * 1000000000LL;
                break;
        case 'M':
                unit_ns = 60LL * 1000000000LL;
                break;
        case 'S':
                unit_ns = 1000000000LL;
                break;
        case 'm':
                unit_ns = 1000000LL;
                break;
        case 'u':
                unit_ns = 1000LL;
                break;
        case 'n':
                unit_ns = 1;
                break;
        default:
                return -1;
        }
        return n > INT64_MAX / unit_ns ? INT64_MAX : n * unit_ns;
}

size_t grpc_percent_encoded_size(unsigned char c) {
        return c < 0x20 || c > 0x7e || c == '%' ? 3 : 1;
}

char *grpc_percent_encode(const char *message) {
        static const char hex[] = "0123456789ABCDEF";
        size_t len = 0;
        for (const char *p = message; *p; p++)
                len += grpc_percent_encoded_size((unsigned char)*p);
        char *out = xmalloc(len + 1), *o = out;
        for (const char *p = message; *p; p++) {
                unsigned char c = (unsigned char)*p;
                if (grpc_percent_encoded_size(c) == 1) {
                        *o++ = (char)c;
                        continue;
                }
                *o++ = '%';
                *o++ = hex[c >> 4];
                *o++ = hex[c & 0xf];
        }
        *o = '\0';
        return out;
}

bool grpc_content_type_ok(const char *value, size_t len) {
        static const char base[] = "application/grpc";
        size_t n = sizeof(base) - 1;
        if (len < n || strncasecmp(value, base, n) != 0)
                return false;
        return len == n || value[n] == '+' || value[n] == ';';
}

#define H2_HEADERS 0x1
#define H2_RST_STREAM 0x3

void h2_reset_filter_init(H2ResetFilter *f) {
        *f = (H2ResetFilter){.preface_left = H2_PREFACE_LEN};
}

/* A whole frame header is in: decide whether its frame passes, and pass the header if so. */
static size_t reset_filter_header(H2ResetFilter *f, uint8_t *out) {
        const uint8_t *h = f->header;
        size_t len = (size_t)h[0] << 16 | (size_t)h[1] << 8 | h[2];
        uint32_t stream =
                ((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 | (uint32_t)h[7] << 8 | h[8]) & 0x7fffffffu;
        if (h[3] == H2_HEADERS && stream > f->max_opened)
                f->max_opened = stream;
        /* Client streams are odd; a reset of an even one is nghttp2's to judge. */
        f->dropping = h[3] == H2_RST_STREAM && stream % 2 == 1 && stream > f->max_opened;
        f->payload_left = len;
        f->header_have = 0;
        if (f->dropping)
                return 0;
        memcpy(out, h, H2_FRAME_HEADER_LEN);
        return H2_FRAME_HEADER_LEN;
}

size_t h2_reset_filter(H2ResetFilter *f, const uint8_t *in, size_t n, uint8_t *out) {
        size_t i = 0, o = 0;
        while (i < n) {
                size_t k;
                if (f->preface_left > 0 || f->payload_left > 0) {
                        size_t *left = f->preface_left > 0 ? &f->preface_left : &f->payload_left;
                        k = *left < n - i ? *left : n - i;
                        if (f->preface_left > 0 || !f->dropping) {
                                memcpy(out + o, in + i, k);
                                o += k;
                        }
                        *left -= k;
                        i += k;
                        continue;
                }
                k = H2_FRAME_HEADER_LEN - f->header_have;
                if (k > n - i)
                        k = n - i;
                memcpy(f->header + f->header_have, in + i, k);
                f->header_have += k;
                i += k;
                if (f->header_have == H2_FRAME_HEADER_LEN)
                        o += reset_filter_header(f, out + o);
        }
        return o;
}
