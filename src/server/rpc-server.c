/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "daemon-metrics.h"
#include "grpc-wire.h"
#include "log.h"
#include "rpc-server-private.h"
#include "worker-pool.h"

/* Messages a stream keeps for a client that reads slower than they come; later ones are dropped. */
#define STREAM_QUEUE_MAX 1000
/*
 * Request bytes a connection may hold in calls not yet decoded, beyond one message of the largest size
 * allowed: a client cannot make the daemon buffer a largest message on each of its streams at once.
 */
#define BUFFERED_SLACK (16 * 1024 * 1024)
/* Request headers a call may carry (names and values, plus HPACK's 32 bytes per field). */
#define MAX_HEADER_BYTES (16 * 1024)

static bool on_server_thread(const RpcServer *s) {
        return pthread_equal(pthread_self(), s->thread);
}

static void wake(RpcServer *s) {
        uint64_t one = 1;
        if (write(s->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                log_error("cannot wake the gRPC connection thread: %m");
}

static double elapsed_ms(const struct timespec *since) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double)(now.tv_sec - since->tv_sec) * 1e3 + (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

static const char *call_name(const Call *c) {
        return c->method ? c->method->name : strempty(c->path);
}

Call *call_new(Conn *conn, int32_t id) {
        RpcServer *s = conn->server;
        Call *c = xcalloc(1, sizeof(*c));
        atomic_init(&c->refs, 1);
        c->server = s;
        c->conn = conn;
        c->id = id;
        cancel_init(&c->cancel, NULL, 0);
        clock_gettime(CLOCK_MONOTONIC, &c->started);
        pthread_mutex_init(&c->lock, NULL);
        pthread_mutex_lock(&s->lock);
        s->calls_in_flight++;
        pthread_mutex_unlock(&s->lock);
        return c;
}

static Call *call_ref(Call *c) {
        atomic_fetch_add(&c->refs, 1);
        return c;
}

static void out_drain_locked(Call *c) {
        while (c->out_head) {
                OutMsg *m = c->out_head;
                c->out_head = m->next;
                rpc_bytes_unref(m->bytes);
                free(m);
        }
        c->out_tail = NULL;
        c->out_len = c->out_pos = 0;
}

/* Drop the messages not started yet; one the client has part of still goes out whole. */
static void out_drain_unsent_locked(Call *c) {
        size_t pos = c->out_pos;
        OutMsg *started = pos > 0 ? c->out_head : NULL;
        if (started)
                c->out_head = started->next;
        out_drain_locked(c);
        if (started) {
                started->next = NULL;
                c->out_head = c->out_tail = started;
                c->out_len = 1;
                c->out_pos = pos;
        }
}

void call_unref(Call *c) {
        if (!c || atomic_fetch_sub(&c->refs, 1) > 1)
                return;
        RpcServer *s = c->server;
        out_drain_locked(c);
        if (c->req)
                protobuf_c_message_free_unpacked(c->req, NULL);
        free(c->path);
        free(c->encoding);
        free(c->body);
        free(c->message);
        pthread_mutex_destroy(&c->lock);
        free(c);
        pthread_mutex_lock(&s->lock);
        s->calls_in_flight--;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
}

/* Something new to send: on the connection thread hand it over now, else queue it there. */
static void call_kick(Call *c) {
        RpcServer *s = c->server;
        if (on_server_thread(s)) {
                call_send(c);
                return;
        }
        pthread_mutex_lock(&s->lock);
        bool first = s->n_kicks == 0;
        if (!c->kicked) {
                c->kicked = true;
                if (s->n_kicks == s->cap_kicks) {
                        s->cap_kicks = s->cap_kicks ? 2 * s->cap_kicks : 16;
                        s->kicks = xrealloc(s->kicks, s->cap_kicks * sizeof(*s->kicks));
                }
                s->kicks[s->n_kicks++] = call_ref(c);
        }
        pthread_mutex_unlock(&s->lock);
        if (first)
                wake(s);
}

static void out_push_locked(Call *c, RpcBytes *bytes) {
        OutMsg *m = xmalloc(sizeof(*m));
        *m = (OutMsg){.bytes = bytes};
        if (c->out_tail)
                c->out_tail->next = m;
        else
                c->out_head = m;
        c->out_tail = m;
        c->out_len++;
}

/*
 * End the call with `code`, after `resp` (consumed; NULL for none) and the messages queued before.
 * Any thread; only the first status counts.
 */
static void call_end(Call *c, GrpcStatus code, const char *full_message, RpcBytes *resp) {
        /* Only an error's message can be long: the reads the kubelet polls pay no copy. */
        char *message = code == GRPC_STATUS_OK ? NULL : grpc_status_message(full_message);
        pthread_mutex_lock(&c->lock);
        /* A call whose client left still ends, for the log and the metrics; only nothing is sent. */
        bool first = !c->status_set;
        if (first) {
                if (resp && !c->closed) {
                        out_push_locked(c, resp);
                        resp = NULL;
                }
                c->status_set = true;
                c->code = code;
                c->message = message;
                message = NULL;
        }
        pthread_mutex_unlock(&c->lock);
        rpc_bytes_unref(resp);
        if (!first) {
                free(message);
                return;
        }
        /* A stream was counted when it opened. */
        if (c->method && !c->is_stream)
                daemon_metrics_rpc(&c->server->daemon->metrics, c->method->name, code,
                                   elapsed_ms(&c->started) / 1e3);
        if (code == GRPC_STATUS_OK)
                log_debug("%s: OK in %.3f ms", call_name(c), elapsed_ms(&c->started));
        else
                log_info("%s: %s in %.3f ms: %s", call_name(c), grpc_status_to_string(code),
                         elapsed_ms(&c->started), strempty(c->message));
        call_kick(c);
}

static void call_end_error(Call *c, const Error *err) {
        call_end(c, grpc_status_from_errno(err->code), err->message, NULL);
}

void call_abort(Call *c, GrpcStatus code, const char *message) {
        cancel_request(&c->cancel);
        call_end(c, code, message, NULL);
}

/*
 * A handler's answer: the response (r >= 0) or the error; both are consumed, and so is the
 * reference held for the answer.
 */
static void call_answer(Call *c, int r, ProtobufCMessage *resp, RpcBytes *packed, Error *err) {
        if (r < 0) {
                if (!err)
                        error_set(&err, r, "%s failed", c->method->name);
                call_end_error(c, err);
        } else {
                if (!packed) {
                        packed = rpc_bytes_pack(resp);
                        protobuf_c_message_free_unpacked(resp, NULL);
                }
                if (packed->len > (size_t)c->server->max_send) {
                        _cleanup_free_ char *msg = xasprintf("response message larger than max (%zu vs. %d)",
                                                             packed->len, c->server->max_send);
                        rpc_bytes_unref(packed);
                        call_end(c, GRPC_STATUS_RESOURCE_EXHAUSTED, msg, NULL);
                } else
                        call_end(c, GRPC_STATUS_OK, NULL, packed);
        }
        error_free(err);
        call_unref(c);
}

/* Runs on a worker thread, or inline on the connection thread. */
static void call_run_handler(void *userdata) {
        Call *c = userdata;
        RpcContext ctx = {.daemon = c->server->daemon,
                          .method = c->method->name,
                          .cancel = &c->cancel,
                          .deferred = (RpcDeferred *)c};
        ProtobufCMessage *resp = NULL;
        Error *err = NULL;

        /* Queued behind others until the client gave up: do not start work nobody waits for. */
        if (cancel_requested(&c->cancel)) {
                int reason = cancel_reason(&c->cancel);
                call_end(c, reason == -ETIMEDOUT ? GRPC_STATUS_DEADLINE_EXCEEDED : GRPC_STATUS_CANCELLED,
                         "the call ended before a worker was free", NULL);
                call_unref(c);
                return;
        }
        if (!c->method->inline_ok) {
                /* The thread's name says which RPC it serves, for /debug/goroutines (15 bytes kept). */
                char name[16];
                snprintf(name, sizeof(name), "rpc %s", c->method->name);
                prctl(PR_SET_NAME, name);
        }
        int r = c->method->handler(&ctx, c->req, &resp, &err);
        if (r == RPC_DEFERRED)
                return; /* the call may be gone already */
        call_answer(c, r, resp, r >= 0 ? ctx.packed : NULL, err);
}

void rpc_deferred_finish(RpcDeferred *d, int r, ProtobufCMessage *resp, Error *err) {
        call_answer((Call *)d, r, resp, NULL, err);
}

/* Open a server-streaming call: the handler subscribes, then the response headers go out. */
static void call_open_stream(Call *c) {
        RpcContext ctx = {.daemon = c->server->daemon, .method = c->method->name, .cancel = &c->cancel};
        Error *err = NULL;
        /* Set first: once subscribed, the stream may be finished from another thread at once. */
        c->is_stream = true;
        int r = c->method->stream_handler(&ctx, c->req, c, &err);
        if (r < 0) {
                c->is_stream = false; /* nothing kept it: a plain error answer */
                if (!err)
                        error_set(&err, r, "%s failed", c->method->name);
                call_end_error(c, err);
                error_free(err);
                return;
        }
        daemon_metrics_rpc(&c->server->daemon->metrics, c->method->name, GRPC_STATUS_OK,
                           elapsed_ms(&c->started) / 1e3);
        log_debug("%s: stream open", c->method->name);
        call_send(c);
}

int call_header(Call *c, const uint8_t *name, size_t name_len, const uint8_t *value, size_t value_len) {
        c->header_bytes += name_len + value_len + 32;
        if (c->header_bytes > MAX_HEADER_BYTES)
                return -1;
#define IS(lit) (name_len == sizeof(lit) - 1 && memcmp(name, lit, name_len) == 0)
        if (IS(":path")) {
                free(c->path);
                c->path = xstrndup((const char *)value, value_len);
        } else if (IS(":method")) {
                c->post_seen = value_len == 4 && memcmp(value, "POST", 4) == 0;
                if (!c->post_seen)
                        c->refuse_http = 405;
        } else if (IS("content-type")) {
                c->content_type_seen = true;
                if (!grpc_content_type_ok((const char *)value, value_len) && !c->refuse_http)
                        c->refuse_http = 415;
        } else if (IS("grpc-encoding")) {
                free(c->encoding);
                c->encoding = xstrndup((const char *)value, value_len);
        } else if (IS("grpc-timeout")) {
                int64_t ns = grpc_timeout_parse((const char *)value, value_len);
                /* Malformed: as if there was none, as gRPC core does. */
                if (ns >= 0)
                        c->cancel.deadline_ns = monotonic_ns() + (ns > INT64_MAX / 2 ? INT64_MAX / 2 : ns);
        }
#undef IS
        return 0;
}

/* The request's headers are all in: refuse what cannot be served before its body comes. */
void call_headers_done(Call *c) {
        if (!c->post_seen && !c->refuse_http)
                c->refuse_http = 405;
        if (!c->content_type_seen && !c->refuse_http)
                c->refuse_http = 415;
        if (c->refuse_http || c->dispatched)
                return; /* rpc-conn.c answers a refused request with its HTTP status */
        c->method = c->path ? rpc_table_lookup(c->server->daemon->rpcs, c->path, strlen(c->path)) : NULL;
        if (!c->method) {
                c->dispatched = true;
                call_end(c, GRPC_STATUS_UNIMPLEMENTED, "unknown method", NULL);
        } else if (!c->method->handler && !c->method->stream_handler) {
                _cleanup_free_ char *msg = xasprintf("%s is not implemented yet by crio-c", c->method->name);
                c->dispatched = true;
                call_end(c, GRPC_STATUS_UNIMPLEMENTED, msg, NULL);
        }
}

/* The request's bytes are not needed any more; the connection may take others in their place. */
static void call_drop_body(Call *c) {
        if (c->conn)
                c->conn->buffered -= c->body_len;
        free(c->body);
        c->body = NULL;
        c->body_len = c->body_cap = 0;
}

void call_body(Call *c, const uint8_t *data, size_t len) {
        if (c->dispatched || c->refuse_http)
                return; /* answered already: the rest is dropped */
        size_t have = c->body_len;
        if (have + len >= GRPC_PREFIX_LEN) {
                uint8_t prefix[GRPC_PREFIX_LEN];
                size_t from_body = have < GRPC_PREFIX_LEN ? have : GRPC_PREFIX_LEN;
                if (from_body > 0) /* no body buffer yet before the first chunk */
                        memcpy(prefix, c->body, from_body);
                memcpy(prefix + from_body, data, GRPC_PREFIX_LEN - from_body);
                size_t announced = grpc_prefix_length(prefix);
                if (announced > (size_t)c->server->max_recv) {
                        _cleanup_free_ char *msg = xasprintf("received message larger than max (%zu vs. %d)",
                                                             announced, c->server->max_recv);
                        c->dispatched = true;
                        call_drop_body(c);
                        call_end(c, GRPC_STATUS_RESOURCE_EXHAUSTED, msg, NULL);
                        return;
                }
        }
        if (c->conn->buffered + len > (size_t)c->server->max_recv + BUFFERED_SLACK) {
                c->dispatched = true;
                call_drop_body(c);
                call_end(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
                         "too many request bytes in flight on this connection", NULL);
                return;
        }
        c->conn->buffered += len;
        if (have + len > c->body_cap) {
                c->body_cap = have + len > 2 * c->body_cap ? have + len : 2 * c->body_cap;
                c->body = xrealloc(c->body, c->body_cap);
        }
        memcpy(c->body + have, data, len);
        c->body_len += len;
        /* A second message of a unary call is refused when the request ends. */
}

/* Decode the one request message; false (and the call answered) when it is not there or bad. */
static bool call_unpack(Call *c) {
        const uint8_t *msg = NULL;
        size_t len = 0;
        bool compressed = false;
        switch (grpc_body_parse(c->body, c->body_len, &msg, &len, &compressed)) {
        case GRPC_BODY_EMPTY:
                call_end(c, GRPC_STATUS_INVALID_ARGUMENT, "missing request message", NULL);
                return false;
        case GRPC_BODY_INCOMPLETE:
                call_end(c, GRPC_STATUS_INTERNAL, "the request message was cut short", NULL);
                return false;
        case GRPC_BODY_EXTRA:
                call_end(c, GRPC_STATUS_INTERNAL, "more than one request message on a unary call", NULL);
                return false;
        case GRPC_BODY_ONE:
                break;
        }
        if (compressed) {
                /* Our answers never announce an encoding, so a client has no reason to compress. */
                bool named = c->encoding && strcmp(c->encoding, "identity") != 0;
                _cleanup_free_ char *m =
                        named ? xasprintf("grpc-encoding %s is not supported (only identity)", c->encoding)
                              : xstrdup("a compressed message, but grpc-encoding names no compression");
                call_end(c, named ? GRPC_STATUS_UNIMPLEMENTED : GRPC_STATUS_INTERNAL, m, NULL);
                return false;
        }
        c->req = protobuf_c_message_unpack(c->method->input, NULL, len, msg);
        if (!c->req) {
                _cleanup_free_ char *m = xasprintf("malformed %s request: cannot decode %s", c->method->name,
                                                   c->method->input->name);
                call_end(c, GRPC_STATUS_INVALID_ARGUMENT, m, NULL);
                return false;
        }
        call_drop_body(c);
        return true;
}

/* The client ended its side: route the request to its handler. */
void call_request_done(Call *c) {
        c->request_done = true;
        if (c->dispatched || c->refuse_http)
                return;
        c->dispatched = true;
        if (!call_unpack(c))
                return;
        if (c->method->stream_handler) {
                call_open_stream(c);
                return;
        }
        call_ref(c); /* the answer's */
        if (c->method->inline_ok)
                call_run_handler(c);
        else if (worker_pool_submit(c->method->long_running ? c->server->daemon->pull_workers
                                                            : c->server->daemon->workers,
                                    call_run_handler, c) < 0) {
                call_end(c, GRPC_STATUS_UNAVAILABLE, "the daemon is shutting down", NULL);
                call_unref(c);
        }
}

void call_closed(Call *c) {
        call_drop_body(c);
        c->conn = NULL;
        /* Closed before our status went out: the client gave up, so stop work done for it. */
        if (!c->ended)
                cancel_request(&c->cancel);
        pthread_mutex_lock(&c->lock);
        c->closed = true;
        out_drain_locked(c);
        void (*fn)(void *) = c->on_close;
        void *data = c->on_close_data;
        c->on_close = NULL;
        pthread_mutex_unlock(&c->lock);
        if (fn)
                fn(data);
        call_unref(c);
}

RpcStream *rpc_stream_ref(RpcStream *st) {
        return call_ref(st);
}

void rpc_stream_unref(RpcStream *st) {
        call_unref(st);
}

bool rpc_stream_send(RpcStream *st, const uint8_t *data, size_t len) {
        pthread_mutex_lock(&st->lock);
        bool queued = !st->closed && !st->status_set && st->out_len < STREAM_QUEUE_MAX;
        if (queued)
                out_push_locked(st, rpc_bytes_copy(data, len));
        pthread_mutex_unlock(&st->lock);
        if (queued)
                call_kick(st);
        return queued;
}

void rpc_stream_finish(RpcStream *st) {
        call_end(st, GRPC_STATUS_OK, NULL, NULL);
}

void rpc_stream_on_close(RpcStream *st, void (*fn)(void *userdata), void *userdata) {
        pthread_mutex_lock(&st->lock);
        st->on_close = fn;
        st->on_close_data = userdata;
        pthread_mutex_unlock(&st->lock);
}

/* ---- the connection thread ---- */

static void adopt_new_fds(RpcServer *s, int *fds, size_t n) {
        for (size_t i = 0; i < n; i++) {
                /* Handed over just before the shutdown began: it would miss the GOAWAY. */
                if (atomic_load(&s->stopping)) {
                        close(fds[i]);
                        continue;
                }
                Conn *conn = conn_new(s, fds[i]);
                if (conn)
                        conn_flush(conn); /* our SETTINGS */
        }
        free(fds);
}

/* Hand each kicked call's news to its connection; consumes the array and the calls' kick references. */
static void send_kicked(Call **calls, size_t n) {
        for (size_t i = 0; i < n; i++) {
                call_send(calls[i]);
                call_unref(calls[i]);
        }
        free(calls);
}

/* GOAWAY to every client, and the end of every stream, which would never end on its own. */
static void start_shutdown(RpcServer *s) {
        for (Conn *conn = s->conns; conn; conn = conn->next) {
                conn_goaway(conn);
                for (Call *c = conn->calls; c;) {
                        Call *next = c->next_in_conn;
                        if (c->is_stream) {
                                pthread_mutex_lock(&c->lock);
                                /* A message cut short would fail the stream as INTERNAL, not UNAVAILABLE. */
                                out_drain_unsent_locked(c);
                                pthread_mutex_unlock(&c->lock);
                                call_abort(c, GRPC_STATUS_UNAVAILABLE, "the daemon is shutting down");
                        }
                        c = next;
                }
        }
}

/* End the calls whose deadline passed: their clients stop waiting now, so their work stops too. */
static void expire_calls(RpcServer *s) {
        int64_t now = monotonic_ns();
        for (Conn *conn = s->conns; conn; conn = conn->next)
                for (Call *c = conn->calls; c;) {
                        Call *next = c->next_in_conn;
                        if (!c->ended && !c->expired && c->cancel.deadline_ns > 0 &&
                            now >= c->cancel.deadline_ns) {
                                /*
                                 * Once only: an answer already queued stays unsent (not ended) while the
                                 * client opens no window for it, and must not wake this thread again.
                                 */
                                c->expired = true;
                                /* A request still coming in is not routed any more when it ends. */
                                if (!c->dispatched) {
                                        c->dispatched = true;
                                        call_drop_body(c);
                                }
                                call_abort(c, GRPC_STATUS_DEADLINE_EXCEEDED, "deadline exceeded");
                        }
                        c = next;
                }
}

/* Milliseconds until the nearest deadline of a call still running, -1 for none. */
static int next_deadline_ms(RpcServer *s) {
        int64_t next = 0;
        for (Conn *conn = s->conns; conn; conn = conn->next)
                for (Call *c = conn->calls; c; c = c->next_in_conn)
                        if (!c->ended && !c->expired && c->cancel.deadline_ns > 0 &&
                            (next == 0 || c->cancel.deadline_ns < next))
                                next = c->cancel.deadline_ns;
        if (next == 0)
                return -1;
        int64_t ms = (next - monotonic_ns() + 999999) / 1000000;
        return ms < 0 ? 0 : ms > 60000 ? 60000 : (int)ms;
}

static void flush_all(RpcServer *s) {
        for (Conn *conn = s->conns; conn;) {
                Conn *next = conn->next;
                conn_flush(conn); /* may free it */
                conn = next;
        }
}

/* What other threads asked for: new connections, calls with answers, GOAWAY, closing. */
static bool take_requests(RpcServer *s) {
        uint64_t n;
        if (read(s->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
                log_debug("reading the gRPC wake-up: %m");
        pthread_mutex_lock(&s->lock);
        int *fds = s->new_fds;
        size_t n_fds = s->n_new_fds;
        s->new_fds = NULL;
        s->n_new_fds = 0;
        /* The array is taken whole: a call kicked again from now on goes into a new one. */
        Call **kicks = s->kicks;
        size_t n_kicks = s->n_kicks;
        for (size_t i = 0; i < n_kicks; i++)
                kicks[i]->kicked = false;
        s->kicks = NULL;
        s->n_kicks = s->cap_kicks = 0;
        bool goaway = s->goaway_due, close_all = s->close_all_due, exit_now = s->exit_due;
        s->goaway_due = s->close_all_due = false;
        pthread_mutex_unlock(&s->lock);

        adopt_new_fds(s, fds, n_fds);
        send_kicked(kicks, n_kicks);
        if (goaway)
                start_shutdown(s);
        if (close_all || exit_now) {
                /* A GOAWAY start_shutdown() queued just now goes out before its connection closes. */
                flush_all(s);
                while (s->conns)
                        conn_free(s->conns);
        }
        return exit_now;
}

static void *server_main(void *arg) {
        RpcServer *s = arg;
        prctl(PR_SET_NAME, "grpc server");
        struct epoll_event events[32];
        for (;;) {
                int n = epoll_wait(s->epoll_fd, events, ELEMENTSOF(events), next_deadline_ms(s));
                bool woken = false;
                for (int i = 0; i < n; i++) {
                        if (!events[i].data.ptr)
                                woken = true;
                        else
                                conn_event(events[i].data.ptr, events[i].events);
                }
                if (woken && take_requests(s))
                        return NULL;
                expire_calls(s);
                flush_all(s);
        }
}

int rpc_server_new(Daemon *d, RpcServer **ret, Error **reterr) {
        RpcServer *s = xcalloc(1, sizeof(*s));
        s->daemon = d;
        s->epoll_fd = s->wake_fd = -1;
        s->max_recv = config_grpc_max_recv(d->config);
        s->max_send = config_grpc_max_send(d->config);
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        s->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        /* The wake-up eventfd is the one watched fd without a connection (data.ptr NULL). */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        int r;
        if (s->epoll_fd < 0 || s->wake_fd < 0 || epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, s->wake_fd, &ev) < 0)
                r = -errno;
        else
                r = conn_setup(s);
        if (r < 0) {
                rpc_server_free(s);
                return error_set(reterr, r, "set up the gRPC server");
        }
        r = pthread_create(&s->thread, NULL, server_main, s);
        if (r != 0) {
                rpc_server_free(s);
                return error_set(reterr, -r, "start the gRPC connection thread");
        }
        s->thread_started = true;
        *ret = s;
        return 0;
}

void rpc_server_adopt_fd(RpcServer *s, int fd) {
        int flags = fcntl(fd, F_GETFL);
        if (atomic_load(&s->stopping) || flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                close(fd);
                return;
        }
        pthread_mutex_lock(&s->lock);
        s->new_fds = xrealloc(s->new_fds, (s->n_new_fds + 1) * sizeof(int));
        s->new_fds[s->n_new_fds++] = fd;
        pthread_mutex_unlock(&s->lock);
        wake(s);
}

static struct timespec deadline_after(int timeout_ms) {
        struct timespec t;
        clock_gettime(CLOCK_REALTIME, &t);
        t.tv_sec += timeout_ms / 1000;
        t.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (t.tv_nsec >= 1000000000L) {
                t.tv_sec++;
                t.tv_nsec -= 1000000000L;
        }
        return t;
}

/* Wait until no call is in flight; false on timeout. */
static bool wait_idle(RpcServer *s, int timeout_ms) {
        struct timespec deadline = deadline_after(timeout_ms);
        pthread_mutex_lock(&s->lock);
        while (s->calls_in_flight > 0)
                if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) != 0)
                        break;
        bool idle = s->calls_in_flight == 0;
        pthread_mutex_unlock(&s->lock);
        return idle;
}

static void request(RpcServer *s, bool *flag) {
        pthread_mutex_lock(&s->lock);
        *flag = true;
        pthread_mutex_unlock(&s->lock);
        wake(s);
}

void rpc_server_shutdown(RpcServer *s, int grace_ms) {
        if (!s)
                return;
        atomic_store(&s->stopping, true);
        /* GOAWAY to every client; streams never end on their own, so they end now. */
        request(s, &s->goaway_due);
        if (!wait_idle(s, grace_ms))
                log_info("cancelling gRPC calls still running after %d ms", grace_ms);
        /* Also closes idle connections, which a kubelet keeps open. */
        request(s, &s->close_all_due);
}

RpcServer *rpc_server_free(RpcServer *s) {
        if (!s)
                return NULL;
        if (s->thread_started) {
                /* Handlers have returned (the worker pool is drained), so their calls are on their way out.
                 */
                request(s, &s->close_all_due);
                wait_idle(s, 60000);
                request(s, &s->exit_due);
                pthread_join(s->thread, NULL);
        }
        for (size_t i = 0; i < s->n_new_fds; i++)
                close(s->new_fds[i]);
        free(s->new_fds);
        free(s->kicks); /* empty: every call was freed, and a kicked one holds a reference */
        if (s->epoll_fd >= 0)
                close(s->epoll_fd);
        if (s->wake_fd >= 0)
                close(s->wake_fd);
        conn_teardown(s);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s);
        return NULL;
}
