"""What binaryen's asyncify costs: code size, and time per unwind+rewind cycle.

Prints:

1. code size before and after ``wasm-opt --asyncify`` (at several
   optimisation levels) of: a small hand-written module; the C guests of
   ``examples/c/`` (freestanding, as ``examples/build_c_guests.py`` compiles
   them); a C program linked with wasi-libc whose blocking import is reached
   through ``qsort`` (an indirect call, so asyncify must instrument libc
   code too). The C parts need zig's C compiler (``pip install ziglang``) and
   are skipped without it; the first wasi-libc build takes ~20 s.
2. µs per call of the blocking import, on wasmtime fibers
   (:mod:`stackswitch.wasm.fibers`), answered at once, four ways: a plain
   (``may_block=False``) import; a ``may_block=True`` import; a stackful
   suspend/resume (the handler's greenlet suspends and a scheduler resumes
   it, as the runtime does today); an asyncify unwind+rewind (the handler
   starts an unwind, the export returns, the host stops it, starts a rewind
   and calls the export again; the import stops the rewind). Also the
   asyncified module when nothing blocks (the instrumentation's cost).
3. bytes of stack saved per unwind, and RSS per suspended call: asyncify
   (just its buffer) against a suspended fiber.

Run: ``python benchmarks/asyncify.py [--iterations N] [--repeat N] [--tasks N] [--no-c]``.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import wasmtime

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from _measure import rss_mib  # noqa: E402

from callback_abi import asyncify as asy  # noqa: E402
from stackswitch import stacks  # noqa: E402
from stackswitch.wasm import fibers  # noqa: E402

WAT = """
(module
  (import "env" "block" (func $block (param i32) (result i32)))
  (memory (export "memory") 1)
  (func $step (param $i i32) (param $acc i32) (result i32)
    (local $t i64)
    (local.set $t (i64.extend_i32_u (local.get $i)))
    (i32.add (call $block (local.get $acc)) (i32.wrap_i64 (local.get $t))))
  ;; calls block n times from a helper frame, with locals live across each call
  (func (export "loop") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (call $step (local.get $i) (local.get $acc)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))
)
"""

QSORT_C = r"""
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
__attribute__((import_module("env"), import_name("block"))) int block(int);
static int cmp(const void *a, const void *b) {
    block(*(const int *)a);              /* blocks from inside libc's qsort */
    return *(const int *)a - *(const int *)b;
}
__attribute__((export_name("run"))) int run(int n) {
    int *v = malloc(n * sizeof *v);
    char text[64];
    for (int i = 0; i < n; i++) v[i] = (i * 7919) % n;
    qsort(v, n, sizeof *v, cmp);
    snprintf(text, sizeof text, "%d %d", v[0], v[n - 1]);
    int r = (int)strlen(text) + v[n / 2];
    free(v);
    return r;
}
"""

BLOCKING_BUILTINS = ("[waitable-set-wait]", "[thread-yield]", "[thread-suspend]",
                     "[thread-yield-then-resume]", "[thread-suspend-then-resume]",
                     "[thread-yield-then-promote]", "[thread-suspend-then-promote]",
                     "[subtask-cancel]")
"""Core import names (module ``$root``) of built-ins that may block a stackful task."""


def blocking_imports(wasm: bytes) -> list[tuple[str, str]]:
    """The imports of a guest that may block: the built-ins above, sync stream/future copies."""
    found = []
    for imp in wasmtime.Module(wasmtime.Engine(), wasm).imports:
        name = imp.name or ""
        sync_copy = name.startswith(("[stream-read", "[stream-write", "[future-read",
                                     "[future-write"))
        if name in BLOCKING_BUILTINS or sync_copy:
            found.append((imp.module, name))
    return found


# -- 1. code size -------------------------------------------------------------------------


def size_row(label: str, wasm: bytes, imports: list[tuple[str, str]] | None) -> None:
    cells = []
    for level in ("-O0", "-O1", "-O2", "-Os"):
        start = time.perf_counter()
        out = asy.asyncify(wasm, what=label, imports=imports, optimize=level)
        elapsed = time.perf_counter() - start
        cells.append(f"{level} {len(out):>7,} ({len(out) / len(wasm):4.2f}x, {elapsed:4.2f} s)")
    print(f"  {label:<48} {len(wasm):>7,} -> " + "  ".join(cells))


def zig_cc(source: Path, out: Path, flags: list[str]) -> bytes:
    subprocess.run([sys.executable, "-m", "ziglang", "cc", *flags, str(source), "-o", str(out)],
                   check=True, capture_output=True)
    return out.read_bytes()


def code_sizes(with_c: bool) -> None:
    print("1. code size, bytes: original -> after asyncify at each level "
          "(growth, wasm-opt time)")
    size_row("hand-written (imports=[env.block])", wasmtime.wat2wasm(WAT), [("env", "block")])
    if not with_c:
        return
    if importlib.util.find_spec("ziglang") is None:
        print("  (C guests skipped: pip install ziglang)")
        return
    spec = importlib.util.spec_from_file_location("build_c_guests",
                                                  ROOT / "examples" / "build_c_guests.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    with tempfile.TemporaryDirectory() as tmp:
        for source in sorted((ROOT / "examples" / "c").glob("*.c")):
            wasm = zig_cc(source, Path(tmp, source.stem + ".wasm"), build.CFLAGS)
            imports = blocking_imports(wasm)
            size_row(f"examples/c/{source.name} (blocking built-ins)", wasm, imports)
            size_row(f"examples/c/{source.name} (imports=None)", wasm, None)
        source = Path(tmp, "qsort.c")
        source.write_text(QSORT_C)
        wasm = zig_cc(source, Path(tmp, "qsort.wasm"),
                      ["-target", "wasm32-wasi", "-O2", "-s", "-mexec-model=reactor"])
        size_row("wasi-libc qsort (imports=[env.block])", wasm, [("env", "block")])
        size_row("wasi-libc qsort (imports=None)", wasm, None)


# -- 2. time -------------------------------------------------------------------------------


class Setup:
    """One store on fibers with ``env.block`` answered by ``handler``."""

    def __init__(self, wasm: bytes, handler: Callable[[int], int], may_block: bool,
                 relocatable: bool = False) -> None:
        engine = fibers.make_engine()
        self.store = wasmtime.Store(engine)
        linker = wasmtime.Linker(engine)
        i32 = wasmtime.ValType.i32()
        self.globals: tuple[wasmtime.Global, wasmtime.Global] | None = None
        if relocatable:  # binaryen's state and data pointer, imported: set from the host
            mutable = wasmtime.GlobalType(i32, True)
            state, data = (wasmtime.Global(self.store, mutable, wasmtime.Val.i32(0))
                           for _ in range(2))
            linker.define(self.store, *asy.STATE_GLOBAL, state)
            linker.define(self.store, *asy.DATA_GLOBAL, data)
            self.globals = (state, data)
        fibers.define_import(linker, "env", "block", wasmtime.FuncType([i32], [i32]), handler,
                             may_block=may_block)
        self.instance = fibers.instantiate(linker, self.store, wasmtime.Module(engine, wasm))
        self.loop = fibers.export(self.store, self.instance, "loop")


def expected(n: int) -> int:
    acc = 0
    for i in range(n):
        acc = (acc + 1 + i) & 0xFFFFFFFF
    return acc


def per_import_us(setup: Setup, n: int) -> float:
    start = time.perf_counter()
    result = fibers.call(setup.loop, (n,))
    elapsed = time.perf_counter() - start
    assert result == [expected(n)], result
    return elapsed / n * 1e6


def stackful_us(wasm: bytes, n: int) -> float:
    setup = Setup(wasm, lambda v: stacks.suspend(v) + 1, may_block=True)
    task = stacks.Continuation(lambda _: fibers.call(setup.loop, (n,)), "task")
    start = time.perf_counter()
    done, value = task.resume(None)
    while not done:
        done, value = task.resume(value)  # the scheduler answers at once
    elapsed = time.perf_counter() - start
    assert value == [expected(n)], value
    return elapsed / n * 1e6


class Driver:
    """Drives the asyncified ``loop``: every block is an unwind, every answer a rewind.

    ``relocatable``: ``wasm`` was transformed so, and its two globals are set
    from the host (as the callback strategy links components). ``on_fiber``:
    ``block`` is a ``may_block=False`` import, answered on the fiber with no
    suspension (as a component's ``waitable-set.wait`` now starts its unwind
    and takes its replay); else it is answered between polls.
    """

    def __init__(self, wasm: bytes, *, relocatable: bool = False, on_fiber: bool = False,
                 **options: object) -> None:
        self.setup = Setup(wasm, self.block, may_block=not on_fiber, relocatable=relocatable)
        self.asy = asy.Asyncify(self.setup.store, self.setup.instance, what="loop",
                                globals_=self.setup.globals, **options)  # type: ignore[arg-type]
        self.buf = 0

    def block(self, v: int) -> int:
        if self.asy.state() == asy.State.REWINDING:
            self.asy.stop_rewind()
            return v + 1
        self.asy.start_unwind(self.buf)
        return 0

    def start(self, n: int) -> int:
        """Start ``loop(n)`` in a buffer of its own: it unwinds at its first block."""
        buf = self.buf = self.asy.new_buffer()
        fibers.call(self.setup.loop, (n,))
        self.asy.stop_unwind()
        return buf

    def resume(self, buf: int, n: int) -> list[int] | None:
        """Deliver the answer; None if it blocked again, else its results."""
        self.buf = buf
        self.asy.start_rewind(buf)
        result = fibers.call(self.setup.loop, (n,))
        if self.asy.state() == asy.State.UNWINDING:
            self.asy.stop_unwind()
            return None
        self.asy.free_buffer(buf)
        return result


def asyncify_us(wasm: bytes, n: int, **options: bool) -> tuple[float, int]:
    driver = Driver(wasm, **options)
    start = time.perf_counter()
    buf = driver.start(n)
    saved = driver.asy.saved_bytes(buf)
    result = None
    while result is None:
        result = driver.resume(buf, n)
    elapsed = time.perf_counter() - start
    assert result == [expected(n)], result
    return elapsed / n * 1e6, saved


def timings(iterations: int, repeat: int) -> int:
    wasm = wasmtime.wat2wasm(WAT)
    transformed = asy.asyncify(wasm, what="loop", imports=[("env", "block")])
    relocatable = asy.asyncify(wasm, what="loop", imports=[("env", "block")], relocatable=True)
    n = iterations
    print(f"2. µs per blocking-import call, answered at once ({n:,} calls in one export call; "
          f"best of {repeat})")
    rows: list[tuple[str, Callable[[], float]]] = [
        ("import, may_block=False (runs on the fiber)",
         lambda: per_import_us(Setup(wasm, lambda v: v + 1, may_block=False), n)),
        ("import, may_block=True (answered between polls)",
         lambda: per_import_us(Setup(wasm, lambda v: v + 1, may_block=True), n)),
        ("stackful: greenlet suspend + resume", lambda: stackful_us(wasm, n)),
        ("asyncified, never blocking (may_block=True)",
         lambda: per_import_us(Setup(transformed, lambda v: v + 1, may_block=True), n)),
        ("asyncify: unwind + rewind cycle", lambda: asyncify_us(transformed, n // 4)[0]),
        ("  relocatable (globals set from the host)",
         lambda: asyncify_us(relocatable, n // 4, relocatable=True)[0]),
        ("  relocatable, import answered on the fiber",
         lambda: asyncify_us(relocatable, n // 4, relocatable=True, on_fiber=True)[0]),
    ]
    for label, measure in rows:
        print(f"  {label:<48} {min(measure() for _ in range(repeat)):7.2f} µs")
    return asyncify_us(transformed, 1)[1]


# -- 3. memory ------------------------------------------------------------------------------


def suspended_rss(tasks: int) -> None:
    wasm = asy.asyncify(wasmtime.wat2wasm(WAT), what="loop", imports=[("env", "block")])
    gc.collect()
    before = rss_mib()
    driver = Driver(wasm)
    made = rss_mib()
    bufs = [driver.start(3) for _ in range(tasks)]
    during = rss_mib()
    for buf in bufs:
        while driver.resume(buf, 3) is None:
            pass
    after = rss_mib()
    print(f"  RSS with {tasks:,} asyncified calls suspended: +{during - made:.1f} MiB "
          f"({(during - made) * 1024 / tasks:.2f} KiB per call; the store itself "
          f"{made - before:.1f} MiB; guest memory {len(driver.asy.memory) / 2**20:.0f} MiB, "
          f"{driver.asy.data_size + asy.HEADER_SIZE} bytes reserved per buffer); "
          f"after all finished +{after - made:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many time runs")
    parser.add_argument("--no-c", action="store_true", help="skip the C guests (no zig needed)")
    args = parser.parse_args()
    command = asy.find_wasm_opt()
    print(f"{asy.wasm_opt_version(command)} ({' '.join(command)})")
    code_sizes(not args.no_c)
    saved = timings(args.iterations, args.repeat)
    print("3. memory")
    print(f"  stack saved per unwind of `loop` (2 frames): {saved} bytes")
    suspended_rss(args.tasks)


if __name__ == "__main__":
    main()
