"""How a command fails, the same way for every command.

A failure the user should read, not a traceback: a trap is the guest's fault
and an exception out of a host function (a ``--host`` file's) the host's; both
exit with status 1. A missing file, a bad value, a host file that cannot be
loaded or an unlinkable component is the input's (exit status 2). Each is one
line on stderr, ``error: ...``; ``--traceback`` adds the Python trace behind it;
a trap or a deadlock is followed by its wasm backtrace, the chain of tasks and
the task tree (:func:`.observing.failure_details`).
A bad option value (a scheduling policy, a replay token) is found before the
command runs and reported by argparse, with the command's usage, also with
status 2. Anything else, a ``ValueError`` too, is a bug in stackswitch and keeps
its traceback. Output piped
into a reader that went away (``| head -1``) ends the command without a word,
with status 141, as a shell reports ``yes | head`` (:func:`output_closed`).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable

from ..component.decoder import DecodeError
from ..errors import HostError, LinkError, Trap
from ..wasm import interrupts
from .observing import failure_details, interruption_details

TRAPPED = 1
BAD_INPUT = 2
INTERRUPTED = 130
"""128 + SIGINT, what a shell reports for a program Ctrl-C ended."""
OUTPUT_CLOSED = 141
"""128 + SIGPIPE, what a shell reports for a program whose reader went away (``yes | head``)."""

TRACEBACK_HELP = "on a trap, a host function's exception or bad input, also print the Python trace"


class InputError(Exception):
    """Input a command cannot use (a file, a call, a value, a count): exit status 2."""


FAILURES: tuple[type[Exception], ...] = (Trap, HostError, InputError, LinkError, DecodeError)
"""The errors a command reports as one line and an exit status (see :func:`status_of`)."""


def status_of(error: Exception) -> int:
    """The exit status a failure stands for: 1 for a trap or a host function's exception,
    2 for anything the input got wrong."""
    return TRAPPED if isinstance(error, (Trap, HostError)) else BAD_INPUT


def run_command(command: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run ``command`` on ``args``; its failures (:data:`FAILURES`, Ctrl-C) become a message
    and an exit status; any other exception is a bug and propagates with its traceback."""
    try:
        with interrupts.handling():
            return command(args)
    except KeyboardInterrupt as e:
        interrupted(e)
        return INTERRUPTED
    except FAILURES as e:
        if getattr(args, "traceback", False):
            traceback.print_exception(e, file=sys.stderr)
        print(f"error: {e}", file=sys.stderr)
        details = failure_details(e)
        if details:
            print(details, file=sys.stderr)
        return status_of(e)


def output_closed() -> int:
    """Stdout's reader has gone (a ``BrokenPipeError``): end quietly, as ``cat`` would.

    Stdout is pointed at /dev/null, so that the flush at interpreter exit of what
    is still buffered cannot fail again (and print a warning); no message either,
    as ``cat`` and ``yes`` give none. Python ignores
    SIGPIPE (a guest's socket write must not kill the process), so the status
    the signal would have given is returned instead."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        pass  # stdout is not a file descriptor (a test's capture): nothing will be flushed
    return OUTPUT_CLOSED


def interrupted(error: KeyboardInterrupt) -> None:
    """Report a Ctrl-C: no traceback, but what was running and the task tree."""
    print("interrupted (Ctrl-C)" + interruption_details(error), file=sys.stderr)
