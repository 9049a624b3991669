"""Core functions as the linker sees them: wasm's own, or implemented in Python.

A core function in a component's index space is either a function exported
by a core wasm instance (a ``wasmtime.Func``) or a :class:`HostCoreFunc`: a
``canon lower`` or canonical built-in, written in Python, that core wasm
imports. The Canonical ABI code calls core functions with the spec's
convention, a list of core values in and a list out; :func:`callable_of`
makes either kind callable that way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import wasmtime

from ..canon.callback_driver import FiberCall
from ..canon.calls import CoreFunc, as_core_results
from ..wasm import fibers
from ..wasm.core_values import type_name

_WASM_TYPES = {
    "i32": wasmtime.ValType.i32,
    "i64": wasmtime.ValType.i64,
    "f32": wasmtime.ValType.f32,
    "f64": wasmtime.ValType.f64,
}


@dataclass(eq=False)
class HostCoreFunc:
    """A core function implemented in Python: ``handler(*args)`` returns the results.

    ``may_block`` says whether the handler may switch stacks (block, resume
    another task, call into another component); such handlers run on the
    task's greenlet between polls of the wasm fiber, the others on the fiber.
    ``may_suspend`` says whether it may suspend the *calling* thread (wait,
    yield, a sync call): the strategy gets to wrap those
    (:meth:`stackswitch.canon.strategy.Strategy.wrap_builtin`).
    ``on_fiber``, for a ``may_block`` one, is its fast path tried on the fiber
    first (see :func:`stackswitch.wasm.fibers.define_import`); it must itself
    decline (``WOULD_BLOCK``) for any thread it does not know to be a plain
    one (a strategy may put a fast path of its own in front of it:
    :meth:`~stackswitch.canon.strategy.Strategy.wrap_on_fiber`).
    ``suspends_only_if``, for a ``may_suspend`` one that suspends its caller in
    some calls only, is ``suspends_only_if(thread, *args)``: it holds whenever
    this call may suspend ``thread`` (it only reads; a strategy may skip what
    suspending needs when it does not hold, so it must never be wrong then).
    ``will_block``, for a ``may_suspend`` one, is ``will_block(thread, *args)``:
    does this call by ``thread`` block? It only reads; a strategy may act on
    it before the handler runs (the callback strategy unwinds early before a
    ``waitable-set.wait`` that blocks), so a wrong answer may cost time only.
    """

    name: str
    params: tuple[str, ...]
    results: tuple[str, ...]
    handler: Callable[..., Any]
    may_block: bool
    may_suspend: bool = False
    on_fiber: Callable[..., Any] | None = None
    suspends_only_if: Callable[..., bool] | None = None
    will_block: Callable[..., bool] | None = None

    def functype(self) -> wasmtime.FuncType:
        return wasm_functype(self.params, self.results)


def wasm_functype(params: Sequence[str], results: Sequence[str]) -> wasmtime.FuncType:
    return wasmtime.FuncType([_WASM_TYPES[p]() for p in params], [_WASM_TYPES[r]() for r in results])


def callable_of(item: Any, store: wasmtime.Store, name: str = "") -> CoreFunc:
    """``item`` (a ``wasmtime.Func`` or a :class:`HostCoreFunc`) as ``f(args) -> results``."""
    if isinstance(item, HostCoreFunc):
        handler = item.handler
        return lambda args: as_core_results(handler(*args))
    if isinstance(item, wasmtime.Func):
        # a partial, not a lambda: one Python frame fewer per core call
        return FiberCall(fibers.WasmFunc(store, item, name))
    raise TypeError(f"not a core function: {item!r}")


def core_signature(item: Any, store: wasmtime.Store) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """``(params, results)`` of a core function, as core type names."""
    if isinstance(item, HostCoreFunc):
        return item.params, item.results
    ft = item.type(store)
    return tuple(map(type_name, ft.params)), tuple(map(type_name, ft.results))
