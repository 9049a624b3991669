"""The store (spec: "Embedding"): where the host meets the components.

A :class:`Store` holds the scheduler shared by every component instance that
can interact. The host

* makes instances (:meth:`Store.new_instance`),
* turns core functions into component functions (:meth:`Store.lift`) and
  component functions into core functions (:meth:`Store.lower`),
* starts calls (:meth:`Store.invoke`) and lets concurrent work progress
  (:meth:`Store.tick`, :meth:`Store.run_until`), or does both at once with
  :meth:`Store.call`, which also detects deadlock.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from .. import trace
from ..errors import Trap
from ..limits import DEFAULT, Limits, Timeout, exhausted
from ..scheduler import Scheduler
from .calls import CoreFunc, FuncInst, Lowering, OnCancel
from .component_instance import ComponentInstance
from .extensions.features import parse_features
from .host_functions import host_function
from .options import CanonicalOptions
from .strategy import STACKFUL, Strategy
from .task_tree import annotate, render_dot, render_text
from .tasks import OnResolve, OnStart
from .threads import Thread, current_thread_or_none
from .types import FuncType


class CallResult:
    """What the host learns about one call it started with :meth:`Store.invoke`."""

    def __init__(self) -> None:
        self.started = False
        self.resolved = False
        self.value: list[Any] | None = None
        self.on_cancel: OnCancel | None = None
        self.cancel_requested = False

    @property
    def cancelled(self) -> bool:
        return self.resolved and self.value is None

    def cancel(self) -> None:
        """Ask the callee to stop (cooperatively), at most once; see ``subtask.cancel``."""
        if self.cancel_requested:
            raise RuntimeError("cancel() was already called for this call")
        self.cancel_requested = True
        if not self.resolved and self.on_cancel is not None:
            self.on_cancel(None)


def all_resolved(calls: list[CallResult]) -> Callable[[], bool]:
    """A ``done`` test for :meth:`Store.run_until` over many calls, O(1) per tick amortised.

    ``all(c.resolved for c in calls)`` asks every call on every tick; this
    remembers how far the calls (in order) have resolved.
    """
    position = 0

    def done() -> bool:
        nonlocal position
        while position < len(calls) and calls[position].resolved:
            position += 1
        return position == len(calls)

    return done


LIVE_STORES: weakref.WeakSet[Store] = weakref.WeakSet()
"""Every store not yet garbage: what ``--tree`` and Ctrl-C print the task tree of."""


class Store:
    """All component instances that can call each other, plus their scheduler."""

    def __init__(self, policy: str = "fifo", strategy: Strategy = STACKFUL,
                 limits: Limits | None = None,
                 features: Iterable[str] | str | None = None) -> None:
        """``policy`` picks the next ready thread (see :mod:`stackswitch.scheduler`);
        ``strategy`` says how tasks run their code (see :mod:`.strategy`);
        ``limits`` bounds what guests may take (:mod:`stackswitch.limits`);
        ``features`` enables extensions beyond the spec (``docs/extensions.md``)."""
        self.scheduler = Scheduler(policy)
        self.strategy = strategy
        self.limits = DEFAULT if limits is None else limits
        self.live_threads = 0
        """Threads made and not yet ended or abandoned (``Limits.threads`` bounds it)."""
        self.features = parse_features(features)
        self.instances: list[ComponentInstance] = []
        self._counter = itertools.count(1)
        LIVE_STORES.add(self)

    def new_instance(self, name: str = "", parent: ComponentInstance | None = None) -> ComponentInstance:
        inst = ComponentInstance(self, name or f"instance{len(self.instances) + 1}", parent)
        inst.handles.limit = self.limits.handles
        self.instances.append(inst)
        return inst

    # -- lift / lower ---------------------------------------------------------

    def lift(self, callee: CoreFunc, ft: FuncType, opts: CanonicalOptions,
             inst: ComponentInstance, name: str = "", refuse_nested: bool = False) -> FuncInst:
        """``canon lift``: a component function that runs ``callee`` in ``inst``.

        ``refuse_nested``: a call from ``inst`` itself, an ancestor or a
        descendant traps (see :meth:`ComponentInstance.enter_checked`)."""
        label = name or getattr(callee, "__name__", "func")
        lift = self.strategy.lift

        def func_inst(on_start: OnStart, on_resolve: OnResolve, caller: Any) -> OnCancel:
            entering = inst.enter_checked(caller.inst if caller is not None else None,
                                          refuse_nested)
            try:
                task_name = f"{inst.name}.{label}#{next(self._counter)}"
                return lift(callee, ft, opts, inst, on_start, on_resolve, caller, task_name)
            finally:
                for i in entering:  # leave what enter_checked entered
                    assert not i.may_enter
                    i.may_enter = True

        func_inst.__name__ = label
        func_inst.instance = inst  # type: ignore[attr-defined]  # see calls.callee_may_be_kept_out
        return func_inst

    def lower(self, callee: FuncInst, ft: FuncType, opts: CanonicalOptions,
              name: str = "") -> CoreFunc:
        """``canon lower``: a core function calling ``callee`` from the current thread."""
        label = name or getattr(callee, "__name__", "import")
        lowering = Lowering(callee, ft, opts, name=label)

        def core_func(flat_args: list[Any]) -> list[Any]:
            return lowering.call(*flat_args)

        core_func.__name__ = label
        return core_func

    def host_function(self, fn: Callable[..., Any], ft: FuncType, name: str = "") -> FuncInst:
        """A component function implemented by plain (possibly blocking) Python."""
        return host_function(self, fn, name, results=len(ft.result_types()),
                             may_block=ft.async_)

    # -- driving calls ----------------------------------------------------------

    def invoke(self, f: FuncInst, args: list[Any]) -> CallResult:
        """Start a call from the host; returns at once if the callee blocks."""
        _check_host_stack("Store.invoke")
        result = CallResult()

        def on_start() -> list[Any]:
            result.started = True
            return list(args)

        def on_resolve(value: list[Any] | None) -> None:
            result.resolved = True
            result.value = value

        trace.emit("host.invoke", func=getattr(f, "__name__", "func"), args=args)
        try:
            result.on_cancel = f(on_start, on_resolve, None)
        except Trap as e:
            self.annotate(e)
            raise
        return result

    def tick(self) -> bool:
        """Let one ready thread make one quantum of progress; False if none was ready."""
        _check_host_stack("Store.tick")
        try:
            return self.scheduler.tick()
        except Trap as e:
            self.annotate(e)
            raise

    def run_until(self, done: Callable[[], bool]) -> None:
        """Run ready threads until ``done()``; raises Deadlock if progress stops first."""
        _check_host_stack("Store.run_until")
        try:
            self.scheduler.run_until(done)
        except Trap as e:
            self.annotate(e)
            raise

    def run(self) -> int:
        """Run until no thread is ready; returns the number of quanta run."""
        _check_host_stack("Store.run")
        return self.scheduler.run_all()

    # -- observing ---------------------------------------------------------------

    def task_tree(self) -> str:
        """A text dump of the live task tree: instances, tasks by caller, their threads and
        what each waits on, the handle tables (see :mod:`.task_tree`)."""
        return render_text(self)

    def annotate(self, error: BaseException, thread: Thread | None = None) -> None:
        """Attach to ``error``, once, the chain of tasks down to ``thread`` (default: the
        thread the error came from, if known) and the task tree as they are now
        (:func:`.task_tree.annotate`)."""
        annotate(error, thread if thread is not None else getattr(error, "thread", None), self)

    def task_tree_dot(self) -> str:
        """The same tree as a Graphviz DOT graph."""
        return render_dot(self)

    def call(self, f: FuncInst, args: list[Any]) -> list[Any] | None:
        """Invoke ``f`` and run the event loop until it resolves; its result (None if cancelled).

        After a trap, the threads of the instances it poisoned are abandoned
        (:meth:`release_poisoned`): they can never run again. The host running
        out of memory or of Python stack while the guest runs is a trap too
        (:func:`~stackswitch.limits.exhausted`), not a crash.
        """
        try:
            result = self.invoke(f, args)
            self.run_until(lambda: result.resolved)
        except Timeout:
            raise  # raised by a signal handler, anywhere: the state may be half updated
        except Trap:
            self.release_poisoned()
            raise
        except (MemoryError, RecursionError) as e:
            self.release_poisoned()
            raise Trap(exhausted(e)) from e
        return result.value

    # -- releasing what guests hold ----------------------------------------------

    def _abandon(self, threads: list[Thread]) -> None:
        for thread in threads:
            thread.abandon()

    def _unfinished_threads(self, poisoned_only: bool) -> list[Thread]:
        """Every thread that waits or is suspended (of a poisoned instance, if asked)."""
        found: dict[Thread, None] = {}
        for inst in self.instances:
            if poisoned_only and not inst.poisoned:
                continue
            for thread in inst.threads:
                found[thread] = None
        for thread in self.scheduler.waiting:
            inst = thread.task.inst  # type: ignore[attr-defined]
            if not poisoned_only or (inst is not None and inst.poisoned):
                found[thread] = None  # type: ignore[index]
        return [t for t in found if not t.running() and not t.finished()]

    def release_poisoned(self) -> None:
        """Abandon every thread of a trapped instance tree (they never run again), which
        gives back their stacks and the wasm fibers they are suspended in."""
        _check_host_stack("Store.release_poisoned")
        self._abandon(self._unfinished_threads(poisoned_only=True))

    def close(self) -> None:
        """Abandon every thread that has not finished, whatever its instance: the host is
        done with this store. Afterwards every instance is poisoned (none may be entered)."""
        _check_host_stack("Store.close")
        for inst in self.instances:
            inst.poison()
        self._abandon(self._unfinished_threads(poisoned_only=False))


def _check_host_stack(what: str) -> None:
    """The event loop is driven from the host's own stack, never from a task's."""
    if current_thread_or_none() is not None:
        raise RuntimeError(f"{what} is for the host's stack; a running task must block "
                           "with a built-in (or stackswitch.wait_until) instead")
