"""What watching costs: the stream ping-pong of python_guests.py (c) with and without observers.

Usage::

    python benchmarks/trace_overhead.py                    # about 20 s
    python benchmarks/trace_overhead.py --iterations 2000  # quicker, noisier
    python benchmarks/trace_overhead.py --only none        # one mode (e.g. against another checkout:
                                                           # PYTHONPATH=OTHER python ... --only none)

Modes (each the best of ``--repeats`` runs, microseconds per round trip; one
round trip is 2 ``stream.write`` + 2 ``stream.read``, 2 blocking waits, 2
scheduler ticks and 4 stack switches, see python_guests.py):

none     nobody subscribed to ``stackswitch.trace``: the cost every run pays;
         the hook must stay free here (a truth test of a list per event site);
noop     one subscriber that does nothing: what building the events costs;
chrome   ``--trace``: the ChromeTrace recorder (events kept in memory);
log      ``--log``: the EventLog, writing to /dev/null.

The modes run interleaved, ``--repeats`` rounds of each in turn, so a slow
spell of a shared machine hits every mode.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from python_guests import bench_stream_ping_pong, machine  # noqa: E402 (after the path)

from stackswitch import trace  # noqa: E402


@contextmanager
def _nobody() -> Iterator[None]:
    yield


@contextmanager
def _noop() -> Iterator[None]:
    unsubscribe = trace.subscribe(lambda event: None)
    try:
        yield
    finally:
        unsubscribe()


@contextmanager
def _chrome() -> Iterator[None]:
    from stackswitch.observe.chrome_trace import ChromeTrace

    with ChromeTrace():
        yield


@contextmanager
def _log() -> Iterator[None]:
    from stackswitch.observe.event_log import EventLog

    with open(os.devnull, "w") as sink, EventLog(out=sink):
        yield


MODES: dict[str, tuple[str, Callable[[], contextmanager]]] = {
    "none": ("no subscriber (every run)", _nobody),
    "noop": ("a subscriber that does nothing", _noop),
    "chrome": ("--trace (ChromeTrace, in memory)", _chrome),
    "log": ("--log (EventLog to /dev/null)", _log),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--iterations", type=int, default=10_000,
                        help="round trips per run (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="runs per mode; the best is reported (default: %(default)s)")
    parser.add_argument("--only", default=",".join(MODES),
                        help="comma-separated modes (default: all)")
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.repeats < 1:
        parser.error("--iterations and --repeats must be positive")
    modes = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        parser.error(f"unknown mode(s) {unknown}; choose from {list(MODES)}")
    assert not trace.enabled(), "a subscriber is already listening"
    import stackswitch

    print("stackswitch benchmark: the cost of observers on the stream ping-pong")
    for line in machine():
        print(line)
    print(f"stackswitch from {Path(stackswitch.__file__).parent}")
    print(f"best of {args.repeats} runs of {args.iterations} round trips, interleaved; "
          "microseconds per round trip\n")
    best: dict[str, float] = {}
    for mode in modes:  # warm up
        with MODES[mode][1]():
            bench_stream_ping_pong(min(args.iterations, 1000))
    for _ in range(args.repeats):
        for mode in modes:
            with MODES[mode][1]():
                us = bench_stream_ping_pong(args.iterations) / args.iterations * 1e6
            best[mode] = min(us, best.get(mode, us))
    base = best.get("none")
    for mode in modes:
        ratio = f"  {best[mode] / base:5.2f}x none" if base else ""
        print(f"{mode:<7} {MODES[mode][0]:<40} {best[mode]:8.2f} us{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
