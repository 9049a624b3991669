"""``stackswitch compare``: one guest under each strategy, figures side by side.

The guest is either one call of a component's export (``COMPONENT --invoke
'f(...)'``, with ``--host FILE.py`` as for ``stackswitch run``: the linking,
the call and the printing of results are :mod:`stackswitch.run`'s) or a
``.wast`` script (``--wast FILE``). Each strategy runs in a child process of
its own, so that one strategy's memory does not show up in the other's
figures; with ``--rounds R``, R children per strategy, interleaved, and the
one with the fastest median run is shown. A child:

1. links the guest, then makes one *warm-up* call (or script run): its
   results are the "result" row (both strategies must agree), and the core
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
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .. import trace

DEFAULT_STRATEGIES = ("stackful", "callback")
_MARK = "stackswitch-compare-figures: "
_ROOT = Path(__file__).resolve().parents[2]  # holds stackswitch/ and callback_abi/


class CompareError(Exception):
    """Bad input to ``compare`` (a file, a strategy, a count): exit status 2."""


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


# -- measuring, in the child ---------------------------------------------------------------


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


def _timed(figures: Figures, repeat: int, once: Callable[[], Any], base: int) -> None:
    """Run ``once`` ``repeat`` times; fill in the times, the counters and the peak memory
    over ``base`` (what :func:`_start_peak` returned)."""
    gc.collect()
    before = trace.counters()
    clock = time.perf_counter
    times = []
    for _ in range(repeat):
        start = clock()
        once()
        times.append(clock() - start)
    figures.wall_s = sum(times)
    figures.median_s = statistics.median(times)
    figures.runs = repeat
    for name, value in trace.counters().items():
        setattr(figures, name, value - before[name])
    figures.peak_kib = max(0, _peak_kib() - base)


def measure_invoke(strategy: str, component: str, invoke: str | None, *, host: str | None = None,
                   policy: str = "fifo", repeat: int = 1, concurrent: int = 0) -> Figures:
    """Figures for one call of ``component``'s export under ``strategy`` (module docs)."""
    from ..canon.store import all_resolved
    from ..errors import Trap
    from . import run

    figures = Figures(strategy)
    linker, func, args = run.load(component, invoke, host=host, policy=policy, strategy=strategy)
    store = linker.store

    def once() -> list[str]:
        return list(run.show_results(store, func, func.call_canon(*args)))

    base = _start_peak(figures)
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


def measure_wast(strategy: str, script: str, *, policy: str = "fifo", repeat: int = 1) -> Figures:
    """Figures for runs of a ``.wast`` script under ``strategy`` (module docs)."""
    from ..component import linker as linker_module
    from .wast import run_wast_file

    figures = Figures(strategy)
    sizes: list[int] = []
    hook = linker_module.Linker._compiled

    def compiled(self: Any, data: bytes) -> None:  # every Linker the script makes
        hook(self, data)
        sizes.append(len(data))

    linker_module.Linker._compiled = compiled  # type: ignore[method-assign]
    base = _start_peak(figures)
    try:
        result = run_wast_file(script, out=lambda line: None, policy=policy, strategy=strategy)
    finally:
        linker_module.Linker._compiled = hook  # type: ignore[method-assign]
    figures.result = result.summary
    figures.module_sizes = sizes
    _timed(figures, repeat,
           lambda: run_wast_file(script, out=lambda line: None, policy=policy, strategy=strategy),
           base)
    return figures


def _child(spec: dict[str, Any]) -> Figures:
    """Measure what ``spec`` says; errors become ``Figures.error`` and an exit status."""
    from ..component.decoder import DecodeError
    from ..errors import LinkError, Trap
    from .run import RunError

    strategy = spec["strategy"]
    try:
        if spec["wast"] is not None:
            return measure_wast(strategy, spec["wast"], policy=spec["policy"],
                                repeat=spec["repeat"])
        return measure_invoke(strategy, spec["component"], spec["invoke"], host=spec["host"],
                              policy=spec["policy"], repeat=spec["repeat"],
                              concurrent=spec["concurrent"])
    except Trap as e:
        return Figures(strategy, error=str(e), status=1)
    except (RunError, LinkError, DecodeError, ValueError) as e:
        return Figures(strategy, error=str(e), status=2)


def child_main(argv: Sequence[str]) -> int:
    """The child process's entry: one JSON spec in, one marked JSON line of figures out."""
    figures = _child(json.loads(argv[0]))
    sys.stdout.flush()
    print(_MARK + json.dumps(asdict(figures)), flush=True)
    return 0


# -- the parent: one child per strategy, then the table ----------------------------------


def _run_child(spec: dict[str, Any]) -> Figures:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_ROOT), env.get("PYTHONPATH")]))
    code = "import sys; from stackswitch.cli.compare import child_main; sys.exit(child_main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True,
                          text=True, env=env, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(_MARK):
            data = json.loads(line[len(_MARK):])
            return Figures(**data)
    detail = (proc.stderr or proc.stdout).strip().splitlines()
    last = detail[-1] if detail else f"exit status {proc.returncode}"
    return Figures(spec["strategy"], error=f"the measuring process failed: {last}", status=1)


def _check_input(component: str | None, wast: str | None, host: str | None,
                 strategies: Sequence[str], repeat: int, concurrent: int) -> None:
    from ..canon import strategy as strategy_module

    if (component is None) == (wast is None):
        raise CompareError("give either COMPONENT (with --invoke) or --wast FILE, not both")
    for path, what in ((component, ""), (wast, "--wast "), (host, "--host ")):
        if path is not None and not Path(path).is_file():
            raise CompareError(f"{what}{path}: no such file")
    if not strategies:
        raise CompareError("--strategies: name at least one strategy")
    for name in strategies:
        try:
            strategy_module.named(name)
        except ValueError as e:
            raise CompareError(f"--strategies: {e}") from None
    if len(set(strategies)) != len(strategies):
        raise CompareError("--strategies: a strategy is named twice")
    if repeat < 1:
        raise CompareError("--repeat must be at least 1")
    if concurrent < 0:
        raise CompareError("--concurrent must not be negative")


def compare(component: str | None = None, invoke: str | None = None, *, host: str | None = None,
            wast: str | None = None, strategies: Sequence[str] = DEFAULT_STRATEGIES,
            repeat: int = 1, rounds: int = 1, concurrent: int = 1000, policy: str = "fifo",
            plot: str | None = None, out: TextIO | None = None,
            err: TextIO | None = None) -> int:
    """Measure the guest under each strategy, print the table; the exit status.

    0: all ran and gave the same result; 1: a trap, or the results differ;
    2: bad input (:class:`CompareError` is raised before anything runs).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    _check_input(component, wast, host, strategies, repeat, concurrent)
    if rounds < 1:
        raise CompareError("--rounds must be at least 1")
    if plot is not None:
        _matplotlib()  # a missing extra is reported before minutes of measuring
    from ..scheduler import Scheduler

    Scheduler(policy)  # a bad policy is an error here, not in each child
    spec = {"component": component, "invoke": invoke, "host": host, "wast": wast,
            "policy": policy, "repeat": repeat, "concurrent": concurrent}
    best: dict[str, Figures] = {}
    for _ in range(rounds):
        for name in strategies:  # interleaved, so that a slow spell hits every strategy
            figures = _run_child({**spec, "strategy": name})
            if figures.error is not None:
                print(f"error: under {name}: {figures.error}", file=err)
                return figures.status or 1
            if name not in best or figures.median_s < best[name].median_s:
                best[name] = figures
    columns = [best[name] for name in strategies]
    what = f"--wast {wast}" if wast is not None else f"{component} {invoke or ''}".rstrip()
    if rounds > 1:
        what += f" (best of {rounds} rounds)"
    print(format_table(columns, what, _given_sizes(component)), file=out, end="")
    status = 0
    if len({f.result for f in columns}) > 1:
        print("warning: the strategies gave different results (a stackswitch bug)", file=err)
        status = 1
    if plot is not None:
        draw(columns, what, plot)
        print(f"plot written to {plot}", file=out)
    return status


def _given_sizes(component: str | None) -> list[int] | None:
    """The size of each core module in ``component``'s binary, outer ones first."""
    if component is None:
        return None
    from ..component import ast
    from ..component.decoder import decode_component
    from ..component.wasm_tools import load_component

    sizes: list[int] = []

    def walk(c: ast.Component) -> None:
        for d in c.definitions:
            if isinstance(d, ast.CoreModule):
                sizes.append(len(d.data))
            elif isinstance(d, ast.Component):
                walk(d)

    walk(decode_component(load_component(Path(component))))
    return sizes


# -- the table --------------------------------------------------------------------------------


def _num(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int) or digits == 0:
        return f"{round(value):,}"
    return f"{value:,.{digits}f}"


def _short(text: str, width: int) -> str:
    text = text.replace("\n", " | ")
    return text if len(text) <= width else text[:width - 1] + "…"


def rows(columns: Sequence[Figures], given_sizes: list[int] | None = None
         ) -> list[tuple[str, list[str]]]:
    """The table's rows: a label and one cell per strategy."""
    def row(label: str, cell: Callable[[Figures], str]) -> tuple[str, list[str]]:
        return label, [cell(f) for f in columns]

    table = [
        row("result (warm-up run)", lambda f: _short(f.result, 24)),
        row("timed runs", lambda f: _num(f.runs)),
        row("wall time (ms)", lambda f: _num(f.wall_s * 1e3, 1)),
        row("per run, median (µs)", lambda f: _num(f.us_per_run, 1)),
        row("events delivered", lambda f: _num(f.events)),
        row("per event (µs)", lambda f: _num(f.us_per_event, 2)),
        row("greenlet switches", lambda f: _num(f.switches)),
        row("fiber suspensions", lambda f: _num(f.suspensions)),
        row("parked calls", lambda f: _num(f.parks)),
        row("asyncify unwinds", lambda f: _num(f.unwinds)),
        row("asyncify rewinds", lambda f: _num(f.rewinds)),
        row("peak memory (MiB over loaded)",
            lambda f: _num(None if f.peak_kib is None else f.peak_kib / 1024, 2)
            + (" (since start)" if f.peak_since_start else "")),
    ]
    if any(f.started for f in columns):
        started = max(f.started for f in columns)
        table += [
            row(f"calls suspended, of {started:,}", lambda f: _num(f.suspended)),
            row("threads waiting", lambda f: _num(f.waiting)),
            row("memory per suspended call (KiB)", lambda f: _num(f.kib_per_suspended, 2)),
        ]
    counts = {len(f.module_sizes) for f in columns}
    if given_sizes is not None and counts == {len(given_sizes)}:
        for i, size in enumerate(given_sizes):
            table.append(row(f"core module {i} (bytes; {size:,} given)",
                             lambda f, i=i: _num(f.module_sizes[i])))
    elif len(counts) == 1 and counts != {0} and max(counts) <= 8:
        for i in range(max(counts)):
            table.append(row(f"core module {i} (bytes)", lambda f, i=i: _num(f.module_sizes[i])))
    else:
        table.append(row("core modules compiled", lambda f: _num(len(f.module_sizes))))
    table.append(row("core code compiled (bytes)", lambda f: _num(sum(f.module_sizes))))
    return table


def format_table(columns: Sequence[Figures], what: str,
                 given_sizes: list[int] | None = None) -> str:
    """The figures as a text table, one column per strategy."""
    table = rows(columns, given_sizes)
    label_width = max(len(label) for label, _ in table)
    widths = [max(len(f.strategy), *(len(cells[i]) for _, cells in table))
              for i, f in enumerate(columns)]
    lines = [f"stackswitch compare: {what}",
             " " * label_width + "".join(f"  {f.strategy:>{w}}" for f, w in zip(columns, widths,
                                                                                strict=True))]
    for label, cells in table:
        lines.append(f"{label:<{label_width}}"
                     + "".join(f"  {c:>{w}}" for c, w in zip(cells, widths, strict=True)))
    return "\n".join(lines) + "\n"


# -- the plot (optional extra: pip install 'stackswitch[plot]') ------------------------------


def _matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise CompareError("--plot needs matplotlib: pip install 'stackswitch[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


PLOTTED: list[tuple[str, Callable[[Figures], float | None]]] = [
    ("µs per run (median)", lambda f: f.us_per_run),
    ("µs per event", lambda f: f.us_per_event),
    ("events delivered", lambda f: f.events),
    ("greenlet switches", lambda f: f.switches),
    ("fiber suspensions", lambda f: f.suspensions),
    ("parked calls", lambda f: f.parks),
    ("asyncify unwinds", lambda f: f.unwinds),
    ("asyncify rewinds", lambda f: f.rewinds),
    ("peak MiB over loaded", lambda f: None if f.peak_kib is None else f.peak_kib / 1024),
    ("KiB per suspended call", lambda f: f.kib_per_suspended),
    ("core code compiled (KiB)", lambda f: sum(f.module_sizes) / 1024),
]


def _label(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def draw(columns: Sequence[Figures], what: str, path: str) -> None:
    """The table's figures as bar charts, one panel per figure, one bar per strategy."""
    plt = _matplotlib()
    ncols = 4
    nrows = -(-len(PLOTTED) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3 * nrows), squeeze=False)
    names = [f.strategy for f in columns]
    colours = [f"C{i}" for i in range(len(columns))]
    for ax, (title, value) in zip(axes.flat, PLOTTED, strict=False):
        values = [value(f) for f in columns]
        ax.bar(names, [v or 0 for v in values], color=colours)
        for x, v in enumerate(values):
            ax.annotate(_label(v), (x, v or 0), ha="center",
                        va="bottom", fontsize=8)
        ax.set_title(title, fontsize=10)
    for ax in list(axes.flat)[len(PLOTTED):]:
        ax.axis("off")
    fig.suptitle(f"stackswitch compare: {what}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main_compare(args: Any) -> int:
    """The CLI entry: bad input becomes one line on stderr and exit status 2."""
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    try:
        return compare(args.component, args.invoke, host=args.host, wast=args.wast,
                       strategies=strategies, repeat=args.repeat, rounds=args.rounds,
                       concurrent=args.concurrent,
                       policy=args.policy, plot=args.plot)
    except CompareError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
