/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

#include "error.h"
#include "manifest.h"

/*
 * Unpack one image layer, pushed as it downloads, into an empty directory in overlay form.
 *
 * Bytes pushed are digested as they are (the blob digest), decompressed (gzip through ISA-L's
 * streaming isal_inflate, zstd through libzstd, or plain), digested again (the diff_id) and handed to
 * an extraction thread that reads the tar stream with tar-reader.h and creates entries below the
 * directory with *at() calls resolved under it (openat2 RESOLVE_BENEATH). Ownership, modes
 * (including setuid), xattrs, hard links, symlinks, device nodes, fifos and mtimes are kept;
 * ".wh.NAME" becomes a 0:0 character device NAME and ".wh..wh..opq" the xattr
 * trusted.overlay.opaque=y on its directory.
 *
 * An entry that would land outside the directory fails the unpack (-EPERM, message naming the entry):
 * absolute paths, ".." components, a path through a symlink, a hard link whose target is outside or
 * through a symlink. Malformed compression or tar data is -EBADMSG.
 */
typedef struct LayerUnpack LayerUnpack;

/*
 * Bounds on what one layer may cost, checked while it inflates, before any digest can be: a small
 * compressed blob can otherwise become tens of GiB or millions of inodes. Zero turns a bound off.
 */
typedef struct LayerLimits {
        int64_t max_size;       /* bytes of the tar stream */
        int64_t max_ratio;      /* tar bytes per compressed byte, once past LAYER_RATIO_FLOOR */
        int64_t max_entries;    /* files, directories, links, devices */
        int64_t min_free_space; /* bytes the layer's filesystem keeps free */
} LayerLimits;

/* Below this many tar bytes the ratio is not checked: tiny layers of text can inflate 100x. */
#define LAYER_RATIO_FLOOR (64LL * 1024 * 1024)

/* Start unpacking into `dir` (must exist, be empty). Starts the extraction thread. */
int layer_unpack_new(const char *dir, LayerCompression compression, LayerUnpack **ret, Error **reterr);

/*
 * The same under `limits` (NULL: none); `compressed_size` is the blob size the manifest declares (the
 * ratio's base; -1: unknown, no ratio check). A layer over a bound fails with -EFBIG, a filesystem
 * short of the free space with -ENOSPC, each naming the crio.conf key.
 */
int layer_unpack_new_limited(const char *dir, LayerCompression compression, const LayerLimits *limits,
                             int64_t compressed_size, LayerUnpack **ret, Error **reterr);

/*
 * The caller checks the blob digest itself (the registry client hashes while it downloads), so the
 * compressed bytes need not be hashed twice: layer_unpack_finish() then reports *ret_blob_digest as
 * NULL for compressed layers. Call before the first push.
 */
void layer_unpack_blob_verified_elsewhere(LayerUnpack *u);

/*
 * Feed downloaded bytes. Blocks while the extraction thread is behind (bounded buffering). Compressed
 * bytes are inflated in batches of 256 KiB, so a failure (corrupt data, a limit) may be reported by a
 * later push or by the finish rather than the push that carried it.
 */
int layer_unpack_push(LayerUnpack *u, const void *data, size_t len, Error **reterr);

/*
 * End of the blob: flush, wait for extraction, and report the blob digest (sha256 of what was
 * pushed), the diff_id (sha256 of the tar stream) and the tar stream's size. The object is freed.
 * On failure the directory may hold a partial tree: the caller removes it.
 */
int layer_unpack_finish(LayerUnpack *u, char **ret_blob_digest, char **ret_diff_id, int64_t *ret_tar_size,
                        Error **reterr);

/* Abandon an unpack (download failed or cancelled): stops and joins the thread, frees. */
LayerUnpack *layer_unpack_abort(LayerUnpack *u);
