/*
 * Pipeline, stage 3 of 3 (producer -> transform -> consumer), callback
 * style: a CALLBACK-lifted export whose call and reads never block.
 *
 * World (examples/c/pipe_consumer.wit, shared with pipe_consumer_sync.c):
 *     import transform: async func(n: u32) -> stream<u8>;
 *     export consume: async func(n: u32) -> u64;
 *
 * consume(n) calls transform(n) (another component's export, linked in),
 * reads its stream 5 bytes at a time to the end, and returns the 64-bit
 * FNV-1a hash of all it read. Each read takes at most 5 bytes, so the
 * writers upstream wait for it (backpressure).
 *
 * The style: the import is lowered async, and so are the reads; when the
 * call or a read cannot finish at once the guest returns WAIT, and the
 * runtime calls the callback with its SUBTASK or STREAM_READ event. The
 * hash so far and the read buffer are in a heap block (context slot 0).
 * Compare pipe_consumer_sync.c.
 *
 * Build it with:  python examples/build_c_guests.py --out DIR
 */

#include "cm_async.h"

/* The import, lowered async: `state | subtask << 4`; the transform's
 * readable end goes to *result when the call returns. */
IMPORT("$root", "[async-lower]transform") uint32_t transform_async(uint32_t n, int32_t *result);
/* An async read: `result | count << 4` if done at once, else BLOCKED. */
IMPORT("$root", "[async-lower][stream-read-0]transform")
uint32_t stream_read_async(int32_t readable, uint8_t *ptr, uint32_t n);
IMPORT("$root", "[stream-drop-readable-0]transform") void stream_drop_readable(int32_t readable);

IMPORT("[export]$root", "[task-return]consume") void task_return_consume(uint64_t hash);

#define CHUNK 5

/* 64-bit FNV-1a, continued over n more bytes. */
static uint64_t fnv1a(uint64_t hash, const uint8_t *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        hash = (hash ^ p[i]) * 0x100000001b3ull;
    return hash;
}

/* What pipe_consumer_sync.c keeps in local variables. */
struct consume_state {
    uint8_t buf[CHUNK];                     /* must stay put while a read waits */
    uint64_t hash;
    int32_t in, set;
};

static int32_t finish(struct consume_state *s) {
    stream_drop_readable(s->in);
    waitable_set_drop(s->set);
    task_return_consume(s->hash);
    state_free(s);
    return CALLBACK_EXIT;
}

/* A read finished with `status`; false at the end of the stream. */
static int got(struct consume_state *s, uint32_t status) {
    s->hash = fnv1a(s->hash, s->buf, status >> 4);
    return (status & 0xf) != DROPPED;
}

/* Read until a read has to wait, or to the end. */
static int32_t read_more(struct consume_state *s) {
    for (;;) {
        uint32_t status = stream_read_async(s->in, s->buf, CHUNK);
        if (status == BLOCKED)
            return CALLBACK_WAIT(s->set);   /* its STREAM_READ event brings the status */
        if (!got(s, status))
            return finish(s);
    }
}

/* transform(n) has returned its stream (s->in): start reading. */
static int32_t start(struct consume_state *s) {
    waitable_join(s->in, s->set);
    return read_more(s);
}

EXPORT("[async-lift]consume")
int32_t consume(uint32_t n) {
    struct consume_state *s = state_alloc(sizeof *s);
    s->hash = 0xcbf29ce484222325ull;
    s->set = waitable_set_new();
    context_set_0((int32_t)(uintptr_t)s);
    uint32_t status = transform_async(n, &s->in);
    if ((status & 0xf) == RETURNED)
        return start(s);
    waitable_join((int32_t)(status >> 4), s->set);
    return CALLBACK_WAIT(s->set);           /* the SUBTASK event says when it returns */
}

EXPORT("[callback][async-lift]consume")
int32_t consume_callback(int32_t event, int32_t waitable, int32_t payload) {
    struct consume_state *s = (struct consume_state *)(uintptr_t)context_get_0();
    if (event == EVENT_SUBTASK) {
        if (payload != RETURNED)
            return CALLBACK_WAIT(s->set);   /* STARTING -> STARTED */
        subtask_drop(waitable);
        return start(s);
    }
    return got(s, (uint32_t)payload) ? read_more(s) : finish(s);
}
