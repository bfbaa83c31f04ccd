/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

/*
 * A fixed set of threads running queued jobs in FIFO order. RPC handlers run here so that gRPC's
 * completion-queue thread never blocks on runtime, network or storage work.
 */
typedef struct WorkerPool WorkerPool;
typedef void (*WorkerJob)(void *userdata);

WorkerPool *worker_pool_new(size_t n_threads);

/* Queue a job; never blocks. After worker_pool_free() started, jobs are refused (-ESHUTDOWN). */
int worker_pool_submit(WorkerPool *p, WorkerJob job, void *userdata);

/* Run every queued job, then join the threads. Blocks. */
WorkerPool *worker_pool_free(WorkerPool *p);
