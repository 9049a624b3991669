/* A WASI command: prints, reads its arguments, environment and stdin, writes
 * and reads a file in a preopened directory, sleeps, and exits with a code.
 *
 *   hello [ARGS...] [EXIT_CODE]   (the last argument, as a number; default 0)
 *
 * WASI 0.1's adapter ends the program with wasi:cli/exit's `exit(result)`, so
 * any non-zero code reaches the host as status 1 (wasmtime prints the same).
 * With a directory preopened as "/data" (`--dir HOST::/data`) it writes
 * /data/hello.txt and reads it back; without one it says so. The environment
 * variable GREETING, if set, is printed. Every line goes to stdout except the
 * last, which goes to stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void file_round_trip(void) {
    FILE *f = fopen("/data/hello.txt", "w");
    if (!f) {
        printf("no /data: %s\n", strerror(errno));
        return;
    }
    fputs("written by the guest\n", f);
    fclose(f);
    char line[64] = {0};
    f = fopen("/data/hello.txt", "r");
    if (!f || !fgets(line, sizeof line, f)) {
        printf("read back failed: %s\n", strerror(errno));
        return;
    }
    fclose(f);
    printf("file: %s", line);
}

int main(int argc, char **argv) {
    printf("hello from C, argc=%d\n", argc);
    for (int i = 1; i < argc; i++)
        printf("arg %d: %s\n", i, argv[i]);
    const char *greeting = getenv("GREETING");
    printf("GREETING=%s\n", greeting ? greeting : "(unset)");

    char buf[256];
    size_t total = 0, n;
    unsigned sum = 0;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0) {
        for (size_t i = 0; i < n; i++)
            sum = sum * 31 + (unsigned char)buf[i];
        total += n;
    }
    printf("stdin: %zu bytes, hash %u\n", total, sum);

    file_round_trip();

    struct timespec before, after, pause = {0, 50 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &before);
    nanosleep(&pause, NULL);
    clock_gettime(CLOCK_MONOTONIC, &after);
    long slept_ms = (after.tv_sec - before.tv_sec) * 1000 + (after.tv_nsec - before.tv_nsec) / 1000000;
    printf("slept at least 50 ms: %s\n", slept_ms >= 50 ? "yes" : "no");

    int code = argc > 1 ? atoi(argv[argc - 1]) : 0;
    fprintf(stderr, "exiting with %d\n", code);
    return code;
}
