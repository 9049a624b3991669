/*
 * Pipeline, stage 3 of 3 (producer -> transform -> consumer), synchronous
 * style: a STACKFUL export that calls and reads with blocking calls.
 *
 * World (examples/c/pipe_consumer.wit, shared with pipe_consumer_callback.c):
 *     import transform: async func(n: u32) -> stream<u8>;
 *     export consume: async func(n: u32) -> u64;
 *
 * consume(n) calls transform(n) (another component's export, linked in),
 * reads its stream 5 bytes at a time to the end, and returns the 64-bit
 * FNV-1a hash of all it read. Each read takes at most 5 bytes, so the
 * writers upstream wait for it (backpressure).
 *
 * The style: the import is lowered synchronously, so `transform(n)` blocks
 * this task's stack until it returns its stream; each stream.read blocks
 * likewise. Compare pipe_consumer_callback.c.
 *
 * Build it with:  python examples/build_c_guests.py --out DIR
 */

#include "cm_async.h"

/* The import, lowered sync: blocks, returns the transform's readable end. */
IMPORT("$root", "transform") int32_t transform(uint32_t n);
/* Reading transform's stream: blocks; returns `result | count << 4`. */
IMPORT("$root", "[stream-read-0]transform") uint32_t stream_read(int32_t readable, uint8_t *ptr, uint32_t n);
IMPORT("$root", "[stream-drop-readable-0]transform") void stream_drop_readable(int32_t readable);

IMPORT("[export]$root", "[task-return]consume") void task_return_consume(uint64_t hash);

#define CHUNK 5

/* 64-bit FNV-1a, continued over n more bytes. */
static uint64_t fnv1a(uint64_t hash, const uint8_t *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        hash = (hash ^ p[i]) * 0x100000001b3ull;
    return hash;
}

EXPORT("[async-lift-stackful]consume")
void consume(uint32_t n) {
    int32_t in = transform(n);              /* this stack suspends until transform returns */
    uint64_t hash = 0xcbf29ce484222325ull;
    uint8_t buf[CHUNK];
    for (;;) {
        uint32_t status = stream_read(in, buf, CHUNK);  /* ... and here */
        hash = fnv1a(hash, buf, status >> 4);
        if ((status & 0xf) == DROPPED)
            break;                          /* the writer is done */
    }
    stream_drop_readable(in);
    task_return_consume(hash);
}
