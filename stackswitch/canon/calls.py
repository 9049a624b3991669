"""``canon lift`` and ``canon lower``: how a call crosses a component boundary.

Every call between components, or between the host and a component, is a
``FuncInst``: ``f(on_start, on_resolve, caller) -> on_cancel``. The callee
pulls its arguments with ``on_start()`` once it is ready (after backpressure)
and pushes its result with ``on_resolve(result)``; if it blocks first, ``f``
returns early and the caller may later call ``on_cancel()``.

``canon_lift`` wraps a core function as a ``FuncInst`` running on a new task
and implicit thread. The three ways a core function can be lifted differ in
how the result comes back and how waiting happens:

* *sync*: the core function returns the result; it must not block;
* *async stackful*: it calls ``task.return`` and blocks inside built-ins such
  as ``waitable-set.wait`` on its own stack;
* *async callback*: it returns a code (EXIT, YIELD, WAIT) and the runtime
  waits on its behalf, then calls its ``callback`` with the event, from an
  empty stack.

``canon_lower`` wraps a ``FuncInst`` as a core function. A sync lower blocks
the calling thread until the callee resolves; an async lower returns at once
with the subtask's state (RETURNED eagerly, with no subtask, if the callee
finished without blocking) packed as ``state | index << 4``.

Core functions use the spec's convention: called with a list of core values,
they return a list of core values.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum
from typing import TYPE_CHECKING, Any

from .. import trace
from ..errors import Trap, trap_if
from ..scheduler import DEADLOCK_MESSAGE
from . import messages
from .context import RuntimeContext
from .subtasks import Subtask
from .table import MAX_LENGTH
from .tasks import OnResolve, OnStart, Task
from .threads import Thread, current_thread, current_thread_or_none
from .values import (
    MAX_FLAT_ASYNC_PARAMS,
    MAX_FLAT_PARAMS,
    MAX_FLAT_RESULTS,
    CoreValueIter,
    lift_flat_values,
    lower_flat_values,
)
from .waitables import EventCode, WaitableSet

if TYPE_CHECKING:
    from .instance import ComponentInstance
    from .options import CanonicalOptions
    from .types import FuncType

CoreFunc = Callable[[list[Any]], list[Any]]
OnCancel = Callable[..., None]
FuncInst = Callable[[OnStart, OnResolve, "Task | None"], "OnCancel | None"]


def as_core_results(value: Any) -> list[Any]:
    """A Python function's return value in the core convention: None, one value, or several."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


class CallbackCode(IntEnum):
    EXIT = 0
    YIELD = 1
    WAIT = 2


def unpack_callback_result(packed: int) -> tuple[CallbackCode, int]:
    code = packed & 0xF
    trap_if(code > CallbackCode.WAIT, messages.UNSUPPORTED_CALLBACK_CODE)
    return CallbackCode(code), packed >> 4


def canon_lift(callee: CoreFunc, ft: FuncType, opts: CanonicalOptions, inst: ComponentInstance,
               on_start: OnStart, on_resolve: OnResolve, caller: Task | None = None,
               name: str = "") -> OnCancel:
    """Run one call of a lifted core function as a new task; see module docs."""
    task = Task(ft, opts, inst, on_start, on_resolve, name=name, caller=caller)

    def thread_func() -> None:
        if not task.enter_implicit_thread():
            return
        cx = RuntimeContext(opts, inst, task)
        args = task.start()
        flat_args = lower_flat_values(cx, MAX_FLAT_PARAMS, args, ft.param_types())
        if trace.enabled():
            trace.emit("task.start", task=task.name, instance=inst.name, args=args,
                       caller=caller.name if caller is not None else "host")
        if not opts.async_:
            flat_results = callee(flat_args)
            result = lift_flat_values(cx, MAX_FLAT_RESULTS, CoreValueIter(flat_results),
                                      ft.result_types())
            task.return_(result)
            if opts.post_return is not None:
                inst.may_leave = False
                try:
                    opts.post_return(flat_results)
                finally:
                    inst.may_leave = True
        elif opts.callback is None:
            callee(flat_args)
        else:
            _callback_loop(task, callee(flat_args))
        task.exit_implicit_thread()

    thread = Thread(task, thread_func, name=task.name)
    thread.resume()
    if not ft.async_:
        # A sync-typed call may not block before returning, but cooperative
        # threads of the same instance may run to get it there.
        while task.state != Task.State.RESOLVED:
            candidates = [t for t in inst.threads if t.ready() and _may_use_stack(t, inst)]
            if not candidates:
                # Nothing that may use this stack can run: the call can never
                # return. (Ready threads elsewhere do not count: resuming them
                # here could re-enter their instances.)
                inst.poison()
                trace.emit("trap", thread=thread.name, message=DEADLOCK_MESSAGE)
                raise Trap(DEADLOCK_MESSAGE)
            inst.store.scheduler.choose(candidates).resume()
    return task.request_cancellation


def _let_callee_start(thread: Thread, subtask: Subtask) -> None:
    """Before reporting STARTING, let the thread that keeps the callee out run first.

    A callee waiting to enter because another task of its instance holds the
    exclusive lock will start as soon as that holder gets to release it. When
    the holder is ready right now, wasmtime runs it (suspending the caller)
    and the caller sees STARTED, which the spec's tests expect (sync-streams);
    the spec's reference code reports STARTING at once. A caller that may not
    block (a sync-typed task that has not returned) reports STARTING at once.
    """
    task = thread.task
    callee = getattr(subtask.on_cancel, "__self__", None)
    if not isinstance(task, Task) or not isinstance(callee, Task):
        return
    if not (task.ft.async_ or task.state == Task.State.RESOLVED):
        return
    inst = callee.inst
    while subtask.state == Subtask.State.STARTING:
        holder = inst.exclusive_thread
        if holder is None or holder is thread or not holder.ready():
            return
        thread.wait_until(lambda: True, why="the callee to start", yielding=True)


def _may_use_stack(thread: Thread, inst: ComponentInstance) -> bool:
    """May ``thread`` run while a sync-typed call is in progress on this stack?

    Not the thread holding the exclusive lock, and not the implicit thread of
    any async-typed task that needs exclusive use of the stack (a sync- or
    callback-lifted one): those would run on the shadow stack the sync call is
    using (Component Invariant #3; the spec's during-sync-call tests).
    """
    if thread is inst.exclusive_thread:
        return False
    task = thread.task
    return not (thread is task.implicit_thread and task.ft.async_ and task.needs_exclusive())


def _callback_loop(task: Task, flat_results: list[Any]) -> None:
    """Wait on the guest's behalf and call its ``callback`` until it says EXIT."""
    inst = task.inst
    thread = task.implicit_thread
    callback = task.opts.callback
    [packed] = flat_results
    code, si = unpack_callback_result(packed)
    while code != CallbackCode.EXIT:
        # Drop the exclusive lock while waiting so other callback or sync
        # tasks of this instance can run; take it back to call the guest.
        assert inst.exclusive_thread is thread
        inst.exclusive_thread = None
        if code == CallbackCode.YIELD:
            cancelled = thread.wait_until(lambda: inst.exclusive_thread is None,
                                          cancellable=True, why="callback yield", yielding=True)
            event = (EventCode.TASK_CANCELLED if cancelled else EventCode.NONE, 0, 0)
        else:
            wset = inst.handles.get(si)
            trap_if(not isinstance(wset, WaitableSet), messages.NOT_WAITABLE_SET)
            event = wset.wait_for_event_and(lambda: inst.exclusive_thread is None,
                                            cancellable=True, why=f"callback wait on set {si}")
        assert inst.exclusive_thread is None
        inst.exclusive_thread = thread
        if trace.enabled():
            trace.emit("callback.event", task=task.name, event=EventCode(event[0]).name,
                       index=event[1], payload=event[2])
        [packed] = callback([int(event[0]), event[1], event[2]])
        code, si = unpack_callback_result(packed)


def canon_lower(callee: FuncInst, ft: FuncType, opts: CanonicalOptions,
                flat_args: list[Any], name: str = "") -> list[Any]:
    """Call ``callee`` from core wasm of the current thread; see module docs."""
    thread = current_thread()
    task = thread.task
    inst = task.inst
    inst.check_may_leave()
    if not opts.async_ and ft.async_:
        task.check_may_block(thread)
    if opts.async_:
        max_flat_params, max_flat_results = MAX_FLAT_ASYNC_PARAMS, 0
    else:
        max_flat_params, max_flat_results = MAX_FLAT_PARAMS, MAX_FLAT_RESULTS
    args_iter = CoreValueIter(flat_args)
    subtask = Subtask(name=name)
    cx = RuntimeContext(opts, inst, subtask)
    on_progress: list[Callable[[], None]] = []

    def notify() -> None:
        if on_progress:
            on_progress[0]()

    def on_start() -> list[Any]:
        notify()
        assert subtask.state == Subtask.State.STARTING
        subtask.state = Subtask.State.STARTED
        return lift_flat_values(cx, max_flat_params, args_iter, ft.param_types())

    def on_resolve(result: list[Any] | None) -> None:
        notify()
        if result is None:
            assert subtask.cancellation_requested
            if subtask.state == Subtask.State.STARTING:
                subtask.resolve(Subtask.State.CANCELLED_BEFORE_STARTED, [])
            else:
                subtask.resolve(Subtask.State.CANCELLED_BEFORE_RETURNED, [])
        else:
            assert subtask.state == Subtask.State.STARTED
            flat_results = lower_flat_values(cx, max_flat_results, result, ft.result_types(),
                                             args_iter)
            subtask.resolve(Subtask.State.RETURNED, flat_results)

    subtask.on_cancel = callee(on_start, on_resolve, task)

    if not opts.async_:
        if not subtask.resolved():
            thread.wait_until(subtask.resolved, why=f"sync call {name or 'import'}")
        subtask.deliver_resolve()
        return subtask.flat_results

    if subtask.state == Subtask.State.STARTING:
        _let_callee_start(thread, subtask)
    if subtask.resolved():
        subtask.deliver_resolve()
        return [int(Subtask.State.RETURNED)]
    index = inst.handles.add(subtask)
    assert 0 < index <= MAX_LENGTH

    def progress() -> None:
        def subtask_event() -> tuple[EventCode, int, int]:
            if subtask.resolved():
                subtask.deliver_resolve()
            return (EventCode.SUBTASK, index, int(subtask.state))

        subtask.set_pending_event(subtask_event)

    on_progress.append(progress)
    return [int(subtask.state) | (index << 4)]


def current_task_or_none() -> Task | None:
    thread = current_thread_or_none()
    return thread.task if thread is not None else None
