/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "spdy-flow.h"
#include "spdy.h"
#include "stream.h"

/*
 * One upgraded connection, run by its own thread: the framing (SPDY/3.1 or WebSocket) below, a protocol
 * handler (remotecommand or portforward) above. Channels are SPDY stream IDs, or WebSocket channel numbers.
 */

typedef enum SessionProto { PROTO_SPDY, PROTO_WEBSOCKET } SessionProto;

/* remotecommand protocol versions; 0 is portforward. */
enum { RC_V1 = 1, RC_V2, RC_V3, RC_V4, RC_V5 };

/* Above this much queued output, handlers stop reading their sources and the session stops parsing input. */
#define SESSION_OUT_HIGH (256 * 1024)
#define SESSION_READ_CHUNK (32 * 1024)

typedef struct Session Session;

typedef struct SessionOps {
        /* A SPDY client opened a stream: reply or reset it. <0 ends the session. */
        int (*stream_open)(Session *s, uint32_t id, const SpdyHeaders *h, bool fin);
        /* WebSocket sessions: every channel exists from the start. */
        int (*begin)(Session *s);
        /* Every byte handed over must be reported with session_consumed() once used or dropped. */
        int (*data)(Session *s, uint32_t ch, const uint8_t *p, size_t n);
        void (*fin)(Session *s, uint32_t ch);
        void (*reset)(Session *s, uint32_t ch);
        /* May the session read more client input now (bounded buffers)? */
        bool (*can_receive)(Session *s);
        /* Fill poll entries; on_poll gets them back in the same order. */
        size_t (*pollfds)(Session *s, struct pollfd *p, size_t max);
        int (*on_poll)(Session *s, struct pollfd *p, size_t n);
        /* The session ends (client_gone: the client left first). Free the handler state. */
        void (*end)(Session *s, bool client_gone);
} SessionOps;

struct Session {
        SessionProto proto;
        int version; /* RC_V*, or 0 for portforward */
        bool base64; /* WebSocket base64 channels: text messages, channel digit, base64 data */
        int fd;
        StreamRequest *req;
        const StreamBackend *backend;
        const SessionOps *ops;
        void *state;
        Buf in, out;
        SpdyZ z;
        SpdyFlow flow;
        int64_t flow_blocked_ns; /* since when sends wait for a peer not known to do flow control */
        bool flow_probed;        /* the PING that tells whether it does was sent */
        bool goodbye_due;        /* GOAWAY goes out once the data waiting for window is written */
        bool ended;              /* the handler is gone: frames are only accounted for */
        uint32_t last_client_stream;
        bool client_gone; /* EOF, error or GOAWAY from the client */
        bool finishing;   /* the handler is done: flush, say goodbye, close */
        bool poll_now;    /* the handler has work without waiting for an event (draining after an exit) */
        int64_t wake_ns;  /* the handler wants on_poll() called by then (0: no) */
        int64_t idle_timeout_ns, last_activity_ns, setup_deadline_ns;
        const char *peer; /* for log lines */
};

/* Queue data on a channel (SPDY: a DATA frame; WebSocket: a binary message with the channel byte). */
void session_send(Session *s, uint32_t ch, const void *data, size_t len);
/* We will send nothing more on a channel (SPDY: FIN; WebSocket v5: nothing needed). */
void session_close_channel(Session *s, uint32_t ch);
void session_reply(Session *s, uint32_t stream_id);
void session_reset(Session *s, uint32_t stream_id, uint32_t status);
bool session_can_send(const Session *s);
/* ... and the channel's own queue (data waiting for its SPDY window) has room. */
bool session_can_send_on(const Session *s, uint32_t ch);
/* Bytes queued on a channel that wait for its SPDY window. */
size_t session_pending(const Session *s, uint32_t ch);
/* The handler used (or dropped) n bytes the client sent on a channel: SPDY gives the window back. */
void session_consumed(Session *s, uint32_t ch, size_t n);
/* The handler is done: the session flushes what is queued and closes. */
void session_finish(Session *s);

/* Run the session until it ends (blocks). stop_fd becomes readable when the server shuts down. */
void session_run(Session *s, int stop_fd);
void session_free(Session *s);

extern const SessionOps remotecommand_ops;
extern const SessionOps portforward_ops;
