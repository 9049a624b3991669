"""The callback strategy, and choosing a strategy by name.

``callback`` runs async-lifted tasks without a stack of their own:

* a callback-lifted task is a :class:`~callback_abi.driver.CallbackDriver`
  record (no greenlet, no fiber held between events);
* a stackful-lifted task is an :class:`~callback_abi.unwinding.AsyncifyDriver`
  record: its module was asyncified when compiled (:meth:`prepare_module`),
  and its wasm unwinds into its own linear memory whenever it blocks;
* built-ins that may suspend their caller are linked through
  :func:`~callback_abi.stackless.suspendable`, so that a stackless task can
  still call them.

Sync-lifted functions, and explicit threads (``thread.new-indirect``), run
as under ``stackful``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from stackswitch.canon.calls import OnCancel, run_task
from stackswitch.canon.strategy import STACKFUL, Strategy
from stackswitch.canon.tasks import Task

from .asyncify import asyncify, needs_memory, with_memory
from .driver import CallbackDriver
from .stackless import suspendable
from .unwinding import AsyncifyDriver, Unwindable

if TYPE_CHECKING:
    from stackswitch.canon.component_instance import ComponentInstance
    from stackswitch.canon.options import CanonicalOptions
    from stackswitch.canon.tasks import OnResolve, OnStart
    from stackswitch.canon.types import FuncType


class CallbackStrategy(Strategy):
    """No stack per task where the ABI allows it; see module docs."""

    name = "callback"
    unwinds_stackful = True

    def lift(self, callee: Callable[[list[Any]], list[Any]], ft: FuncType, opts: CanonicalOptions,
             inst: ComponentInstance, on_start: OnStart, on_resolve: OnResolve,
             caller: Task | None, name: str) -> OnCancel:
        if not opts.async_:
            return super().lift(callee, ft, opts, inst, on_start, on_resolve, caller, name)
        task = Task(ft, opts, inst, on_start, on_resolve, name=name, caller=caller)
        if opts.callback is not None:
            return run_task(task, CallbackDriver(task, callee).thread)
        if isinstance(callee, Unwindable):
            return run_task(task, AsyncifyDriver(task, callee).thread)
        # A stackful lift the linker could not prepare (a Python core function).
        return super().lift(callee, ft, opts, inst, on_start, on_resolve, caller, name)

    def prepare_module(self, data: bytes, what: str) -> bytes:
        # Any import may block: with wit-component's shims the blocking built-ins
        # are reached through another instance's exports, not imported directly.
        if needs_memory(data):
            data = with_memory(data)  # somewhere to keep the unwound stacks
        return asyncify(data, what=what, relocatable=True)

    def wrap_builtin(self, handler: Callable[..., Any], what: str, results: int) -> Callable[..., Any]:
        return suspendable(handler, results)


CALLBACK = CallbackStrategy()

STRATEGIES: dict[str, Strategy] = {"stackful": STACKFUL, "callback": CALLBACK}


def named(name: str | Strategy) -> Strategy:
    """The strategy called ``name`` (``stackful`` or ``callback``); a Strategy passes through."""
    if isinstance(name, Strategy):
        return name
    strategy = STRATEGIES.get(name)
    if strategy is None:
        raise ValueError(f"unknown strategy {name!r} (use {' or '.join(map(repr, STRATEGIES))})")
    return strategy
