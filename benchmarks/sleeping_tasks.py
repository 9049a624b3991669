"""1,000 concurrent tasks each sleeping 100 ms: wall time, and CPU time spent waiting.

Each task is a call of a real wasm guest, ``run(21)`` of ``examples/c/blocking.c``
(a stackful export that calls the async host import ``slow-double`` and waits
for it in ``waitable-set.wait``); the host's ``slow-double`` sleeps 100 ms on
the store's event loop (``stackswitch.embed.host.sleep``) and returns 42.
All N calls are started at once from the host, then the event loop runs until
every one has resolved. With no thread ready the scheduler blocks in the
selector (epoll) until the next timer is due, so waiting costs no CPU.

Prints, per strategy: wall time, this process's CPU time (``time.process_time``)
for the whole run and for the part after every task has started (the waiting),
how many times the loop blocked in the selector, and the results checked.
Goal (issue 13): well under 2 s of wall time for N = 1,000, ~no CPU while waiting.

Run: ``python benchmarks/sleeping_tasks.py [--tasks 1000] [--ms 100]
[--strategy stackful,callback]`` (builds the C guest with examples/build_c_guests.py).
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run from a checkout

from stackswitch import Component, Linker  # noqa: E402
from stackswitch.canon.store import all_resolved  # noqa: E402
from stackswitch.embed.host import sleep  # noqa: E402
from stackswitch.event_loop import loop_of  # noqa: E402


def build_guest() -> Path:
    sys.path.insert(0, str(ROOT / "examples"))
    import build_c_guests
    out = Path(tempfile.mkdtemp(prefix="sleeping-tasks-"))
    return build_c_guests.build_guest(ROOT / "examples/c/blocking.c", out, verbose=False)


def measure(component: Component, strategy: str, tasks: int, ms: int) -> dict[str, float]:
    linker = Linker(strategy=strategy)

    def slow_double(x: int) -> int:
        sleep(ms / 1000)
        return 2 * x

    linker.define("slow-double", slow_double)
    run = linker.instantiate(component)["run"]
    store = linker.store
    cpu0, wall0 = time.process_time(), time.perf_counter()
    calls = [store.invoke(run.func_inst, [21]) for _ in range(tasks)]
    store.run_until(lambda: store.scheduler.next_ready() is None)  # every task now waits
    cpu1, wall1 = time.process_time(), time.perf_counter()
    waits0 = loop_of(store.scheduler).waits
    store.run_until(all_resolved(calls))
    cpu2, wall2 = time.process_time(), time.perf_counter()
    assert all(c.value == [42] for c in calls), "a call returned the wrong result"
    return {"wall": wall2 - wall0, "cpu": cpu2 - cpu0, "start_wall": wall1 - wall0,
            "wait_wall": wall2 - wall1, "wait_cpu": cpu2 - cpu1,
            "selects": loop_of(store.scheduler).waits - waits0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--ms", type=int, default=100)
    parser.add_argument("--strategy", default="stackful,callback")
    args = parser.parse_args(argv)
    component = Component.from_file(build_guest())
    print(f"{args.tasks} tasks each sleeping {args.ms} ms; {platform.machine()}, "
          f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    print(f"{'strategy':<10} {'wall s':>8} {'cpu s':>8} {'start wall':>11} {'wait wall':>10} "
          f"{'wait cpu':>9} {'selects':>8}")
    for strategy in args.strategy.split(","):
        r = measure(component, strategy, args.tasks, args.ms)
        print(f"{strategy:<10} {r['wall']:8.3f} {r['cpu']:8.3f} {r['start_wall']:11.3f} "
              f"{r['wait_wall']:10.3f} {r['wait_cpu']:9.3f} {r['selects']:8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
