"""``stackswitch explore``: run a script or a call under many schedules, report each outcome.

The program is a ``.wast`` script (converted once, run afresh each time on a
new linker and store) or one call of a component's export (``--invoke``,
imports from ``--host``, as for ``stackswitch run``). :mod:`.exploring`
chooses the schedules and groups the runs; this module runs the program,
prints the report (or ``--json``) and shows progress on stderr. Every outcome
comes with a replay token that ``stackswitch run/wast/explore --replay``
reruns exactly; docs/schedules.md explains the search and its bounds.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from ..canon.extensions import features
from ..component.wasm_tools import load_component
from ..errors import Trap
from ..limits import Limits
from ..scheduler import DEADLOCK_MESSAGE, Deadlock, Decision, Policy, decode_choices
from .exploring import Bounds, Explorer, Found, Outcome, Program, Report, Run, deviations
from .failures import InputError
from .limit_options import limit_words, limits_of
from .run import host_imports, prepare, show_results
from .wast import ConvertedScript, converted, run_converted

PROGRESS_EVERY = 1.0  # seconds between progress lines on stderr


# -- the programs ---------------------------------------------------------------------------


class Target(Program, Protocol):
    """A program, and how to rerun one of its schedules from the command line."""

    def replay_command(self, token: str) -> list[str]:
        """The words of the ``stackswitch`` command that replays ``token``."""
        ...


class ScriptProgram:
    """A ``.wast`` script; its outcome is the list of its failure lines (none: all pass)."""

    def __init__(self, script: ConvertedScript, strategy: str, limits: Limits | None = None) -> None:
        if script.commands is None:
            first = script.error.strip().splitlines()[0] if script.error.strip() else "no message"
            raise InputError(f"{script.path}: cannot convert the script: "
                             f"{first.removeprefix('error: ')}")
        self.script = script
        self.strategy = strategy
        self.limits = limits

    def run(self, policy: Policy) -> Outcome:
        result = run_converted(self.script, out=lambda line: None, policy=policy,
                               strategy=self.strategy, limits=self.limits)
        return Outcome("failed" if result.failed else "passed", result.summary,
                       tuple(result.failures))

    def replay_command(self, token: str) -> list[str]:
        return ["stackswitch", "wast", *_strategy_option(self.strategy),
                *limit_words(self.limits), "--replay", token, str(self.script.path)]


class CallProgram:
    """One call of an export; its outcome is its results in WAVE, or how it failed."""

    def __init__(self, component: str, invoke: str | None, host: str | None,
                 strategy: str, limits: Limits | None = None) -> None:
        path = Path(component)
        if not path.exists():
            raise InputError(f"{component}: no such file")
        if host is not None and not Path(host).exists():
            raise InputError(f"--host {host}: no such file")
        self.binary = load_component(path)
        self.component, self.invoke, self.host, self.strategy = component, invoke, host, strategy
        self.limits = limits

    def run(self, policy: Policy) -> Outcome:
        # The host file runs afresh each time, so that no state of its carries over.
        imports = host_imports(self.host) if self.host is not None else {}
        linker = None
        interrupted = False
        try:
            linker, func, args = prepare(self.binary, Path(self.component).stem, self.invoke,
                                         imports, policy=policy, strategy=self.strategy,
                                         interruptible=True, limits=self.limits)
            results = func.call_canon(*args)
            if results is None:
                return Outcome("cancelled", "the call was cancelled")
            lines = tuple(show_results(linker.store, func, results))
        except Deadlock as e:
            return Outcome("deadlock", "deadlock", (DEADLOCK_MESSAGE,),
                           tuple(f"waiting: {w.strip()}" for w in e.waiting))
        except Trap as e:
            return Outcome("trap", "trap", tuple(str(e).splitlines()))
        except KeyboardInterrupt:  # it may have struck anywhere: leave the store as it is
            interrupted = True
            raise
        finally:
            if linker is not None and not interrupted:
                linker.close()  # thousands of runs: each gives back its stacks and memory
        return Outcome("returned", "returned" if lines else "returned (no results)", lines)

    def replay_command(self, token: str) -> list[str]:
        words = ["stackswitch", "run", self.component]
        if self.invoke is not None:
            words += ["--invoke", self.invoke]
        if self.host is not None:
            words += ["--host", self.host]
        return [*words, *_strategy_option(self.strategy), *limit_words(self.limits), "--replay",
                token]


def _strategy_option(strategy: str) -> list[str]:
    """The options a replay needs besides the token: the strategy, and the extensions enabled."""
    words = [] if strategy == "stackful" else ["--strategy", strategy]
    if features.default:
        words += ["--features", ",".join(sorted(features.default))]
    return words


# -- progress -------------------------------------------------------------------------------


def _progress_printer(quiet: bool) -> Callable[[Report], None] | None:
    """A progress line on stderr at most once every :data:`PROGRESS_EVERY` seconds."""
    if quiet:
        return None
    last = time.monotonic()

    def show(report: Report) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_EVERY:
            last = now
            rate = report.runs / report.seconds if report.seconds > 0 else 0.0
            print(f"explore: {report.runs} runs, {report.schedules} schedules, "
                  f"{len(report.outcomes)} outcome(s), {report.seconds:.0f} s, "
                  f"{rate:.0f} runs/s", file=sys.stderr, flush=True)

    return show


# -- the report -----------------------------------------------------------------------------


def _heading(target: str, strategy: str, report: Report, args: argparse.Namespace) -> str:
    where = f"{target} ({strategy})"
    searched = report.schedules - report.shrink_schedules
    more = (f" (and {report.shrink_schedules} more while shrinking tokens)"
            if report.shrink_schedules else "")
    longest = f"at most {report.longest} decisions a run"
    if report.mode == "random":
        sampled = report.runs - report.shrink_runs - 1
        return (f"sampled {sampled} random schedules of {where} after the FIFO one "
                f"(seed {args.seed}, 1 to {args.deviations} deviation(s) each): "
                f"{searched} distinct{more}, {longest}")
    if report.complete and report.schedules == 1:
        return f"explored the only schedule of {where}: no choice point had two options"
    if report.complete:
        return f"explored all {searched} schedules of {where}{more}: {longest}"
    cuts = ", ".join("Ctrl-C" if bound == "interrupted" else f"--{bound} {_bound(args, bound)}"
                     for bound in report.cut_by)
    within = (f" (all those with at most {report.all_within} deviation(s) from FIFO)"
              if report.all_within is not None else "")
    return (f"explored {searched} schedules of {where}{more}, not all: cut by {cuts}{within}; "
            f"{longest}")


def _bound(args: argparse.Namespace, name: str) -> Any:
    return getattr(args, name.replace("-", "_"))


def _decision_lines(decisions: list[Decision], upto: int) -> list[str]:
    return [f"decision {i + 1}: {d.point.value}, option {d.chosen} of {d.options}"
            for i, d in enumerate(decisions[:upto])]


def _outcome_lines(found: Found, program: Target, verbose: bool) -> list[str]:
    witness = found.witness
    fifo = not witness.choices
    count = f"{found.schedules} schedule{'s' if found.schedules != 1 else ''}"
    if fifo:
        lines = [f"{count}, the FIFO one among them (token {witness.token})"]
    else:
        lines = [f"{count}, e.g. token {witness.token} "
                 f"({deviations(witness.choices)} deviation(s) from FIFO)",
                 f"  replay: {shlex.join(program.replay_command(witness.token))}"]
    lines.append(f"  {found.outcome.summary}")
    lines += [f"    {line}" for line in found.outcome.lines]
    lines += [f"    {line}" for line in found.outcome.note]
    if verbose:
        lines += [f"  {line}" for line in _decision_lines(witness.decisions, len(witness.choices))]
    return lines


def _print_report(target: str, strategy: str, report: Report, program: Target,
                  args: argparse.Namespace) -> None:
    print(_heading(target, strategy, report, args))
    n = len(report.outcomes)
    print("1 outcome: every schedule gave the same" if n == 1 else f"{n} outcomes:")
    for i, found in enumerate(report.outcomes, 1):
        lines = _outcome_lines(found, program, args.verbose)
        print()
        print(f"[{i}] {lines[0]}")
        for line in lines[1:]:
            print(line)


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {"kind": outcome.kind, "summary": outcome.summary, "lines": list(outcome.lines),
            "note": list(outcome.note)}


def _decisions_json(decisions: list[Decision]) -> list[dict[str, Any]]:
    return [{"point": d.point.value, "options": d.options, "chosen": d.chosen} for d in decisions]


def _report_json(target: str, strategy: str, report: Report, program: Target,
                 args: argparse.Namespace) -> dict[str, Any]:
    if report.mode == "random":
        bounds: dict[str, Any] = {"random": args.random, "seed": args.seed,
                                  "deviations": args.deviations, "max_depth": args.max_depth}
    else:
        bounds = {"max_runs": args.max_runs, "max_depth": args.max_depth,
                  "max_preemptions": args.max_preemptions}
    outcomes = []
    for found in report.outcomes:
        witness = found.witness
        outcomes.append({
            **_outcome_json(found.outcome), "schedules": found.schedules,
            "token": witness.token, "deviations": deviations(witness.choices),
            "replay": shlex.join(program.replay_command(witness.token)),
            "decisions": _decisions_json(witness.decisions[:len(witness.choices)])})
    return {"target": target, "invoke": getattr(args, "invoke", None), "strategy": strategy,
            "mode": report.mode, "bounds": bounds, "runs": report.runs,
            "schedules": report.schedules, "complete": report.complete,
            "cut_by": report.cut_by, "all_within": report.all_within,
            "longest": report.longest,
            "shrink_runs": report.shrink_runs, "shrink_schedules": report.shrink_schedules,
            "nondeterministic": report.nondeterministic,
            "seconds": round(report.seconds, 3), "outcomes": outcomes}


# -- the command ----------------------------------------------------------------------------


def _check_bounds(args: argparse.Namespace) -> None:
    for name, least in (("max_runs", 1), ("max_depth", 0), ("max_preemptions", 0),
                        ("random", 0), ("deviations", 1), ("shrink", 0)):
        value = getattr(args, name)
        if value is not None and value < least:
            raise InputError(f"--{name.replace('_', '-')} must be at least {least}, not {value}")
    if args.replay is not None and args.random is not None:
        raise InputError("--replay runs one schedule; it does not go with --random")
    if args.invoke is not None and args.target.endswith(".wast"):
        raise InputError("--invoke calls a component's export; a .wast script makes its own calls")


def _replay(run: Run, fits: bool, target: str, strategy: str, program: Target,
            args: argparse.Namespace) -> int:
    if not fits:
        print(f"warning: token {args.replay} does not fit this run (it made "
              f"{len(run.decisions)} decisions): some options were out of range or left over",
              file=sys.stderr)
    if args.json:
        print(json.dumps({"target": target, "invoke": getattr(args, "invoke", None),
                          "strategy": strategy, "mode": "replay", "token": args.replay,
                          "fits": fits, "decisions": _decisions_json(run.decisions),
                          "outcome": _outcome_json(run.outcome)}, indent=2))
        return 0
    print(f"replayed token {args.replay} on {target} ({strategy}): "
          f"{len(run.decisions)} decisions, {deviations(run.choices)} deviation(s) from FIFO")
    if args.verbose:
        for line in _decision_lines(run.decisions, len(run.decisions)):
            print(f"  {line}")
    print(run.outcome.summary)
    for line in run.outcome.lines:
        print(f"  {line}")
    for line in run.outcome.note:
        print(f"  {line}")
    return 0


def explore(args: argparse.Namespace, program: Target) -> int:
    """Explore (or replay) ``program`` as ``args`` say; print the report; the exit status."""
    target, strategy = args.target, args.strategy
    bounds = Bounds(max_depth=args.max_depth, max_runs=args.max_runs,
                    max_preemptions=args.max_preemptions, shrink_budget=args.shrink)
    explorer = Explorer(program, bounds,
                        progress=_progress_printer(args.quiet or args.replay is not None))
    if args.replay is not None:
        run, policy = explorer.replay(decode_choices(args.replay))
        return _replay(run, policy.fits(), target, strategy, program, args)
    if args.random is not None:
        report = explorer.sample(args.random, args.seed, args.deviations)
    else:
        report = explorer.systematic()
    if "interrupted" not in report.cut_by:
        explorer.shrink()
    if report.nondeterministic:
        print(f"warning: {report.nondeterministic} run(s) did not repeat the decisions of the "
              "schedule they extend: this program does not run the same way twice under one "
              "schedule, so its tokens may not replay", file=sys.stderr)
    if args.json:
        print(json.dumps(_report_json(target, strategy, report, program, args), indent=2))
    else:
        _print_report(target, strategy, report, program, args)
    return 0 if len(report.outcomes) == 1 else 1


def command(args: argparse.Namespace) -> int:
    """``stackswitch explore``: bad input is reported by :mod:`.failures` (exit status 2)."""
    _check_bounds(args)
    if not args.target.endswith(".wast"):
        return explore(args, CallProgram(args.target, args.invoke, args.host, args.strategy,
                                         limits_of(args)))
    if not Path(args.target).exists():
        raise InputError(f"{args.target}: no such file")
    if args.host is not None:
        raise InputError("--host supplies a component's imports; a .wast script defines its own")
    with converted(args.target) as script:
        return explore(args, ScriptProgram(script, args.strategy, limits_of(args)))
