"""What every command offers to watch a run: ``--trace``, ``--log``, ``--tree``, ``--tree-dot``,
progress lines, and the details printed after a trap or a deadlock.

:func:`add_options` puts the options on a command's parser; :func:`observing`
wraps the command: it subscribes the trace recorder and the event log for the
run, writes the trace (also when the command fails: a failing run's trace is
the one worth reading) and prints the task tree of every live store at the
end. :func:`failure_details` is what :mod:`.failures` prints after a trap's
message: the wasm frames, the chain of tasks from the host's call down to the
trapping one, and the task tree at the time. :func:`print_task_trees` is the
one function a Ctrl-C handler calls to show where everything was.
"""

from __future__ import annotations

import argparse
import gc
import io
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TextIO

from ..canon.store import LIVE_STORES
from ..canon.task_tree import task_chain
from ..observe.chrome_trace import traced
from ..observe.event_log import EventLog
from ..wasm.backtrace import frames_of


def add_options(parser: argparse.ArgumentParser, *, log: bool = True, tree: bool = True,
                quiet: bool = False) -> None:
    """``--trace FILE.json`` always; ``--log``, ``--tree``, ``--tree-dot`` unless told not to;
    ``-q/--quiet`` for a command that prints progress."""
    parser.add_argument("--trace", metavar="FILE.json",
                        help="write a Chrome/Perfetto trace of the run (open it in "
                             "ui.perfetto.dev or chrome://tracing; see docs/observability.md)")
    if log:
        parser.add_argument("--log", nargs="?", const="", metavar="INSTANCES",
                            help="print the event log (who started, blocked, resumed, "
                                 "returned), one line per event; only the comma-separated "
                                 "INSTANCES' events if given")
    if tree:
        parser.add_argument("--tree", action="store_true",
                            help="print the task tree (instances, tasks, threads, waitables) "
                                 "at the end of the run")
        parser.add_argument("--tree-dot", metavar="FILE",
                            help="write the task tree at the end of the run as Graphviz DOT")
    if quiet:
        parser.add_argument("-q", "--quiet", action="store_true",
                            help="no progress lines on stderr")


def progress(args: argparse.Namespace, text: str) -> None:
    """A progress line on stderr, unless ``-q``."""
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr, flush=True)


@contextmanager
def observing(args: argparse.Namespace) -> Iterator[None]:
    """Run the command inside the observers its options ask for (see module docs)."""
    with ExitStack() as stack:
        log = getattr(args, "log", None)
        if log is not None:
            names = [n.strip() for n in log.split(",") if n.strip()] or None
            stack.enter_context(EventLog(names))
        path = getattr(args, "trace", None)
        if path is not None and getattr(args, "command", None) != "compare":
            stack.enter_context(traced(path))
        try:
            yield
        finally:
            if getattr(args, "tree", False):
                print_task_trees(sys.stdout)
            dot = getattr(args, "tree_dot", None)
            if dot is not None:
                gc.collect()
                Path(dot).write_text("".join(s.task_tree_dot() for s in list(LIVE_STORES)))


def print_task_trees(out: TextIO | None = None) -> None:
    """Print the task tree of every live store (for ``--tree``, and for a Ctrl-C handler)."""
    out = sys.stderr if out is None else out
    gc.collect()  # stores hold reference cycles: only the live ones, please
    stores = list(LIVE_STORES)
    if not stores:
        print("task tree: no store", file=out)
    for store in stores:
        print(store.task_tree(), file=out)


def interruption_details(error: KeyboardInterrupt) -> str:
    """What follows "interrupted (Ctrl-C)": the task that was running, then the task tree
    as it was when the interrupt landed in a task (else every live store's, as it is now)."""
    thread = getattr(error, "thread", None)
    where = f" in {' -> '.join(task_chain(thread.task))}" if thread is not None else ""
    tree = getattr(error, "task_tree", None)
    if tree:  # taken where the interrupt landed, before the stacks unwound
        return f"{where}; the task tree then:\n{tree.rstrip()}"
    out = io.StringIO()
    print_task_trees(out)
    return f"{where}; the task tree after unwinding:\n{out.getvalue().rstrip()}"


def failure_details(error: BaseException) -> str:
    """What follows a trap's message: wasm frames, the chain of tasks, the task tree."""
    parts = []
    frames = frames_of(error)
    if frames:
        parts.append("wasm backtrace (innermost first):")
        parts.extend(f"  {n}: {frame}" for n, frame in enumerate(frames))
    chain = getattr(error, "task_chain", None)
    if chain:
        parts.append("tasks (host's call first): " + " -> ".join(chain))
    tree = getattr(error, "task_tree", None)
    if tree:
        parts.append(tree)
    return "\n".join(parts)
