/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * SPDY/3.1 flow control (section 2.6.8 and the session window of 3.1): per-stream and per-session send
 * windows that the peer opens with WINDOW_UPDATE (and moves with SETTINGS_INITIAL_WINDOW_SIZE), and the
 * receive windows we open as our handlers consume data. Pure accounting on buffers, no I/O, no clock.
 *
 * Kubernetes' own SPDY library (moby/spdystream) neither sends WINDOW_UPDATE nor honours the windows we
 * announce, so a peer starts UNKNOWN: our sends keep within its windows; a peer that sends a WINDOW_UPDATE
 * or an initial window size shows that it does flow control (ON) and is then held to our windows; a peer
 * that overruns our receive window before that does none (OFF) and windows are no longer kept either way.
 * The session also switches to OFF when an UNKNOWN peer leaves a full window closed for a while.
 */

#define SPDY_INITIAL_WINDOW 65536
#define SPDY_MAX_WINDOW 0x7fffffff
#define SPDY_SETTINGS_INITIAL_WINDOW_SIZE 7
#define SPDY_RST_FLOW_CONTROL_ERROR 7

typedef enum SpdyFlowMode { SPDY_FLOW_UNKNOWN, SPDY_FLOW_ON, SPDY_FLOW_OFF } SpdyFlowMode;

typedef struct SpdyFlowStream {
        uint32_t id;
        int64_t send_window;  /* may go below 0 when the peer shrinks its initial window */
        int64_t recv_window;  /* what the peer may still send */
        uint32_t recv_credit; /* consumed and not yet given back with WINDOW_UPDATE */
        Buf pending;          /* DATA payload waiting for window */
        bool pending_fin;     /* a FIN follows the pending data */
        bool fin_sent, fin_received;
} SpdyFlowStream;

typedef struct SpdyFlow {
        SpdyFlowMode mode;
        int64_t initial_send; /* the peer's SETTINGS_INITIAL_WINDOW_SIZE */
        int64_t session_send, session_recv;
        uint32_t session_credit;
        SpdyFlowStream *streams;
        size_t n, cap;
        size_t pending_total;
} SpdyFlow;

void spdy_flow_init(SpdyFlow *f);
void spdy_flow_done(SpdyFlow *f);

/* Start accounting a stream (we replied to its SYN_STREAM). */
void spdy_flow_open(SpdyFlow *f, uint32_t id);
/* Forget a stream (reset either way); its pending data is dropped. */
void spdy_flow_close(SpdyFlow *f, uint32_t id);

/*
 * Queue DATA (and FIN in flags) on a stream: what the windows allow goes to out as DATA frames now, the
 * rest waits for spdy_flow_flush(). Streams that are not open are written through.
 */
void spdy_flow_send(SpdyFlow *f, uint32_t id, uint8_t flags, const void *data, size_t len, Buf *out);
/* Write what waits and the windows now allow. */
void spdy_flow_flush(SpdyFlow *f, Buf *out);
/* Bytes waiting for window on one stream. */
size_t spdy_flow_pending(const SpdyFlow *f, uint32_t id);

/*
 * A DATA frame of len bytes arrived. 0, or -EOVERFLOW when it overruns the stream's window (reset the
 * stream with FLOW_CONTROL_ERROR), else -EPROTO when it overruns the session's (a session error). An UNKNOWN
 * peer that overruns is switched to OFF instead (what waits for window is then written to out).
 */
int spdy_flow_received(SpdyFlow *f, uint32_t id, size_t len, bool fin, Buf *out);
/* The handler consumed len bytes of a stream's data: append WINDOW_UPDATE frames to out when due. */
void spdy_flow_consumed(SpdyFlow *f, uint32_t id, size_t len, Buf *out);

/*
 * The peer's WINDOW_UPDATE (id 0: the session window). 0; -EINVAL for a delta of 0 (PROTOCOL_ERROR);
 * -EOVERFLOW when the window would pass 2^31-1 (FLOW_CONTROL_ERROR). Stream errors close the stream; on
 * stream 0 they are session errors. Flushes what the new window allows.
 */
int spdy_flow_window_update(SpdyFlow *f, uint32_t id, uint32_t delta, Buf *out);
/* The peer's SETTINGS payload. 0, or -EPROTO for a malformed frame or an initial window over 2^31-1. */
int spdy_flow_settings(SpdyFlow *f, const uint8_t *payload, size_t len, Buf *out);
/* Stop keeping windows (the peer does no flow control) and write everything that waits. */
void spdy_flow_give_up(SpdyFlow *f, Buf *out);
