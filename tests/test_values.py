"""The value ABI: layouts, flattening, round trips, transcoding and every trap rule."""

from __future__ import annotations

import copy
import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from value_strategies import RT, HandleContext, make_cx, same, typed_values

from stackswitch.canon import values
from stackswitch.canon.options import CanonicalOptions, LiftLowerContext
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
    contains_async_value,
    contains_borrow,
    despecialize,
    none_or_number_type,
)
from stackswitch.canon.values import (
    MAX_FLAT_PARAMS,
    CoreValueIter,
    LiftedString,
    align_to,
    alignment,
    elem_size,
    flatten_functype,
    flatten_type,
    flatten_types,
    lift_flat,
    lift_flat_values,
    load,
    load_list_from_valid_range,
    load_string,
    lower_flat,
    lower_flat_values,
    store,
    store_list_into_valid_range,
    store_string,
)
from stackswitch.errors import Trap
from stackswitch.wasm.memory import PAGE_SIZE, LinearMemory

ENCODINGS = ["utf8", "utf16", "latin1+utf16"]
PTR_TYPES = ["i32", "i64"]
FAST = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def u32(i: int) -> bytes:
    return struct.pack("<I", i)


def record(**fields):
    return RecordType([FieldType(k, t) for k, t in fields.items()])


def variant(*cases):
    return VariantType([CaseType(label, t) for label, t in cases])


def slot(cx, t):
    """Room for one value of type ``t``, from the context's allocator."""
    return cx.allocate(alignment(t, cx.memory.ptr_type), elem_size(t, cx.memory.ptr_type))


# --- Round trips -------------------------------------------------------------

@FAST
@given(typed_values, st.sampled_from(ENCODINGS), st.sampled_from(PTR_TYPES))
def test_store_then_load_round_trips(tv, encoding, ptr_type):
    t, v = tv
    cx, memory, _ = make_cx(encoding, ptr_type)
    ptr = slot(cx, t)
    store(cx, v, t, ptr)
    assert same(v, load(cx, ptr, t))
    assert not cx.handles  # every handle lowered was lifted again


def _check_core_types(flat, core_types):
    assert len(flat) == len(core_types)
    for x, ct in zip(flat, core_types, strict=True):
        if ct in ("i32", "i64"):
            assert isinstance(x, int) and 0 <= x < 1 << int(ct[1:])
        else:
            assert isinstance(x, float)


@FAST
@given(st.lists(typed_values, min_size=1, max_size=3), st.sampled_from(ENCODINGS),
       st.sampled_from(PTR_TYPES), st.sampled_from([MAX_FLAT_PARAMS, 4, 1, 0]))
def test_lower_then_lift_flat_values_round_trips(tvs, encoding, ptr_type, max_flat):
    ts = [t for t, _ in tvs]
    vs = [v for _, v in tvs]
    cx, memory, _ = make_cx(encoding, ptr_type)
    flat = lower_flat_values(cx, max_flat, vs, ts)
    core_types = flatten_types(ts, ptr_type)
    _check_core_types(flat, core_types if len(core_types) <= max_flat else [ptr_type])
    vi = CoreValueIter(flat)
    assert all(same(a, b) for a, b in zip(vs, lift_flat_values(cx, max_flat, vi, ts), strict=True))
    assert vi.done()
    assert not cx.handles


@FAST
@given(st.lists(typed_values, min_size=1, max_size=3), st.sampled_from(PTR_TYPES))
def test_spilled_values_through_an_out_param(tvs, ptr_type):
    ts = [t for t, _ in tvs]
    vs = [v for _, v in tvs]
    cx, memory, _ = make_cx("utf8", ptr_type)
    out = slot(cx, TupleType(ts))
    assert lower_flat_values(cx, 0, vs, ts, out_param=CoreValueIter([out])) == []
    got = lift_flat_values(cx, 0, CoreValueIter([out]), ts)
    assert all(same(a, b) for a, b in zip(vs, got, strict=True))


@FAST
@given(typed_values, st.sampled_from(ENCODINGS), st.sampled_from(ENCODINGS),
       st.sampled_from(PTR_TYPES), st.sampled_from(PTR_TYPES))
def test_values_survive_transcoding_between_guests(tv, src_encoding, dst_encoding, src_pt, dst_pt):
    """Lift from one guest (strings keep their encoding hint), lower into another."""
    t, v = tv
    src, _, _ = make_cx(src_encoding, src_pt)
    dst, _, _ = make_cx(dst_encoding, dst_pt)
    ptr = slot(src, t)
    store(src, v, t, ptr)
    lifted = load(src, ptr, t)
    flat = lower_flat(dst, lifted, t)
    assert same(v, lift_flat(dst, CoreValueIter(flat), t))


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
       st.sampled_from(ENCODINGS), st.sampled_from(ENCODINGS), st.booleans())
def test_strings_transcode_between_every_pair_of_encodings(s, src_encoding, dst_encoding,
                                                         force_utf16):
    src, src_memory, _ = make_cx(src_encoding)
    if src_encoding == "latin1+utf16" and force_utf16:
        # A latin1+utf16 producer may choose UTF-16 even for Latin-1 text.
        hinted = LiftedString(s, "latin1+utf16", len(s.encode("utf-16-le")) // 2, utf16=True)
        begin, tagged = values.store_string_into_range(src, hinted)
    else:
        begin, tagged = values.store_string_into_range(src, s)
    lifted = values.load_string_from_range(src, begin, tagged)
    assert lifted == s
    dst, _, _ = make_cx(dst_encoding)
    ptr = slot(dst, StringType())
    store_string(dst, lifted, ptr)
    again = load_string(dst, ptr)
    assert again == s and again.encoding == dst_encoding


# --- Layout ------------------------------------------------------------------

@pytest.mark.parametrize(("t", "size", "align"), [
    (BoolType(), 1, 1), (S8Type(), 1, 1), (U16Type(), 2, 2), (S32Type(), 4, 4),
    (U64Type(), 8, 8), (F32Type(), 4, 4), (F64Type(), 8, 8), (CharType(), 4, 4),
    (StringType(), 8, 4), (ErrorContextType(), 4, 4), (OwnType(RT), 4, 4),
    (BorrowType(RT), 4, 4), (StreamType(), 4, 4), (FutureType(U64Type()), 4, 4),
    (ListType(U8Type()), 8, 4), (ListType(U64Type()), 8, 4),
    (ListType(U32Type(), 3), 12, 4), (ListType(U8Type(), 5), 5, 1),
    (record(a=U8Type(), b=U32Type()), 8, 4),
    (record(a=U32Type(), b=U8Type()), 8, 4),
    (TupleType([U8Type(), U16Type(), U8Type()]), 6, 2),
    (TupleType([U8Type(), U64Type()]), 16, 8),
    (EnumType(["a", "b"]), 1, 1),
    (EnumType([f"l{i}" for i in range(256)]), 1, 1),
    (EnumType([f"l{i}" for i in range(257)]), 2, 2),
    (EnumType([f"l{i}" for i in range(65537)]), 4, 4),
    (variant(("a", U8Type())), 2, 1),
    (OptionType(U64Type()), 16, 8),
    (ResultType(U8Type(), U32Type()), 8, 4),
    (ResultType(), 1, 1),
    (FlagsType(list("abcdefgh")), 1, 1),
    (FlagsType([f"f{i}" for i in range(9)]), 2, 2),
    (FlagsType([f"f{i}" for i in range(16)]), 2, 2),
    (FlagsType([f"f{i}" for i in range(17)]), 4, 4),
    (FlagsType([f"f{i}" for i in range(32)]), 4, 4),
    (FlagsType([f"f{i}" for i in range(33)]), 8, 4),
    (MapType(StringType(), U8Type()), 8, 4),
])
def test_sizes_and_alignments(t, size, align):
    assert (elem_size(t), alignment(t)) == (size, align)


def test_memory64_pointers_are_eight_bytes():
    assert (elem_size(StringType(), "i64"), alignment(StringType(), "i64")) == (16, 8)
    assert (elem_size(ListType(U8Type()), "i64"), alignment(ListType(U8Type()), "i64")) == (16, 8)
    assert flatten_type(StringType(), "i64") == ["i64", "i64"]
    assert flatten_type(OptionType(StringType()), "i64") == ["i32", "i64", "i64"]


def test_variant_payload_follows_the_discriminant_at_the_case_alignment():
    cx, memory, _ = make_cx()
    t = variant(("a", None), ("b", U32Type()))
    store(cx, Variant("b", 0x11223344), t, 32)
    assert memory.read(32, 8) == bytes([1, 0, 0, 0]) + u32(0x11223344)
    big = EnumType([f"l{i}" for i in range(300)])
    store(cx, "l299", big, 64)
    assert memory.read(64, 2) == (299).to_bytes(2, "little")
    assert load(cx, 64, big) == "l299"


@pytest.mark.parametrize(("t", "flat"), [
    (variant(("a", F32Type()), ("b", U32Type())), ["i32", "i32"]),
    (variant(("a", F32Type()), ("b", F32Type())), ["i32", "f32"]),
    (variant(("a", U64Type()), ("b", F32Type())), ["i32", "i64"]),
    (variant(("a", F64Type()), ("b", U32Type())), ["i32", "i64"]),
    (variant(("a", F64Type()), ("b", F32Type())), ["i32", "i64"]),
    (variant(("a", TupleType([F32Type(), U8Type()])), ("b", U64Type())), ["i32", "i64", "i32"]),
    (EnumType(["x"]), ["i32"]),
    (ResultType(), ["i32"]),
    (FlagsType([f"f{i}" for i in range(33)]), ["i32", "i32"]),
    (ListType(F32Type(), 3), ["f32", "f32", "f32"]),
    (record(a=StringType(), b=S64Type()), ["i32", "i32", "i64"]),
    (MapType(U8Type(), U8Type()), ["i32", "i32"]),
])
def test_flattening(t, flat):
    assert flatten_type(t) == flat


def _ft(n_params, result=None, async_=False):
    return FuncType([(f"p{i}", U32Type()) for i in range(n_params)],
                    [] if result is None else [result], async_=async_)


@pytest.mark.parametrize(("opts", "ft", "context", "params", "results"), [
    ({}, _ft(2, U32Type()), "lift", ["i32", "i32"], ["i32"]),
    ({}, _ft(16), "lift", ["i32"] * 16, []),
    ({}, _ft(17), "lift", ["i32"], []),
    ({}, _ft(1, StringType()), "lift", ["i32"], ["i32"]),
    ({}, _ft(1, StringType()), "lower", ["i32", "i32"], []),
    ({}, _ft(17, StringType()), "lower", ["i32", "i32"], []),
    ({"async_": True, "callback": print}, _ft(2, StringType()), "lift", ["i32", "i32"], ["i32"]),
    ({"async_": True}, _ft(2, StringType()), "lift", ["i32", "i32"], []),
    ({"async_": True}, _ft(17), "lift", ["i32"], []),
    ({"async_": True}, _ft(4, U32Type()), "lower", ["i32"] * 5, ["i32"]),
    ({"async_": True}, _ft(5, U32Type()), "lower", ["i32", "i32"], ["i32"]),
    ({"async_": True}, _ft(5), "lower", ["i32"], ["i32"]),
    ({"async_": True}, _ft(0), "lower", [], ["i32"]),
    ({"memory": LinearMemory(0, ptr_type="i64")}, _ft(1, StringType()), "lift",
     ["i32"], ["i64"]),
    ({"memory": LinearMemory(0, ptr_type="i64")}, _ft(17, StringType()), "lower",
     ["i64", "i64"], []),
])
def test_flatten_functype(opts, ft, context, params, results):
    core = flatten_functype(CanonicalOptions(**opts), ft, context)
    assert (core.params, core.results) == (params, results)


def test_core_func_type_prints_as_wat():
    core = flatten_functype(CanonicalOptions(), _ft(2, U64Type()), "lift")
    assert str(core) == "(func (param i32 i32) (result i64))"
    assert str(flatten_functype(CanonicalOptions(), _ft(0), "lift")) == "(func)"


# --- Scalars -----------------------------------------------------------------

def test_nonzero_bytes_lift_as_true():
    cx, memory, _ = make_cx()
    memory.write(0, b"\x02")
    assert load(cx, 0, BoolType()) is True
    assert lift_flat(cx, CoreValueIter([7]), BoolType()) is True
    assert lift_flat(cx, CoreValueIter([0]), BoolType()) is False
    assert load_list_from_valid_range(cx, 0, 2, BoolType()) == [True, False]


@pytest.mark.parametrize(("t", "core", "value"), [
    (U8Type(), 0x1FF, 0xFF), (S8Type(), 0xFF, -1), (S8Type(), 0x17F, 127),
    (U16Type(), 0x12345, 0x2345), (S16Type(), 0x8000, -32768),
    (S32Type(), 0xFFFFFFFF, -1), (U32Type(), 0xFFFFFFFF, 0xFFFFFFFF),
    (S64Type(), 2**64 - 1, -1), (U64Type(), 2**64 - 1, 2**64 - 1),
])
def test_flat_integers_keep_the_low_bits_with_the_types_signedness(t, core, value):
    cx, _, _ = make_cx()
    assert lift_flat(cx, CoreValueIter([core]), t) == value


def test_signed_integers_lower_to_unsigned_core_values():
    cx, _, _ = make_cx()
    assert lower_flat(cx, -1, S8Type()) == [0xFFFFFFFF]
    assert lower_flat(cx, -2, S32Type()) == [0xFFFFFFFE]
    assert lower_flat(cx, -1, S64Type()) == [2**64 - 1]
    assert lower_flat(cx, True, BoolType()) == [1]


NAN_PATTERNS_32 = [0x7FC00001, 0xFFC00000, 0x7F800001, 0xFFFFFFFF]
NAN_PATTERNS_64 = [0x7FF0000000000001, 0xFFF8000000000000, 0x7FFFFFFFFFFFFFFF]


def f32_bits(f):
    return struct.unpack("<I", struct.pack("<f", f))[0]


def f64_bits(f):
    return struct.unpack("<Q", struct.pack("<d", f))[0]


@pytest.mark.parametrize("bits", NAN_PATTERNS_32)
def test_f32_nans_lift_canonical(bits):
    cx, memory, _ = make_cx()
    memory.write(0, u32(bits) * 2)
    assert f32_bits(load(cx, 0, F32Type())) == values.CANONICAL_FLOAT32_NAN
    assert [f32_bits(x) for x in load_list_from_valid_range(cx, 0, 2, F32Type())] == \
        [values.CANONICAL_FLOAT32_NAN] * 2
    nan = struct.unpack("<f", u32(bits))[0]
    assert f32_bits(lift_flat(cx, CoreValueIter([nan]), F32Type())) == values.CANONICAL_FLOAT32_NAN
    # f32 bits arriving in a joined i32 slot of a variant
    t = variant(("f", F32Type()), ("i", U32Type()))
    got = lift_flat(cx, CoreValueIter([0, bits]), t)
    assert f32_bits(got.value) == values.CANONICAL_FLOAT32_NAN


@pytest.mark.parametrize("bits", NAN_PATTERNS_64)
def test_f64_nans_lift_canonical(bits):
    cx, memory, _ = make_cx()
    memory.write(0, struct.pack("<Q", bits))
    assert f64_bits(load(cx, 0, F64Type())) == values.CANONICAL_FLOAT64_NAN
    nan = struct.unpack("<d", struct.pack("<Q", bits))[0]
    assert f64_bits(lift_flat(cx, CoreValueIter([nan]), F64Type())) == \
        values.CANONICAL_FLOAT64_NAN


def test_nans_lower_canonical_deterministically():
    cx, memory, _ = make_cx()
    negative_nan = -math.nan
    store(cx, negative_nan, F32Type(), 0)
    store(cx, negative_nan, F64Type(), 8)
    assert memory.read(0, 4) == u32(values.CANONICAL_FLOAT32_NAN)
    assert memory.read(8, 8) == struct.pack("<Q", values.CANONICAL_FLOAT64_NAN)
    store_list_into_valid_range(cx, [1.0, negative_nan], 16, F32Type())
    assert memory.read(20, 4) == u32(values.CANONICAL_FLOAT32_NAN)
    store_list_into_valid_range(cx, [negative_nan], 24, F64Type())
    assert memory.read(24, 8) == struct.pack("<Q", values.CANONICAL_FLOAT64_NAN)
    [flat] = lower_flat(cx, negative_nan, F32Type())
    assert f32_bits(flat) == values.CANONICAL_FLOAT32_NAN
    [flat] = lower_flat(cx, negative_nan, F64Type())
    assert f64_bits(flat) == values.CANONICAL_FLOAT64_NAN
    t = variant(("f", F32Type()), ("l", U64Type()))
    assert lower_flat(cx, Variant("f", negative_nan), t) == [0, values.CANONICAL_FLOAT32_NAN]
    t = variant(("d", F64Type()), ("l", U64Type()))
    assert lower_flat(cx, Variant("d", negative_nan), t) == [0, values.CANONICAL_FLOAT64_NAN]


def test_f32_values_round_to_binary32():
    cx, memory, _ = make_cx()
    assert lower_flat(cx, 0.1, F32Type()) == [struct.unpack("<f", struct.pack("<f", 0.1))[0]]
    assert lower_flat(cx, 1e300, F32Type()) == [math.inf]
    store(cx, -1e300, F32Type(), 0)
    assert load(cx, 0, F32Type()) == -math.inf
    assert lower_flat(cx, 3, F64Type()) == [3.0]


def test_variant_payloads_narrow_from_joined_i64_slots():
    """Only the low bits of a joined i64 slot belong to a 32-bit case (spec: wrap, no trap)."""
    cx, _, _ = make_cx()
    narrow = variant(("a", U8Type()), ("b", U64Type()))
    assert lift_flat(cx, CoreValueIter([0, 0xFF00000004]), narrow) == Variant("a", 4)
    mixed = variant(("f", F32Type()), ("l", U64Type()))
    got = lift_flat(cx, CoreValueIter([0, 0xFFFFFFFF40490FDB]), mixed)
    assert got == Variant("f", struct.unpack("<f", u32(0x40490FDB))[0])
    wide = variant(("d", F64Type()), ("l", U64Type()))
    assert lift_flat(cx, CoreValueIter([0, f64_bits(2.5)]), wide) == Variant("d", 2.5)
    # unused slots are consumed and zero-filled when lowering
    padded = variant(("a", None), ("b", TupleType([U64Type(), F32Type()])))
    assert lower_flat(cx, Variant("a"), padded) == [0, 0, 0.0]
    vi = CoreValueIter([0, 5, 1.5])
    assert lift_flat(cx, vi, padded) == Variant("a") and vi.done()


def test_flags_ignore_bits_beyond_their_labels():
    cx, memory, _ = make_cx()
    t = FlagsType(["a", "b", "c"])
    memory.write(0, b"\xff")
    assert load(cx, 0, t) == frozenset("abc")
    assert lift_flat(cx, CoreValueIter([0xFFFFFFF2]), t) == frozenset("b")


def test_flags_beyond_32_labels_use_one_word_per_32():
    cx, memory, _ = make_cx()
    t = FlagsType([f"f{i}" for i in range(40)])
    assert lower_flat(cx, {"f0", "f33"}, t) == [1, 2]
    assert lift_flat(cx, CoreValueIter([1, 2]), t) == frozenset({"f0", "f33"})
    store(cx, {"f0": True, "f1": False, "f39": True}, t, 8)
    assert memory.read(8, 8) == u32(1) + u32(1 << 7)


def test_maps_lower_from_mappings_and_lift_as_pairs():
    cx, _, _ = make_cx()
    t = MapType(StringType(), U32Type())
    ptr = slot(cx, t)
    store(cx, {"a": 1, "b": 2}, t, ptr)
    assert load(cx, ptr, t) == [("a", 1), ("b", 2)]
    flat = lower_flat(cx, {"c": 3}, t)
    assert lift_flat(cx, CoreValueIter(flat), t) == [("c", 3)]


def test_lists_of_bytes_and_subclassed_types():
    cx, memory, _ = make_cx()

    class MyU32(U32Type):
        pass

    ptr = slot(cx, ListType(U8Type()))
    store(cx, b"\x01\x02", ListType(U8Type()), ptr)
    assert load(cx, ptr, ListType(U8Type())) == [1, 2]
    store(cx, 7, MyU32(), 0)
    assert load(cx, 0, MyU32()) == 7 and elem_size(MyU32()) == 4


# --- String encodings and the realloc calls they make --------------------------

def stored(encoding, s, ptr_type="i32"):
    """Store ``s`` (str or LiftedString) with ``encoding``; the pair and the realloc calls."""
    cx, memory, bump = make_cx(encoding, ptr_type)
    begin, tagged = values.store_string_into_range(cx, s)
    return cx, memory, bump, begin, tagged


TAG = 1 << 31


@pytest.mark.parametrize(("src", "encoding", "calls", "tagged"), [
    # utf8 -> utf8: exact copy
    ("aé", "utf8", [(0, 0, 1, 3)], 3),
    # utf16 -> utf8: optimistic, grow to 3x at the first non-ASCII unit, shrink to fit
    (LiftedString("aé", "utf16", 2), "utf8", [(0, 0, 1, 2), ("p", 2, 1, 6), ("p", 6, 1, 3)], 3),
    (LiftedString("ab", "utf16", 2), "utf8", [(0, 0, 1, 2)], 2),
    # latin1 -> utf8: grow to 2x; "é" needs exactly 2 so no shrink
    (LiftedString("é", "latin1+utf16", 1), "utf8", [(0, 0, 1, 1), ("p", 1, 1, 2)], 2),
    # utf8 -> utf16: 2 bytes per UTF-8 byte, then shrink
    ("aé", "utf16", [(0, 0, 2, 6), ("p", 6, 2, 4)], 2),
    ("ab", "utf16", [(0, 0, 2, 4)], 2),
    # utf16 / latin1 -> utf16: exact copy
    (LiftedString("a☃", "utf16", 2), "utf16", [(0, 0, 2, 4)], 2),
    (LiftedString("aé", "latin1+utf16", 2), "utf16", [(0, 0, 2, 4)], 2),
    # utf8 -> latin1+utf16: hope for latin1, shrink to fit...
    ("aé", "latin1+utf16", [(0, 0, 2, 3), ("p", 3, 2, 2)], 2),
    ("ab", "latin1+utf16", [(0, 0, 2, 2)], 2),
    # ... or switch to utf16 at the first non-latin1 char and shrink
    ("a☃", "latin1+utf16", [(0, 0, 2, 4), ("p", 4, 2, 8), ("p", 8, 2, 4)], 2 | TAG),
    (LiftedString("☃", "utf16", 1), "latin1+utf16", [(0, 0, 2, 1), ("p", 1, 2, 2)], 1 | TAG),
    # latin1 -> latin1+utf16: exact copy
    (LiftedString("aé", "latin1+utf16", 2), "latin1+utf16", [(0, 0, 2, 2)], 2),
    # utf16 chosen by a latin1+utf16 producer: copy as utf16, narrow when all latin1
    (LiftedString("ab", "latin1+utf16", 2, utf16=True), "latin1+utf16",
     [(0, 0, 2, 4), ("p", 4, 1, 2)], 2),
    (LiftedString("a☃", "latin1+utf16", 2, utf16=True), "latin1+utf16", [(0, 0, 2, 4)], 2 | TAG),
])
def test_string_stores_make_the_spec_realloc_calls(src, encoding, calls, tagged):
    cx, memory, bump, begin, got_tagged = stored(encoding, src)
    expected = []
    previous = None
    for call, ptr in zip(calls, [*(c[0] for c in bump.calls[1:]), begin], strict=True):
        expected.append((previous, *call[1:]) if call[0] == "p" else call)
        previous = ptr
    assert bump.calls == expected
    assert got_tagged == tagged
    assert values.load_string_from_range(cx, begin, got_tagged) == src


def test_string_transcoding_trusts_realloc_to_copy_like_the_spec():
    """The spec does not rewrite what it copied before growing; a realloc that drops it shows."""
    memory = LinearMemory(1)
    top = [64]

    def forgetful(old_ptr, old_size, align, new_size):
        """Copies the old contents when shrinking, forgets them when growing."""
        top[0] = align_to(top[0] + 16, align)
        if new_size < old_size:
            memory.write(top[0], memory.read(old_ptr, new_size))
        return top[0]

    cx = LiftLowerContext(CanonicalOptions("utf8", memory, forgetful))
    begin, length = values.store_string_into_range(cx, LiftedString("ab☃", "utf16", 3))
    assert memory.read(begin, length) == b"\x00\x00" + "☃".encode()
    cx = LiftLowerContext(CanonicalOptions("latin1+utf16", memory, forgetful))
    begin, tagged = values.store_string_into_range(cx, "é☃")
    assert memory.read(begin, 4) == b"\x00\x00" + "☃".encode("utf-16-le")


def test_memory64_strings_use_the_top_bit_as_utf16_tag():
    cx, memory, bump, begin, tagged = stored("latin1+utf16", "☃", "i64")
    assert tagged == 1 | (1 << 63)
    ptr = slot(cx, StringType())
    store_string(cx, "☃", ptr)
    assert struct.unpack("<QQ", memory.read(ptr, 16))[1] == 1 | (1 << 63)
    assert load_string(cx, ptr) == "☃"


def test_lifted_strings_remember_their_encoding():
    cx, memory, _ = make_cx("latin1+utf16")
    memory.write(0, "é☃".encode("utf-16-le"))
    s = values.load_string_from_range(cx, 0, 2 | TAG)
    assert (s, s.encoding, s.code_units, s.utf16) == ("é☃", "latin1+utf16", 2, True)
    copied = copy.deepcopy(s)
    assert (copied, copied.encoding, copied.code_units, copied.utf16) == \
        ("é☃", "latin1+utf16", 2, True)
    assert LiftedString("é").code_units == 2
    assert LiftedString("é☃", "utf16").code_units == 2
    assert LiftedString("é", "latin1+utf16").code_units == 1


# --- Traps: strings ----------------------------------------------------------

def test_string_out_of_bounds_traps_even_when_empty():
    cx, _, _ = make_cx()
    with pytest.raises(Trap, match="string content out-of-bounds") as e:
        values.load_string_from_range(cx, 0xDEADBEEF, 0)
    assert "string pointer/length out of bounds of memory" in str(e.value)
    with pytest.raises(Trap, match="string pointer/length out of bounds of memory"):
        values.load_string_from_range(cx, PAGE_SIZE - 1, 2)
    assert values.load_string_from_range(cx, PAGE_SIZE - 2, 2) == "\x00\x00"


@pytest.mark.parametrize(("encoding", "tagged"), [
    ("utf16", 1), ("latin1+utf16", 1), ("latin1+utf16", 1 | TAG)])
def test_misaligned_utf16_strings_trap(encoding, tagged):
    cx, _, _ = make_cx(encoding)
    with pytest.raises(Trap, match="unaligned pointer") as e:
        values.load_string_from_range(cx, 1, tagged)
    assert "string pointer not aligned to 2" in str(e.value)


def test_strings_longer_than_2_to_28_bytes_trap():
    cx, _, _ = make_cx("utf16")
    with pytest.raises(Trap, match="string content out-of-bounds"):
        values.load_string_from_range(cx, 0, 1 << 27)
    cx, _, _ = make_cx("utf8")
    with pytest.raises(Trap, match="string byte length exceeds"):
        values.load_string_from_range(cx, 0, 1 << 28)


def test_too_long_host_strings_trap(monkeypatch):
    monkeypatch.setattr(values, "MAX_STRING_BYTE_LENGTH", 3)
    cx, _, _ = make_cx()
    with pytest.raises(Trap, match="string length of 4 too large to copy into wasm"):
        values.store_string_into_range(cx, "abcd")


@pytest.mark.parametrize(("data", "detail"), [
    (b"\xff", "invalid utf-8 sequence of 1 bytes from index 0"),
    (b"a\xc3", "incomplete utf-8 byte sequence from index 1"),
    (b"\xed\xa0\x80", "invalid utf-8 sequence of 1 bytes from index 0"),
])
def test_invalid_utf8_traps(data, detail):
    cx, memory, _ = make_cx("utf8")
    memory.write(0, data)
    with pytest.raises(Trap, match="invalid utf8 encoding") as e:
        values.load_string_from_range(cx, 0, len(data))
    assert detail in str(e.value)


@pytest.mark.parametrize(("units", "unit"), [
    ([0xD800, 0x41], 0xD800), ([0xDC00], 0xDC00), ([0x41, 0xD83D], 0xD83D)])
def test_unpaired_surrogates_trap(units, unit):
    for encoding, tag in (("utf16", 0), ("latin1+utf16", TAG)):
        cx, memory, _ = make_cx(encoding)
        memory.write(0, struct.pack(f"<{len(units)}H", *units))
        with pytest.raises(Trap, match=f"invalid utf16 encoding: unpaired surrogate found: {unit:x}"):
            values.load_string_from_range(cx, 0, len(units) | tag)


# --- Traps: lists, chars, discriminants ----------------------------------------

def test_list_out_of_bounds_traps():
    cx, memory, _ = make_cx()
    memory.write(0, struct.pack("<II", PAGE_SIZE - 4, 2))
    with pytest.raises(Trap, match="list content out-of-bounds") as e:
        load(cx, 0, ListType(U32Type()))
    assert "list pointer/length out of bounds of memory" in str(e.value)
    with pytest.raises(Trap, match="list pointer/length out of bounds of memory"):
        lift_flat(cx, CoreValueIter([PAGE_SIZE + 4, 0]), ListType(U8Type()))


def test_misaligned_lists_trap():
    cx, _, _ = make_cx()
    with pytest.raises(Trap, match="unaligned pointer: list pointer is not aligned"):
        lift_flat(cx, CoreValueIter([2, 1]), ListType(U32Type()))


def test_lists_longer_than_2_to_28_bytes_trap():
    cx, _, _ = make_cx()
    with pytest.raises(Trap, match="list content out-of-bounds: list byte length exceeds"):
        lift_flat(cx, CoreValueIter([0, 1 << 26]), ListType(U32Type()))


@pytest.mark.parametrize("i", [0xD800, 0xDFFF, 0x110000, 0xFFFFFFFF])
def test_invalid_chars_trap(i):
    cx, memory, _ = make_cx()
    memory.write(0, u32(i))
    with pytest.raises(Trap, match="invalid `char` bit pattern"):
        load(cx, 0, CharType())
    with pytest.raises(Trap, match="invalid `char` bit pattern"):
        lift_flat(cx, CoreValueIter([i]), CharType())


def test_highest_scalar_values_are_chars():
    cx, _, _ = make_cx()
    assert lift_flat(cx, CoreValueIter([0x10FFFF]), CharType()) == "\U0010ffff"
    assert lift_flat(cx, CoreValueIter([0xD7FF]), CharType()) == "\ud7ff"


@pytest.mark.parametrize(("t", "count"), [
    (variant(("a", None), ("b", U8Type())), 2), (EnumType(["x", "y", "z"]), 3),
    (OptionType(U8Type()), 2), (ResultType(U8Type(), None), 2)])
def test_invalid_discriminants_trap(t, count):
    cx, memory, _ = make_cx()
    memory.write(0, bytes([count, 0]))
    message = f"invalid variant discriminant: discriminant {count} out of range \\[0..{count}\\)"
    with pytest.raises(Trap, match=message):
        load(cx, 0, t)
    with pytest.raises(Trap, match=message):
        lift_flat(cx, CoreValueIter([count] + [0] * (len(flatten_type(t)) - 1)), t)


# --- Traps: realloc and spilled values ---------------------------------------

def returning(ptr):
    return lambda old_ptr, old_size, align, new_size: ptr


@pytest.mark.parametrize(("t", "v", "ptr", "message"), [
    (ListType(U32Type()), [1, 2], 2, "unaligned pointer: realloc return: result not aligned"),
    (ListType(U32Type()), [1, 2], 2**32 - 4,
     "list content out-of-bounds: realloc return: beyond end of memory"),
    (ListType(U8Type()), [], 2**32 - 1, "list content out-of-bounds: realloc return"),
    (StringType(), "a☃", 2**32 - 1, "string content out-of-bounds: realloc return: beyond end"),
])
def test_bad_realloc_results_trap(t, v, ptr, message):
    memory = LinearMemory(1)
    cx = LiftLowerContext(CanonicalOptions("utf8", memory, returning(ptr)))
    with pytest.raises(Trap, match=message):
        lower_flat(cx, v, t)


@pytest.mark.parametrize("s", ["ab", "a☃"])
def test_misaligned_utf16_string_allocations_trap(s):
    cx = LiftLowerContext(CanonicalOptions("utf16", LinearMemory(1), returning(3)))
    with pytest.raises(Trap, match="unaligned pointer: realloc return: result not aligned"):
        values.store_string_into_range(cx, s)


def test_string_reallocations_are_checked_at_every_step():
    memory = LinearMemory(1)
    results = iter([0, PAGE_SIZE])
    cx = LiftLowerContext(CanonicalOptions("utf8", memory, lambda *a: next(results)))
    with pytest.raises(Trap, match="string content out-of-bounds: realloc return"):
        values.store_string_into_range(cx, LiftedString("a☃", "utf16", 2))


def test_spilled_values_get_checked_realloc_memory():
    many = [U32Type()] * 17
    cx = LiftLowerContext(CanonicalOptions("utf8", LinearMemory(1), returning(2)))
    with pytest.raises(Trap, match="unaligned pointer: realloc return: result not aligned"):
        lower_flat_values(cx, MAX_FLAT_PARAMS, [0] * 17, many)
    cx = LiftLowerContext(CanonicalOptions("utf8", LinearMemory(1), returning(PAGE_SIZE - 4)))
    with pytest.raises(Trap, match="out of bounds memory access: realloc return: beyond end"):
        lower_flat_values(cx, MAX_FLAT_PARAMS, [0] * 17, many)


def test_pointers_to_spilled_values_are_checked():
    cx, _, _ = make_cx()
    ts = [U64Type(), U64Type()]
    with pytest.raises(Trap, match="unaligned pointer: pointer to spilled values not aligned to 8"):
        lift_flat_values(cx, 1, CoreValueIter([4]), ts)
    with pytest.raises(Trap, match="out of bounds memory access: pointer out of bounds of memory"):
        lift_flat_values(cx, 1, CoreValueIter([PAGE_SIZE - 8]), ts)
    with pytest.raises(Trap, match="unaligned pointer"):
        lower_flat_values(cx, 1, [1, 2], ts, out_param=CoreValueIter([1]))
    with pytest.raises(Trap, match="out of bounds memory access"):
        lower_flat_values(cx, 1, [1, 2], ts, out_param=CoreValueIter([PAGE_SIZE]))


# --- Host-side misuse (ordinary exceptions, not traps) -----------------------

@pytest.mark.parametrize(("t", "v", "error"), [
    (U8Type(), 256, ValueError), (S8Type(), -129, ValueError), (U32Type(), "1", TypeError),
    (CharType(), "ab", TypeError), (CharType(), "\ud800", ValueError),
    (F32Type(), "x", TypeError), (F64Type(), None, TypeError),
    (StringType(), b"x", TypeError),
    (EnumType(["a"]), "b", ValueError), (OptionType(U8Type()), None, TypeError),
    (OptionType(U8Type()), Variant("maybe"), ValueError),
    (OptionType(U8Type()), Variant("none", 1), ValueError),
    (record(a=U8Type()), {"b": 1}, TypeError), (record(a=U8Type()), [1], TypeError),
    (TupleType([U8Type()]), (1, 2), TypeError), (ListType(U8Type(), 2), [1], TypeError),
    (ListType(U8Type()), "ab", TypeError), (ListType(U8Type()), [300], ValueError),
    (ListType(U32Type()), [-1], ValueError),
    (FlagsType(["a"]), "a", TypeError), (FlagsType(["a"]), 3, TypeError),
    (FlagsType(["a"]), {"z"}, ValueError),
])
def test_bad_host_values_raise(t, v, error):
    cx, _, _ = make_cx()
    with pytest.raises(error):
        store(cx, v, t, slot(cx, t))


def test_bad_core_values_raise():
    cx, _, _ = make_cx()
    with pytest.raises(TypeError, match="not an unsigned i32"):
        lift_flat(cx, CoreValueIter([-1]), U32Type())
    with pytest.raises(TypeError, match="not an unsigned i64"):
        lift_flat(cx, CoreValueIter([2**64]), U64Type())
    with pytest.raises(TypeError, match="not an f32"):
        lift_flat(cx, CoreValueIter(["x"]), F32Type())
    with pytest.raises(TypeError, match="expected another core value"):
        lift_flat(cx, CoreValueIter([]), U32Type())
    with pytest.raises(TypeError, match="expected 1 values, got 2"):
        lower_flat_values(cx, 16, [1, 2], [U8Type()])


def test_handles_need_a_runtime_context():
    cx = LiftLowerContext(CanonicalOptions(memory=LinearMemory(1)))
    with pytest.raises(TypeError, match="lifting own<r> needs a runtime context"):
        lift_flat(cx, CoreValueIter([1]), OwnType(RT))
    with pytest.raises(TypeError, match="lowering stream<u8> needs a runtime context"):
        lower_flat(cx, object(), StreamType(U8Type()))

    class BadIndex(HandleContext):
        def lower_handle(self, t, v):
            return -1

    with pytest.raises(TypeError, match="not an unsigned i32 index"):
        lower_flat(BadIndex(CanonicalOptions()), 1, BorrowType(RT))


def test_handle_types_go_through_the_context_hooks():
    cx, memory, _ = make_cx()
    t = TupleType([OwnType(RT), BorrowType(RT), StreamType(), FutureType(U8Type()),
                   ErrorContextType()])
    store(cx, ("own", "borrow", "stream", "future", "errctx"), t, 0)
    assert struct.unpack("<5I", memory.read(0, 20)) == (1, 2, 3, 4, 5)
    assert [t for t, _ in cx.handles.values()] == list(t.ts)
    assert load(cx, 0, t) == ("own", "borrow", "stream", "future", "errctx")


def test_values_needing_memory_or_realloc_say_so():
    cx = LiftLowerContext(CanonicalOptions())
    assert lower_flat_values(cx, 16, [1], [U32Type()]) == [1]
    with pytest.raises(TypeError, match="needs linear memory"):
        lower_flat(cx, "x", StringType())
    cx = LiftLowerContext(CanonicalOptions(memory=LinearMemory(1)))
    with pytest.raises(TypeError, match="needs realloc"):
        lower_flat(cx, "x", StringType())
    cx = LiftLowerContext(CanonicalOptions(memory=LinearMemory(1), realloc=returning(-1)))
    with pytest.raises(TypeError, match="realloc returned -1, not an unsigned i32"):
        lower_flat(cx, "x", StringType())
    for not_a_type in ["u8", ValType()]:
        with pytest.raises(TypeError, match="not a value type"):
            elem_size(not_a_type)
        with pytest.raises(TypeError, match="not a value type"):
            lift_flat(cx, CoreValueIter([0]), not_a_type)


def test_string_hints_must_match_the_text():
    cx, _, _ = make_cx()
    with pytest.raises(ValueError, match="does not have 5 code units"):
        values.store_string_into_range(cx, LiftedString("ab", "utf8", 5))


# --- Types -------------------------------------------------------------------

def test_types_print_as_wit():
    assert [repr(t) for t in [
        ListType(U8Type()), ListType(U8Type(), 4), OptionType(StringType()), StreamType(),
        StreamType(U32Type()), FutureType(), FutureType(CharType()), ResultType(),
        ResultType(U8Type()), ResultType(None, StringType()), ResultType(U8Type(), S8Type()),
        TupleType([BoolType(), F32Type()]), record(a=U8Type(), b=F64Type()),
        variant(("a", None), ("b", U16Type())), EnumType(["x", "y"]), FlagsType(["r", "w"]),
        MapType(StringType(), S64Type()), OwnType(RT), BorrowType(object()), ErrorContextType(),
    ]] == [
        "list<u8>", "list<u8, 4>", "option<string>", "stream", "stream<u32>", "future",
        "future<char>", "result", "result<u8>", "result<_, string>", "result<u8, s8>",
        "tuple<bool, f32>", "record { a: u8, b: f64 }", "variant { a, b(u16) }",
        "enum { x, y }", "flags { r, w }", "map<string, s64>", "own<r>", "borrow<object>",
        "error-context",
    ]
    assert repr(FuncType([("a", U32Type()), ("b", StringType())], [StringType()])) == \
        "func(a: u32, b: string) -> string"
    assert repr(FuncType([], [("r", U8Type())], async_=True)) == "async func() -> (r: u8)"
    assert repr(FuncType([], [])) == "func()"


def test_types_compare_structurally_but_resources_by_identity():
    assert ListType(U8Type()) == ListType(U8Type()) != ListType(S8Type())
    assert hash(record(a=U8Type())) == hash(record(a=U8Type()))
    assert U8Type() != S8Type() and hash(U8Type()) == hash(U8Type())

    class LooksEqual:
        def __eq__(self, other):
            return True

        __hash__ = object.__hash__

    r1, r2 = LooksEqual(), LooksEqual()
    assert OwnType(r1) == OwnType(r1) and hash(OwnType(r1)) == hash(OwnType(r1))
    assert OwnType(r1) != OwnType(r2)
    assert OwnType(r1) != BorrowType(r1)
    assert StreamType(OwnType(r1)) != StreamType(OwnType(r2))


@pytest.mark.parametrize("make", [
    lambda: RecordType([]), lambda: TupleType([]), lambda: VariantType([]),
    lambda: EnumType([]), lambda: FlagsType([]), lambda: EnumType(["a", "a"]),
    lambda: record(a=U8Type()).__class__([FieldType("a", U8Type())] * 2),
    lambda: ListType(U8Type(), 0),
])
def test_invalid_types_are_rejected(make):
    with pytest.raises(ValueError):
        make()


def test_despecialize():
    assert despecialize(TupleType([U8Type()])) == record(**{"0": U8Type()})
    assert despecialize(EnumType(["a"])) == variant(("a", None))
    assert despecialize(OptionType(U8Type())) == variant(("none", None), ("some", U8Type()))
    assert despecialize(ResultType(None, U8Type())) == variant(("ok", None), ("error", U8Type()))
    assert despecialize(MapType(U8Type(), CharType())) == \
        ListType(record(**{"0": U8Type(), "1": CharType()}))
    assert despecialize(StringType()) == StringType()


def test_type_predicates():
    assert contains_borrow(ListType(OptionType(BorrowType(RT))))
    assert contains_borrow(record(a=TupleType([BorrowType(RT)])))
    assert not contains_borrow(variant(("a", None), ("b", OwnType(RT))))
    assert contains_borrow(FuncType([("x", ListType(BorrowType(RT)))], []))
    assert not contains_borrow(None)
    assert contains_async_value(ResultType(FutureType()))
    assert contains_async_value(StreamType(StreamType()))
    assert contains_async_value(MapType(U8Type(), StreamType()))
    assert not contains_async_value(FuncType([], [U8Type()]))
    assert none_or_number_type(None) and none_or_number_type(F64Type())
    assert not none_or_number_type(BoolType()) and not none_or_number_type(CharType())


def test_func_type_accessors():
    ft = FuncType([("a", U8Type()), ("b", StringType())], [("r", U32Type())])
    assert ft.param_types() == [U8Type(), StringType()]
    assert ft.result_types() == ft.result_type() == [U32Type()]
    assert FuncType([], [S8Type()]).result_types() == [S8Type()]


def test_lift_equal_compares_string_encoding_and_memory_identity():
    memory = LinearMemory(1)
    base = CanonicalOptions("utf16", memory)
    assert base.lift_equal(CanonicalOptions("utf16", memory, realloc=print, async_=True))
    assert not base.lift_equal(CanonicalOptions("utf8", memory))
    assert not base.lift_equal(CanonicalOptions("utf16", LinearMemory(1)))
    with pytest.raises(ValueError, match="unknown string encoding"):
        CanonicalOptions("ascii")  # type: ignore[arg-type]


# --- Memory ------------------------------------------------------------------

def test_memory_accesses_out_of_bounds_trap():
    memory = LinearMemory(1)
    for access in [lambda: memory.read(-1, 1), lambda: memory.read(PAGE_SIZE, 1),
                   lambda: memory.write(PAGE_SIZE - 1, b"ab"), lambda: memory.read(0, -1),
                   lambda: memory.load_u32(PAGE_SIZE - 3), lambda: memory.store_u64(-8, 0),
                   lambda: memory.load_f64(PAGE_SIZE), lambda: memory.store_f32(PAGE_SIZE, 1.0),
                   lambda: memory.store_f64(PAGE_SIZE, 1.0), lambda: memory.load_str(PAGE_SIZE, 1)]:
        with pytest.raises(Trap, match="^out of bounds memory access$"):
            access()
    assert memory.read(PAGE_SIZE, 0) == b""


def test_memory_typed_helpers():
    memory = LinearMemory(1)
    memory.store_u8(0, 0x1FF)
    memory.store_s8(1, -1)
    memory.store_u16(2, 0xBEEF)
    memory.store_s16(4, -2)
    memory.store_u32(8, 0xDEADBEEF)
    memory.store_s32(12, -3)
    memory.store_u64(16, 2**64 - 1)
    memory.store_s64(24, -4)
    memory.store_f32(32, 1.5)
    memory.store_f64(40, -2.25)
    memory.store_f32(48, 1e300)
    assert (memory.load_u8(0), memory.load_s8(1), memory.load_u8(1)) == (0xFF, -1, 0xFF)
    assert (memory.load_u16(2), memory.load_s16(4)) == (0xBEEF, -2)
    assert (memory.load_u32(8), memory.load_s32(12), memory.load_u32(12)) == \
        (0xDEADBEEF, -3, 2**32 - 3)
    assert (memory.load_u64(16), memory.load_s64(16), memory.load_s64(24)) == (2**64 - 1, -1, -4)
    assert (memory.load_f32(32), memory.load_f64(40), memory.load_f32(48)) == (1.5, -2.25, math.inf)
    assert memory.store_str(64, "h☃") == 4
    assert memory.load_str(64, 4) == "h☃"
    memory.store_bytes(80, b"\xff")
    assert memory.load_bytes(80, 1) == b"\xff"
    with pytest.raises(Trap, match="invalid utf-8 at byte 80"):
        memory.load_str(80, 1)


def test_memory_grows_by_pages_up_to_its_limit():
    memory = LinearMemory(1, max_pages=3)
    assert (len(memory), memory.pages, repr(memory)) == \
        (PAGE_SIZE, 1, "LinearMemory(pages=1, ptr_type='i32')")
    assert memory.grow(2) == 1 and len(memory) == 3 * PAGE_SIZE
    assert memory.read(3 * PAGE_SIZE - 1, 1) == b"\x00"
    assert memory.grow(1) == -1 and memory.grow(-1) == -1 and memory.grow(0) == 3
    with pytest.raises(ValueError):
        LinearMemory(2, max_pages=1)
    with pytest.raises(ValueError):
        LinearMemory(ptr_type="i16")  # type: ignore[arg-type]
    assert LinearMemory(0, ptr_type="i64").max_pages == 2**48


def test_buffers_use_valid_range_helpers():
    cx, memory, _ = make_cx()
    t = record(a=U8Type(), s=StringType())
    store_list_into_valid_range(cx, [{"a": 1, "s": "x"}, {"a": 2, "s": "yz"}], 256, t)
    assert load_list_from_valid_range(cx, 256, 2, t) == [{"a": 1, "s": "x"}, {"a": 2, "s": "yz"}]
    assert load_list_from_valid_range(cx, 256, 0, t) == []
    store_list_into_valid_range(cx, [], PAGE_SIZE, t)
