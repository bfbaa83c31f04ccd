/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grpc-wire.h"
#include "log.h"
#include "macros.h"
#include "rpc-server-private.h"

/* Socket reads per readiness event: one busy client cannot starve the others. */
#define READ_CHUNK (64 * 1024)
#define READS_PER_EVENT 4
/* Frames taken from nghttp2 before the socket has to take them: bounds a connection's buffer. */
#define OUT_HIGH_WATER (1024 * 1024)
#define OUT_KEEP (64 * 1024)
/*
 * Our SETTINGS (nghttp2 answers PINGs itself: kubelets ping idle connections). Windows large enough that a
 * request of a few MiB (an UpdateRuntimeConfig, a big CreateContainer) needs no round trip for
 * WINDOW_UPDATE; nghttp2 sends those as we consume.
 */
#define MAX_CONCURRENT_STREAMS 1000
#define STREAM_WINDOW (1024 * 1024)
#define CONNECTION_WINDOW (16 * 1024 * 1024)
#define MAX_HEADER_LIST (16 * 1024)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

#define NV(n, v)                                                                                            \
        { (uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE }

static Call *stream_call(Conn *conn, int32_t id) {
        return nghttp2_session_get_stream_user_data(conn->session, id);
}

static bool is_request_headers(const nghttp2_frame *frame) {
        return frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST;
}

static void unlink_call(Conn *conn, Call *c) {
        for (Call **p = &conn->calls; *p; p = &(*p)->next_in_conn)
                if (*p == c) {
                        *p = c->next_in_conn;
                        return;
                }
}

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data) {
        Conn *conn = user_data;
        if (!is_request_headers(frame))
                return 0;
        Call *c = call_new(conn, frame->hd.stream_id);
        c->next_in_conn = conn->calls;
        conn->calls = c;
        nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, c);
        return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t name_len, const uint8_t *value, size_t value_len, uint8_t flags,
                     void *user_data) {
        Call *c = is_request_headers(frame) ? stream_call(user_data, frame->hd.stream_id) : NULL;
        /* Too many headers: nghttp2 resets the stream. */
        if (c && call_header(c, name, name_len, value, value_len) < 0)
                return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        return 0;
}

/* A request that is not gRPC (not a POST, another content-type): its HTTP status, as the spec says. */
static void refuse(Conn *conn, Call *c) {
        char status[8];
        snprintf(status, sizeof(status), "%d", c->refuse_http);
        nghttp2_nv nva[] = {NV(":status", status)};
        log_info("%s: refused with HTTP %s", strempty(c->path), status);
        nghttp2_submit_response(conn->session, c->id, nva, ELEMENTSOF(nva), NULL);
        c->response_started = c->ended = true;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data) {
        Conn *conn = user_data;
        if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
                return 0;
        Call *c = stream_call(conn, frame->hd.stream_id);
        if (!c)
                return 0;
        if (is_request_headers(frame)) {
                call_headers_done(c);
                if (c->refuse_http && !c->ended)
                        refuse(conn, c);
        }
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)
                call_request_done(c);
        return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *user_data) {
        Call *c = stream_call(user_data, stream_id);
        if (c)
                call_body(c, data, len);
        return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data) {
        Conn *conn = user_data;
        Call *c = stream_call(conn, stream_id);
        if (c) {
                unlink_call(conn, c);
                call_closed(c);
        }
        return 0;
}

static void submit_trailers(nghttp2_session *session, Call *c) {
        char code[12];
        snprintf(code, sizeof(code), "%d", (int)c->code);
        _cleanup_free_ char *message = grpc_percent_encode(strempty(c->message));
        nghttp2_nv nva[] = {NV("grpc-status", code), NV("grpc-message", message)};
        nghttp2_submit_trailer(session, c->id, nva, message[0] ? 2 : 1);
        c->ended = true;
}

static void pop_message_locked(Call *c) {
        OutMsg *m = c->out_head;
        c->out_head = m->next;
        if (!c->out_head)
                c->out_tail = NULL;
        c->out_len--;
        c->out_pos = 0;
        rpc_bytes_unref(m->bytes);
        free(m);
}

/* Copy what fits of the queued messages, each behind its 5-byte prefix, into a DATA frame. */
static size_t copy_out_locked(Call *c, uint8_t *buf, size_t length) {
        size_t n = 0;
        while (n < length && c->out_head) {
                RpcBytes *b = c->out_head->bytes;
                size_t k;
                if (c->out_pos < GRPC_PREFIX_LEN) {
                        uint8_t prefix[GRPC_PREFIX_LEN];
                        grpc_prefix_write(prefix, b->len);
                        k = MIN(GRPC_PREFIX_LEN - c->out_pos, length - n);
                        memcpy(buf + n, prefix + c->out_pos, k);
                } else {
                        size_t off = c->out_pos - GRPC_PREFIX_LEN;
                        k = MIN(b->len - off, length - n);
                        memcpy(buf + n, b->data + off, k);
                }
                n += k;
                c->out_pos += k;
                if (c->out_pos == GRPC_PREFIX_LEN + b->len)
                        pop_message_locked(c);
        }
        return n;
}

/* nghttp2 asks for the next DATA frame: queued messages, then the status as trailers. */
static ssize_t read_body(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data) {
        Call *c = source->ptr;
        pthread_mutex_lock(&c->lock);
        size_t n = copy_out_locked(c, buf, length);
        bool end = !c->out_head && c->status_set;
        pthread_mutex_unlock(&c->lock);
        if (end) {
                *data_flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
                submit_trailers(session, c);
        } else if (n == 0)
                return NGHTTP2_ERR_DEFERRED;
        return (ssize_t)n;
}

/* An answer without a message (an error, mostly): status in the response headers, one frame. */
static void send_trailers_only(Conn *conn, Call *c) {
        char code[12];
        snprintf(code, sizeof(code), "%d", (int)c->code);
        _cleanup_free_ char *message = grpc_percent_encode(strempty(c->message));
        nghttp2_nv nva[] = {NV(":status", "200"), NV("content-type", "application/grpc"),
                            NV("grpc-status", code), NV("grpc-message", message)};
        nghttp2_submit_response(conn->session, c->id, nva, message[0] ? 4 : 3, NULL);
        /*
         * The client may still be sending (an unknown method is answered at its headers). No
         * RST_STREAM(NO_ERROR) asks it to stop: gRPC core's client takes that for an error.
         */
        c->response_started = c->ended = true;
}

void call_send(Call *c) {
        Conn *conn = c->conn;
        if (!conn || c->ended)
                return;
        if (c->response_started) {
                nghttp2_session_resume_data(conn->session, c->id);
                return;
        }
        pthread_mutex_lock(&c->lock);
        bool has_out = c->out_head != NULL, status = c->status_set;
        pthread_mutex_unlock(&c->lock);
        if (!has_out && status) {
                send_trailers_only(conn, c);
                return;
        }
        if (!has_out && !c->is_stream)
                return;
        nghttp2_nv nva[] = {NV(":status", "200"), NV("content-type", "application/grpc")};
        nghttp2_data_provider body = {.source.ptr = c, .read_callback = read_body};
        if (nghttp2_submit_response(conn->session, c->id, nva, ELEMENTSOF(nva), &body) == 0)
                c->response_started = true;
}

Conn *conn_new(RpcServer *s, int fd) {
        Conn *conn = xcalloc(1, sizeof(*conn));
        conn->server = s;
        conn->fd = fd;
        h2_reset_filter_init(&conn->filter);
        if (nghttp2_session_server_new2(&conn->session, s->callbacks, conn, s->options) != 0) {
                log_error("cannot set up an HTTP/2 session");
                close(fd);
                free(conn);
                return NULL;
        }
        nghttp2_settings_entry settings[] = {
                {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_CONCURRENT_STREAMS},
                {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
                {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_LIST},
        };
        nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, settings, ELEMENTSOF(settings));
        nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0, CONNECTION_WINDOW);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = conn};
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
                log_error("cannot watch a gRPC connection: %m");
                nghttp2_session_del(conn->session);
                close(fd);
                free(conn);
                return NULL;
        }
        conn->next = s->conns;
        s->conns = conn;
        return conn;
}

void conn_free(Conn *conn) {
        RpcServer *s = conn->server;
        for (Conn **p = &s->conns; *p; p = &(*p)->next)
                if (*p == conn) {
                        *p = conn->next;
                        break;
                }
        while (conn->calls) {
                Call *c = conn->calls;
                conn->calls = c->next_in_conn;
                nghttp2_session_set_stream_user_data(conn->session, c->id, NULL);
                call_closed(c);
        }
        nghttp2_session_del(conn->session);
        if (epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, conn->fd, NULL) < 0)
                log_debug("unwatching a gRPC connection: %m");
        close(conn->fd);
        free(conn->out);
        free(conn);
}

void conn_event(Conn *conn, uint32_t events) {
        uint8_t buf[READ_CHUNK], filtered[READ_CHUNK + H2_FRAME_HEADER_LEN];
        if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                return;
        for (int i = 0; i < READS_PER_EVENT && !conn->dead; i++) {
                ssize_t n = recv(conn->fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        return;
                if (n <= 0) { /* the client closed, or the socket failed */
                        conn->dead = true;
                        return;
                }
                size_t len = h2_reset_filter(&conn->filter, buf, (size_t)n, filtered);
                ssize_t r = nghttp2_session_mem_recv(conn->session, filtered, len);
                if (r < 0) {
                        log_debug("gRPC connection: %s", nghttp2_strerror((int)r));
                        conn->dead = true;
                        return;
                }
                if ((size_t)n < sizeof(buf))
                        return;
        }
}

static void watch_out(Conn *conn, bool on) {
        if (conn->watching_out == on)
                return;
        struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = conn};
        if (epoll_ctl(conn->server->epoll_fd, EPOLL_CTL_MOD, conn->fd, &ev) == 0)
                conn->watching_out = on;
}

/* Take frames from nghttp2 into the connection's buffer, up to the high-water mark. */
static void fill_out(Conn *conn) {
        while (conn->out_len < OUT_HIGH_WATER) {
                const uint8_t *data;
                ssize_t n = nghttp2_session_mem_send(conn->session, &data);
                if (n < 0) {
                        log_debug("gRPC connection: %s", nghttp2_strerror((int)n));
                        conn->dead = true;
                }
                if (n <= 0)
                        return;
                if (conn->out_len + (size_t)n > conn->out_cap) {
                        conn->out_cap = MAX(conn->out_len + (size_t)n, 2 * conn->out_cap);
                        conn->out = xrealloc(conn->out, conn->out_cap);
                }
                memcpy(conn->out + conn->out_len, data, (size_t)n);
                conn->out_len += (size_t)n;
        }
}

void conn_flush(Conn *conn) {
        for (;;) {
                if (conn->out_off == conn->out_len) {
                        conn->out_off = conn->out_len = 0;
                        if (conn->out_cap > OUT_KEEP) { /* a big answer went out: give its buffer back */
                                free(conn->out);
                                conn->out = NULL;
                                conn->out_cap = 0;
                        }
                        if (!conn->dead)
                                fill_out(conn);
                        if (conn->out_len == 0)
                                break;
                }
                ssize_t n = send(conn->fd, conn->out + conn->out_off, conn->out_len - conn->out_off,
                                 MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                /*
                 * A broken connection is not read any more, so its unread input would wake this thread
                 * without end; its client is owed nothing more.
                 */
                if (n < 0 && errno == EAGAIN && conn->dead) {
                        conn_free(conn);
                        return;
                }
                if (n < 0 && errno == EAGAIN) {
                        watch_out(conn, true);
                        return;
                }
                if (n < 0) {
                        log_debug("gRPC connection: %m");
                        conn_free(conn);
                        return;
                }
                conn->out_off += (size_t)n;
        }
        watch_out(conn, false);
        if (conn->dead ||
            (!nghttp2_session_want_read(conn->session) && !nghttp2_session_want_write(conn->session)))
                conn_free(conn);
}

void conn_goaway(Conn *conn) {
        nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE,
                              nghttp2_session_get_last_proc_stream_id(conn->session), NGHTTP2_NO_ERROR, NULL,
                              0);
}

int conn_setup(RpcServer *s) {
        if (nghttp2_session_callbacks_new(&s->callbacks) != 0 || nghttp2_option_new(&s->options) != 0)
                return -ENOMEM;
        nghttp2_session_callbacks_set_on_begin_headers_callback(s->callbacks, on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(s->callbacks, on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(s->callbacks, on_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(s->callbacks, on_data_chunk);
        nghttp2_session_callbacks_set_on_stream_close_callback(s->callbacks, on_stream_close);
        /*
         * nghttp2's HTTP checks reset a stream whose :authority is not an RFC 3986 authority, and grpc-go
         * (crictl, critest, older kubelets) sends the socket's path there when it dials a path. What a
         * gRPC call needs checked (:method, :path, content-type) call_header() checks itself.
         */
        nghttp2_option_set_no_http_messaging(s->options, 1);
        return 0;
}

void conn_teardown(RpcServer *s) {
        nghttp2_session_callbacks_del(s->callbacks);
        nghttp2_option_del(s->options);
        s->callbacks = NULL;
        s->options = NULL;
}
