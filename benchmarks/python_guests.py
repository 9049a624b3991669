"""What one wait/resume round trip costs: greenlets versus OS threads.

Usage::

    python benchmarks/python_guests.py                      # (a)-(d), about 6 s
    python benchmarks/python_guests.py --iterations 5000    # quicker, noisier
    python benchmarks/python_guests.py --only c             # one measurement (e.g. under py-spy)
    python benchmarks/python_guests.py --spec-dir /path/to/component-model/design/mvp/canonical-abi

Measurements (each is the best of ``--repeats`` runs, reported per round trip):

(a)  greenlet only: ``g.switch()`` into a greenlet that switches straight back.
(b)  ``stackswitch.stacks``: ``Continuation.resume()`` of a body that calls
     ``stacks.suspend()`` at once (state bookkeeping, no trace subscriber).
(c)  the full runtime, two Python-guest tasks in two component instances
     playing ping-pong over two ``stream<u8>``: A writes one byte to B and
     blocks in ``waitable-set.wait`` for the reply; B, blocked in
     ``waitable-set.wait`` on its inbox, resumes, takes the byte, writes it
     back and blocks again; A resumes with its STREAM_READ event. One round
     trip = one byte there and back = 2 ``stream.write`` + 2 ``stream.read``
     built-ins, 2 ``waitable-set.wait`` that block, 2 scheduler ticks and 4
     stack switches (the script counts the last two and prints them).
(c') the full runtime, two tasks alternately calling ``thread.yield``: one
     round trip = A's yield returns after B ran once = 2 scheduler ticks,
     4 stack switches.
(d)  for comparison, the spec's approach: a hand-off between two OS threads
     with two ``threading.Lock``s (release the other's lock, block on ours),
     the scheme of ``cont_new``/``resume``/``block`` in the spec's
     ``definitions.py`` (which also allocates a fresh lock per hand-off).
     One round trip = to the other thread and back.
(d') with ``--spec-dir``: the spec's own ``cont_new``/``resume``/``block``,
     one ``resume`` of a continuation that blocks at once (compare with (b)).
(d'') with ``--spec-dir``: the spec's own runtime running (c'): two tasks
     alternately calling ``canon_thread_yield``, driven by ``Store.tick``;
     one round trip = 2 ticks (compare with (c')).

(a) and (b) are cheap, so they run 10x ``--iterations`` round trips.
Timings use ``time.perf_counter`` and include the Python loop around the
measured operation (a few tens of nanoseconds). The OS-thread figures depend
on whether the kernel runs both threads on one CPU or wakes the other CPU:
compare with ``taskset -c 0 python benchmarks/python_guests.py``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Run from a checkout without installing the package.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import greenlet

from stackswitch import stacks, trace
from stackswitch.canon.store import Store
from stackswitch.canon.types import FuncType, StreamType, U8Type, U32Type
from stackswitch.embed.guest import PyComponent

BLOCKED = 0xFFFF_FFFF
STREAM_READ = 2
COMPLETED = 0
RETURNED = 2

Bench = Callable[[int], float]


# -- (a) greenlet only ----------------------------------------------------------------


def bench_greenlet(n: int) -> float:
    main = greenlet.getcurrent()

    def body() -> None:
        while True:
            main.switch()

    g = greenlet.greenlet(body)
    g.switch()  # start it: it switches straight back
    t0 = time.perf_counter()
    for _ in range(n):
        g.switch()
    return time.perf_counter() - t0


# -- (b) stackswitch.stacks -------------------------------------------------------------


def bench_continuation(n: int) -> float:
    def body(_: object) -> None:
        while True:
            stacks.suspend()

    cont = stacks.Continuation(body, "bench")
    cont.resume()  # run to the first suspend
    t0 = time.perf_counter()
    for _ in range(n):
        cont.resume()
    return time.perf_counter() - t0


# -- (c) stream ping-pong through waitable-set.wait -----------------------------------------

U8_STREAM = StreamType(U8Type())
ECHO = FuncType([("inbox", U8_STREAM)], [U8_STREAM], async_=True)
PING = FuncType([("n", U32Type())], [U32Type()], async_=True)
per_round_trip: dict[str, float] = {}


def _wait_for(comp: PyComponent, ws: int, handle: int) -> int:
    """Block in waitable-set.wait until the read on ``handle`` completes; its payload."""
    event, index, payload = comp.wait(ws)
    assert (event, index) == (STREAM_READ, handle), (event, index, payload)
    return payload


def build_ping_pong(store: Store) -> object:
    """A.ping(n) and B.echo: the ping-pong of measurement (c); returns A.ping."""
    b = PyComponent(store, "B")

    @b.export(ECHO, abi="stackful")
    def echo(inbox: int) -> None:
        reply_r, reply_w = b.stream_new(U8_STREAM)
        b.task_return(reply_r)            # the caller gets its reply stream now
        buf = b.alloc(1, 1)
        ws = b.waitable_set_new()
        b.waitable_join(inbox, ws)
        while True:
            status = b.stream_read(U8_STREAM, inbox, buf, 1)
            if status == BLOCKED:
                status = _wait_for(b, ws, inbox)
            if status & 0xF != COMPLETED:
                break                     # A dropped its writable end
            status = b.stream_write(U8_STREAM, reply_w, buf, 1)  # A is parked in its read
            assert status == COMPLETED | (1 << 4)
        b.waitable_join(inbox, 0)
        b.waitable_set_drop(ws)
        b.stream_drop_readable(U8_STREAM, inbox)
        b.stream_drop_writable(U8_STREAM, reply_w)

    a = PyComponent(store, "A")
    call_echo = a.import_(echo, ECHO, async_=True, name="B.echo")

    @a.export(PING, abi="stackful")
    def ping(n: int) -> None:
        inbox_r, out_w = a.stream_new(U8_STREAM)
        retptr = a.alloc(4, 4)
        status = call_echo(inbox_r, retptr)
        assert status == RETURNED         # B returned eagerly and keeps running
        reply = a.memory.load_u32(retptr)
        buf = a.alloc(1, 1)
        ws = a.waitable_set_new()
        a.waitable_join(reply, ws)
        ticks, switches = store.scheduler.ticks, trace.counts["switches"]
        t0 = time.perf_counter()
        for i in range(n):
            a.memory.store_u8(buf, i & 0xFF)
            # B is parked in its read: the write completes at once and makes B ready.
            status = a.stream_write(U8_STREAM, out_w, buf, 1)
            assert status == COMPLETED | (1 << 4)
            status = a.stream_read(U8_STREAM, reply, buf, 1)
            if status == BLOCKED:
                status = _wait_for(a, ws, reply)
            assert status == COMPLETED | (1 << 4) and a.memory.load_u8(buf) == i & 0xFF
        per_round_trip["seconds"] = time.perf_counter() - t0
        per_round_trip["ticks"] = (store.scheduler.ticks - ticks) / n
        per_round_trip["switches"] = (trace.counts["switches"] - switches) / n
        a.waitable_join(reply, 0)
        a.waitable_set_drop(ws)
        a.stream_drop_writable(U8_STREAM, out_w)
        a.stream_drop_readable(U8_STREAM, reply)
        a.task_return(n)

    return ping


def bench_stream_ping_pong(n: int) -> float:
    store = Store()
    ping = build_ping_pong(store)
    result = store.invoke(ping, [n])
    store.run()                           # also lets B see the drop and finish
    assert result.value == [n] and not store.scheduler.waiting
    return per_round_trip["seconds"]


# -- (c') thread.yield ping-pong ---------------------------------------------------------------


def bench_yield_ping_pong(n: int) -> float:
    store = Store()
    fns = []
    for name in ("A", "B"):
        comp = PyComponent(store, name)

        def spin(count: int, comp: PyComponent = comp) -> None:
            for _ in range(count):
                comp.thread_yield()
            comp.task_return(count)

        fns.append(comp.export(PING, abi="stackful", name="spin")(spin))
    calls = [store.invoke(f, [n + 1]) for f in fns]  # each runs to its first yield
    ticks = store.scheduler.ticks
    t0 = time.perf_counter()
    for _ in range(2 * n):                # n round trips: A, B, A, B, ...
        store.tick()
    elapsed = time.perf_counter() - t0
    assert store.scheduler.ticks - ticks == 2 * n
    store.run()
    assert [c.value for c in calls] == [[n + 1], [n + 1]]
    return elapsed


# -- (d) OS threads and locks: the spec's approach ---------------------------------------------------


def bench_os_threads(n: int) -> float:
    to_worker = threading.Lock()
    to_worker.acquire()
    to_main = threading.Lock()
    to_main.acquire()

    def worker() -> None:
        for _ in range(n + 1):
            to_worker.acquire()           # blocked until main hands over
            to_main.release()             # hand back

    t = threading.Thread(target=worker)
    t.start()
    to_worker.release()                   # warm-up round trip
    to_main.acquire()
    t0 = time.perf_counter()
    for _ in range(n):
        to_worker.release()
        to_main.acquire()
    elapsed = time.perf_counter() - t0
    t.join()
    return elapsed


def load_spec(spec_dir: str) -> Any:
    """The spec's reference Python, ``definitions.py`` of the component-model repository."""
    sys.path.insert(0, spec_dir)
    import definitions

    definitions.DETERMINISTIC_PROFILE = True  # a yield always blocks, as under our FIFO policy
    return definitions


def make_bench_spec_switch(spec: Any) -> Bench:
    def bench_spec_switch(n: int) -> float:
        def f(cancelled: object) -> None:
            for _ in range(n + 1):
                spec.block(None)

        cont = spec.cont_new(f)
        cont, _ = spec.resume(cont, spec.Cancelled.FALSE, None)  # to the first block
        t0 = time.perf_counter()
        for _ in range(n):
            cont, _ = spec.resume(cont, spec.Cancelled.FALSE, None)
        elapsed = time.perf_counter() - t0
        cont, _ = spec.resume(cont, spec.Cancelled.FALSE, None)  # let f return
        assert cont is None
        return elapsed

    return bench_spec_switch


def make_bench_spec_yield(spec: Any) -> Bench:
    def bench_spec_yield(n: int) -> float:
        store = spec.Store()
        ft = spec.FuncType([], [], async_=True)
        opts = spec.CanonicalOptions()
        opts.async_ = True
        resolved = []

        def spin(args: list[Any]) -> list[Any]:
            for _ in range(n + 1):
                spec.canon_thread_yield(False)
            spec.canon_task_return([], opts, [])
            return []

        for _ in range(2):
            f = store.lift(spin, ft, opts, spec.ComponentInstance(store))
            store.invoke(f, lambda: [], resolved.append)  # runs to its first yield
        t0 = time.perf_counter()
        for _ in range(2 * n):            # Store.tick picks at random among the 2 ready threads
            store.tick()
        elapsed = time.perf_counter() - t0
        while store.waiting:
            store.tick()
        assert resolved == [[], []]
        return elapsed

    return bench_spec_yield


# -- driver ---------------------------------------------------------------------------------------


def best_per_iteration(bench: Bench, n: int, repeats: int) -> float:
    """Microseconds per round trip: the best of ``repeats`` runs of ``n``."""
    return min(bench(n) for _ in range(repeats)) / n * 1e6


def machine() -> list[str]:
    uname = platform.uname()
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = os.cpu_count() or 0
    cpu = platform.processor() or uname.machine
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        if names:
            cpu = f"{names[0]} ({uname.machine})"
    except OSError:
        pass
    return [
        f"date:     {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"python:   {platform.python_implementation()} {platform.python_version()}, "
        f"greenlet {greenlet.__version__}",
        f"machine:  {cpu}; nproc {affinity}",
        f"uname:    {uname.system} {uname.release} {uname.version} {uname.machine}",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--iterations", type=int, default=10_000,
                        help="round trips per run; 10x that for (a) and (b) "
                             "(default: %(default)s: about 6 s in all, 10 s with --spec-dir)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="runs per measurement; the best is reported (default: %(default)s)")
    parser.add_argument("--only", default="a,b,c,c',d,d',d''",
                        help="comma-separated measurements to run (default: all)")
    parser.add_argument("--spec-dir",
                        help="directory holding the spec's definitions.py "
                             "(design/mvp/canonical-abi of WebAssembly/component-model), "
                             "for (d') and (d'')")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.repeats < 1:
        parser.error("--iterations and --repeats must be positive")
    only = {s.strip() for s in args.only.split(",")}
    n = args.iterations
    assert not trace.enabled(), "a trace subscriber would slow every switch down"

    rows: list[tuple[str, str, Bench, int]] = [
        ("a", "greenlet switch there and back (greenlet only)", bench_greenlet, 10 * n),
        ("b", "stacks.Continuation resume + suspend", bench_continuation, 10 * n),
        ("c", "stream ping-pong via waitable-set.wait (full runtime)", bench_stream_ping_pong, n),
        ("c'", "thread.yield ping-pong, two tasks (full runtime)", bench_yield_ping_pong, n),
        ("d", "threading.Lock hand-off, two OS threads", bench_os_threads, n),
    ]
    if args.spec_dir:
        spec = load_spec(args.spec_dir)
        rows += [
            ("d'", "spec's cont_new/resume/block (definitions.py)", make_bench_spec_switch(spec), n),
            ("d''", "spec's thread.yield ping-pong, two tasks (as c')", make_bench_spec_yield(spec),
             n),
        ]

    print("stackswitch benchmark: one wait/resume round trip")
    for line in machine():
        print(line)
    print(f"best of {args.repeats} runs; microseconds per round trip (no trace subscriber)\n")
    results: dict[str, float] = {}
    for key, label, bench, count in rows:
        if key not in only:
            continue
        bench(min(count, 1000))  # warm up
        results[key] = us = best_per_iteration(bench, count, args.repeats)
        print(f"({key}){' ' * (4 - len(key))}{label:<56} {us:9.3f} us  ({count} round trips/run)")
        if key == "c":
            print(f"      per round trip: {per_round_trip['ticks']:.0f} scheduler ticks, "
                  f"{per_round_trip['switches']:.0f} stack switches (resumes + suspends)")
    if not args.spec_dir:
        print("(d'), (d'') skipped: pass --spec-dir DIR (the spec's design/mvp/canonical-abi)")
    print()
    for slow, fast, what in [("d", "b", "one bare hand-off"),
                             ("d''", "c'", "the same yield ping-pong in the full runtime")]:
        if slow in results and fast in results:
            print(f"({slow}) / ({fast}) = {results[slow] / results[fast]:.1f}: OS threads versus "
                  f"greenlets, {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
