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
from ..errors import Trap
from ..scheduler import DEADLOCK_MESSAGE, KeySource, WaitKey
from . import messages, threads
from .context import HandleContext
from .options import CanonicalOptions
from .subtasks import Subtask
from .table import MAX_LENGTH
from .tasks import OnResolve, OnStart, Task
from .threads import Thread, current_thread, current_thread_or_none
from .types import FuncType, U32Type, U64Type
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
    from .component_instance import ComponentInstance

CoreFunc = Callable[[list[Any]], list[Any]]
OnCancel = Callable[..., None]
FuncInst = Callable[[OnStart, OnResolve, "Task | None"], "OnCancel | None"]


_REALLOC_PARAMS = ("old_ptr", "old_size", "align", "new_size")
_REALLOC_TYPE = {
    ptr_type: FuncType([(name, t) for name in _REALLOC_PARAMS], [t])
    for ptr_type, t in (("i32", U32Type()), ("i64", U64Type()))
}
_SYNC_OPTS = CanonicalOptions()


class RuntimeContext(HandleContext):
    """The lifting/lowering context of a call: handle rules plus ``realloc`` run as a call."""

    def call_realloc(self, realloc: Callable[[int, int, int, int], int], *args: int) -> int:
        """Run ``realloc`` as the spec does: a sync call into this instance.

        It gets a task and thread of its own (so ``context.get`` reads 0 and
        built-ins see this instance) and runs with ``may_leave`` cleared, so
        it can neither call imports or built-ins, nor block, nor re-enter.
        The reentrance check is skipped: a caller's ``realloc`` is called back
        while the call into the callee is still on the stack.
        """
        inst = self.inst
        assert inst.may_leave
        inst.may_leave = False
        result: list[int] = []
        try:
            canon_lift(lambda flat: [realloc(*flat)], _REALLOC_TYPE[self.memory.ptr_type], _SYNC_OPTS, inst,
                       lambda: list(args), result.extend, name=f"{inst.name}.realloc")
        finally:
            inst.may_leave = True
        return result[0]


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


CALLBACK_CODES = tuple(CallbackCode)
"""The codes by value: what the hot loops index instead of calling ``CallbackCode(code)``."""


# What the call path reads on every call, as module constants: reading an Enum
# member from its class costs ~0.08 µs, a global read a fifth of that.
_TASK_INITIAL, _TASK_STARTED, _TASK_RESOLVED = (Task.State.INITIAL, Task.State.STARTED,
                                               Task.State.RESOLVED)
_STARTING, _STARTED, _RETURNED = (Subtask.State.STARTING, Subtask.State.STARTED,
                                  Subtask.State.RETURNED)
_YIELD = CallbackCode.YIELD
_SUBTASK_EVENT, _NONE_EVENT = EventCode.SUBTASK, EventCode.NONE


def unpack_callback_result(packed: int) -> tuple[CallbackCode, int]:
    code = packed & 0xF
    if code > 2:  # CallbackCode.WAIT
        raise Trap(messages.UNSUPPORTED_CALLBACK_CODE)
    return CALLBACK_CODES[code], packed >> 4


def canon_lift(callee: CoreFunc, ft: FuncType, opts: CanonicalOptions, inst: ComponentInstance,
               on_start: OnStart, on_resolve: OnResolve, caller: Task | None = None,
               name: str = "") -> OnCancel:
    """Run one call of a lifted core function as a new task; see module docs."""
    task = Task(ft, opts, inst, on_start, on_resolve, name=name, caller=caller)

    def thread_func() -> None:
        if not task.enter_implicit_thread(thread):
            return
        flat_args = start_task(task)
        if not opts.async_:
            flat_results = callee(flat_args)
            finish_sync_task(task, flat_results)
        elif opts.callback is None:
            callee(flat_args)
        else:
            _callback_loop(task, callee(flat_args))
        task.exit_implicit_thread()

    thread = Thread(task, thread_func, name=task.name)
    if ft.async_:  # run_task, inline for an async-typed call: it does not wait here
        thread.resume()
        return task.request_cancellation
    return run_task(task, thread)


def start_task(task: Task) -> list[Any]:
    """Take the caller's arguments (the task starts) and lower them for the core function."""
    # task.start(), inline (every call takes this path)
    assert task.state == _TASK_INITIAL
    task.state = _TASK_STARTED
    if trace.listening:
        trace.emit("task.state", task=task.name, state="STARTED")
    args = task.on_start()
    ts = task.ft.param_type_tuple
    if ts or args:
        cx = RuntimeContext(task.opts, task.inst, task)
        flat_args = lower_flat_values(cx, MAX_FLAT_PARAMS, args, ts)
    else:  # no parameters (lower_flat_values would give [] too): no context needed
        flat_args = []
    if trace.listening:
        caller = task.caller
        trace.emit("task.start", task=task.name, instance=task.inst.name, args=args,
                   caller=caller.name if caller is not None else "host")
    return flat_args


def finish_sync_task(task: Task, flat_results: list[Any]) -> None:
    """A sync-lifted core function returned: lift its results, resolve, run ``post-return``."""
    inst, opts = task.inst, task.opts
    ts = task.ft.result_type_tuple
    if ts or flat_results:
        cx = RuntimeContext(opts, inst, task)
        result = lift_flat_values(cx, MAX_FLAT_RESULTS, CoreValueIter(flat_results), ts)
    else:  # no result (lift_flat_values would give [] too): no context needed
        result = []
    task.return_(result)
    if opts.post_return is not None:
        inst.may_leave = False
        try:
            opts.post_return(flat_results)
        finally:
            inst.may_leave = True


def run_task(task: Task, thread: Thread) -> OnCancel:
    """Start ``task`` on its implicit ``thread``; for a sync-typed call, run until it resolves.

    Shared by every strategy: only how the implicit thread runs its code differs.
    """
    thread.resume()
    inst = task.inst
    if not task.ft.async_:
        # A sync-typed call may not block before returning, but cooperative
        # threads of the same instance may run to get it there.
        while task.state != _TASK_RESOLVED:
            candidates = [t for t in inst.threads if t.ready() and _may_use_stack(t, inst)]
            if not candidates:
                # Nothing that may use this stack can run: the call can never
                # return. (Ready threads elsewhere do not count: resuming them
                # here could re-enter their instances.)
                inst.poison()
                trace.emit("trap", thread=thread.name, message=DEADLOCK_MESSAGE)
                error = Trap(DEADLOCK_MESSAGE)
                error.thread = thread  # type: ignore[attr-defined]  # see task_tree.annotate
                raise error
            inst.store.scheduler.choose(candidates).resume()
    return task.request_cancellation


def _let_callee_start(thread: Thread, subtask: Subtask) -> None:
    """Before reporting STARTING, let the thread that keeps the callee out run first.

    A callee waiting to enter because another task of its instance holds the
    exclusive lock will start as soon as that holder gets to release it. When
    the holder is ready right now, wasmtime runs it (suspending the caller
    until the callee has started) and the caller sees STARTED, which the
    spec's tests expect (sync-streams); the spec's reference code reports
    STARTING at once. So the caller yields while the holder, or then the
    callee, is ready. A caller that may not block (a sync-typed task that
    has not returned) reports STARTING at once.
    """
    task = thread.task
    if not thread.can_suspend():
        return  # a stackless thread outside a built-in continuation reports STARTING
    callee = getattr(subtask.on_cancel, "__self__", None)
    if not isinstance(task, Task) or not isinstance(callee, Task):
        return
    if not (task.ft.async_ or task.state == Task.State.RESOLVED):
        return
    inst = callee.inst
    held = False
    while subtask.state == Subtask.State.STARTING:
        # Yield while the holder can run towards releasing the lock, and once
        # it has, while the callee can run to take it: under a random policy
        # other ready threads may go first, so one yield is not always enough.
        # A callee kept out by anything else (backpressure) starts later.
        holder = inst.exclusive_thread
        if holder is thread:
            return
        if holder is not None:
            if not holder.ready():
                return
            held = True
        elif not (held and callee.implicit_thread is not None and callee.implicit_thread.ready()):
            return
        thread.wait_until(lambda: True, why="the callee to start", yielding=True, keys=())


def callee_may_be_kept_out(callee: FuncInst) -> Callable[..., bool] | None:
    """For an async ``canon lower`` of ``callee``: ``test(thread, *args)``, which holds
    whenever the lower may suspend its caller (:func:`_let_callee_start`); None when
    that is not known (any call may).

    The test: the callee's instance is locked (``exclusive_thread``). A lower suspends
    only for a callee still STARTING after the call whose instance is locked by then,
    and a lock free before the call is still free after it: a callee that has not
    entered took none, and nothing else ran (an async-typed callee's thread is only
    resumed until it blocks; a sync-typed one has resolved when the call returns). Known
    for a lift of a store (``Store.lift`` names the instance: ``callee.instance``).
    """
    inst = getattr(callee, "instance", None)
    if inst is None:
        return None

    def locked(_thread: Thread, *_args: Any) -> bool:
        return inst.exclusive_thread is not None

    return locked


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


class CallbackWait:
    """What a callback-lifted task waits for between two calls of its ``callback``.

    Made when the callback returns YIELD or WAIT. The task drops its
    instance's exclusive lock while it waits, so that other callback or sync
    tasks of the instance can run, and takes it back in :meth:`deliver`.
    Both strategies use this: the stackful one waits on the task's own stack,
    the callback strategy keeps it as the task's record.
    """

    __slots__ = ("task", "wset", "yielding", "why", "keys")

    def __init__(self, task: Task, code: CallbackCode, si: int) -> None:
        inst = task.inst
        assert inst.exclusive_thread is task.implicit_thread
        inst.exclusive_thread = None  # inst.release_exclusive(), inline
        if inst.enter_key._watchers:
            inst.enter_key.touch()
        self.task = task
        self.yielding = code == _YIELD
        self.keys: KeySource
        """What to wait with: :meth:`wait_keys`, which for a yield is always the lock."""
        if self.yielding:
            self.wset = None
            self.why = "callback yield"
            self.keys = (inst.enter_key,)
        else:
            wset = inst.handles.get(si)
            if not isinstance(wset, WaitableSet):  # (hot path: raise, not trap_if)
                raise Trap(messages.NOT_WAITABLE_SET)
            wset.num_waiting += 1
            self.wset = wset
            self.why = f"callback wait on set {si}"
            self.keys = self.wait_keys

    def ready(self) -> bool:
        if self.task.inst.exclusive_thread is not None:
            return False
        return self.wset is None or self.wset.has_pending_event()

    def wait_keys(self) -> tuple[WaitKey, ...]:
        """What may make :meth:`ready` true from the state now: an event on the set
        while it has none, the instance's lock (released) once it has one. Waking
        every waiter of a busy instance on each release would cost O(waiters)."""
        wset = self.wset
        if wset is None or wset.has_pending_event():
            return (self.task.inst.enter_key,)
        return (wset,)

    def deliver(self, cancelled: bool) -> list[int]:
        """The event for the callback's next call (core values), and the lock back."""
        trace.counts["events"] += 1
        task, wset = self.task, self.wset
        if wset is not None:
            wset.num_waiting -= 1
        if cancelled:
            event: tuple[EventCode, int, int] = (EventCode.TASK_CANCELLED, 0, 0)
        elif wset is None:
            event = (_NONE_EVENT, 0, 0)
        else:
            event = wset.get_pending_event()
        inst = task.inst
        assert inst.exclusive_thread is None
        inst.exclusive_thread = task.implicit_thread
        if trace.listening:
            trace.emit("callback.event", task=task.name, event=EventCode(event[0]).name,
                       index=event[1], payload=event[2])
        return [int(event[0]), event[1], event[2]]


def _callback_loop(task: Task, flat_results: list[Any]) -> None:
    """Wait on the guest's behalf and call its ``callback`` until it says EXIT.

    This is the "as if" desugaring: the task's own stack loops on the wait.
    Only a callback lift that cannot run stackless takes it (a Python core
    function, which cannot park: see :mod:`.callback_driver`).
    """
    thread = task.implicit_thread
    callback = task.opts.callback
    [packed] = flat_results
    while code := packed & 0xF:  # not EXIT (unpack_callback_result, inline)
        if code > 2:  # CallbackCode.WAIT
            raise Trap(messages.UNSUPPORTED_CALLBACK_CODE)
        wait = CallbackWait(task, CALLBACK_CODES[code], packed >> 4)
        cancelled = thread.wait_until(wait.ready, cancellable=True, why=wait.why,
                                      yielding=wait.yielding, keys=wait.keys)
        [packed] = callback(wait.deliver(bool(cancelled)))


def canon_lower(callee: FuncInst, ft: FuncType, opts: CanonicalOptions,
                flat_args: list[Any], name: str = "") -> list[Any]:
    """Call ``callee`` from core wasm of the current thread; see module docs."""
    return Lowering(callee, ft, opts, name).call(*flat_args)


class Lowering:
    """One ``canon lower``: what each call of it needs that depends only on the
    function, its type and options, computed once. :meth:`call` is ``canon lower``
    itself (the core function linked in: ``Lowering(...).call``).

    No lifting or lowering context is made for a function with neither
    parameters nor results (the common async call): lifting and lowering
    no values needs none and gives ``[]``.
    """

    __slots__ = ("callee", "ft", "opts", "name", "param_types", "result_types",
                 "max_flat_params", "max_flat_results", "values")

    def __init__(self, callee: FuncInst, ft: FuncType, opts: CanonicalOptions,
                 name: str = "") -> None:
        self.callee = callee
        self.ft = ft
        self.opts = opts
        self.name = name
        self.param_types = ft.param_type_tuple
        self.result_types = ft.result_type_tuple
        if opts.async_:
            self.max_flat_params, self.max_flat_results = MAX_FLAT_ASYNC_PARAMS, 0
        else:
            self.max_flat_params, self.max_flat_results = MAX_FLAT_PARAMS, MAX_FLAT_RESULTS
        self.values = bool(self.param_types or self.result_types)
        """Are there values to lift or lower (so a context is needed)?"""

    def call(self, *flat_args: Any) -> list[Any]:
        """Call the function from core wasm of the current thread; see module docs."""
        callee, ft, opts, name = self.callee, self.ft, self.opts, self.name
        thread = threads._current  # current_thread(), inline: once per call
        if thread is None:
            thread = current_thread()  # raises: called from the host's stack
        task = thread.task
        inst = task.inst
        if not inst.may_leave:  # inst.check_may_leave(), inline
            raise Trap(messages.CANNOT_LEAVE)
        async_ = opts.async_
        if not async_ and ft.async_:
            task.check_may_block(thread)
        max_flat_params, max_flat_results = self.max_flat_params, self.max_flat_results
        param_types, result_types = self.param_types, self.result_types
        subtask = Subtask(name=name)
        if self.values or flat_args:
            args_iter: CoreValueIter | None = CoreValueIter(flat_args)
            cx: RuntimeContext | None = RuntimeContext(opts, inst, subtask)
        else:
            args_iter = cx = None
        index = 0  # the subtask's handle once the caller holds one: then progress is an event

        def subtask_event() -> tuple[EventCode, int, int]:
            if subtask.state >= _RETURNED:  # subtask.resolved()
                subtask.deliver_resolve()
            return (_SUBTASK_EVENT, index, int(subtask.state))

        def on_start() -> list[Any]:
            if index:
                subtask.set_pending_event(subtask_event)
            assert subtask.state == _STARTING
            subtask.state = _STARTED
            if cx is None:
                return []
            return lift_flat_values(cx, max_flat_params, args_iter, param_types)

        def on_resolve(result: list[Any] | None) -> None:
            if index:
                subtask.set_pending_event(subtask_event)
            if result is None:
                assert subtask.cancellation_requested
                if subtask.state == Subtask.State.STARTING:
                    subtask.resolve(Subtask.State.CANCELLED_BEFORE_STARTED, [])
                else:
                    subtask.resolve(Subtask.State.CANCELLED_BEFORE_RETURNED, [])
            else:
                assert subtask.state == _STARTED
                if cx is None and not result:
                    flat_results: list[Any] = []
                else:
                    flat_results = lower_flat_values(cx, max_flat_results, result, result_types,
                                                     args_iter)
                subtask.resolve(_RETURNED, flat_results)

        subtask.on_cancel = callee(on_start, on_resolve, task)

        if not async_:
            if subtask.state < _RETURNED:  # not subtask.resolved()
                thread.wait_until(subtask.resolved, why=f"sync call {name or 'import'}",
                                  keys=(subtask,))
            subtask.deliver_resolve()
            return subtask.flat_results

        if subtask.state == _STARTING:
            _let_callee_start(thread, subtask)
        if subtask.state >= _RETURNED:  # subtask.resolved()
            subtask.deliver_resolve()
            return [2]  # Subtask.State.RETURNED
        index = inst.handles.add(subtask)
        assert 0 < index <= MAX_LENGTH
        if trace.listening:
            trace.emit("subtask.new", instance=inst.name, subtask=subtask.name, index=index)
        return [int(subtask.state) | (index << 4)]


def current_task_or_none() -> Task | None:
    thread = current_thread_or_none()
    return thread.task if thread is not None else None
