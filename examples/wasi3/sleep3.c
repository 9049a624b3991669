/* A WASI 0.3 command in freestanding C, written against the Component Model's
 * async built-ins directly (no libc targets WASI 0.3 yet):
 *
 *   sleep3 [MS]      sleeps MS milliseconds (default 50) with wasi:clocks'
 *                    async wait-for, then prints its arguments to stdout
 *
 * Stdout in 0.3 is a stream<u8> the guest creates and hands to the host
 * (write-via-stream), which returns a future<result<_, error-code>>
 * resolved once the host has written everything. The export is lifted
 * stackful: the wait blocks this task's stack in waitable-set.wait.
 */
#include "../c/cm_async.h"

#define STDOUT "wasi:cli/stdout@0.3.0"
#define CLOCK "wasi:clocks/monotonic-clock@0.3.0"

IMPORT("wasi:cli/environment@0.3.0", "get-arguments") void get_arguments(uint32_t *ret);
IMPORT(CLOCK, "[async-lower]wait-for") uint32_t wait_for_async(uint64_t ns);
IMPORT(STDOUT, "write-via-stream") int32_t write_via_stream(int32_t readable);
IMPORT(STDOUT, "[stream-new-0]write-via-stream") int64_t stdout_stream_new(void);
IMPORT(STDOUT, "[stream-write-0]write-via-stream")
uint32_t stdout_write(int32_t writable, const uint8_t *ptr, uint32_t n);
IMPORT(STDOUT, "[stream-drop-writable-0]write-via-stream") void stdout_drop_writable(int32_t w);
IMPORT(STDOUT, "[future-read-1]write-via-stream") uint32_t stdout_done_read(int32_t f, uint8_t *ret);
IMPORT(STDOUT, "[future-drop-readable-1]write-via-stream") void stdout_done_drop(int32_t f);
IMPORT("[export]wasi:cli/run@0.3.0", "[task-return]run") void task_return_run(int32_t is_err);

static uint32_t write_all(int32_t w, const uint8_t *p, uint32_t n) {
    while (n > 0) {
        uint32_t status = stdout_write(w, p, n);
        uint32_t written = status >> 4;
        if ((status & 0xf) != COMPLETED)
            return 0;
        p += written;
        n -= written;
    }
    return 1;
}

static uint32_t parse_ms(const uint8_t *s, uint32_t len) {
    uint32_t v = 0;
    for (uint32_t i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

EXPORT("[async-lift-stackful]wasi:cli/run@0.3.0#run")
void run(void) {
    uint32_t args[2];                         /* list<string>: pointer, count */
    get_arguments(args);
    const uint32_t *strs = (const uint32_t *)(uintptr_t)args[0];
    uint32_t ms = args[1] > 1 ? parse_ms((const uint8_t *)(uintptr_t)strs[2], strs[3]) : 50;

    uint32_t status = wait_for_async((uint64_t)ms * 1000000u);
    if ((status & 0xf) != RETURNED) {         /* STARTED: wait for the subtask */
        int32_t subtask = (int32_t)(status >> 4);
        int32_t set = waitable_set_new();
        waitable_join(subtask, set);
        int32_t event[2];
        while (waitable_set_wait(set, event) != EVENT_SUBTASK || event[1] != RETURNED)
            ;
        subtask_drop(subtask);
        waitable_set_drop(set);
    }

    int64_t ends = stdout_stream_new();
    int32_t done = write_via_stream(READABLE_END(ends));
    int32_t w = WRITABLE_END(ends);
    static const uint8_t hello[] = "slept; arguments:";
    int ok = write_all(w, hello, sizeof hello - 1);
    for (uint32_t i = 0; ok && i < args[1]; i++) {
        ok = write_all(w, (const uint8_t *)" ", 1)
             && write_all(w, (const uint8_t *)(uintptr_t)strs[2 * i], strs[2 * i + 1]);
    }
    ok = ok && write_all(w, (const uint8_t *)"\n", 1);
    stdout_drop_writable(w);
    uint8_t result[2] = {1, 0};               /* result<_, error-code>: tag, payload */
    stdout_done_read(done, result);
    stdout_done_drop(done);
    task_return_run(!ok || result[0] != 0);
}
