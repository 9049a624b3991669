/*
 * Pipeline, stage 2 of 3 (producer -> transform -> consumer), synchronous
 * style: a STACKFUL export that calls, reads and writes with blocking calls.
 *
 * World (examples/c/pipe_transform.wit, shared with pipe_transform_callback.c):
 *     import produce: async func(n: u32) -> stream<u8>;
 *     export transform: async func(n: u32) -> stream<u8>;
 *
 * transform(n) calls produce(n) (another component's export, linked in),
 * returns a stream of its own at once, then reads the producer's stream 3
 * bytes at a time, uppercases them and writes them on, until the producer
 * drops its end. It reads no faster than its own reader takes bytes: the
 * consumer's pace reaches the producer (backpressure all along the line).
 *
 * The style: the import is lowered synchronously, so `produce(n)` blocks
 * this task's stack until the producer returns its stream; stream.read and
 * stream.write block likewise. Compare pipe_transform_callback.c.
 *
 * Build it with:  python examples/build_c_guests.py --out DIR
 */

#include "cm_async.h"

/* The import, lowered sync: blocks, returns the producer's readable end. */
IMPORT("$root", "produce") int32_t produce(uint32_t n);
/* Reading produce's stream: blocks; returns `result | count << 4`. */
IMPORT("$root", "[stream-read-0]produce") uint32_t stream_read(int32_t readable, uint8_t *ptr, uint32_t n);
IMPORT("$root", "[stream-drop-readable-0]produce") void stream_drop_readable(int32_t readable);

IMPORT("[export]$root", "[task-return]transform") void task_return_transform(int32_t readable);
IMPORT("[export]$root", "[stream-new-0]transform") int64_t stream_new(void);
IMPORT("[export]$root", "[stream-write-0]transform")
uint32_t stream_write(int32_t writable, const uint8_t *ptr, uint32_t n);
IMPORT("[export]$root", "[stream-drop-writable-0]transform") void stream_drop_writable(int32_t writable);

#define CHUNK 3

static void uppercase(uint8_t *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (p[i] >= 'a' && p[i] <= 'z')
            p[i] -= 'a' - 'A';
}

/* Write all n bytes at p; false if the reader dropped its end first. */
static int write_all(int32_t out, const uint8_t *p, uint32_t n) {
    while (n > 0) {
        uint32_t status = stream_write(out, p, n);      /* this stack suspends here */
        p += status >> 4;
        n -= status >> 4;
        if ((status & 0xf) == DROPPED)
            return 0;
    }
    return 1;
}

EXPORT("[async-lift-stackful]transform")
void transform(uint32_t n) {
    int32_t in = produce(n);                /* this stack suspends until produce returns */
    int64_t ends = stream_new();
    task_return_transform(READABLE_END(ends));
    int32_t out = WRITABLE_END(ends);

    uint8_t buf[CHUNK];
    for (;;) {
        uint32_t status = stream_read(in, buf, CHUNK);  /* ... and here */
        uint32_t count = status >> 4;
        uppercase(buf, count);
        if (!write_all(out, buf, count) || (status & 0xf) == DROPPED)
            break;                          /* the reader is gone, or the producer is done */
    }
    stream_drop_readable(in);
    stream_drop_writable(out);
}
