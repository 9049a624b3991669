/* Tries to open each argument for reading and prints what happened, one line each:
 *
 *   escape /data/inside.txt /data/../secret.txt /data/out-link/secret.txt
 *
 * A capability-safe host lets it read only files beneath a preopened directory;
 * every other attempt prints the error wasi-libc made of the host's error code.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "r");
        if (!f) {
            printf("%s: error: %s\n", argv[i], strerror(errno));
            continue;
        }
        char line[64] = {0};
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        line[strcspn(line, "\n")] = 0;
        printf("%s: read: %s\n", argv[i], line);
        fclose(f);
    }
    return 0;
}
