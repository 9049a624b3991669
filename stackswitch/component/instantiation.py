"""Instantiating one component: index spaces, imports, exports, canon definitions.

Instantiation walks the component's definitions in order, appending each to
its index space, exactly as the binary format defines them:

* core modules are compiled, core instances are made by wasmtime (through the
  async path of :mod:`stackswitch.wasm.fibers`, since their imports include
  built-ins that block), and core aliases pick exports out of them;
* ``canon lift`` turns a core function into a component function running as
  a task of this component instance (run by the store's strategy),
  ``canon lower`` and every built-in turn into core functions written in
  Python (:mod:`.builtin_imports`);
* value and function types resolve at once to the Canonical ABI's types
  (:mod:`.typeconv`); each resource type definition makes a new runtime
  resource type for this instance;
* imports come from what the host defined on the :class:`~.linker.Linker`,
  or from the arguments of a nested ``instantiate``; exports also get a new
  index, as the spec says.

The store's strategy sees every core module, core instance and lift through
its :class:`~stackswitch.canon.strategy.Linking` hooks (the callback strategy
transforms some modules with asyncify); nothing here knows what it does.

What this does not do is type-check component imports against their declared
types beyond their kind: ``wasm-tools validate`` (:func:`~.wasm_tools.validate`) is
the first pass that rejects ill-typed components. The core types of what each
canon definition is given are checked here (:mod:`.core_signatures`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import wasmtime

from .. import limits
from ..canon.calls import Lowering, callee_may_be_kept_out, canon_lift
from ..canon.component_instance import ComponentInstance
from ..canon.options import CanonicalOptions
from ..canon.resources import ResourceType
from ..canon.strategy import Linking
from ..canon.types import FuncType, InvalidType
from ..canon.values import flatten_functype
from ..embed import pyvalues
from ..errors import LinkError, Trap
from ..wasm import fibers
from ..wasm.core_exports import CoreExports
from ..wasm.core_values import type_name
from ..wasm.wasmtime_memory import WasmMemory
from . import ast, builtin_imports, core_signatures, seed_streams, typeconv
from .corefuncs import HostCoreFunc, callable_of
from .func import Func, host_func
from .instance import Instance

if TYPE_CHECKING:
    from .linker import Linker

_START_TYPE = FuncType([], [])
_SYNC = CanonicalOptions()


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


class Instantiation:
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
        self.linking: Linking = self.store.strategy.linking(name, self.linker.cache)

    # -- the walk -----------------------------------------------------------------

    def run(self, component: ast.Component, args: Mapping[str, Any]) -> Instance:
        for export in component.exports:
            if export.target.sort == ast.Sort.FUNC and not isinstance(export.target.sort, ast.CoreSort):
                self._func_names.setdefault(export.target.index, export.name.name)
        self.linking.start(component)
        try:
            for d in component.definitions:
                self._define(d, args)
        except (typeconv.UnresolvedType, builtin_imports.Unsupported, InvalidType) as e:
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
                scope.space(ast.CoreSort.FUNC).append(builtin_imports.make(d, self))
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
        """Compile an embedded core module (the strategy may transform it first)."""
        index = len(self.scope.space(ast.CoreSort.MODULE))
        return self.linking.prepare_module(index, d.data, self.linker.module)

    # -- core instances --------------------------------------------------------------

    def _core_instance(self, d: ast.CoreInstantiate | ast.CoreInlineExports) -> Mapping[str, Any]:
        if isinstance(d, ast.CoreInlineExports):
            return {e.name: self.scope.get(e.target.sort, e.target.index) for e in d.exports}
        module = self.scope.get(ast.CoreSort.MODULE, d.module)
        given = {a.name: self.scope.get(ast.CoreSort.INSTANCE, a.instance) for a in d.args}
        linker = wasmtime.Linker(self.linker.engine)
        linker.allow_shadowing = True
        extra = self.linking.extra_imports(module, self.wasm_store)
        for (mod, name), item in extra.items():
            linker.define(self.wasm_store, mod, name, item)
        memories: list[wasmtime.Memory] = []
        for imp in module.imports:
            if (imp.module, imp.name) in extra:
                continue
            bag = given.get(imp.module)
            if bag is None or imp.name not in bag:
                raise LinkError(f"{self.name}: core module import `{imp.module}` `{imp.name}` "
                                "is not provided")
            item = bag[imp.name]
            if isinstance(item, wasmtime.Memory):
                memories.append(item)
            if isinstance(item, HostCoreFunc):
                core_signatures.check_import(
                    f"{self.name}: core module import `{imp.module}` `{imp.name}` ({item.name})",
                    imp.type, core_signatures.signature(item.params, item.results))
                handler, on_fiber = item.handler, item.on_fiber
                if item.may_suspend:
                    strategy = self.store.strategy
                    wrapped = strategy.wrap_builtin(handler, item.name, len(item.results),
                                                    item.suspends_only_if)
                    if item.may_block and wrapped is not handler:  # (left as it is: no change)
                        on_fiber = strategy.wrap_on_fiber(on_fiber, handler, item.name,
                                                          len(item.results), item.will_block)
                    handler = wrapped
                fibers.define_import(linker, imp.module, imp.name, item.functype(), handler,
                                     may_block=item.may_block, store=self.wasm_store,
                                     on_fiber=on_fiber)
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
            raise LinkError(f"{self.name}: {e}{limits.memory_hint(str(e), self.store.limits)}") \
                from None
        bag = CoreExports(self.wasm_store, module, made[0])
        self.linking.instantiated(module, self.wasm_store, made[0], bag, memories)
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
        child = Instantiation(self.linker, self.linker.component_store(self.wasm_store),
                              child_name, self.canon, closure.scope)
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
            hint = (" (an extension interface: enable extensions with --features or "
                    "Linker(features=...), docs/extensions.md)" if name == seed_streams.NAME else "")
            raise LinkError(f"{self.name}: missing import {name!r} ({_sort_name(sort)}){hint}")
        else:
            item = self._from_host(name, args[name], d.desc)
        expected = _import_kind(sort)
        if expected is not None and not isinstance(item, expected):
            raise LinkError(f"{self.name}: import {name!r} must be a {_sort_name(sort)}, "
                            f"got {type(item).__name__}")
        if isinstance(d.desc, ast.InstanceDesc) and isinstance(item, Instance):
            self._check_instance(name, d.desc.type_index, item)
        if isinstance(d.desc, ast.CoreModuleDesc):
            self._check_module(f"import {name!r}", item,
                               self.scope.get(ast.CoreSort.TYPE, d.desc.type_index))
        self.scope.space(sort).append(item)

    def _check_module(self, what: str, module: Any, mtype: Any) -> None:
        if isinstance(module, wasmtime.Module) and isinstance(mtype, ast.ModuleType):
            core_signatures.check_module(f"{self.name}: {what}", module, mtype)

    def _check_instance(self, name: str, type_index: int, item: Instance) -> None:
        """The instance given for an import of type ``type_index`` has each function,
        instance and core module export the type declares (by kind, not yet by type), and
        each ``(export "r" (type (eq $t)))`` of a resource type is that very resource type
        (wasmtime's "mismatched resource types"; an export the type only equates need not
        be there)."""
        itype = self.scope.get(ast.Sort.TYPE, type_index)
        if not isinstance(itype, ast.InstanceType):
            return
        local: list[Any] = []
        core_local: list[Any] = []
        for decl in itype.decls:
            match decl:
                case ast.CoreTypeDecl(type=ast.CoreRecGroup(types=group)):
                    core_local.extend(sub.body for sub in group)
                case ast.CoreTypeDecl(type=t):
                    core_local.append(t)
                case ast.AliasOuter(sort=ast.CoreSort.TYPE, count=count, index=index):
                    core_local.append(self.scope.outer(count - 1).get(ast.CoreSort.TYPE, index))
                case ast.TypeDecl():
                    local.append(None)
                case ast.AliasOuter(sort=sort, count=count, index=index) if sort == ast.Sort.TYPE \
                        and not isinstance(sort, ast.CoreSort):
                    local.append(self.scope.outer(count - 1).get(ast.Sort.TYPE, index))
                case ast.ExportDecl(name=export, desc=ast.TypeDesc(bound=bound)):
                    given = item.exports.get(export.name)
                    if isinstance(bound, ast.TypeEq):
                        wanted = local[bound.index]
                        if isinstance(wanted, ResourceType) and given is not None \
                                and given is not wanted:
                            raise LinkError(f"{self.name}: import {name!r} export "
                                            f"{export.name!r}: mismatched resource types")
                    local.append(given)
                case ast.ExportDecl(name=export, desc=desc):
                    kind = _import_kind(_IMPORT_SORTS.get(type(desc)))
                    given = item.exports.get(export.name)
                    if kind is not None and not isinstance(given, kind):
                        what = "was not found" if given is None else \
                            f"is a {type(given).__name__}"
                        raise LinkError(f"{self.name}: import {name!r}: its export "
                                        f"{export.name!r} ({_sort_name(desc.sort)}) {what}")
                    if isinstance(desc, ast.CoreModuleDesc) and desc.type_index < len(core_local):
                        self._check_module(f"import {name!r} export {export.name!r}", given,
                                           core_local[desc.type_index])

    def _from_host(self, name: str, item: Any, desc: Any) -> Any:
        """Plain Python for a function or instance import, typed by the import's declaration.

        The host may give a callable for a function import, and a mapping of
        export names to callables for an instance import: their types come
        from the component, so the host writes no types at all. In such a
        mapping, a nested instance is a mapping again and a core module is its
        binary (compiled here, with this linker's engine).
        """
        if isinstance(item, seed_streams.SeedFunction) and isinstance(desc, ast.FuncDesc | _Typed):
            ft = desc.ft if isinstance(desc, _Typed) else typeconv.functype(
                desc.type_index, self.scope.space(ast.Sort.TYPE))
            return item.bind(ft, self.store)
        if isinstance(desc, ast.FuncDesc) and callable(item) and not isinstance(item, Func):
            ft = typeconv.functype(desc.type_index, self.scope.space(ast.Sort.TYPE))
            return host_func(name, item, ft, self.store)
        if isinstance(desc, ast.TypeDesc):
            return self._resource_from_host(name, item)
        if isinstance(desc, ast.InstanceDesc) and isinstance(item, Mapping):
            itype = self.scope.get(ast.Sort.TYPE, desc.type_index)
            if not isinstance(itype, ast.InstanceType):
                raise LinkError(f"{self.name}: import {name!r}: type {desc.type_index} is not an "
                                "instance type")
            return self._host_instance(name, itype, item, ())
        if isinstance(desc, _Typed) and callable(item) and not isinstance(item, Func):
            return host_func(name, item, desc.ft, self.store)
        return item

    def _host_instance(self, name: str, itype: ast.InstanceType, item: Mapping[str, Any],
                       outers: tuple[list[Any], ...]) -> Instance:
        """The host's mapping ``item`` as an instance of type ``itype`` (``outers``: the type
        spaces of the instance types it is nested in, innermost first)."""
        types: dict[str, Any] = {}
        declared = self._instance_exports(itype, name, item, outers, types)
        exports: dict[str, Any] = {}
        for export, (kind, t) in declared.items():
            if export not in item:
                raise LinkError(f"{self.name}: missing import {name!r} export {export!r} ({kind})")
            value = item[export]
            if kind == "func":
                exports[export] = self._from_host(f"{name}#{export}", value, _Typed(t))
            elif kind == "instance" and isinstance(value, Mapping):
                exports[export] = self._host_instance(f"{name}#{export}", t[0], value, t[1])
            elif kind == "core module" and isinstance(value, bytes | bytearray):
                exports[export] = self.linker.module(bytes(value))
        for export, value in item.items():
            if isinstance(value, pyvalues.HostResource):
                value = value.type
            exports.setdefault(export, value)
        for export, t in types.items():
            exports.setdefault(export, t)
        return Instance(name, exports)

    def _resource_from_host(self, name: str, item: Any) -> ResourceType:
        """The resource type satisfying a ``(sub resource)`` import: a HostResource's, or given."""
        if isinstance(item, pyvalues.HostResource):
            return item.type
        if not isinstance(item, ResourceType):
            raise LinkError(f"{self.name}: import {name!r} is a resource type: define it as a "
                            f"HostResource, got {type(item).__name__}")
        return item

    def _instance_exports(self, itype: ast.InstanceType, name: str,
                          given: Mapping[str, Any], outers: tuple[list[Any], ...],
                          types: dict[str, Any]) -> dict[str, tuple[str, Any]]:
        """The function, nested instance and core module exports an instance type declares:
        name -> ("func", canon FuncType) / ("instance", (InstanceType, its outers)) /
        ("core module", None).

        A resource type export (``(sub resource)``) is the one ``given`` (the
        host's mapping for instance ``name``) provides. The type exports
        (``(type (eq i))``, a WIT ``record`` or ``use``) go into ``types``, so
        that the component may alias them from the host's instance.
        """
        local: list[Any] = []
        exports: dict[str, tuple[str, Any]] = {}
        for decl in itype.decls:
            match decl:
                case ast.TypeDecl(type=t):
                    local.append(typeconv.deftype(t, local))
                case ast.AliasOuter(sort=sort, count=count, index=index) if sort == ast.Sort.TYPE \
                        and not isinstance(sort, ast.CoreSort):
                    if count - 1 < len(outers):
                        local.append(outers[count - 1][index])
                    else:
                        local.append(self.scope.outer(count - 1 - len(outers))
                                     .get(ast.Sort.TYPE, index))
                case ast.ExportDecl(name=export, desc=ast.FuncDesc(type_index=i)):
                    exports[export.name] = ("func", typeconv.functype(i, local))
                case ast.ExportDecl(name=export, desc=ast.InstanceDesc(type_index=i)) \
                        if isinstance(local[i], ast.InstanceType):
                    exports[export.name] = ("instance", (local[i], (local, *outers)))
                case ast.ExportDecl(name=export, desc=ast.CoreModuleDesc()):
                    exports[export.name] = ("core module", None)
                case ast.ExportDecl(name=export, desc=ast.TypeDesc(bound=ast.TypeEq(index=i))):
                    local.append(local[i])
                    types[export.name] = local[i]
                case ast.ExportDecl(name=export, desc=ast.TypeDesc(bound=ast.SubResource())):
                    if export.name not in given:
                        raise LinkError(f"{self.name}: missing import {name!r} export "
                                        f"{export.name!r} (resource type)")
                    local.append(self._resource_from_host(f"{name}#{export.name}",
                                                          given[export.name]))
                case ast.CoreTypeDecl():
                    pass
                case _:
                    raise LinkError(f"{self.name}: host instances cannot provide "
                                    f"{type(decl).__name__} declarations yet")
        return exports

    # -- canon definitions ----------------------------------------------------------------

    def _lift(self, d: ast.CanonLift) -> Func:
        index = len(self.scope.space(ast.Sort.FUNC))
        label = self._func_names.get(index, f"func{index}")
        ft = typeconv.functype(d.type_index, self.scope.space(ast.Sort.TYPE))
        core = self.scope.get(ast.CoreSort.FUNC, d.core_func)
        opts = self.options(d.options, async_=d.options.is_async)
        self._check_lift(label, ft, core, opts, d.options)
        callee = self.linking.lifted(callable_of(core, self.wasm_store, label), core, opts)
        # wasmtime (and the spec's tests, "for now") refuse any call between an
        # instance and itself, an ancestor or a descendant, where the spec would
        # allow a donut-wrapping parent to be re-entered.
        func_inst = self.store.lift(callee, ft, opts, self.canon, name=label, refuse_nested=True)
        return Func(label, ft, func_inst, self.store)

    def _check_lift(self, label: str, ft: FuncType, core: Any, opts: CanonicalOptions,
                    options: ast.CanonOptions) -> None:
        """The core types a lift implies: its function, its post-return and callback."""
        flat = flatten_functype(opts, ft, "lift")
        what = f"{self.name}: canon lift of {label}"
        core_signatures.check_options(what, ft, opts, "lift")
        core_signatures.check(what, core, self.wasm_store,
                              core_signatures.signature(flat.params, flat.results))
        if options.post_return is not None:
            core_signatures.check(f"{what}: option post-return",
                                  self.scope.get(ast.CoreSort.FUNC, options.post_return),
                                  self.wasm_store, core_signatures.signature(flat.results, []))
        if options.callback is not None:
            core_signatures.check(f"{what}: option callback",
                                  self.scope.get(ast.CoreSort.FUNC, options.callback),
                                  self.wasm_store, core_signatures.CALLBACK_TYPE)

    def _lower(self, d: ast.CanonLower) -> HostCoreFunc:
        func = self.scope.get(ast.Sort.FUNC, d.func)
        if not isinstance(func, Func):
            raise LinkError(f"{self.name}: canon lower of a non-function")
        opts = self.options(d.options, async_=d.options.is_async)
        if isinstance(func, seed_streams.SeedFunc):  # an extension built-in (docs/extensions.md)
            return func.lower(opts)
        core_signatures.check_options(f"{self.name}: canon lower of {func.name}", func.ft,
                                      opts, "lower")
        flat = flatten_functype(opts, func.ft, "lower")
        lowered = Lowering(func.func_inst, func.ft, opts, name=func.name).call
        # A sync lower suspends its caller until the callee returns. An async one
        # may too, to let the callee start, but only when the callee's instance is
        # locked (see canon.calls._let_callee_start and callee_may_be_kept_out).
        return HostCoreFunc(f"lower {func.name}", tuple(flat.params), tuple(flat.results), lowered,
                            may_block=True, may_suspend=True,
                            suspends_only_if=(callee_may_be_kept_out(func.func_inst)
                                              if opts.async_ else None))

    def _resource_type(self, d: ast.ResourceType) -> ResourceType:
        index = len(self.scope.space(ast.Sort.TYPE))
        dtor = None
        if d.dtor is not None:
            dtor_item = self.scope.get(ast.CoreSort.FUNC, d.dtor)
            core_signatures.check(f"{self.name}: resource type {index}: its destructor",
                                  dtor_item, self.wasm_store, core_signatures.dtor_type())
            dtor = callable_of(dtor_item, self.wasm_store, "dtor")
        return ResourceType(self.canon, dtor, name=f"{self.name}.resource{index}")

    # -- the environment built-ins need (see builtin_imports.Env) -----------------------------------

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
            realloc_item = self.scope.get(ast.CoreSort.FUNC, opts.realloc)
            core_signatures.check(
                f"{self.name}: option realloc", realloc_item, self.wasm_store,
                core_signatures.realloc_type("i32" if memory is None else memory.ptr_type))
            core_realloc = callable_of(realloc_item, self.wasm_store, "realloc")

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


def _import_kind(sort: ast.AnySort | None) -> type | None:
    """What an import (or an imported instance's export) of ``sort`` must be, where we check.
    (Not a dict: ``Sort`` and ``CoreSort`` are IntEnums whose values overlap.)"""
    if isinstance(sort, ast.CoreSort):
        return wasmtime.Module if sort is ast.CoreSort.MODULE else None
    return {ast.Sort.FUNC: Func, ast.Sort.INSTANCE: Instance}.get(sort) if sort else None


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
        if [type_name(p) for p in ft.params] != ["i32"] or list(ft.results):
            raise Trap("wasm trap: start function does not match expected type "
                       "(currently only `(i32) -> ()` is supported)")
        return callable_of(func, self.store, f"thread start {i}")
