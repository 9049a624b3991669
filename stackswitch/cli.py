"""The ``stackswitch`` command line."""

from __future__ import annotations

import argparse
import sys

from . import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stackswitch",
        description=(
            "Run, watch and measure the WebAssembly Component Model's async support. "
            "Every task runs on a stack of its own (a greenlet), so a guest that blocks "
            "in waitable-set.wait really suspends."
        ),
    )
    parser.add_argument("--version", action="version", version=f"stackswitch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo

        try:
            return run_demo(policy=args.policy, show_switches=args.switches)
        except ValueError as e:
            parser.error(str(e))
    parser.print_help()
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
