"""``stackswitch compare``: one guest under each strategy, figures side by side.

The guest is either one call of a component's export (``COMPONENT --invoke
'f(...)'``, with ``--host FILE.py`` as for ``stackswitch run``: the linking,
the call and the printing of results are :mod:`.run`'s) or a ``.wast`` script
(``--wast FILE``). Each strategy runs in a child process of its own, so that
one strategy's memory does not show up in the other's figures; with
``--rounds R``, R children per strategy, interleaved, and the one with the
fastest median run is shown.

This module is the parent: it checks the input, starts the children and
prints what they found. What a child measures, and how, is
:mod:`.measuring`'s; the table and the plot are :mod:`.reporting`'s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from ..canon import strategy as strategy_module
from ..canon.extensions import features
from ..component import ast
from ..component.decoder import decode_component
from ..component.wasm_tools import load_component
from ..observe.chrome_trace import merge
from ..scheduler import Scheduler
from .child_process import child_env
from .failures import InputError
from .measuring import Figures, figures_in
from .reporting import check_plotting, draw, format_table

DEFAULT_STRATEGIES = ("stackful", "callback")
_CHILD = ("import sys; from stackswitch.cli.measuring import child_main; "
          "sys.exit(child_main(sys.argv[1:]))")


def command(args: argparse.Namespace) -> int:
    """``stackswitch compare``: bad input is reported by :mod:`.failures`."""
    strategies = [s.strip() for s in args.strategies.split(",") if s.strip()]
    return compare(args.component, args.invoke, host=args.host, wast=args.wast,
                   strategies=strategies, repeat=args.repeat, rounds=args.rounds,
                   concurrent=args.concurrent, policy=args.policy, plot=args.plot,
                   trace=args.trace, quiet=args.quiet)


def compare(component: str | None = None, invoke: str | None = None, *, host: str | None = None,
            wast: str | None = None, strategies: Sequence[str] = DEFAULT_STRATEGIES,
            repeat: int = 1, rounds: int = 1, concurrent: int = 1000, policy: str = "fifo",
            plot: str | None = None, out: TextIO | None = None,
            err: TextIO | None = None, trace: str | None = None, quiet: bool = True) -> int:
    """Measure the guest under each strategy, print the table; the exit status.

    0: all ran and gave the same result; 1: a trap, or the results differ;
    2: bad input (:class:`~.failures.InputError` is raised before anything runs,
    ``ValueError`` for a bad policy). ``trace``: write a Chrome trace of each strategy's
    untimed warm-up run (first round), side by side, there. Unless ``quiet``, a progress
    line per round and strategy goes to ``err``.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    _check_input(component, wast, host, strategies, repeat, rounds, concurrent)
    if plot is not None:
        check_plotting()
    Scheduler(policy)  # a bad policy is an error here, not in each child
    spec = {"component": component, "invoke": invoke, "host": host, "wast": wast,
            "policy": policy, "repeat": repeat, "concurrent": concurrent,
            "features": sorted(features.default)}
    best: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory() as scratch:
        traces = []
        for round_ in range(rounds):
            for name in strategies:  # interleaved, so that a slow spell hits every strategy
                child_trace = None
                if trace is not None and round_ == 0:
                    child_trace = str(Path(scratch) / f"{name}.json")
                    traces.append(child_trace)
                figures = _run_child({**spec, "strategy": name, "trace": child_trace})
                if not quiet:
                    print(f"round {round_ + 1}/{rounds} {name}: "
                          f"{figures.error or f'{figures.median_s * 1e3:.3f} ms per run'}",
                          file=err, flush=True)
                if figures.error is not None:
                    print(f"error: under {name}: {figures.error}", file=err)
                    return figures.status or 1
                if name not in best or figures.median_s < best[name].median_s:
                    best[name] = figures
        if trace is not None:
            documents = [json.loads(Path(t).read_text()) for t in traces if Path(t).exists()]
            Path(trace).write_text(json.dumps(merge(documents)))
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


def _check_input(component: str | None, wast: str | None, host: str | None,
                 strategies: Sequence[str], repeat: int, rounds: int, concurrent: int) -> None:
    """Refuse input that cannot be measured, before a child is started."""
    if (component is None) == (wast is None):
        raise InputError("give either COMPONENT (with --invoke) or --wast FILE, not both")
    for path, what in ((component, ""), (wast, "--wast "), (host, "--host ")):
        if path is not None and not Path(path).is_file():
            raise InputError(f"{what}{path}: no such file")
    if not strategies:
        raise InputError("--strategies: name at least one strategy")
    for name in strategies:
        try:
            strategy_module.named(name)
        except ValueError as e:
            raise InputError(f"--strategies: {e}") from None
    if len(set(strategies)) != len(strategies):
        raise InputError("--strategies: a strategy is named twice")
    if repeat < 1:
        raise InputError("--repeat must be at least 1")
    if concurrent < 0:
        raise InputError("--concurrent must not be negative")
    if rounds < 1:
        raise InputError("--rounds must be at least 1")


def _run_child(spec: dict[str, Any]) -> Figures:
    """The figures of a child process that measures what ``spec`` says (its strategy and guest)."""
    env = child_env()
    proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(spec)], capture_output=True,
                          text=True, env=env, check=False)
    figures = figures_in(proc.stdout)
    if figures is not None:
        return figures
    detail = (proc.stderr or proc.stdout).strip().splitlines()
    last = detail[-1] if detail else f"exit status {proc.returncode}"
    return Figures(spec["strategy"], error=f"the measuring process failed: {last}", status=1)


def _given_sizes(component: str | None) -> list[int] | None:
    """The size of each core module in ``component``'s binary, outer ones first."""
    if component is None:
        return None
    sizes: list[int] = []

    def walk(c: ast.Component) -> None:
        for d in c.definitions:
            if isinstance(d, ast.CoreModule):
                sizes.append(len(d.data))
            elif isinstance(d, ast.Component):
                walk(d)

    walk(decode_component(load_component(Path(component))))
    return sizes
