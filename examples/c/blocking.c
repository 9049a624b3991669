/*
 * A C guest whose export blocks: a stackful async export that calls an
 * async host import and waits for it in waitable-set.wait.
 *
 * World (examples/c/blocking.wit):
 *     import slow-double: async func(x: u32) -> u32;
 *     export run: async func(n: u32) -> u32;
 *
 * run(n) returns slow-double(n), so run(21) is 42. The host function
 * (examples/c/blocking_host.py) takes a few scheduler turns, so the async
 * call usually comes back STARTED: the guest then joins the subtask to a
 * waitable set and blocks in waitable-set.wait on its own stack until the
 * subtask's RETURNED event, drops the subtask and returns the result with
 * task.return.
 *
 * Freestanding: no libc, only the Component Model's canonical built-ins,
 * which wit-component finds by these core import and export names.
 * Build it with:  python examples/build_c_guests.py --out DIR
 */

#include <stdint.h>

#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

/* ---- canonical built-ins (module "$root") ---- */

/* The async lowering of the import: flat params, then a pointer where the
 * result is stored once the call returns. Returns `state | subtask << 4`. */
IMPORT("$root", "[async-lower]slow-double")
int32_t slow_double_async(uint32_t x, uint32_t *retptr);

IMPORT("$root", "[waitable-set-new]")  int32_t waitable_set_new(void);
IMPORT("$root", "[waitable-join]")     void waitable_join(int32_t waitable, int32_t set);
/* Blocks until an event; stores {waitable index, payload} at `event`, returns the event code. */
IMPORT("$root", "[waitable-set-wait]") int32_t waitable_set_wait(int32_t set, int32_t *event);
IMPORT("$root", "[waitable-set-drop]") void waitable_set_drop(int32_t set);
IMPORT("$root", "[subtask-drop]")      void subtask_drop(int32_t subtask);

/* ---- the export's task.return (module "[export]$root") ---- */
IMPORT("[export]$root", "[task-return]run") void task_return_run(uint32_t result);

/* Subtask states (the low 4 bits of an async call's status, and the payload
 * of a SUBTASK event). */
enum { STARTING = 0, STARTED = 1, RETURNED = 2 };
/* Event codes returned by waitable-set.wait. */
enum { EVENT_SUBTASK = 1 };

/* ---- memory: wit-component requires `memory` and `cabi_realloc` ---- */

extern unsigned char __heap_base;           /* provided by the linker */
static uintptr_t heap_top = (uintptr_t)&__heap_base;

/* A bump allocator that never frees: enough for this example (the host only
 * calls it if a lowered value needs memory, which u32 values do not). */
EXPORT("cabi_realloc")
void *cabi_realloc(void *old, uint32_t old_size, uint32_t align, uint32_t new_size) {
    (void)old; (void)old_size;
    heap_top = (heap_top + align - 1) & ~(uintptr_t)(align - 1);
    void *p = (void *)heap_top;
    heap_top += new_size;
    if (heap_top > __builtin_wasm_memory_size(0) * 65536u) {
        uintptr_t pages = (heap_top - __builtin_wasm_memory_size(0) * 65536u + 65535u) / 65536u;
        if (__builtin_wasm_memory_grow(0, pages) == (uintptr_t)-1)
            __builtin_trap();
    }
    return p;
}

/* ---- the export ---- */

/* Call slow-double(x) and block this task's stack until it has returned. */
static uint32_t slow_double(uint32_t x) {
    uint32_t result = 0;
    int32_t status = slow_double_async(x, &result);
    int32_t state = status & 0xf;
    int32_t subtask = status >> 4;
    if (state == RETURNED)                  /* finished at once: no subtask */
        return result;

    /* STARTING or STARTED: wait for the subtask in a waitable set. */
    int32_t set = waitable_set_new();
    waitable_join(subtask, set);
    for (;;) {
        int32_t event[2];                   /* {waitable index, payload} */
        int32_t code = waitable_set_wait(set, event);   /* this stack suspends here */
        if (code == EVENT_SUBTASK && event[0] == subtask && event[1] == RETURNED)
            break;                          /* `result` has been written */
        /* other progress (STARTING -> STARTED): keep waiting */
    }
    waitable_join(subtask, 0);              /* leave the set before dropping it */
    waitable_set_drop(set);
    subtask_drop(subtask);
    return result;
}

/* Stackful lift: flat params in, no core results; the result goes out
 * through task.return. */
EXPORT("[async-lift-stackful]run")
void run(uint32_t n) {
    task_return_run(slow_double(n));
}
