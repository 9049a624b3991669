"""The core-level rules validation enforces, checked at instantiation.

``wasm-tools validate`` rejects a component that breaks one of these; a component given
to us without validation gets a :class:`~stackswitch.errors.LinkError` (naming both types
where there are two) rather than a failure, or a wrong result, at call time:

* each core function given to a canon definition has the core type the definition
  implies (CanonicalABI.md, "canon lift" and "Canonical Options"): the lifted function
  (``flatten_functype``), ``realloc``, ``post-return``, ``callback``, a resource's
  destructor (:func:`check`), and the core imports a ``canon lower`` or a built-in
  satisfies (:func:`check_import`, where a core instance is made);
* a lift or lower has the options its function type needs and no result holds a borrow
  (:func:`check_options`);
* a core module given for an import fits its module type (:func:`check_module`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

import wasmtime

from ..canon.options import CanonicalOptions
from ..canon.types import (
    FuncType,
    ListType,
    OptionType,
    RecordType,
    ResultType,
    StringType,
    TupleType,
    ValType,
    VariantType,
    contains_borrow,
)
from ..canon.values import MAX_FLAT_ASYNC_PARAMS, MAX_FLAT_PARAMS, MAX_FLAT_RESULTS, flatten_types
from ..errors import LinkError
from ..wasm.core_values import OTHER_REFERENCE, type_name
from . import ast
from .corefuncs import core_signature

Signature = tuple[tuple[str, ...], tuple[str, ...]]
"""``(params, results)`` as core type names (``i32``, ``i64``, ``f32``, ``f64``...)."""


def signature(params: Iterable[str], results: Iterable[str]) -> Signature:
    """A :data:`Signature` from any iterables of core type names."""
    return tuple(params), tuple(results)


def show(sig: Signature) -> str:
    """A core function type in the text format: ``(func (param i32 i32) (result i32))``."""
    params, results = sig
    text = "(func"
    if params:
        text += " (param " + " ".join(params) + ")"
    if results:
        text += " (result " + " ".join(results) + ")"
    return text + ")"


def check(what: str, item: Any, store: wasmtime.Store, expected: Signature) -> None:
    """Raise :class:`LinkError` unless core function ``item`` has type ``expected``.

    ``what`` says which use of it this is (``"canon lift of f"``, ``"option realloc of ..."``)."""
    given = _signature_of(item, store)
    if given != expected:
        raise LinkError(f"{what}: the core function given has type {show(given)}, "
                        f"expected {show(expected)}")


def realloc_type(ptr: str) -> Signature:
    """``(func (param ptr ptr ptr ptr) (result ptr))``: old pointer, old size, alignment,
    new size, each of the memory's address type (Explainer.md, "Canonical Options")."""
    return signature([ptr, ptr, ptr, ptr], [ptr])


CALLBACK_TYPE: Signature = (("i32", "i32", "i32"), ("i32",))
"""``(event code, index, payload) -> callback code``."""


def dtor_type(rep: str = "i32") -> Signature:
    """A resource destructor takes the representation and returns nothing."""
    return signature([rep], [])


def check_import(what: str, import_type: Any, given: Signature) -> None:
    """A core module's function import (``import_type``, wasmtime's) against the
    signature of what a canon definition provides for it."""
    if not isinstance(import_type, wasmtime.FuncType):
        raise LinkError(f"{what}: a function is given for an import of another kind "
                        f"({import_type})")
    expected = signature(map(type_name, import_type.params), map(type_name, import_type.results))
    if given != expected:
        raise LinkError(f"{what}: the import has type {show(expected)}, "
                        f"but the core function given has type {show(given)}")


def _signature_of(item: Any, store: wasmtime.Store) -> Signature:
    try:
        params, results = core_signature(item, store)
    except (AttributeError, TypeError):
        raise LinkError(f"not a core function: {item!r}") from None
    return signature(params, results)


def check_module(what: str, module: wasmtime.Module, mtype: ast.ModuleType) -> None:
    """A core module given for an import of module type ``mtype`` (module subtyping): it
    exports at least what ``mtype`` declares and imports at most what it declares, each
    of the same kind, a function of the same signature, a global of the same type and
    mutability, a table of the same element type, and table and memory limits that fit
    (what is provided lies within what is required). :class:`LinkError` otherwise."""
    types: list[Any] = []
    imports: dict[tuple[str, str], Any] = {}
    exports: dict[str, Any] = {}
    for decl in mtype.decls:
        match decl:
            case ast.CoreRecGroup(types=group):
                types.extend(sub.body for sub in group)
            case ast.CoreOuterAlias():
                types.append(None)
            case ast.CoreImportDecl(module=mod, name=name, desc=desc):
                imports[(mod, name)] = _declared(desc, types)
            case ast.CoreExportDecl(name=name, desc=desc):
                exports[name] = _declared(desc, types)
    actual_exports = {e.name: _actual(e.type) for e in module.exports}
    for name, wanted in exports.items():
        if name not in actual_exports:
            raise LinkError(f"{what}: module export `{name}` not defined")
        _compare(f"{what}: module export `{name}`", wanted, actual_exports[name], exported=True)
    for imp in module.imports:
        key = (imp.module, imp.name or "")
        if key not in imports:
            raise LinkError(f"{what}: module import `{key[0]}::{key[1]}` not defined")
        _compare(f"{what}: module import `{key[0]}::{key[1]}`", imports[key], _actual(imp.type),
                 exported=False)


def _declared(desc: Any, types: list[Any]) -> tuple[str, Any]:
    """A declared core extern type as ``(kind, details)``; details None: not compared."""
    if isinstance(desc, ast.CoreFuncDesc):
        t = types[desc.type_index] if desc.type_index < len(types) else None
        if isinstance(t, ast.CoreFuncType):
            return "func", signature(map(_core_name, t.params), map(_core_name, t.results))
        return "func", None
    if isinstance(desc, ast.CoreGlobalType):
        return "global", (_core_name(desc.valtype), desc.mutable)
    if isinstance(desc, ast.CoreTableType):
        return "table", (_core_name(desc.element), desc.limits.minimum, desc.limits.maximum)
    if isinstance(desc, ast.CoreMemoryType):
        return "memory", ("i64" if desc.memory64 else "i32", desc.limits.minimum,
                          desc.limits.maximum)
    return "tag", None


def _actual(t: Any) -> tuple[str, Any]:
    """wasmtime's extern type as ``(kind, details)``, comparable with :func:`_declared`."""
    if isinstance(t, wasmtime.FuncType):
        return "func", signature(map(type_name, t.params), map(type_name, t.results))
    if isinstance(t, wasmtime.GlobalType):
        return "global", (type_name(t.content), t.mutable)
    if isinstance(t, wasmtime.TableType):
        return "table", (type_name(t.element), t.limits.min, t.limits.max)
    if isinstance(t, wasmtime.MemoryType):
        return "memory", ("i64" if t.is_64 else "i32", t.limits.min, t.limits.max)
    return "tag", None


def _fits(inner: tuple[Any, ...], outer: tuple[Any, ...]) -> bool:
    """Limits ``(kind, min, max)``: is ``inner`` within ``outer`` (core wasm's subtyping)?"""
    return (inner[0] == outer[0] and inner[1] >= outer[1]
            and (outer[2] is None or (inner[2] is not None and inner[2] <= outer[2])))


def _compare(what: str, wanted: tuple[str, Any], actual: tuple[str, Any], *,
             exported: bool) -> None:
    """``exported``: the module's own export must fit what is declared; otherwise what is
    declared (and so will be provided) must fit the module's import."""
    if wanted[0] != actual[0]:
        raise LinkError(f"{what}: expected {wanted[0]} found {actual[0]}")
    if wanted[0] in ("table", "memory") and wanted[1] is not None and actual[1] is not None:
        if not (_fits(actual[1], wanted[1]) if exported else _fits(wanted[1], actual[1])):
            raise LinkError(f"{what} has the wrong type: declared {wanted[0]} {wanted[1]}, "
                            f"found {actual[1]}")
        return
    if wanted[1] is not None and actual[1] is not None and wanted[1] != actual[1]:
        if wanted[0] == "func":
            raise LinkError(f"{what} has the wrong type: expected type `{show(wanted[1])}`, "
                            f"found type `{show(actual[1])}`")
        raise LinkError(f"{what} has the wrong type: expected {wanted[1]}, found {actual[1]}")


def _core_name(t: Any) -> str:
    """A declared core value type by :func:`type_name`'s names."""
    if isinstance(t, ast.CoreNumType):
        return t.name.lower() if t is not ast.CoreNumType.V128 else OTHER_REFERENCE
    if isinstance(t, ast.CoreRefType) and t.nullable and not t.shared and not t.exact:
        if t.heap == ast.CoreAbsHeapType.FUNC:
            return "funcref"
        if t.heap == ast.CoreAbsHeapType.EXTERN:
            return "externref"
    return OTHER_REFERENCE


def check_options(what: str, ft: FuncType, opts: CanonicalOptions,
                  context: Literal["lift", "lower"]) -> None:
    """The options a lift or lower of ``ft`` must have (Explainer.md, "Canonical
    Options"): ``memory`` when a value goes through linear memory (a string or list, or
    parameters and results that spill), ``realloc`` when this side receives one that must
    be allocated (a lift's parameters, a lower's results)."""
    params, results = ft.param_types(), ft.result_types()
    if any(contains_borrow(t) for t in results):
        # validation: a borrow may not outlive the call (found by the fuzzer: an assert)
        raise LinkError(f"{what}: a function result may not contain a borrow handle")
    n_params, n_results = len(flatten_types(params)), len(flatten_types(results))
    if context == "lift":
        spill = n_params > MAX_FLAT_PARAMS
        needs_memory = spill or _dynamic(params) or (
            not opts.async_ and (_dynamic(results) or n_results > MAX_FLAT_RESULTS))
        needs_realloc = spill or _dynamic(params)
    else:
        limit = MAX_FLAT_ASYNC_PARAMS if opts.async_ else MAX_FLAT_PARAMS
        needs_memory = (n_params > limit or _dynamic(params) or _dynamic(results)
                        or n_results > MAX_FLAT_RESULTS or (opts.async_ and n_results > 0))
        needs_realloc = _dynamic(results)
    if needs_memory and opts.memory is None:
        raise LinkError(f"{what}: the canonical option `memory` is required (its values "
                        "go through linear memory)")
    if needs_realloc and opts.realloc is None:
        raise LinkError(f"{what}: the canonical option `realloc` is required (it receives "
                        "strings, lists or spilled parameters)")


def _dynamic(ts: Sequence[ValType]) -> bool:
    """Whether any of ``ts`` holds a string or a variable-length list (anywhere inside)."""
    return any(_dynamic_one(t) for t in ts)


def _dynamic_one(t: ValType) -> bool:
    if isinstance(t, StringType):
        return True
    if isinstance(t, ListType):
        return t.length is None or _dynamic_one(t.t)
    if isinstance(t, RecordType):
        return any(_dynamic_one(f.t) for f in t.fields)
    if isinstance(t, TupleType):
        return _dynamic(t.ts)
    if isinstance(t, VariantType):
        return any(c.t is not None and _dynamic_one(c.t) for c in t.cases)
    if isinstance(t, OptionType):
        return _dynamic_one(t.t)
    if isinstance(t, ResultType):
        return any(x is not None and _dynamic_one(x) for x in (t.ok, t.error))
    return False


def check_copy_options(what: str, element: ValType | None, opts: CanonicalOptions,
                       receives: bool) -> None:
    """A ``stream.read/write`` or ``future.read/write`` of ``element`` values: ``memory``
    unless the element type is absent, and ``realloc`` for a read of strings or lists
    (found by the fuzzer: an AttributeError at call time without them)."""
    if element is not None and opts.memory is None:
        raise LinkError(f"{what}: the canonical option `memory` is required (it copies "
                        f"{element!r} values through linear memory)")
    if receives and element is not None and _dynamic_one(element) and opts.realloc is None:
        raise LinkError(f"{what}: the canonical option `realloc` is required (it receives "
                        f"{element!r} values)")


def check_task_return_options(what: str, result_types: Sequence[ValType],
                              opts: CanonicalOptions) -> None:
    """``task.return`` lifts its result: ``memory`` if that reads linear memory."""
    if opts.memory is None and (_dynamic(result_types)
                                or len(flatten_types(result_types)) > MAX_FLAT_PARAMS):
        raise LinkError(f"{what}: the canonical option `memory` is required (its result is "
                        "read from linear memory)")
