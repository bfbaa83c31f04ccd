/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* WebSocket framing (RFC 6455), server side: parse client frames, build unmasked server frames. Pure. */

enum {
        WS_OP_CONTINUATION = 0x0,
        WS_OP_TEXT = 0x1,
        WS_OP_BINARY = 0x2,
        WS_OP_CLOSE = 0x8,
        WS_OP_PING = 0x9,
        WS_OP_PONG = 0xa,
};

typedef struct WsFrame {
        bool fin;
        uint8_t opcode;
        uint8_t *payload; /* unmasked in place, inside the parsed buffer */
        size_t length;
} WsFrame;

/*
 * Parse (and unmask in place) the frame at the start of buf. Returns its total size, 0 when more bytes are
 * needed, -EMSGSIZE when the payload is longer than max_payload, -EPROTO for what RFC 6455 forbids of a
 * client: an unmasked frame, reserved bits, unknown opcodes, fragmented or oversized control frames.
 */
int ws_frame_parse(uint8_t *buf, size_t len, size_t max_payload, WsFrame *ret);

/* Append one unfragmented, unmasked frame. */
void ws_put_frame(Buf *out, uint8_t opcode, const void *data, size_t len);
/* The same with a one-byte prefix before data (the Kubernetes channel number). */
void ws_put_channel_frame(Buf *out, uint8_t channel, const void *data, size_t len);

/*
 * Kubernetes' base64 channel form: a text message holding the channel as an ASCII digit ('0' + channel)
 * and the data in standard base64.
 */
void ws_put_base64_channel_frame(Buf *out, uint8_t channel, const void *data, size_t len);
/* Decode standard base64 (padding required, no whitespace) and append to out. -EINVAL for anything else. */
int ws_base64_decode(const uint8_t *in, size_t len, Buf *out);

/* Sec-WebSocket-Accept for a client's Sec-WebSocket-Key. Caller frees. */
char *ws_accept_key(const char *key);
