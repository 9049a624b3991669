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

**Which member's event a set delivers.** Under FIFO it is the member that
joined first among those with an event pending. A set keeps its members
with an event pending in a heap on their join number (``_ready``), so that
finding that member, and asking whether there is any, costs O(log n), not
a walk over every member on each wait. The heap may hold stale entries (a
member whose event was taken by a synchronous waiter, or that left or
re-joined); they are dropped when they reach the top. Invariant: every
member with an event pending has an entry ``(its join number, it)`` in its
set's heap, and then ``_queued`` is true. Other policies choose among all
members with an event pending, listed in join order, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from heapq import heapify, heappop, heappush
from typing import Any

from ..errors import trap_if
from ..scheduler import ChoicePoint, WaitKey
from . import messages, threads
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
        # (Instance attributes, not class-level defaults: see WaitKey.__init__, inline here.)
        self._watchers = None
        self._join_seq = 0
        """This waitable's join number in its set (sets deliver FIFO in this order)."""
        self._queued = False
        """Its set's heap holds an entry with its current join number (see the module docs)."""
        self.pending_event: PendingEvent | None = None
        self.wset: WaitableSet | None = None
        self.has_sync_waiter = False

    def set_pending_event(self, pending_event: PendingEvent) -> None:
        self.pending_event = pending_event
        if self._watchers:  # (touch() would check too; this is a hot path)
            self.touch()
        wset = self.wset
        if wset is not None:
            if not self._queued:  # wset._push_ready(self), inline (hot: every event)
                self._queued = True
                ready = wset._ready
                heappush(ready, (self._join_seq, self))
                if len(ready) > 2 * len(wset.elems) + 8:
                    wset._drop_stale()
            if wset._watchers:
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
        self._queued = False  # an entry left in the old set's heap is stale now
        if wset is not None:
            wset.elems.append(self)
            self._join_seq = wset._joins
            wset._joins += 1
            if self.pending_event is not None:
                self._queued = True
                wset._push_ready(self)
                wset.touch()

    def drop(self) -> None:
        assert not self.has_sync_waiter
        self.join(None)


class WaitableSet(WaitKey):
    """A set of waitables that can be waited on for any one of them to progress.

    A wait key for "some member has a pending event".
    """

    def __init__(self) -> None:
        self._watchers = None  # WaitKey.__init__, inline
        self.elems: list[Waitable] = []
        """The members, in join order."""
        self.num_waiting = 0
        self._joins = 0
        """Join numbers given out so far."""
        self._ready: list[tuple[int, Waitable]] = []
        """Members with an event pending, a min-heap on join number (with stale entries)."""

    def __repr__(self) -> str:
        return f"<WaitableSet of {len(self.elems)}>"

    def _push_ready(self, w: Waitable) -> None:
        """``w`` (a member, with an event pending) gets its heap entry; the heap is
        rebuilt without stale entries once they could outnumber the members."""
        ready = self._ready
        heappush(ready, (w._join_seq, w))
        if len(ready) > 2 * len(self.elems) + 8:
            self._drop_stale()

    def _drop_stale(self) -> None:
        """Rebuild the heap without the entries of members that left or re-joined."""
        live = [(seq, x) for seq, x in self._ready if x.wset is self and x._join_seq == seq]
        heapify(live)
        self._ready = live

    def _first_ready(self) -> Waitable | None:
        """The member that joined first among those with an event pending (stale entries
        on top are dropped on the way)."""
        ready = self._ready
        while ready:
            seq, w = ready[0]
            if w.wset is self and w._join_seq == seq:
                if w.pending_event is not None:
                    return w
                w._queued = False  # its event was taken by other means
            heappop(ready)
        return None

    def has_pending_event(self) -> bool:
        ready = self._ready
        if not ready:  # no entry: _first_ready()'s answer (None), without the call
            return False
        seq, w = ready[0]
        if w.pending_event is not None and w.wset is self and w._join_seq == seq:
            return True  # the top entry is live and pending: the same
        return self._first_ready() is not None

    def get_pending_event(self) -> EventTuple:
        """Deliver one pending event; which one is the scheduler's choice (the spec
        shuffles the members), the first joined under FIFO."""
        return self._deliver(current_thread().scheduler)

    def _deliver(self, scheduler: Any) -> EventTuple:
        if scheduler.fifo:
            w = None
            ready = self._ready
            if ready:  # the top entry, if live and pending, is _first_ready()'s answer
                seq, w = ready[0]
                if w.pending_event is None or w.wset is not self or w._join_seq != seq:
                    w = None
            if w is None:
                w = self._first_ready()
            assert w is not None, "get_pending_event on a set with no pending event"
            # w's entry stays: _first_ready drops it (clearing _queued) once its
            # event is gone, unless a new event comes first and reuses it.
            pending = w.pending_event  # w.get_pending_event(), inline
            w.pending_event = None
            return pending()
        pending = [w for w in self.elems if w.pending_event is not None]
        assert pending, "get_pending_event on a set with no pending event"
        return scheduler.choose(pending, ChoicePoint.EVENT).get_pending_event()

    def wait_for_event_and(self, ready_func: Callable[[], bool], cancellable: bool,
                           why: str = "waitable-set.wait",
                           keys: tuple[WaitKey, ...] | None = None) -> EventTuple:
        """Block until ``ready_func()`` and an event is pending; deliver that event.

        ``keys``: the wait keys ``ready_func`` depends on (see
        ``Thread.wait_until``; None: it is asked on every tick).
        """
        return self.wait_for_event(cancellable, why,
                                   lambda: ready_func() and self.has_pending_event(),
                                   None if keys is None else (self, *keys))

    def wait_for_event(self, cancellable: bool, why: str = "waitable-set.wait",
                       ready_func: Callable[[], bool] | None = None,
                       keys: tuple[WaitKey, ...] | None = None) -> EventTuple:
        """Block until an event is pending (or ``ready_func()``, which implies one, holds:
        :meth:`wait_for_event_and`, which gives its ``keys`` too); deliver that event."""
        if ready_func is None:  # the wait is for an event alone
            ready_func, keys = self.has_pending_event, (self,)
        self.num_waiting += 1
        try:
            thread = threads._current  # current_thread(), inline
            if thread is None:
                thread = current_thread()  # raises: called from the host's stack
            cancelled = thread.wait_until(ready_func, cancellable, why, keys=keys)
            if cancelled:
                return (EventCode.TASK_CANCELLED, 0, 0)
            return self._deliver(thread.scheduler)  # get_pending_event(), thread known
        finally:
            self.num_waiting -= 1

    def poll(self, cancellable: bool) -> EventTuple:
        if current_thread().task.deliver_pending_cancel(cancellable):
            return (EventCode.TASK_CANCELLED, 0, 0)
        if not self.has_pending_event():
            return (EventCode.NONE, 0, 0)
        return self.get_pending_event()

    def drop(self) -> None:
        trap_if(len(self.elems) > 0, messages.WAITABLE_SET_HAS_MEMBERS)
        trap_if(self.num_waiting > 0, messages.WAITABLE_SET_HAS_WAITERS)
