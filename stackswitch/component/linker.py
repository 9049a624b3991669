"""Linking components: :class:`Linker`, the host's entry point.

A :class:`Linker` instantiates decoded components into one canon
:class:`~stackswitch.canon.store.Store` (so that everything it links can
call everything else and shares one scheduler). Each top-level instantiation
gets a wasmtime store of its own for its core modules; nested component
instances share their parent's. The walk over a component's definitions is
:mod:`.instantiation`'s.

Compiled core modules come from :mod:`~stackswitch.wasm.module_cache`:
Linkers without an engine of their own share the process's engine and so
its compiled modules, and by default compiled modules are also kept on disk
(``cache``), so the next process starts a big guest without compiling it.
"""

from __future__ import annotations

import os
import warnings
import weakref
from collections.abc import Iterable
from typing import Any

import wasmtime

from ..canon import strategy as strategies
from ..canon.extensions.features import parse_features
from ..canon.store import Store
from ..canon.strategy import Strategy
from ..canon.types import FuncType
from ..errors import LinkError
from ..limits import Limits
from ..wasm import fibers, interrupts, module_cache
from ..wasm.disk_cache import DiskCache, default_cache
from ..wasm.wasmtime_memory import WasmMemory
from . import ast, seed_streams
from .component import Component
from .decoder import decode_component
from .func import Func, host_func
from .instance import Instance
from .instantiation import Instantiation

# -- the linker ------------------------------------------------------------------------------


class Linker:
    """Instantiates components against host-defined imports, into one canon store.

    Close it (:meth:`close`, or ``with Linker() as linker:``) when done: that
    abandons the tasks still suspended and gives back their stacks and fiber
    stacks. Dropping it does not. Its instances may outlive it (``guest =
    Linker().instantiate(c)`` frees the Linker at once), so its store may still
    be in use; and a suspended task's stack refers to its store, which Python
    can never collect (greenlet does not collect a suspended greenlet's frames).
    So a Linker that made its own store and is freed while tasks are still
    suspended there warns (:class:`ResourceWarning`, like an unclosed file,
    shown with ``python -X dev`` or under pytest) and changes nothing.
    """

    def __init__(self, store: Store | None = None, engine: wasmtime.Engine | None = None, *,
                 fuel: int | None = None, interruptible: bool = False,
                 strategy: str | Strategy | None = None, limits: Limits | None = None,
                 features: Iterable[str] | str | None = None,
                 cache: bool | str | os.PathLike[str] | DiskCache = True) -> None:
        """``fuel`` bounds the wasm instructions each instantiation may run;
        ``interruptible`` lets :meth:`interrupt` stop running wasm (a timeout);
        ``strategy`` (``"stackful"``, the default, or ``"callback"``) says how
        tasks run (``docs/strategies.md``); ``limits`` bounds what guests may
        take (``docs/limits.md``; its ``fiber_stacks`` is process-wide and is
        set for the whole process); ``features`` enables extensions beyond the
        spec (``docs/extensions.md``); a given ``store`` brings its own
        strategy, limits and features.
        ``cache`` says where compiled (and asyncified) core modules are kept
        across processes: ``True`` (the default) in ``$STACKSWITCH_CACHE_DIR``,
        else ``$XDG_CACHE_HOME/stackswitch`` or ``~/.cache/stackswitch``
        (nowhere if ``$STACKSWITCH_NO_CACHE`` is set); a directory; or
        ``False`` for nowhere (they are still shared within the process)."""
        if store is None:
            store = Store(strategy=strategies.named(strategy or "stackful"), limits=limits,
                          features=features)
            unclosed = weakref.finalize(self, _warn_if_tasks_remain, store)
            unclosed.atexit = False  # (at exit every task goes anyway)
        elif strategy is not None and strategies.named(strategy) is not store.strategy:
            raise ValueError(f"strategy {strategy!r} differs from the store's "
                             f"({store.strategy.name}): give one or the other")
        elif limits is not None and limits != store.limits:
            raise ValueError("limits differ from the store's: give one or the other")
        elif features is not None and parse_features(features) != store.features:
            raise ValueError("features differ from the store's: give one or the other")
        if limits is not None:
            fibers.set_max_fiber_stacks(limits.fiber_stacks)
        self.store = store
        self.fuel = fuel
        self.interruptible = interruptible
        if engine is None and interruptible:
            config = wasmtime.Config()
            config.consume_fuel = fuel is not None
            config.epoch_interruption = True
            engine = fibers.make_engine(config=config)  # interrupt() must reach only ours
        elif engine is None:
            engine = module_cache.shared_engine(consume_fuel=fuel is not None)
        self.engine = engine
        if interruptible:
            interrupts.watch(engine)
        self.cache = disk_cache(cache)
        """Where compiled and transformed modules are kept across processes, if anywhere."""
        self.definitions: dict[str, Any] = {}
        if store.features:
            self.definitions[seed_streams.NAME] = seed_streams.instance()
        self.wasi: Any = None
        """The :class:`~stackswitch.wasi.WasiHost` :meth:`add_wasi` made, if any."""
        self._modules: dict[bytes, wasmtime.Module] = {}
        self._memories: dict[bytes, WasmMemory] = {}
        self.module_sizes: list[int] = []
        """The size in bytes of each core module compiled, in order, as compiled (asyncified,
        if the strategy transformed it); ``stackswitch compare`` reports them."""

    def define(self, name: str, item: Any) -> None:
        """Make ``item`` importable as ``name``.

        ``item`` is a Python callable (a function import, typed by the
        component; it takes and returns Python values, see :mod:`.pyvalues`),
        a mapping of export names to such callables (an instance import), a
        :class:`~.pyvalues.HostResource` (a resource type import), an
        :class:`Instance` or a :class:`Func`.
        """
        self.definitions[name] = item

    def define_func(self, name: str, fn: Any, ft: FuncType) -> Func:
        """Define a host function ``fn(*args)`` (plain, possibly blocking, Python) as ``name``.

        ``fn`` takes and returns Python values (:mod:`.pyvalues`) of the types ``ft`` gives.
        """
        func = host_func(name, fn, ft, self.store)
        self.define(name, func)
        return func

    def add_wasi(self, config: Any = None, **options: Any) -> Any:
        """Serve every ``wasi:*`` import (0.2.x and 0.3.x) that is not defined otherwise.

        ``config`` is a :class:`~stackswitch.wasi.WasiConfig`, or the options
        make one (:meth:`WasiConfig.build`: ``args``, ``dirs`` as ``HOST[::GUEST]``,
        ``env``, ``inherit_env``, ``allow_network``, ``stdin``, ``stdout``,
        ``stderr``). Returns the :class:`~stackswitch.wasi.WasiHost`. A guest's
        ``wasi:cli/exit`` raises :class:`~stackswitch.wasi.WasiExit` out of the call.
        """
        from ..wasi import WasiConfig, WasiHost
        if config is None:
            config = WasiConfig.build(**options)
        elif options:
            raise TypeError("give add_wasi a WasiConfig or options, not both")
        self.wasi = WasiHost(config, self.store)
        return self.wasi

    def instantiate(self, component: Component | bytes | ast.Component, name: str = "") -> Instance:
        """Instantiate ``component`` with the defined imports; may raise LinkError or Trap.

        ``component`` is a :class:`Component`, a component binary or an
        already decoded :class:`.ast.Component`; ``name`` labels the instance
        in traces and errors.
        """
        if isinstance(component, Component):
            component = component.decoded
        elif isinstance(component, str):
            raise TypeError("Linker.instantiate takes a Component or a binary, not a str: "
                            "use Component(text) or Component.from_file(path)")
        elif not isinstance(component, ast.Component):
            component = decode_component(bytes(component))
        wasm_store = self.component_store(None)
        label = name or f"component{len(self.store.instances) + 1}"
        definitions = self.definitions
        if self.wasi is not None:
            wanted = [i.name.name for i in component.imports if i.name.name not in definitions]
            definitions = {**self.wasi.definitions(wanted), **definitions}
        return Instantiation(self, wasm_store, label, None, None).run(component, definitions)

    def component_store(self, parent: wasmtime.Store | None) -> wasmtime.Store:
        """The wasmtime store for a new component instance whose parent's is ``parent``.

        Each component instance has a store of its own (components share no
        core state at run time: only core modules, which hold none, cross
        component boundaries), so that one whose imports are all plain is
        called with plain calls (:func:`stackswitch.wasm.fibers.call`). With
        ``fuel`` all share the parent's: fuel is a budget for the whole linker.
        """
        if parent is not None and self.fuel is not None:
            return parent
        wasm_store = wasmtime.Store(self.engine)
        wasm_store.set_limits(memory_size=self.store.limits.memory_bytes)
        if self.fuel is not None:
            wasm_store.set_fuel(self.fuel)
        if self.interruptible:
            wasm_store.set_epoch_deadline(1)
        return wasm_store

    def memory(self, wasm_store: wasmtime.Store, extern: wasmtime.Memory) -> WasmMemory:
        """One :class:`WasmMemory` per core memory, however many indices name it.

        ``task.return`` compares its ``memory`` option with the lift's by
        identity, as the spec compares memory *instances*.
        """
        key = bytes(extern._memory)  # the store id and index wasmtime identifies it by
        memory = self._memories.get(key)
        if memory is None:
            memory = self._memories[key] = WasmMemory(wasm_store, extern)
        return memory

    def close(self) -> None:
        """The host is done with everything this linker made: every task that has not
        finished is abandoned (its stack unwound, the wasm call it was suspended in
        ended, its fiber stack given back) and every instance poisoned. Dropping the
        linker and the instances afterwards frees their stores and linear memories.
        Call it from the host's stack, not from a task; ``with Linker() as linker:``
        calls it on leaving."""
        self.store.close()
        self._memories.clear()

    def __enter__(self) -> Linker:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *_: object) -> None:
        # A KeyboardInterrupt may have struck anywhere (between two updates of the
        # scheduler's state): the process is on its way out, so leave things be.
        if exc_type is None or issubclass(exc_type, Exception):
            self.close()

    def interrupt(self) -> None:
        """Make running wasm trap (``interrupt``): any thread may call this, e.g. a timer."""
        if not self.interruptible:
            raise RuntimeError("this Linker was not made interruptible")
        self.engine.increment_epoch()

    def module(self, data: bytes) -> wasmtime.Module:
        """A compiled core module, cached by its bytes (:mod:`~stackswitch.wasm.module_cache`)."""
        module = self._modules.get(data)
        if module is None:
            try:
                module = self._modules[data] = module_cache.compile_module(
                    self.engine, data, self.cache)
            except wasmtime.WasmtimeError as e:
                raise LinkError(f"invalid core module: {e}") from None
            self._compiled(data)
        return module

    def _compiled(self, data: bytes) -> None:
        """Note a core module this Linker uses for the first time, compiled now or found
        in a cache (:attr:`module_sizes`)."""
        self.module_sizes.append(len(data))


def _warn_if_tasks_remain(store: Store) -> None:
    """A Linker was freed: say so if its store still holds suspended tasks (see
    :class:`Linker`). Only a warning: it may run anywhere the garbage collector
    does (on a task's stack, on a wasmtime fiber), where nothing may be unwound."""
    if store.live_threads:
        warnings.warn(f"a Linker was dropped without close() while {store.live_threads} "
                      "of its tasks were still suspended: they keep their stacks until "
                      "its store is closed (linker.close(), or `with Linker() as linker:`)",
                      ResourceWarning, stacklevel=2)


def disk_cache(cache: bool | str | os.PathLike[str] | DiskCache | None) -> DiskCache | None:
    """The :class:`DiskCache` a ``cache`` option names (see :class:`Linker`)."""
    if isinstance(cache, DiskCache):
        return cache
    if cache is None or cache is False:
        return None
    if cache is True:
        return default_cache()
    if isinstance(cache, str | os.PathLike):
        return DiskCache(cache)
    raise TypeError(f"cache must be True, False or a directory, not {cache!r}")
