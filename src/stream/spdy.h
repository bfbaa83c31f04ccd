/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zlib.h>

#include "buf.h"

/*
 * SPDY/3.1 framing (the protocol Kubernetes' streaming clients speak after an HTTP/1.1 upgrade): frame
 * parsing and building, and the zlib-compressed header blocks. Pure functions on buffers, no I/O.
 */

#define SPDY_VERSION 3

enum {
        SPDY_SYN_STREAM = 1,
        SPDY_SYN_REPLY = 2,
        SPDY_RST_STREAM = 3,
        SPDY_SETTINGS = 4,
        SPDY_PING = 6,
        SPDY_GOAWAY = 7,
        SPDY_HEADERS = 8,
        SPDY_WINDOW_UPDATE = 9,
};

#define SPDY_FLAG_FIN 0x01
#define SPDY_FLAG_UNIDIRECTIONAL 0x02

enum {
        SPDY_RST_PROTOCOL_ERROR = 1,
        SPDY_RST_INVALID_STREAM = 2,
        SPDY_RST_REFUSED_STREAM = 3,
        SPDY_RST_CANCEL = 5,
        SPDY_RST_INTERNAL_ERROR = 6,
        SPDY_RST_FRAME_TOO_LARGE = 11,
};

#define SPDY_GOAWAY_OK 0
#define SPDY_GOAWAY_PROTOCOL_ERROR 1

/* One frame as it lies in the input buffer; payload points into that buffer. */
typedef struct SpdyFrame {
        bool control;
        uint16_t version, type; /* control frames */
        uint32_t stream_id;     /* data frames, and control frames that carry one */
        uint8_t flags;
        const uint8_t *payload;
        uint32_t length;
} SpdyFrame;

/*
 * Parse the frame at the start of buf. Returns its total size (> 0), 0 when more bytes are needed, -EMSGSIZE
 * when its length exceeds max_payload, -EPROTO for a control frame of another SPDY version or a fixed-size
 * control frame with a wrong length. stream_id is filled for data frames and for control frames that start
 * with a stream ID (SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE).
 */
int spdy_frame_parse(const uint8_t *buf, size_t len, uint32_t max_payload, SpdyFrame *ret);

/* One header: name and value point into the decoded block (values with several parts keep their NULs). */
typedef struct SpdyHeader {
        const char *name, *value;
        size_t name_len, value_len;
} SpdyHeader;

typedef struct SpdyHeaders {
        uint8_t *block; /* the inflated block; owned */
        SpdyHeader *items;
        size_t n;
} SpdyHeaders;

void spdy_headers_done(SpdyHeaders *h);
/* The first value of header `name` (lower case) as a new string, or NULL. */
char *spdy_headers_get(const SpdyHeaders *h, const char *name);

/* A session's two zlib streams: header blocks share one compression context per direction. */
typedef struct SpdyZ {
        z_stream in, out;
        bool in_ready, out_ready;
} SpdyZ;

int spdy_z_init(SpdyZ *z);
void spdy_z_done(SpdyZ *z);

/*
 * Inflate a header block and split it into headers. At most max_bytes inflated and max_headers pairs;
 * -EMSGSIZE beyond, -EPROTO for a corrupt block (the zlib stream is then unusable: close the session).
 */
int spdy_headers_decode(SpdyZ *z, const uint8_t *block, size_t len, size_t max_bytes, size_t max_headers,
                        SpdyHeaders *ret);

/* Frame builders: append one whole frame to out. */
void spdy_put_data(Buf *out, uint32_t stream_id, uint8_t flags, const void *data, size_t len);
/* SYN_REPLY or HEADERS with the given name/value pairs (names lower case), compressed with z. */
int spdy_put_headers_frame(Buf *out, SpdyZ *z, uint16_t type, uint32_t stream_id, uint8_t flags,
                           const char *const *pairs, size_t n_pairs);
/* A SYN_STREAM (clients, and the tests' fuzz corpus builder). */
int spdy_put_syn_stream(Buf *out, SpdyZ *z, uint32_t stream_id, uint8_t flags, const char *const *pairs,
                        size_t n_pairs);
void spdy_put_rst(Buf *out, uint32_t stream_id, uint32_t status);
void spdy_put_ping(Buf *out, uint32_t id);
void spdy_put_goaway(Buf *out, uint32_t last_stream_id, uint32_t status);
void spdy_put_window_update(Buf *out, uint32_t stream_id, uint32_t delta);

/* The zlib dictionary of SPDY/3 header blocks (1423 bytes, from the SPDY/3 specification). */
const uint8_t *spdy_dictionary(size_t *ret_len);
