/*
 * Pipeline, stage 1 of 3 (producer -> transform -> consumer), callback
 * style: a CALLBACK-lifted export whose writes never block.
 *
 * World (examples/c/pipe_producer.wit, shared with pipe_producer_sync.c):
 *     export produce: async func(n: u32) -> stream<u8>;
 *
 * produce(n) makes a stream, returns its readable end at once with
 * task.return, then goes on writing n bytes "abcd...zabc..." into it, 4 at
 * a time, and drops its end. A stream has no buffer: each write waits until
 * the reader asks for bytes, and copies only as many as it asked for, so the
 * producer runs at the reader's pace (backpressure) and loops on short
 * writes. It stops early if the reader drops its end.
 *
 * The style: each write is an async stream.write. If it cannot finish at
 * once it returns BLOCKED, and the guest returns WAIT to the runtime; the
 * runtime calls the callback with the write's STREAM_WRITE event once the
 * reader has taken bytes. The chunk being written and the position are in a
 * heap block (context slot 0), as nothing survives on the stack. Compare
 * pipe_producer_sync.c.
 *
 * Build it with:  python examples/build_c_guests.py --out DIR
 */

#include "cm_async.h"

IMPORT("[export]$root", "[task-return]produce") void task_return_produce(int32_t readable);
IMPORT("[export]$root", "[stream-new-0]produce") int64_t stream_new(void);
/* Returns `result | count << 4` if the copy is done, else BLOCKED. */
IMPORT("[export]$root", "[async-lower][stream-write-0]produce")
uint32_t stream_write_async(int32_t writable, const uint8_t *ptr, uint32_t n);
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

/* What pipe_producer_sync.c keeps in local variables. */
struct produce_state {
    uint8_t chunk[CHUNK];                   /* must stay put while a write waits */
    uint32_t n, next;                       /* bytes to write, bytes written */
    int32_t out, set;
};

static int32_t finish(struct produce_state *s) {
    stream_drop_writable(s->out);
    waitable_set_drop(s->set);
    state_free(s);
    return CALLBACK_EXIT;
}

/* A write finished with `status`; false if the reader is gone. */
static int wrote(struct produce_state *s, uint32_t status) {
    s->next += status >> 4;                 /* maybe fewer than asked: the rest next time */
    return (status & 0xf) != DROPPED;
}

/* Write until a write has to wait, or to the end. */
static int32_t write_more(struct produce_state *s) {
    while (s->next < s->n) {
        uint32_t len = fill(s->chunk, s->next, s->n);
        uint32_t status = stream_write_async(s->out, s->chunk, len);
        if (status == BLOCKED)
            return CALLBACK_WAIT(s->set);   /* its STREAM_WRITE event brings the status */
        if (!wrote(s, status))
            break;
    }
    return finish(s);
}

EXPORT("[async-lift]produce")
int32_t produce(uint32_t n) {
    struct produce_state *s = state_alloc(sizeof *s);
    s->n = n;
    s->next = 0;
    int64_t ends = stream_new();
    task_return_produce(READABLE_END(ends));   /* the caller gets the stream now */
    s->out = WRITABLE_END(ends);
    s->set = waitable_set_new();
    waitable_join(s->out, s->set);
    context_set_0((int32_t)(uintptr_t)s);
    return write_more(s);
}

/* The only event this task waits for: its pending write finished. */
EXPORT("[callback][async-lift]produce")
int32_t produce_callback(int32_t event, int32_t writable, int32_t status) {
    (void)event; (void)writable;
    struct produce_state *s = (struct produce_state *)(uintptr_t)context_get_0();
    return wrote(s, (uint32_t)status) ? write_more(s) : finish(s);
}
