/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * Up to a fixed number of threads running queued jobs in FIFO order. RPC handlers run here so that
 * the gRPC connection thread never blocks on runtime, network or storage work. One thread runs
 * from the start; more start when queued jobs outnumber the idle threads, and stay.
 */
typedef struct WorkerPool WorkerPool;
typedef void (*WorkerJob)(void *userdata);

WorkerPool *worker_pool_new(size_t max_threads);

/*
 * Once the pool has run jobs and then had none queued or running for after_ns, one idle worker runs
 * fn(userdata); again only after more jobs ran. Jobs are never held back for it: one submitted while
 * it runs goes to another worker (started if none is idle). Set it before submitting jobs; never
 * blocks.
 */
void worker_pool_set_idle_job(WorkerPool *p, int64_t after_ns, WorkerJob fn, void *userdata);

/* Queue a job; never blocks. After worker_pool_free() started, jobs are refused (-ESHUTDOWN). */
int worker_pool_submit(WorkerPool *p, WorkerJob job, void *userdata);

/* Run every queued job, then join the threads. Blocks. */
WorkerPool *worker_pool_free(WorkerPool *p);
