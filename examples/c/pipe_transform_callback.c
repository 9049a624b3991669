/*
 * Pipeline, stage 2 of 3 (producer -> transform -> consumer), callback
 * style: a CALLBACK-lifted export whose calls, reads and writes never block.
 *
 * World (examples/c/pipe_transform.wit, shared with pipe_transform_sync.c):
 *     import produce: async func(n: u32) -> stream<u8>;
 *     export transform: async func(n: u32) -> stream<u8>;
 *
 * transform(n) calls produce(n) (another component's export, linked in),
 * returns a stream of its own once that call has returned, then reads the
 * producer's stream 3 bytes at a time, uppercases them and writes them on,
 * until the producer drops its end. It reads no faster than its own reader
 * takes bytes: the consumer's pace reaches the producer (backpressure all
 * along the line).
 *
 * The style: the import is lowered async, and so are the reads and writes;
 * whatever cannot finish at once (the call, a read, a write) makes the guest
 * return WAIT, and the runtime calls the callback with its event (SUBTASK,
 * STREAM_READ, STREAM_WRITE). Where the task is (calling, reading, writing)
 * is state in a heap block, where pipe_transform_sync.c has it in the
 * position of its code. One copy at a time, so the event's payload is that
 * copy's status.
 *
 * Build it with:  python examples/build_c_guests.py --out DIR
 */

#include "cm_async.h"

/* The import, lowered async: `state | subtask << 4`; the producer's
 * readable end goes to *result when the call returns. */
IMPORT("$root", "[async-lower]produce") uint32_t produce_async(uint32_t n, int32_t *result);
/* Async copies: `result | count << 4` if done at once, else BLOCKED. */
IMPORT("$root", "[async-lower][stream-read-0]produce")
uint32_t stream_read_async(int32_t readable, uint8_t *ptr, uint32_t n);
IMPORT("$root", "[stream-drop-readable-0]produce") void stream_drop_readable(int32_t readable);

IMPORT("[export]$root", "[task-return]transform") void task_return_transform(int32_t readable);
IMPORT("[export]$root", "[stream-new-0]transform") int64_t stream_new(void);
IMPORT("[export]$root", "[async-lower][stream-write-0]transform")
uint32_t stream_write_async(int32_t writable, const uint8_t *ptr, uint32_t n);
IMPORT("[export]$root", "[stream-drop-writable-0]transform") void stream_drop_writable(int32_t writable);

#define CHUNK 3

static void uppercase(uint8_t *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (p[i] >= 'a' && p[i] <= 'z')
            p[i] -= 'a' - 'A';
}

/* What pipe_transform_sync.c keeps in local variables. */
struct transform_state {
    uint8_t buf[CHUNK];                     /* must stay put while a copy waits */
    uint32_t len, off;                      /* buf[off..len) is still to be written */
    int done;                               /* the producer or the reader has dropped its end */
    int32_t in, out, set;
};

static int32_t finish(struct transform_state *s) {
    stream_drop_readable(s->in);
    stream_drop_writable(s->out);
    waitable_set_drop(s->set);
    state_free(s);
    return CALLBACK_EXIT;
}

/* A read (event STREAM_READ) or write (STREAM_WRITE) finished with `status`. */
static void copied(struct transform_state *s, int32_t event, uint32_t status) {
    uint32_t count = status >> 4;
    if (event == EVENT_STREAM_READ) {
        uppercase(s->buf, count);
        s->off = 0;
        s->len = count;
    } else {
        s->off += count;                    /* maybe fewer than asked: the rest next time */
    }
    if ((status & 0xf) == DROPPED) {
        s->done = 1;
        if (event == EVENT_STREAM_WRITE)
            s->off = s->len;                /* nobody will read the rest */
    }
}

/* Write what was read, read more, ... until a copy has to wait, or to the end. */
static int32_t pump(struct transform_state *s) {
    for (;;) {
        int32_t copy;
        uint32_t status;
        if (s->off < s->len) {
            copy = EVENT_STREAM_WRITE;
            status = stream_write_async(s->out, s->buf + s->off, s->len - s->off);
        } else if (!s->done) {
            copy = EVENT_STREAM_READ;
            status = stream_read_async(s->in, s->buf, CHUNK);
        } else {
            return finish(s);
        }
        if (status == BLOCKED)
            return CALLBACK_WAIT(s->set);   /* its event brings the status */
        copied(s, copy, status);
    }
}

/* produce(n) has returned its stream (s->in): return ours and start pumping. */
static int32_t start(struct transform_state *s) {
    int64_t ends = stream_new();
    task_return_transform(READABLE_END(ends));
    s->out = WRITABLE_END(ends);
    waitable_join(s->in, s->set);
    waitable_join(s->out, s->set);
    return pump(s);
}

EXPORT("[async-lift]transform")
int32_t transform(uint32_t n) {
    struct transform_state *s = state_alloc(sizeof *s);
    s->len = s->off = 0;
    s->done = 0;
    s->set = waitable_set_new();
    context_set_0((int32_t)(uintptr_t)s);
    uint32_t status = produce_async(n, &s->in);
    if ((status & 0xf) == RETURNED)
        return start(s);
    waitable_join((int32_t)(status >> 4), s->set);
    return CALLBACK_WAIT(s->set);           /* the SUBTASK event says when it returns */
}

EXPORT("[callback][async-lift]transform")
int32_t transform_callback(int32_t event, int32_t waitable, int32_t payload) {
    struct transform_state *s = (struct transform_state *)(uintptr_t)context_get_0();
    if (event == EVENT_SUBTASK) {
        if (payload != RETURNED)
            return CALLBACK_WAIT(s->set);   /* STARTING -> STARTED */
        subtask_drop(waitable);
        return start(s);
    }
    copied(s, event, (uint32_t)payload);
    return pump(s);
}
