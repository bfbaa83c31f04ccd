/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "digest.h"
#include "error.h"
#include "tar-reader.h"

/*
 * Read an uncompressed tar stream (ustar, GNU, pax) from `input_fd` with tar-reader.h and create its
 * entries below the directory `root_fd` in overlay form. The reader only parses; every entry is created
 * here with *at() calls on a parent directory opened by openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS),
 * so nothing in the stream can reach outside `root_fd`, and the calling thread's working directory
 * is never used (several layers extract at once in one process).
 *
 * Kept: regular files (holes of sparse files stay holes), directories, symlinks, hard links, character and
 * block devices, fifos; numeric owners, modes including setuid/setgid/sticky, mtimes (and atimes), xattrs
 * user.* and security.capability on files and directories. Dropped: trusted.* and other security.* /
 * system.* xattrs (an image must not set overlay's own trusted.overlay.* or labels the runtime assigns),
 * ACLs, user and group names, sockets.
 * ".wh.NAME" becomes a 0/0 character device NAME, ".wh..wh..opq" the xattr trusted.overlay.opaque=y on its
 * directory, other ".wh..wh.*" (aufs bookkeeping) are skipped. Directory mtimes are set once all entries
 * exist.
 *
 * Errors: -EPERM for an entry that would land outside (absolute path, ".." component, a path through
 * a symlink, a hard link to a target outside or through a symlink), -EBADMSG for malformed tar data or
 * entries (unknown type, bad sparse map, invalid owner, missing hard link target), -ECANCELED once `*cancel`
 * (may be NULL) is set, else the failing call's -errno; the message names the entry. On error the tree is
 * partial. Reads `input_fd` up to the end-of-archive marker (not necessarily to EOF) and does not close
 * it. Blocks on `input_fd`.
 */
int tar_extract(int root_fd, int input_fd, const atomic_bool *cancel, Error **reterr);

/* The same, failing with -EFBIG once the layer holds more than `max_entries` entries (0: no limit). */
int tar_extract_limited(int root_fd, int input_fd, int64_t max_entries, const atomic_bool *cancel,
                        Error **reterr);

/*
 * tar_extract_limited() that also feeds every byte it reads from `input_fd` to `digest` (NULL: none),
 * so that the stream's digest is computed on the extracting thread rather than the one writing it.
 */
int tar_extract_digesting(int root_fd, int input_fd, int64_t max_entries, Digester *digest,
                          const atomic_bool *cancel, Error **reterr);

/* tar_extract_digesting() reading through `read` instead of a file descriptor. */
int tar_extract_stream(int root_fd, TarReadFn read, void *read_userdata, int64_t max_entries,
                       Digester *digest, const atomic_bool *cancel, Error **reterr);
