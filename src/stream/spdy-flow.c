/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "spdy-flow.h"
#include "spdy.h"

/* Give receive window back once half of it was consumed: fewer frames, and the peer never runs dry. */
#define CREDIT_THRESHOLD (SPDY_INITIAL_WINDOW / 2)
#define MAX_DATA_FRAME (64 * 1024)
/* Beyond this many tracked streams, streams we finished sending on are forgotten first. */
#define STREAMS_COMPACT 256

static int64_t min64(int64_t a, int64_t b) {
        return a < b ? a : b;
}

void spdy_flow_init(SpdyFlow *f) {
        *f = (SpdyFlow){
                .initial_send = SPDY_INITIAL_WINDOW,
                .session_send = SPDY_INITIAL_WINDOW,
                .session_recv = SPDY_INITIAL_WINDOW,
        };
}

void spdy_flow_done(SpdyFlow *f) {
        for (size_t i = 0; i < f->n; i++)
                buf_done(&f->streams[i].pending);
        free(f->streams);
        spdy_flow_init(f);
}

static SpdyFlowStream *find(const SpdyFlow *f, uint32_t id) {
        for (size_t i = 0; i < f->n; i++)
                if (f->streams[i].id == id)
                        return &f->streams[i];
        return NULL;
}

static void remove_at(SpdyFlow *f, size_t i) {
        f->pending_total -= f->streams[i].pending.len;
        buf_done(&f->streams[i].pending);
        f->streams[i] = f->streams[--f->n];
}

static void compact(SpdyFlow *f) {
        for (size_t i = f->n; i-- > 0;)
                if (f->streams[i].fin_sent)
                        remove_at(f, i);
}

void spdy_flow_open(SpdyFlow *f, uint32_t id) {
        if (find(f, id))
                return;
        if (f->n >= STREAMS_COMPACT)
                compact(f);
        if (f->n == f->cap) {
                f->cap = f->cap ? 2 * f->cap : 8;
                f->streams = xrealloc(f->streams, f->cap * sizeof(SpdyFlowStream));
        }
        f->streams[f->n++] = (SpdyFlowStream){
                .id = id,
                .send_window = f->initial_send,
                .recv_window = SPDY_INITIAL_WINDOW,
        };
}

void spdy_flow_close(SpdyFlow *f, uint32_t id) {
        SpdyFlowStream *st = find(f, id);
        if (st)
                remove_at(f, (size_t)(st - f->streams));
}

/* Both sides said FIN and nothing waits: the stream needs no more accounting. */
static bool finished(const SpdyFlowStream *st) {
        return st->fin_sent && st->fin_received && st->pending.len == 0;
}

static void flush_stream(SpdyFlow *f, SpdyFlowStream *st, Buf *out) {
        while (st->pending.len > 0) {
                int64_t allow = (int64_t)st->pending.len;
                if (f->mode != SPDY_FLOW_OFF) {
                        allow = min64(allow, min64(st->send_window, f->session_send));
                        if (allow <= 0)
                                return;
                }
                allow = min64(allow, MAX_DATA_FRAME);
                bool fin = st->pending_fin && (size_t)allow == st->pending.len;
                spdy_put_data(out, st->id, fin ? SPDY_FLAG_FIN : 0, st->pending.data, (size_t)allow);
                if (f->mode != SPDY_FLOW_OFF) {
                        st->send_window -= allow;
                        f->session_send -= allow;
                }
                buf_consume(&st->pending, (size_t)allow);
                f->pending_total -= (size_t)allow;
                if (fin)
                        st->pending_fin = false, st->fin_sent = true;
        }
        buf_done(&st->pending);
        if (st->pending_fin) {
                spdy_put_data(out, st->id, SPDY_FLAG_FIN, NULL, 0);
                st->pending_fin = false;
                st->fin_sent = true;
        }
}

void spdy_flow_flush(SpdyFlow *f, Buf *out) {
        for (size_t i = f->n; i-- > 0;) {
                flush_stream(f, &f->streams[i], out);
                if (finished(&f->streams[i]))
                        remove_at(f, i);
        }
}

void spdy_flow_send(SpdyFlow *f, uint32_t id, uint8_t flags, const void *data, size_t len, Buf *out) {
        SpdyFlowStream *st = find(f, id);
        if (!st) {
                spdy_put_data(out, id, flags, data, len);
                return;
        }
        if (st->fin_sent || st->pending_fin)
                return; /* nothing may follow a FIN */
        buf_append(&st->pending, data, len);
        f->pending_total += len;
        st->pending_fin = flags & SPDY_FLAG_FIN;
        flush_stream(f, st, out);
        if (finished(st))
                remove_at(f, (size_t)(st - f->streams));
}

size_t spdy_flow_pending(const SpdyFlow *f, uint32_t id) {
        SpdyFlowStream *st = find(f, id);
        return st ? st->pending.len : 0;
}

void spdy_flow_give_up(SpdyFlow *f, Buf *out) {
        f->mode = SPDY_FLOW_OFF;
        spdy_flow_flush(f, out);
}

int spdy_flow_received(SpdyFlow *f, uint32_t id, size_t len, bool fin, Buf *out) {
        SpdyFlowStream *st = find(f, id);
        if (st && fin) {
                st->fin_received = true;
                if (finished(st)) {
                        remove_at(f, (size_t)(st - f->streams));
                        st = NULL;
                }
        }
        if (f->mode == SPDY_FLOW_OFF || len == 0)
                return 0;
        f->session_recv -= (int64_t)len;
        if (st)
                st->recv_window -= (int64_t)len;
        if (f->session_recv >= 0 && (!st || st->recv_window >= 0))
                return 0;
        if (f->mode == SPDY_FLOW_UNKNOWN) {
                spdy_flow_give_up(f, out);
                return 0;
        }
        return st && st->recv_window < 0 ? -EOVERFLOW : -EPROTO;
}

void spdy_flow_consumed(SpdyFlow *f, uint32_t id, size_t len, Buf *out) {
        if (f->mode == SPDY_FLOW_OFF || len == 0)
                return;
        f->session_credit += (uint32_t)len;
        if (f->session_credit >= CREDIT_THRESHOLD) {
                spdy_put_window_update(out, 0, f->session_credit);
                f->session_recv += f->session_credit;
                f->session_credit = 0;
        }
        SpdyFlowStream *st = find(f, id);
        if (!st || st->fin_received)
                return; /* the peer sends nothing more on it */
        st->recv_credit += (uint32_t)len;
        if (st->recv_credit >= CREDIT_THRESHOLD) {
                spdy_put_window_update(out, id, st->recv_credit);
                st->recv_window += st->recv_credit;
                st->recv_credit = 0;
        }
}

int spdy_flow_window_update(SpdyFlow *f, uint32_t id, uint32_t delta, Buf *out) {
        if (delta == 0 || delta > SPDY_MAX_WINDOW) {
                spdy_flow_close(f, id);
                return -EINVAL;
        }
        if (f->mode == SPDY_FLOW_UNKNOWN)
                f->mode = SPDY_FLOW_ON;
        if (id == 0) {
                if (f->session_send + delta > SPDY_MAX_WINDOW)
                        return -EOVERFLOW;
                f->session_send += delta;
                spdy_flow_flush(f, out);
                return 0;
        }
        SpdyFlowStream *st = find(f, id);
        if (!st)
                return 0; /* a stream that ended: updates may still be on their way */
        if (st->send_window + delta > SPDY_MAX_WINDOW) {
                spdy_flow_close(f, id);
                return -EOVERFLOW;
        }
        st->send_window += delta;
        flush_stream(f, st, out);
        if (finished(st))
                remove_at(f, (size_t)(st - f->streams));
        return 0;
}

int spdy_flow_settings(SpdyFlow *f, const uint8_t *payload, size_t len, Buf *out) {
        if (len < 4)
                return -EPROTO;
        uint32_t count = be32(payload);
        if (count > (len - 4) / 8)
                return -EPROTO;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *e = payload + 4 + 8 * i;
                uint32_t key = be32(e) & 0xffffff, value = be32(e + 4);
                if (key != SPDY_SETTINGS_INITIAL_WINDOW_SIZE)
                        continue;
                if (value > SPDY_MAX_WINDOW)
                        return -EPROTO;
                /* Every open stream's window moves by the difference, possibly below zero. */
                int64_t delta = (int64_t)value - f->initial_send;
                f->initial_send = value;
                for (size_t j = 0; j < f->n; j++)
                        f->streams[j].send_window += delta;
                if (f->mode == SPDY_FLOW_UNKNOWN)
                        f->mode = SPDY_FLOW_ON;
        }
        spdy_flow_flush(f, out);
        return 0;
}
