"""How much a blocking wasm import costs on fibers, in time and in memory.

Prints:

* µs per plain call of a trivial export, and per call of a non-blocking
  import from wasm (both on a fiber);
* µs per blocking import round trip: wasm -> import -> the task's greenlet
  suspends -> the scheduler resumes it -> the import returns -> wasm;
* µs per call, in a wasm loop, of a non-blocking import and of a
  blocking-capable one whose fast path (``on_fiber``) answers on the fiber;
* RSS with 10,000 calls suspended at once (each on its own fiber stack,
  a few wasm frames deep), and after all of them finished.

Times are wall time, or this process's CPU time with ``--cpu``. Run:
``python benchmarks/wasm_fibers.py [--stack-size BYTES] [--calls N] [--cpu]``.
"""

from __future__ import annotations

import argparse
import gc
import time

import wasmtime
from _measure import rss_mib

from stackswitch import stacks
from stackswitch.wasm import fibers

WAT = """
(module
  (import "host" "block" (func $block (param i32) (result i32)))
  (import "host" "inline" (func $inline (param i32) (result i32)))
  (import "host" "fast" (func $fast (param i32) (result i32)))
  (func (export "id") (param i32) (result i32) (local.get 0))
  (func (export "inline") (param i32) (result i32) (call $inline (local.get 0)))
  ;; calls the blocking import n times
  (func (export "block_n") (param $n i32) (result i32)
    (local $sum i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $sum (i32.add (local.get $sum) (call $block (local.get $n))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))
    (local.get $sum))
  ;; calls the non-blocking import n times, then the fast-path one n times
  (func (export "inline_n") (param $n i32) (result i32)
    (local $sum i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $sum (i32.add (local.get $sum) (call $inline (local.get $n))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))
    (local.get $sum))
  (func (export "fast_n") (param $n i32) (result i32)
    (local $sum i32)
    (block $done
      (loop $again
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $sum (i32.add (local.get $sum) (call $fast (local.get $n))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $again)))
    (local.get $sum))
  ;; blocks once, $depth wasm frames down
  (func $deep (export "deep") (param $depth i32) (result i32)
    (if (result i32) (local.get $depth)
      (then (i32.add (call $deep (i32.sub (local.get $depth) (i32.const 1))) (i32.const 1)))
      (else (call $block (i32.const 0)))))
)
"""


def setup(stack_size: int) -> tuple[wasmtime.Store, wasmtime.Instance]:
    engine = fibers.make_engine(stack_size)
    store = wasmtime.Store(engine)
    linker = wasmtime.Linker(engine)
    i32_to_i32 = wasmtime.FuncType([wasmtime.ValType.i32()], [wasmtime.ValType.i32()])
    fibers.define_import(linker, "host", "block", i32_to_i32, stacks.suspend, may_block=True)
    fibers.define_import(linker, "host", "inline", i32_to_i32, lambda x: x, may_block=False)
    fibers.define_import(linker, "host", "fast", i32_to_i32, stacks.suspend, may_block=True,
                         on_fiber=lambda x: x)
    module = wasmtime.Module(engine, WAT)
    return store, fibers.instantiate(linker, store, module)


clock = time.perf_counter


def per_call_us(fn: fibers.WasmFunc, arg: int, n: int) -> float:
    start = clock()
    for _ in range(n):
        fibers.call(fn, (arg,))
    return (clock() - start) / n * 1e6


def per_import_us(loop_n: fibers.WasmFunc, n: int) -> float:
    """One call of ``loop_n(n)``, which calls its import n times: µs per import call."""
    start = clock()
    fibers.call(loop_n, (n,))
    return (clock() - start) / n * 1e6


def round_trip_us(block_n: fibers.WasmFunc, n: int) -> float:
    """One task blocks n times; a minimal scheduler resumes it at once each time."""
    task = stacks.Continuation(lambda _: fibers.call(block_n, (n,)), "task")
    start = clock()
    done, value = task.resume(None)
    while not done:
        done, value = task.resume(value)
    elapsed = clock() - start
    assert value == [n * (n + 1) // 2 % 2**32], value  # wasm adds in i32
    return elapsed / n * 1e6


def suspended_rss(deep: fibers.WasmFunc, calls: int, depth: int) -> tuple[float, float, float]:
    """RSS before, with ``calls`` calls suspended at once, and after they all finished."""
    gc.collect()
    before = rss_mib()
    tasks = [stacks.Continuation(lambda _: fibers.call(deep, (depth,)), f"t{i}")
             for i in range(calls)]
    for task in tasks:
        done, _ = task.resume(None)
        assert not done
    during = rss_mib()
    for task in reversed(tasks):  # any order works; LIFO is the unfriendly one for wasmtime
        done, result = task.resume(0)
        assert done and result == [depth], result
    del tasks
    gc.collect()
    return before, during, rss_mib()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stack-size", type=int, default=fibers.DEFAULT_STACK_SIZE)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--depth", type=int, default=10, help="wasm frames under the blocked import")
    parser.add_argument("--iterations", type=int, default=100_000)
    parser.add_argument("--cpu", action="store_true", help="CPU time instead of wall time")
    args = parser.parse_args()
    global clock
    if args.cpu:
        clock = time.process_time

    store, instance = setup(args.stack_size)

    def export(name: str) -> fibers.WasmFunc:
        return fibers.export(store, instance, name)

    n = args.iterations
    print(f"fiber stack size: {args.stack_size // 1024} KiB")
    print(f"plain call of an export:           {per_call_us(export('id'), 1, n):6.2f} µs")
    inline = per_call_us(export("inline"), 1, n) - per_call_us(export("id"), 1, n)
    print(f"+ one non-blocking import:         {inline:6.2f} µs")
    print(f"blocking import round trip:        {round_trip_us(export('block_n'), n):6.2f} µs"
          "  (wasm -> import -> suspend -> resume -> wasm)")
    print(f"non-blocking import, in a loop:    {per_import_us(export('inline_n'), n):6.2f} µs")
    print(f"blocking-capable import answered on the fiber, in a loop: "
          f"{per_import_us(export('fast_n'), n):6.2f} µs")
    before, during, after = suspended_rss(export("deep"), args.calls, args.depth)
    print(f"RSS with {args.calls:,} calls suspended: {during:8.1f} MiB "
          f"(+{during - before:.1f} MiB, {(during - before) * 1024 / args.calls:.1f} KiB per call; "
          f"before {before:.1f} MiB, after all finished {after:.1f} MiB)")


if __name__ == "__main__":
    main()
