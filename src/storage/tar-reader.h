/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "error.h"

/*
 * A streaming reader of the tar formats image layers come in: POSIX ustar and pax (pax's path,
 * linkpath, size, uid, gid, mtime, atime and SCHILY.xattr.* records), GNU (long names and links,
 * base-256 numbers, atimes, sparse files), star and old v7 headers, with GNU's sparse files in pax
 * (formats 0.0, 0.1 and 1.0). Every header's checksum is checked; pax and long-name headers and
 * sparse maps are held to 1 MiB. GNU's multi-volume and dump-dir entries are refused. Where the
 * formats leave room for doubt the reader decides as Go's archive/tar does (containerd and CRI-O
 * read layers with it): a pax header replaces the one before it, a global header is skipped and
 * ends what came before it, an empty pax value is a value.
 *
 * Data is handed out where the source left it, without copying. The reader parses and nothing
 * else: what the entries mean on disk is tar-extract.c's business.
 */

/*
 * Where the reader reads: the next piece of the stream in *ret_buf, valid until the next call;
 * returns its length, 0 at the end, or -errno.
 */
typedef ssize_t (*TarReadFn)(void *userdata, const void **ret_buf);

typedef enum TarType {
        TAR_FILE,
        TAR_HARDLINK,
        TAR_SYMLINK,
        TAR_CHAR,
        TAR_BLOCK,
        TAR_DIR,
        TAR_FIFO,
} TarType;

typedef struct TarXattr {
        char *name;
        void *value;
        size_t size;
} TarXattr;

typedef struct TarEntry {
        char *path;        /* as the archive names it; may be empty */
        char *link_target; /* TAR_HARDLINK and TAR_SYMLINK: the target as stored (may be empty); else NULL */
        TarType type;
        mode_t perm;      /* permission bits with setuid, setgid and sticky */
        int64_t uid, gid; /* as stored: may be negative or huge, the caller decides */
        int64_t size;     /* TAR_FILE: the file's size, holes of a sparse file included; else 0 */
        struct timespec mtime;
        bool has_atime;
        struct timespec atime;
        uint32_t dev_major, dev_minor;
        TarXattr *xattrs;
        size_t n_xattrs;
} TarEntry;

typedef struct TarReader TarReader;

/* A reader of the stream `read` returns. Never fails. */
TarReader *tar_reader_new(TarReadFn read, void *userdata);
TarReader *tar_reader_free(TarReader *r);
static inline void tar_reader_freep(TarReader **r) {
        tar_reader_free(*r);
}

/*
 * Move to the next entry, skipping what is left of the current one's data. Returns 1 with the entry
 * in *ret (owned by the reader, valid until the next call), 0 at the end of the archive (two zero
 * blocks, one zero block and the end of the stream, or the end of the stream between entries; an
 * empty stream is an empty archive), -EBADMSG for malformed or truncated data, or the source's
 * -errno. Reads no further than the end-of-archive marker.
 */
int tar_reader_next(TarReader *r, const TarEntry **ret, Error **reterr);

/*
 * The next piece of the current entry's data: returns its length with *ret_buf pointing into the
 * source's buffer (valid until the next call on this reader) and *ret_offset where it belongs in the
 * file, 0 once all of it was returned, -EBADMSG when the stream ends early, or the source's -errno.
 * Offsets only grow; what no piece covers (a sparse file's holes, up to the entry's size) is zeros.
 */
ssize_t tar_reader_data(TarReader *r, const void **ret_buf, int64_t *ret_offset, Error **reterr);
