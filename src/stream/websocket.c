/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <openssl/evp.h>
#include <string.h>

#include "websocket.h"

int ws_frame_parse(uint8_t *buf, size_t len, size_t max_payload, WsFrame *ret) {
        if (len < 2)
                return 0;
        WsFrame f = {.fin = buf[0] & 0x80, .opcode = buf[0] & 0x0f};
        bool masked = buf[1] & 0x80;
        uint64_t plen = buf[1] & 0x7f;
        size_t off = 2;
        if ((buf[0] & 0x70) || !masked)
                return -EPROTO;
        if (f.opcode > WS_OP_BINARY && f.opcode < WS_OP_CLOSE)
                return -EPROTO;
        if (f.opcode > WS_OP_PONG)
                return -EPROTO;
        bool control = f.opcode >= WS_OP_CLOSE;
        if (control && (!f.fin || plen > 125))
                return -EPROTO;
        if (plen == 126) {
                if (len < 4)
                        return 0;
                plen = be16(buf + 2);
                off = 4;
        } else if (plen == 127) {
                if (len < 10)
                        return 0;
                plen = (uint64_t)be32(buf + 2) << 32 | be32(buf + 6);
                off = 10;
                if (plen >> 63)
                        return -EPROTO;
        }
        if (plen > max_payload)
                return -EMSGSIZE;
        if (len < off + 4 + plen)
                return 0;
        const uint8_t *mask = buf + off;
        off += 4;
        f.payload = buf + off;
        f.length = (size_t)plen;
        for (size_t i = 0; i < f.length; i++)
                f.payload[i] ^= mask[i & 3];
        *ret = f;
        return (int)(off + f.length);
}

static void put_header(Buf *out, uint8_t opcode, size_t len) {
        buf_put_u8(out, 0x80 | opcode);
        if (len < 126) {
                buf_put_u8(out, (uint8_t)len);
        } else if (len <= 0xffff) {
                buf_put_u8(out, 126);
                buf_put_be16(out, (uint16_t)len);
        } else {
                buf_put_u8(out, 127);
                buf_put_be32(out, (uint32_t)((uint64_t)len >> 32));
                buf_put_be32(out, (uint32_t)len);
        }
}

void ws_put_frame(Buf *out, uint8_t opcode, const void *data, size_t len) {
        put_header(out, opcode, len);
        buf_append(out, data, len);
}

void ws_put_channel_frame(Buf *out, uint8_t channel, const void *data, size_t len) {
        put_header(out, WS_OP_BINARY, len + 1);
        buf_put_u8(out, channel);
        buf_append(out, data, len);
}

char *ws_accept_key(const char *key) {
        static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; /* RFC 6455 section 1.3 */
        _cleanup_free_ char *text = xasprintf("%s%s", key, guid);
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (!EVP_Digest(text, strlen(text), digest, &n, EVP_sha1(), NULL))
                return NULL;
        char *out = xmalloc(4 * ((n + 2) / 3) + 1);
        EVP_EncodeBlock((unsigned char *)out, digest, (int)n);
        return out;
}
