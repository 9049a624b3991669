"""100,000 suspended callback tasks: memory and time per task, against stackful ones.

The guest (component text below, parsed with ``load_component``) exports
``wait(f: future<u32>, x: u32) -> u32``. Each call takes a 16-byte block of
its instance's memory (a free list), starts an async ``future.read`` of
``f`` into it, and, since nobody has written ``f`` yet, joins ``f`` to a new
waitable set and waits on it. The host keeps the writable side of every
``f`` (a ``SharedFuture`` it made), so every call stays suspended until the
host writes ``v`` into its future; then the call returns ``v + x``, dropping
its set and its future and freeing its block.

``wait`` is written twice: callback-lifted (``$callback``: returns
``WAIT | set << 4``, and the callback finishes on the FUTURE_READ event) and
stackful-lifted (``$stackful``: blocks in ``waitable-set.wait``). Cases:

* ``callback``: the callback-lifted guest under the ``callback`` strategy
  (a suspended task is a record: no greenlet, no fiber);
* ``callback-on-stackful``: the same guest under ``stackful`` (each task's
  runtime loop waits on a greenlet of its own);
* ``stackful``: the stackful-lifted guest under ``stackful`` (a greenlet,
  and the guest's wasm suspended on a wasmtime fiber);
* ``stackful-unwound``: the stackful-lifted guest under ``callback`` (its
  module asyncified: a suspended task is a record plus its unwound stack in
  a buffer of the guest's memory).

Each case runs in a child process of its own (clean RSS). It starts N calls
with ``Store.invoke`` (none finishes: each must be suspended, checked), then
writes every future and runs the event loop until all N calls resolved, and
checks every result. Prints, per case: tasks, µs per task to start and to
release and finish, RSS (``VmRSS``) before, with all N suspended, and after,
KiB per suspended task, and how many greenlet switches and fiber suspensions
the run took. A first round of 1,000 calls warms up (not counted).

Run: ``python benchmarks/callback_tasks.py [--tasks N] [--stackful-tasks M]
[--only CASE]`` (defaults: 100,000 callback tasks, 10,000 in each stackful
case).
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from _measure import rss_mib  # noqa: E402

from stackswitch import trace  # noqa: E402
from stackswitch.canon import strategy as strategies  # noqa: E402
from stackswitch.canon.buffers import HostReadableBuffer  # noqa: E402
from stackswitch.canon.futures import SharedFuture  # noqa: E402
from stackswitch.canon.store import Store, all_resolved  # noqa: E402
from stackswitch.canon.streams import CopyResult  # noqa: E402
from stackswitch.canon.types import U32Type  # noqa: E402
from stackswitch.component.linker import Linker  # noqa: E402
from stackswitch.component.wasm_tools import load_component  # noqa: E402

# The parts both guests share; {body} is the core code of `wait`, {lift} its lift.
GUEST = """
(component
  (type $FT (future u32))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))

  (core func $future.read (canon future.read $FT async (memory $memory)))
  (core func $future.drop-readable (canon future.drop-readable $FT))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable-set.drop (canon waitable-set.drop))
  (core func $waitable.join (canon waitable.join))
  (core func $task.return (canon task.return (result u32)))
  (core func $context.get (canon context.get i32 0))
  (core func $context.set (canon context.set i32 0))

  (core module $G
    (import "" "mem" (memory 1))
    (import "" "future.read" (func $future.read (param i32 i32) (result i32)))
    (import "" "future.drop-readable" (func $future.drop-readable (param i32)))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
    (import "" "waitable-set.drop" (func $waitable-set.drop (param i32)))
    (import "" "waitable.join" (func $waitable.join (param i32 i32)))
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "context.get" (func $context.get (result i32)))
    (import "" "context.set" (func $context.set (param i32)))

    ;; A call's block: +0 the future's readable end, +4 x, +8 the value read,
    ;; +12 its waitable set (0: none). 0x0..0x10 is the event scratch area.
    ;; Blocks come from the first page, then from pages the guest grew itself
    ;; (sbrk-style: the pages the host grows for asyncify's unwind buffers,
    ;; under the callback strategy, are never handed out).
    (global $bump (mut i32) (i32.const 0x10))
    (global $limit (mut i32) (i32.const 0x10000))
    (global $free (mut i32) (i32.const 0))

    (func $alloc (result i32) (local $p i32) (local $page i32)
      (if (global.get $free)
        (then (local.set $p (global.get $free))
              (global.set $free (i32.load (local.get $p))))
        (else
          (if (i32.gt_u (i32.add (global.get $bump) (i32.const 16)) (global.get $limit))
            (then
              (local.set $page (memory.grow (i32.const 1)))
              (if (i32.eq (local.get $page) (i32.const -1)) (then unreachable))
              (global.set $bump (i32.mul (local.get $page) (i32.const 0x10000)))
              (global.set $limit (i32.add (global.get $bump) (i32.const 0x10000)))))
          (local.set $p (global.get $bump))
          (global.set $bump (i32.add (local.get $p) (i32.const 16)))))
      (i32.store offset=12 (local.get $p) (i32.const 0))
      (local.get $p))

    ;; Starts the read; 1 if it has to wait (the set is made and joined), 0 if done.
    (func $start (param $f i32) (param $x i32) (param $p i32) (result i32) (local $ws i32)
      (i32.store (local.get $p) (local.get $f))
      (i32.store offset=4 (local.get $p) (local.get $x))
      (if (i32.ne (call $future.read (local.get $f) (i32.add (local.get $p) (i32.const 8)))
                  (i32.const -1 (; BLOCKED ;)))
        (then (return (i32.const 0))))
      (local.set $ws (call $waitable-set.new))
      (call $waitable.join (local.get $f) (local.get $ws))
      (i32.store offset=12 (local.get $p) (local.get $ws))
      (i32.const 1))

    ;; Returns v + x and gives everything back.
    (func $finish (param $p i32) (local $ws i32)
      (local.set $ws (i32.load offset=12 (local.get $p)))
      (if (local.get $ws)
        (then (call $waitable.join (i32.load (local.get $p)) (i32.const 0))
              (call $waitable-set.drop (local.get $ws))))
      (call $future.drop-readable (i32.load (local.get $p)))
      (call $task.return (i32.add (i32.load offset=8 (local.get $p))
                                  (i32.load offset=4 (local.get $p))))
      (i32.store (local.get $p) (global.get $free))
      (global.set $free (local.get $p)))

{body}
  )
  (core instance $g (instantiate $G (with "" (instance
    (export "mem" (memory $memory))
    (export "future.read" (func $future.read))
    (export "future.drop-readable" (func $future.drop-readable))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable-set.drop" (func $waitable-set.drop))
    (export "waitable.join" (func $waitable.join))
    (export "task.return" (func $task.return))
    (export "context.get" (func $context.get))
    (export "context.set" (func $context.set))))))
  (func (export "wait") async (param "f" $FT) (param "x" u32) (result u32)
    {lift})
)
"""

CALLBACK_BODY = """
    (func (export "wait") (param $f i32) (param $x i32) (result i32) (local $p i32)
      (local.set $p (call $alloc))
      (call $context.set (local.get $p))
      (if (call $start (local.get $f) (local.get $x) (local.get $p))
        (then (return (i32.or (i32.const 2 (; WAIT ;))
                              (i32.shl (i32.load offset=12 (local.get $p)) (i32.const 4))))))
      (call $finish (local.get $p))
      (i32.const 0 (; EXIT ;)))
    (func (export "wait-cb") (param $event i32) (param $i i32) (param $payload i32) (result i32)
      (if (i32.ne (local.get $event) (i32.const 4 (; FUTURE_READ ;))) (then unreachable))
      (call $finish (call $context.get))
      (i32.const 0 (; EXIT ;)))
"""

STACKFUL_BODY = """
    (func (export "wait") (param $f i32) (param $x i32) (local $p i32)
      (local.set $p (call $alloc))
      (if (call $start (local.get $f) (local.get $x) (local.get $p))
        (then
          (if (i32.ne (call $waitable-set.wait (i32.load offset=12 (local.get $p)) (i32.const 0))
                      (i32.const 4 (; FUTURE_READ ;)))
            (then unreachable))))
      (call $finish (local.get $p)))
"""

CALLBACK_GUEST = GUEST.replace("{body}", CALLBACK_BODY).replace(
    "{lift}", '(canon lift (core func $g "wait") async (callback (core func $g "wait-cb")))')
STACKFUL_GUEST = GUEST.replace("{body}", STACKFUL_BODY).replace(
    "{lift}", '(canon lift (core func $g "wait") async)')

# case: (guest, strategy)
CASES = {
    "callback": (CALLBACK_GUEST, "callback"),
    "callback-on-stackful": (CALLBACK_GUEST, "stackful"),
    "stackful": (STACKFUL_GUEST, "stackful"),
    "stackful-unwound": (STACKFUL_GUEST, "callback"),
}

U32 = U32Type()
WARM_UP = 1_000


def _release(gate: SharedFuture, value: int) -> None:
    """Write ``value`` into the future whose reader waits (the host keeps the writer)."""
    outcome: list[CopyResult] = []
    gate.write(None, HostReadableBuffer(U32, [value]), outcome.append)
    assert outcome == [CopyResult.COMPLETED], outcome


def _round(store: Store, wait, n: int, figures: dict | None) -> None:
    """Start n calls, check they all wait, release them, check every result."""
    gc.collect()
    rss0 = rss_mib()
    switches, suspensions = trace.counts["switches"], trace.counts["suspensions"]
    gates = [SharedFuture(U32) for _ in range(n)]
    start = time.perf_counter()
    calls = [store.invoke(wait, [gate, i]) for i, gate in enumerate(gates)]
    started = time.perf_counter()
    gc.collect()
    rss1 = rss_mib()
    suspended = sum(not c.resolved for c in calls)
    assert suspended == n, f"only {suspended} of {n} calls suspended"
    release = time.perf_counter()
    for i, gate in enumerate(gates):
        _release(gate, 3 * i)
    store.run_until(all_resolved(calls))
    finished = time.perf_counter()
    bad = [i for i, c in enumerate(calls) if c.value != [4 * i]]
    assert not bad, f"{len(bad)} wrong results, e.g. call {bad[0]}: {calls[bad[0]].value}"
    del calls, gates
    gc.collect()
    if figures is not None:
        figures.update(
            tasks=n, start_us=(started - start) * 1e6 / n,
            finish_us=(finished - release) * 1e6 / n,
            rss_before=rss0, rss_suspended=rss1, rss_after=rss_mib(),
            kib_per_task=(rss1 - rss0) * 1024 / n,
            switches=trace.counts["switches"] - switches,
            suspensions=trace.counts["suspensions"] - suspensions)


def measure(case: str, n: int) -> dict:
    """One case, in this process: the figures as a dict."""
    text, strategy = CASES[case]
    linker = Linker(Store("fifo", strategies.named(strategy)))
    wait = linker.instantiate(load_component(text), case).func("wait").func_inst
    _round(linker.store, wait, WARM_UP, None)
    figures: dict = {"case": case, "strategy": strategy}
    _round(linker.store, wait, n, figures)
    return figures


def _in_child(case: str, n: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", case, str(n)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{case} failed:\n{proc.stdout}{proc.stderr}")
    return json.loads(proc.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=100_000,
                        help="callback tasks under the callback strategy (default 100,000)")
    parser.add_argument("--stackful-tasks", type=int, default=10_000,
                        help="tasks in each stackful case (default 10,000)")
    parser.add_argument("--only", choices=sorted(CASES), help="run one case")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return
    cases = [args.only] if args.only else list(CASES)
    print(f"{'case':<22} {'strategy':<9} {'tasks':>8} {'start µs':>9} {'finish µs':>10} "
          f"{'RSS MiB before':>15} {'suspended':>10} {'after':>8} {'KiB/task':>9} "
          f"{'switches':>9} {'fiber susp.':>11}")
    for case in cases:
        n = args.tasks if case == "callback" else args.stackful_tasks
        f = _in_child(case, n)
        print(f"{case:<22} {f['strategy']:<9} {f['tasks']:>8,} {f['start_us']:>9.1f} "
              f"{f['finish_us']:>10.1f} {f['rss_before']:>15.1f} {f['rss_suspended']:>10.1f} "
              f"{f['rss_after']:>8.1f} {f['kib_per_task']:>9.2f} {f['switches']:>9,} "
              f"{f['suspensions']:>11,}", flush=True)


if __name__ == "__main__":
    main()
