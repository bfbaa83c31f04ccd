/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <sys/types.h>

/* mkdir -p: create `path` and missing parents with `mode`. Existing directories are fine. */
int mkdir_parents_and_self(const char *path, mode_t mode);

/* Create the parent directories of `path` (not path itself). */
int mkdir_parents(const char *path, mode_t mode);
