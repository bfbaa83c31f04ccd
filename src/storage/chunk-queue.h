/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

/*
 * A bounded byte stream between two threads of one process, in place of a pipe: one producer copies
 * bytes in, one consumer takes them as whole chunks it reads in place (no copy, no system call unless
 * one side waits). Memory is fixed at n_slots * slot_size; the producer blocks while every slot is
 * full or held, so a slow consumer slows the producer instead of growing memory.
 *
 * Exactly one producer thread and one consumer thread; the object is freed once neither uses it.
 */
typedef struct ChunkQueue ChunkQueue;

/* Never fails (allocation failure aborts). n_slots >= 2, slot_size > 0. */
ChunkQueue *chunk_queue_new(size_t n_slots, size_t slot_size);
ChunkQueue *chunk_queue_free(ChunkQueue *q);

/*
 * Producer: append `len` bytes. A slot is handed to the consumer when it is full. Blocks while no
 * slot is free. -EPIPE once the consumer called chunk_queue_shutdown() (nothing more is taken),
 * -EINVAL after chunk_queue_close().
 */
int chunk_queue_write(ChunkQueue *q, const void *data, size_t len);

/*
 * Producer, writing in place: room in the slot being filled (a new one is waited for as in
 * chunk_queue_write(), with the same errors), *ret_size >= 1 bytes at *ret_buf. Then
 * chunk_queue_commit() says how much of it was written (0 is fine; the room stays reserved).
 */
int chunk_queue_reserve(ChunkQueue *q, void **ret_buf, size_t *ret_size);
void chunk_queue_commit(ChunkQueue *q, size_t len);

/* Producer: end of the stream; the partly filled slot, if any, is handed over first. Idempotent. */
void chunk_queue_close(ChunkQueue *q);

/*
 * Consumer: the next chunk, valid until the next call (which gives its slot back to the producer).
 * Returns its length (> 0), or 0 at the end of the stream once everything written was read. Blocks
 * while the queue is empty and open.
 */
size_t chunk_queue_read(ChunkQueue *q, const void **ret_data);

/* Consumer: take nothing more; a producer blocked or writing later gets -EPIPE. Idempotent. */
void chunk_queue_shutdown(ChunkQueue *q);
