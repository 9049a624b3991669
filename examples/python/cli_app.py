"""A WASI command in Python: prints, reads its arguments, environment and stdin, writes and
reads a file in a preopened directory, sleeps, and exits with a code.

    cli-app [ARGS...] [EXIT_CODE]   (the last argument, as a number; default 0)

The same program as examples/wasi/hello.c, line for line, so that the two can be compared.
componentize-py runs the module's top level at build time (the component is a snapshot
taken after it), so everything that depends on the run (arguments, environment, stdin,
files, clocks) is read inside ``run``: arguments and environment from ``wasi:cli/environment``
directly, since ``sys.argv`` and ``os.environ`` were filled in at build time.
WASI 0.2's ``wasi:cli/exit`` says only ok or error, so any non-zero code reaches the host
as status 1 (wasmtime does the same).
"""

import sys
import time

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import environment, exit


def file_round_trip() -> None:
    try:
        with open("/data/hello.txt", "w") as f:
            f.write("written by the guest\n")
    except OSError as e:
        print(f"no /data: {e.strerror}")
        return
    try:
        with open("/data/hello.txt") as f:
            line = f.readline()
    except OSError as e:
        print(f"read back failed: {e.strerror}")
        return
    print(f"file: {line}", end="")


class Run(exports.Run):
    def run(self) -> None:
        argv = environment.get_arguments()
        env = dict(environment.get_environment())
        print(f"hello from Python, argc={len(argv)}")
        for i, arg in enumerate(argv[1:], 1):
            print(f"arg {i}: {arg}")
        print(f"GREETING={env.get('GREETING', '(unset)')}")

        data = sys.stdin.buffer.read()
        digest = 0
        for byte in data:
            digest = (digest * 31 + byte) & 0xFFFFFFFF
        print(f"stdin: {len(data)} bytes, hash {digest}")

        file_round_trip()

        before = time.monotonic_ns()
        time.sleep(0.05)
        slept_ms = (time.monotonic_ns() - before) // 1_000_000
        print(f"slept at least 50 ms: {'yes' if slept_ms >= 50 else 'no'}")

        try:
            code = int(argv[-1]) if len(argv) > 1 else 0
        except ValueError:
            code = 0
        print(f"exiting with {code}", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        if code != 0:
            exit.exit(Err(None))
