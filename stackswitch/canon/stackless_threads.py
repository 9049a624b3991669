"""A thread with no stack of its own: the implicit thread of a task run as a record.

A :class:`StacklessThread` is a :class:`~stackswitch.canon.threads.Thread`
whose code is a *step* function, ``step(cancelled, builtin) -> finished``,
called on the stack of whoever resumes the thread (the scheduler, or a
caller in ``canon lift``). Between steps the thread is only its record: the
task, what it waits for, its context slots. No greenlet, no fiber. Every
strategy runs callback-lifted wasm this way
(:class:`~stackswitch.canon.callback_driver.CallbackDriver`); the callback
strategy runs asyncified stackful lifts this way too
(``callback_abi.unwinding``).

A step may still reach a built-in that suspends its caller (a sync call, a
``waitable-set.wait``, a sync stream copy) halfway through a core call. Such
built-ins are linked through :func:`suspendable`, whose
:meth:`StacklessThread.run_builtin` runs
the built-in's *Python* code on a small continuation of its own. If the
built-in finishes, nothing else happens. If it blocks, the driver that owns
the thread decides what happens to the wasm frames below it
(``on_builtin_blocked``): the callback driver leaves them parked on their
wasmtime fiber; the callback strategy's asyncify driver unwinds them into
linear memory. When the
thread is resumed, the built-in continues where it blocked, and its outcome
is handed to the step as ``builtin=(value, exception)``.

Invariant: a stackless thread suspends only inside such a built-in
continuation; anything else trying to block it is a host bug and raises
``RuntimeError`` (it would otherwise suspend whoever's stack the step runs on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import greenlet

from .. import stacks, trace
from ..scheduler import KeySource
from . import threads
from .tasks import Task
from .threads import Cancelled, Thread

BuiltinOutcome = tuple[Any, BaseException | None]
Step = Callable[[Cancelled, BuiltinOutcome | None], bool]

_NEW, _IDLE, _RUNNING, _DONE = range(4)


class StacklessThread(Thread):
    """An implicit thread run as a sequence of steps; see module docs."""

    __slots__ = ("step", "on_builtin_blocked", "replay", "unwind_early", "_phase", "_builtin",
                 "_in_builtin", "_switch_to")

    def __init__(self, task: Task, name: str = "") -> None:
        self._setup(task, name)
        self.cont = None
        self.step: Step | None = None
        """Set by the driver: runs the task's code from where it stopped."""
        self.on_builtin_blocked: Callable[[list[int]], Any] | None = None
        """Set by the driver: what a built-in that blocked returns to wasm (or raises),
        given placeholder results of the right shape."""
        self.replay: Callable[[], Any] | None = None
        """Set by a driver that rewinds: the outcome to give the next built-in called
        (the one that blocked, reached again), instead of running it."""
        self.unwind_early: Callable[[Callable[..., Any], tuple[Any, ...], list[int]], Any] | None \
            = None
        """Set by a driver that can unwind before a built-in runs (``callback_abi.replay``):
        given the built-in's handler, its arguments and placeholder results, it starts
        the unwind, keeps the built-in for :meth:`run_deferred`, and returns what wasm gets."""
        self._phase = _NEW
        self._builtin: stacks.Continuation | None = None
        self._in_builtin: stacks.Continuation | None = None
        self._switch_to: Thread | None = None

    def running(self) -> bool:
        return self._phase == _RUNNING

    def finished(self) -> bool:
        return self._phase == _DONE

    def blocked_in_builtin(self) -> bool:
        """Is a built-in of this thread waiting (its wasm parked or unwound)?"""
        return self._builtin is not None

    # -- running steps ------------------------------------------------------------------

    def _run(self, cancelled: Cancelled) -> tuple[bool, Thread | None]:
        assert self.step is not None
        assert self._phase == _NEW or self._phase == _IDLE  # Thread.resume's check, with no call
        self._phase = _RUNNING
        self.cancellable = False
        try:
            builtin = self._builtin
            if builtin is None:
                done = self.step(cancelled, None)
            else:
                self._builtin = None
                try:
                    finished, value = self._enter(builtin, cancelled)
                except BaseException as e:
                    outcome: BuiltinOutcome = (None, e)
                else:
                    if not finished:
                        self._builtin = builtin  # blocked again
                        self._phase = _IDLE
                        return False, value
                    outcome = (value, None)
                done = self.step(Cancelled.FALSE, outcome)
        except BaseException:
            self._phase = _DONE
            raise
        self._phase = _DONE if done else _IDLE
        switch_to, self._switch_to = self._switch_to, None
        return done, switch_to

    def _unwind(self) -> None:
        """Abandoned (``Thread.abandon``): a built-in blocked halfway through a core call
        is killed, and the step gets ``GreenletExit`` as its outcome, so that the driver
        ends the core call (a parked one gives back its fiber). Between steps the thread
        holds nothing."""
        builtin, self._builtin = self._builtin, None
        if builtin is not None:
            builtin.kill()
            self._phase = _RUNNING
            try:
                assert self.step is not None
                self.step(Cancelled.FALSE, (None, greenlet.GreenletExit()))
            except (Exception, greenlet.GreenletExit):  # noqa: S110 (abandoned: no reader)
                pass
        self._phase = _DONE

    def wait(self, ready: Callable[[], bool], why: str, cancellable: bool,
             keys: KeySource = None) -> None:
        """End the current step waiting for ``ready()``; the scheduler resumes the thread.

        ``keys`` as for ``Thread.wait_until``: the wait keys ``ready`` reads.
        """
        assert self.ready_func is None  # self._start_waiting(ready, why, keys), inline
        self.ready_func = ready
        self.waits_on = why
        self.scheduler.add_waiting(self, keys)
        self.cancellable = cancellable
        if trace.listening:
            trace.emit("thread.block", thread=self.name, on=why, switch_to=None)

    # -- built-ins that may suspend -------------------------------------------------------

    def run_builtin(self, handler: Callable[..., Any], args: tuple[Any, ...],
                    placeholder: list[int]) -> Any:
        """Run a built-in's handler so that it may block; see module docs."""
        replay = self.replay
        if replay is not None:
            self.replay = None
            return replay()
        cont = stacks.Continuation(lambda _: handler(*args), f"{self.name}/builtin")
        finished, value = self._enter(cont, None)
        if finished:
            return value
        self._builtin = cont
        self._switch_to = value  # thread.suspend-then-resume and friends: run it next
        assert self.on_builtin_blocked is not None
        return self.on_builtin_blocked(placeholder)

    def run_deferred(self, handler: Callable[..., Any], args: tuple[Any, ...]
                     ) -> BuiltinOutcome | None:
        """Run a built-in whose wasm already unwound (``callback_abi.replay``): its outcome
        if it finished (a value or the exception it raised), None if it blocked (the
        thread then waits in it as after :meth:`run_builtin` blocked)."""
        cont = stacks.Continuation(lambda _: handler(*args), f"{self.name}/builtin")
        try:
            finished, value = self._enter(cont, None)
        except BaseException as e:
            return None, e
        if finished:
            return value, None
        self._builtin = cont
        self._switch_to = value
        return None

    def _enter(self, cont: stacks.Continuation, value: Any) -> tuple[bool, Any]:
        outer = self._in_builtin
        self._in_builtin = cont
        try:
            return cont.resume(value)
        finally:
            self._in_builtin = outer

    def can_suspend(self) -> bool:
        """Only inside a built-in continuation (see module docs)."""
        return self._in_builtin is not None and stacks.current() is self._in_builtin

    def _block(self, cancellable: bool, switch_to: Thread | None = None) -> Cancelled:
        if not self.can_suspend():
            raise RuntimeError(f"{self.name} has no stack: only a built-in linked through "
                               "run_builtin may block it (a stackswitch bug)")
        return super()._block(cancellable, switch_to)


def suspendable(handler: Callable[..., Any], results: int,
                suspends_only_if: Callable[..., bool] | None = None) -> Callable[..., Any]:
    """``handler`` (a built-in that may suspend its caller, with ``results`` core results)
    made safe for stackless threads: the strategies link such built-ins through this
    (:meth:`~stackswitch.canon.strategy.Strategy.wrap_builtin`). Equal to ``handler``
    for any other thread: one type test more.

    ``suspends_only_if(thread, *args)``, if given, holds whenever the call may
    suspend ``thread`` (it only reads); when it does not hold, the handler
    runs as it is, without a continuation: equal, since it does not suspend.
    """
    placeholder = [0] * results

    def run(*args: Any) -> Any:
        thread = threads._current  # current_thread_or_none(), inline: every such built-in
        if type(thread) is StacklessThread and (suspends_only_if is None
                                                or suspends_only_if(thread, *args)):
            return thread.run_builtin(handler, args, placeholder)
        return handler(*args)

    return run
