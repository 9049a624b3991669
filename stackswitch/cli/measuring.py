"""What ``stackswitch compare`` measures, inside the child process of one strategy.

A child:

1. links the guest, then makes one *warm-up* call (or script run): its
   results are the "result" row (every strategy must agree), and the core
   modules compiled are the "code size" rows;
2. takes the counters, then times ``--repeat`` N more calls (results read
   in full: a returned stream to its end) or script runs, each on its own:
   "per run" is the median, "per event" the median run's time over the
   events of one run (on average), "wall time" the sum;
3. with ``--invoke``, starts ``--concurrent`` K more calls with
   ``Store.invoke`` without running the event loop, and divides the growth of
   RSS by K, if that left any thread waiting (else "n/a": the calls did not
   suspend); then lets them finish.

Counters (all over step 2 only) are :func:`stackswitch.trace.counters`: events
delivered, greenlet switches, fiber suspensions, parked calls, asyncify unwinds
and rewinds. Peak memory is the process's peak RSS during steps 1 and 2
(``VmHWM``, reset through ``/proc/self/clear_refs`` once the guest is
linked; where that is not possible, the peak since the process started)
minus RSS just after linking.

The child takes its orders as one JSON argument and answers with one line of
JSON on stdout, marked so that the guest's own output cannot be taken for it
(:func:`child_main`, :func:`figures_in`).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import trace
from ..canon.extensions import features, pumps
from ..canon.store import all_resolved
from ..component.linker import Linker
from ..errors import Trap
from ..limits import DEFAULT, Limits
from ..observe.chrome_trace import traced
from . import run
from .failures import FAILURES, status_of
from .wast import run_wast_file

MARK = "stackswitch-compare-figures: "
"""What starts the child's line of figures."""


@dataclass
class Figures:
    """What one strategy's child process measured (see the module docs)."""

    strategy: str
    result: str = ""
    runs: int = 0
    wall_s: float = 0.0
    median_s: float = 0.0
    events: int = 0
    switches: int = 0
    suspensions: int = 0
    parks: int = 0
    unwinds: int = 0
    rewinds: int = 0
    peak_kib: int | None = None
    peak_since_start: bool = False
    started: int = 0
    suspended: int = 0
    waiting: int = 0
    kib_per_suspended: float | None = None
    module_sizes: list[int] = field(default_factory=list)
    pumped: int = 0
    """Values splices, skips and forwards moved (the extensions; docs/extensions.md)."""
    bytes_kept_out: int = 0
    """Bytes those pumps kept out of their holders' memories (copies avoided)."""
    error: str | None = None
    status: int = 0

    @property
    def us_per_run(self) -> float | None:
        """The median time of one timed run (steadier than the mean on a busy machine)."""
        return self.median_s * 1e6 if self.runs else None

    @property
    def us_per_event(self) -> float | None:
        """The median run's time over the events of one run (on average)."""
        return self.median_s * 1e6 * self.runs / self.events if self.events else None


# -- memory, from /proc ------------------------------------------------------------------------


def _rss_kib() -> int:
    """Resident memory now (KiB)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _reset_peak() -> bool:
    """Make the peak RSS start from now; False if this system cannot (then it is since start)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_kib() -> int:
    """The peak RSS (KiB) since the last reset, or since the process started."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB on Linux


def _start_peak(figures: Figures) -> int:
    """RSS now (KiB), from which the peak is counted; the peak starts again from here."""
    gc.collect()
    figures.peak_since_start = not _reset_peak()
    return _rss_kib()


# -- the steps ----------------------------------------------------------------------------------


def _timed(figures: Figures, repeat: int, once: Callable[[], Any], base: int) -> None:
    """Run ``once`` ``repeat`` times; fill in the times, the counters and the peak memory
    over ``base`` (what :func:`_start_peak` returned)."""
    gc.collect()
    before = trace.counters()
    clock = time.perf_counter
    times = []
    pumped, kept_out = pumps.counts.moved + pumps.counts.discarded, pumps.counts.bytes_kept_out
    for _ in range(repeat):
        start = clock()
        once()
        times.append(clock() - start)
    figures.wall_s = sum(times)
    figures.median_s = statistics.median(times)
    figures.runs = repeat
    for name, value in trace.counters().items():
        setattr(figures, name, value - before[name])
    figures.pumped = pumps.counts.moved + pumps.counts.discarded - pumped
    figures.bytes_kept_out = pumps.counts.bytes_kept_out - kept_out
    figures.peak_kib = max(0, _peak_kib() - base)


def measure_invoke(strategy: str, component: str, invoke: str | None, *, host: str | None = None,
                   policy: str = "fifo", repeat: int = 1, concurrent: int = 0,
                   warmup_trace: str | None = None) -> Figures:
    """Figures for one call of ``component``'s export under ``strategy`` (module docs)."""
    figures = Figures(strategy)
    # Room for the --concurrent calls (each may hold a thread, and a fiber stack, of its own).
    limits = Limits(threads=max(DEFAULT.threads, 4 * concurrent),
                    fiber_stacks=max(DEFAULT.fiber_stacks, 2 * concurrent))
    linker, func, args = run.load(component, invoke, host=host, policy=policy, strategy=strategy,
                                  limits=limits)
    store = linker.store

    def once() -> list[str]:
        return list(run.show_results(store, func, func.call_canon(*args)))

    base = _start_peak(figures)
    with traced(warmup_trace, strategy):
        figures.result = "\n".join(once())
    figures.module_sizes = list(linker.module_sizes)
    _timed(figures, repeat, once, base)
    if concurrent > 0:
        waiting = len(store.scheduler.waiting)
        gc.collect()
        before = _rss_kib()
        calls = [store.invoke(func.func_inst, list(args)) for _ in range(concurrent)]
        gc.collect()
        grown = _rss_kib() - before
        figures.started = concurrent
        figures.suspended = sum(not c.resolved for c in calls)
        figures.waiting = len(store.scheduler.waiting) - waiting
        if figures.waiting > 0:
            figures.kib_per_suspended = grown / concurrent
        try:
            store.run_until(all_resolved(calls))
        except Trap:
            pass  # e.g. the calls wait for something only the host could give: measured anyway
    return figures


def measure_wast(strategy: str, script: str, *, policy: str = "fifo", repeat: int = 1,
                 warmup_trace: str | None = None) -> Figures:
    """Figures for runs of a ``.wast`` script under ``strategy`` (module docs); with
    ``warmup_trace``, the untimed first run is traced there (Chrome trace JSON)."""
    figures = Figures(strategy)
    sizes: list[int] = []
    hook = Linker._compiled

    def compiled(self: Any, data: bytes) -> None:  # every Linker the script makes
        hook(self, data)
        sizes.append(len(data))

    Linker._compiled = compiled  # type: ignore[method-assign]
    base = _start_peak(figures)
    try:
        with traced(warmup_trace, strategy):
            result = run_wast_file(script, out=lambda line: None, policy=policy,
                                   strategy=strategy)
    finally:
        Linker._compiled = hook  # type: ignore[method-assign]
    figures.result = result.summary
    figures.module_sizes = sizes
    _timed(figures, repeat,
           lambda: run_wast_file(script, out=lambda line: None, policy=policy, strategy=strategy),
           base)
    return figures


# -- the child process's side of the conversation ----------------------------------------------


def measure(spec: dict[str, Any]) -> Figures:
    """Measure what ``spec`` says; a failure becomes ``Figures.error`` and its exit status."""
    strategy = spec["strategy"]
    features.default = features.parse_features(spec.get("features") or ())
    try:
        if spec["wast"] is not None:
            return measure_wast(strategy, spec["wast"], policy=spec["policy"],
                                repeat=spec["repeat"], warmup_trace=spec.get("trace"))
        return measure_invoke(strategy, spec["component"], spec["invoke"], host=spec["host"],
                              policy=spec["policy"], repeat=spec["repeat"],
                              concurrent=spec["concurrent"], warmup_trace=spec.get("trace"))
    except FAILURES as e:
        return Figures(strategy, error=str(e), status=status_of(e))


def child_main(argv: Sequence[str]) -> int:
    """The child process's entry: one JSON spec in, one marked JSON line of figures out."""
    figures = measure(json.loads(argv[0]))
    sys.stdout.flush()
    print(MARK + json.dumps(asdict(figures)), flush=True)
    return 0


def figures_in(output: str) -> Figures | None:
    """The figures a child printed (the last marked line of its ``output``), if any."""
    for line in reversed(output.splitlines()):
        if line.startswith(MARK):
            return Figures(**json.loads(line[len(MARK):]))
    return None
