/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * The C daemon's honest equivalents of CRI-O's Go debug pages. Caller frees the text.
 *
 * debug_threads_text(): /debug/goroutines, one line per thread of the daemon: its id, name (workers
 * are renamed to "rpc <Method>" while they serve one) and scheduler state, from /proc/self/task.
 * debug_heap_text(): /debug/heap, glibc's allocator statistics (mallinfo2 and malloc_info's XML).
 */
char *debug_threads_text(void);
char *debug_heap_text(void);

/* "1234 (name with) parens) S ..." -> the state letter after the last ')', '?' when malformed. */
char debug_stat_state(const char *stat_text);
