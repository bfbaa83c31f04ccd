/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "websocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is what a client sends after the upgrade: a run of WebSocket frames, parsed (and unmasked in
 * place) as the session does. A parsed frame lies inside the input, and written back as a server frame it
 * has the same opcode and payload.
 */
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
        }
        free(buf);
        return 0;
}
