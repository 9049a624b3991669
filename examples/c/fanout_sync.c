/*
 * Fan-out / fan-in, synchronous style: a STACKFUL export that blocks.
 *
 * World (examples/c/fanout.wit, shared with fanout_callback.c):
 *     import slow-square: async func(x: u32) -> u32;
 *     export run: async func(n: u32) -> u64;
 *
 * run(n) starts slow-square(1), ..., slow-square(n) all at once (each an
 * [async-lower] call: a subtask), joins them to one waitable set, and adds
 * up the squares as their SUBTASK events come in, in whatever order the
 * host finishes them. run(10) is 385.
 *
 * The style: `run` is lifted with [async-lift-stackful], so it has a stack
 * of its own and is written like ordinary blocking code. Its state is plain
 * local variables; waitable-set.wait suspends the whole stack and resumes it
 * with the next event. Compare fanout_callback.c, the same program written
 * as a callback that never blocks.
 *
 * Call it once at a time per instance: the arrays are on the C shadow
 * stack, of which this guest has only one (see cm_async.h).
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

/* The i with subtasks[i] == subtask. */
static uint32_t slot_of(const int32_t *subtasks, uint32_t n, int32_t subtask) {
    uint32_t i = 0;
    while (i < n && subtasks[i] != subtask)
        i++;
    return i;
}

EXPORT("[async-lift-stackful]run")
void run(uint32_t n) {
    uint32_t results[MAX_N];                /* where subtask i writes its square */
    int32_t subtasks[MAX_N];                /* subtask i's handle (0: returned at once) */
    uint32_t pending = 0;
    uint64_t sum = 0;
    if (n > MAX_N)
        __builtin_trap();

    /* Fan out: start every call; none of them blocks this stack. */
    int32_t set = waitable_set_new();
    for (uint32_t i = 0; i < n; i++) {
        uint32_t status = slow_square_async(i + 1, &results[i]);
        subtasks[i] = (int32_t)(status >> 4);
        if ((status & 0xf) == RETURNED) {
            sum += results[i];
        } else {
            waitable_join(subtasks[i], set);
            pending++;
        }
    }

    /* Fan in: block until the next subtask has news, in any order. */
    while (pending > 0) {
        int32_t event[2];                   /* {waitable, payload} */
        int32_t code = waitable_set_wait(set, event);   /* this stack suspends here */
        if (code != EVENT_SUBTASK || event[1] != RETURNED)
            continue;                       /* STARTING -> STARTED: not done yet */
        sum += results[slot_of(subtasks, n, event[0])];
        subtask_drop(event[0]);
        pending--;
    }
    waitable_set_drop(set);
    task_return_run(sum);
}
