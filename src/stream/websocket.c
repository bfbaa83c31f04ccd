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

void ws_put_base64_channel_frame(Buf *out, uint8_t channel, const void *data, size_t len) {
        size_t enc = 4 * ((len + 2) / 3);
        uint8_t *msg = xmalloc(enc + 2); /* digit, text, and the NUL EVP_EncodeBlock writes */
        msg[0] = (uint8_t)('0' + channel);
        if (len > 0)
                EVP_EncodeBlock(msg + 1, data, (int)len);
        ws_put_frame(out, WS_OP_TEXT, msg, enc + 1);
        free(msg);
}

static int b64_value(uint8_t c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        return c == '+' ? 62 : c == '/' ? 63 : -1;
}

int ws_base64_decode(const uint8_t *in, size_t len, Buf *out) {
        if (len % 4 != 0)
                return -EINVAL;
        for (size_t i = 0; i < len; i += 4) {
                bool last = i + 4 == len;
                int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=') : 0;
                uint32_t v = 0;
                for (int k = 0; k < 4; k++) {
                        int x = k >= 4 - pad ? 0 : b64_value(in[i + k]);
                        if (x < 0)
                                return -EINVAL;
                        v = v << 6 | (uint32_t)x;
                }
                uint8_t b[3] = {v >> 16, (v >> 8) & 0xff, v & 0xff};
                buf_append(out, b, 3 - (size_t)pad);
        }
        return 0;
}
