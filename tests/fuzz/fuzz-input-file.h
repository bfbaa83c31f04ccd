/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/*
 * The loaders under test read files by path: hand them the input as a memfd, named by
 * /proc/self/fd/N. Writes `path` (room for 64 bytes) and returns the fd to close afterwards.
 */
static inline int fuzz_input_file(const uint8_t *data, size_t size, char path[static 64]) {
        int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
        if (fd < 0)
                abort();
        for (size_t off = 0; off < size;) {
                ssize_t n = write(fd, data + off, size - off);
                if (n <= 0)
                        abort();
                off += (size_t)n;
        }
        snprintf(path, 64, "/proc/self/fd/%d", fd);
        return fd;
}
