"""The ``stackswitch`` command line: its parser, and the dispatch to each command.

The parser (every command's options and help texts) is built here, so that
``stackswitch --help`` shows them all without importing the commands; what a
command does lives in a module of its own (``demo``, ``run``, ``compare``,
``wast``), imported only when that command runs. Failures are reported the
same way for every command (:mod:`.failures`).
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable
from importlib import import_module, metadata
from typing import TypeAlias

from ..canon import strategy as strategies
from .failures import run_command

STRATEGY_HELP = ("how tasks run: 'stackful' (default: every task on a stack of its own) or "
                 "'callback' (no stack per task: callback-lifted exports run as records the "
                 "event loop calls back into; see docs/strategies.md)")
POLICY_HELP = "scheduling policy: 'fifo' (default) or 'random:SEED'"
INVOKE_HELP = "the call to make, e.g. 'f(1, \"x\")' (default: the only export)"

_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _version() -> str:
    """The installed distribution's version (pyproject.toml's). Read from the metadata, not
    from ``stackswitch.__version__``: the package's public API is a layer above this one."""
    try:
        return metadata.version("stackswitch")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def _paragraphs(*texts: str) -> str:
    """Help text kept as separate paragraphs (for RawDescriptionHelpFormatter), each wrapped."""
    return "\n\n".join(textwrap.fill(t, 79) for t in texts)


def _add_demo(commands: _Commands) -> None:
    demo = commands.add_parser(
        "demo",
        help="run a small multi-task scenario and print its event log",
        description=(
            "Three component instances written in Python: a client calls a server "
            "asynchronously (a future-like subtask resolved after the server waits on "
            "the host), then streams bytes to a slow consumer so that backpressure "
            "holds the writer until the reader reads. Prints who started, who blocked "
            "on what, who resumed, and the results."
        ),
    )
    demo.add_argument(
        "--policy", default="fifo",
        help="scheduling policy: 'fifo' (default, deterministic) or 'random:SEED' "
             "(seeded choice among ready threads; same seed, same run)")
    demo.add_argument("--switches", action="store_true",
                      help="also print every raw stack switch")


def _add_wast(commands: _Commands) -> None:
    wast = commands.add_parser(
        "wast",
        help="run component-model .wast scripts (the spec's test format)",
        description=(
            "Run component-model .wast scripts: each is converted with "
            "`wasm-tools json-from-wast`, then its commands run in order (component, "
            "component definition/instance, register, invoke, assert_return, assert_trap, "
            "assert_invalid, assert_malformed, assert_unlinkable, assert_uninstantiable). "
            "Prints one line per failing command, FILE:LINE: COMMAND: expected X, got Y, "
            "then one summary line 'N passed, M failed'. Exit status 1 if any command "
            "failed or any script could not be converted, else 0."
        ),
    )
    wast.add_argument("files", nargs="+", metavar="FILE.wast", help="the scripts to run")
    wast.add_argument(
        "--policy", default="fifo",
        help="scheduling policy of each script's store: 'fifo' (default) or 'random:SEED'")
    wast.add_argument("--strategy", default="stackful", choices=strategies.names(),
                      help=STRATEGY_HELP)


def _add_run(commands: _Commands) -> None:
    run = commands.add_parser(
        "run",
        help="instantiate a component and call one export (values in WAVE)",
        description=(
            "Instantiate COMPONENT (.wasm, or component text .wat) and call one export. "
            "Arguments and results use WAVE, the value syntax of `wasmtime run --invoke`: "
            "--invoke 'add(1, 2)', 'greet(\"you\")', 'f([1, 2], {a: 1}, some(3))'. "
            "Results are printed one per line. Exit status 1 and the trap message on a "
            "trap; 2 and an error naming what is wrong for a missing import, a bad file "
            "or a bad value."
        ),
    )
    run.add_argument("component", metavar="COMPONENT", help="a .wasm or .wat component")
    run.add_argument("--invoke", metavar="CALL", help=INVOKE_HELP)
    run.add_argument("--host", metavar="FILE.py",
                     help="a Python file whose functions satisfy the imports (by name; "
                          "a dict IMPORTS maps other names, e.g. 'ns:pkg/iface')")
    run.add_argument("--policy", default="fifo", help=POLICY_HELP)
    run.add_argument("--strategy", default="stackful", choices=strategies.names(),
                     help=STRATEGY_HELP)
    run.add_argument("--fuel", type=int, metavar="N",
                     help="stop the guest with a trap after about N wasm instructions")
    run.add_argument("--timeout", type=float, metavar="S",
                     help="stop the guest with a trap after S seconds")


def _add_compare(commands: _Commands) -> None:
    compare = commands.add_parser(
        "compare",
        help="run one guest under each strategy and print their costs side by side",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=_paragraphs(
            "Run one guest under each strategy (stackful, callback), each in a child process "
            "of its own, and print a table: wall time, events delivered to the guest, "
            "greenlet switches, fiber suspensions, parked calls, asyncify unwinds and rewinds, "
            "peak memory, memory per suspended call and the size of each core module as "
            "compiled (asyncified, where a strategy transformed it).",
            "The guest is one call of an export (COMPONENT --invoke 'f(...)', values in WAVE, "
            "imports from --host FILE.py, as for `stackswitch run`) or a .wast script "
            "(--wast FILE). One untimed warm-up call gives the 'result' row, which must be the "
            "same under every strategy; then --repeat N calls are timed and counted. With "
            "--invoke, --concurrent K more calls are then started at once without running the "
            "event loop: the growth of RSS divided by K is the memory per suspended call "
            "('n/a' if no call suspended).",
            "Exit status: 0; 1 on a trap or if the strategies' results differ; 2 on bad input.",
        ),
        epilog=(
            "examples:\n"
            "  stackswitch compare build/fanout_callback.component.wasm \\\n"
            "      --host examples/c/fanout_host.py --invoke 'run(10)' --repeat 100\n"
            "  stackswitch compare --wast tests/wast/callback.wast --repeat 5\n"
            "  stackswitch compare examples/add.wat --invoke 'add(2, 40)' --plot compare.png\n"
            "see docs/strategies.md for what the figures mean."
        ),
    )
    compare.add_argument("component", metavar="COMPONENT", nargs="?",
                         help="a .wasm or .wat component (or use --wast)")
    compare.add_argument("--invoke", metavar="CALL", help=INVOKE_HELP)
    compare.add_argument("--host", metavar="FILE.py",
                         help="a Python file whose functions satisfy the imports (as for run)")
    compare.add_argument("--wast", metavar="FILE",
                         help="measure runs of this .wast script instead of one call")
    compare.add_argument("--strategies", default="stackful,callback", metavar="A,B",
                         help="comma-separated strategies to compare (default: stackful,callback)")
    compare.add_argument("--repeat", type=int, default=1, metavar="N",
                         help="timed calls (or script runs) per strategy, after the warm-up "
                              "(default 1; more gives steadier times)")
    compare.add_argument("--rounds", type=int, default=1, metavar="R",
                         help="measure each strategy R times, in turn, and keep its fastest "
                              "(default 1; more rounds ride out a busy machine)")
    compare.add_argument("--concurrent", type=int, default=1000, metavar="K",
                         help="calls started at once to measure memory per suspended call "
                              "(default 1000; 0 skips it; --invoke only)")
    compare.add_argument("--policy", default="fifo", help=POLICY_HELP)
    compare.add_argument("--plot", metavar="OUT.png",
                         help="also draw the figures as bar charts (needs matplotlib: "
                              "pip install 'stackswitch[plot]')")


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The whole command line, and each command's own parser by name."""
    parser = argparse.ArgumentParser(
        prog="stackswitch",
        description=(
            "Run, watch and measure the WebAssembly Component Model's async support. "
            "Every task runs on a stack of its own (a greenlet), so a guest that blocks "
            "in waitable-set.wait really suspends."
        ),
    )
    parser.add_argument("--version", action="version", version=f"stackswitch {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_demo, _add_wast, _add_run, _add_compare):
        add(commands)
    return parser, dict(commands.choices)


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    """What carries out command ``name``: its module's ``command``, imported only now so
    that one command does not load what the others need."""
    command: Callable[[argparse.Namespace], int] = import_module(f"{__name__}.{name}").command
    return command


def main(argv: list[str] | None = None) -> int:
    """The ``stackswitch`` script and ``python -m stackswitch``: the exit status."""
    parser, commands = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return run_command(_command(args.command), args, commands[args.command])
