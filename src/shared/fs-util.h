/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/* mkdir -p: create `path` and missing parents with `mode`. Existing directories are fine. */
int mkdir_parents_and_self(const char *path, mode_t mode);

/* Create the parent directories of `path` (not path itself). */
int mkdir_parents(const char *path, mode_t mode);

/*
 * Remove `path` and everything below it without following symlinks (entries are removed relative to
 * their directory's fd, so a symlink swapped in meanwhile cannot redirect the removal). A missing
 * path is fine. Returns the first error.
 */
int rm_rf(const char *path);

/* Write `len` bytes to `path` atomically (temp file in the same directory, fsync, rename, fsync dir). */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/*
 * The same rename, without the fsyncs: readers never see a half-written file and a killed daemon leaves
 * the old or the new one, but a power loss may lose it. For the runroot, which a reboot discards anyway
 * (two fsyncs per file cost ~1 ms each on a disk-backed /run).
 */
int write_file_replace(const char *path, const void *data, size_t len, mode_t mode);

/* Read a whole file of at most `max` bytes (NUL-terminated for convenience). -EFBIG when larger. */
int read_file(const char *path, size_t max, char **ret, size_t *ret_len);

/* Whether `path` is a namespace file (nsfs: /proc/PID/ns/X or a bind mount of one, as pins are). */
bool is_namespace_file(const char *path);

/* Whether one of the '/'-separated components of `path` is "..". */
bool path_has_dotdot(const char *path);
