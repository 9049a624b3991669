"""The host's OS readiness loop: timers and file descriptors on one ``selectors`` selector.

Host I/O (a sleep, a pipe, a socket) registers here, with a callback that
records what happened and touches the :class:`~.scheduler.WaitKey` its
waiting thread watches. When no thread is ready the scheduler calls
:meth:`EventLoop.run_once` (its ``idle`` hook, installed by :func:`loop_of`),
which blocks in the selector (epoll on Linux) until the earliest timer or a
registered descriptor fires: a task waiting on host I/O costs nothing while
it waits, and nothing spins.

Invariants: a callback must not block or switch stacks (it records, and
touches wait keys); it runs from the scheduler's idle hook, or inside a WASI
0.2 blocking call that waits with the whole store. ``run_once`` returns False
only when nothing at all is pending (no timer, no descriptor), which is when
the scheduler may declare a deadlock.
"""

from __future__ import annotations

import selectors
import time
import weakref
from collections.abc import Callable
from heapq import heappop, heappush
from typing import Any

Callback = Callable[[], Any]


class Timer:
    """A pending call of ``callback`` at ``deadline`` (``time.monotonic_ns()``); :meth:`cancel` drops it."""

    __slots__ = ("deadline", "callback", "cancelled", "_loop")

    def __init__(self, loop: EventLoop, deadline: int, callback: Callback) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False
        self._loop = loop

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self._loop._live_timers -= 1


class EventLoop:
    """Timers (a heap ordered by deadline) and descriptors (a selector), served by :meth:`run_once`."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self._timers: list[tuple[int, int, Timer]] = []
        self._seq = 0
        self._live_timers = 0
        self._fds: dict[int, dict[int, Callback]] = {}
        self.waits = 0
        """How many times :meth:`run_once` blocked in the selector (benchmarks report it)."""

    # -- registering --------------------------------------------------------

    def call_at(self, deadline: int, callback: Callback) -> Timer:
        """Call ``callback()`` once ``time.monotonic_ns()`` reaches ``deadline``."""
        timer = Timer(self, deadline, callback)
        heappush(self._timers, (deadline, self._seq, timer))
        self._seq += 1
        self._live_timers += 1
        return timer

    def call_later(self, delay_ns: int, callback: Callback) -> Timer:
        """Call ``callback()`` after ``delay_ns`` nanoseconds."""
        return self.call_at(time.monotonic_ns() + max(0, delay_ns), callback)

    def add_reader(self, fd: int, callback: Callback) -> None:
        """Call ``callback()`` once, when ``fd`` becomes readable."""
        self._add(fd, selectors.EVENT_READ, callback)

    def add_writer(self, fd: int, callback: Callback) -> None:
        """Call ``callback()`` once, when ``fd`` becomes writable."""
        self._add(fd, selectors.EVENT_WRITE, callback)

    def _add(self, fd: int, event: int, callback: Callback) -> None:
        callbacks = self._fds.get(fd)
        if callbacks is None:
            self._fds[fd] = {event: callback}
            self.selector.register(fd, event)
        else:
            callbacks[event] = callback
            self.selector.modify(fd, _mask(callbacks))

    def remove(self, fd: int, event: int) -> None:
        """Stop watching ``fd`` for ``event`` (``selectors.EVENT_READ`` or ``EVENT_WRITE``)."""
        callbacks = self._fds.get(fd)
        if callbacks is None or event not in callbacks:
            return
        del callbacks[event]
        if callbacks:
            self.selector.modify(fd, _mask(callbacks))
        else:
            del self._fds[fd]
            self.selector.unregister(fd)

    # -- waiting --------------------------------------------------------------

    def pending(self) -> bool:
        """Is any timer or descriptor registered?"""
        return self._live_timers > 0 or bool(self._fds)

    def run_once(self, timeout_ns: int | None = None) -> bool:
        """Block until a timer is due or a descriptor is ready, then run their callbacks.

        ``timeout_ns`` bounds the wait (None: as long as it takes). False
        when nothing was pending (nothing could ever fire), True otherwise.
        """
        self._drop_cancelled()
        if not self.pending():
            return False
        now = time.monotonic_ns()
        wait_ns = None if not self._timers else max(0, self._timers[0][0] - now)
        if timeout_ns is not None:
            wait_ns = timeout_ns if wait_ns is None else min(wait_ns, timeout_ns)
        if self._fds or wait_ns:
            self.waits += 1
            for key, events in self.selector.select(None if wait_ns is None else wait_ns / 1e9):
                callbacks = self._fds.get(key.fd, {})
                for event in (selectors.EVENT_READ, selectors.EVENT_WRITE):
                    if events & event and event in callbacks:
                        callback = callbacks[event]
                        self.remove(key.fd, event)
                        callback()
        self._run_due_timers()
        return True

    def wait_for(self, ready: Callable[[], bool], what: str = "host I/O") -> None:
        """Block the whole process in the loop until ``ready()``: for host calls that may not
        switch stacks (WASI 0.2's blocking functions). RuntimeError if it never can be."""
        while not ready():
            if not self.run_once():
                raise RuntimeError(f"waiting for {what}, but no timer or descriptor is pending")

    def _run_due_timers(self) -> None:
        now = time.monotonic_ns()
        timers = self._timers
        while timers and timers[0][0] <= now:
            timer = heappop(timers)[2]
            if timer.cancelled:
                continue
            timer.cancel()
            timer.callback()

    def _drop_cancelled(self) -> None:
        timers = self._timers
        while timers and timers[0][2].cancelled:
            heappop(timers)


def _mask(callbacks: dict[int, Callback]) -> int:
    mask = 0
    for event in callbacks:
        mask |= event
    return mask


_LOOPS: weakref.WeakKeyDictionary[Any, EventLoop] = weakref.WeakKeyDictionary()


def loop_of(scheduler: Any) -> EventLoop:
    """The one event loop of ``scheduler`` (made, and installed as its ``idle`` hook, on first
    use: ``idle(None)`` blocks, ``idle(0)`` only serves what is due)."""
    loop = _LOOPS.get(scheduler)
    if loop is None:
        loop = _LOOPS[scheduler] = EventLoop()
        scheduler.idle = loop.run_once
    return loop
