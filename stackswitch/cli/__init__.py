"""The ``stackswitch`` command line: its parser, and the dispatch to each command.

The parser (every command's options and help texts) is built here, so that
``stackswitch --help`` shows them all without importing the commands; what a
command does lives in a module of its own (``demo``, ``run``, ``compare``,
``wast``, ``explore``), imported only when that command runs. Failures are
reported the same way for every command (:mod:`.failures`).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import import_module
from typing import TypeAlias

from ..canon import strategy as strategies
from ..compiled import describe as describe_build
from ..scheduler import decode_choices, policy_named
from ..version import VERSION
from .failures import TRACEBACK_HELP, output_closed, run_command
from .limit_options import add_limit_options
from .observing import add_options, observing

STRATEGY_HELP = ("how tasks run: 'stackful' (default: every task on a stack of its own) or "
                 "'callback' (no stack per task: callback-lifted exports run as records the "
                 "event loop calls back into; see docs/strategies.md)")
POLICY_HELP = "scheduling policy: 'fifo' (default) or 'random:SEED'"
POLICY_OR_REPLAY_HELP = ("scheduling policy: 'fifo' (default), 'random:SEED' (a seeded choice "
                         "at every choice point) or 'replay:TOKEN' (see --replay)")
REPLAY_HELP = ("rerun the schedule a token from `stackswitch explore` names, exactly (the same "
               "as --policy replay:TOKEN; give one or the other). The token lists the options "
               "taken at the scheduler's choice points, FIFO's beyond its end; '-' is the FIFO "
               "schedule. Use the --strategy the token was found with")
FEATURES_HELP = ("enable extensions beyond the spec: forward, splice, skip, stream-end, park "
                 "(or all); none by default, which is exactly the spec (docs/extensions.md)")
INVOKE_HELP = "the call to make, e.g. 'f(1, \"x\")' (default: the only export)"
CACHE_DIR_HELP = ("keep compiled (and asyncified) core modules in DIR, so the next run of the "
                  "same guest starts without compiling (default: $STACKSWITCH_CACHE_DIR, else "
                  "$XDG_CACHE_HOME/stackswitch or ~/.cache/stackswitch)")
NO_CACHE_HELP = ("neither read nor write the on-disk module cache (the same as setting "
                 "STACKSWITCH_NO_CACHE=1)")

_Commands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _paragraphs(*texts: str) -> str:
    """Help text kept as separate paragraphs (for RawDescriptionHelpFormatter), each wrapped."""
    return "\n\n".join(textwrap.fill(t, 79) for t in texts)


def _add_documented(commands: _Commands, name: str, summary: str, paragraphs: tuple[str, ...],
                   epilog: str) -> argparse.ArgumentParser:
    """A command whose description is several paragraphs, and whose epilog shows examples."""
    return commands.add_parser(name, help=summary, epilog=epilog,
                               formatter_class=argparse.RawDescriptionHelpFormatter,
                               description=_paragraphs(*paragraphs))


def _add_scheduling(parser: argparse.ArgumentParser, policy_help: str) -> None:
    """The options that say how tasks run and in which order: ``--policy``, ``--replay``
    (one or the other, see :func:`_scheduling`) and ``--strategy``."""
    parser.add_argument("--policy", help=policy_help)
    parser.add_argument("--replay", metavar="TOKEN", help=REPLAY_HELP)
    parser.add_argument("--strategy", default="stackful", choices=strategies.names(),
                        help=STRATEGY_HELP)
    _add_features(parser)


def _add_features(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--features", metavar="NAME[,NAME]", help=FEATURES_HELP)


def _add_cache(parser: argparse.ArgumentParser) -> None:
    """``--cache-dir DIR`` and ``--no-cache`` (see :func:`_caching`)."""
    parser.add_argument("--cache-dir", metavar="DIR", help=CACHE_DIR_HELP)
    parser.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)


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
    wast.add_argument("--wasmtime-host", action="store_true",
                      help="run as wasmtime's .wast runner does: supply its test host "
                           "(imports 'host', 'wasmtime', 'host-echo-u32', ...) and make each "
                           "named component importable by its name, so wasmtime's own "
                           "component-model tests run (docs/conformance.md)")
    _add_scheduling(wast, POLICY_OR_REPLAY_HELP + " (each script's store)")
    add_limit_options(wast)
    _add_cache(wast)


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
    _add_scheduling(run, POLICY_OR_REPLAY_HELP)
    run.add_argument("--fuel", type=int, metavar="N",
                     help="stop the guest with a trap after about N wasm instructions")
    run.add_argument("--timeout", type=float, metavar="S",
                     help="stop the guest with a trap after S seconds (wasm, host functions "
                          "and the event loop alike; Ctrl-C stops it at once, exit status 130)")
    add_limit_options(run)
    _add_cache(run)
    _add_wasi(run)


def _add_wasi(run: argparse.ArgumentParser) -> None:
    """WASI options, spelled as `wasmtime run`'s long forms (not its -S group): docs/wasi.md."""
    run.add_argument("args", nargs="*", metavar="ARG",
                     help="arguments for a WASI program (after COMPONENT's name; put `--` "
                          "before any that start with '-'); without --invoke, a component "
                          "exporting wasi:cli/run is run as a command and its exit code is ours")
    run.add_argument("--dir", action="append", default=[], metavar="HOST[::GUEST]",
                     help="grant the guest the host directory HOST, seen as GUEST (default: "
                          "the same path); nothing outside it is reachable. Repeatable")
    run.add_argument("--env", action="append", default=[], metavar="NAME[=VAL]",
                     help="set a variable in the guest's environment (NAME alone: the host's "
                          "value). Repeatable")
    run.add_argument("--inherit-env", action="store_true",
                     help="give the guest the host's whole environment")
    run.add_argument("--allow-network", action="store_true",
                     help="let wasi:sockets bind, connect and look names up (without it they "
                          "fail with access-denied)")


def _add_compare(commands: _Commands) -> None:
    compare = _add_documented(
        commands, "compare",
        "run one guest under each strategy and print their costs side by side",
        (
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
        (
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
    _add_features(compare)
    compare.add_argument("--plot", metavar="OUT.png",
                         help="also draw the figures as bar charts (needs matplotlib: "
                              "pip install 'stackswitch[plot]')")
    _add_cache(compare)


_EXPLORE_COUNTS: tuple[tuple[str, int | None, str, str], ...] = (
    ("--max-runs", 1000, "N", "stop the systematic search after N runs (default 1000)"),
    ("--max-depth", None, "D", "vary only the first D decisions of a run; later ones take "
                               "FIFO's option (default: no bound)"),
    ("--max-preemptions", None, "K", "at most K deviations from FIFO per schedule (default: "
                                     "no bound; schedules with fewer deviations run first "
                                     "anyway)"),
    ("--random", None, "N", "sample N random schedules (after the FIFO one) instead of "
                            "searching systematically"),
    ("--seed", 0, "S", "the seed of --random (default 0; same seed, same schedules)"),
    ("--deviations", 2, "K", "each --random schedule deviates from FIFO at 1 to K decisions "
                             "chosen at random (default 2)"),
    ("--shrink", 100, "N", "runs spent shrinking each outcome's token (default 100; 0: keep "
                           "the first schedule found)"),
)
"""The counts ``stackswitch explore`` takes: flag, default, metavar, help."""


def _add_explore(commands: _Commands) -> None:
    explore = _add_documented(
        commands, "explore",
        "run a .wast script or a call under many schedules; report each distinct outcome",
        (
            "Run a program under many schedules and report every distinct outcome. The spec "
            "leaves choices open (which ready thread runs next, whether a satisfied wait "
            "blocks anyway, which pending event a waitable set delivers, ...); a schedule is "
            "the list of options taken at those choice points, option 0 being FIFO's. The "
            "program is a .wast script (outcome: its failure lines; none means every command "
            "passed) or COMPONENT --invoke 'f(...)' with --host FILE.py as for `stackswitch "
            "run` (outcome: the results in WAVE, a trap's message, or deadlock). Each run "
            "starts afresh; a script is converted once.",
            "By default the search is systematic: the FIFO schedule, then every schedule with "
            "one deviation from FIFO, then two, ... (each found by replaying a prefix and "
            "recording the decisions that follow), within --max-runs, --max-depth and "
            "--max-preemptions. With --random N it samples N schedules instead, each with a "
            "few deviations at random decisions (seeded by --seed).",
            "For each outcome it prints how many schedules led there and a replay token for "
            "one of them, shrunk to as few deviations as it keeps (--shrink runs per "
            "outcome), with the command that replays it (`stackswitch run/wast --replay "
            "TOKEN`). Progress goes to stderr about once a second (--quiet: none).",
            "Exit status: 0 if every schedule run gave the same outcome (even a failing one; "
            "so always with --replay), 1 if they gave several, 2 on bad input.",
        ),
        (
            "examples:\n"
            "  stackswitch explore tests/wast/subtasks.wast\n"
            "  stackswitch explore tests/wast/callback.wast --strategy callback --random 200\n"
            "  stackswitch explore examples/greet.wat --host examples/greet_host.py \\\n"
            "      --invoke 'greet(\"you\")' --json\n"
            "  stackswitch explore tests/explore/race.wast --replay 0.1 --verbose\n"
            "see docs/schedules.md for the search, the token format and the limits."
        ),
    )
    explore.add_argument("target", metavar="FILE.wast|COMPONENT",
                         help="a .wast script, or a .wasm or .wat component (with --invoke)")
    explore.add_argument("--invoke", metavar="CALL", help=INVOKE_HELP)
    explore.add_argument("--host", metavar="FILE.py",
                         help="a Python file whose functions satisfy the imports (as for run); "
                              "it is run afresh for every schedule")
    explore.add_argument("--strategy", default="stackful", choices=strategies.names(),
                         help=STRATEGY_HELP)
    _add_features(explore)
    for flag, default, metavar, text in _EXPLORE_COUNTS:
        explore.add_argument(flag, type=int, default=default, metavar=metavar, help=text)
    explore.add_argument("--replay", metavar="TOKEN",
                         help="run only the schedule TOKEN names and print its outcome "
                              "(--verbose: and every decision taken)")
    explore.add_argument("--json", action="store_true",
                         help="print the report as JSON (outcomes, counts, tokens, bounds)")
    explore.add_argument("--verbose", action="store_true",
                         help="also print the decisions of each outcome's schedule")
    explore.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    add_limit_options(explore)
    _add_cache(explore)


class _ShowVersion(argparse.Action):
    """``--version``: the version and which build runs (pure Python or compiled).

    Worked out only when asked: :func:`describe_build` looks for the compiled modules
    on disk (about 0.4 ms), which no other command should pay at start-up."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0,
                         help="show the version and whether the hot modules run compiled, "
                              "then exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        print(f"stackswitch {VERSION}, {describe_build()}")
        parser.exit()


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
    parser.add_argument("--version", action=_ShowVersion)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_add_demo, _add_wast, _add_run, _add_compare, _add_explore):
        add(commands)
    for command in commands.choices.values():
        command.add_argument("--traceback", action="store_true", help=TRACEBACK_HELP)
    _add_observing(commands.choices)
    _add_profile(commands)
    return parser, dict(commands.choices)


def _add_observing(parsers: dict[str, argparse.ArgumentParser]) -> None:
    """Every command's --trace; --log/--tree/--tree-dot where a run happens in this process;
    -q where a command prints progress (explore has its own --quiet)."""
    add_options(parsers["demo"], log=False)  # the demo prints its log anyway
    add_options(parsers["run"])
    add_options(parsers["wast"], quiet=True)
    add_options(parsers["explore"])
    add_options(parsers["compare"], log=False, tree=False, quiet=True)


def _add_profile(commands: _Commands) -> None:
    profile = commands.add_parser(
        "profile",
        help="run another stackswitch command under py-spy and write a flame graph",
        description=(
            "Run any other stackswitch command under py-spy (pip install py-spy; the dev extra "
            "has it) and write a flame graph: speedscope JSON (open in speedscope.app) or SVG. "
            "Example: stackswitch profile -o prof.json -- wast tests/wast/streams.wast. "
            "Greenlets and wasmtime fibers confuse stack sampling: see docs/observability.md."
        ),
    )
    profile.add_argument("-o", "--output", default="profile.speedscope.json", metavar="FILE",
                         help="where to write the profile (default profile.speedscope.json)")
    profile.add_argument("--format", choices=("speedscope", "flamegraph", "raw"),
                         default="speedscope",
                         help="speedscope JSON (default), flamegraph SVG, or raw folded stacks")
    profile.add_argument("--rate", type=int, default=1000, metavar="HZ",
                         help="samples per second (default 1000)")
    profile.add_argument("--native", action="store_true",
                         help="also sample native frames (wasmtime, greenlet's C code)")
    profile.add_argument("argv", nargs=argparse.REMAINDER, metavar="COMMAND ...",
                         help="the stackswitch command to profile, with its arguments")


def _command(name: str) -> Callable[[argparse.Namespace], int]:
    """What carries out command ``name``: its module's ``command``, imported only now so
    that one command does not load what the others need."""
    command: Callable[[argparse.Namespace], int] = import_module(f"{__name__}.{name}").command
    return command


def _scheduling(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """``--replay TOKEN`` is ``--policy replay:TOKEN``: one policy for the command to read,
    and a usage error if both are given. A policy or token that does not parse is a usage
    error too, here, so that no command has to tell it from a ``ValueError`` of its own."""
    if hasattr(args, "policy") and hasattr(args, "replay"):
        if args.replay is not None:
            if args.policy is not None:
                parser.error("give --policy or --replay, not both")
            args.policy = f"replay:{args.replay}"
        elif args.policy is None:
            args.policy = "fifo"
    try:
        if getattr(args, "policy", None) is not None:
            policy_named(args.policy)  # a replay token is in it by now, and decoded here
        elif getattr(args, "replay", None) is not None:  # explore: --replay, no --policy
            decode_choices(args.replay)
    except ValueError as e:
        parser.error(str(e))


def _caching(args: argparse.Namespace) -> dict[str, str]:
    """The environment ``--cache-dir`` and ``--no-cache`` ask for, which every Linker of the
    command (and every process it starts, e.g. compare's children) reads."""
    env = {}
    if getattr(args, "cache_dir", None):
        env["STACKSWITCH_CACHE_DIR"] = os.path.abspath(args.cache_dir)
    if getattr(args, "no_cache", False):
        env["STACKSWITCH_NO_CACHE"] = "1"
    return env


PROGRAM_ARGS_COMMANDS = ("run",)
"""The commands whose trailing words (and all words after ``--``) are a guest program's."""


def _command_word(argv: list[str]) -> str | None:
    """The command ``argv`` names: its first word that is not an option (the top-level
    parser's options, ``-h`` and ``--version``, take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def _parse_with_program_args(parser: argparse.ArgumentParser,
                             argv: list[str]) -> argparse.Namespace:
    """Parse ``argv``; for ``run``, words after COMPONENT that are not options, and everything
    after ``--``, are the WASI program's arguments (``args``), in order. argparse alone
    matches a positional once, so arguments given after options would be refused.
    Any other command is argparse's alone, where ``--`` ends the options as usual
    (``wast -- FILE``)."""
    if _command_word(argv) not in PROGRAM_ARGS_COMMANDS:
        return parser.parse_args(argv)
    head, tail = argv, []
    if "--" in argv:
        cut = argv.index("--")
        head, tail = argv[:cut], argv[cut + 1:]
    args, extra = parser.parse_known_args(head)
    if any(a.startswith("-") for a in extra):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.args.extend(extra + tail)
    return args


def main(argv: list[str] | None = None) -> int:
    """The ``stackswitch`` script and ``python -m stackswitch``: the exit status.

    Output piped into a reader that stops early (``| head -1``) ends the command
    quietly (:func:`.failures.output_closed`); stdout is flushed here so that this
    happens now, not at interpreter exit, where it could only be warned about."""
    try:
        status = _run_main(argv)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        return output_closed()


def _run_main(argv: list[str] | None) -> int:
    parser, commands = _parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parse_with_program_args(parser, argv)
    if args.command is None:
        parser.print_help()
        return 2
    _scheduling(args, commands[args.command])
    with _environ(_caching(args)), _features(args, commands[args.command]), observing(args):
        return run_command(_command(args.command), args)


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """``values`` set in ``os.environ`` for the command and restored after it (``main`` may
    be called in-process, e.g. by tests)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _features(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Iterator[None]:
    """The extensions ``--features`` names enabled for the command (a bad name is a usage
    error), the default restored after it."""
    names = getattr(args, "features", None)
    if not names:
        yield
        return
    from ..canon.extensions import features
    try:
        enabled = features.parse_features(names)
    except ValueError as e:
        parser.error(str(e))
    saved, features.default = features.default, enabled
    try:
        yield
    finally:
        features.default = saved
