/*
 * A C guest that returns a stream: a stackful async export that creates a
 * stream<u8>, hands its readable end back with task.return, then writes
 * into the writable end and drops it.
 *
 * World (examples/c/stream.wit):
 *     export count: async func(n: u32) -> stream<u8>;
 *
 * count(n) yields the bytes 0, 1, ..., n-1 (mod 256), so
 * `stackswitch run stream.component.wasm --invoke 'count(5)'` prints
 * [0, 1, 2, 3, 4]. The writes are synchronous: each one blocks this task's
 * stack until the reader has taken some values. A write may complete only
 * partly (the reader asked for fewer values), so the guest loops on the
 * count it returns, and stops early if the reader dropped its end.
 *
 * Freestanding: no libc, only the Component Model's canonical built-ins,
 * which wit-component finds by these core import and export names.
 * Build it with:  python examples/build_c_guests.py --out DIR
 */

#include <stdint.h>

#define IMPORT(module, name) __attribute__((import_module(module), import_name(name)))
#define EXPORT(name) __attribute__((export_name(name)))

/* ---- built-ins for the export's types (module "[export]$root") ---- */

/* task.return for count: the result is the readable end's handle. */
IMPORT("[export]$root", "[task-return]count") void task_return_count(int32_t readable);
/* stream.new for stream 0 of count's type: low half readable, high half writable. */
IMPORT("[export]$root", "[stream-new-0]count") int64_t stream_new(void);
/* Synchronous stream.write: blocks until the copy is done; returns
 * `result | count << 4` (count = values written). */
IMPORT("[export]$root", "[stream-write-0]count")
int32_t stream_write(int32_t writable, const uint8_t *ptr, uint32_t n);
IMPORT("[export]$root", "[stream-drop-writable-0]count") void stream_drop_writable(int32_t writable);

/* Copy results (the low 4 bits of a stream.write's status). */
enum { COMPLETED = 0, DROPPED = 1, CANCELLED = 2 };

/* ---- memory: wit-component requires `memory` and `cabi_realloc` ---- */

extern unsigned char __heap_base;           /* provided by the linker */
static uintptr_t heap_top = (uintptr_t)&__heap_base;

/* A bump allocator that never frees: enough for this example (the host
 * never needs to allocate in the guest for a u32 param or a stream handle). */
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

#define CHUNK 64

/* Write all `n` bytes at `buf`; 0 if the reader dropped its end first. */
static int write_all(int32_t writable, const uint8_t *buf, uint32_t n) {
    while (n > 0) {
        int32_t status = stream_write(writable, buf, n);   /* this stack may suspend here */
        uint32_t done = (uint32_t)status >> 4;
        buf += done;
        n -= done;
        if ((status & 0xf) == DROPPED)
            return 0;
    }
    return 1;
}

/* Stackful lift: flat params in, no core results; the stream goes out
 * through task.return, and the task goes on writing after it. */
EXPORT("[async-lift-stackful]count")
void count(uint32_t n) {
    int64_t ends = stream_new();
    int32_t readable = (int32_t)(uint32_t)ends;
    int32_t writable = (int32_t)(uint32_t)((uint64_t)ends >> 32);
    task_return_count(readable);

    uint8_t chunk[CHUNK];
    uint32_t next = 0;
    while (next < n) {
        uint32_t len = n - next < CHUNK ? n - next : CHUNK;
        for (uint32_t i = 0; i < len; i++)
            chunk[i] = (uint8_t)(next + i);
        if (!write_all(writable, chunk, len))
            break;                          /* the reader is gone */
        next += len;
    }
    stream_drop_writable(writable);
}
