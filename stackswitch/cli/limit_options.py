"""The ``--max-*`` options that raise (or lower) the limits of :mod:`stackswitch.limits`.

Kept apart from the commands so that the parser (``cli/__init__.py``) can add
them without importing any command.
"""

from __future__ import annotations

import argparse
import re

from ..limits import DEFAULT, OPTIONS, Limits

_SIZE = re.compile(r"(\d+)\s*([KMG]i?B?)?", re.IGNORECASE)
_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}

_HELP = {
    "threads": "live threads (tasks' implicit threads and thread.new-indirect) in the store",
    "handles": "handles in one instance's table",
    "memory_bytes": "bytes one linear memory may grow to (memory.grow fails beyond)",
    "hostcall_fuel": "bytes lifted out of a guest for one call or one stream/future copy",
    "fiber_stacks": "wasm calls suspended at once (each holds a fiber stack)",
}
_SIZES = ("memory_bytes", "hostcall_fuel")


def size(text: str) -> int:
    """A byte count: ``1048576``, ``64K``, ``512MiB``, ``4G`` (binary units)."""
    match = _SIZE.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 65536, 64K, 512MiB, 4G)")
    number, unit = match.groups()
    return int(number) * (_UNITS[unit[0].lower()] if unit else 1)


def count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a count: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def add_limit_options(parser: argparse.ArgumentParser) -> None:
    """``--max-threads`` and the others, each defaulting to :data:`~stackswitch.limits.DEFAULT`."""
    group = parser.add_argument_group("limits", "what a guest may take before it traps "
                                      "(docs/limits.md)")
    for field, flag in OPTIONS.items():
        default = getattr(DEFAULT, field)
        is_size = field in _SIZES
        group.add_argument(flag, dest=f"limit_{field}", type=size if is_size else count,
                           metavar="BYTES" if is_size else "N", default=None,
                           help=f"{_HELP[field]} (default {default})")


def limits_of(args: argparse.Namespace) -> Limits:
    """The limits the options give, the defaults for those not given (the process-wide
    fiber stack limit included, so that one command's option does not outlive it)."""
    given = {field: getattr(args, f"limit_{field}", None) for field in OPTIONS}
    return Limits(**{field: value for field, value in given.items() if value is not None})


def limit_words(limits: Limits | None) -> list[str]:
    """The ``--max-*`` options that give ``limits`` back (those that differ from the
    defaults), for a command line that must rerun a program under the same bounds."""
    if limits is None:
        return []
    words: list[str] = []
    for field, flag in OPTIONS.items():
        value = getattr(limits, field)
        if value != getattr(DEFAULT, field):
            words += [flag, str(value)]
    return words
