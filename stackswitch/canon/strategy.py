"""Strategies: how the task of a lifted function runs its code, chosen by name.

The spec describes one semantics and leaves the machinery to the embedder.
A :class:`Strategy` is that machinery, chosen per :class:`~.store.Store`:

* ``stackful`` (this module, the default): every stackful-lifted (and
  sync-lifted) task's implicit thread is a stack of its own (a greenlet, its
  wasm on a wasmtime fiber). A callback-lifted wasm export needs no stack: it
  runs as a record the event loop calls back into
  (:class:`~.callback_driver.CallbackDriver`), its wasm parked on its fiber
  if a callback blocks in a built-in. A callback-lifted *Python* core
  function cannot park, so it runs the spec's "as if" desugaring on a stack
  of its own (:func:`~.calls.canon_lift`): loop, wait for the event, call
  the callback, until EXIT.
* others plug in by name (:func:`register`, or the ``stackswitch.strategies``
  entry point group, which is how the ``callback`` strategy of the
  :mod:`callback_abi` package arrives): no module of ``stackswitch``
  imports them.

Everything observable (results, traps, event order) is the same under every
strategy; only the costs differ. A strategy is asked at these points, and
only these:

* :meth:`Strategy.lift`: a lifted function is called (run it as a task);
* :meth:`Strategy.wrap_builtin` (and :meth:`Strategy.wrap_on_fiber`, its
  fast path): a built-in that may suspend its caller is linked as a core import;
* :meth:`Strategy.linking`: a component is instantiated; the
  :class:`Linking` it returns sees each core module before it is compiled
  (prepare-module), each core instance before and after it is made
  (prepare-instance), and the core function of each lift (wrap-lift).

The hooks see wasmtime objects as opaque values: this layer knows nothing of
wasmtime or of the component binary format.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

from .callback_driver import CallbackDriver, FiberCall
from .calls import CoreFunc, OnCancel, canon_lift, run_task
from .stackless_threads import suspendable
from .tasks import Task

if TYPE_CHECKING:
    from .component_instance import ComponentInstance
    from .options import CanonicalOptions
    from .tasks import OnResolve, OnStart
    from .types import FuncType

ENTRY_POINTS = "stackswitch.strategies"
"""The entry point group a package names its strategies in (``name = "module:OBJECT"``)."""


class Linking:
    """A strategy's hooks while one component instance is linked; these change nothing.

    One is made per component instance being instantiated (nested ones get
    their own), so it may keep state about that instance's core modules.
    """

    def start(self, component: Any) -> None:
        """Called once with the decoded component (``component.ast.Component``) before
        any of its definitions are linked."""

    def prepare_module(self, index: int, data: bytes, compile: Callable[[bytes], Any]) -> Any:
        """The compiled core module for the component's core module ``index`` whose bytes
        are ``data``; ``compile`` compiles (and caches) bytes. May raise ``LinkError``."""
        return compile(data)

    def extra_imports(self, module: Any, wasm_store: Any) -> dict[tuple[str, str], Any]:
        """Imports the strategy itself supplies to an instance of ``module`` (by module and
        field name), beside those the component gives."""
        return {}

    def instantiated(self, module: Any, wasm_store: Any, instance: Any, exports: Mapping[str, Any],
                     memories: list[Any]) -> None:
        """An instance of ``module`` was made: its ``exports`` by name and the memories it
        imported."""

    def lifted(self, callee: CoreFunc, core: Any, opts: CanonicalOptions) -> CoreFunc:
        """The core function to call for a ``canon lift`` of the core function ``core``
        (``callee`` calls it)."""
        return callee


class Strategy:
    """The stackful strategy; subclasses override what they run differently."""

    name = "stackful"

    def lift(self, callee: Callable[[list[Any]], list[Any]], ft: FuncType, opts: CanonicalOptions,
             inst: ComponentInstance, on_start: OnStart, on_resolve: OnResolve,
             caller: Task | None, name: str) -> OnCancel:
        """Run one call of a lifted core function (``canon lift``) as a new task.

        A callback-lifted wasm function runs stackless (see module docs),
        anything else on a stack of its own."""
        # Stackless when it can park (see callback_driver's module docs): a callback lift
        # whose core function and callback are both wasm, FiberCall (opts.callback is None
        # for any other lift, and None is no FiberCall)
        if opts.async_ and type(callee) is FiberCall and type(opts.callback) is FiberCall:
            task = Task(ft, opts, inst, on_start, on_resolve, name=name, caller=caller)
            return run_task(task, CallbackDriver(task, callee).thread)
        return canon_lift(callee, ft, opts, inst, on_start, on_resolve, caller=caller, name=name)

    def wrap_builtin(self, handler: Callable[..., Any], what: str, results: int,
                     suspends_only_if: Callable[..., bool] | None = None) -> Callable[..., Any]:
        """The handler to link for a built-in (or lowered import) that may suspend its caller.

        ``results`` is how many core results it returns; ``suspends_only_if``
        (or ``None``), its test ``suspends_only_if(thread, *args)`` for the calls
        that may suspend (``HostCoreFunc.suspends_only_if``). Linked through
        :func:`~.stackless_threads.suspendable`, so that a stackless thread
        may call it too, and be suspended by it as a thread with a stack would."""
        return suspendable(handler, results, suspends_only_if)

    def wrap_on_fiber(self, on_fiber: Callable[..., Any] | None, handler: Callable[..., Any],
                      what: str, results: int, will_block: Callable[..., bool] | None = None
                      ) -> Callable[..., Any] | None:
        """The fast path tried on the fiber to link for such a built-in when it is ``may_block``
        and :meth:`wrap_builtin` wrapped it (see :func:`stackswitch.wasm.fibers.define_import`),
        given its own (or ``None``),
        its unwrapped ``handler`` and its test ``will_block(thread, *args)`` (or ``None``,
        see ``HostCoreFunc.will_block``): ``on_fiber`` itself, or ``None``."""
        return on_fiber

    def linking(self, name: str, cache: Any = None) -> Linking:
        """The hooks for linking the component instance called ``name``. ``cache`` is where
        a strategy may keep what it derives from module bytes across processes (a
        ``wasm.disk_cache.DiskCache``), or ``None`` for nowhere."""
        return Linking()

    def __repr__(self) -> str:
        return f"<strategy {self.name}>"


STACKFUL = Strategy()

_registry: dict[str, Strategy] = {STACKFUL.name: STACKFUL}


def register(strategy: Strategy) -> None:
    """Make ``strategy`` available by its name (replacing one of the same name)."""
    _registry[strategy.name] = strategy


def names() -> list[str]:
    """The names of the strategies available: registered, or named by an entry point."""
    found = dict.fromkeys(_registry)
    found.update(dict.fromkeys(ep.name for ep in metadata.entry_points(group=ENTRY_POINTS)))
    return list(found)


def named(name: str | Strategy) -> Strategy:
    """The strategy called ``name``; a Strategy passes through. Raises ValueError if none is."""
    if isinstance(name, Strategy):
        return name
    strategy = _registry.get(name)
    if strategy is None:
        for ep in metadata.entry_points(group=ENTRY_POINTS, name=name):
            loaded = ep.load()
            if not isinstance(loaded, Strategy):
                raise TypeError(f"entry point {ep.value!r} ({ENTRY_POINTS}) is not a Strategy")
            register(loaded)
            strategy = _registry.get(name, loaded)
            break
    if strategy is None:
        raise ValueError(f"unknown strategy {name!r} (use {' or '.join(map(repr, names()))})")
    return strategy
