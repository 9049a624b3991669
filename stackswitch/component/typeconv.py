"""From decoded type definitions (:mod:`.ast`) to the Canonical ABI's types.

A component's type index space mixes value types, function types, resource
types and component/instance types. Value and function types are resolved
as soon as they are defined (they may only name earlier types), so every
later use sees a :mod:`stackswitch.canon.types` object; resource types are
runtime values created per instance (see :mod:`.linker`) and arrive here
already made.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..canon import types as ct
from ..canon.resources import ResourceType
from . import ast

_PRIMITIVES: dict[ast.PrimValType, Callable[[], ct.ValType]] = {
    ast.PrimValType.BOOL: ct.BoolType,
    ast.PrimValType.S8: ct.S8Type,
    ast.PrimValType.U8: ct.U8Type,
    ast.PrimValType.S16: ct.S16Type,
    ast.PrimValType.U16: ct.U16Type,
    ast.PrimValType.S32: ct.S32Type,
    ast.PrimValType.U32: ct.U32Type,
    ast.PrimValType.S64: ct.S64Type,
    ast.PrimValType.U64: ct.U64Type,
    ast.PrimValType.F32: ct.F32Type,
    ast.PrimValType.F64: ct.F64Type,
    ast.PrimValType.CHAR: ct.CharType,
    ast.PrimValType.STRING: ct.StringType,
    ast.PrimValType.ERROR_CONTEXT: ct.ErrorContextType,
}


class UnresolvedType(Exception):
    """A type reference that does not resolve to what the definition needs."""


def valtype(t: ast.ValType, space: list[Any]) -> ct.ValType:
    """Resolve a value type: a primitive, or an index into ``space``."""
    if isinstance(t, ast.PrimValType):
        return _PRIMITIVES[t]()
    if not 0 <= t < len(space):
        raise UnresolvedType(f"type index {t} out of bounds ({len(space)} types defined)")
    resolved = space[t]
    if not isinstance(resolved, ct.ValType):
        raise UnresolvedType(f"type index {t} is a {_describe(resolved)}, not a value type")
    return resolved


def _optional(t: ast.ValType | None, space: list[Any]) -> ct.ValType | None:
    return None if t is None else valtype(t, space)


def _resource(i: int, space: list[Any]) -> ResourceType:
    if not 0 <= i < len(space) or not isinstance(space[i], ResourceType):
        raise UnresolvedType(f"type index {i} is not a resource type")
    return space[i]


def deftype(d: Any, space: list[Any]) -> Any:
    """The canon form of a type definition (value or function type).

    Component and instance types are kept as decoded: they only describe
    imports, which we check by what the provider actually exports.
    """
    match d:
        case ast.RecordType(fields):
            return ct.RecordType([ct.FieldType(f.label, valtype(f.type, space)) for f in fields])
        case ast.VariantType(cases):
            return ct.VariantType([ct.CaseType(c.label, _optional(c.type, space)) for c in cases])
        case ast.ListType(element):
            return ct.ListType(valtype(element, space))
        case ast.FixedListType(element, length):
            return ct.ListType(valtype(element, space), length)
        case ast.TupleType(types):
            return ct.TupleType([valtype(t, space) for t in types])
        case ast.FlagsType(labels):
            return ct.FlagsType(list(labels))
        case ast.EnumType(labels):
            return ct.EnumType(list(labels))
        case ast.OptionType(t):
            return ct.OptionType(valtype(t, space))
        case ast.ResultType(ok, error):
            return ct.ResultType(_optional(ok, space), _optional(error, space))
        case ast.OwnType(resource):
            return ct.OwnType(_resource(resource, space))
        case ast.BorrowType(resource):
            return ct.BorrowType(_resource(resource, space))
        case ast.StreamType(element):
            return ct.StreamType(_optional(element, space))
        case ast.FutureType(element):
            return ct.FutureType(_optional(element, space))
        case ast.MapType(key, value):
            return ct.MapType(valtype(key, space), valtype(value, space))
        case ast.FuncType(params, result, is_async):
            results = [] if result is None else [valtype(result, space)]
            return ct.FuncType([(p.label, valtype(p.type, space)) for p in params], results,
                               async_=is_async)
        case ast.PrimValType():
            return _PRIMITIVES[d]()
        case ast.ComponentType() | ast.InstanceType():
            return d
    raise UnresolvedType(f"unsupported type definition {type(d).__name__}")


def functype(i: int, space: list[Any]) -> ct.FuncType:
    if not 0 <= i < len(space) or not isinstance(space[i], ct.FuncType):
        raise UnresolvedType(f"type index {i} is not a function type")
    return space[i]


def _describe(x: Any) -> str:
    if isinstance(x, ct.FuncType):
        return "function type"
    if isinstance(x, ResourceType):
        return "resource type"
    return type(x).__name__
