/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include "runtime-private.h"

/*
 * Every `runc init` copies the runc binary into a sealed memfd before it enters a container (runc's
 * defence against CVE-2019-5736), about 9 MiB per exec, unless the binary it runs from already is such a
 * memfd: runc accepts a fully sealed one as safe to reuse. So for the calls on the exec path the daemon
 * keeps one sealed copy per runtime binary and runs that; a changed binary on disk gets a new copy.
 */

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

static bool same_file(const SealedBinary *b, const struct stat *st) {
        return b->dev == st->st_dev && b->ino == st->st_ino && b->size == st->st_size &&
               b->mtime.tv_sec == st->st_mtim.tv_sec && b->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

static int seal_copy(const char *path, struct stat *ret_st) {
        _cleanup_close_ int in = open(path, O_RDONLY | O_CLOEXEC);
        if (in < 0 || fstat(in, ret_st) < 0)
                return -errno;
        const char *name = strrchr(path, '/');
        _cleanup_close_ int fd = memfd_create(name ? name + 1 : path, MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (fd < 0)
                return -errno;
        for (off_t left = ret_st->st_size; left > 0;) {
                ssize_t n = sendfile(fd, in, NULL, (size_t)left);
                if (n <= 0)
                        return n < 0 ? -errno : -EIO;
                left -= n;
        }
        if (fcntl(fd, F_ADD_SEALS, SEALS) < 0)
                return -errno;
        return TAKE_FD(fd);
}

void sealed_binaries_done(SealedBinaries *c) {
        for (size_t i = 0; i < c->n; i++) {
                free(c->items[i].path);
                close(c->items[i].fd);
        }
        free(c->items);
        c->items = NULL;
        c->n = 0;
}

int sealed_binary_fd(SealedBinaries *c, const char *path) {
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        pthread_mutex_lock(&c->lock);
        SealedBinary *b = NULL;
        for (size_t i = 0; i < c->n && !b; i++)
                if (strcmp(c->items[i].path, path) == 0)
                        b = &c->items[i];
        if (b && !same_file(b, &st)) {
                close(b->fd);
                free(b->path);
                *b = c->items[--c->n];
                b = NULL;
        }
        int r = 0;
        if (!b) {
                r = seal_copy(path, &st);
                if (r >= 0) {
                        c->items = xrealloc(c->items, (c->n + 1) * sizeof(SealedBinary));
                        b = &c->items[c->n++];
                        *b = (SealedBinary){.path = xstrdup(path),
                                            .fd = r,
                                            .dev = st.st_dev,
                                            .ino = st.st_ino,
                                            .size = st.st_size,
                                            .mtime = st.st_mtim};
                }
        }
        if (b) {
                r = fcntl(b->fd, F_DUPFD_CLOEXEC, 3);
                if (r < 0)
                        r = -errno;
        }
        pthread_mutex_unlock(&c->lock);
        return r;
}
