"""Tasks (spec: "Tasks"): one per call of a lifted function.

A task owns 1..N threads: the *implicit* thread that ``canon lift`` creates,
plus explicit ones from ``thread.new-indirect``. It enforces the calling
contract between caller and callee (``FuncInst``):

* ``on_start()`` hands over the arguments, once, after backpressure clears;
* ``on_resolve(result)`` hands back the result, or ``None`` after a
  cancellation the callee confirmed with ``task.cancel``; exactly once;
* the caller may request cancellation; it is delivered cooperatively at the
  next *cancellable* suspension point of one of the task's threads.

Invariants kept here: a task resolves at most once; it resolves only after
every borrow lent to it was dropped; its last thread may not exit before it
resolves (the trap that makes async exports call ``task.return``).
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

from .. import trace
from ..errors import Trap, trap_if
from ..scheduler import ChoicePoint
from . import messages
from .threads import Cancelled, Thread

if TYPE_CHECKING:
    from .component_instance import ComponentInstance
    from .options import CanonicalOptions
    from .types import FuncType

OnStart = Callable[[], list[Any]]
OnResolve = Callable[[list[Any] | None], None]


class State(Enum):
    """:attr:`Task.State` (defined out here, not nested: Cython cannot compile a class
    nested in one it makes a ``cdef class``, see tasks.pxd)."""

    __qualname__ = "Task.State"
    INITIAL = 1
    STARTED = 2
    PENDING_CANCEL = 3
    CANCEL_DELIVERED = 4
    RESOLVED = 5


class Task:
    """The callee side of one call: state machine plus its threads."""

    State = State

    __slots__ = ("ft", "opts", "inst", "store", "on_start", "on_resolve", "state", "num_borrows",
                 "implicit_thread", "threads", "name", "caller", "exclusive", "__weakref__")

    def __init__(self, ft: FuncType, opts: CanonicalOptions, inst: ComponentInstance,
                 on_start: OnStart, on_resolve: OnResolve, name: str = "",
                 caller: Task | None = None) -> None:
        self.ft = ft
        self.opts = opts
        self.inst = inst
        self.store = inst.store
        self.on_start = on_start
        self.on_resolve = on_resolve
        self.state = _INITIAL
        self.num_borrows = 0
        self.implicit_thread: Thread | None = None
        self.threads: list[Thread] = []
        self.name = name or "task"
        self.caller = caller
        """The supertask (``None`` when the host called): the async call stack."""
        self.exclusive = ft.async_ and (not opts.async_ or opts.callback is not None)
        """Does the implicit thread hold the instance's exclusive lock while it runs?
        (An async-typed call that :meth:`needs_exclusive`; fixed by the lift.)"""

    def __repr__(self) -> str:
        return f"<Task {self.name} {self.state.name}>"

    def needs_exclusive(self) -> bool:
        """Sync and callback-lifted code shares one shadow stack per instance."""
        return not self.opts.async_ or self.opts.callback is not None

    def _set_state(self, state: Task.State) -> None:
        self.state = state
        if trace.listening:
            trace.emit("task.state", task=self.name, state=state.name)

    # -- entering and leaving -------------------------------------------------

    def has_backpressure(self) -> bool:
        inst = self.inst
        return inst.backpressure > 0 or (
            self.needs_exclusive() and inst.exclusive_thread is not None)

    def enter_implicit_thread(self, thread: Thread) -> bool:
        """Wait out backpressure, then take the exclusive lock if needed.

        ``thread`` is the implicit thread, running now. Returns False if the
        caller cancelled while the task waited to start. (Inline, on the
        path every call takes: :meth:`must_wait_to_enter` and
        :meth:`finish_entering`.)
        """
        assert self.state == _INITIAL
        self.implicit_thread = thread
        inst = self.inst
        if self.ft.async_ and (inst.backpressure > 0 or inst.num_waiting_to_enter > 0 or (
                inst.exclusive_thread is not None and self.exclusive)):
            inst.num_waiting_to_enter += 1
            # Even if backpressure is already off, the tasks that waited
            # before us go first ("residual backpressure"): always block.
            cancelled = thread.wait_until(self.may_enter, cancellable=True,
                                          why=f"backpressure on {inst.name}", yielding=True,
                                          keys=(inst.enter_key,))
            inst.num_waiting_to_enter -= 1
            if cancelled:
                self.cancel()
                return False
        if self.exclusive:
            assert inst.exclusive_thread is None
            inst.exclusive_thread = thread
        assert not self.threads and thread.task is self and thread.index is None
        thread.index = inst.threads.add(thread)
        self.threads.append(thread)
        return True

    def must_wait_to_enter(self) -> bool:
        """Must an async call wait (backpressure, or earlier tasks still waiting) before it starts?"""
        if not self.ft.async_:
            return False
        # has_backpressure(), inline: for an async-typed task, exclusive is needs_exclusive()
        inst = self.inst
        return inst.backpressure > 0 or inst.num_waiting_to_enter > 0 or (
            inst.exclusive_thread is not None and self.exclusive)

    def may_enter(self) -> bool:
        """May the task start now? Waits on it wait on ``self.inst.enter_key``."""
        return not self.has_backpressure()

    def finish_entering(self, thread: Thread) -> None:
        """The implicit thread is in: take the exclusive lock if this task needs it."""
        inst = self.inst
        if self.exclusive:
            assert inst.exclusive_thread is None
            inst.exclusive_thread = thread
        assert not self.threads and thread.task is self and thread.index is None
        thread.index = inst.threads.add(thread)  # register_thread, inline
        self.threads.append(thread)

    def register_thread(self, thread: Thread) -> None:
        assert thread not in self.threads and thread.task is self and thread.index is None
        thread.index = self.inst.threads.add(thread)
        self.threads.append(thread)

    def exit_implicit_thread(self) -> None:
        """The implicit thread's code is done: it leaves (:meth:`unregister_thread`,
        inline) and gives up the exclusive lock."""
        thread = self.implicit_thread
        threads = self.threads
        threads.remove(thread)
        inst = self.inst
        inst.threads.remove(thread.index)
        if not threads:
            if self.state != _RESOLVED:
                raise Trap(messages.TASK_NO_RETURN)
            assert self.num_borrows == 0
        if self.exclusive:
            assert inst.exclusive_thread is thread
            inst.exclusive_thread = None  # inst.release_exclusive(), inline
            if inst.enter_key._watchers:
                inst.enter_key.touch()

    def unregister_thread(self, thread: Thread) -> None:
        assert thread in self.threads
        self.threads.remove(thread)
        self.inst.threads.remove(thread.index)
        if not self.threads:
            if self.state != Task.State.RESOLVED:
                raise Trap(messages.TASK_NO_RETURN)
            assert self.num_borrows == 0

    def forget_thread(self, thread: Thread) -> None:
        """``thread`` ended by an exception or was abandoned: it leaves its task and table
        (if it had joined them) without the checks of a normal exit."""
        if thread in self.threads:
            self.threads.remove(thread)
            self.inst.threads.remove(thread.index)

    def check_may_block(self, thread: Thread) -> None:
        """Trap now if ``thread`` is about to block a sync task that has not returned.

        A non-async-typed task may not block before it returns. The spec finds
        out once the thread has blocked and no thread of its instance can take
        over the stack (``canon lift``, which then reports a deadlock). Like
        wasmtime, and as the spec's tests expect, we also check *before* a
        blocking built-in or a sync call of an async-typed function starts,
        before anything else (even a bad handle) is looked at: if no other
        thread of the same instance tree is ready to run, blocking cannot end
        well.
        """
        if self.ft.async_ or self.state == Task.State.RESOLVED:
            return
        root = self.inst.root
        for other in self.store.scheduler.ready_threads():
            inst = other.task.inst
            if other is not thread and inst is not None and inst.root is root:
                return
        self.inst.poison()
        trace.emit("trap", thread=thread.name, message=messages.SYNC_BLOCK)
        raise Trap(messages.SYNC_BLOCK)

    # -- cancellation -----------------------------------------------------------

    def request_cancellation(self, caller: Any = None) -> None:
        """The caller (its task, or None for the host) no longer needs the result.

        Cancellation is delivered now to a thread of this task that blocked
        cancellably, if re-entering this instance is allowed; otherwise it is
        remembered and delivered at the next cancellable point.
        """
        caller_inst = caller.inst if caller is not None else None
        trace.emit("task.cancel-requested", task=self.name)
        if self.state == Task.State.INITIAL:
            # Still waiting on backpressure: cancelled before any guest code ran.
            self._set_state(Task.State.CANCEL_DELIVERED)
            self.implicit_thread.resume(Cancelled.TRUE)
            return
        assert self.state == Task.State.STARTED
        candidates = [t for t in self.threads if t.cancellable]
        inst = self.inst
        if self.needs_exclusive() and inst.exclusive_thread not in (None, self.implicit_thread):
            candidates = [t for t in candidates if t is not self.implicit_thread]
        if candidates and not inst.poisoned and inst.may_enter_from(caller_inst):
            self._set_state(Task.State.CANCEL_DELIVERED)
            inst.enter_from(caller_inst)
            try:
                self.store.scheduler.choose(candidates, ChoicePoint.CANCEL_THREAD).resume(Cancelled.TRUE)
            finally:
                inst.leave_to(caller_inst)
        else:
            self._set_state(Task.State.PENDING_CANCEL)

    def deliver_pending_cancel(self, cancellable: bool) -> bool:
        if cancellable and self.state == _PENDING_CANCEL:
            self._set_state(Task.State.CANCEL_DELIVERED)
            return True
        return False

    # -- the calling contract ---------------------------------------------------

    def start(self) -> list[Any]:
        assert self.state == _INITIAL
        self.state = _STARTED  # _set_state, inline
        if trace.listening:
            trace.emit("task.state", task=self.name, state="STARTED")
        return self.on_start()

    def return_(self, result: list[Any]) -> None:
        if self.state == _RESOLVED:  # (hot path: raise, not trap_if)
            raise Trap(messages.TASK_RESOLVED_TWICE)
        if self.num_borrows > 0:
            raise Trap(messages.TASK_RETURN_BORROWS)
        if trace.listening:
            trace.emit("task.return", task=self.name, result=result)
        self.on_resolve(result)
        self.state = _RESOLVED  # _set_state, inline
        if trace.listening:
            trace.emit("task.state", task=self.name, state="RESOLVED")

    def cancel(self) -> None:
        trap_if(self.state == Task.State.RESOLVED, messages.TASK_RESOLVED_TWICE)
        trap_if(self.state != Task.State.CANCEL_DELIVERED, messages.TASK_CANCEL_NOT_DELIVERED)
        trap_if(self.num_borrows > 0, messages.TASK_RETURN_BORROWS)
        trace.emit("task.cancel", task=self.name)
        self.on_resolve(None)
        self._set_state(Task.State.RESOLVED)


# The states the call path reads on every call, as module constants: reading
# ``Task.State.X`` goes through the Enum class's attribute lookup (~0.08 µs);
# a global read costs a fifth of that.
_INITIAL, _STARTED = Task.State.INITIAL, Task.State.STARTED
_PENDING_CANCEL, _RESOLVED = Task.State.PENDING_CANCEL, Task.State.RESOLVED
