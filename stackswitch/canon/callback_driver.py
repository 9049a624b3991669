"""The stackless driver: a callback-lifted task as a record the event loop calls back into.

The spec describes a callback-lifted task "as if" a loop ran on a stack of
its own: wait for the event, call the callback, until EXIT
(:func:`stackswitch.canon.calls._callback_loop`). Here the loop is turned
inside out. The task is a :class:`CallbackDriver`: which phase it is in and,
while it waits, a :class:`~stackswitch.canon.calls.CallbackWait` (its
waitable set). Its thread is a
:class:`~stackswitch.canon.stackless_threads.StacklessThread` whose every
resume is one step, run on the resumer's stack:

* first step: wait out backpressure (a record too), then lower the arguments
  and call the core function;
* each later step: take the event the task waited for and call
  ``callback(event, index, payload)``;
* after each call, act on the code it returned: EXIT ends the task; YIELD
  and WAIT either deliver at once (when the scheduler lets a satisfied wait
  run on, exactly as the stackful loop does) or end the step with the thread
  waiting, holding no stack.

A callback may still call a built-in that suspends it halfway (a sync call,
``waitable-set.wait``). Then its wasm stays suspended on its wasmtime fiber
(:class:`stackswitch.wasm.fibers.ParkedCall`) until the built-in unblocks,
and the step resumes that call instead of starting a new one. So the core
functions must be wasm called through :func:`stackswitch.wasm.fibers.call`
(:class:`FiberCall`), and the built-ins they import linked through
:func:`~stackswitch.canon.stackless_threads.suspendable`; every strategy runs
such a lift this way (``Strategy.lift``: core function and callback both
:class:`FiberCall`). A Python core function cannot park: under ``stackful``
it keeps a stack of its own.

Same rules and trap messages as the stackful loop: both share ``start_task``
and ``CallbackWait`` from ``canon.calls`` and unpack the codes the same way
(``unpack_callback_result``, inline in both loops).
"""

from __future__ import annotations

import functools
from typing import Any

from ..errors import Trap
from ..wasm import fibers
from . import messages
from .calls import CALLBACK_CODES, CallbackWait, CoreFunc, start_task
from .stackless_threads import BuiltinOutcome, StacklessThread
from .tasks import Task
from .threads import Cancelled


class FiberCall(functools.partial):  # type: ignore[type-arg]
    """A wasm core function in the spec's convention: :func:`stackswitch.wasm.fibers.call`
    bound to it. Its call may park on its fiber (``fibers.Park``), which is what a
    :class:`CallbackDriver` needs; the linker makes every wasm core function one."""

    __slots__ = ()

    def __new__(cls, func: fibers.WasmFunc) -> FiberCall:
        return super().__new__(cls, fibers.call, func)


_NEW, _ENTERING, _WAITING, _IN_CALL = range(4)
_PENDING_CANCEL = Task.State.PENDING_CANCEL


class TaskDriver:
    """What every stackless driver does: own a task's thread and get the task in.

    An async call may have to wait before it starts (backpressure, or earlier
    callers still waiting): that wait is a record too. Subclasses say what
    the task does once in (:meth:`started`), after it waited for an event
    (:meth:`woken`) and after a built-in of it unblocked (:meth:`unblocked`);
    each returns True when the task's implicit thread is done.
    """

    __slots__ = ("task", "thread", "phase")

    def __init__(self, task: Task) -> None:
        self.task = task
        self.phase = _NEW
        self.thread = StacklessThread(task, task.name)
        self.thread.step = self.step

    def step(self, cancelled: Cancelled, builtin: BuiltinOutcome | None) -> bool:
        """Run until the task exits (True) or waits (False); see module docs."""
        task = self.task
        if builtin is not None:
            return self.unblocked(builtin)
        if self.phase == _NEW:
            task.implicit_thread = self.thread
            if task.must_wait_to_enter() and not self._enters_anyway():
                task.inst.num_waiting_to_enter += 1
                self.phase = _ENTERING
                self.thread.wait(task.may_enter, f"backpressure on {task.inst.name}",
                                 cancellable=True, keys=(task.inst.enter_key,))
                return False
        elif self.phase == _ENTERING:
            task.inst.num_waiting_to_enter -= 1
            if cancelled:
                task.cancel()
                return True
        else:
            return self.woken(cancelled)
        self.phase = _IN_CALL
        task.finish_entering(self.thread)
        return self.started(start_task(task))

    def _enters_anyway(self) -> bool:
        """Does a task that must wait to enter (tasks waiting before it, "residual
        backpressure") go in at once all the same?

        Equal to ``Task.enter_implicit_thread``'s wait on a stack: a yielding
        ``wait_until(may_enter)``, which FIFO always blocks in, and which a random
        policy may let through when the condition already holds (the spec's
        ``wait_until`` may return at once). The same choice is drawn here, at the
        same point, so a seed takes the same schedules either way.
        """
        task = self.task
        scheduler = self.thread.scheduler
        return not scheduler.fifo and task.may_enter() and scheduler.keep_running(True)

    def started(self, flat_args: list[Any]) -> bool:
        raise NotImplementedError

    def woken(self, cancelled: Cancelled) -> bool:
        raise NotImplementedError

    def unblocked(self, outcome: BuiltinOutcome) -> bool:
        raise NotImplementedError


class CallbackDriver(TaskDriver):
    """One callback-lifted task: its phase and what it waits for (the whole record)."""

    __slots__ = ("callee", "wait", "parked")

    def __init__(self, task: Task, callee: CoreFunc) -> None:
        super().__init__(task)
        self.callee = callee
        self.wait: CallbackWait | None = None
        self.parked: fibers.ParkedCall | None = None
        self.thread.on_builtin_blocked = _park

    def started(self, flat_args: list[Any]) -> bool:
        return self._act(self._call(self.callee, flat_args))

    def woken(self, cancelled: Cancelled) -> bool:
        assert self.phase == _WAITING and self.wait is not None
        wait, self.wait = self.wait, None
        return self._act(self._call(self.task.opts.callback, wait.deliver(bool(cancelled))))

    def unblocked(self, outcome: BuiltinOutcome) -> bool:
        return self._act(self._resume_parked(outcome))

    def _call(self, func: Any, args: list[Any]) -> int | None:
        """Call the core function; its packed code, or None if a built-in parked it."""
        self.phase = _IN_CALL
        try:
            [packed] = func(args)
        except fibers.ParkedCall as parked:
            self.parked = parked
            return None
        return packed

    def _resume_parked(self, outcome: BuiltinOutcome) -> int | None:
        parked, self.parked = self.parked, None
        assert parked is not None
        value, exc = outcome
        if exc is None:
            parked.answer(value)
        else:
            parked.fail(exc)
        try:
            [packed] = parked.resume()
        except fibers.ParkedCall as again:
            self.parked = again
            return None
        return packed

    def _act(self, packed: int | None) -> bool:
        """Act on the callback codes until the task exits or has to wait."""
        task = self.task
        callback = task.opts.callback
        scheduler = task.store.scheduler
        while packed is not None:
            code = packed & 0xF  # unpack_callback_result, inline
            if code == 0:  # CallbackCode.EXIT
                task.exit_implicit_thread()
                return True
            if code > 2:  # CallbackCode.WAIT
                raise Trap(messages.UNSUPPORTED_CALLBACK_CODE)
            wait = CallbackWait(task, CALLBACK_CODES[code], packed >> 4)
            # task.deliver_pending_cancel(True), asked only when a cancellation is pending
            if task.state == _PENDING_CANCEL and task.deliver_pending_cancel(True):
                event = wait.deliver(True)
            # wait.ready() and scheduler.keep_running(yielding), as in Thread.wait_until; under
            # FIFO (which draws nothing) keep_running is inline, and asked first: a yield
            # always blocks there, so its ready() need not be asked (it only reads)
            elif (not wait.yielding and wait.ready() if scheduler.fifo
                  else wait.ready() and scheduler.keep_running(wait.yielding)):
                event = wait.deliver(False)
            else:
                self.phase = _WAITING
                self.wait = wait
                self.thread.wait(wait.ready, wait.why, cancellable=True, keys=wait.keys)
                return False
            packed = self._call(callback, event)
        return False  # parked inside a built-in; the thread resumes when it unblocks


def _park(placeholder: list[int]) -> Any:
    raise fibers.Park()
