"""Threads (spec: "Threads"), each on its own :class:`~stackswitch.stacks.Continuation`.

A :class:`Thread` is in one of three states:

* *running*: its stack is executing (possibly inside a nested call);
* *suspended*: parked until another thread of the same instance resumes it
  explicitly (``thread.suspend``, a thread fresh from ``thread.new-indirect``);
* *waiting*: parked until ``ready_func()`` holds; the scheduler resumes it.
  A wait names the :class:`~stackswitch.scheduler.WaitKey` objects its
  condition reads (``keys``), so that the scheduler asks ``ready()`` again
  only after one of them was touched; a wait that names none (``keys=None``,
  a host's arbitrary predicate) is asked on every tick.

Blocking is ``stacks.suspend(switch_to)``: control goes back to whoever
resumed this thread (the scheduler, or a caller in ``canon lift``). When the
suspended value names another thread, :meth:`Thread.resume` switches straight
to it, which is the stack-switching ``switch`` instruction.

**Hand-off.** A thread that the scheduler's loop resumed from the host, and
that blocks at the top of that quantum, does not go back to the loop when
the loop would go straight on to resume another thread: it asks the
scheduler which one now (``Scheduler.successor``, the same decision) and
switches to it directly (``stacks.switch_to``: one stack switch, not two),
doing on the way what the loop would have done (leave its instance, enter
the other's, the same trace events in the same order). ``Thread.resume``
reports the thread that came back, whichever it is.

Cancellation is cooperative: a thread that blocks with ``cancellable=True``
may be resumed early with ``cancelled=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from .. import stacks, trace
from ..errors import Trap
from ..limits import too_many_threads

if TYPE_CHECKING:
    from ..scheduler import KeySource
    from .tasks import Task


class Cancelled(IntEnum):
    FALSE = 0
    TRUE = 1


_current: Thread | None = None


def current_thread() -> Thread:
    """The thread running now; a host bug if called from the host's own stack."""
    if _current is None:
        raise RuntimeError("no component thread is running (called from the host stack?)")
    return _current


def current_thread_or_none() -> Thread | None:
    return _current


class Thread:
    """One thread of execution of a task."""

    __slots__ = (
        "cont", "ready_func", "task", "cancellable", "index", "storage",
        "name", "waits_on", "counted", "scheduler", "__weakref__",
    )

    def __init__(self, task: Task, thread_func: Callable[[], None], name: str = "") -> None:
        def body(cancelled: Cancelled) -> None:
            assert not cancelled
            thread_func()
            return None

        self._setup(task, name)
        self.cont = stacks.Continuation(body, self.name)

    def _setup(self, task: Task, name: str) -> None:
        """The state every kind of thread has, whatever runs its code.

        Each thread counts against its store's ``Limits.threads`` from now until
        it ends (or is abandoned); the one beyond the limit is never made: its
        creator traps.
        """
        store = task.store
        limit = store.limits.threads
        if store.live_threads >= limit:
            raise Trap(too_many_threads(limit))
        store.live_threads += 1
        self.counted = True
        self.task = task
        self.scheduler: Any = store.scheduler
        """The store's scheduler (it never changes), kept here: asked on every wait."""
        self.name = name or f"{task.name}/thread"
        self.ready_func: Callable[[], bool] | None = None
        self.cancellable = False
        self.index: int | None = None
        self.storage = [0, 0]
        self.waits_on = ""

    def __repr__(self) -> str:
        return f"<Thread {self.name} {self.state()}>"

    def _uncount(self) -> None:
        """The thread ended: it no longer counts against the store's thread limit."""
        if self.counted:
            self.counted = False
            self.task.store.live_threads -= 1

    # -- states -------------------------------------------------------------

    def running(self) -> bool:
        return self.cont.state == stacks.RUNNING

    def finished(self) -> bool:
        return self.cont.state == stacks.FINISHED

    def suspended(self) -> bool:
        return not self.running() and not self.finished() and self.ready_func is None

    def waiting(self) -> bool:
        return self.ready_func is not None

    def ready(self) -> bool:
        # After a trap the instance tree is torn down: none of its threads runs again.
        inst = self.task.inst
        if inst is not None and inst.root._trapped:  # inst.poisoned, inline (hot)
            return False
        return self.ready_func is not None and self.ready_func()

    def state(self) -> str:
        if self.running():
            return "running"
        if self.finished():
            return "finished"
        if self.waiting():
            return "waiting"
        return "suspended"

    def describe_wait(self) -> str:
        inst = self.task.inst
        dead = " (its instance trapped)" if inst is not None and inst.poisoned else ""
        return f"{self.name}: {self.waits_on or 'waiting'}{dead}"

    # -- waiting-list bookkeeping ---------------------------------------------

    def _start_waiting(self, ready_func: Callable[[], bool], why: str,
                       keys: KeySource = None) -> None:
        """Wait until ``ready_func()``; ``keys`` as for :meth:`wait_until`."""
        assert self.ready_func is None
        self.ready_func = ready_func
        self.waits_on = why
        self.scheduler.add_waiting(self, keys)

    def _stop_waiting(self) -> None:
        assert self.ready_func is not None
        self.ready_func = None
        self.waits_on = ""
        self.scheduler.remove_waiting(self)

    def resume_later(self) -> None:
        """Make a suspended thread ready; the scheduler runs it later."""
        assert self.suspended()
        self._start_waiting(_always, "resume-later", keys=())

    # -- resuming -------------------------------------------------------------

    def resume(self, cancelled: Cancelled = Cancelled.FALSE) -> None:
        """Run this thread (and any thread it switches to) until one blocks or ends.

        If the thread traps, its instance tree is poisoned (it may not be
        entered again) and the trap propagates to whoever resumed it, poisoning
        each instance it unwinds through.
        """
        global _current
        # not running() and not finished(): inline for a plain Thread; a stackless one
        # asserts it in its _run, with no call (two calls fewer per resume)
        assert type(self) is not Thread or (self.cont.state is not stacks.RUNNING
                                            and self.cont.state is not stacks.FINISHED)
        assert self.cancellable or not cancelled
        if self.ready_func is not None:  # self.waiting(): self._stop_waiting(), inline
            self.ready_func = None
            self.waits_on = ""
            self.scheduler.remove_waiting(self)
        thread: Thread | None = self
        while thread is not None:
            outer = _current
            _current = thread
            if trace.listening:
                trace.emit("thread.resume", thread=thread.name, cancelled=bool(cancelled))
            try:
                if type(thread) is Thread:  # thread._run(cancelled), inline
                    finished, switch_to = thread.cont.resume(cancelled)
                else:
                    finished, switch_to = thread._run(cancelled)
            except BaseException as e:
                thread = _current  # this thread, or the last one a hand-off passed the stack to
                assert thread is not None
                inst = thread.task.inst
                innermost = isinstance(e, Trap | KeyboardInterrupt) and not hasattr(e, "thread")
                if innermost:
                    e.thread = thread  # type: ignore[attr-defined]  # the innermost: see task_tree
                if inst is not None and not inst.poisoned:
                    inst.poison()
                    if isinstance(e, Trap):
                        trace.emit("trap", thread=thread.name, message=str(e))
                store = getattr(thread.task, "store", None)
                if innermost and store is not None:
                    store.annotate(e, thread)  # the tree as it is, before its threads unwind
                thread._uncount()
                thread.task.forget_thread(thread)
                trace.emit("thread.unwind", thread=thread.name, error=type(e).__name__)
                raise
            finally:
                ran = _current
                _current = outer
            if finished:
                if ran.counted:  # type: ignore[union-attr]  # ran._uncount(), inline
                    ran.counted = False  # type: ignore[union-attr]
                    ran.task.store.live_threads -= 1  # type: ignore[union-attr]
                if trace.listening:
                    trace.emit("thread.exit", thread=ran.name)  # type: ignore[union-attr]
            if switch_to is not None:
                # The switched-to thread runs under this quantum, but not at its top:
                # no hand-off from here on (see _block).
                self.scheduler.handoff_from = None
            thread = switch_to
            cancelled = Cancelled.FALSE

    def _run(self, cancelled: Cancelled) -> tuple[bool, Thread | None]:
        """Run this thread's code until it blocks or ends: ``(finished, thread to switch to)``.

        Here that is resuming its own stack; a stackless thread (the callback
        strategy, :mod:`callback_abi`) runs a step of its event handler instead.
        """
        return self.cont.resume(cancelled)

    def abandon(self) -> None:
        """This thread will never run again (its instance trapped, or its store closed):
        stop waiting and unwind its stack, so that the wasm call it is suspended in
        ends and gives back its fiber stack. A running or finished thread is left alone."""
        global _current
        if self.running() or self.finished():
            return
        if self.waiting():
            self._stop_waiting()
        outer = _current
        _current = self
        try:
            self._unwind()
        finally:
            _current = outer
        self._uncount()
        self.task.forget_thread(self)
        trace.emit("thread.abandon", thread=self.name)

    def _unwind(self) -> None:
        """Release what this thread's code holds (a stackless thread overrides this)."""
        self.cont.kill()

    def resume_from_host(self) -> None:
        """The scheduler's entry point: one quantum of progress, entered from the host.

        A hand-off (in :meth:`_block`) may pass the quantum on to other threads; the
        instance left at the end is that of the thread holding it last. (Its instance
        is entered and left as by ``enter_from(None)`` and ``leave_to(None)``, inline.)"""
        scheduler = self.scheduler
        scheduler.host_thread = self
        inst = self.task.inst
        if inst is not None:
            for i in inst.host_entering:
                assert i.may_enter
                i.may_enter = False
        try:
            self.resume()
        finally:
            inst = scheduler.host_thread.task.inst
            if inst is not None:
                for i in inst.host_entering:
                    assert not i.may_enter
                    i.may_enter = True

    # -- blocking (only ever called by the running thread itself) -------------

    def can_suspend(self) -> bool:
        """May this thread block right now? Always, on a stack of its own."""
        return True

    def _block(self, cancellable: bool, switch_to: Thread | None = None) -> Cancelled:
        assert self is _current
        self.cancellable = cancellable
        if trace.listening:
            trace.emit("thread.block", thread=self.name, on=self.waits_on or "suspend",
                       switch_to=switch_to.name if switch_to else None)
        scheduler = self.scheduler
        if switch_to is None and scheduler.handoff_from is self and type(self) is Thread \
                and stacks.forbidden is None:  # (else suspend raises, with no decision made)
            successor = scheduler.successor()
            if type(successor) is Thread:  # (itself included: then no switch at all)
                # A hand-off: block, and run ``successor`` (which the scheduler's loop
                # would resume next) in this thread's place: one stack switch instead
                # of two and no pass through the loop. Equal to suspending to the loop
                # (this thread was resumed by it, from the host, and holds the quantum
                # at its top: ``Scheduler.handoff_from``), which would leave this
                # instance, pick ``successor`` (already picked, with the same decision,
                # by ``Scheduler.successor``), enter its instance and resume it:
                # ``between`` does that work, in that order, with the same trace events.

                def between() -> None:
                    global _current
                    inst = self.task.inst
                    if inst is not None:
                        for i in inst.host_entering:  # inst.leave_to(None), inline
                            assert not i.may_enter
                            i.may_enter = True
                    scheduler.hand_off(successor)
                    scheduler.host_thread = successor
                    inst = successor.task.inst
                    if inst is not None:
                        for i in inst.host_entering:  # inst.enter_from(None), inline
                            assert i.may_enter
                            i.may_enter = False
                    assert successor.ready_func is not None  # successor._stop_waiting(), inline
                    successor.ready_func = None
                    successor.waits_on = ""
                    scheduler.remove_waiting(successor)
                    _current = successor
                    if trace.listening:
                        trace.emit("thread.resume", thread=successor.name, cancelled=False)

                cancelled = stacks.switch_to(successor.cont, Cancelled.FALSE, between)
            else:
                if successor is not None:
                    scheduler.defer(successor)  # the loop resumes it, as decided
                cancelled = stacks.suspend(None)
        else:
            cancelled = stacks.suspend(switch_to)
        self.cancellable = False
        assert cancellable or not cancelled
        return Cancelled.TRUE if cancelled else Cancelled.FALSE

    def suspend(self, cancellable: bool) -> Cancelled:
        if self.task.deliver_pending_cancel(cancellable):
            return Cancelled.TRUE
        return self._block(cancellable)

    def wait_until(self, ready_func: Callable[[], bool], cancellable: bool = False,
                   why: str = "", yielding: bool = False,
                   keys: KeySource = None) -> Cancelled:
        """Block until ``ready_func()`` holds (or cancellation, if ``cancellable``).

        If it holds already, the scheduler decides whether to block anyway;
        ``yielding`` says the point of the wait is to let others run.
        ``keys`` lists every wait key whose ``touch()`` may make
        ``ready_func()`` true (``()``: it never changes), or is a function
        giving them for the state at the time it is called (see
        ``Scheduler.add_waiting``); ``None`` makes the scheduler ask it on
        every tick, which is always correct but costs a call per tick for
        as long as the thread waits.
        """
        # (No wait that is not cancellable delivers a pending cancellation.)
        if cancellable and self.task.deliver_pending_cancel(True):
            return Cancelled.TRUE
        scheduler = self.scheduler
        # scheduler.keep_running(yielding), inline under FIFO (which draws nothing)
        if ready_func() and (not yielding if scheduler.fifo else scheduler.keep_running(yielding)):
            return Cancelled.FALSE
        assert self.ready_func is None  # self._start_waiting(ready_func, why, keys), inline
        self.ready_func = ready_func
        self.waits_on = why
        scheduler.add_waiting(self, keys)
        return self._block(cancellable)

    def yield_(self, cancellable: bool) -> Cancelled:
        return self.wait_until(_always, cancellable, "yield", yielding=True, keys=())

    def suspend_then_resume(self, cancellable: bool, other: Thread) -> Cancelled:
        assert other.suspended()
        if self.task.deliver_pending_cancel(cancellable):
            return Cancelled.TRUE
        return self._block(cancellable, switch_to=other)

    def yield_then_resume(self, cancellable: bool, other: Thread) -> Cancelled:
        assert other.suspended()
        if self.task.deliver_pending_cancel(cancellable):
            return Cancelled.TRUE
        self._start_waiting(_always, "yield", keys=())
        return self._block(cancellable, switch_to=other)

    def suspend_then_promote(self, cancellable: bool, other: Thread) -> Cancelled:
        if self.task.deliver_pending_cancel(cancellable):
            return Cancelled.TRUE
        if other.ready():
            other._stop_waiting()
            return self.suspend_then_resume(cancellable, other)
        return self.suspend(cancellable)

    def yield_then_promote(self, cancellable: bool, other: Thread) -> Cancelled:
        if self.task.deliver_pending_cancel(cancellable):
            return Cancelled.TRUE
        if other.ready():
            other._stop_waiting()
            return self.yield_then_resume(cancellable, other)
        return self.yield_(cancellable)


def _always() -> bool:
    """The condition of a yield: ready at once (the wait only lets others go first)."""
    return True
