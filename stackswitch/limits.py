"""Limits: what one guest may take from the process, with defaults that protect it.

A guest may start any number of tasks, make any number of handles, grow its
memory, and hand the host any amount of data; without bounds a hostile or
careless one takes the whole process down (out of memory maps, out of
memory) instead of trapping. Each bound here ends the guest with a
:class:`~stackswitch.errors.Trap` whose message names the limit and how to
raise it, and leaves the process usable. ``docs/limits.md`` lists them all.

A :class:`Limits` is given to a store (``Linker(limits=...)``, ``Store(limits=...)``,
or the ``--max-*`` options of the command line); :data:`DEFAULT` applies
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Trap

MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True)
class Limits:
    """The bounds of one store. Every field is a count or a number of bytes, ``>= 0``."""

    threads: int = 100_000
    """Live threads (a task's implicit thread, from its call on, every
    ``thread.new-indirect``, a host function's call) in one store, at once. Each holds
    a stack of its own (a greenlet: ~7 KiB and up) or, under ``callback``, a record."""

    handles: int = 1_000_000
    """Handles in one instance's handle table at once (resources, waitables, waitable
    sets, error contexts, subtasks, stream and future ends). Each costs ~0.2-0.5 KiB."""

    memory_bytes: int = 1 * GiB
    """Bytes one linear memory may grow to. ``memory.grow`` beyond it returns -1 (the
    core spec's failure), and a module whose minimum is larger cannot be instantiated."""

    hostcall_fuel: int = 128 * MiB
    """Bytes the host lifts out of a guest's memory for one call or one copy (a call's
    arguments or results, one stream or future copy), wasmtime's "hostcall fuel" and
    its default. Strings count their bytes, lists their elements' bytes (at least 8 per
    element, what a Python list slot costs), however many times the same memory is named."""

    fiber_stacks: int = 10_000
    """wasm calls suspended at once, in the whole process: each holds a native fiber
    stack (two memory maps; Linux allows 65,530 maps per process by default)."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"limit {name} must be a non-negative integer, got {value!r}")


class Timeout(Trap):
    """The ``--timeout`` ran out: what a guest (or a host function) it stopped raises.

    Raised by a signal handler, so at any point: the runtime does not tidy up
    after it (the command ends)."""


TIMEOUT_MESSAGE = "wasm trap: interrupt: the time limit (--timeout) ran out"


DEFAULT = Limits()
"""The limits a store has unless it is given others."""

OPTIONS: dict[str, str] = {
    "threads": "--max-threads",
    "handles": "--max-handles",
    "memory_bytes": "--max-memory",
    "hostcall_fuel": "--hostcall-fuel",
    "fiber_stacks": "--max-fiber-stacks",
}
"""The command-line option that raises each limit."""


def how_to_raise(field: str) -> str:
    """The tail of a limit's trap message: which option raises it."""
    return f"raise it with {OPTIONS[field]} or Limits({field}=...)"


HOSTCALL_FUEL_EXHAUSTED = ("too much data is being copied between the host and the guest: "
                           "fuel allocated for hostcalls has been exhausted")
"""wasmtime's wording, which its tests (``streams-massive-send.wast``) expect."""


def too_many_threads(limit: int) -> str:
    return f"too many live threads in this store (the limit is {limit}; {how_to_raise('threads')})"


def too_many_handles(limit: int) -> str:
    return (f"too many handles in this instance's table (the limit is {limit}; "
            f"{how_to_raise('handles')})")


def hostcall_fuel_exhausted(limit: int) -> str:
    return f"{HOSTCALL_FUEL_EXHAUSTED} (the limit is {limit} bytes per call; " \
           f"{how_to_raise('hostcall_fuel')})"


def exhausted(error: MemoryError | RecursionError) -> str:
    """The trap message for the host running out of memory or stack during a guest call."""
    what = ("the host ran out of memory" if isinstance(error, MemoryError)
            else "the host ran out of stack (Python's recursion limit)")
    detail = f": {error}" if str(error) else ""
    return f"wasm trap: {what} while running the guest ({type(error).__name__}{detail})"


def memory_hint(message: str, limits: Limits) -> str:
    """What to add to wasmtime's error when a memory's minimum exceeds ``memory_bytes``."""
    if "exceeds memory limits" not in message:
        return ""
    return f" (the limit is {limits.memory_bytes} bytes per memory; {how_to_raise('memory_bytes')})"


def too_many_fiber_stacks(limit: int) -> str:
    return (f"too many wasm calls suspended at once: out of fiber stacks (the limit is "
            f"{limit}; {how_to_raise('fiber_stacks')})")
