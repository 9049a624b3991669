"""``stackswitch profile [-o FILE] [--format F] -- COMMAND ...``: another command under py-spy.

py-spy samples the Python stacks of a child ``python -m stackswitch COMMAND
...`` from outside (no change to the program, no tracing hook) and writes a
flame graph: speedscope JSON (default), an SVG, or raw folded stacks. What
greenlets and wasmtime fibers do to sampled stacks is in
docs/observability.md: a sample shows the stack of the greenlet running at
that moment, so a task's time is attributed to its own frames, but a blocked
task's frames never appear, and wasm frames on a fiber show up only as the
native call that entered them (``--native``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from .child_process import child_env
from .failures import InputError


def py_spy_command(argv: list[str], output: str, fmt: str = "speedscope", rate: int = 1000,
                   native: bool = False) -> list[str]:
    """The py-spy command line that profiles ``stackswitch ARGV``."""
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise InputError("py-spy is not installed: pip install py-spy (or '.[dev]')")
    if not argv:
        raise InputError("name the command to profile, e.g. stackswitch profile -- wast FILE.wast")
    if argv[0] == "profile":
        raise InputError("profile cannot profile itself")
    if rate < 1:
        raise InputError("--rate must be at least 1")
    command = [py_spy, "record", "--output", output, "--format", fmt, "--rate", str(rate)]
    if native:
        command.append("--native")
    return [*command, "--", sys.executable, "-m", "stackswitch", *argv]


def command(args: argparse.Namespace) -> int:
    """Run the command under py-spy; its exit status (py-spy passes the child's on)."""
    argv = list(args.argv)
    if argv and argv[0] == "--":
        argv = argv[1:]
    cmd = py_spy_command(argv, args.output, args.format, args.rate, args.native)
    env = child_env()
    status = subprocess.run(cmd, env=env, check=False).returncode
    if Path(args.output).exists():
        print(f"profile written to {args.output}", file=sys.stderr)
    return status
