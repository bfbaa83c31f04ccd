/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The pieces of gRPC's HTTP/2 mapping (PROTOCOL-HTTP2.md in gRPC's repository) that are plain
 * functions of bytes: the message framing, the grpc-timeout header and the status message's encoding.
 */

/* Every message on a stream: 1 byte "compressed" flag, 4 bytes big-endian length, the bytes. */
#define GRPC_PREFIX_LEN 5

void grpc_prefix_write(uint8_t out[GRPC_PREFIX_LEN], size_t len);
/* The length a prefix announces (its first GRPC_PREFIX_LEN bytes must be there). */
size_t grpc_prefix_length(const uint8_t *prefix);

typedef enum GrpcBody {
        GRPC_BODY_EMPTY,      /* no message at all */
        GRPC_BODY_ONE,        /* exactly one whole message */
        GRPC_BODY_INCOMPLETE, /* a prefix or a message cut short */
        GRPC_BODY_EXTRA,      /* bytes after the first message */
} GrpcBody;

/* What a unary request's body holds; for GRPC_BODY_ONE, its message and flag. */
GrpcBody grpc_body_parse(const uint8_t *body, size_t len, const uint8_t **ret_msg, size_t *ret_len,
                         bool *ret_compressed);

/*
 * A grpc-timeout value ("1-8 digits" then H, M, S, m, u or n) in nanoseconds, capped at INT64_MAX;
 * -1 when it is malformed.
 */
int64_t grpc_timeout_parse(const char *value, size_t len);

/* grpc-message's encoding: bytes outside printable ASCII, and '%', become "%XX". */
char *grpc_percent_encode(const char *message);
/* The bytes one byte takes once encoded: 1 or 3. */
size_t grpc_percent_encoded_size(unsigned char c);

/* Whether a content-type names gRPC: "application/grpc", alone or followed by '+' or ';'. */
bool grpc_content_type_ok(const char *value, size_t len);

/*
 * gRPC core's clients send RST_STREAM for a stream whose HEADERS they never sent, when a call is
 * cancelled (its deadline passed) between getting a stream id and being written. RFC 9113 makes that a
 * connection error, and nghttp2 closes the connection with GOAWAY, failing every other call on it;
 * gRPC core's own server ignores such resets. This filter, fed the client's bytes in order, drops
 * RST_STREAM frames for client streams above the highest one opened so far, and passes everything
 * else through unchanged.
 */
typedef struct H2ResetFilter {
        size_t preface_left; /* bytes of the client's connection preface still to pass */
        uint8_t header[9];   /* a frame header being read */
        size_t header_have;
        size_t payload_left; /* bytes of the current frame's payload still to pass or drop */
        bool dropping;
        uint32_t max_opened; /* highest stream id the client sent HEADERS on */
} H2ResetFilter;

#define H2_PREFACE_LEN 24
#define H2_FRAME_HEADER_LEN 9

void h2_reset_filter_init(H2ResetFilter *f);
/* Filter `n` bytes from `in` into `out` (room for n + H2_FRAME_HEADER_LEN bytes); returns the bytes written.
 */
size_t h2_reset_filter(H2ResetFilter *f, const uint8_t *in, size_t n, uint8_t *out);
