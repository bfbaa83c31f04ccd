/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "cancel.h"
#include "log.h"
#include "session.h"
#include "websocket.h"

/* Frames larger than this are refused: clients send at most 32 KiB of data per frame. */
#define MAX_FRAME_PAYLOAD (256 * 1024)
#define MAX_HEADER_BYTES (16 * 1024)
#define MAX_HEADERS 64
/* A finished session waits this long for the client to read what is queued and hang up. */
#define LINGER_MS 5000
/* v5 over WebSocket: a message on this channel closes the client's side of another channel. */
#define WS_CLOSE_CHANNEL 255
/*
 * When sends first wait for the window of a peer that has not shown flow control, a PING with this ID
 * follows the data. A peer that keeps windows gives some back before it gets to the PING (it has read the
 * data first); one that answers the PING without doing so keeps none (moby/spdystream, which kubectl and
 * crictl use, never opens a window): see spdy-flow.h. A peer that answers neither is given FLOW_GRACE_MS.
 */
#define FLOW_PROBE_ID 2
#define FLOW_GRACE_MS 1000

bool session_can_send(const Session *s) {
        return s->out.len + s->flow.pending_total < SESSION_OUT_HIGH && !s->client_gone;
}

bool session_can_send_on(const Session *s, uint32_t ch) {
        return session_can_send(s) &&
               (s->proto != PROTO_SPDY || spdy_flow_pending(&s->flow, ch) < SESSION_READ_CHUNK);
}

size_t session_pending(const Session *s, uint32_t ch) {
        return s->proto == PROTO_SPDY ? spdy_flow_pending(&s->flow, ch) : 0;
}

void session_consumed(Session *s, uint32_t ch, size_t n) {
        if (s->proto == PROTO_SPDY && !s->client_gone)
                spdy_flow_consumed(&s->flow, ch, n, &s->out);
}

void session_send(Session *s, uint32_t ch, const void *data, size_t len) {
        if (s->client_gone)
                return;
        if (s->proto == PROTO_SPDY)
                spdy_flow_send(&s->flow, ch, 0, data, len, &s->out);
        else if (s->base64)
                ws_put_base64_channel_frame(&s->out, (uint8_t)ch, data, len);
        else
                ws_put_channel_frame(&s->out, (uint8_t)ch, data, len);
}

void session_close_channel(Session *s, uint32_t ch) {
        if (s->proto == PROTO_SPDY && !s->client_gone)
                spdy_flow_send(&s->flow, ch, SPDY_FLAG_FIN, NULL, 0, &s->out);
}

void session_reply(Session *s, uint32_t stream_id) {
        if (spdy_put_headers_frame(&s->out, &s->z, SPDY_SYN_REPLY, stream_id, 0, NULL, 0) < 0)
                s->client_gone = true;
        spdy_flow_open(&s->flow, stream_id);
}

void session_reset(Session *s, uint32_t stream_id, uint32_t status) {
        spdy_put_rst(&s->out, stream_id, status);
        spdy_flow_close(&s->flow, stream_id);
}

/* The GOAWAY follows the last DATA frame, which may wait for the peer to open its window. */
static void say_goodbye(Session *s) {
        if (!s->goodbye_due || s->flow.pending_total > 0)
                return;
        s->goodbye_due = false;
        spdy_put_goaway(&s->out, s->last_client_stream, SPDY_GOAWAY_OK);
}

/* The peer keeps no SPDY windows: neither do we from now on. */
static void flow_give_up(Session *s, const char *why) {
        log_debug("stream session %s: %s; SPDY windows are not kept", s->peer, why);
        spdy_flow_give_up(&s->flow, &s->out);
        s->flow_blocked_ns = 0;
        say_goodbye(s);
}

void session_finish(Session *s) {
        if (s->finishing)
                return;
        s->finishing = true;
        if (s->proto == PROTO_SPDY) {
                s->goodbye_due = true;
                say_goodbye(s);
        } else {
                uint8_t normal[2] = {0x03, 0xe8}; /* 1000: normal closure */
                ws_put_frame(&s->out, WS_OP_CLOSE, normal, sizeof(normal));
        }
}

/* A protocol violation: say so (GOAWAY / close 1002), log, and stop reading. */
static int protocol_error(Session *s, const char *what) {
        log_warn("stream session %s: %s; closing the connection", s->peer, what);
        if (s->proto == PROTO_SPDY) {
                spdy_flow_done(&s->flow); /* queued data is dropped */
                spdy_flow_init(&s->flow);
                s->goodbye_due = false;
                spdy_put_goaway(&s->out, s->last_client_stream, SPDY_GOAWAY_PROTOCOL_ERROR);
        } else {
                uint8_t code[2] = {0x03, 0xea}; /* 1002: protocol error */
                ws_put_frame(&s->out, WS_OP_CLOSE, code, sizeof(code));
        }
        s->finishing = true;
        return -EPROTO;
}

static int spdy_syn_stream(Session *s, const SpdyFrame *f) {
        uint32_t id = f->stream_id;
        if (id % 2 == 0 || id <= s->last_client_stream)
                return protocol_error(s, "SYN_STREAM with an invalid stream ID");
        s->last_client_stream = id;
        SpdyHeaders h = {};
        int r = spdy_headers_decode(&s->z, f->payload + 10, f->length - 10, MAX_HEADER_BYTES, MAX_HEADERS,
                                    &h);
        if (r < 0)
                return protocol_error(s, r == -EMSGSIZE ? "header block too large" : "corrupt header block");
        if (s->ended) {
                spdy_headers_done(&h);
                spdy_put_rst(&s->out, id, SPDY_RST_REFUSED_STREAM);
                return 0;
        }
        r = s->ops->stream_open(s, id, &h, f->flags & SPDY_FLAG_FIN);
        spdy_headers_done(&h);
        return r;
}

/* A stream the peer broke the rules on: reset it and tell the handler. */
static void stream_error(Session *s, uint32_t id, uint32_t status, const char *what) {
        log_warn("stream session %s: %s on stream %u; resetting it", s->peer, what, id);
        session_reset(s, id, status);
        if (!s->ended)
                s->ops->reset(s, id);
}

static int window_update(Session *s, const SpdyFrame *f) {
        uint32_t id = f->stream_id, delta = be32(f->payload + 4) & 0x7fffffff;
        int r = spdy_flow_window_update(&s->flow, id, delta, &s->out);
        say_goodbye(s);
        if (r == 0)
                return 0;
        if (id == 0)
                return protocol_error(s, r == -EINVAL ? "WINDOW_UPDATE of 0" : "session window overflow");
        if (r == -EINVAL)
                stream_error(s, id, SPDY_RST_PROTOCOL_ERROR, "WINDOW_UPDATE of 0");
        else
                stream_error(s, id, SPDY_RST_FLOW_CONTROL_ERROR, "window overflow");
        return 0;
}

static int spdy_control(Session *s, const SpdyFrame *f) {
        SpdyHeaders h = {};
        int r;
        switch (f->type) {
        case SPDY_SYN_STREAM:
                return spdy_syn_stream(s, f);
        case SPDY_RST_STREAM:
                spdy_flow_close(&s->flow, f->stream_id);
                say_goodbye(s);
                if (!s->ended)
                        s->ops->reset(s, f->stream_id);
                return 0;
        case SPDY_WINDOW_UPDATE:
                return window_update(s, f);
        case SPDY_SETTINGS:
                r = spdy_flow_settings(&s->flow, f->payload, f->length, &s->out);
                say_goodbye(s);
                return r < 0 ? protocol_error(s, "malformed SETTINGS") : 0;
        case SPDY_PING:
                /* Client pings carry odd IDs: answer those. An even one is the echo of our probe. */
                if (be32(f->payload) % 2 == 1)
                        spdy_put_ping(&s->out, be32(f->payload));
                else if (be32(f->payload) == FLOW_PROBE_ID && s->flow.mode == SPDY_FLOW_UNKNOWN)
                        flow_give_up(s,
                                     "the client answered a PING behind a full window without opening it");
                return 0;
        case SPDY_GOAWAY:
                s->client_gone = true;
                return 0;
        case SPDY_HEADERS:
                /* Decoded only to keep the shared zlib stream in step; their content is not used. */
                r = spdy_headers_decode(&s->z, f->payload + 4, f->length - 4, MAX_HEADER_BYTES, MAX_HEADERS,
                                        &h);
                spdy_headers_done(&h);
                return r < 0 ? protocol_error(s, "corrupt header block") : 0;
        default:
                return 0;
        }
}

static int spdy_data(Session *s, const SpdyFrame *f) {
        bool fin = f->flags & SPDY_FLAG_FIN;
        int r = spdy_flow_received(&s->flow, f->stream_id, f->length, fin, &s->out);
        if (r == -EPROTO)
                return protocol_error(s, "session window overrun");
        if (r == -EOVERFLOW) {
                stream_error(s, f->stream_id, SPDY_RST_FLOW_CONTROL_ERROR, "window overrun");
                spdy_flow_consumed(&s->flow, f->stream_id, f->length, &s->out); /* the session's share */
                return 0;
        }
        if (s->ended) {
                spdy_flow_consumed(&s->flow, f->stream_id, f->length, &s->out);
                return 0;
        }
        if (f->length > 0)
                r = s->ops->data(s, f->stream_id, f->payload, f->length);
        if (r == 0 && fin)
                s->ops->fin(s, f->stream_id);
        return r;
}

/* Clients that keep to our windows are never paused: what they may send is bounded by the windows. */
static bool handler_can_receive(Session *s) {
        return s->ended || s->flow.mode == SPDY_FLOW_ON || s->ops->can_receive(s);
}

static int spdy_input(Session *s) {
        size_t off = 0;
        int r = 0;
        while (r == 0 && (!s->finishing || s->ended)) {
                SpdyFrame f;
                int n = spdy_frame_parse(s->in.data + off, s->in.len - off, MAX_FRAME_PAYLOAD, &f);
                if (n == 0)
                        break;
                if (n < 0) {
                        r = protocol_error(s, n == -EMSGSIZE ? "frame too large" : "malformed frame");
                        break;
                }
                off += (size_t)n;
                if (f.control) {
                        r = spdy_control(s, &f);
                        continue;
                }
                r = spdy_data(s, &f);
                if (!handler_can_receive(s))
                        break; /* leave the rest in the buffer until the handler caught up */
        }
        buf_consume(&s->in, off);
        return r;
}

/* The base64 channel form: '0' + channel, then base64. Text or binary messages are taken alike. */
static int ws_base64_message(Session *s, const WsFrame *f) {
        uint8_t digit = f->payload[0];
        if (digit < '0')
                return protocol_error(s, "bad channel in a base64 message");
        Buf data = {};
        int r = ws_base64_decode(f->payload + 1, f->length - 1, &data);
        if (r < 0)
                r = protocol_error(s, "bad base64 in a message");
        else if (data.len > 0)
                r = s->ops->data(s, (uint32_t)(digit - '0'), data.data, data.len);
        buf_done(&data);
        return r;
}

static int ws_message(Session *s, const WsFrame *f) {
        if (f->opcode == WS_OP_CLOSE) {
                s->client_gone = true;
                return 0;
        }
        if (f->opcode == WS_OP_PING) {
                ws_put_frame(&s->out, WS_OP_PONG, f->payload, f->length);
                return 0;
        }
        if (f->opcode == WS_OP_PONG)
                return 0;
        if (!f->fin || f->opcode == WS_OP_CONTINUATION)
                return protocol_error(s, "fragmented WebSocket messages are not supported");
        if (f->length == 0)
                return 0;
        if (s->base64)
                return ws_base64_message(s, f);
        uint8_t ch = f->payload[0];
        if (ch == WS_CLOSE_CHANNEL && s->version >= RC_V5) {
                if (f->length >= 2)
                        s->ops->fin(s, f->payload[1]);
                return 0;
        }
        return s->ops->data(s, ch, f->payload + 1, f->length - 1);
}

static int ws_input(Session *s) {
        size_t off = 0;
        int r = 0;
        while (r == 0 && !s->finishing && !s->client_gone) {
                WsFrame f;
                int n = ws_frame_parse(s->in.data + off, s->in.len - off, MAX_FRAME_PAYLOAD, &f);
                if (n == 0)
                        break;
                if (n < 0) {
                        r = protocol_error(s, n == -EMSGSIZE ? "frame too large" : "malformed frame");
                        break;
                }
                off += (size_t)n;
                r = ws_message(s, &f);
                if (!s->ops->can_receive(s))
                        break;
        }
        buf_consume(&s->in, off);
        return r;
}

static void read_socket(Session *s) {
        size_t cap = MAX_FRAME_PAYLOAD + 64;
        if (s->in.len >= cap)
                return;
        buf_reserve(&s->in, cap - s->in.len);
        ssize_t n = recv(s->fd, s->in.data + s->in.len, cap - s->in.len, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                s->client_gone = true;
                return;
        }
        s->in.len += (size_t)n;
        s->last_activity_ns = monotonic_ns();
}

static void write_socket(Session *s) {
        ssize_t n = send(s->fd, s->out.data, s->out.len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n < 0) {
                s->client_gone = true;
                s->out.len = 0;
                return;
        }
        buf_consume(&s->out, (size_t)n);
        s->last_activity_ns = monotonic_ns();
}

static bool want_input(Session *s) {
        return !s->client_gone && !s->finishing && s->out.len < SESSION_OUT_HIGH &&
               (s->proto == PROTO_SPDY ? handler_can_receive(s) : s->ops->can_receive(s));
}

/* Sends wait for a peer that has not shown flow control: probe it (FLOW_PROBE_ID), and bound the wait. */
static void flow_tick(Session *s, int64_t now) {
        if (s->proto != PROTO_SPDY || s->flow.mode != SPDY_FLOW_UNKNOWN || s->flow.pending_total == 0) {
                s->flow_blocked_ns = 0;
                return;
        }
        if (!s->flow_probed) {
                spdy_put_ping(&s->out, FLOW_PROBE_ID);
                s->flow_probed = true;
        }
        if (s->flow_blocked_ns == 0)
                s->flow_blocked_ns = now;
        else if (now >= s->flow_blocked_ns + FLOW_GRACE_MS * 1000000LL)
                flow_give_up(s, "the client left its window shut and did not answer a PING");
}

static int64_t earlier(int64_t a, int64_t b) {
        return a == 0 || (b != 0 && b < a) ? b : a;
}

static int poll_timeout_ms(const Session *s, int64_t now) {
        int64_t deadline = earlier(s->setup_deadline_ns, s->wake_ns);
        if (s->flow_blocked_ns)
                deadline = earlier(deadline, s->flow_blocked_ns + FLOW_GRACE_MS * 1000000LL);
        if (s->idle_timeout_ns > 0) {
                int64_t idle = s->last_activity_ns + s->idle_timeout_ns;
                deadline = deadline == 0 || idle < deadline ? idle : deadline;
        }
        if (deadline == 0)
                return -1;
        int64_t ms = (deadline - now) / 1000000 + 1;
        return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

static bool timed_out(Session *s, int64_t now) {
        if (s->setup_deadline_ns && now >= s->setup_deadline_ns) {
                log_warn("stream session %s: the client did not open its streams in time; closing", s->peer);
                return true;
        }
        if (s->idle_timeout_ns > 0 && now >= s->last_activity_ns + s->idle_timeout_ns) {
                log_info("stream session %s: idle for longer than stream_idle_timeout; closing", s->peer);
                return true;
        }
        return false;
}

/* Still owed to a SPDY peer: data waiting for its window, then the GOAWAY. */
static bool owing(const Session *s) {
        return s->proto == PROTO_SPDY && (s->flow.pending_total > 0 || s->goodbye_due);
}

/*
 * After the handler ended: write what waits for window (reading the peer's frames for its updates), say
 * goodbye, flush, shut our side, and read until the client hangs up. All bounded by LINGER_MS.
 */
static void linger(Session *s) {
        int64_t deadline = monotonic_ns() + LINGER_MS * 1000000LL;
        bool shut = false;
        s->ended = true;
        while (!s->client_gone) {
                int64_t now = monotonic_ns();
                flow_tick(s, now);
                int64_t left = (deadline - now) / 1000000;
                if (left <= 0)
                        break;
                if (s->out.len == 0 && !owing(s) && !shut) {
                        shutdown(s->fd, SHUT_WR);
                        shut = true;
                }
                if (s->flow_blocked_ns)
                        left = (s->flow_blocked_ns + FLOW_GRACE_MS * 1000000LL - now) / 1000000 + 1;
                struct pollfd p = {.fd = s->fd, .events = POLLIN | (s->out.len ? POLLOUT : 0)};
                if (poll(&p, 1, (int)(left < 0 ? 0 : left)) <= 0)
                        continue;
                if (p.revents & POLLOUT)
                        write_socket(s);
                if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && owing(s)) {
                        read_socket(s);
                        if (s->in.len > 0 && spdy_input(s) < 0)
                                break;
                } else if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
                        char sink[4096];
                        ssize_t n = recv(s->fd, sink, sizeof(sink), MSG_DONTWAIT);
                        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
                                s->client_gone = true;
                }
        }
}

static int parse_input(Session *s) {
        return s->proto == PROTO_SPDY ? spdy_input(s) : ws_input(s);
}

#define MAX_POLL 200

/* One turn of the loop; false when the session is over. */
static bool session_step(Session *s, int stop_fd) {
        struct pollfd p[MAX_POLL];
        p[0] = (struct pollfd){.fd = s->fd,
                               .events = (want_input(s) ? POLLIN : 0) | (s->out.len ? POLLOUT : 0)};
        p[1] = (struct pollfd){.fd = stop_fd, .events = POLLIN};
        size_t n = 2 + s->ops->pollfds(s, p + 2, MAX_POLL - 2);
        int r = poll(p, n, s->poll_now ? 0 : poll_timeout_ms(s, monotonic_ns()));
        s->poll_now = false;
        if (r < 0 && errno != EINTR)
                return false;
        if (r < 0)
                return true;
        if (p[1].revents)
                return false;
        if (p[0].revents & POLLOUT)
                write_socket(s);
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
                read_socket(s);
        if (s->in.len > 0 && want_input(s) && parse_input(s) < 0)
                return false;
        if (s->ops->on_poll(s, p + 2, n - 2) < 0 && !s->finishing)
                session_finish(s);
        flow_tick(s, monotonic_ns());
        return !s->client_gone && !s->finishing && !timed_out(s, monotonic_ns());
}

void session_run(Session *s, int stop_fd) {
        s->last_activity_ns = monotonic_ns();
        if (s->proto == PROTO_WEBSOCKET && s->ops->begin(s) < 0)
                session_finish(s);
        if (s->in.len > 0 && parse_input(s) < 0)
                s->finishing = true;
        while (!s->finishing && !s->client_gone && session_step(s, stop_fd))
                ;
        bool gone = s->client_gone || !s->finishing;
        s->ops->end(s, gone);
        if (!s->client_gone) {
                session_finish(s);
                linger(s);
        }
}

void session_free(Session *s) {
        if (!s)
                return;
        buf_done(&s->in);
        buf_done(&s->out);
        spdy_z_done(&s->z);
        spdy_flow_done(&s->flow);
        stream_request_free(s->req);
        free((char *)s->peer);
        free(s);
}
