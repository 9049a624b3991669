"""Waitables and waitable sets (spec: "Waitable State").

A *waitable* (a subtask, or one end of a stream or future) holds at most one
pending event. The event is stored as a closure and computed when it is
delivered, because delivery itself has effects (a stream end reclaims its
buffer, a subtask returns its borrows) and the payload must describe the world
at delivery time.

A waitable belongs to at most one *waitable set*. It is waited on either
through its set (``waitable-set.wait``/``poll``, or a callback's WAIT) or
synchronously by one built-in, never both: a set could otherwise steal the
event a synchronous waiter needs, and the waiter would sleep forever.

Waitables and sets are wait keys (:class:`~stackswitch.scheduler.WaitKey`):
a thread waiting for a waitable's event waits on the waitable, one waiting
on a set waits on the set. A new pending event touches the waitable and its
set; a waitable joining a set with its event pending touches the set.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from ..errors import trap_if
from ..scheduler import ChoicePoint, WaitKey
from . import messages
from .threads import current_thread


class EventCode(IntEnum):
    NONE = 0
    SUBTASK = 1
    STREAM_READ = 2
    STREAM_WRITE = 3
    FUTURE_READ = 4
    FUTURE_WRITE = 5
    TASK_CANCELLED = 6


EventTuple = tuple[EventCode, int, int]
PendingEvent = Callable[[], EventTuple]


class Waitable(WaitKey):
    """State common to subtasks and stream/future ends; a wait key for its own event."""

    def __init__(self) -> None:
        self.pending_event: PendingEvent | None = None
        self.wset: WaitableSet | None = None
        self.has_sync_waiter = False

    def set_pending_event(self, pending_event: PendingEvent) -> None:
        self.pending_event = pending_event
        if self._watchers:  # (touch() would check too; this is a hot path)
            self.touch()
        wset = self.wset
        if wset is not None and wset._watchers:
            wset.touch()

    def has_pending_event(self) -> bool:
        return self.pending_event is not None

    def in_waitable_set(self) -> bool:
        return self.wset is not None

    def wait_for_pending_event(self, why: str = "") -> None:
        """Block the current thread (not cancellable) until an event is pending."""
        assert not self.in_waitable_set() and not self.has_sync_waiter
        self.has_sync_waiter = True
        try:
            current_thread().wait_until(self.has_pending_event, cancellable=False,
                                        why=why or f"{self!r}", keys=(self,))
        finally:
            self.has_sync_waiter = False

    def get_pending_event(self) -> EventTuple:
        pending = self.pending_event
        assert pending is not None
        self.pending_event = None
        return pending()

    def join(self, wset: WaitableSet | None) -> None:
        assert not self.has_sync_waiter
        if self.wset is not None:
            self.wset.elems.remove(self)
        self.wset = wset
        if wset is not None:
            wset.elems.append(self)
            if self.pending_event is not None:
                wset.touch()

    def drop(self) -> None:
        assert not self.has_sync_waiter
        self.join(None)


class WaitableSet(WaitKey):
    """A set of waitables that can be waited on for any one of them to progress.

    A wait key for "some member has a pending event".
    """

    def __init__(self) -> None:
        self.elems: list[Waitable] = []
        self.num_waiting = 0

    def __repr__(self) -> str:
        return f"<WaitableSet of {len(self.elems)}>"

    def has_pending_event(self) -> bool:
        for w in self.elems:  # (a loop, not any(): asked on every wait)
            if w.pending_event is not None:
                return True
        return False

    def get_pending_event(self) -> EventTuple:
        """Deliver one pending event; which one is the scheduler's choice (the spec
        shuffles the members), the first joined under FIFO."""
        pending = [w for w in self.elems if w.pending_event is not None]
        assert pending, "get_pending_event on a set with no pending event"
        return current_thread().scheduler.choose(pending, ChoicePoint.EVENT).get_pending_event()

    def wait_for_event_and(self, ready_func: Callable[[], bool], cancellable: bool,
                           why: str = "waitable-set.wait",
                           keys: tuple[WaitKey, ...] | None = None) -> EventTuple:
        """Block until ``ready_func()`` and an event is pending; deliver that event.

        ``keys``: the wait keys ``ready_func`` depends on (see
        ``Thread.wait_until``; None: it is asked on every tick).
        """
        self.num_waiting += 1
        try:
            cancelled = current_thread().wait_until(
                lambda: ready_func() and self.has_pending_event(), cancellable, why,
                keys=None if keys is None else (self, *keys))
            if cancelled:
                return (EventCode.TASK_CANCELLED, 0, 0)
            return self.get_pending_event()
        finally:
            self.num_waiting -= 1

    def wait_for_event(self, cancellable: bool, why: str = "waitable-set.wait") -> EventTuple:
        return self.wait_for_event_and(lambda: True, cancellable, why, keys=())

    def poll(self, cancellable: bool) -> EventTuple:
        if current_thread().task.deliver_pending_cancel(cancellable):
            return (EventCode.TASK_CANCELLED, 0, 0)
        if not self.has_pending_event():
            return (EventCode.NONE, 0, 0)
        return self.get_pending_event()

    def drop(self) -> None:
        trap_if(len(self.elems) > 0, messages.WAITABLE_SET_HAS_MEMBERS)
        trap_if(self.num_waiting > 0, messages.WAITABLE_SET_HAS_WAITERS)
