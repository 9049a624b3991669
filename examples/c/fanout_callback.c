/*
 * Fan-out / fan-in, callback style: a CALLBACK-lifted export that never
 * blocks.
 *
 * World (examples/c/fanout.wit, shared with fanout_sync.c):
 *     import slow-square: async func(x: u32) -> u32;
 *     export run: async func(n: u32) -> u64;
 *
 * run(n) starts slow-square(1), ..., slow-square(n) all at once (each an
 * [async-lower] call: a subtask), joins them to one waitable set, and adds
 * up the squares as their SUBTASK events come in, in whatever order the
 * host finishes them. run(10) is 385.
 *
 * The style: `run` is lifted with [async-lift] and a callback. It starts the
 * calls, then returns WAIT (on the set) to the runtime instead of blocking;
 * the runtime calls [callback][async-lift]run with each event, and the
 * callback returns WAIT again, or EXIT once the task is done. Nothing stays
 * on the stack between two calls, so the state is a heap block that context
 * slot 0 ties to the task. Compare fanout_sync.c, the same program written
 * as one blocking function.
 *
 * Build it with:  python examples/build_c_guests.py --out DIR
 */

#include "cm_async.h"

/* slow-square(x), lowered async: returns `state | subtask << 4` and writes
 * the square to *result when the call returns. */
IMPORT("$root", "[async-lower]slow-square")
uint32_t slow_square_async(uint32_t x, uint32_t *result);

IMPORT("[export]$root", "[task-return]run") void task_return_run(uint64_t sum);

#define MAX_N 100

/* What fanout_sync.c keeps in local variables. */
struct run_state {
    uint32_t results[MAX_N];                /* where subtask i writes its square */
    int32_t subtasks[MAX_N];                /* subtask i's handle (0: returned at once) */
    uint32_t n, pending;
    uint64_t sum;
    int32_t set;
};

/* The i with subtasks[i] == subtask. */
static uint32_t slot_of(const int32_t *subtasks, uint32_t n, int32_t subtask) {
    uint32_t i = 0;
    while (i < n && subtasks[i] != subtask)
        i++;
    return i;
}

static int32_t finish(struct run_state *s) {
    waitable_set_drop(s->set);
    task_return_run(s->sum);
    state_free(s);
    return CALLBACK_EXIT;
}

EXPORT("[async-lift]run")
int32_t run(uint32_t n) {
    if (n > MAX_N)
        __builtin_trap();
    struct run_state *s = state_alloc(sizeof *s);
    s->n = n;
    s->pending = 0;
    s->sum = 0;

    /* Fan out: start every call. */
    s->set = waitable_set_new();
    for (uint32_t i = 0; i < n; i++) {
        uint32_t status = slow_square_async(i + 1, &s->results[i]);
        s->subtasks[i] = (int32_t)(status >> 4);
        if ((status & 0xf) == RETURNED) {
            s->sum += s->results[i];
        } else {
            waitable_join(s->subtasks[i], s->set);
            s->pending++;
        }
    }
    if (s->pending == 0)
        return finish(s);
    context_set_0((int32_t)(uintptr_t)s);
    return CALLBACK_WAIT(s->set);           /* return to the runtime; it calls back */
}

/* Fan in: one call per event, in any order. */
EXPORT("[callback][async-lift]run")
int32_t run_callback(int32_t event, int32_t waitable, int32_t payload) {
    struct run_state *s = (struct run_state *)(uintptr_t)context_get_0();
    if (event == EVENT_SUBTASK && payload == RETURNED) {
        s->sum += s->results[slot_of(s->subtasks, s->n, waitable)];
        subtask_drop(waitable);
        if (--s->pending == 0)
            return finish(s);
    }
    return CALLBACK_WAIT(s->set);           /* STARTING -> STARTED, or more to come */
}
