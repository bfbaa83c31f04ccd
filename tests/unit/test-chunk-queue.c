/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "chunk-queue.h"
#include "macros.h"

static uint8_t pattern(size_t i) {
        return (uint8_t)(i * 7 + i / 251);
}

static void test_chunks_in_order(void **state) {
        ChunkQueue *q = chunk_queue_new(3, 4);
        const void *p;
        assert_int_equal(chunk_queue_write(q, "abcdef", 6), 0);
        assert_int_equal(chunk_queue_write(q, "gh", 2), 0);
        assert_int_equal(chunk_queue_read(q, &p), 4);
        assert_memory_equal(p, "abcd", 4);
        assert_int_equal(chunk_queue_read(q, &p), 4);
        assert_memory_equal(p, "efgh", 4);
        /* The partly filled slot goes out with the close. */
        assert_int_equal(chunk_queue_write(q, "i", 1), 0);
        chunk_queue_close(q);
        chunk_queue_close(q);
        assert_int_equal(chunk_queue_read(q, &p), 1);
        assert_memory_equal(p, "i", 1);
        assert_int_equal(chunk_queue_read(q, &p), 0);
        assert_int_equal(chunk_queue_read(q, &p), 0);
        assert_int_equal(chunk_queue_write(q, "j", 1), -EINVAL);
        assert_null(chunk_queue_free(q));
        assert_null(chunk_queue_free(NULL));
}

/* Writing in place: the room is what is left of the slot, and a full slot goes to the consumer. */
static void test_reserve_commit(void **state) {
        ChunkQueue *q = chunk_queue_new(2, 8);
        const void *p;
        void *room;
        size_t n;
        assert_int_equal(chunk_queue_reserve(q, &room, &n), 0);
        assert_int_equal(n, 8);
        memcpy(room, "abc", 3);
        chunk_queue_commit(q, 3);
        assert_int_equal(chunk_queue_reserve(q, &room, &n), 0);
        assert_int_equal(n, 5);
        chunk_queue_commit(q, 0);
        assert_int_equal(chunk_queue_reserve(q, &room, &n), 0);
        assert_int_equal(n, 5);
        memcpy(room, "defgh", 5);
        chunk_queue_commit(q, 5);
        assert_int_equal(chunk_queue_read(q, &p), 8);
        assert_memory_equal(p, "abcdefgh", 8);
        chunk_queue_shutdown(q);
        assert_int_equal(chunk_queue_reserve(q, &room, &n), -EPIPE);
        chunk_queue_free(q);
}

static void test_empty_stream(void **state) {
        ChunkQueue *q = chunk_queue_new(2, 16);
        const void *p;
        chunk_queue_close(q);
        assert_int_equal(chunk_queue_read(q, &p), 0);
        chunk_queue_free(q);
}

typedef struct Producer {
        ChunkQueue *q;
        size_t total;
        int result;
} Producer;

/* Writes `total` pattern bytes in uneven pieces, then closes. */
static void *produce(void *arg) {
        Producer *pr = arg;
        uint8_t buf[1000];
        for (size_t off = 0; off < pr->total;) {
                size_t n = 1 + off % sizeof(buf);
                if (n > pr->total - off)
                        n = pr->total - off;
                for (size_t i = 0; i < n; i++)
                        buf[i] = pattern(off + i);
                pr->result = chunk_queue_write(pr->q, buf, n);
                if (pr->result < 0)
                        return NULL;
                off += n;
        }
        chunk_queue_close(pr->q);
        return NULL;
}

/* Far more than the queue holds passes through: the producer waits for slots coming back. */
static void test_threads_stream_everything(void **state) {
        Producer pr = {.q = chunk_queue_new(4, 4096), .total = 3 * 1024 * 1024 + 17};
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, produce, &pr), 0);
        size_t seen = 0, n;
        const void *p;
        while ((n = chunk_queue_read(pr.q, &p)) > 0) {
                assert_true(n <= 4096);
                for (size_t i = 0; i < n; i++)
                        assert_int_equal(((const uint8_t *)p)[i], pattern(seen + i));
                seen += n;
        }
        pthread_join(t, NULL);
        assert_int_equal(pr.result, 0);
        assert_int_equal(seen, pr.total);
        chunk_queue_free(pr.q);
}

/* A producer waiting for a slot is released by the consumer's shutdown, and writes fail from then on. */
static void test_shutdown_releases_producer(void **state) {
        Producer pr = {.q = chunk_queue_new(2, 64), .total = 1024 * 1024};
        pthread_t t;
        const void *p;
        assert_int_equal(pthread_create(&t, NULL, produce, &pr), 0);
        assert_int_equal(chunk_queue_read(pr.q, &p), 64);
        usleep(10000); /* let the producer fill the queue and wait */
        chunk_queue_shutdown(pr.q);
        chunk_queue_shutdown(pr.q);
        pthread_join(t, NULL);
        assert_int_equal(pr.result, -EPIPE);
        assert_int_equal(chunk_queue_write(pr.q, "x", 1), -EPIPE);
        chunk_queue_free(pr.q);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_chunks_in_order),
                cmocka_unit_test(test_reserve_commit),
                cmocka_unit_test(test_empty_stream),
                cmocka_unit_test(test_threads_stream_everything),
                cmocka_unit_test(test_shutdown_releases_producer),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
