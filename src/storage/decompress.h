/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include "error.h"
#include "manifest.h"

/*
 * Streaming decompression of a layer blob: gzip through ISA-L's isal_inflate (multi-member streams,
 * each member's CRC32 and size trailer checked), zstd through libzstd (several frames in a row),
 * or plain passthrough. Decompressed output goes to a sink in pieces of at most DECOMPRESS_CHUNK_SIZE
 * bytes (plain input as it was fed), so memory stays bounded whatever the input.
 */
typedef struct Decompressor Decompressor;

#define DECOMPRESS_CHUNK_SIZE (256 * 1024)

/* Takes each piece of output; a negative return stops decompression and is returned by the feed. */
typedef int (*DecompressSink)(const void *data, size_t len, void *userdata, Error **reterr);

/*
 * Room for the next piece of output, when the caller wants it written in place (into a queue's
 * slot, say): *ret_buf and *ret_size >= 1. The sink is then handed a prefix of that room. A negative
 * return stops decompression like a failing sink.
 */
typedef int (*DecompressOutputFn)(void *userdata, void **ret_buf, size_t *ret_size, Error **reterr);

/* Never fails (allocation failure aborts); -EINVAL-worthy values are the caller's to reject first. */
Decompressor *decompressor_new(LayerCompression compression);

/*
 * Decompress `len` more input bytes and hand all output they complete to `sink` before returning.
 * -EBADMSG for corrupt data (bad header, block, checksum, or bytes after a gzip member or zstd frame
 * that do not start another one); a sink's error is returned as it is. Errors are sticky: later feeds
 * and the finish fail the same way. Does not block unless the sink does.
 */
int decompressor_feed(Decompressor *d, const void *data, size_t len, DecompressSink sink, void *userdata,
                      Error **reterr);

/*
 * End of input: -EBADMSG if a gzip or zstd stream stopped inside a member or frame, or was empty (an
 * empty plain stream is fine: it is an empty tar).
 */
int decompressor_finish(Decompressor *d, Error **reterr);

/*
 * Write compressed streams' output into room `fn` gives rather than an internal buffer (call before
 * the first feed). Plain streams still hand the sink the input as it was fed.
 */
void decompressor_set_output(Decompressor *d, DecompressOutputFn fn, void *userdata);

Decompressor *decompressor_free(Decompressor *d);
void decompressor_freep(Decompressor **d);
