/*
 * What the C guests of the two-styles examples share (fanout_*.c, pipe_*.c):
 * the macros that name core imports and exports the way wit-component
 * expects them, the world-level built-ins (waitable sets, subtasks, the
 * task's context slot), the ABI's numeric codes, and memory.
 *
 * Only the built-ins a guest calls become core imports of its module; the
 * function-specific ones ([async-lower]f, [task-return]f, [stream-read-0]f...)
 * are declared in each guest.
 *
 * The sync-style guests keep their address-taken locals on the C shadow
 * stack, of which a freestanding guest has one per instance: two of their
 * tasks blocked at once in one instance may overlap on it. The examples
 * run one task per instance at a time; a real toolchain keeps a shadow
 * stack per task (saved in context slot 0 around each blocking call).
 */

#ifndef CM_ASYNC_H
#define CM_ASYNC_H

#include <stdint.h>

#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

/* ---- world-level built-ins (module "$root") ---- */

IMPORT("$root", "[waitable-set-new]")  int32_t waitable_set_new(void);
IMPORT("$root", "[waitable-set-drop]") void waitable_set_drop(int32_t set);
IMPORT("$root", "[waitable-join]")     void waitable_join(int32_t waitable, int32_t set);
/* Blocks the calling stack until an event; stores {waitable, payload} at
 * `event` and returns the event code. Only a stackful task may call it. */
IMPORT("$root", "[waitable-set-wait]") int32_t waitable_set_wait(int32_t set, int32_t *event);
/* Dropping a subtask (or a stream end) also takes it out of its set. */
IMPORT("$root", "[subtask-drop]")      void subtask_drop(int32_t subtask);
/* One word of per-task storage: where a callback finds its task's state. */
IMPORT("$root", "[context-get-0]")     int32_t context_get_0(void);
IMPORT("$root", "[context-set-0]")     void context_set_0(int32_t value);

/* ---- codes ---- */

/* Subtask states: the low 4 bits of an [async-lower] call's status (the
 * subtask's handle is in the other bits, 0 if it returned at once), and the
 * payload of a SUBTASK event. */
enum { STARTING = 0, STARTED = 1, RETURNED = 2 };

/* Events: waitable-set.wait's result, and a callback's first argument. */
enum { EVENT_NONE = 0, EVENT_SUBTASK = 1, EVENT_STREAM_READ = 2, EVENT_STREAM_WRITE = 3 };

/* Copy results: the low 4 bits of a stream read or write's status (the
 * number of values copied is in the other bits). */
enum { COMPLETED = 0, DROPPED = 1, CANCELLED = 2 };

/* What an async ([async-lower]) stream read or write returns when it cannot
 * finish at once; its status comes later, as the payload of an event. */
#define BLOCKED 0xffffffffu

/* What a callback-lifted export (and its callback) returns to the runtime:
 * EXIT (the task is done) or WAIT for an event on a waitable set. */
#define CALLBACK_EXIT 0
#define CALLBACK_WAIT(set) (2 | (set) << 4)

/* stream.new returns both ends: the readable one in the low 32 bits. */
#define READABLE_END(ends) ((int32_t)(uint32_t)(ends))
#define WRITABLE_END(ends) ((int32_t)((uint64_t)(ends) >> 32))

/* ---- memory: wit-component requires `memory` and `cabi_realloc` ---- */

extern unsigned char __heap_base;           /* provided by the linker */
static uintptr_t heap_top = (uintptr_t)&__heap_base;

/* A bump allocator that never frees (the host calls it only for values that
 * need guest memory, and these guests pass none). */
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

/* Per-task state of a callback-lifted export. It must outlive the call that
 * returns WAIT, so it cannot be a local variable: it is allocated here and
 * found again through context slot 0. Each guest has one kind of state, so
 * freed blocks go on one free list and are reused as they are. */
static void *free_states;

static inline void *state_alloc(uint32_t size) {
    void *p = free_states;
    if (p == 0)
        return cabi_realloc(0, 0, 8, size);
    free_states = *(void **)p;
    return p;
}

static inline void state_free(void *p) {
    *(void **)p = free_states;
    free_states = p;
}

#endif
