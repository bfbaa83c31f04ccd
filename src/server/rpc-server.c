/* SPDX-License-Identifier: Apache-2.0 */
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/time.h>

#include "cancel.h"
#include "daemon-metrics.h"
#include "grpc-status.h"
#include "log.h"
#include "rpc-server.h"
#include "rpc-table.h"
#include "worker-pool.h"

/*
 * Calls requested ahead of clients. Each completion re-arms its request before anything else, so a
 * burst larger than this queues inside gRPC core only until the completion thread reaches it; the
 * counts only decide how often that happens. Generic requests serve streams, unknown and unbuilt
 * methods; registered ones (see register_methods) serve one method each.
 */
#define PENDING_GENERIC 8
#define PENDING_INLINE 4
#define PENDING_WORKER 1
/* Messages a stream keeps for a client that reads slower than they come; later ones are dropped. */
#define STREAM_QUEUE_MAX 1000

typedef enum CallStage {
        CALL_REQUESTED, /* waiting for a client to start a call */
        CALL_RECEIVING, /* waiting for the request message */
        CALL_FINISHING, /* status sent, waiting for the client to close */
} CallStage;

/* Every completion-queue tag is one of these; `done` advances its state machine. */
typedef struct Tag {
        void (*done)(struct Tag *tag, bool ok);
} Tag;

/*
 * A method registered with gRPC core so that its calls arrive together with their request message,
 * which saves the RECV_MESSAGE batch a generic call needs.
 */
typedef struct Registration {
        const RpcMethod *method;
        void *handle; /* from grpc_server_register_method() */
} Registration;

struct RpcServer {
        Daemon *daemon;
        Registration *registrations;
        size_t n_registrations;
        grpc_server *server;
        grpc_completion_queue *cq;
        grpc_server_credentials *creds;
        pthread_t cq_thread;
        atomic_bool stopping;

        Tag shutdown_tag;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool shutdown_done;
        size_t calls_in_flight; /* started by a client, not yet freed */
        RpcStream *streams;     /* open server-streaming calls, to end them at shutdown */
};

typedef struct Call Call;

/* Completes when the client closes its side or cancels, possibly long before the handler is done. */
typedef struct CloseTag {
        Tag tag;
        Call *call;
} CloseTag;

struct Call {
        Tag tag;
        CloseTag close_tag;
        atomic_int refs; /* the main state machine, plus the close watch once started */
        Cancel cancel;
        RpcServer *server;
        const Registration *reg; /* NULL: a generic call, routed by its path */
        CallStage stage;
        grpc_call *call;
        grpc_call_details details;
        grpc_metadata_array request_md;
        grpc_byte_buffer *request;
        grpc_byte_buffer *response;
        grpc_slice status_details;
        int client_cancelled;
        const RpcMethod *method;
        ProtobufCMessage *req;
        struct timespec started;
        RpcStream *stream;  /* server-streaming calls, once open */
        bool close_seen;    /* the close watch completed (completion-queue thread only) */
        bool close_watched; /* a RECV_CLOSE_ON_SERVER batch of its own was started */
};

/*
 * One open server-streaming call. References: the call's own (dropped when the client leaves), the
 * handler's, and one while a send is in flight. The stream owns the call's main reference.
 */
struct RpcStream {
        atomic_int refs;
        Call *call;
        RpcStream *next; /* in the server's list, under its lock */
        pthread_mutex_t lock;
        Tag send_tag;
        grpc_byte_buffer *in_flight;
        grpc_byte_buffer *queue[STREAM_QUEUE_MAX]; /* a ring */
        size_t head, len;
        bool sending, closed, metadata_sent;
        bool finishing, status_sent; /* rpc_stream_finish(): OK once the queue is empty */
        grpc_slice status_details;
        void (*on_close)(void *userdata);
        void *on_close_data;
};

static void call_done(Tag *tag, bool ok);
static void close_done(Tag *tag, bool ok);
static void watch_close(Call *c);

static void call_free(Call *c) {
        if (atomic_fetch_sub(&c->refs, 1) > 1)
                return;
        if (c->stage != CALL_REQUESTED) {
                RpcServer *s = c->server;
                pthread_mutex_lock(&s->lock);
                s->calls_in_flight--;
                pthread_cond_broadcast(&s->cond);
                pthread_mutex_unlock(&s->lock);
        }
        if (c->call)
                grpc_call_unref(c->call);
        grpc_call_details_destroy(&c->details);
        grpc_metadata_array_destroy(&c->request_md);
        if (c->request)
                grpc_byte_buffer_destroy(c->request);
        if (c->response)
                grpc_byte_buffer_destroy(c->response);
        grpc_slice_unref(c->status_details);
        if (c->req)
                protobuf_c_message_free_unpacked(c->req, NULL);
        free(c);
}

static Call *call_new(RpcServer *s, const Registration *reg) {
        Call *c = xcalloc(1, sizeof(*c));
        c->tag.done = call_done;
        c->close_tag = (CloseTag){.tag.done = close_done, .call = c};
        atomic_init(&c->refs, 1);
        cancel_init(&c->cancel, NULL, 0);
        c->server = s;
        c->reg = reg;
        c->stage = CALL_REQUESTED;
        c->status_details = grpc_empty_slice();
        grpc_call_details_init(&c->details);
        grpc_metadata_array_init(&c->request_md);
        return c;
}

/* Wait for the next call of `reg`'s method, or with reg NULL of any method not registered. */
static void request_call(RpcServer *s, const Registration *reg) {
        if (atomic_load(&s->stopping))
                return;
        Call *c = call_new(s, reg);
        grpc_call_error e;
        /* Registered calls carry no method name; the deadline goes where a generic call has it. */
        if (reg)
                e = grpc_server_request_registered_call(s->server, reg->handle, &c->call,
                                                        &c->details.deadline, &c->request_md, &c->request,
                                                        s->cq, s->cq, &c->tag);
        else
                e = grpc_server_request_call(s->server, &c->call, &c->details, &c->request_md, s->cq, s->cq,
                                             &c->tag);
        if (e != GRPC_CALL_OK)
                call_free(c);
}

static double elapsed_ms(const struct timespec *since) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        return (double)(now.tv_sec - since->tv_sec) * 1e3 + (double)(now.tv_nsec - since->tv_nsec) / 1e6;
}

static const char *call_method(const Call *c, char *buf, size_t size) {
        if (c->method)
                return c->method->name;
        size_t len = GRPC_SLICE_LENGTH(c->details.method);
        if (len >= size)
                len = size - 1;
        memcpy(buf, GRPC_SLICE_START_PTR(c->details.method), len);
        buf[len] = '\0';
        return buf;
}

/*
 * Send the response (if any) and status in one batch; the call is freed once the client closed. A call
 * without a close watch of its own receives the close in the same batch: it completes once, when the
 * call is over, instead of twice. gRPC core allows it (one op of each kind) and frees the call only
 * after every batch completed, so the watch is needed only where a cancel must reach the work.
 */
static void call_finish(Call *c, grpc_status_code code, const char *full_message) {
        grpc_op ops[4];
        size_t n = 0;
        char name[128];
        /* Only an error's message can be long: the reads the kubelet polls pay no copy. */
        _cleanup_free_ char *cut = code == GRPC_STATUS_OK ? NULL : grpc_status_message(full_message);
        const char *message = cut ? cut : strempty(full_message);

        if (c->method)
                daemon_metrics_rpc(&c->server->daemon->metrics, c->method->name, code,
                                   elapsed_ms(&c->started) / 1e3);
        if (code == GRPC_STATUS_OK)
                log_debug("%s: OK in %.3f ms", call_method(c, name, sizeof(name)), elapsed_ms(&c->started));
        else
                log_info("%s: %s in %.3f ms: %s", call_method(c, name, sizeof(name)),
                         grpc_status_to_string(code), elapsed_ms(&c->started), message);

        memset(ops, 0, sizeof(ops));
        ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        if (code == GRPC_STATUS_OK && c->response) {
                ops[n].op = GRPC_OP_SEND_MESSAGE;
                ops[n++].data.send_message.send_message = c->response;
        }
        c->status_details = grpc_slice_from_copied_string(message);
        ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[n].data.send_status_from_server.status = code;
        ops[n++].data.send_status_from_server.status_details = &c->status_details;
        if (!c->close_watched) {
                ops[n].op = GRPC_OP_RECV_CLOSE_ON_SERVER;
                ops[n++].data.recv_close_on_server.cancelled = &c->client_cancelled;
        }

        c->stage = CALL_FINISHING;
        if (grpc_call_start_batch(c->call, ops, n, &c->tag, NULL) != GRPC_CALL_OK)
                call_free(c);
}

static void call_finish_errno(Call *c, const Error *err) {
        call_finish(c, grpc_status_from_errno(err->code), err->message);
}

static void stream_send_done(Tag *tag, bool ok);

RpcStream *rpc_stream_ref(RpcStream *st) {
        atomic_fetch_add(&st->refs, 1);
        return st;
}

static void stream_drain_locked(RpcStream *st) {
        for (; st->len > 0; st->len--, st->head = (st->head + 1) % STREAM_QUEUE_MAX)
                grpc_byte_buffer_destroy(st->queue[st->head]);
}

void rpc_stream_unref(RpcStream *st) {
        if (!st || atomic_fetch_sub(&st->refs, 1) > 1)
                return;
        RpcServer *s = st->call->server;
        pthread_mutex_lock(&s->lock);
        for (RpcStream **p = &s->streams; *p; p = &(*p)->next)
                if (*p == st) {
                        *p = st->next;
                        break;
                }
        pthread_mutex_unlock(&s->lock);
        stream_drain_locked(st);
        grpc_slice_unref(st->status_details);
        pthread_mutex_destroy(&st->lock);
        call_free(st->call);
        free(st);
}

/*
 * Start the next send: the initial metadata first, then one queued message, and once the queue is
 * empty the status of a finished stream. st->lock held.
 */
static void stream_send_next_locked(RpcStream *st) {
        grpc_op ops[2];
        size_t n = 0;
        memset(ops, 0, sizeof(ops));
        bool status_due = st->finishing && !st->status_sent && st->len == 0;
        if (st->sending || st->closed || (st->metadata_sent && st->len == 0 && !status_due))
                return;
        if (!st->metadata_sent) {
                ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
                st->metadata_sent = true;
        }
        if (st->len > 0) {
                st->in_flight = st->queue[st->head];
                st->head = (st->head + 1) % STREAM_QUEUE_MAX;
                st->len--;
                ops[n].op = GRPC_OP_SEND_MESSAGE;
                ops[n++].data.send_message.send_message = st->in_flight;
        } else if (status_due) {
                ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
                ops[n].data.send_status_from_server.status = GRPC_STATUS_OK;
                ops[n++].data.send_status_from_server.status_details = &st->status_details;
                st->status_sent = true;
        }
        st->sending = true;
        rpc_stream_ref(st);
        if (grpc_call_start_batch(st->call->call, ops, n, &st->send_tag, NULL) != GRPC_CALL_OK) {
                st->sending = false;
                st->closed = true;
                if (st->in_flight)
                        grpc_byte_buffer_destroy(st->in_flight);
                st->in_flight = NULL;
                atomic_fetch_sub(&st->refs, 1); /* the caller holds another */
        }
}

static void stream_send_done(Tag *tag, bool ok) {
        RpcStream *st = (RpcStream *)((char *)tag - offsetof(RpcStream, send_tag));
        pthread_mutex_lock(&st->lock);
        if (st->in_flight)
                grpc_byte_buffer_destroy(st->in_flight);
        st->in_flight = NULL;
        st->sending = false;
        if (!ok) { /* the call is over: nothing more can be sent */
                st->closed = true;
                stream_drain_locked(st);
        } else
                stream_send_next_locked(st);
        pthread_mutex_unlock(&st->lock);
        rpc_stream_unref(st);
}

bool rpc_stream_send(RpcStream *st, const uint8_t *data, size_t len) {
        pthread_mutex_lock(&st->lock);
        bool queued = !st->closed && !st->finishing && st->len < STREAM_QUEUE_MAX;
        if (queued) {
                grpc_slice slice = grpc_slice_from_copied_buffer((const char *)data, len);
                st->queue[(st->head + st->len) % STREAM_QUEUE_MAX] = grpc_raw_byte_buffer_create(&slice, 1);
                grpc_slice_unref(slice);
                st->len++;
                stream_send_next_locked(st);
        }
        pthread_mutex_unlock(&st->lock);
        return queued;
}

void rpc_stream_finish(RpcStream *st) {
        pthread_mutex_lock(&st->lock);
        st->finishing = true;
        stream_send_next_locked(st);
        pthread_mutex_unlock(&st->lock);
}

void rpc_stream_on_close(RpcStream *st, void (*fn)(void *userdata), void *userdata) {
        pthread_mutex_lock(&st->lock);
        st->on_close = fn;
        st->on_close_data = userdata;
        pthread_mutex_unlock(&st->lock);
}

/* The client left, cancelled, or the server ended the call: tell the handler, drop the call's reference. */
static void stream_closed(RpcStream *st) {
        pthread_mutex_lock(&st->lock);
        st->closed = true;
        stream_drain_locked(st);
        void (*fn)(void *) = st->on_close;
        void *data = st->on_close_data;
        st->on_close = NULL;
        pthread_mutex_unlock(&st->lock);
        if (fn)
                fn(data);
        rpc_stream_unref(st);
}

/* Open a server-streaming call: the handler subscribes, then the initial metadata goes out. */
static void call_open_stream(Call *c, RpcContext *ctx) {
        if (c->close_seen) {
                call_finish(c, GRPC_STATUS_CANCELLED, "the client went away");
                return;
        }
        RpcStream *st = xcalloc(1, sizeof(*st));
        atomic_init(&st->refs, 1);
        st->call = c;
        st->send_tag.done = stream_send_done;
        st->status_details = grpc_empty_slice();
        pthread_mutex_init(&st->lock, NULL);
        _cleanup_error_ Error *err = NULL;
        int r = c->method->stream_handler(ctx, c->req, st, &err);
        if (r < 0) {
                pthread_mutex_destroy(&st->lock);
                grpc_slice_unref(st->status_details);
                free(st);
                if (!err)
                        error_set(&err, r, "%s failed", c->method->name);
                call_finish_errno(c, err);
                return;
        }
        RpcServer *s = c->server;
        pthread_mutex_lock(&s->lock);
        st->next = s->streams;
        s->streams = st;
        pthread_mutex_unlock(&s->lock);
        daemon_metrics_rpc(&s->daemon->metrics, c->method->name, GRPC_STATUS_OK,
                           elapsed_ms(&c->started) / 1e3);
        log_debug("%s: stream open", c->method->name);
        pthread_mutex_lock(&st->lock);
        c->stream = st; /* from here on close_done ends the stream */
        stream_send_next_locked(st);
        pthread_mutex_unlock(&st->lock);
}

/* Answer with bytes already packed; takes the reference on `slice`. */
static void call_answer_packed(Call *c, grpc_slice slice) {
        c->response = grpc_raw_byte_buffer_create(&slice, 1);
        grpc_slice_unref(slice);
        call_finish(c, GRPC_STATUS_OK, NULL);
}

/* A handler's answer: the response (r >= 0) or the error; both are consumed. */
static void call_answer(Call *c, int r, ProtobufCMessage *resp, Error *err) {
        if (r < 0) {
                if (!err)
                        error_set(&err, r, "%s failed", c->method->name);
                call_finish_errno(c, err);
                error_free(err);
                return;
        }
        error_free(err);
        /* Packed straight into the slice gRPC sends: one allocation, no copy. */
        grpc_slice slice = grpc_slice_malloc(protobuf_c_message_get_packed_size(resp));
        protobuf_c_message_pack(resp, GRPC_SLICE_START_PTR(slice));
        protobuf_c_message_free_unpacked(resp, NULL);
        call_answer_packed(c, slice);
}

/* Runs on a worker thread. */
static void call_run_handler(void *userdata) {
        Call *c = userdata;
        RpcContext ctx = {.daemon = c->server->daemon,
                          .method = c->method->name,
                          .cancel = &c->cancel,
                          .deferred = (RpcDeferred *)c};
        ProtobufCMessage *resp = NULL;
        _cleanup_error_ Error *err = NULL;

        /* Queued behind others until the client gave up: do not start work nobody waits for. */
        if (cancel_requested(&c->cancel)) {
                int reason = cancel_reason(&c->cancel);
                call_finish(c, reason == -ETIMEDOUT ? GRPC_STATUS_DEADLINE_EXCEEDED : GRPC_STATUS_CANCELLED,
                            "the call ended before a worker was free");
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
        if (r >= 0 && ctx.has_packed) {
                call_answer_packed(c, ctx.packed);
                return;
        }
        call_answer(c, r, resp, err);
        err = NULL;
}

void rpc_deferred_finish(RpcDeferred *d, int r, ProtobufCMessage *resp, Error *err) {
        call_answer((Call *)d, r, resp, err);
}

static ProtobufCMessage *unpack_request(const RpcMethod *m, grpc_byte_buffer *buf) {
        /* A small uncompressed request is one slice: decode it in place rather than copy it. */
        const grpc_slice_buffer *sb = &buf->data.raw.slice_buffer;
        if (buf->type == GRPC_BB_RAW && buf->data.raw.compression == GRPC_COMPRESS_NONE && sb->count == 1)
                return protobuf_c_message_unpack(m->input, NULL, GRPC_SLICE_LENGTH(sb->slices[0]),
                                                 GRPC_SLICE_START_PTR(sb->slices[0]));
        grpc_byte_buffer_reader reader;
        if (!grpc_byte_buffer_reader_init(&reader, buf))
                return NULL;
        grpc_slice s = grpc_byte_buffer_reader_readall(&reader);
        grpc_byte_buffer_reader_destroy(&reader);
        ProtobufCMessage *msg =
                protobuf_c_message_unpack(m->input, NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
        grpc_slice_unref(s);
        return msg;
}

/* The request message arrived (for a registered call, with the call): route it. */
static void call_received(Call *c) {
        const char *path = (const char *)GRPC_SLICE_START_PTR(c->details.method);
        size_t len = GRPC_SLICE_LENGTH(c->details.method);
        char name[128];

        c->method = c->reg ? c->reg->method : rpc_table_lookup(c->server->daemon->rpcs, path, len);
        if (!c->method) {
                call_finish(c, GRPC_STATUS_UNIMPLEMENTED, "unknown method");
                return;
        }
        if (!c->method->handler && !c->method->stream_handler) {
                _cleanup_free_ char *msg = xasprintf("%s is not implemented yet by crio-c", c->method->name);
                call_finish(c, GRPC_STATUS_UNIMPLEMENTED, msg);
                return;
        }
        if (!c->request) {
                call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "missing request message");
                return;
        }
        c->req = unpack_request(c->method, c->request);
        if (!c->req) {
                _cleanup_free_ char *msg =
                        xasprintf("malformed %s request: cannot decode %s",
                                  call_method(c, name, sizeof(name)), c->method->input->name);
                call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, msg);
                return;
        }
        /* Inline handlers answer at once, so a cancel could not stop anything. */
        if (!c->method->inline_ok || c->method->stream_handler)
                watch_close(c);
        if (c->method->stream_handler) {
                RpcContext ctx = {
                        .daemon = c->server->daemon, .method = c->method->name, .cancel = &c->cancel};
                call_open_stream(c, &ctx);
        } else if (c->method->inline_ok)
                call_run_handler(c);
        else if (worker_pool_submit(c->method->long_running ? c->server->daemon->pull_workers
                                                            : c->server->daemon->workers,
                                    call_run_handler, c) < 0)
                call_finish(c, GRPC_STATUS_UNAVAILABLE, "the daemon is shutting down");
}

/* The client's deadline as CLOCK_MONOTONIC ns (gRPC's own monotonic clock has another origin). */
static int64_t deadline_to_monotonic(gpr_timespec deadline) {
        if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0)
                return 0;
        gpr_timespec left = gpr_time_sub(deadline, gpr_now(deadline.clock_type));
        int64_t ns = (int64_t)left.tv_sec * 1000000000LL + left.tv_nsec;
        return monotonic_ns() + (ns > 0 ? ns : 0);
}

/* Learn of a cancel while the call is still being served; at most once per call. */
static void watch_close(Call *c) {
        if (c->close_watched)
                return;
        grpc_op op = {.op = GRPC_OP_RECV_CLOSE_ON_SERVER};
        op.data.recv_close_on_server.cancelled = &c->client_cancelled;
        atomic_fetch_add(&c->refs, 1);
        if (grpc_call_start_batch(c->call, &op, 1, &c->close_tag.tag, NULL) == GRPC_CALL_OK)
                c->close_watched = true;
        else
                atomic_fetch_sub(&c->refs, 1);
}

static void close_done(Tag *tag, bool ok) {
        Call *c = ((CloseTag *)tag)->call;
        /* A close before our status went out means the client gave up: stop work done for it. */
        if (c->client_cancelled)
                cancel_request(&c->cancel);
        /* Both are only touched on the completion-queue thread, which also opens streams. */
        c->close_seen = true;
        if (c->stream)
                stream_closed(c->stream);
        call_free(c);
}

/*
 * A client started the call: re-arm its request so that the next call is matched. A registered call
 * is first answered (inline) or handed to a worker, which takes microseconds on this thread, the only
 * one that reads the connections, so the re-arm cannot delay a match and stays off the answer's path.
 */
static void call_started(Call *c) {
        RpcServer *s = c->server;
        const Registration *reg = c->reg;
        clock_gettime(CLOCK_MONOTONIC, &c->started);
        c->stage = CALL_RECEIVING;
        pthread_mutex_lock(&s->lock);
        s->calls_in_flight++;
        pthread_mutex_unlock(&s->lock);
        c->cancel.deadline_ns = deadline_to_monotonic(c->details.deadline);
        if (reg) {
                call_received(c); /* may free c */
                request_call(s, reg);
                return;
        }
        request_call(s, NULL);
        /* The method is not known yet: watch for a cancel while the message comes. */
        watch_close(c);
        grpc_op op = {.op = GRPC_OP_RECV_MESSAGE};
        op.data.recv_message.recv_message = &c->request;
        if (grpc_call_start_batch(c->call, &op, 1, &c->tag, NULL) != GRPC_CALL_OK)
                call_free(c);
}

static void call_done(Tag *tag, bool ok) {
        Call *c = (Call *)tag;
        switch (c->stage) {
        case CALL_REQUESTED:
                if (!ok) { /* server shutting down */
                        call_free(c);
                        return;
                }
                call_started(c);
                return;
        case CALL_RECEIVING:
                if (!ok) {
                        call_finish(c, GRPC_STATUS_CANCELLED, "the client went away");
                        return;
                }
                call_received(c);
                return;
        case CALL_FINISHING:
                call_free(c);
                return;
        }
}

static void shutdown_done(Tag *tag, bool ok) {
        RpcServer *s = (RpcServer *)((char *)tag - offsetof(RpcServer, shutdown_tag));
        pthread_mutex_lock(&s->lock);
        s->shutdown_done = true;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
}

static void *cq_main(void *arg) {
        RpcServer *s = arg;
        prctl(PR_SET_NAME, "grpc completion");
        for (;;) {
                grpc_event ev = grpc_completion_queue_next(s->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
                if (ev.type == GRPC_QUEUE_SHUTDOWN)
                        return NULL;
                if (ev.type == GRPC_OP_COMPLETE)
                        ((Tag *)ev.tag)->done(ev.tag, ev.success != 0);
        }
}

/*
 * Debian builds abseil without NDEBUG, which leaves its mutexes' deadlock detector on: every lock gRPC
 * core takes records lock-order edges in a global graph, a sixth of the daemon's user-space
 * instructions per read call (callgrind). Release builds of abseil have it off; turn it off with
 * abseil's own switch, SetMutexDeadlockDetectionMode(OnDeadlockCycle::kIgnore), kIgnore being 0. It
 * is looked up by its mangled name (abseil is C++), so another abseil just skips this.
 */
static void absl_deadlock_detection_off(void) {
        void (*set_mode)(int) = (void (*)(int))dlsym(
                RTLD_DEFAULT, "_ZN4absl7debian329SetMutexDeadlockDetectionModeENS0_15OnDeadlockCycleE");
        if (set_mode)
                set_mode(0);
}

/*
 * gRPC core's default poller (epoll1) registers every connection for EPOLLIN and EPOLLOUT,
 * edge-triggered. A unary call then wakes the completion thread twice: once for the request, and once
 * for nothing when the client has read the answer and the socket's send buffer drained (EPOLLOUT). That
 * second wake-up is paid on both sides: the client's read of our answer has to wake this thread (an
 * IPI on a virtual machine), and this thread sleeps and wakes once more per call. The "poll" poller
 * asks for POLLOUT only while a write is waiting, so a call costs one wake-up. Few connections reach a
 * CRI runtime (a kubelet keeps one or two), so poll() over all of them costs nothing extra. An
 * operator's GRPC_POLL_STRATEGY still wins. gRPC core reads the variable once, in its first
 * grpc_init(); it is removed again at once so that children spawned later do not inherit it.
 */
void rpc_server_global_init(void) {
        absl_deadlock_detection_off();
        bool set_strategy = !getenv("GRPC_POLL_STRATEGY");
        if (set_strategy)
                setenv("GRPC_POLL_STRATEGY", "poll", 1);
        grpc_init();
        if (set_strategy)
                unsetenv("GRPC_POLL_STRATEGY");
}

void rpc_server_global_done(void) {
        grpc_shutdown();
}

static grpc_arg int_arg(const char *key, int value) {
        grpc_arg a = {.type = GRPC_ARG_INTEGER, .key = (char *)key};
        a.value.integer = value;
        return a;
}

/*
 * Register every unary method that has a handler. Streams stay generic (they are rare and long), and
 * so do methods without a handler, which answer UNIMPLEMENTED like unknown paths.
 */
static void register_methods(RpcServer *s) {
        const RpcTable *t = s->daemon->rpcs;
        s->registrations = xcalloc(t->n, sizeof(Registration));
        for (size_t i = 0; i < t->n; i++) {
                const RpcMethod *m = &t->methods[i];
                if (!m->handler)
                        continue;
                void *handle = grpc_server_register_method(s->server, m->path, NULL,
                                                           GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
                if (handle)
                        s->registrations[s->n_registrations++] =
                                (Registration){.method = m, .handle = handle};
        }
}

int rpc_server_new(Daemon *d, RpcServer **ret, Error **reterr) {
        RpcServer *s = xcalloc(1, sizeof(*s));
        s->daemon = d;
        pthread_mutex_init(&s->lock, NULL);
        pthread_cond_init(&s->cond, NULL);
        s->shutdown_tag.done = shutdown_done;

        /* Kubelets ping idle connections; without these gRPC answers them with GOAWAY. */
        grpc_arg args[] = {
                int_arg(GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, config_grpc_max_recv(d->config)),
                int_arg(GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, config_grpc_max_send(d->config)),
                int_arg(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1),
                int_arg(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000),
                int_arg(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0),
        };
        grpc_channel_args channel_args = {.num_args = ELEMENTSOF(args), .args = args};

        grpc_init();
        s->server = grpc_server_create(&channel_args, NULL);
        s->cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, s->cq, NULL);
        register_methods(s);
        grpc_server_start(s->server);
        s->creds = grpc_insecure_server_credentials_create();
        if (pthread_create(&s->cq_thread, NULL, cq_main, s) != 0) {
                int r = -errno;
                grpc_server_destroy(s->server);
                grpc_completion_queue_destroy(s->cq);
                grpc_server_credentials_release(s->creds);
                free(s->registrations);
                free(s);
                return error_set(reterr, r, "start gRPC completion thread");
        }
        for (int i = 0; i < PENDING_GENERIC; i++)
                request_call(s, NULL);
        for (size_t i = 0; i < s->n_registrations; i++) {
                const Registration *reg = &s->registrations[i];
                int pending = reg->method->inline_ok ? PENDING_INLINE : PENDING_WORKER;
                for (int j = 0; j < pending; j++)
                        request_call(s, reg);
        }
        *ret = s;
        return 0;
}

void rpc_server_adopt_fd(RpcServer *s, int fd) {
        int flags = fcntl(fd, F_GETFL);
        /* gRPC's event engine expects a non-blocking socket. */
        if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
                close(fd);
                return;
        }
        grpc_server_add_channel_from_fd(s->server, fd, s->creds);
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

/* Wait until `*flag` is true (or, with flag NULL, until no call is in flight). */
static bool wait_for(RpcServer *s, const bool *flag, int timeout_ms) {
        struct timespec deadline = deadline_after(timeout_ms);
        pthread_mutex_lock(&s->lock);
        while (flag ? !*flag : s->calls_in_flight > 0)
                if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) != 0)
                        break;
        bool done = flag ? *flag : s->calls_in_flight == 0;
        pthread_mutex_unlock(&s->lock);
        return done;
}

void rpc_server_shutdown(RpcServer *s, int grace_ms) {
        if (!s)
                return;
        atomic_store(&s->stopping, true);
        grpc_server_shutdown_and_notify(s->server, s->cq, &s->shutdown_tag);
        /* Streams never end on their own: end them now rather than after the grace period. */
        pthread_mutex_lock(&s->lock);
        for (RpcStream *st = s->streams; st; st = st->next)
                grpc_call_cancel_with_status(st->call->call, GRPC_STATUS_UNAVAILABLE,
                                             "the daemon is shutting down", NULL);
        pthread_mutex_unlock(&s->lock);
        if (!wait_for(s, NULL, grace_ms))
                log_info("cancelling gRPC calls still running after %d ms", grace_ms);
        /* Also closes idle client channels, which shutdown alone would wait for (a kubelet keeps one). */
        grpc_server_cancel_all_calls(s->server);
}

RpcServer *rpc_server_free(RpcServer *s) {
        if (!s)
                return NULL;
        /* Handlers have returned (the worker pool is drained), so their calls are on their way out. */
        wait_for(s, NULL, 60000);
        wait_for(s, &s->shutdown_done, 60000);
        grpc_server_destroy(s->server);
        grpc_completion_queue_shutdown(s->cq);
        pthread_join(s->cq_thread, NULL);
        grpc_completion_queue_destroy(s->cq);
        grpc_server_credentials_release(s->creds);
        grpc_shutdown();
        free(s->registrations);
        pthread_mutex_destroy(&s->lock);
        pthread_cond_destroy(&s->cond);
        free(s);
        return NULL;
}
