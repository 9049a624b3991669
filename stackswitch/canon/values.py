"""The value ABI: how component values are laid out in memory and in core values.

Spec sections "Alignment" through "Lifting and Lowering Values", plus
``flatten_functype``.

Core values
    ``i32`` and ``i64`` are Python ints in *unsigned* form, in ``[0, 2**32)``
    and ``[0, 2**64)``; ``f32`` and ``f64`` are Python floats (an ``f32`` is
    a float that binary32 represents exactly). A core value of the wrong
    form is a host bug and raises ``TypeError``.

Component values
    ========================  ==============================================
    bool                      ``bool``
    s8 ... u64                ``int``
    f32, f64                  ``float``
    char                      a one-character ``str``
    string                    ``str``: lifting returns a :class:`LiftedString`,
                              a ``str`` that remembers the guest's encoding;
                              a plain ``str`` is stored as if it were UTF-8
    list<t>, list<t, n>       ``list`` (lowering takes any sequence, e.g.
                              ``bytes`` for ``list<u8>``)
    record                    ``dict`` label -> value
    tuple                     ``tuple``
    variant, option, result   :class:`~.types.Variant` ``(case, value)``;
                              option cases are ``none``/``some``, result
                              cases ``ok``/``error``
    enum                      the label (``str``)
    flags                     ``frozenset`` of the labels that are set
                              (lowering takes any iterable of labels, or a
                              mapping label -> bool)
    map                       ``list`` of ``(key, value)`` tuples (lowering
                              also takes a mapping)
    own, borrow, stream,      whatever ``cx.lift_handle`` returns and
    future, error-context     ``cx.lower_handle`` takes
    ========================  ==============================================

Floats
    Lifting turns every NaN into the canonical NaN (bits ``0x7fc00000`` /
    ``0x7ff8000000000000``), and lowering writes the canonical NaN as well:
    the spec lets lowering pick any NaN, and we choose to be deterministic.
    The conversions live in :mod:`.float_bits`, which the text formats share.

Traps
    Messages use wasmtime's words. Wasmtime phrases several rules twice: in
    its fused adapters for component-to-component calls (the trap codes in
    ``crates/environ/src/trap_encoding.rs``) and in its host API
    (``crates/wasmtime/src/runtime/component/func/typed.rs``, ``values.rs``,
    ``func/options.rs``). Both kinds of caller go through the same code here,
    so those messages read ``"<adapter words>: <host words>"`` and either
    text matches as a substring.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ..errors import Trap, trap_if
from ..wasm.memory import Memory, PtrType, ptr_size
from .float_bits import CANONICAL_FLOAT32_NAN as CANONICAL_FLOAT32_NAN
from .float_bits import CANONICAL_FLOAT64_NAN as CANONICAL_FLOAT64_NAN
from .float_bits import (
    CANONICAL_NAN,
    f32_bits,
    f32_from_bits,
    f64_bits,
    f64_from_bits,
    to_f32,
    to_f64,
)
from .options import CanonicalOptions, LiftLowerContext, StringEncoding
from .types import (
    BoolType,
    BorrowType,
    CharType,
    EnumType,
    ErrorContextType,
    F32Type,
    F64Type,
    FlagsType,
    FuncType,
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

CoreType = Literal["i32", "i64", "f32", "f64"]

MAX_FLAT_PARAMS = 16
MAX_FLAT_ASYNC_PARAMS = 4
MAX_FLAT_RESULTS = 1

MAX_STRING_BYTE_LENGTH = (1 << 28) - 1
MAX_LIST_BYTE_LENGTH = (1 << 28) - 1

# --- Trap messages --------------------------------------------------------
# "adapter" = wasmtime's fused-adapter trap code, "host" = wasmtime's host API.
# Adapter traps print as "wasm trap: <message>" in wasmtime, so they carry the
# prefix here too (the spec's value tests check for it).

# adapter StringOutOfBounds + host WasmStr::new
STRING_OUT_OF_BOUNDS = "wasm trap: string content out-of-bounds: string pointer/length out of bounds of memory"
# adapter StringOutOfBounds + own detail (the host API has no separate check)
STRING_TOO_LONG = "wasm trap: string content out-of-bounds: string byte length exceeds 2^28 - 1"
# adapter UnalignedPointer + host WasmStr::new (only utf16 strings need alignment)
STRING_UNALIGNED = "wasm trap: unaligned pointer: string pointer not aligned to 2"
# adapter transcoder libcall + host (Rust's Utf8Error / DecodeUtf16Error text)
INVALID_UTF8 = "wasm trap: invalid utf8 encoding: {detail}"
INVALID_UTF16 = "wasm trap: invalid utf16 encoding: unpaired surrogate found: {unit:x}"
# host func/typed.rs: storing a host string longer than any guest string can be
HOST_STRING_TOO_LONG = "string length of {length} too large to copy into wasm"
# adapter ListOutOfBounds + host lift of a list
LIST_OUT_OF_BOUNDS = "wasm trap: list content out-of-bounds: list pointer/length out of bounds of memory"
# adapter ListOutOfBounds + own detail
LIST_TOO_LONG = "wasm trap: list content out-of-bounds: list byte length exceeds 2^28 - 1"
# adapter UnalignedPointer + host lift of a list
LIST_UNALIGNED = "wasm trap: unaligned pointer: list pointer is not aligned"
# adapter InvalidChar + host (Rust's CharTryFromError text)
INVALID_CHAR = "wasm trap: invalid `char` bit pattern: converted integer out of range for `char`"
# adapter InvalidDiscriminant + host values.rs (also used for enums, options, results)
INVALID_DISCRIMINANT = "wasm trap: invalid variant discriminant: discriminant {index} out of range [0..{count})"
# adapter UnalignedPointer + host func/options.rs
REALLOC_UNALIGNED = "wasm trap: unaligned pointer: realloc return: result not aligned"
# adapter String/ListOutOfBounds or MemoryOutOfBounds + host func/options.rs
REALLOC_STRING_OUT_OF_BOUNDS = "wasm trap: string content out-of-bounds: realloc return: beyond end of memory"
REALLOC_LIST_OUT_OF_BOUNDS = "wasm trap: list content out-of-bounds: realloc return: beyond end of memory"
REALLOC_OUT_OF_BOUNDS = "wasm trap: out of bounds memory access: realloc return: beyond end of memory"
# The pointer to parameters or results that did not fit in core values:
# adapter UnalignedPointer + own detail, and adapter MemoryOutOfBounds + host func.rs
SPILL_UNALIGNED = "wasm trap: unaligned pointer: pointer to spilled values not aligned to {align}"
SPILL_OUT_OF_BOUNDS = "wasm trap: out of bounds memory access: pointer out of bounds of memory"


# --- Small helpers ----------------------------------------------------------

def align_to(ptr: int, alignment: int) -> int:
    """Round ``ptr`` up to a multiple of ``alignment``."""
    return -(-ptr // alignment) * alignment


def _utf16_tag(ptr_type: PtrType) -> int:
    """The high bit of a ``latin1+utf16`` length that marks UTF-16 contents."""
    return 1 << (8 * ptr_size(ptr_type) - 1)


def _ptr_type(cx: LiftLowerContext) -> PtrType:
    memory = cx.opts.memory
    return "i32" if memory is None else memory.ptr_type


_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")
_PTR_PAIR = {"i32": struct.Struct("<II"), "i64": struct.Struct("<QQ")}

def _check_char(i: int) -> str:
    trap_if(i >= 0x110000 or 0xD800 <= i <= 0xDFFF, INVALID_CHAR)
    return chr(i)


def _char_to_i32(c: str) -> int:
    if not isinstance(c, str) or len(c) != 1:
        raise TypeError(f"a char value must be a one-character str, not {c!r}")
    i = ord(c)
    if 0xD800 <= i <= 0xDFFF:
        raise ValueError(f"a char must be a Unicode scalar value, not the surrogate {i:#x}")
    return i


# --- Integer types --------------------------------------------------------

@dataclass(frozen=True)
class _IntInfo:
    code: str  # struct format character
    bits: int
    signed: bool
    core: CoreType

    @property
    def low(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def high(self) -> int:
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1


_INTS: dict[type, _IntInfo] = {
    U8Type: _IntInfo("B", 8, False, "i32"),
    S8Type: _IntInfo("b", 8, True, "i32"),
    U16Type: _IntInfo("H", 16, False, "i32"),
    S16Type: _IntInfo("h", 16, True, "i32"),
    U32Type: _IntInfo("I", 32, False, "i32"),
    S32Type: _IntInfo("i", 32, True, "i32"),
    U64Type: _IntInfo("Q", 64, False, "i64"),
    S64Type: _IntInfo("q", 64, True, "i64"),
}


def _check_int(v: Any, t: ValType, info: _IntInfo) -> int:
    """Host values are trusted by the spec; we still catch ones that cannot be right."""
    if not isinstance(v, int):
        raise TypeError(f"a {t!r} value must be an int, not {v!r}")
    if not info.low <= v <= info.high:
        raise ValueError(f"{v} is out of range for {t!r}")
    return v


# --- Layout -------------------------------------------------------------

@dataclass
class _Layout:
    """Everything about a type's ABI that depends only on the type and pointer type."""

    size: int
    align: int
    flat: list[CoreType]
    offsets: list[int] = field(default_factory=list)  # record fields
    disc_size: int = 0  # variants
    payload_offset: int = 0  # variants


def _fields(t: ValType) -> tuple[tuple[str, ValType], ...]:
    """(label, type) of a record or tuple, in order."""
    cache = t._abi_cache
    fields = cache.get("fields")
    if fields is None:
        if isinstance(t, TupleType):
            fields = tuple((str(i), u) for i, u in enumerate(t.ts))
        else:
            assert isinstance(t, RecordType)
            fields = tuple((f.label, f.t) for f in t.fields)
        cache["fields"] = fields
    return fields


def _cases(t: ValType) -> tuple[tuple[str, ValType | None], ...]:
    """(label, payload type or None) of a variant, enum, option or result, in order."""
    cache = t._abi_cache
    cases = cache.get("cases")
    if cases is None:
        match t:
            case VariantType(cs):
                cases = tuple((c.label, c.t) for c in cs)
            case EnumType(labels):
                cases = tuple((label, None) for label in labels)
            case OptionType(u):
                cases = (("none", None), ("some", u))
            case ResultType(ok, error):
                cases = (("ok", ok), ("error", error))
        cache["cases"] = cases
        cache["case_index"] = {label: i for i, (label, _) in enumerate(cases)}
    return cases


def _case_index(t: ValType) -> dict[str, int]:
    _cases(t)
    return t._abi_cache["case_index"]


def _map_entry(t: MapType) -> TupleType:
    """The ``tuple<k, v>`` a map is a list of."""
    entry = t._abi_cache.get("entry")
    if entry is None:
        entry = t._abi_cache["entry"] = TupleType([t.k, t.v])
    return entry


def _flag_words(t: FlagsType) -> int:
    """How many i32s the flags flatten to.

    The current spec caps flags at 32 labels (one i32); for more we keep the
    earlier spec's layout of one i32 word per 32 labels.
    """
    return -(-len(t.labels) // 32)


def _discriminant_size(n: int) -> int:
    """Bytes of the smallest unsigned integer numbering ``n`` cases."""
    if n <= 1 << 8:
        return 1
    if n <= 1 << 16:
        return 2
    return 4


def _join(a: CoreType, b: CoreType) -> CoreType:
    """The core type that can carry both ``a`` and ``b`` bits (variant flattening)."""
    if a == b:
        return a
    if {a, b} == {"i32", "f32"}:
        return "i32"
    return "i64"


_SCALARS: dict[type, tuple[int, CoreType]] = {
    BoolType: (1, "i32"),
    F32Type: (4, "f32"),
    F64Type: (8, "f64"),
    CharType: (4, "i32"),
    ErrorContextType: (4, "i32"),
    OwnType: (4, "i32"),
    BorrowType: (4, "i32"),
    StreamType: (4, "i32"),
    FutureType: (4, "i32"),
    **{cls: (info.bits // 8, info.core) for cls, info in _INTS.items()},
}


def _compute_layout(t: ValType, pt: PtrType) -> _Layout:
    scalar = _lookup(_SCALARS, t, None)
    if scalar is not None:
        size, core = scalar
        return _Layout(size, size, [core])
    ps = ptr_size(pt)
    match t:
        case StringType() | MapType():
            return _Layout(2 * ps, ps, [pt, pt])
        case ListType(elem, None):
            return _Layout(2 * ps, ps, [pt, pt])
        case ListType(elem, length):
            e = _layout(elem, pt)
            return _Layout(length * e.size, e.align, e.flat * length)
        case RecordType() | TupleType():
            offsets, flat = [], []
            size, align = 0, 1
            for _, ft in _fields(t):
                f = _layout(ft, pt)
                size = align_to(size, f.align)
                offsets.append(size)
                size += f.size
                align = max(align, f.align)
                flat += f.flat
            return _Layout(align_to(size, align), align, flat, offsets=offsets)
        case VariantType() | EnumType() | OptionType() | ResultType():
            cases = _cases(t)
            disc = _discriminant_size(len(cases))
            payloads = [_layout(ct, pt) for _, ct in cases if ct is not None]
            case_align = max((p.align for p in payloads), default=1)
            payload_offset = align_to(disc, case_align)
            align = max(disc, case_align)
            size = align_to(payload_offset + max((p.size for p in payloads), default=0), align)
            joined: list[CoreType] = []
            for p in payloads:
                for i, ft in enumerate(p.flat):
                    if i < len(joined):
                        joined[i] = _join(joined[i], ft)
                    else:
                        joined.append(ft)
            return _Layout(size, align, ["i32", *joined], disc_size=disc,
                           payload_offset=payload_offset)
        case FlagsType(labels):
            n = len(labels)
            size = 1 if n <= 8 else 2 if n <= 16 else 4 * _flag_words(t)
            return _Layout(size, min(size, 4), ["i32"] * _flag_words(t))
    raise TypeError(f"not a value type: {t!r}")


def _layout(t: ValType, pt: PtrType) -> _Layout:
    try:
        cache = t._abi_cache
    except AttributeError:
        raise TypeError(f"not a value type: {t!r}") from None
    layout = cache.get(pt)
    if layout is None:
        layout = cache[pt] = _compute_layout(t, pt)
    return layout


def alignment(t: ValType, ptr_type: PtrType = "i32") -> int:
    """Alignment in bytes of a value of type ``t`` in memory."""
    return _layout(t, ptr_type).align


def elem_size(t: ValType, ptr_type: PtrType = "i32") -> int:
    """Bytes a value of type ``t`` takes in memory, e.g. as a list element."""
    return _layout(t, ptr_type).size


def size_and_alignment(t: ValType, ptr_type: PtrType = "i32") -> tuple[int, int]:
    """``(elem_size(t), alignment(t))`` in one lookup (a stream buffer needs both per copy)."""
    try:  # _layout's cache, read inline (hot: twice per stream chunk)
        layout = t._abi_cache[ptr_type]
    except (AttributeError, KeyError):
        layout = _layout(t, ptr_type)
    return layout.size, layout.align


def flatten_type(t: ValType, ptr_type: PtrType = "i32") -> list[CoreType]:
    """The core types that carry a value of type ``t`` as parameters or results."""
    return list(_layout(t, ptr_type).flat)


def flatten_types(ts: Sequence[ValType], ptr_type: PtrType = "i32") -> list[CoreType]:
    return [core for t in ts for core in _layout(t, ptr_type).flat]


def _flat_count(ts: Sequence[ValType], pt: PtrType) -> int:
    if not ts:  # the common case of calls with no parameters or no results
        return 0
    return sum(len(_layout(t, pt).flat) for t in ts)


@dataclass
class FlatFuncType:
    """The flat core signature of a component function type (``flatten_functype``)."""

    params: list[CoreType]
    results: list[CoreType]

    def __str__(self) -> str:
        parts = ["func"]
        if self.params:
            parts.append(f"(param {' '.join(self.params)})")
        if self.results:
            parts.append(f"(result {' '.join(self.results)})")
        return "(" + " ".join(parts) + ")"


def flatten_functype(opts: CanonicalOptions, ft: FuncType,
                     context: Literal["lift", "lower"]) -> FlatFuncType:
    """The core signature of a lifted callee or of a lowered import.

    Too many parameters are passed as one pointer to a tuple in memory.
    Synchronously, a single flat result is returned directly and larger ones
    go through a returned pointer (lift) or a caller-supplied out-pointer
    (lower). Asynchronously, a lowered import takes at most 4 flat params,
    always writes results through an out-pointer and returns an i32 status;
    a lifted export returns an i32 code if it has a callback and nothing if
    it is stackful (it delivers results with ``task.return``).
    """
    pt = opts.ptr_type
    params = flatten_types(ft.param_types(), pt)
    results = flatten_types(ft.result_types(), pt)
    if not opts.async_:
        if len(params) > MAX_FLAT_PARAMS:
            params = [pt]
        if len(results) > MAX_FLAT_RESULTS:
            if context == "lift":
                results = [pt]
            else:
                params = [*params, pt]
                results = []
    elif context == "lift":
        if len(params) > MAX_FLAT_PARAMS:
            params = [pt]
        results = ["i32"] if opts.callback is not None else []
    else:
        if len(params) > MAX_FLAT_ASYNC_PARAMS:
            params = [pt]
        if results:
            params = [*params, pt]
        results = ["i32"]
    return FlatFuncType(params, results)


def _lookup(table: dict[type, Any], t: object, default: Any = ...) -> Any:
    """``table[type(t)]``, also for subclasses of the types in the table."""
    handler = table.get(type(t))
    if handler is None:
        for cls in type(t).__mro__[1:]:
            handler = table.get(cls)
            if handler is not None:
                table[type(t)] = handler
                break
    if handler is None:
        if default is ...:
            raise TypeError(f"not a value type: {t!r}")
        return default
    return handler


# --- Strings ---------------------------------------------------------------

class LiftedString(str):
    """A ``str`` lifted from a guest, remembering how the guest encoded it.

    Storing a string calls ``realloc`` in a pattern the guest can observe,
    and the spec chooses the pattern from the source encoding and its number
    of code units. ``encoding`` is the source's ``string-encoding`` canonopt,
    ``code_units`` the (untagged) length, and ``utf16`` whether the contents
    were UTF-16 (always for ``'utf16'``, by choice for ``'latin1+utf16'``).
    """

    encoding: StringEncoding
    code_units: int
    utf16: bool

    def __new__(cls, value: str, encoding: StringEncoding = "utf8",
                code_units: int | None = None, utf16: bool | None = None) -> LiftedString:
        s = super().__new__(cls, value)
        s.encoding = encoding
        s.utf16 = (encoding == "utf16") if utf16 is None else utf16
        if code_units is None:
            code_units = len(value.encode("utf-16-le" if s.utf16 else
                                          "latin-1" if encoding == "latin1+utf16" else "utf-8"))
            code_units //= 2 if s.utf16 else 1
        s.code_units = code_units
        return s


_NON_ASCII = re.compile("[^\x00-\x7f]")
_NON_LATIN1 = re.compile("[^\x00-\xff]")


def load_string(cx: LiftLowerContext, ptr: int) -> LiftedString:
    """Load a string from its (pointer, tagged length) pair at ``ptr``."""
    memory = cx.memory
    pair = _PTR_PAIR[memory.ptr_type]
    begin, tagged_code_units = pair.unpack(memory.read(ptr, pair.size))
    return load_string_from_range(cx, begin, tagged_code_units)


def load_string_from_range(cx: LiftLowerContext, ptr: int,
                           tagged_code_units: int) -> LiftedString:
    """Decode the string of ``tagged_code_units`` code units at ``ptr``."""
    memory = cx.memory
    encoding = cx.opts.string_encoding
    utf16 = encoding == "utf16"
    code_units = tagged_code_units
    if encoding == "latin1+utf16":
        tag = _utf16_tag(memory.ptr_type)
        utf16 = bool(tagged_code_units & tag)
        code_units = tagged_code_units & ~tag
    byte_length = 2 * code_units if utf16 else code_units
    trap_if(byte_length > MAX_STRING_BYTE_LENGTH, STRING_TOO_LONG)
    trap_if(encoding != "utf8" and ptr % 2 != 0, STRING_UNALIGNED)
    trap_if(ptr + byte_length > len(memory), STRING_OUT_OF_BOUNDS)
    cx.consume_fuel(byte_length)
    data = memory.read(ptr, byte_length)
    if utf16:
        text = _decode_utf16(data)
    elif encoding == "utf8":
        text = _decode_utf8(data)
    else:
        text = data.decode("latin-1")
    return LiftedString(text, encoding, code_units, utf16)


def _decode_utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        # Say it the way Rust's Utf8Error does, as wasmtime's host API shows it.
        if e.reason == "unexpected end of data":
            detail = f"incomplete utf-8 byte sequence from index {e.start}"
        else:
            detail = f"invalid utf-8 sequence of {e.end - e.start} bytes from index {e.start}"
        raise Trap(INVALID_UTF8.format(detail=detail)) from None


def _decode_utf16(data: bytes) -> str:
    try:
        return data.decode("utf-16-le")
    except UnicodeDecodeError as e:
        unit = int.from_bytes(data[e.start:e.start + 2], "little")
        raise Trap(INVALID_UTF16.format(unit=unit)) from None


def store_string(cx: LiftLowerContext, v: str, ptr: int) -> None:
    """Store string ``v`` and write its (pointer, tagged length) pair at ``ptr``."""
    begin, tagged_code_units = store_string_into_range(cx, v)
    memory = cx.memory
    memory.write(ptr, _PTR_PAIR[memory.ptr_type].pack(begin, tagged_code_units))


def store_string_into_range(cx: LiftLowerContext, v: str) -> tuple[int, int]:
    """Copy ``v`` into freshly ``realloc``-ed memory; returns (pointer, tagged length).

    Follows the spec's transcoding cases exactly, since the guest's realloc
    sees every call: it allocates from the source's encoding and length,
    then grows to the worst case or shrinks to fit as the copy requires.
    """
    if isinstance(v, LiftedString):
        src_encoding, src_utf16, src_code_units = v.encoding, v.utf16, v.code_units
    elif isinstance(v, str):
        src_encoding, src_utf16, src_code_units = "utf8", False, len(v.encode("utf-8"))
        trap_if(src_code_units > MAX_STRING_BYTE_LENGTH,
                HOST_STRING_TOO_LONG.format(length=src_code_units))
    else:
        raise TypeError(f"a string value must be a str, not {v!r}")
    src_simple = "utf16" if src_utf16 else "latin1" if src_encoding == "latin1+utf16" else "utf8"
    match cx.opts.string_encoding:
        case "utf8":
            if src_simple == "utf8":
                return _store_string_copy(cx, v, src_code_units, 1, 1, "utf-8")
            worst_case = src_code_units * (3 if src_simple == "utf16" else 2)
            return _store_string_to_utf8(cx, v, src_code_units, worst_case)
        case "utf16":
            if src_simple == "utf8":
                return _store_utf8_to_utf16(cx, v, src_code_units)
            return _store_string_copy(cx, v, src_code_units, 2, 2, "utf-16-le")
        case _:
            if src_encoding != "latin1+utf16":
                return _store_string_to_latin1_or_utf16(cx, v, src_code_units)
            if src_simple == "latin1":
                return _store_string_copy(cx, v, src_code_units, 1, 2, "latin-1")
            return _store_probably_utf16_to_latin1_or_utf16(cx, v, src_code_units)


def _check_realloc(memory: Memory, ptr: int, align: int, size: int, oob_message: str) -> None:
    trap_if(ptr % align != 0, REALLOC_UNALIGNED)
    trap_if(ptr + size > len(memory), oob_message)


def _store_string_copy(cx: LiftLowerContext, src: str, src_code_units: int,
                       dst_code_unit_size: int, dst_align: int,
                       codec: str) -> tuple[int, int]:
    """Same code units on both sides: allocate the exact size once and copy."""
    memory = cx.memory
    byte_length = dst_code_unit_size * src_code_units
    ptr = cx.allocate(dst_align, byte_length)
    _check_realloc(memory, ptr, dst_align, byte_length, REALLOC_STRING_OUT_OF_BOUNDS)
    encoded = src.encode(codec)
    if len(encoded) != byte_length:
        raise ValueError(f"string {src!r} does not have {src_code_units} code units")
    memory.write(ptr, encoded)
    return ptr, src_code_units


def _store_string_to_utf8(cx: LiftLowerContext, src: str, src_code_units: int,
                          worst_case: int) -> tuple[int, int]:
    """UTF-16 or Latin-1 to UTF-8: hope for ASCII, else grow to the worst case and shrink."""
    memory = cx.memory
    ptr = cx.allocate(1, src_code_units)
    _check_realloc(memory, ptr, 1, src_code_units, REALLOC_STRING_OUT_OF_BOUNDS)
    encoded = src.encode("utf-8")
    non_ascii = _NON_ASCII.search(src)
    if non_ascii is None:
        memory.write(ptr, encoded)
        return ptr, src_code_units
    ascii_length = non_ascii.start()
    memory.write(ptr, encoded[:ascii_length])
    ptr = cx.reallocate(ptr, src_code_units, 1, worst_case)
    _check_realloc(memory, ptr, 1, worst_case, REALLOC_STRING_OUT_OF_BOUNDS)
    memory.write(ptr + ascii_length, encoded[ascii_length:])
    if worst_case > len(encoded):
        ptr = cx.reallocate(ptr, worst_case, 1, len(encoded))
        _check_realloc(memory, ptr, 1, len(encoded), REALLOC_STRING_OUT_OF_BOUNDS)
    return ptr, len(encoded)


def _store_utf8_to_utf16(cx: LiftLowerContext, src: str, src_code_units: int) -> tuple[int, int]:
    """UTF-8 to UTF-16: allocate two bytes per UTF-8 byte, then shrink to fit."""
    memory = cx.memory
    worst_case = 2 * src_code_units
    ptr = cx.allocate(2, worst_case)
    _check_realloc(memory, ptr, 2, worst_case, REALLOC_STRING_OUT_OF_BOUNDS)
    encoded = src.encode("utf-16-le")
    memory.write(ptr, encoded)
    if len(encoded) < worst_case:
        ptr = cx.reallocate(ptr, worst_case, 2, len(encoded))
        _check_realloc(memory, ptr, 2, len(encoded), REALLOC_STRING_OUT_OF_BOUNDS)
    return ptr, len(encoded) // 2


def _store_string_to_latin1_or_utf16(cx: LiftLowerContext, src: str,
                                     src_code_units: int) -> tuple[int, int]:
    """UTF-8 or UTF-16 to latin1+utf16: hope for Latin-1, else switch to UTF-16.

    On the first non-Latin-1 character the allocation grows to the UTF-16
    worst case and the Latin-1 bytes already copied are widened where they
    are (so they are read back from the memory realloc returned).
    """
    memory = cx.memory
    ptr = cx.allocate(2, src_code_units)
    _check_realloc(memory, ptr, 2, src_code_units, REALLOC_STRING_OUT_OF_BOUNDS)
    non_latin1 = _NON_LATIN1.search(src)
    if non_latin1 is None:
        latin1 = src.encode("latin-1")
        memory.write(ptr, latin1)
        if len(latin1) < src_code_units:
            ptr = cx.reallocate(ptr, src_code_units, 2, len(latin1))
            _check_realloc(memory, ptr, 2, len(latin1), REALLOC_STRING_OUT_OF_BOUNDS)
        return ptr, len(latin1)
    latin1_length = non_latin1.start()
    memory.write(ptr, src[:latin1_length].encode("latin-1"))
    worst_case = 2 * src_code_units
    ptr = cx.reallocate(ptr, src_code_units, 2, worst_case)
    _check_realloc(memory, ptr, 2, worst_case, REALLOC_STRING_OUT_OF_BOUNDS)
    if latin1_length:
        copied = memory.read(ptr, latin1_length)
        memory.write(ptr, copied.decode("latin-1").encode("utf-16-le"))
    encoded = src.encode("utf-16-le")
    memory.write(ptr + 2 * latin1_length, encoded[2 * latin1_length:])
    if worst_case > len(encoded):
        ptr = cx.reallocate(ptr, worst_case, 2, len(encoded))
        _check_realloc(memory, ptr, 2, len(encoded), REALLOC_STRING_OUT_OF_BOUNDS)
    return ptr, (len(encoded) // 2) | _utf16_tag(memory.ptr_type)


def _store_probably_utf16_to_latin1_or_utf16(cx: LiftLowerContext, src: str,
                                             src_code_units: int) -> tuple[int, int]:
    """UTF-16 chosen by a latin1+utf16 producer: copy as UTF-16, narrow if all Latin-1."""
    memory = cx.memory
    byte_length = 2 * src_code_units
    ptr = cx.allocate(2, byte_length)
    _check_realloc(memory, ptr, 2, byte_length, REALLOC_STRING_OUT_OF_BOUNDS)
    encoded = src.encode("utf-16-le")
    memory.write(ptr, encoded)
    if _NON_LATIN1.search(src) is not None:
        return ptr, (len(encoded) // 2) | _utf16_tag(memory.ptr_type)
    latin1_length = len(encoded) // 2
    memory.write(ptr, encoded[::2])
    ptr = cx.reallocate(ptr, byte_length, 1, latin1_length)
    _check_realloc(memory, ptr, 1, latin1_length, REALLOC_STRING_OUT_OF_BOUNDS)
    return ptr, latin1_length


# --- Lists -------------------------------------------------------------------

# Element types whose lists are packed and unpacked by ``struct`` in one go.
_PACKED: dict[type, str] = {cls: info.code for cls, info in _INTS.items()}
_PACKED.update({F32Type: "f", F64Type: "d"})


def load_list_from_range(cx: LiftLowerContext, ptr: int, length: int,
                         t: ValType) -> list[Any]:
    """Load ``length`` elements at ``ptr``, checking the guest's range first."""
    memory = cx.memory
    layout = _layout(t, memory.ptr_type)
    byte_length = length * layout.size
    trap_if(byte_length > MAX_LIST_BYTE_LENGTH, LIST_TOO_LONG)
    trap_if(ptr % layout.align != 0, LIST_UNALIGNED)
    trap_if(ptr + byte_length > len(memory), LIST_OUT_OF_BOUNDS)
    return load_list_from_valid_range(cx, ptr, length, t)


def load_list_from_valid_range(cx: LiftLowerContext, ptr: int, length: int,
                               t: ValType) -> list[Any]:
    """Load ``length`` elements at ``ptr``; the caller has checked the range."""
    memory = cx.memory
    pt = memory.ptr_type
    size = _layout(t, pt).size
    cx.consume_fuel(length * max(size, 8))  # a Python list slot is 8 bytes, whatever the element
    data = memory.read(ptr, length * size)
    code = _PACKED.get(type(t))
    if code is not None:
        items = list(struct.unpack(f"<{length}{code}", data))
        if code in "fd" and any(x != x for x in items):
            items = [CANONICAL_NAN if x != x else x for x in items]
        return items
    if type(t) is BoolType:
        return [b != 0 for b in data]
    return [_decode(cx, data, i * size, t, pt) for i in range(length)]


def store_list_into_range(cx: LiftLowerContext, vs: Sequence[Any],
                          t: ValType) -> tuple[int, int]:
    """Copy ``vs`` into freshly ``realloc``-ed memory; returns (pointer, length)."""
    memory = cx.memory
    layout = _layout(t, memory.ptr_type)
    byte_length = len(vs) * layout.size
    ptr = cx.allocate(layout.align, byte_length)
    _check_realloc(memory, ptr, layout.align, byte_length, REALLOC_LIST_OUT_OF_BOUNDS)
    store_list_into_valid_range(cx, vs, ptr, t)
    return ptr, len(vs)


def store_list_into_valid_range(cx: LiftLowerContext, vs: Sequence[Any], ptr: int,
                                t: ValType) -> None:
    """Store the elements ``vs`` at ``ptr``; the caller has checked the range."""
    memory = cx.memory
    pt = memory.ptr_type
    if not vs:
        return
    code = _PACKED.get(type(t))
    if code == "f":
        memory.write(ptr, struct.pack(f"<{len(vs)}I", *(f32_bits(v) for v in vs)))
    elif code == "d":
        memory.write(ptr, struct.pack(f"<{len(vs)}Q", *(f64_bits(v) for v in vs)))
    elif code is not None:
        try:
            memory.write(ptr, struct.pack(f"<{len(vs)}{code}", *vs))
        except struct.error:
            # Pinpoint the offending element with the single-value check.
            info = _INTS[type(t)]
            for v in vs:
                _check_int(v, t, info)
            raise  # pragma: no cover (the check above explains every struct.error)
    elif type(t) is BoolType:
        memory.write(ptr, bytes(1 if v else 0 for v in vs))
    else:
        size = _layout(t, pt).size
        for i, v in enumerate(vs):
            _store(cx, memory, v, t, ptr + i * size, pt)


# --- Loading -----------------------------------------------------------------
# Decoders read a value out of ``buf`` (the bytes of the enclosing value,
# read from memory once) at offset ``off``; strings and lists read their
# contents from memory.

_Decoder = Callable[[LiftLowerContext, bytes, int, Any, PtrType], Any]


def load(cx: LiftLowerContext, ptr: int, t: ValType) -> Any:
    """Load the value of type ``t`` at ``ptr`` (which the caller has checked)."""
    memory = cx.memory
    pt = memory.ptr_type
    return _decode(cx, memory.read(ptr, _layout(t, pt).size), 0, t, pt)


def _decode(cx: LiftLowerContext, buf: bytes, off: int, t: ValType, pt: PtrType) -> Any:
    return _lookup(_DECODERS, t)(cx, buf, off, t, pt)


def _int_decoder(code: str) -> _Decoder:
    fmt = struct.Struct("<" + code)
    return lambda cx, buf, off, t, pt: fmt.unpack_from(buf, off)[0]


def _decode_f32(cx: LiftLowerContext, buf: bytes, off: int, t: Any, pt: PtrType) -> float:
    f = _F32.unpack_from(buf, off)[0]
    return CANONICAL_NAN if f != f else f


def _decode_f64(cx: LiftLowerContext, buf: bytes, off: int, t: Any, pt: PtrType) -> float:
    f = _F64.unpack_from(buf, off)[0]
    return CANONICAL_NAN if f != f else f


def _decode_char(cx: LiftLowerContext, buf: bytes, off: int, t: Any, pt: PtrType) -> str:
    return _check_char(_U32.unpack_from(buf, off)[0])


def _decode_string(cx: LiftLowerContext, buf: bytes, off: int, t: Any, pt: PtrType) -> str:
    begin, tagged_code_units = _PTR_PAIR[pt].unpack_from(buf, off)
    return load_string_from_range(cx, begin, tagged_code_units)


def _decode_handle(cx: LiftLowerContext, buf: bytes, off: int, t: Any, pt: PtrType) -> Any:
    return cx.lift_handle(t, _U32.unpack_from(buf, off)[0])


def _decode_list(cx: LiftLowerContext, buf: bytes, off: int, t: ListType,
                 pt: PtrType) -> list[Any]:
    if t.length is not None:
        size = _layout(t.t, pt).size
        return [_decode(cx, buf, off + i * size, t.t, pt) for i in range(t.length)]
    begin, length = _PTR_PAIR[pt].unpack_from(buf, off)
    return load_list_from_range(cx, begin, length, t.t)


def _decode_map(cx: LiftLowerContext, buf: bytes, off: int, t: MapType,
                pt: PtrType) -> list[Any]:
    begin, length = _PTR_PAIR[pt].unpack_from(buf, off)
    return load_list_from_range(cx, begin, length, _map_entry(t))


def _decode_record(cx: LiftLowerContext, buf: bytes, off: int, t: RecordType,
                   pt: PtrType) -> dict[str, Any]:
    offsets = _layout(t, pt).offsets
    return {label: _decode(cx, buf, off + o, ft, pt)
            for (label, ft), o in zip(_fields(t), offsets, strict=True)}


def _decode_tuple(cx: LiftLowerContext, buf: bytes, off: int, t: TupleType,
                  pt: PtrType) -> tuple[Any, ...]:
    offsets = _layout(t, pt).offsets
    return tuple(_decode(cx, buf, off + o, ft, pt) for ft, o in zip(t.ts, offsets, strict=True))


def _decode_variant(cx: LiftLowerContext, buf: bytes, off: int, t: ValType,
                    pt: PtrType) -> Any:
    layout = _layout(t, pt)
    cases = _cases(t)
    index = int.from_bytes(buf[off:off + layout.disc_size], "little")
    trap_if(index >= len(cases), INVALID_DISCRIMINANT.format(index=index, count=len(cases)))
    label, ct = cases[index]
    if isinstance(t, EnumType):
        return label
    value = None if ct is None else _decode(cx, buf, off + layout.payload_offset, ct, pt)
    return Variant(label, value)


def _decode_flags(cx: LiftLowerContext, buf: bytes, off: int, t: FlagsType,
                  pt: PtrType) -> frozenset[str]:
    bits = int.from_bytes(buf[off:off + _layout(t, pt).size], "little")
    return _unpack_flags(bits, t)


def _unpack_flags(bits: int, t: FlagsType) -> frozenset[str]:
    """The labels whose bits are set; bits past the last label are ignored."""
    return frozenset(label for i, label in enumerate(t.labels) if bits >> i & 1)


_DECODERS: dict[type, _Decoder] = {
    BoolType: lambda cx, buf, off, t, pt: buf[off] != 0,
    **{cls: _int_decoder(info.code) for cls, info in _INTS.items()},
    F32Type: _decode_f32,
    F64Type: _decode_f64,
    CharType: _decode_char,
    StringType: _decode_string,
    ErrorContextType: _decode_handle,
    OwnType: _decode_handle,
    BorrowType: _decode_handle,
    StreamType: _decode_handle,
    FutureType: _decode_handle,
    ListType: _decode_list,
    MapType: _decode_map,
    RecordType: _decode_record,
    TupleType: _decode_tuple,
    VariantType: _decode_variant,
    EnumType: _decode_variant,
    OptionType: _decode_variant,
    ResultType: _decode_variant,
    FlagsType: _decode_flags,
}


# --- Storing -----------------------------------------------------------------
# Encoders write each scalar as they reach it, in field order, so that a
# guest's realloc (called for nested strings and lists) sees memory exactly
# as the spec's store would leave it at that point.

_Encoder = Callable[[LiftLowerContext, Memory, Any, Any, int, PtrType], None]


def store(cx: LiftLowerContext, v: Any, t: ValType, ptr: int) -> None:
    """Store ``v`` of type ``t`` at ``ptr`` (which the caller has checked)."""
    memory = cx.memory
    _store(cx, memory, v, t, ptr, memory.ptr_type)


def _store(cx: LiftLowerContext, memory: Memory, v: Any, t: ValType, ptr: int,
           pt: PtrType) -> None:
    _lookup(_ENCODERS, t)(cx, memory, v, t, ptr, pt)


def _int_encoder(info: _IntInfo) -> _Encoder:
    fmt = struct.Struct("<" + info.code)

    def encode(cx: LiftLowerContext, memory: Memory, v: Any, t: Any, ptr: int,
               pt: PtrType) -> None:
        memory.write(ptr, fmt.pack(_check_int(v, t, info)))

    return encode


def _encode_bool(cx: LiftLowerContext, memory: Memory, v: Any, t: Any, ptr: int,
                 pt: PtrType) -> None:
    memory.write(ptr, b"\x01" if v else b"\x00")


def _encode_f32(cx: LiftLowerContext, memory: Memory, v: Any, t: Any, ptr: int,
                pt: PtrType) -> None:
    memory.write(ptr, _U32.pack(f32_bits(v)))


def _encode_f64(cx: LiftLowerContext, memory: Memory, v: Any, t: Any, ptr: int,
                pt: PtrType) -> None:
    memory.write(ptr, _U64.pack(f64_bits(v)))


def _encode_char(cx: LiftLowerContext, memory: Memory, v: Any, t: Any, ptr: int,
                 pt: PtrType) -> None:
    memory.write(ptr, _U32.pack(_char_to_i32(v)))


def _encode_string(cx: LiftLowerContext, memory: Memory, v: Any, t: Any, ptr: int,
                   pt: PtrType) -> None:
    begin, tagged_code_units = store_string_into_range(cx, v)
    memory.write(ptr, _PTR_PAIR[pt].pack(begin, tagged_code_units))


def _lower_handle(cx: LiftLowerContext, v: Any, t: ValType) -> int:
    i = cx.lower_handle(t, v)
    if not isinstance(i, int) or not 0 <= i < 1 << 32:
        raise TypeError(f"lower_handle returned {i!r}, not an unsigned i32 index")
    return i


def _encode_handle(cx: LiftLowerContext, memory: Memory, v: Any, t: Any, ptr: int,
                   pt: PtrType) -> None:
    memory.write(ptr, _U32.pack(_lower_handle(cx, v, t)))


def _check_length(vs: Any, length: int, t: ValType) -> Sequence[Any]:
    if not isinstance(vs, Sequence) or isinstance(vs, str) or len(vs) != length:
        raise TypeError(f"a {t!r} value must be a sequence of {length} elements, not {vs!r}")
    return vs


def _as_list(vs: Any, t: ValType) -> Sequence[Any]:
    if not isinstance(vs, Sequence) or isinstance(vs, str):
        raise TypeError(f"a {t!r} value must be a sequence, not {vs!r}")
    return vs


def _map_entries(v: Any, t: MapType) -> Sequence[Any]:
    if isinstance(v, Mapping):
        return list(v.items())
    return _as_list(v, t)


def _encode_list(cx: LiftLowerContext, memory: Memory, v: Any, t: ListType, ptr: int,
                 pt: PtrType) -> None:
    if t.length is not None:
        store_list_into_valid_range(cx, _check_length(v, t.length, t), ptr, t.t)
        return
    begin, length = store_list_into_range(cx, _as_list(v, t), t.t)
    memory.write(ptr, _PTR_PAIR[pt].pack(begin, length))


def _encode_map(cx: LiftLowerContext, memory: Memory, v: Any, t: MapType, ptr: int,
                pt: PtrType) -> None:
    begin, length = store_list_into_range(cx, _map_entries(v, t), _map_entry(t))
    memory.write(ptr, _PTR_PAIR[pt].pack(begin, length))


def _field_values(v: Any, t: ValType) -> list[Any]:
    """The field values of a record (a mapping) or tuple (a sequence), in order."""
    if isinstance(t, TupleType):
        return list(_check_length(v, len(t.ts), t))
    if not isinstance(v, Mapping):
        raise TypeError(f"a {t!r} value must be a mapping of labels to values, not {v!r}")
    try:
        return [v[label] for label, _ in _fields(t)]
    except KeyError as e:
        raise TypeError(f"record value {v!r} has no field {e.args[0]!r}") from None


def _encode_record(cx: LiftLowerContext, memory: Memory, v: Any, t: ValType, ptr: int,
                   pt: PtrType) -> None:
    offsets = _layout(t, pt).offsets
    for fv, (_, ft), o in zip(_field_values(v, t), _fields(t), offsets, strict=True):
        _store(cx, memory, fv, ft, ptr + o, pt)


def _match_case(v: Any, t: ValType) -> tuple[int, Any, ValType | None]:
    """(case index, payload, payload type) of a variant-like value."""
    if isinstance(t, EnumType):
        label, payload = v, None
    elif isinstance(v, Variant):
        label, payload = v.case, v.value
    else:
        raise TypeError(f"a {t!r} value must be a Variant, not {v!r}")
    index = _case_index(t).get(label) if isinstance(label, str) else None
    if index is None:
        raise ValueError(f"{label!r} is not a case of {t!r}")
    ct = _cases(t)[index][1]
    if ct is None and payload is not None:
        raise ValueError(f"case {label!r} of {t!r} has no payload, got {payload!r}")
    return index, payload, ct


def _encode_variant(cx: LiftLowerContext, memory: Memory, v: Any, t: ValType, ptr: int,
                    pt: PtrType) -> None:
    index, payload, ct = _match_case(v, t)
    layout = _layout(t, pt)
    memory.write(ptr, index.to_bytes(layout.disc_size, "little"))
    if ct is not None:
        _store(cx, memory, payload, ct, ptr + layout.payload_offset, pt)


def _pack_flags(v: Any, t: FlagsType) -> int:
    if isinstance(v, Mapping):
        labels = [label for label, on in v.items() if on]
    elif isinstance(v, str) or not hasattr(v, "__iter__"):
        raise TypeError(f"a {t!r} value must be a set of labels, not {v!r}")
    else:
        labels = v
    index = t._abi_cache.get("flag_index")
    if index is None:
        index = t._abi_cache["flag_index"] = {label: i for i, label in enumerate(t.labels)}
    bits = 0
    for label in labels:
        if label not in index:
            raise ValueError(f"{label!r} is not a flag of {t!r}")
        bits |= 1 << index[label]
    return bits


def _encode_flags(cx: LiftLowerContext, memory: Memory, v: Any, t: FlagsType, ptr: int,
                  pt: PtrType) -> None:
    memory.write(ptr, _pack_flags(v, t).to_bytes(_layout(t, pt).size, "little"))


_ENCODERS: dict[type, _Encoder] = {
    BoolType: _encode_bool,
    **{cls: _int_encoder(info) for cls, info in _INTS.items()},
    F32Type: _encode_f32,
    F64Type: _encode_f64,
    CharType: _encode_char,
    StringType: _encode_string,
    ErrorContextType: _encode_handle,
    OwnType: _encode_handle,
    BorrowType: _encode_handle,
    StreamType: _encode_handle,
    FutureType: _encode_handle,
    ListType: _encode_list,
    MapType: _encode_map,
    RecordType: _encode_record,
    TupleType: _encode_record,
    VariantType: _encode_variant,
    EnumType: _encode_variant,
    OptionType: _encode_variant,
    ResultType: _encode_variant,
    FlagsType: _encode_flags,
}


# --- Flat lifting ------------------------------------------------------------

class ValueIter(Protocol):
    def next(self, t: CoreType) -> int | float: ...


class CoreValueIter:
    """Hands out a list of core values one at a time, each checked against its core type."""

    def __init__(self, values: Sequence[int | float]) -> None:
        self.values = values
        self.i = 0

    def next(self, t: CoreType) -> int | float:
        if self.i >= len(self.values):
            raise TypeError(f"expected another core value ({t}) after {list(self.values)!r}")
        v = self.values[self.i]
        self.i += 1
        if t == "i32" or t == "i64":
            bits = 32 if t == "i32" else 64
            if not isinstance(v, int) or not 0 <= v < 1 << bits:
                raise TypeError(f"core value {v!r} is not an unsigned {t}")
            return v
        if not isinstance(v, int | float):
            raise TypeError(f"core value {v!r} is not an {t}")
        return float(v)

    def done(self) -> bool:
        return self.i == len(self.values)


class _JoinedValueIter:
    """Reads a variant payload from the variant's joined flat slots.

    Each slot has the join of the cases' core types, so a payload value may
    arrive wider than its own type: an f32 as i32 bits, or an i32, f32 or
    f64 inside an i64 (whose high bits are dropped when narrowing to 32).
    """

    def __init__(self, vi: ValueIter, slots: list[CoreType]) -> None:
        self.vi = vi
        self.slots = slots
        self.i = 0

    def next(self, want: CoreType) -> int | float:
        have = self.slots[self.i]
        self.i += 1
        x = self.vi.next(have)
        if have == want:
            return x
        assert isinstance(x, int)
        if want == "f64":
            return f64_from_bits(x)
        x &= 0xFFFFFFFF
        return f32_from_bits(x) if want == "f32" else x

    def skip_rest(self) -> None:
        """Consume the slots the chosen case does not use."""
        for have in self.slots[self.i:]:
            self.vi.next(have)


def lift_flat(cx: LiftLowerContext, vi: ValueIter, t: ValType) -> Any:
    """Lift one value of type ``t`` from the core values ``vi`` hands out."""
    return _lookup(_LIFTERS, t)(cx, vi, t)


def _int_lifter(info: _IntInfo) -> Callable[[LiftLowerContext, ValueIter, Any], int]:
    """Keep the low bits of the core integer, read with the type's signedness."""
    mask = (1 << info.bits) - 1
    sign = 1 << (info.bits - 1)

    def lift(cx: LiftLowerContext, vi: ValueIter, t: Any) -> int:
        i = vi.next(info.core) & mask
        return i - (1 << info.bits) if info.signed and i & sign else i

    return lift


def _lift_flat_string(cx: LiftLowerContext, vi: ValueIter, t: Any) -> str:
    pt = cx.memory.ptr_type
    ptr = vi.next(pt)
    tagged_code_units = vi.next(pt)
    return load_string_from_range(cx, ptr, tagged_code_units)


def _lift_flat_list(cx: LiftLowerContext, vi: ValueIter, t: ListType) -> list[Any]:
    if t.length is not None:
        return [lift_flat(cx, vi, t.t) for _ in range(t.length)]
    pt = cx.memory.ptr_type
    ptr, length = vi.next(pt), vi.next(pt)
    return load_list_from_range(cx, ptr, length, t.t)


def _lift_flat_map(cx: LiftLowerContext, vi: ValueIter, t: MapType) -> list[Any]:
    pt = cx.memory.ptr_type
    ptr, length = vi.next(pt), vi.next(pt)
    return load_list_from_range(cx, ptr, length, _map_entry(t))


def _lift_flat_variant(cx: LiftLowerContext, vi: ValueIter, t: ValType) -> Any:
    cases = _cases(t)
    index = vi.next("i32")
    trap_if(index >= len(cases), INVALID_DISCRIMINANT.format(index=index, count=len(cases)))
    label, ct = cases[index]
    payload = _JoinedValueIter(vi, _layout(t, _ptr_type(cx)).flat[1:])
    value = None if ct is None else lift_flat(cx, payload, ct)
    payload.skip_rest()
    return label if isinstance(t, EnumType) else Variant(label, value)


def _lift_flat_flags(cx: LiftLowerContext, vi: ValueIter, t: FlagsType) -> frozenset[str]:
    bits = 0
    for word in range(_flag_words(t)):
        bits |= vi.next("i32") << (32 * word)
    return _unpack_flags(bits, t)


_LIFTERS: dict[type, Callable[[LiftLowerContext, ValueIter, Any], Any]] = {
    BoolType: lambda cx, vi, t: vi.next("i32") != 0,
    **{cls: _int_lifter(info) for cls, info in _INTS.items()},
    F32Type: lambda cx, vi, t: to_f32(vi.next("f32")),
    F64Type: lambda cx, vi, t: to_f64(vi.next("f64")),
    CharType: lambda cx, vi, t: _check_char(vi.next("i32")),
    StringType: _lift_flat_string,
    ErrorContextType: lambda cx, vi, t: cx.lift_handle(t, vi.next("i32")),
    OwnType: lambda cx, vi, t: cx.lift_handle(t, vi.next("i32")),
    BorrowType: lambda cx, vi, t: cx.lift_handle(t, vi.next("i32")),
    StreamType: lambda cx, vi, t: cx.lift_handle(t, vi.next("i32")),
    FutureType: lambda cx, vi, t: cx.lift_handle(t, vi.next("i32")),
    ListType: _lift_flat_list,
    MapType: _lift_flat_map,
    RecordType: lambda cx, vi, t: {label: lift_flat(cx, vi, ft) for label, ft in _fields(t)},
    TupleType: lambda cx, vi, t: tuple(lift_flat(cx, vi, ft) for ft in t.ts),
    VariantType: _lift_flat_variant,
    EnumType: _lift_flat_variant,
    OptionType: _lift_flat_variant,
    ResultType: _lift_flat_variant,
    FlagsType: _lift_flat_flags,
}


# --- Flat lowering -----------------------------------------------------------

def lower_flat(cx: LiftLowerContext, v: Any, t: ValType) -> list[int | float]:
    """Lower one value of type ``t`` to core values."""
    return _lookup(_LOWERERS, t)(cx, v, t)


def _int_lowerer(info: _IntInfo) -> Callable[[LiftLowerContext, Any, Any], list[int | float]]:
    """Signed values become their two's complement in the (unsigned) core integer."""
    # (The masks written out: Cython 3.3 compiles ``(1 << (32 if ... else 64)) - 1`` to 0.)
    mask = 0xFFFF_FFFF if info.core == "i32" else 0xFFFF_FFFF_FFFF_FFFF

    def lower(cx: LiftLowerContext, v: Any, t: Any) -> list[int | float]:
        return [_check_int(v, t, info) & mask]

    return lower


def _lower_flat_list(cx: LiftLowerContext, v: Any, t: ListType) -> list[int | float]:
    if t.length is not None:
        return [core for e in _check_length(v, t.length, t) for core in lower_flat(cx, e, t.t)]
    return list(store_list_into_range(cx, _as_list(v, t), t.t))


def _lower_flat_record(cx: LiftLowerContext, v: Any, t: ValType) -> list[int | float]:
    return [core for fv, (_, ft) in zip(_field_values(v, t), _fields(t), strict=True)
            for core in lower_flat(cx, fv, ft)]


def _lower_flat_variant(cx: LiftLowerContext, v: Any, t: ValType) -> list[int | float]:
    """The case index, then the payload widened to the joined slots, then zeros."""
    index, payload, ct = _match_case(v, t)
    slots = _layout(t, _ptr_type(cx)).flat[1:]
    flat: list[int | float] = [index]
    if ct is not None:
        haves = _layout(ct, _ptr_type(cx)).flat
        for x, have, want in zip(lower_flat(cx, payload, ct), haves, slots, strict=False):
            if have == "f32" and want != "f32":
                x = f32_bits(x)
            elif have == "f64" and want != "f64":
                x = f64_bits(x)
            flat.append(x)
    for want in slots[len(flat) - 1:]:
        flat.append(0.0 if want in ("f32", "f64") else 0)
    return flat


def _lower_flat_flags(cx: LiftLowerContext, v: Any, t: FlagsType) -> list[int | float]:
    bits = _pack_flags(v, t)
    return [(bits >> (32 * word)) & 0xFFFFFFFF for word in range(_flag_words(t))]


_LOWERERS: dict[type, Callable[[LiftLowerContext, Any, Any], list[int | float]]] = {
    BoolType: lambda cx, v, t: [1 if v else 0],
    **{cls: _int_lowerer(info) for cls, info in _INTS.items()},
    F32Type: lambda cx, v, t: [to_f32(v)],
    F64Type: lambda cx, v, t: [to_f64(v)],
    CharType: lambda cx, v, t: [_char_to_i32(v)],
    StringType: lambda cx, v, t: list(store_string_into_range(cx, v)),
    ErrorContextType: lambda cx, v, t: [_lower_handle(cx, v, t)],
    OwnType: lambda cx, v, t: [_lower_handle(cx, v, t)],
    BorrowType: lambda cx, v, t: [_lower_handle(cx, v, t)],
    StreamType: lambda cx, v, t: [_lower_handle(cx, v, t)],
    FutureType: lambda cx, v, t: [_lower_handle(cx, v, t)],
    ListType: _lower_flat_list,
    MapType: lambda cx, v, t: list(store_list_into_range(cx, _map_entries(v, t), _map_entry(t))),
    RecordType: _lower_flat_record,
    TupleType: _lower_flat_record,
    VariantType: _lower_flat_variant,
    EnumType: _lower_flat_variant,
    OptionType: _lower_flat_variant,
    ResultType: _lower_flat_variant,
    FlagsType: _lower_flat_flags,
}


# --- Parameters and results --------------------------------------------------

def lift_flat_values(cx: LiftLowerContext, max_flat: int, vi: ValueIter,
                     ts: Sequence[ValType]) -> list[Any]:
    """Lift values of types ``ts``: from core values, or from the tuple they point to.

    When the values need more than ``max_flat`` core values, ``vi`` holds
    one pointer to them stored as a tuple in memory.
    """
    if not ts:  # no parameters, or no results: the common case of async calls
        return []
    pt = _ptr_type(cx)
    if _flat_count(ts, pt) <= max_flat:
        return [lift_flat(cx, vi, t) for t in ts]
    memory = cx.memory
    ptr = vi.next(pt)
    tuple_type = TupleType(ts)
    layout = _layout(tuple_type, pt)
    trap_if(ptr % layout.align != 0, SPILL_UNALIGNED.format(align=layout.align))
    trap_if(ptr + layout.size > len(memory), SPILL_OUT_OF_BOUNDS)
    return list(load(cx, ptr, tuple_type))


def lower_flat_values(cx: LiftLowerContext, max_flat: int, vs: Sequence[Any],
                      ts: Sequence[ValType], out_param: ValueIter | None = None
                      ) -> list[int | float]:
    """Lower values of types ``ts`` to core values, or to a tuple in memory.

    When they need more than ``max_flat`` core values, they are stored as a
    tuple: at the pointer ``out_param`` hands out if given (a caller's
    buffer for results), else in memory from ``realloc`` whose pointer is
    then the only core value returned.
    """
    if len(vs) != len(ts):
        raise TypeError(f"expected {len(ts)} values, got {len(vs)}")
    if not ts:
        return []
    pt = _ptr_type(cx)
    if _flat_count(ts, pt) <= max_flat:
        return [core for v, t in zip(vs, ts, strict=True) for core in lower_flat(cx, v, t)]
    memory = cx.memory
    tuple_type = TupleType(ts)
    layout = _layout(tuple_type, pt)
    flat: list[int | float]
    if out_param is None:
        ptr = cx.allocate(layout.align, layout.size)
        _check_realloc(memory, ptr, layout.align, layout.size, REALLOC_OUT_OF_BOUNDS)
        flat = [ptr]
    else:
        ptr = out_param.next(pt)
        trap_if(ptr % layout.align != 0, SPILL_UNALIGNED.format(align=layout.align))
        trap_if(ptr + layout.size > len(memory), SPILL_OUT_OF_BOUNDS)
        flat = []
    store(cx, tuple(vs), tuple_type, ptr)
    return flat
