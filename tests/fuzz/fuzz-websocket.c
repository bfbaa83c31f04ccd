/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is what a client sends after the upgrade: a run of WebSocket frames, parsed (and unmasked in
 * place) as the session does. A parsed frame lies inside the input, and written back as a server frame it
 * has the same opcode and payload. Text frames are also read as the base64 channel form: what decodes
 * encodes back to the same text.
 */
static void check_base64(const WsFrame *f) {
        if (f->opcode != WS_OP_TEXT || f->length == 0 || f->payload[0] < '0')
                return;
        Buf data = {}, again = {};
        if (ws_base64_decode(f->payload + 1, f->length - 1, &data) == 0) {
                ws_put_base64_channel_frame(&again, (uint8_t)(f->payload[0] - '0'), data.data, data.len);
                size_t head = again.len - f->length;
                /* Non-zero bits in the padding are dropped on the way in: compare all but the last group. */
                size_t same = f->length > 5 ? f->length - 4 : 1;
                if (again.len < f->length || memcmp(again.data + head, f->payload, same) != 0)
                        abort();
        }
        buf_done(&data);
        buf_done(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t *buf = malloc(size ? size : 1);
        if (!buf)
                abort();
        memcpy(buf, data, size);
        size_t off = 0;
        for (;;) {
                WsFrame f;
                int n = ws_frame_parse(buf + off, size - off, 64 * 1024, &f);
                if (n <= 0)
                        break;
                if ((size_t)n > size - off || f.payload + f.length > buf + size || f.payload < buf + off)
                        abort();
                off += (size_t)n;
                Buf out = {};
                ws_put_frame(&out, f.opcode, f.payload, f.length);
                size_t head = out.len - f.length;
                if ((out.data[0] & 0x0f) != f.opcode || memcmp(out.data + head, f.payload, f.length) != 0)
                        abort();
                buf_done(&out);
                check_base64(&f);
        }
        free(buf);
        return 0;
}
