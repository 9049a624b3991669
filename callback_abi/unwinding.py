"""A stackful-lifted task run without a stack: asyncify unwinds and rewinds its wasm.

A guest compiled from a synchronous-style language calls blocking built-ins
deep inside its own frames and expects them to return. Under the callback
strategy its core module is transformed with ``wasm-opt --asyncify``
(:mod:`callback_abi.asyncify`, done by the linker), and each call of a
stackful-lifted export is an :class:`AsyncifyDriver`:

1. the export is called (on the resumer's stack; its wasm on a fiber for the
   duration of the call only);
2. when a built-in blocks (its Python part waits on a small continuation, see
   :mod:`stackswitch.canon.stackless_threads`), the driver starts an *unwind*: the built-in
   returns placeholder results, every wasm frame saves its locals into the
   task's buffer in the guest's linear memory and returns, and the export
   returns. The task is now its record plus that buffer. A
   ``waitable-set.wait`` that will block unwinds at once, on the fiber, and
   its Python part runs right after the export has returned
   (:func:`~callback_abi.replay.replayable`): one fiber suspension less;
3. when the built-in's wait is over, the driver starts a *rewind* and calls
   the export again with the same arguments: the frames reload their locals
   down to the built-in's call site, the built-in is "called" again and this
   time returns its real outcome (:attr:`StacklessThread.replay`), and the
   guest carries on as if it had never left.

The buffer is taken when the task starts and given back when it ends.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackswitch import trace
from stackswitch.canon.callback_driver import TaskDriver
from stackswitch.canon.calls import CoreFunc
from stackswitch.canon.stackless_threads import BuiltinOutcome
from stackswitch.canon.tasks import Task
from stackswitch.canon.threads import Cancelled

from .asyncify import Asyncify, State


class Unwindable:
    """A stackful-lifted core function whose module was asyncified, with its instance's controls."""

    __slots__ = ("func", "control")

    def __init__(self, func: CoreFunc, control: Asyncify) -> None:
        self.func = func
        self.control = control

    def __call__(self, args: list[Any]) -> list[Any]:
        return self.func(args)


class AsyncifyDriver(TaskDriver):
    """One stackful-lifted task under the callback strategy; see module docs."""

    __slots__ = ("callee", "control", "buffer", "flat_args", "outcome", "deferred")

    def __init__(self, task: Task, callee: Unwindable) -> None:
        super().__init__(task)
        self.callee = callee.func
        self.control = callee.control
        self.buffer: int | None = None
        self.flat_args: list[Any] = []
        self.outcome: BuiltinOutcome | None = None
        self.deferred: tuple[Callable[..., Any], tuple[Any, ...]] | None = None
        """A built-in the wasm unwound before running (see :meth:`_unwind_early`)."""
        self.thread.on_builtin_blocked = self._unwind
        self.thread.unwind_early = self._unwind_early

    def started(self, flat_args: list[Any]) -> bool:
        self.flat_args = flat_args
        self.buffer = self.control.new_buffer()
        return self._call()

    def woken(self, cancelled: Cancelled) -> bool:
        raise AssertionError("a stackful task only waits inside its built-ins")

    def unblocked(self, outcome: BuiltinOutcome) -> bool:
        assert self.buffer is not None
        self.outcome = outcome
        self.thread.replay = self._replay
        self.control.start_rewind(self.buffer)
        trace.counts["rewinds"] += 1
        return self._call()

    def _call(self) -> bool:
        self.callee(self.flat_args)
        if self.control.state() == State.UNWINDING:
            deferred, self.deferred = self.deferred, None
            # Unwound early: the built-in runs now, as it would have before the unwind.
            outcome = None if deferred is None else self.thread.run_deferred(*deferred)
            self.control.stop_unwind()
            trace.counts["unwinds"] += 1
            if outcome is not None:  # it did not block after all: back in at once
                return self.unblocked(outcome)
            return False  # waiting: the built-in that blocked registered what for
        assert self.buffer is not None
        self.control.free_buffer(self.buffer)
        self.buffer = None
        self.task.exit_implicit_thread()
        return True

    def _unwind(self, placeholder: list[int]) -> list[int]:
        assert self.buffer is not None
        self.control.start_unwind(self.buffer)
        return placeholder

    def _unwind_early(self, handler: Callable[..., Any], args: tuple[Any, ...],
                      placeholder: list[int]) -> list[int]:
        """Unwind before running a built-in that will block (on the fiber; see
        :func:`callback_abi.replay.replayable`); :meth:`_call` runs it once the
        export has returned."""
        self.deferred = (handler, args)
        return self._unwind(placeholder)

    def _replay(self) -> Any:
        self.control.stop_rewind()
        outcome, self.outcome = self.outcome, None
        assert outcome is not None
        value, exc = outcome
        if exc is not None:
            raise exc
        return value
