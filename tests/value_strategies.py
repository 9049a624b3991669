"""Hypothesis strategies for component value types and values of those types.

Also the small test harness shared by the value tests: a bump allocator used
as ``realloc`` and a lifting/lowering context that keeps handles in a dict.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from hypothesis import strategies as st

from stackswitch.canon.options import CanonicalOptions, LiftLowerContext, StringEncoding
from stackswitch.canon.types import (
    BoolType,
    BorrowType,
    CaseType,
    CharType,
    EnumType,
    ErrorContextType,
    F32Type,
    F64Type,
    FieldType,
    FlagsType,
    FutureType,
    ListType,
    MapType,
    OptionType,
    OwnType,
    RecordType,
    ResultType,
    S8Type,
    S16Type,
    S32Type,
    S64Type,
    StreamType,
    StringType,
    TupleType,
    U8Type,
    U16Type,
    U32Type,
    U64Type,
    ValType,
    Variant,
    VariantType,
)
from stackswitch.canon.values import align_to
from stackswitch.wasm.memory import LinearMemory, PtrType


class Resource:
    """A stand-in resource type: only its identity matters."""

    def __init__(self, name: str) -> None:
        self.name = name


RT = Resource("r")


class Bump:
    """A ``realloc`` that bumps a pointer, copies the old contents and records its calls."""

    def __init__(self, memory: LinearMemory, start: int = 16) -> None:
        self.memory = memory
        self.top = start
        self.calls: list[tuple[int, int, int, int]] = []

    def __call__(self, old_ptr: int, old_size: int, align: int, new_size: int) -> int:
        self.calls.append((old_ptr, old_size, align, new_size))
        ptr = align_to(self.top, align)
        while ptr + new_size > len(self.memory):
            assert self.memory.grow(1) != -1
        if old_size:
            self.memory.write(ptr, self.memory.read(old_ptr, min(old_size, new_size)))
        self.top = ptr + new_size
        return ptr


class HandleContext(LiftLowerContext):
    """Lowering a handle value puts it in a dict; lifting takes it back out."""

    def __init__(self, opts: CanonicalOptions) -> None:
        super().__init__(opts)
        self.handles: dict[int, tuple[ValType, Any]] = {}
        self.next_index = 1

    def lower_handle(self, t: Any, v: Any) -> int:
        i = self.next_index
        self.next_index += 1
        self.handles[i] = (t, v)
        return i

    def lift_handle(self, t: Any, i: int) -> Any:
        stored_t, v = self.handles.pop(i)
        assert stored_t == t
        return v


def make_cx(encoding: StringEncoding = "utf8", ptr_type: PtrType = "i32",
            pages: int = 1) -> tuple[HandleContext, LinearMemory, Bump]:
    memory = LinearMemory(pages, ptr_type=ptr_type)
    bump = Bump(memory)
    cx = HandleContext(CanonicalOptions(encoding, memory, bump))
    return cx, memory, bump


LEAF_TYPES: list[ValType] = [
    BoolType(), S8Type(), U8Type(), S16Type(), U16Type(), S32Type(), U32Type(),
    S64Type(), U64Type(), F32Type(), F64Type(), CharType(), StringType(),
    ErrorContextType(), OwnType(RT), BorrowType(RT), StreamType(), StreamType(U8Type()),
    FutureType(StringType()),
]

label = st.from_regex(r"[a-z][a-z0-9]{0,2}", fullmatch=True)
labels = st.lists(label, min_size=1, max_size=4, unique=True)


def _records(children: st.SearchStrategy[ValType]) -> st.SearchStrategy[ValType]:
    return labels.flatmap(lambda ls: st.lists(children, min_size=len(ls), max_size=len(ls)).map(
        lambda ts: RecordType([FieldType(lb, t) for lb, t in zip(ls, ts, strict=True)])))


def _variants(children: st.SearchStrategy[ValType]) -> st.SearchStrategy[ValType]:
    payloads = st.none() | children
    return labels.flatmap(lambda ls: st.lists(payloads, min_size=len(ls), max_size=len(ls)).map(
        lambda ts: VariantType([CaseType(lb, t) for lb, t in zip(ls, ts, strict=True)])))


def _extend(children: st.SearchStrategy[ValType]) -> st.SearchStrategy[ValType]:
    return st.one_of(
        st.builds(ListType, children),
        st.builds(ListType, children, st.integers(1, 3)),
        _records(children),
        st.lists(children, min_size=1, max_size=3).map(TupleType),
        _variants(children),
        labels.map(EnumType),
        st.builds(OptionType, children),
        st.builds(ResultType, st.none() | children, st.none() | children),
        st.lists(label, min_size=1, max_size=40, unique=True).map(FlagsType),
        st.builds(MapType, children, children),
    )


value_types: st.SearchStrategy[ValType] = st.recursive(
    st.sampled_from(LEAF_TYPES), _extend, max_leaves=5)

_strings = st.one_of(
    st.text(st.characters(max_codepoint=0x7F), max_size=6),
    st.text(st.characters(max_codepoint=0xFF), max_size=6),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=6),
)

_INT_RANGES = {
    S8Type: 8, S16Type: 16, S32Type: 32, S64Type: 64,
    U8Type: 8, U16Type: 16, U32Type: 32, U64Type: 64,
}


def values_for(t: ValType) -> st.SearchStrategy[Any]:
    """Values of type ``t`` in the representation lowering accepts."""
    match t:
        case BoolType():
            return st.booleans()
        case S8Type() | S16Type() | S32Type() | S64Type():
            bits = _INT_RANGES[type(t)]
            return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        case U8Type() | U16Type() | U32Type() | U64Type():
            return st.integers(0, (1 << _INT_RANGES[type(t)]) - 1)
        case F32Type():
            return st.floats(width=32)
        case F64Type():
            return st.floats()
        case CharType():
            return st.characters(exclude_categories=["Cs"])
        case StringType():
            return _strings
        case ErrorContextType() | OwnType() | BorrowType() | StreamType() | FutureType():
            return st.integers(0, 1000)
        case ListType(u, None):
            return st.lists(values_for(u), max_size=3)
        case ListType(u, n):
            return st.lists(values_for(u), min_size=n, max_size=n)
        case RecordType(fields):
            return st.fixed_dictionaries({f.label: values_for(f.t) for f in fields})
        case TupleType(ts):
            return st.tuples(*(values_for(u) for u in ts))
        case VariantType(cases):
            return st.one_of(*(_case(c.label, c.t) for c in cases))
        case EnumType(ls):
            return st.sampled_from(ls)
        case OptionType(u):
            return _case("none", None) | _case("some", u)
        case ResultType(ok, error):
            return _case("ok", ok) | _case("error", error)
        case FlagsType(ls):
            return st.frozensets(st.sampled_from(ls))
        case MapType(k, v):
            return st.lists(st.tuples(values_for(k), values_for(v)), max_size=3)
    raise AssertionError(t)


def _case(name: str, t: ValType | None) -> st.SearchStrategy[Variant]:
    if t is None:
        return st.just(Variant(name))
    return values_for(t).map(lambda v: Variant(name, v))


typed_values = value_types.flatmap(lambda t: st.tuples(st.just(t), values_for(t)))

CANONICAL_NAN_BITS = 0x7FF8000000000000


def same(expected: Any, got: Any) -> bool:
    """Structural equality where every NaN must come back as the canonical NaN."""
    if isinstance(expected, float):
        if not isinstance(got, float):
            return False
        if math.isnan(expected):
            return struct.pack("<d", got) == struct.pack("<Q", CANONICAL_NAN_BITS)
        return struct.pack("<d", expected) == struct.pack("<d", got)
    if isinstance(expected, Variant):
        return (isinstance(got, Variant) and expected.case == got.case
                and same(expected.value, got.value))
    if isinstance(expected, dict):
        return (isinstance(got, dict) and expected.keys() == got.keys()
                and all(same(expected[k], got[k]) for k in expected))
    if isinstance(expected, list | tuple):
        return (type(got) is type(expected) and len(got) == len(expected)
                and all(same(e, g) for e, g in zip(expected, got, strict=True)))
    if isinstance(expected, str):
        return isinstance(got, str) and expected == got
    return type(expected) is type(got) and expected == got
