"""Host-implemented functions: plain blocking Python on a stack of its own.

A host function is a ``FuncInst`` like any lifted guest function. Each call
runs the Python function on a new :class:`Thread` of a :class:`HostTask`, so
the function may block (``wait_until``, ``yield_``, reading a stream) exactly
like a guest thread: its greenlet suspends and the caller carries on (for an
async lower) or waits (for a sync one).

Cancellation reaches a host function as :class:`TaskCancelled`, raised from
the blocking call it is in; letting it propagate resolves the call as
cancelled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import trace
from ..errors import Exit, HostError, Trap
from ..event_loop import loop_of
from ..scheduler import WaitKey
from .tasks import OnResolve, OnStart
from .threads import Cancelled, Thread, current_thread


class TaskCancelled(Exception):
    """Raised inside a host function whose caller cancelled the call."""


class HostTask:
    """The callee side of one call into the host."""

    inst = None

    def __init__(self, store: Any, name: str, caller: Any, may_block: bool = True) -> None:
        self.store = store
        self.name = name
        self.caller = caller
        self.may_block = may_block
        self.cancel_requested = False
        self.cancel_delivered = False
        self.resolved = False
        self.thread: Thread | None = None

    def __repr__(self) -> str:
        return f"<HostTask {self.name}>"

    def check_may_block(self, thread: Thread) -> None:
        """Only a host function of an ``async`` function type may block (as in the spec)."""
        if not self.may_block:
            raise RuntimeError(f"host function {self.name!r} implements a non-async function "
                               "type, so it may not block; declare the import `async func`")

    def forget_thread(self, thread: Thread) -> None:
        """A host function's thread is in no table: nothing to forget."""

    def deliver_pending_cancel(self, cancellable: bool) -> bool:
        if cancellable and self.cancel_requested and not self.cancel_delivered:
            self.cancel_delivered = True
            return True
        return False

    def request_cancellation(self, caller: Any = None) -> None:
        trace.emit("task.cancel-requested", task=self.name)
        if self.resolved:
            return
        self.cancel_requested = True
        thread = self.thread
        if thread is not None and thread.waiting() and thread.cancellable:
            self.cancel_delivered = True
            thread.resume(Cancelled.TRUE)


def host_function(store: Any, fn: Callable[..., Any], name: str = "", results: int = 1,
                  may_block: bool = True) -> Callable[[OnStart, OnResolve, Any], Any]:
    """Wrap ``fn(*args) -> value`` (``results`` = 0 or 1 values) as a ``FuncInst``."""
    label = name or getattr(fn, "__name__", "host")

    def func_inst(on_start: OnStart, on_resolve: OnResolve, caller: Any) -> Any:
        task = HostTask(store, label, caller, may_block)

        def run() -> None:
            args = on_start()
            try:
                value = fn(*args)
            except TaskCancelled:
                task.resolved = True
                on_resolve(None)
                return
            except (Trap, HostError, Exit):
                raise
            except Exception as e:
                raise HostError(label, e) from e
            task.resolved = True
            result = [value] if results else []
            if trace.listening:
                trace.emit("task.return", task=task.name, result=result)
            on_resolve(result)

        task.thread = Thread(task, run, name=f"host:{label}")  # type: ignore[arg-type]
        task.thread.resume()
        return task.request_cancellation

    return func_inst


def wait_until(ready: Callable[[], bool], why: str = "host wait") -> None:
    """Block the current host function until ``ready()``; raises TaskCancelled if cancelled.

    ``ready`` may read anything, so the scheduler asks it on every tick
    while the function waits.
    """
    thread = current_thread()
    thread.task.check_may_block(thread)
    if thread.wait_until(ready, cancellable=True, why=why):
        raise TaskCancelled()


def yield_() -> None:
    """Let every other ready thread run once before continuing."""
    thread = current_thread()
    thread.task.check_may_block(thread)
    if thread.wait_until(lambda: True, cancellable=True, why="host yield", yielding=True,
                         keys=()):
        raise TaskCancelled()


class _Alarm(WaitKey):
    """Fired once by the event loop; the sleeping thread waits on it as its only key."""

    fired = False

    def fire(self) -> None:
        self.fired = True
        self.touch()


def sleep(seconds: float) -> None:
    """Block the current host function for ``seconds``, on a timer of the store's event loop.

    While it sleeps the thread is not even asked whether it is ready (its one
    wait key is touched by the timer), and when nothing else can run the
    scheduler blocks in the selector: a sleeping task costs no CPU. Raises
    TaskCancelled if the caller cancels.
    """
    thread = current_thread()
    thread.task.check_may_block(thread)
    alarm = _Alarm()
    timer = loop_of(thread.scheduler).call_later(max(0, int(seconds * 1e9)), alarm.fire)
    if thread.wait_until(lambda: alarm.fired, cancellable=True, why=f"sleep {seconds} s",
                         keys=(alarm,)):
        timer.cancel()
        raise TaskCancelled()
