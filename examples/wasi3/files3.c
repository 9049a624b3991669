/* WASI 0.3 files in freestanding C, on the async built-ins (no libc targets 0.3 yet).
 *
 * In the first preopened directory it writes "hello, 0.3" to data.txt through a
 * stream<u8> (write-via-stream), reads it back through read-via-stream, tries
 * to open ../escape.txt, and writes a report to report.txt:
 *
 *   read back: hello, 0.3; escape: error 30
 *
 * (30 is error-code.not-permitted.) run returns err if a step fails.
 */
#include "../c/cm_async.h"

#define FS "wasi:filesystem/types@0.3.0"

IMPORT("wasi:filesystem/preopens@0.3.0", "get-directories") void get_directories(uint32_t *ret);
IMPORT(FS, "[async-lower][method]descriptor.open-at") uint32_t open_at_async(void *args, void *ret);
IMPORT(FS, "[method]descriptor.write-via-stream")
int32_t write_via_stream(int32_t self, int32_t readable, uint64_t offset);
IMPORT(FS, "[method]descriptor.read-via-stream")
void read_via_stream(int32_t self, uint64_t offset, int32_t *ret);
IMPORT(FS, "[resource-drop]descriptor") void descriptor_drop(int32_t d);
IMPORT(FS, "[stream-new-0][method]descriptor.write-via-stream") int64_t out_stream_new(void);
IMPORT(FS, "[stream-write-0][method]descriptor.write-via-stream")
uint32_t out_write(int32_t w, const void *p, uint32_t n);
IMPORT(FS, "[stream-drop-writable-0][method]descriptor.write-via-stream") void out_drop(int32_t w);
IMPORT(FS, "[future-read-1][method]descriptor.write-via-stream") uint32_t out_done_read(int32_t f, void *p);
IMPORT(FS, "[future-drop-readable-1][method]descriptor.write-via-stream") void out_done_drop(int32_t f);
IMPORT(FS, "[stream-read-0][method]descriptor.read-via-stream")
uint32_t in_read(int32_t r, void *p, uint32_t n);
IMPORT(FS, "[stream-drop-readable-0][method]descriptor.read-via-stream") void in_drop(int32_t r);
IMPORT(FS, "[future-read-1][method]descriptor.read-via-stream") uint32_t in_done_read(int32_t f, void *p);
IMPORT(FS, "[future-drop-readable-1][method]descriptor.read-via-stream") void in_done_drop(int32_t f);
IMPORT("[export]wasi:cli/run@0.3.0", "[task-return]run") void task_return_run(int32_t is_err);

enum { CREATE = 1, TRUNCATE = 8, READ = 1, WRITE = 2 };

static uint32_t length(const char *s) {
    uint32_t n = 0;
    while (s[n])
        n++;
    return n;
}

static void wait_subtask(uint32_t status) {
    if ((status & 0xf) == RETURNED)
        return;
    int32_t subtask = (int32_t)(status >> 4), set = waitable_set_new(), event[2];
    waitable_join(subtask, set);
    while (waitable_set_wait(set, event) != EVENT_SUBTASK || event[1] != RETURNED)
        ;
    subtask_drop(subtask);
    waitable_set_drop(set);
}

/* open-at(path-flags: {}, path, open-flags, flags): the handle, or -1 - error-code. */
static int32_t open_at(int32_t dir, const char *path, uint8_t open_flags, uint8_t flags) {
    uint32_t args[5] = {(uint32_t)dir, 0, (uint32_t)(uintptr_t)path, length(path),
                        (uint32_t)open_flags | (uint32_t)flags << 8};
    uint32_t ret[5];                          /* result<descriptor, error-code> */
    wait_subtask(open_at_async(args, ret));
    if ((ret[0] & 0xff) == 0)
        return (int32_t)ret[1];
    return -1 - (int32_t)(ret[1] & 0xff);
}

static int write_file(int32_t file, const char *text, uint32_t n) {
    int64_t ends = out_stream_new();
    int32_t w = WRITABLE_END(ends);
    int32_t done = write_via_stream(file, READABLE_END(ends), 0);
    int ok = 1;
    while (ok && n > 0) {
        uint32_t status = out_write(w, text, n);
        ok = (status & 0xf) == COMPLETED;
        text += status >> 4;
        n -= status >> 4;
    }
    out_drop(w);
    uint32_t result[5] = {1};
    out_done_read(done, result);
    out_done_drop(done);
    return ok && (result[0] & 0xff) == 0;
}

static uint32_t read_file(int32_t file, char *buf, uint32_t cap) {
    int32_t ends[2];
    read_via_stream(file, 0, ends);
    uint32_t n = 0;
    while (n < cap) {
        uint32_t status = in_read(ends[0], buf + n, cap - n);
        n += status >> 4;
        if ((status & 0xf) != COMPLETED)
            break;
    }
    in_drop(ends[0]);
    uint32_t result[5] = {1};
    in_done_read(ends[1], result);
    in_done_drop(ends[1]);
    return (result[0] & 0xff) == 0 ? n : 0;
}

static char *append(char *p, const char *s, uint32_t n) {
    while (n--)
        *p++ = *s++;
    return p;
}

EXPORT("[async-lift-stackful]wasi:cli/run@0.3.0#run")
void run(void) {
    uint32_t dirs[2];
    get_directories(dirs);
    if (dirs[1] == 0) {
        task_return_run(1);
        return;
    }
    int32_t root = (int32_t)((uint32_t *)(uintptr_t)dirs[0])[0];
    static const char text[] = "hello, 0.3";
    int32_t data = open_at(root, "data.txt", CREATE | TRUNCATE, READ | WRITE);
    int ok = data >= 0 && write_file(data, text, sizeof text - 1);
    char back[64];
    uint32_t n = ok ? read_file(data, back, sizeof back) : 0;
    int32_t escape = open_at(root, "../escape.txt", CREATE, READ | WRITE);

    char report[128], *p = report;
    p = append(p, "read back: ", 11);
    p = append(p, back, n);
    p = append(p, "; escape: ", 10);
    if (escape >= 0) {
        p = append(p, "opened", 6);
    } else {
        uint32_t code = (uint32_t)(-1 - escape);
        p = append(p, "error ", 6);
        if (code >= 10)
            *p++ = (char)('0' + code / 10);
        *p++ = (char)('0' + code % 10);
    }
    *p++ = '\n';
    int32_t out = open_at(root, "report.txt", CREATE | TRUNCATE, WRITE);
    ok = ok && out >= 0 && write_file(out, report, (uint32_t)(p - report));
    if (data >= 0)
        descriptor_drop(data);
    if (out >= 0)
        descriptor_drop(out);
    task_return_run(!ok || escape >= 0);
}
