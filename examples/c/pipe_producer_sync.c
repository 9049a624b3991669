/*
 * Pipeline, stage 1 of 3 (producer -> transform -> consumer), synchronous
 * style: a STACKFUL export that blocks in stream.write.
 *
 * World (examples/c/pipe_producer.wit, shared with pipe_producer_callback.c):
 *     export produce: async func(n: u32) -> stream<u8>;
 *
 * produce(n) makes a stream, returns its readable end at once with
 * task.return, then goes on writing n bytes "abcd...zabc..." into it, 4 at
 * a time, and drops its end. A stream has no buffer: each write waits until
 * the reader asks for bytes, and copies only as many as it asked for, so the
 * producer runs at the reader's pace (backpressure) and loops on short
 * writes. It stops early if the reader drops its end.
 *
 * The style: a synchronous stream.write blocks this task's stack until the
 * copy is done; the loop reads like one over a file. Compare
 * pipe_producer_callback.c.
 *
 * Build it with:  python examples/build_c_guests.py --out DIR
 */

#include "cm_async.h"

IMPORT("[export]$root", "[task-return]produce") void task_return_produce(int32_t readable);
IMPORT("[export]$root", "[stream-new-0]produce") int64_t stream_new(void);
/* Blocks until the copy is done; returns `result | count << 4`. */
IMPORT("[export]$root", "[stream-write-0]produce")
uint32_t stream_write(int32_t writable, const uint8_t *ptr, uint32_t n);
IMPORT("[export]$root", "[stream-drop-writable-0]produce") void stream_drop_writable(int32_t writable);

#define CHUNK 4

/* Bytes next, next+1, ... of the output (at most CHUNK, at most n - next)
 * into chunk; how many. */
static uint32_t fill(uint8_t *chunk, uint32_t next, uint32_t n) {
    uint32_t len = n - next < CHUNK ? n - next : CHUNK;
    for (uint32_t i = 0; i < len; i++)
        chunk[i] = (uint8_t)('a' + (next + i) % 26);
    return len;
}

EXPORT("[async-lift-stackful]produce")
void produce(uint32_t n) {
    int64_t ends = stream_new();
    task_return_produce(READABLE_END(ends));   /* the caller gets the stream now */
    int32_t out = WRITABLE_END(ends);

    uint8_t chunk[CHUNK];
    uint32_t next = 0;                      /* bytes written so far */
    while (next < n) {
        uint32_t len = fill(chunk, next, n);
        uint32_t status = stream_write(out, chunk, len);   /* this stack suspends here */
        next += status >> 4;                /* maybe fewer than len: the rest next time */
        if ((status & 0xf) == DROPPED)
            break;                          /* the reader is gone */
    }
    stream_drop_writable(out);
}
