/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/statvfs.h>

#include "chunk-queue.h"
#include "decompress.h"
#include "digest.h"
#include "layer-unpack.h"
#include "tar-extract.h"

/*
 * Inflated bytes wait in a chunk queue between pusher and extractor (a pipe cost two kernel copies
 * and a system call per piece on each side). Its 1 MiB is the only buffering between the two
 * (beyond one decompression chunk), so a slow disk slows the download instead of growing memory.
 */
#define QUEUE_SLOTS 4
#define QUEUE_SLOT_SIZE (256 * 1024)
/*
 * libcurl hands the body over in pieces of at most 16 KiB (CURL_MAX_WRITE_SIZE), however large its
 * receive buffer. isal_inflate costs about three times as much per byte when fed that little (its
 * per-call set-up and the block state carried across calls), so input is gathered into batches.
 */
#define INPUT_BATCH_SIZE (256 * 1024)

struct LayerUnpack {
        Decompressor *decompressor;
        Digester *blob_digest;
        uint8_t *batch; /* compressed bytes not yet inflated (INPUT_BATCH_SIZE); NULL for plain layers */
        size_t batch_len;
        bool blob_verified_elsewhere; /* skip hashing compressed bytes a second time */
        Digester *diff_digest;        /* NULL for plain layers: the tar is the blob, hashed once. The
                                         extractor's until it is joined. */
        int64_t tar_size;
        Error *error; /* the pusher's first failure, reported again by every later call */
        LayerLimits limits;
        int64_t max_tar_size;     /* the tighter of max_size and the ratio's bound; 0: none */
        int64_t next_space_check; /* tar_size at which free space is looked at again */

        int root_fd;
        ChunkQueue *queue; /* closing it is end of input for the extractor */
        pthread_t thread;
        bool thread_started;
        atomic_bool cancel;

        /* Written by the extractor before it sets extract_failed; read after that or after the join. */
        atomic_bool extract_failed;
        Error *extract_error;
};

/* The extractor's input: the queue's next chunk, read in place. */
static ssize_t read_queue(void *userdata, const void **ret_buf) {
        return (ssize_t)chunk_queue_read(userdata, ret_buf);
}

/* Read the queue to its end; what follows the end-of-archive marker still counts for the diff_id. */
static void drain(ChunkQueue *q, Digester *digest) {
        const void *buf;
        size_t n;
        while ((n = chunk_queue_read(q, &buf)) > 0)
                if (digest)
                        digester_update(digest, buf, n);
}

/*
 * After the end-of-archive marker (padding may follow) the queue is read to its end. After a failure
 * it is shut down instead, so that the pusher is never left blocked: its next write fails, and it
 * finds the reason in extract_failed.
 */
static void *extract_thread(void *userdata) {
        LayerUnpack *u = userdata;
        Error *e = NULL;

        /* The diff_id is hashed here, as the tar is read: the pushing thread has the most work. */
        if (tar_extract_stream(u->root_fd, read_queue, u->queue, u->limits.max_entries, u->diff_digest,
                               &u->cancel, &e) < 0) {
                if (!e)
                        error_set(&e, EIO, "layer extraction failed");
                u->extract_error = e;
                atomic_store_explicit(&u->extract_failed, true, memory_order_release);
                chunk_queue_shutdown(u->queue);
                return NULL;
        }
        drain(u->queue, u->diff_digest);
        return NULL;
}

static int extract_error(LayerUnpack *u, Error **reterr) {
        return error_set(reterr, u->extract_error->code, "%s", u->extract_error->message);
}

static bool extract_failed(LayerUnpack *u) {
        return atomic_load_explicit(&u->extract_failed, memory_order_acquire);
}

static int close_fd(int fd) {
        if (fd >= 0)
                close(fd);
        return -EBADF;
}

/* Stop the extractor (at its next entry or block) and wait for it. */
static void stop_thread(LayerUnpack *u) {
        if (!u->thread_started)
                return;
        atomic_store(&u->cancel, true);
        chunk_queue_close(u->queue);
        pthread_join(u->thread, NULL);
        u->thread_started = false;
}

static LayerUnpack *layer_unpack_free(LayerUnpack *u) {
        if (!u)
                return NULL;
        stop_thread(u);
        chunk_queue_free(u->queue);
        close_fd(u->root_fd);
        decompressor_free(u->decompressor);
        free(u->batch);
        digester_free(u->blob_digest);
        digester_free(u->diff_digest);
        error_free(u->error);
        error_free(u->extract_error);
        free(u);
        return NULL;
}

static void layer_unpack_freep(LayerUnpack **u) {
        *u = layer_unpack_free(*u);
}

LayerUnpack *layer_unpack_abort(LayerUnpack *u) {
        return layer_unpack_free(u);
}

static int check_empty(int dir_fd, const char *dir, Error **reterr) {
        int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        if (!d) {
                close_fd(fd);
                return error_set(reterr, errno, "read layer directory '%s': %m", dir);
        }
        struct dirent *de;
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
                        break;
        closedir(d);
        if (de)
                return error_set(reterr, ENOTEMPTY, "layer directory '%s' is not empty", dir);
        return 0;
}

/* The extractor takes no signals: they belong to the daemon's own signal handling threads. */
static int start_thread(LayerUnpack *u, Error **reterr) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        int r = pthread_create(&u->thread, NULL, extract_thread, u);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (r != 0)
                return error_set(reterr, r, "start layer extraction thread: %s", strerror(r));
        u->thread_started = true;
        return 0;
}

/* Free space is looked at every this many tar bytes: statfs is cheap, but not per 64 KiB chunk. */
#define SPACE_CHECK_INTERVAL (32LL * 1024 * 1024)

static int check_free_space(LayerUnpack *u, Error **reterr) {
        struct statvfs st;
        if (u->limits.min_free_space <= 0 || fstatvfs(u->root_fd, &st) < 0)
                return 0;
        u->next_space_check = u->tar_size + SPACE_CHECK_INTERVAL;
        uint64_t avail = (uint64_t)st.f_bavail * st.f_frsize;
        if (avail >= (uint64_t)u->limits.min_free_space)
                return 0;
        return error_set(reterr, ENOSPC,
                         "the image store has %" PRIu64 " bytes free, less than the %" PRId64
                         " it keeps free (crio.image.min_free_space)",
                         avail, u->limits.min_free_space);
}

static int check_limits(LayerUnpack *u, Error **reterr) {
        if (u->max_tar_size > 0 && u->tar_size > u->max_tar_size)
                return error_set(reterr, EFBIG,
                                 "layer inflates beyond %" PRId64 " bytes (crio.image.max_layer_size, "
                                 "crio.image.max_layer_inflation_ratio)",
                                 u->max_tar_size);
        if (u->limits.min_free_space > 0 && u->tar_size >= u->next_space_check)
                return check_free_space(u, reterr);
        return 0;
}

static int64_t bound_tar_size(const LayerLimits *l, int64_t compressed_size) {
        int64_t max = l->max_size;
        if (l->max_ratio > 0 && compressed_size >= 0) {
                int64_t by_ratio = compressed_size > INT64_MAX / l->max_ratio
                                           ? INT64_MAX
                                           : compressed_size * l->max_ratio;
                if (by_ratio < LAYER_RATIO_FLOOR)
                        by_ratio = LAYER_RATIO_FLOOR;
                if (max == 0 || by_ratio < max)
                        max = by_ratio;
        }
        return max;
}

static int queue_failed(LayerUnpack *u, int r, Error **reterr) {
        if (r == -EPIPE && extract_failed(u))
                return extract_error(u, reterr);
        return error_set(reterr, -r, "write to layer extraction: %s", strerror(-r));
}

/* Compressed layers inflate straight into the queue's slots: no copy between inflate and the tar reader. */
static int reserve_output(void *userdata, void **ret_buf, size_t *ret_size, Error **reterr) {
        LayerUnpack *u = userdata;
        int r = chunk_queue_reserve(u->queue, ret_buf, ret_size);
        return r < 0 ? queue_failed(u, r, reterr) : 0;
}

/*
 * Decompressed output: count it, check the limits, and hand it to the extractor: committed where it
 * was inflated, or (plain layers) copied in. Bytes over a limit are never handed over.
 */
static int forward_tar(const void *data, size_t len, void *userdata, Error **reterr) {
        LayerUnpack *u = userdata;

        u->tar_size += (int64_t)len;
        int r = check_limits(u, reterr);
        if (r < 0)
                return r;
        /* Checked before every write: a failed extractor takes nothing more, so stop feeding it. */
        if (extract_failed(u))
                return extract_error(u, reterr);
        if (u->batch) {
                chunk_queue_commit(u->queue, len);
                return 0;
        }
        r = chunk_queue_write(u->queue, data, len);
        return r < 0 ? queue_failed(u, r, reterr) : 0;
}

int layer_unpack_new(const char *dir, LayerCompression compression, LayerUnpack **ret, Error **reterr) {
        return layer_unpack_new_limited(dir, compression, NULL, -1, ret, reterr);
}

int layer_unpack_new_limited(const char *dir, LayerCompression compression, const LayerLimits *limits,
                             int64_t compressed_size, LayerUnpack **ret, Error **reterr) {
        if (compression != COMPRESSION_NONE && compression != COMPRESSION_GZIP &&
            compression != COMPRESSION_ZSTD)
                return error_set(reterr, EINVAL, "unknown layer compression %d", (int)compression);

        _cleanup_(layer_unpack_freep) LayerUnpack *u = xcalloc(1, sizeof(*u));
        u->root_fd = -EBADF;
        if (limits) {
                u->limits = *limits;
                u->max_tar_size = bound_tar_size(limits, compressed_size);
        }
        u->root_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (u->root_fd < 0)
                return error_set(reterr, errno, "open layer directory '%s': %m", dir);
        int r = check_empty(u->root_fd, dir, reterr);
        if (r < 0)
                return r;
        r = check_free_space(u, reterr);
        if (r < 0)
                return r;
        u->queue = chunk_queue_new(QUEUE_SLOTS, QUEUE_SLOT_SIZE);
        u->decompressor = decompressor_new(compression);
        u->blob_digest = digester_new(DIGEST_SHA256);
        if (compression != COMPRESSION_NONE) {
                u->diff_digest = digester_new(DIGEST_SHA256);
                u->batch = xmalloc(INPUT_BATCH_SIZE);
                decompressor_set_output(u->decompressor, reserve_output, u);
        }
        r = start_thread(u, reterr);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(u);
        return 0;
}

/* Remember the pusher's failure, and let the extractor run out: its own error no longer matters. */
static int push_failed(LayerUnpack *u, int r, Error **reterr) {
        if (!u->error)
                error_set(&u->error, r, "%s", reterr && *reterr ? (*reterr)->message : strerror(-r));
        atomic_store(&u->cancel, true);
        chunk_queue_close(u->queue);
        return r;
}

void layer_unpack_blob_verified_elsewhere(LayerUnpack *u) {
        u->blob_verified_elsewhere = true;
}

static int decompress(LayerUnpack *u, const void *data, size_t len, Error **reterr) {
        int r = decompressor_feed(u->decompressor, data, len, forward_tar, u, reterr);
        if (r < 0)
                return push_failed(u, r, reterr);
        if (extract_failed(u))
                return push_failed(u, extract_error(u, reterr), reterr);
        return 0;
}

static int flush_batch(LayerUnpack *u, Error **reterr) {
        size_t n = u->batch_len;
        u->batch_len = 0;
        return n > 0 ? decompress(u, u->batch, n, reterr) : 0;
}

int layer_unpack_push(LayerUnpack *u, const void *data, size_t len, Error **reterr) {
        if (u->error)
                return error_set(reterr, u->error->code, "%s", u->error->message);

        /* A plain layer's blob digest is its diff_id, so it is always needed then. */
        if (!u->blob_verified_elsewhere || !u->diff_digest)
                digester_update(u->blob_digest, data, len);
        /* Plain bytes and large pieces skip the copy; small ones wait until a batch is full. */
        if (!u->batch || (u->batch_len == 0 && len >= INPUT_BATCH_SIZE))
                return decompress(u, data, len, reterr);
        while (len > 0) {
                size_t n = INPUT_BATCH_SIZE - u->batch_len;
                if (n > len)
                        n = len;
                memcpy(u->batch + u->batch_len, data, n);
                u->batch_len += n;
                data = (const uint8_t *)data + n;
                len -= n;
                if (u->batch_len == INPUT_BATCH_SIZE) {
                        int r = flush_batch(u, reterr);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int finish(LayerUnpack *u, char **ret_blob_digest, char **ret_diff_id, int64_t *ret_tar_size,
                  Error **reterr) {
        if (u->error)
                return error_set(reterr, u->error->code, "%s", u->error->message);
        int r = flush_batch(u, reterr);
        if (r < 0)
                return r;
        r = decompressor_finish(u->decompressor, reterr);
        if (r < 0)
                return r;

        /* End of input for the extractor; it finishes what the queue holds, then exits. */
        chunk_queue_close(u->queue);
        pthread_join(u->thread, NULL);
        u->thread_started = false;
        if (u->extract_error)
                return extract_error(u, reterr);

        if (ret_blob_digest)
                *ret_blob_digest = u->blob_verified_elsewhere && u->diff_digest
                                           ? NULL
                                           : digester_result(u->blob_digest);
        if (ret_diff_id)
                *ret_diff_id = digester_result(u->diff_digest ? u->diff_digest : u->blob_digest);
        if (ret_tar_size)
                *ret_tar_size = u->tar_size;
        return 0;
}

int layer_unpack_finish(LayerUnpack *u, char **ret_blob_digest, char **ret_diff_id, int64_t *ret_tar_size,
                        Error **reterr) {
        int r = finish(u, ret_blob_digest, ret_diff_id, ret_tar_size, reterr);
        layer_unpack_free(u);
        return r;
}
