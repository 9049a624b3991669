"""Component-level value types (spec: "Despecialization", "Type Predicates").

Types are frozen dataclasses named as in the spec. They compare structurally,
because the runtime checks e.g. a stream's element type with ``==`` when a
readable end changes hands. The one exception is the resource type ``rt``
inside ``own``/``borrow``: it is compared by identity, since two resource
types are the same only if they are the same object, however alike they look.

``repr()`` of a type is its WIT spelling (``list<u8>``, ``option<string>``,
``stream``), which is what error messages and traces show.

How values of these types are represented in Python is documented in
:mod:`.values`; :class:`Variant` is the value of a variant, option or result.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

# Every type class uses this decorator: frozen (types are values, and the
# layout cache below relies on them never changing) and without a generated
# repr, so that the WIT spelling defined by each class is kept.
_valtype = dataclass(frozen=True, repr=False)


@_valtype
class ValType:
    """Base of every component value type."""

    # Scratch space where :mod:`.values` memoises layouts (size, alignment,
    # flattening) per pointer type. Not part of the type's value.
    _abi_cache: dict[Any, Any] = field(default_factory=dict, init=False, compare=False)


class PrimValType(ValType):
    """A type with no parameters; all instances of one class are equal."""

    wit = "?"

    def __repr__(self) -> str:
        return self.wit

    def __hash__(self) -> int:
        return hash(type(self))


class BoolType(PrimValType):
    wit = "bool"


class S8Type(PrimValType):
    wit = "s8"


class U8Type(PrimValType):
    wit = "u8"


class S16Type(PrimValType):
    wit = "s16"


class U16Type(PrimValType):
    wit = "u16"


class S32Type(PrimValType):
    wit = "s32"


class U32Type(PrimValType):
    wit = "u32"


class S64Type(PrimValType):
    wit = "s64"


class U64Type(PrimValType):
    wit = "u64"


class F32Type(PrimValType):
    wit = "f32"


class F64Type(PrimValType):
    wit = "f64"


class CharType(PrimValType):
    wit = "char"


class StringType(PrimValType):
    wit = "string"


class ErrorContextType(PrimValType):
    wit = "error-context"


class InvalidType(ValueError):
    """A type validation rejects (no labels, duplicate labels, an empty tuple, a
    fixed-length list of length 0): a component that defines one cannot be linked."""


def _freeze(obj: object, name: str, items: Iterable[Any]) -> tuple[Any, ...]:
    """Store ``items`` as a tuple on a frozen dataclass (so the type is hashable)."""
    frozen = tuple(items)
    object.__setattr__(obj, name, frozen)
    return frozen


def _check_labels(kind: str, labels: tuple[str, ...]) -> None:
    """Reject the empty and duplicate-label types that validation would reject."""
    if not labels:
        raise InvalidType(f"{kind} must have at least one label")
    if len(set(labels)) != len(labels):
        raise InvalidType(f"{kind} has duplicate labels: {list(labels)}")


@_valtype
class ListType(ValType):
    """``list<t>``, or the fixed-length ``list<t, length>``."""

    t: ValType
    length: int | None = None

    def __post_init__(self) -> None:
        if self.length is not None and self.length < 1:
            raise InvalidType("a fixed-length list needs a length of at least 1")

    def __repr__(self) -> str:
        if self.length is None:
            return f"list<{self.t!r}>"
        return f"list<{self.t!r}, {self.length}>"


@dataclass(frozen=True)
class FieldType:
    """One named field of a record."""

    label: str
    t: ValType


@_valtype
class RecordType(ValType):
    fields: tuple[FieldType, ...]

    def __post_init__(self) -> None:
        fields = _freeze(self, "fields", self.fields)
        _check_labels("record", tuple(f.label for f in fields))

    def __repr__(self) -> str:
        return "record { " + ", ".join(f"{f.label}: {f.t!r}" for f in self.fields) + " }"


@_valtype
class TupleType(ValType):
    ts: tuple[ValType, ...]

    def __post_init__(self) -> None:
        if not _freeze(self, "ts", self.ts):
            raise InvalidType("tuple must have at least one element type")

    def __repr__(self) -> str:
        return "tuple<" + ", ".join(repr(t) for t in self.ts) + ">"


@dataclass(frozen=True)
class CaseType:
    """One case of a variant; ``t`` is ``None`` when the case has no payload."""

    label: str
    t: ValType | None = None


@_valtype
class VariantType(ValType):
    cases: tuple[CaseType, ...]

    def __post_init__(self) -> None:
        cases = _freeze(self, "cases", self.cases)
        _check_labels("variant", tuple(c.label for c in cases))

    def __repr__(self) -> str:
        parts = (c.label if c.t is None else f"{c.label}({c.t!r})" for c in self.cases)
        return "variant { " + ", ".join(parts) + " }"


@_valtype
class EnumType(ValType):
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_labels("enum", _freeze(self, "labels", self.labels))

    def __repr__(self) -> str:
        return "enum { " + ", ".join(self.labels) + " }"


@_valtype
class OptionType(ValType):
    t: ValType

    def __repr__(self) -> str:
        return f"option<{self.t!r}>"


@_valtype
class ResultType(ValType):
    """``result<ok, error>``; either payload may be ``None`` (absent)."""

    ok: ValType | None = None
    error: ValType | None = None

    def __repr__(self) -> str:
        if self.ok is None and self.error is None:
            return "result"
        if self.error is None:
            return f"result<{self.ok!r}>"
        ok = "_" if self.ok is None else repr(self.ok)
        return f"result<{ok}, {self.error!r}>"


@_valtype
class FlagsType(ValType):
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        _check_labels("flags", _freeze(self, "labels", self.labels))

    def __repr__(self) -> str:
        return "flags { " + ", ".join(self.labels) + " }"


@_valtype
class MapType(ValType):
    k: ValType
    v: ValType

    def __repr__(self) -> str:
        return f"map<{self.k!r}, {self.v!r}>"


def _resource_name(rt: object) -> str:
    name = getattr(rt, "name", None)
    return name if isinstance(name, str) and name else type(rt).__name__


@_valtype
class _HandleType(ValType):
    """Shared by ``own`` and ``borrow``: equal only for the very same ``rt``."""

    rt: Any

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _HandleType) and type(other) is type(self) and other.rt is self.rt

    def __hash__(self) -> int:
        return hash((type(self), id(self.rt)))


class OwnType(_HandleType):
    def __repr__(self) -> str:
        return f"own<{_resource_name(self.rt)}>"


class BorrowType(_HandleType):
    def __repr__(self) -> str:
        return f"borrow<{_resource_name(self.rt)}>"


@_valtype
class StreamType(ValType):
    """``stream<t>``; ``t`` is ``None`` for a stream that carries no values."""

    t: ValType | None = None

    def __repr__(self) -> str:
        return "stream" if self.t is None else f"stream<{self.t!r}>"


@_valtype
class FutureType(ValType):
    """``future<t>``; ``t`` is ``None`` for a future that carries no value."""

    t: ValType | None = None

    def __repr__(self) -> str:
        return "future" if self.t is None else f"future<{self.t!r}>"


@dataclass(frozen=True, repr=False)
class FuncType:
    """A component function type.

    ``params`` are ``(name, type)`` pairs; ``results`` holds zero or one
    type, plain or as a ``(name, type)`` pair.
    """

    params: tuple[tuple[str, ValType], ...]
    results: tuple[ValType | tuple[str, ValType], ...]
    async_: bool = False

    def __post_init__(self) -> None:
        params = _freeze(self, "params", (tuple(p) for p in self.params))
        results = _freeze(self, "results",
                          (r if isinstance(r, ValType) else tuple(r) for r in self.results))
        # Asked on every call: computed once (not fields: equality and hash ignore them).
        object.__setattr__(self, "param_type_tuple", tuple(t for _, t in params))
        object.__setattr__(self, "result_type_tuple",
                           tuple(r if isinstance(r, ValType) else r[1] for r in results))

    param_type_tuple: ClassVar[tuple[ValType, ...]]
    """:meth:`param_types`, computed once (the call path reads it on every call)."""
    result_type_tuple: ClassVar[tuple[ValType, ...]]
    """:meth:`result_types`, computed once."""

    def param_types(self) -> list[ValType]:
        return list(self.param_type_tuple)

    def result_types(self) -> list[ValType]:
        return list(self.result_type_tuple)

    def result_type(self) -> list[ValType]:
        """The spec's spelling of :meth:`result_types`."""
        return self.result_types()

    def __repr__(self) -> str:
        params = ", ".join(f"{name}: {t!r}" for name, t in self.params)
        text = f"func({params})"
        if self.results:
            if all(isinstance(r, ValType) for r in self.results):
                text += " -> " + ", ".join(repr(r) for r in self.results)
            else:
                text += " -> (" + ", ".join(f"{n}: {t!r}" for n, t in self.results) + ")"
        return ("async " + text) if self.async_ else text


@dataclass(frozen=True)
class Variant:
    """The value of a variant, option (``none``/``some``) or result (``ok``/``error``)."""

    case: str
    value: Any = None


def despecialize(t: ValType) -> ValType:
    """Replace a specialised type by the fundamental type with the same ABI.

    ``string`` and ``flags`` stay as they are: their ABI is not their
    expansion's.
    """
    match t:
        case TupleType(ts):
            return RecordType([FieldType(str(i), u) for i, u in enumerate(ts)])
        case EnumType(labels):
            return VariantType([CaseType(label) for label in labels])
        case OptionType(u):
            return VariantType([CaseType("none"), CaseType("some", u)])
        case ResultType(ok, error):
            return VariantType([CaseType("ok", ok), CaseType("error", error)])
        case MapType(k, v):
            return ListType(despecialize(TupleType([k, v])))
    return t


def _contains(t: ValType | FuncType | None, pred: Callable[[ValType], bool]) -> bool:
    if t is None:
        return False
    if isinstance(t, FuncType):
        return any(_contains(u, pred) for u in t.param_types() + t.result_types())
    t = despecialize(t)
    if pred(t):
        return True
    match t:
        case ListType(u) | StreamType(u) | FutureType(u):
            return _contains(u, pred)
        case RecordType(fields):
            return any(_contains(f.t, pred) for f in fields)
        case VariantType(cases):
            return any(_contains(c.t, pred) for c in cases)
    return False


def contains_borrow(t: ValType | FuncType | None) -> bool:
    """Whether a ``borrow`` occurs anywhere in ``t``."""
    return _contains(t, lambda u: isinstance(u, BorrowType))


def contains_async_value(t: ValType | FuncType | None) -> bool:
    """Whether a ``stream`` or ``future`` occurs anywhere in ``t``."""
    return _contains(t, lambda u: isinstance(u, StreamType | FutureType))


def none_or_number_type(t: ValType | None) -> bool:
    """Whether stream elements of type ``t`` may be copied within one instance.

    The spec (temporarily) allows same-instance stream copies only for
    value-less streams and plain numbers.
    """
    return t is None or isinstance(
        t, U8Type | U16Type | U32Type | U64Type | S8Type | S16Type | S32Type | S64Type
        | F32Type | F64Type)
