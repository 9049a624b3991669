"""The callback strategy, and choosing a strategy by name.

``callback`` runs async-lifted tasks without a stack of their own:

* a callback-lifted task is a
  :class:`~stackswitch.canon.callback_driver.CallbackDriver` record (no
  greenlet, no fiber held between events), as under ``stackful``, and here
  also when its core function is Python (which then may not block);
* a stackful-lifted task is an :class:`~callback_abi.unwinding.AsyncifyDriver`
  record: its module was asyncified when compiled (:meth:`AsyncifyLinking.prepare_module`),
  and its wasm unwinds into its own linear memory whenever it blocks;
* built-ins that may suspend their caller are linked through
  :func:`~stackswitch.canon.stackless_threads.suspendable`, as under
  ``stackful``, with a fast path on the fiber that replays a rewind's
  built-in and unwinds early (:func:`~callback_abi.replay.replayable`).

Sync-lifted functions, and explicit threads (``thread.new-indirect``), run
as under ``stackful``.

The strategy registers itself under the name ``callback`` through the
``stackswitch.strategies`` entry point (``pyproject.toml``); the linker knows
it only through :class:`~stackswitch.canon.strategy.Linking`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import wasmtime

from stackswitch.canon.callback_driver import CallbackDriver
from stackswitch.canon.calls import CoreFunc, OnCancel, run_task
from stackswitch.canon.strategy import Linking, Strategy
from stackswitch.canon.tasks import Task
from stackswitch.component import ast
from stackswitch.errors import LinkError
from stackswitch.wasm import fibers
from stackswitch.wasm.disk_cache import DiskCache

from .asyncify import (
    DATA_GLOBAL,
    STATE_GLOBAL,
    Asyncify,
    AsyncifyError,
    asyncify,
    needs_memory,
    with_memory,
)
from .replay import replayable
from .unwinding import AsyncifyDriver, Unwindable

if TYPE_CHECKING:
    from stackswitch.canon.component_instance import ComponentInstance
    from stackswitch.canon.options import CanonicalOptions
    from stackswitch.canon.tasks import OnResolve, OnStart
    from stackswitch.canon.types import FuncType


class CallbackStrategy(Strategy):
    """No stack per task where the ABI allows it; see module docs."""

    name = "callback"

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

    def wrap_builtin(self, handler: Callable[..., Any], what: str, results: int,
                     suspends_only_if: Callable[..., bool] | None = None) -> Callable[..., Any]:
        """As under ``stackful``, except for a built-in that suspends its caller only in some
        calls (``suspends_only_if``: an async ``canon lower``, which lets a callee kept out by
        its instance's lock start first, see ``canon.calls._let_callee_start``): here a
        stackless caller does not wait there (its call reports STARTING), so it is linked
        as it is (docs/conformance.md: the one wasmtime test this strategy fails more)."""
        if suspends_only_if is not None:
            return handler
        return super().wrap_builtin(handler, what, results)

    def wrap_on_fiber(self, on_fiber: Callable[..., Any] | None, handler: Callable[..., Any],
                      what: str, results: int, will_block: Callable[..., bool] | None = None
                      ) -> Callable[..., Any] | None:
        return replayable(on_fiber, handler, results, will_block)

    def linking(self, name: str, cache: DiskCache | None = None) -> Linking:
        return AsyncifyLinking(name, cache)


CALLBACK = CallbackStrategy()


class AsyncifyLinking(Linking):
    """Asyncify each core module that defines a stackful-lifted function, and wrap its lifts.

    Before compiling, a module defining a function the component lifts
    stackful (``async`` without ``callback``) is transformed with
    ``wasm-opt --asyncify`` in relocatable mode: it then imports asyncify's
    state and buffer pointer as globals (:meth:`extra_imports`) that the
    unwind controls of each instance set from the host (:meth:`instantiated`).
    Each such lift's core function becomes an :class:`Unwindable` carrying
    those controls, which :meth:`CallbackStrategy.lift` runs as an
    :class:`AsyncifyDriver`.
    """

    def __init__(self, name: str, cache: DiskCache | None = None) -> None:
        self.name = name
        self.cache = cache
        """Where asyncified modules are kept across processes (or ``None``)."""
        self._stackful: dict[int, list[str]] = {}
        """Core module index -> the names of the stackful-lifted functions it defines."""
        self._unwinding: dict[int, str] = {}
        """id(compiled module) -> what it is, for messages."""
        self._globals: dict[int, tuple[wasmtime.Global, wasmtime.Global]] = {}
        """id(compiled module) -> the (state, data) globals of its instance being made."""
        self._controls: dict[int, Asyncify] = {}
        """id(core function exported by an asyncified instance) -> its instance's controls."""

    def start(self, component: Any) -> None:
        self._stackful = _stackful_lift_modules(component)

    def prepare_module(self, index: int, data: bytes, compile: Callable[[bytes], Any]) -> Any:
        lifted = self._stackful.get(index)
        if lifted is None:
            return compile(data)
        what = (f"{self.name}: core module {index} (it defines the stackful-lifted "
                f"{', '.join(f'`{n}`' for n in lifted)})")
        # Any import may block: with wit-component's shims the blocking built-ins
        # are reached through another instance's exports, not imported directly.
        try:
            if needs_memory(data):
                data = with_memory(data)  # somewhere to keep the unwound stacks
            data = asyncify(data, what=what, relocatable=True, cache=self.cache)
        except AsyncifyError as e:
            message = str(e) if what in str(e) else f"cannot asyncify {what}: {e}"
            raise LinkError(f"{message}; run it under --strategy stackful instead") from None
        module = compile(data)
        self._unwinding[id(module)] = what
        return module

    def extra_imports(self, module: Any, wasm_store: Any) -> dict[tuple[str, str], Any]:
        if id(module) not in self._unwinding:
            return {}
        i32 = wasmtime.GlobalType(wasmtime.ValType.i32(), True)
        state, data = (wasmtime.Global(wasm_store, i32, wasmtime.Val.i32(0)) for _ in range(2))
        self._globals[id(module)] = (state, data)
        return {STATE_GLOBAL: state, DATA_GLOBAL: data}

    def instantiated(self, module: Any, wasm_store: Any, instance: Any, exports: Mapping[str, Any],
                     memories: list[Any]) -> None:
        what = self._unwinding.get(id(module))
        if what is None:
            return
        control = _unwind_controls(wasm_store, instance, exports, memories,
                                   self._globals.pop(id(module)), what)
        self._controls.update((id(f), control) for f in exports.values())

    def lifted(self, callee: CoreFunc, core: Any, opts: CanonicalOptions) -> CoreFunc:
        control = self._controls.get(id(core))
        if control is not None and opts.async_ and opts.callback is None:
            return Unwindable(callee, control)
        return callee


def _stackful_lift_modules(component: ast.Component) -> dict[int, list[str]]:
    """The core modules (by index) defining a function this component lifts stackful.

    A light walk over the definitions that tracks only where each core
    function comes from (which core instance, so which module), enough to
    know before compiling a module whether the callback strategy must
    asyncify it. Functions reached any other way (imports, outer aliases)
    are not followed.
    """
    instances: list[int | None] = []
    funcs: list[tuple[int, str] | None] = []
    found: dict[int, list[str]] = {}
    for d in component.definitions:
        match d:
            case ast.CoreInstantiate():
                instances.append(d.module)
            case ast.CoreInlineExports():
                instances.append(None)
            case ast.AliasCoreExport(sort=ast.CoreSort.FUNC):
                funcs.append((d.instance, d.name))
            case ast.CanonLower() | ast.CanonBuiltin():
                funcs.append(None)
            case ast.CanonLift() if d.options.is_async and d.options.callback is None:
                source = funcs[d.core_func] if d.core_func < len(funcs) else None
                if source is not None and source[0] < len(instances):
                    module = instances[source[0]]
                    if module is not None:
                        found.setdefault(module, []).append(source[1])
    return found


def _unwind_controls(store: wasmtime.Store, instance: wasmtime.Instance, exports: Mapping[str, Any],
                     imported: list[Any], unwind_globals: tuple[Any, Any], what: str) -> Asyncify:
    """The unwind controls of an asyncified instance; buffers come from its own allocator.

    Growing the memory from outside is not safe for an allocator that owns
    everything up to ``memory.size`` (a bump allocator, as in our C
    examples), so when the module exports ``cabi_realloc`` the buffers are
    allocated through it (once each; they are reused, never freed).
    """
    allocate = None
    realloc = exports.get("cabi_realloc")
    if isinstance(realloc, wasmtime.Func):
        wasm_realloc = fibers.WasmFunc(store, realloc, "cabi_realloc")

        def allocate(n: int) -> int:
            return int(fibers.call(wasm_realloc, (0, 0, 16, n))[0])

    memories = [m for m in exports.values() if isinstance(m, wasmtime.Memory)] + imported
    if not memories:
        raise LinkError(f"cannot asyncify {what}: it has no memory for the unwind buffers")
    memory = memories[0]
    return Asyncify(store, instance, what=what, memory=memory, allocate=allocate,
                    globals_=unwind_globals)
