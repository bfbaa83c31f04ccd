/* SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "grpc-wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is what a client sends on a gRPC connection, from its preface on. The reset filter gives the
 * same bytes whether they come at once or cut into pieces (the first byte picks the piece size), never
 * more than it was given plus one held frame header, and what it drops are whole RST_STREAM frames. The
 * same bytes are also read as a request body and as a grpc-timeout value, which must not crash.
 */
static size_t filter_whole(const uint8_t *data, size_t size, uint8_t *out) {
        H2ResetFilter f;
        h2_reset_filter_init(&f);
        return h2_reset_filter(&f, data, size, out);
}

static size_t filter_in_pieces(const uint8_t *data, size_t size, size_t piece, uint8_t *out) {
        H2ResetFilter f;
        h2_reset_filter_init(&f);
        size_t o = 0;
        for (size_t i = 0; i < size; i += piece) {
                size_t n = i + piece > size ? size - i : piece;
                size_t got = h2_reset_filter(&f, data + i, n, out + o);
                if (got > n + H2_FRAME_HEADER_LEN)
                        abort();
                o += got;
        }
        return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t *whole = malloc(size + H2_FRAME_HEADER_LEN), *pieces = malloc(size + H2_FRAME_HEADER_LEN);
        if (!whole || !pieces)
                abort();
        size_t piece = size ? (size_t)data[0] % 17 + 1 : 1;
        size_t a = filter_whole(data, size, whole);
        size_t b = filter_in_pieces(data, size, piece, pieces);
        /* Only frames go, and a frame is at least a header: the output is never longer than the input. */
        if (a != b || a > size || memcmp(whole, pieces, a) != 0)
                abort();

        const uint8_t *msg;
        size_t len;
        bool compressed;
        if (grpc_body_parse(data, size, &msg, &len, &compressed) == GRPC_BODY_ONE &&
            (msg != data + GRPC_PREFIX_LEN || len + GRPC_PREFIX_LEN != size))
                abort();
        int64_t ns = grpc_timeout_parse((const char *)data, size);
        if (ns < -1)
                abort();
        free(whole);
        free(pieces);
        return 0;
}
