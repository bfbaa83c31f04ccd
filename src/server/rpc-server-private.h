/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * Shared by the two halves of the gRPC server: rpc-conn.c speaks HTTP/2 (through libnghttp2) on each
 * client connection and turns streams into calls; rpc-server.c routes calls to their handlers and
 * carries their answers back. Everything marked "connection thread" is only touched on the one thread
 * that owns every connection (and every nghttp2 session, which are not thread-safe).
 */

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "cancel.h"
#include "grpc-status.h"
#include "grpc-wire.h"
#include "rpc-bytes.h"
#include "rpc-server.h"
#include "rpc-table.h"

typedef struct Conn Conn;

/* One message waiting to go out on a call. */
typedef struct OutMsg {
        struct OutMsg *next;
        RpcBytes *bytes;
} OutMsg;

/*
 * One call, an HTTP/2 stream. A server-streaming handler holds it as an RpcStream. References: the
 * connection's (until the stream closes), one for whoever owes the answer (a handler on a worker),
 * one while it waits in the kick array, and a streaming handler's own.
 */
typedef struct RpcStream Call;
struct RpcStream {
        atomic_int refs;
        RpcServer *server;
        Cancel cancel;
        struct timespec started;

        /* Connection thread only. */
        Conn *conn; /* NULL once the stream closed */
        Call *next_in_conn;
        int32_t id;
        char *path;
        char *encoding; /* grpc-encoding, if the client named one */
        const RpcMethod *method;
        uint8_t *body;
        size_t body_len, body_cap, header_bytes;
        int refuse_http; /* an HTTP status to refuse the request with (405, 415); 0 if none */
        bool content_type_seen, post_seen;
        bool request_done;     /* the client ended its side */
        bool dispatched;       /* routed: the request is with a handler or answered */
        bool response_started; /* response headers submitted */
        bool ended;            /* final status submitted */
        bool is_stream;        /* an open server-streaming call */
        bool expired;          /* its deadline passed and was acted on: not waited for again */
        ProtobufCMessage *req;

        /* What goes out, and the stream's state; under `lock`. */
        pthread_mutex_t lock;
        OutMsg *out_head, *out_tail;
        size_t out_len, out_pos; /* messages queued; bytes of the head already sent, prefix included */
        bool status_set, closed;
        GrpcStatus code;
        char *message; /* the status message, cut to size */
        void (*on_close)(void *userdata);
        void *on_close_data;

        /* Under the server's lock. */
        bool kicked; /* in the server's kick array */
};

struct RpcServer {
        Daemon *daemon;
        int max_recv, max_send;
        int epoll_fd, wake_fd;
        pthread_t thread;
        bool thread_started;
        nghttp2_session_callbacks *callbacks;
        nghttp2_option *options;
        atomic_bool stopping;

        pthread_mutex_t lock;
        pthread_cond_t cond;
        size_t calls_in_flight; /* started by a client, not yet freed */
        Call **kicks;           /* calls with something new to send, a reference each */
        size_t n_kicks, cap_kicks;
        int *new_fds;
        size_t n_new_fds;
        bool goaway_due, close_all_due, exit_due;

        Conn *conns; /* connection thread only */
};

/* rpc-server.c, for rpc-conn.c (connection thread). */
Call *call_new(Conn *conn, int32_t id);
void call_unref(Call *c);
/* A request header; -1 when the request's headers grew too large. */
int call_header(Call *c, const uint8_t *name, size_t name_len, const uint8_t *value, size_t value_len);
void call_headers_done(Call *c);
void call_body(Call *c, const uint8_t *data, size_t len);
void call_request_done(Call *c);
/* The stream is gone (answered, reset by the client, or its connection closed). */
void call_closed(Call *c);
/* End the call now with `code` unless it has ended: a deadline passed, or the server stops. */
void call_abort(Call *c, GrpcStatus code, const char *message);

/* A client connection (connection thread only). */
struct Conn {
        RpcServer *server;
        Conn *next;
        int fd;
        nghttp2_session *session;
        H2ResetFilter filter; /* between the socket and nghttp2 (see grpc-wire.h) */
        Call *calls;          /* its open streams */
        uint8_t *out;         /* frames nghttp2 produced that the socket has not taken yet */
        size_t out_len, out_off, out_cap;
        size_t buffered;   /* request bytes held in its calls' bodies */
        bool watching_out; /* EPOLLOUT asked for */
        bool dead;         /* closed by the client, or broken: freed at the next flush */
};

/* rpc-conn.c, for rpc-server.c. The nghttp2 callbacks and options every session shares. */
int conn_setup(RpcServer *s);
void conn_teardown(RpcServer *s);
/* Connection thread only. */
Conn *conn_new(RpcServer *s, int fd);
void conn_event(Conn *conn, uint32_t events);
/* Write what nghttp2 has for the peer; frees the connection when it is done. */
void conn_flush(Conn *conn);
void conn_free(Conn *conn);
/* Tell the client no new calls will be taken; the connection closes once its calls are answered. */
void conn_goaway(Conn *conn);
/* Hand what the call has to send (headers, messages, status) to nghttp2. */
void call_send(Call *c);
