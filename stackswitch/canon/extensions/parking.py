"""park / unpark: one thread waits on another, and a cycle of waits fails instead of hanging.

From the 2022 design: "park/unpark ... allows deadlocks, but they can be
detected by the semantics, so park returns a failure, not hangs".

States. A thread is *parked on* another thread of its instance from
``park(i)`` until thread ``i`` unparks it (``unpark``) or finishes. The
parked-on relation is the graph this module keeps (``_parked``); it is kept
acyclic: a park that would close a cycle (``i`` is the caller, or ``i`` is
parked, directly or through others, on the caller) returns ``PARK_CYCLE`` at
once and parks nothing. A thread parked on one that finishes wakes with
``PARK_EXITED``: nothing can unpark it any more.

Results of ``park``: 0 (``PARK_UNPARKED``), 1 (``PARK_CYCLE``), 2
(``PARK_EXITED``). ``unpark(i)`` returns 0 if thread ``i`` was parked on the
caller (it is now ready; the scheduler resumes it later), 1 if it was not
(nothing happens).

Cancellation: park is not cancellable (like a synchronous wait); a pending
cancellation is delivered at the next cancellable wait. Task tree: threads
of one instance only; a deadlock that runs through something other than
parks (a stream nobody writes) is the scheduler's to report, as ever.
"""

from __future__ import annotations

import weakref
from typing import Any

from ... import trace

PARK_UNPARKED = 0
PARK_CYCLE = 1
PARK_EXITED = 2
UNPARK_DONE = 0
UNPARK_NOT_PARKED = 1


class Parked:
    """One thread parked on ``target`` until ``unparked`` (or ``target`` finishes)."""

    __slots__ = ("target", "unparked")

    def __init__(self, target: Any) -> None:
        self.target = target
        self.unparked = False

    def ready(self) -> bool:
        return self.unparked or self.target.finished()


_parked: weakref.WeakKeyDictionary[Any, Parked] = weakref.WeakKeyDictionary()


def closes_cycle(thread: Any, target: Any) -> bool:
    """Would ``thread`` parking on ``target`` close a cycle of parked threads?"""
    t = target
    while t is not thread:
        p = _parked.get(t)
        if p is None:
            return False
        t = p.target
    return True


def park(thread: Any, target: Any) -> int:
    """Block ``thread`` (the running one) until ``target`` unparks it; see the module docs."""
    if closes_cycle(thread, target):
        trace.emit("park.cycle", thread=thread.name, target=target.name)
        return PARK_CYCLE
    if target.finished():
        return PARK_EXITED
    state = _parked[thread] = Parked(target)
    trace.emit("park", thread=thread.name, target=target.name)
    try:
        thread.wait_until(state.ready, cancellable=False, why=f"park on {target.name}")
    finally:
        del _parked[thread]
    return PARK_UNPARKED if state.unparked else PARK_EXITED


def unpark(thread: Any, target: Any) -> int:
    """``thread`` (the running one) lets ``target`` go, if ``target`` is parked on it."""
    state = _parked.get(target)
    if state is None or state.target is not thread or state.unparked:
        return UNPARK_NOT_PARKED
    state.unparked = True
    trace.emit("unpark", thread=thread.name, target=target.name)
    return UNPARK_DONE


def parked_on(thread: Any) -> Any:
    """The thread ``thread`` is parked on, or None."""
    state = _parked.get(thread)
    return None if state is None else state.target
