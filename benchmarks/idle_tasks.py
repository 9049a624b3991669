"""What idle tasks cost the busy ones: event throughput with many tasks that never wake.

One busy pair of Python-guest tasks, A and B, in two component instances,
exchanges bytes over two ``stream<u8>`` forever (the ping-pong of
``python_guests.py`` (c), driven tick by tick from the host): A writes a byte
and blocks in ``waitable-set.wait`` for the reply; B, blocked in
``waitable-set.wait`` on its inbox, takes the byte and writes it back. Each
side's wakeup is one event delivered by ``waitable-set.wait``.

Next to it, N *idle* tasks of a third instance each start an async
``future.read`` of a future nobody ever writes, join it to a waitable set of
their own and block in ``waitable-set.wait`` on that set: they wait for the
whole run. With ``--idle-abi callback`` each idle task is callback-lifted
instead and returns ``WAIT | set << 4`` (the runtime waits for it).

For N = 0, 1,000, 10,000 and 100,000 (``--idle``), the script prints events
delivered per second to the busy pair (``trace.counts["events"]``), the
scheduler ticks per second, and the events/s as a ratio to N = 0. Each figure
is the best of ``--repeats`` timed windows of about ``--seconds`` each, after
a warm-up window (which also absorbs the scheduler's first look at the idle
tasks). Time is this process's CPU time (``time.process_time``: the run is
single-threaded, so on an idle machine it is the wall time, and other load
on the machine does not count). Goal: 100,000 idle tasks within 1.5x of none.

Run: ``python benchmarks/idle_tasks.py [--idle 0,1000,10000,100000]
[--idle-abi stackful|callback] [--strategy stackful|callback]``.
"""

from __future__ import annotations

import argparse
import gc
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from stackswitch import trace  # noqa: E402
from stackswitch.canon import strategy as strategies  # noqa: E402
from stackswitch.canon.store import Store  # noqa: E402
from stackswitch.canon.types import FuncType, FutureType, StreamType, U8Type, U32Type  # noqa: E402
from stackswitch.embed.guest import PyComponent  # noqa: E402
from stackswitch.limits import Limits  # noqa: E402

BLOCKED = 0xFFFF_FFFF
COMPLETED = 0
RETURNED = 2
WAIT = 2

U8_STREAM = StreamType(U8Type())
U32_FUTURE = FutureType(U32Type())
ECHO = FuncType([("inbox", U8_STREAM)], [U8_STREAM], async_=True)
PING = FuncType([], [], async_=True)
IDLE = FuncType([], [], async_=True)


def build_busy_pair(store: Store) -> object:
    """A.ping and B.echo, bouncing one byte forever; returns A.ping."""
    b = PyComponent(store, "B")

    @b.export(ECHO, abi="stackful")
    def echo(inbox: int) -> None:
        reply_r, reply_w = b.stream_new(U8_STREAM)
        b.task_return(reply_r)
        buf = b.alloc(1, 1)
        ws = b.waitable_set_new()
        b.waitable_join(inbox, ws)
        while True:
            if b.stream_read(U8_STREAM, inbox, buf, 1) == BLOCKED:
                b.wait(ws)
            b.stream_write(U8_STREAM, reply_w, buf, 1)  # A is parked in its read

    a = PyComponent(store, "A")
    call_echo = a.import_(echo, ECHO, async_=True, name="B.echo")

    @a.export(PING, abi="stackful")
    def ping() -> None:
        inbox_r, out_w = a.stream_new(U8_STREAM)
        retptr = a.alloc(4, 4)
        assert call_echo(inbox_r, retptr) == RETURNED
        reply = a.memory.load_u32(retptr)
        buf = a.alloc(1, 1)
        ws = a.waitable_set_new()
        a.waitable_join(reply, ws)
        while True:
            a.stream_write(U8_STREAM, out_w, buf, 1)      # B is parked in its read
            if a.stream_read(U8_STREAM, reply, buf, 1) == BLOCKED:
                a.wait(ws)

    return ping


def build_idle(store: Store, abi: str) -> object:
    """An export whose every call waits forever on a future nobody writes."""
    idle = PyComponent(store, "idle", memory_pages=16)
    buf = idle.alloc(4, 4)

    def start_waiting() -> int:
        r, _w = idle.future_new(U32_FUTURE)
        assert idle.future_read(U32_FUTURE, r, buf) == BLOCKED
        ws = idle.waitable_set_new()
        idle.waitable_join(r, ws)
        return ws

    if abi == "stackful":
        @idle.export(IDLE, abi="stackful")
        def wait_forever() -> None:
            idle.wait(start_waiting())
            raise AssertionError("an idle task woke up")

        return wait_forever

    def callback(event: int, index: int, payload: int) -> int:
        raise AssertionError("an idle task woke up")

    @idle.export(IDLE, abi="callback", callback=callback)
    def wait_forever_cb() -> int:
        return WAIT | (start_waiting() << 4)

    return wait_forever_cb


def measure(n_idle: int, idle_abi: str, strategy: str, seconds: float,
            repeats: int) -> tuple[float, float, float]:
    """(events/s, ticks/s, seconds to start the idle tasks) with ``n_idle`` idle tasks."""
    # The idle tasks plus the busy pair may pass the default thread limit: room for all.
    store = Store(strategy=strategies.named(strategy), limits=Limits(threads=n_idle + 100))
    ping = build_busy_pair(store)
    idle = build_idle(store, idle_abi)
    t0 = time.perf_counter()
    for _ in range(n_idle):
        call = store.invoke(idle, [])
        assert not call.resolved
    setup = time.perf_counter() - t0
    store.invoke(ping, [])
    gc.collect()
    best_events = best_ticks = 0.0
    for window in range(repeats + 1):  # window 0 warms up
        events, ticks = trace.counts["events"], store.scheduler.ticks
        t0 = time.process_time()
        elapsed = 0.0
        while elapsed < seconds:
            for _ in range(20):
                assert store.tick()
            elapsed = time.process_time() - t0
        if window:
            best_events = max(best_events, (trace.counts["events"] - events) / elapsed)
            best_ticks = max(best_ticks, (store.scheduler.ticks - ticks) / elapsed)
    assert len(store.scheduler.waiting) == n_idle + 2  # A and B wait between ticks
    return best_events, best_ticks, setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle", default="0,1000,10000,100000",
                        help="comma-separated numbers of idle tasks (default: %(default)s)")
    parser.add_argument("--idle-abi", choices=("stackful", "callback"), default="stackful")
    parser.add_argument("--strategy", choices=("stackful", "callback"), default="stackful")
    parser.add_argument("--seconds", type=float, default=0.5, help="per timed window")
    parser.add_argument("--repeats", type=int, default=3, help="timed windows (best is kept)")
    args = parser.parse_args()
    counts = [int(x) for x in args.idle.split(",")]
    print(f"python {platform.python_version()}; strategy {args.strategy}; "
          f"idle tasks {args.idle_abi}-lifted; best of {args.repeats} x {args.seconds} s")
    print(f"{'idle tasks':>10}  {'events/s':>10}  {'ticks/s':>10}  {'vs 0 idle':>9}  "
          f"{'µs/event':>9}  {'start (s)':>9}")
    base = None
    for n in counts:
        events, ticks, setup = measure(n, args.idle_abi, args.strategy, args.seconds, args.repeats)
        base = base or events
        print(f"{n:>10,}  {events:>10,.0f}  {ticks:>10,.0f}  {base / events:>8.2f}x  "
              f"{1e6 / events:>9.1f}  {setup:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
