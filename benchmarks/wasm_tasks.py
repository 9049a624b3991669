"""What async wasm tasks cost, measured through real components.

Two components, written below as component text and parsed with
``load_component``, run on wasmtime fibers inside one canon ``Store``:

* ``$source`` has stackful async exports (``canon lift ... async``, no
  callback): ``yield-n`` calls ``thread.yield`` n times; ``produce`` returns
  a ``stream<u8>`` and writes n chunks (64 KiB, or ``--chunk-kib``) into it with sync
  ``stream.write``; ``block`` waits in ``waitable-set.wait`` on a stream
  nobody writes yet, and ``release`` drops all those streams' writable ends.
* ``$sink`` imports ``produce`` (lowered async) and reads the stream in
  chunk-sized ``stream.read`` calls, waiting in ``waitable-set.wait`` whenever a
  read blocks, until the writer drops its end.

Prints:

1. µs per ``thread.yield`` of one stackful wasm task (each yield is a
   wait/resume round trip: the task's greenlet suspends, the scheduler picks
   it again, wasm resumes on its fiber), and of two such tasks interleaving;
3. MB/s (10^6 bytes per second) of a ``stream<u8>`` copied from
   ``$source``'s memory to ``$sink``'s in 64 KiB chunks (``--chunk-kib``), and µs per chunk;
4. RSS (``VmRSS``) with N ``block`` calls suspended at once, started with
   ``Store.invoke``, then released; checks that every call finished.

Best of ``--repeat`` runs for (1) and (3). Run:
``python benchmarks/wasm_tasks.py [--only 1|3|4] [--yields N] [--mib M] [--chunk-kib K]
[--tasks N] [--cpu]``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

# Run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _measure import rss_mib

from stackswitch.component.instance import Instance
from stackswitch.component.linker import Linker
from stackswitch.component.wasm_tools import load_component

CHUNK = 64 * 1024

SOURCE = """
(component $source
  (type $ST (stream u8))
  (core module $Mem (memory (export "mem") {PAGES}))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))

  (core func $task.return0 (canon task.return))
  (core func $task.return-st (canon task.return (result $ST)))
  (core func $thread.yield (canon thread.yield))
  (core func $stream.new (canon stream.new $ST))
  (core func $stream.write (canon stream.write $ST (memory $memory)))
  (core func $stream.read (canon stream.read $ST async (memory $memory)))
  (core func $stream.drop-writable (canon stream.drop-writable $ST))
  (core func $stream.drop-readable (canon stream.drop-readable $ST))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable-set.drop (canon waitable-set.drop))
  (core func $waitable.join (canon waitable.join))

  (core module $S
    (import "" "mem" (memory {PAGES}))
    (import "" "task.return0" (func $task.return0))
    (import "" "task.return-st" (func $task.return-st (param i32)))
    (import "" "thread.yield" (func $thread.yield (result i32)))
    (import "" "stream.new" (func $stream.new (result i64)))
    (import "" "stream.write" (func $stream.write (param i32 i32 i32) (result i32)))
    (import "" "stream.read" (func $stream.read (param i32 i32 i32) (result i32)))
    (import "" "stream.drop-writable" (func $stream.drop-writable (param i32)))
    (import "" "stream.drop-readable" (func $stream.drop-readable (param i32)))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
    (import "" "waitable-set.drop" (func $waitable-set.drop (param i32)))
    (import "" "waitable.join" (func $waitable.join (param i32 i32)))

    ;; memory: 0x0 event scratch, 0x10000 the chunk written,
    ;; {ENDS}.. the writable ends of blocked calls (4 bytes each)
    (global $blocked (mut i32) (i32.const 0))

    (func (export "yield-n") (param $n i32)
      (block $done
        (loop $again
          (br_if $done (i32.eqz (local.get $n)))
          (drop (call $thread.yield))
          (local.set $n (i32.sub (local.get $n) (i32.const 1)))
          (br $again)))
      (call $task.return0))

    ;; returns a stream, then writes $chunks chunks into it
    (func (export "produce") (param $chunks i32) (local $ends i64) (local $w i32)
      (local $ptr i32) (local $left i32) (local $res i32)
      (local.set $ends (call $stream.new))
      (local.set $w (i32.wrap_i64 (i64.shr_u (local.get $ends) (i64.const 32))))
      (call $task.return-st (i32.wrap_i64 (local.get $ends)))
      (block $done
        (loop $chunk
          (br_if $done (i32.eqz (local.get $chunks)))
          (local.set $ptr (i32.const 0x10000))
          (local.set $left (i32.const {CHUNK}))
          (loop $more
            (local.set $res (call $stream.write (local.get $w) (local.get $ptr) (local.get $left)))
            (br_if $done (i32.eq (i32.and (local.get $res) (i32.const 0xf)) (i32.const 1 (; DROPPED ;))))
            (local.set $ptr (i32.add (local.get $ptr) (i32.shr_u (local.get $res) (i32.const 4))))
            (local.set $left (i32.sub (local.get $left) (i32.shr_u (local.get $res) (i32.const 4))))
            (br_if $more (local.get $left)))
          (local.set $chunks (i32.sub (local.get $chunks) (i32.const 1)))
          (br $chunk)))
      (call $stream.drop-writable (local.get $w)))

    ;; waits on a stream whose writable end only `release` drops
    (func (export "block") (local $ends i64) (local $r i32) (local $ws i32)
      (local.set $ends (call $stream.new))
      (local.set $r (i32.wrap_i64 (local.get $ends)))
      (i32.store (i32.add (i32.const {ENDS}) (i32.shl (global.get $blocked) (i32.const 2)))
                 (i32.wrap_i64 (i64.shr_u (local.get $ends) (i64.const 32))))
      (global.set $blocked (i32.add (global.get $blocked) (i32.const 1)))
      (if (i32.ne (call $stream.read (local.get $r) (i32.const 0x100) (i32.const 1)) (i32.const -1))
        (then unreachable))
      (local.set $ws (call $waitable-set.new))
      (call $waitable.join (local.get $r) (local.get $ws))
      (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 0)) (i32.const 2 (; STREAM_READ ;)))
        (then unreachable))
      (call $waitable.join (local.get $r) (i32.const 0))
      (call $waitable-set.drop (local.get $ws))
      (call $stream.drop-readable (local.get $r))
      (call $task.return0))

    (func (export "release") (local $i i32)
      (block $done
        (loop $again
          (br_if $done (i32.ge_u (local.get $i) (global.get $blocked)))
          (call $stream.drop-writable
            (i32.load (i32.add (i32.const {ENDS}) (i32.shl (local.get $i) (i32.const 2)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $again)))
      (global.set $blocked (i32.const 0))
      (call $task.return0))
  )
  (core instance $s (instantiate $S (with "" (instance
    (export "mem" (memory $memory))
    (export "task.return0" (func $task.return0))
    (export "task.return-st" (func $task.return-st))
    (export "thread.yield" (func $thread.yield))
    (export "stream.new" (func $stream.new))
    (export "stream.write" (func $stream.write))
    (export "stream.read" (func $stream.read))
    (export "stream.drop-writable" (func $stream.drop-writable))
    (export "stream.drop-readable" (func $stream.drop-readable))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable-set.drop" (func $waitable-set.drop))
    (export "waitable.join" (func $waitable.join))))))
  (func (export "yield-n") async (param "n" u32) (canon lift (core func $s "yield-n") async))
  (func (export "produce") async (param "chunks" u32) (result $ST)
    (canon lift (core func $s "produce") async))
  (func (export "block") async (canon lift (core func $s "block") async))
  (func (export "release") async (canon lift (core func $s "release") async))
)
"""

SINK = """
(component $sink
  (type $ST (stream u8))
  (import "source" (instance $source
    (export "produce" (func async (param "chunks" u32) (result $ST)))))
  (core module $Mem (memory (export "mem") {PAGES}))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))

  (core func $produce (canon lower (func $source "produce") async (memory $memory)))
  (core func $task.return (canon task.return (result u64)))
  (core func $stream.read (canon stream.read $ST async (memory $memory)))
  (core func $stream.drop-readable (canon stream.drop-readable $ST))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable-set.drop (canon waitable-set.drop))
  (core func $waitable.join (canon waitable.join))

  (core module $K
    (import "" "mem" (memory {PAGES}))
    (import "" "produce" (func $produce (param i32 i32) (result i32)))
    (import "" "task.return" (func $task.return (param i64)))
    (import "" "stream.read" (func $stream.read (param i32 i32 i32) (result i32)))
    (import "" "stream.drop-readable" (func $stream.drop-readable (param i32)))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
    (import "" "waitable-set.drop" (func $waitable-set.drop (param i32)))
    (import "" "waitable.join" (func $waitable.join (param i32 i32)))

    ;; memory: 0x0 event, 0x40 return area, 0x10000 the read buffer (one chunk).
    ;; Reads until the writer drops its end; returns the number of bytes read.
    (func (export "consume") (param $chunks i32) (local $r i32) (local $ws i32) (local $res i32)
      (local $total i64)
      (if (i32.ne (call $produce (local.get $chunks) (i32.const 0x40)) (i32.const 2 (; RETURNED ;)))
        (then unreachable))
      (local.set $r (i32.load (i32.const 0x40)))
      (local.set $ws (call $waitable-set.new))
      (call $waitable.join (local.get $r) (local.get $ws))
      (block $dropped
        (loop $more
          (local.set $res (call $stream.read (local.get $r) (i32.const 0x10000) (i32.const {CHUNK})))
          (if (i32.eq (local.get $res) (i32.const -1))
            (then
              (if (i32.ne (call $waitable-set.wait (local.get $ws) (i32.const 0)) (i32.const 2))
                (then unreachable))
              (local.set $res (i32.load (i32.const 4)))))
          (local.set $total (i64.add (local.get $total)
                                     (i64.extend_i32_u (i32.shr_u (local.get $res) (i32.const 4)))))
          (br_if $dropped (i32.eq (i32.and (local.get $res) (i32.const 0xf)) (i32.const 1 (; DROPPED ;))))
          (br $more)))
      (call $waitable.join (local.get $r) (i32.const 0))
      (call $waitable-set.drop (local.get $ws))
      (call $stream.drop-readable (local.get $r))
      (call $task.return (local.get $total)))
  )
  (core instance $k (instantiate $K (with "" (instance
    (export "mem" (memory $memory))
    (export "produce" (func $produce))
    (export "task.return" (func $task.return))
    (export "stream.read" (func $stream.read))
    (export "stream.drop-readable" (func $stream.drop-readable))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable-set.drop" (func $waitable-set.drop))
    (export "waitable.join" (func $waitable.join))))))
  (func (export "consume") async (param "chunks" u32) (result u64)
    (canon lift (core func $k "consume") async))
)
"""


def setup(chunk: int = CHUNK) -> tuple[Linker, Instance, Instance]:
    """Both components, linked, with ``chunk``-byte stream reads and writes."""
    ends = 0x10000 + max(chunk, 0x10000)
    pages = max(4, -(-(ends + 4 * 65536) // 65536))
    fill = {"{CHUNK}": hex(chunk), "{ENDS}": hex(ends), "{PAGES}": str(pages)}
    source_text, sink_text = SOURCE, SINK
    for key, value in fill.items():
        source_text, sink_text = source_text.replace(key, value), sink_text.replace(key, value)
    linker = Linker()
    source = linker.instantiate(load_component(source_text), "source")
    linker.define("source", source)
    sink = linker.instantiate(load_component(sink_text), "sink")
    return linker, source, sink


def yield_us(linker: Linker, source: Instance, n: int, tasks: int) -> float:
    """µs per ``thread.yield`` with ``tasks`` stackful tasks yielding n times each."""
    f = source.func("yield-n").func_inst
    start = time.perf_counter()
    calls = [linker.store.invoke(f, [n]) for _ in range(tasks)]
    linker.store.run_until(lambda: all(c.resolved for c in calls))
    elapsed = time.perf_counter() - start
    assert all(c.value == [] for c in calls), [c.value for c in calls]
    return elapsed / (n * tasks) * 1e6


def stream_mb_s(sink: Instance, mib: int, chunk: int = CHUNK, cpu: bool = False) -> float:
    """MB/s of ``mib`` MiB streamed in ``chunk``-byte pieces; by CPU time if ``cpu``."""
    clock = time.process_time if cpu else time.perf_counter
    chunks = max(1, mib * 1024 * 1024 // chunk)
    start = clock()
    result = sink.func("consume").call(chunks)
    elapsed = clock() - start
    assert result == chunks * chunk, result
    return chunks * chunk / elapsed / 1e6


def suspended_rss(linker: Linker, source: Instance, n: int) -> tuple[float, float, float, float]:
    """RSS before, with n ``block`` calls suspended at once, after releasing them; setup seconds."""
    store = linker.store
    block, release = source.func("block").func_inst, source.func("release").func_inst
    gc.collect()
    before = rss_mib()
    start = time.perf_counter()
    calls = [store.invoke(block, []) for _ in range(n)]
    store.run()
    setup_s = time.perf_counter() - start
    assert not any(c.resolved for c in calls), "a block call finished before release"
    during = rss_mib()
    assert store.call(release, []) == []
    store.run_until(lambda: all(c.resolved for c in calls))
    assert all(c.value == [] for c in calls)
    calls.clear()
    gc.collect()
    return before, during, rss_mib(), setup_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["1", "3", "4"], help="run one measurement")
    parser.add_argument("--yields", type=int, default=100_000, help="yields per run for (1)")
    parser.add_argument("--mib", type=int, default=256, help="MiB per run for (3)")
    parser.add_argument("--chunk-kib", type=int, default=CHUNK // 1024,
                        help="KiB per stream.read/stream.write for (3)")
    parser.add_argument("--tasks", type=int, default=10_000, help="suspended calls for (4)")
    parser.add_argument("--repeat", type=int, default=3, help="runs for (1) and (3); best is printed")
    parser.add_argument("--cpu", action="store_true",
                        help="time (3) by this process's CPU time, not wall time (a loaded machine)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    chunk = args.chunk_kib * 1024
    if not 0 < chunk <= 1 << 24:
        parser.error("--chunk-kib must be between 1 and 16384")
    linker, source, sink = setup(chunk)
    print(f"parse + instantiate both components: {time.perf_counter() - t0:.2f} s")

    if args.only in (None, "1"):
        one = min(yield_us(linker, source, args.yields, 1) for _ in range(args.repeat))
        two = min(yield_us(linker, source, args.yields // 2, 2) for _ in range(args.repeat))
        print(f"(1) thread.yield, 1 stackful wasm task:   {one:6.2f} µs per yield (goal <= 10 µs)")
        print(f"    thread.yield, 2 tasks interleaving:   {two:6.2f} µs per yield")
    if args.only in (None, "3"):
        best = max(stream_mb_s(sink, args.mib, chunk, args.cpu) for _ in range(args.repeat))
        clock = "CPU" if args.cpu else "wall"
        print(f"(3) stream<u8> {args.mib} MiB in {args.chunk_kib} KiB chunks, {clock}:  {best:8.0f} MB/s "
              f"({chunk / best:.1f} µs per chunk; goal >= 2000 MB/s with 64 KiB)")
    if args.only in (None, "4"):
        before, during, after, setup_s = suspended_rss(linker, source, args.tasks)
        per_task = (during - before) * 1024 / args.tasks
        print(f"(4) RSS with {args.tasks:,} wasm tasks suspended: {during:8.1f} MiB "
              f"(+{during - before:.1f} MiB, {per_task:.1f} KiB per task; before {before:.1f} MiB, "
              f"after all finished {after:.1f} MiB; started in {setup_s:.2f} s) (goal < 2048 MiB)")


if __name__ == "__main__":
    main()
