/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "spdy-flow.h"
#include "spdy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is what a client sends after the upgrade: a run of SPDY frames. Every frame is parsed as the
 * session does, header blocks are inflated on one shared zlib stream, and each decoded header set is
 * encoded again and must decode to the same pairs.
 */
static void check_headers(const SpdyHeaders *h) {
        SpdyZ a, b;
        if (spdy_z_init(&a) < 0 || spdy_z_init(&b) < 0)
                abort();
        const char **pairs = calloc(2 * h->n + 1, sizeof(char *));
        char **owned = calloc(2 * h->n + 1, sizeof(char *));
        for (size_t i = 0; i < h->n; i++) {
                owned[2 * i] = xstrndup(h->items[i].name, h->items[i].name_len);
                owned[2 * i + 1] = xstrndup(h->items[i].value, h->items[i].value_len);
                pairs[2 * i] = owned[2 * i];
                pairs[2 * i + 1] = owned[2 * i + 1];
        }
        Buf out = {};
        if (spdy_put_headers_frame(&out, &a, SPDY_HEADERS, 1, 0, pairs, h->n) < 0)
                abort();
        SpdyFrame f;
        if (spdy_frame_parse(out.data, out.len, UINT32_MAX, &f) != (int)out.len)
                abort();
        SpdyHeaders again = {};
        /* Embedded NULs shorten names and values on the way back; only the count must survive. */
        if (spdy_headers_decode(&b, f.payload + 4, f.length - 4, SIZE_MAX, SIZE_MAX, &again) < 0 ||
            again.n != h->n)
                abort();
        spdy_headers_done(&again);
        buf_done(&out);
        for (size_t i = 0; i < 2 * h->n; i++)
                free(owned[i]);
        free(owned);
        free(pairs);
        spdy_z_done(&a);
        spdy_z_done(&b);
}

/* Flow control driven by the same frames: whatever the peer sends, the accounting stays consistent. */
static void flow_step(SpdyFlow *fl, const SpdyFrame *f, Buf *out) {
        static const uint8_t chunk[4096];
        if (!f->control) {
                if (spdy_flow_received(fl, f->stream_id, f->length, f->flags & SPDY_FLAG_FIN, out) == 0)
                        spdy_flow_consumed(fl, f->stream_id, f->length / 2 + 1, out);
                spdy_flow_send(fl, f->stream_id, f->flags, chunk, f->length % sizeof(chunk), out);
        } else if (f->type == SPDY_SYN_STREAM) {
                spdy_flow_open(fl, f->stream_id);
        } else if (f->type == SPDY_RST_STREAM) {
                spdy_flow_close(fl, f->stream_id);
        } else if (f->type == SPDY_WINDOW_UPDATE) {
                spdy_flow_window_update(fl, f->stream_id, be32(f->payload + 4) & 0x7fffffff, out);
        } else if (f->type == SPDY_SETTINGS) {
                spdy_flow_settings(fl, f->payload, f->length, out);
        } else if (f->type == SPDY_PING) {
                spdy_flow_give_up(fl, out);
        }
        size_t pending = 0;
        for (size_t i = 0; i < fl->n; i++) {
                pending += fl->streams[i].pending.len;
                if (fl->streams[i].send_window > SPDY_MAX_WINDOW)
                        abort();
        }
        if (pending != fl->pending_total || fl->session_send > SPDY_MAX_WINDOW)
                abort();
        out->len = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        SpdyZ z;
        if (spdy_z_init(&z) < 0)
                abort();
        SpdyFlow fl;
        Buf flow_out = {};
        spdy_flow_init(&fl);
        size_t off = 0;
        for (;;) {
                SpdyFrame f;
                int n = spdy_frame_parse(data + off, size - off, 64 * 1024, &f);
                if (n <= 0)
                        break;
                if ((size_t)n > size - off || f.payload + f.length > data + size)
                        abort();
                off += (size_t)n;
                flow_step(&fl, &f, &flow_out);
                size_t skip = f.type == SPDY_SYN_STREAM ? 10 : 4;
                if (!f.control ||
                    (f.type != SPDY_SYN_STREAM && f.type != SPDY_SYN_REPLY && f.type != SPDY_HEADERS))
                        continue;
                SpdyHeaders h = {};
                int r = spdy_headers_decode(&z, f.payload + skip, f.length - skip, 16 * 1024, 64, &h);
                if (r < 0)
                        break; /* the session closes on a corrupt block: its zlib stream is lost */
                for (size_t i = 0; i < h.n; i++)
                        if (h.items[i].name + h.items[i].name_len > (const char *)h.block + 16 * 1024 ||
                            h.items[i].value + h.items[i].value_len > (const char *)h.block + 16 * 1024)
                                abort();
                check_headers(&h);
                free(spdy_headers_get(&h, "streamtype"));
                spdy_headers_done(&h);
        }
        spdy_z_done(&z);
        spdy_flow_done(&fl);
        buf_done(&flow_out);
        return 0;
}
