/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "chunk-queue.h"
#include "macros.h"

/*
 * Slots are used in ring order: the producer fills slot `w`, the consumer holds the slot before
 * `r` (while `holding`) and slots r .. r + n_queued - 1 wait for it. The producer may start a slot
 * only while fewer than n_slots are queued or held, so it never writes into one the consumer sees.
 */
struct ChunkQueue {
        pthread_mutex_t lock;
        pthread_cond_t readable; /* a slot was queued, or the stream closed */
        pthread_cond_t writable; /* a slot came back, or the consumer shut down */
        uint8_t *memory;
        size_t *lens; /* bytes in each queued slot */
        size_t n_slots, slot_size;

        size_t w, fill; /* producer's slot and how much of it is written; its own, no lock needed */
        size_t r, n_queued;
        bool holding;
        bool closed, shut;
};

ChunkQueue *chunk_queue_new(size_t n_slots, size_t slot_size) {
        ChunkQueue *q = xcalloc(1, sizeof(*q));
        pthread_mutex_init(&q->lock, NULL);
        pthread_cond_init(&q->readable, NULL);
        pthread_cond_init(&q->writable, NULL);
        q->memory = xmalloc(n_slots * slot_size);
        q->lens = xcalloc(n_slots, sizeof(size_t));
        q->n_slots = n_slots;
        q->slot_size = slot_size;
        return q;
}

ChunkQueue *chunk_queue_free(ChunkQueue *q) {
        if (!q)
                return NULL;
        pthread_mutex_destroy(&q->lock);
        pthread_cond_destroy(&q->readable);
        pthread_cond_destroy(&q->writable);
        free(q->memory);
        free(q->lens);
        free(q);
        return NULL;
}

static size_t busy(const ChunkQueue *q) {
        return q->n_queued + (q->holding ? 1 : 0);
}

/* Wait until the producer may start a new slot. Called with the lock held. */
static int wait_for_slot(ChunkQueue *q) {
        while (!q->shut && !q->closed && busy(q) >= q->n_slots)
                pthread_cond_wait(&q->writable, &q->lock);
        if (q->shut)
                return -EPIPE;
        return q->closed ? -EINVAL : 0;
}

/* Hand the producer's slot to the consumer. Called with the lock held. */
static void queue_slot(ChunkQueue *q) {
        q->lens[q->w] = q->fill;
        q->w = (q->w + 1) % q->n_slots;
        q->fill = 0;
        q->n_queued++;
        pthread_cond_signal(&q->readable);
}

int chunk_queue_reserve(ChunkQueue *q, void **ret_buf, size_t *ret_size) {
        if (q->fill == 0) {
                pthread_mutex_lock(&q->lock);
                int r = wait_for_slot(q);
                pthread_mutex_unlock(&q->lock);
                if (r < 0)
                        return r;
        }
        *ret_buf = q->memory + q->w * q->slot_size + q->fill;
        *ret_size = q->slot_size - q->fill;
        return 0;
}

void chunk_queue_commit(ChunkQueue *q, size_t len) {
        q->fill += len;
        if (q->fill < q->slot_size)
                return;
        pthread_mutex_lock(&q->lock);
        queue_slot(q);
        pthread_mutex_unlock(&q->lock);
}

int chunk_queue_write(ChunkQueue *q, const void *data, size_t len) {
        const uint8_t *p = data;
        while (len > 0) {
                void *room;
                size_t n;
                int r = chunk_queue_reserve(q, &room, &n);
                if (r < 0)
                        return r;
                if (n > len)
                        n = len;
                memcpy(room, p, n);
                chunk_queue_commit(q, n);
                p += n;
                len -= n;
        }
        return 0;
}

void chunk_queue_close(ChunkQueue *q) {
        pthread_mutex_lock(&q->lock);
        if (!q->closed) {
                if (q->fill > 0)
                        queue_slot(q);
                q->closed = true;
                pthread_cond_signal(&q->readable);
        }
        pthread_mutex_unlock(&q->lock);
}

size_t chunk_queue_read(ChunkQueue *q, const void **ret_data) {
        pthread_mutex_lock(&q->lock);
        if (q->holding) {
                q->holding = false;
                pthread_cond_signal(&q->writable);
        }
        while (q->n_queued == 0 && !q->closed && !q->shut)
                pthread_cond_wait(&q->readable, &q->lock);
        size_t len = 0;
        if (q->n_queued > 0 && !q->shut) {
                *ret_data = q->memory + q->r * q->slot_size;
                len = q->lens[q->r];
                q->r = (q->r + 1) % q->n_slots;
                q->n_queued--;
                q->holding = true;
        }
        pthread_mutex_unlock(&q->lock);
        return len;
}

void chunk_queue_shutdown(ChunkQueue *q) {
        pthread_mutex_lock(&q->lock);
        q->shut = true;
        pthread_cond_signal(&q->writable);
        pthread_mutex_unlock(&q->lock);
}
