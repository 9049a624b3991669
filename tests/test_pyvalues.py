"""The Python value mapping at the embedding boundary (stackswitch/embed/pyvalues/).

Values cross real components: an echo component hands what the host passes
to a host function and returns what that function returns, through guest
memory both ways.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
import value_strategies as vs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackswitch.canon.error_context import ErrorContext
from stackswitch.canon.host_streams import HostStream
from stackswitch.canon.options import CanonicalOptions
from stackswitch.canon.resources import ResourceType
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
from stackswitch.canon.values import flatten_functype
from stackswitch.component.linker import Linker
from stackswitch.component.wasm_tools import load_component, validate
from stackswitch.embed.pyvalues import (
    Err,
    GuestResource,
    HostResource,
    Ok,
    Some,
    to_canon,
    to_python,
)
from stackswitch.errors import HostError, LinkError

# -- an echo component for any value type ----------------------------------------------------

_WAT_NAMES = {
    BoolType: "bool", U8Type: "u8", U16Type: "u16", U32Type: "u32", U64Type: "u64",
    S8Type: "s8", S16Type: "s16", S32Type: "s32", S64Type: "s64", F32Type: "f32",
    F64Type: "f64", CharType: "char", StringType: "string",
}


def wat(t: ValType) -> str:
    """``t`` in component text."""
    if type(t) in _WAT_NAMES:
        return _WAT_NAMES[type(t)]
    match t:
        case ListType(u, None):
            return f"(list {wat(u)})"
        case ListType(u, n):
            return f"(list {wat(u)} {n})"
        case RecordType(fields):
            return "(record " + " ".join(f'(field "{f.label}" {wat(f.t)})' for f in fields) + ")"
        case TupleType(ts):
            return "(tuple " + " ".join(map(wat, ts)) + ")"
        case VariantType(cases):
            return "(variant " + " ".join(
                f'(case "{c.label}")' if c.t is None else f'(case "{c.label}" {wat(c.t)})'
                for c in cases) + ")"
        case EnumType(labels):
            return "(enum " + " ".join(f'"{label}"' for label in labels) + ")"
        case FlagsType(labels):
            return "(flags " + " ".join(f'"{label}"' for label in labels) + ")"
        case OptionType(u):
            return f"(option {wat(u)})"
        case ResultType(ok, error):
            parts = ["result"] + ([] if ok is None else [wat(ok)])
            parts += [] if error is None else [f"(error {wat(error)})"]
            return "(" + " ".join(parts) + ")"
    raise AssertionError(f"no text for {t!r}")


def echo_text(t: ValType) -> str:
    """A component exporting ``run: func(x: t) -> t`` that calls the import ``echo`` of that type.

    Its core code only forwards: the flat parameters (or the pointer to
    them) go to the lowered import, and a result that does not fit one core
    value comes back through a fixed out-pointer, which ``run`` returns.
    """
    ft = FuncType([("x", t)], [t])
    lift = flatten_functype(CanonicalOptions(), ft, "lift")
    lower = flatten_functype(CanonicalOptions(), ft, "lower")
    gets = " ".join(f"(local.get {i})" for i in range(len(lift.params)))
    if lift.results == lower.results:
        body = f"(call $echo {gets})"
    else:
        body = f"(call $echo {gets} (i32.const 256)) (i32.const 256)"

    def sig(core: Any) -> str:
        params = f"(param {' '.join(core.params)})" if core.params else ""
        results = f"(result {' '.join(core.results)})" if core.results else ""
        return f"{params} {results}"

    return f"""
(component
  (type $t {wat(t)})
  (import "t" (type $t' (eq $t)))
  (import "echo" (func $echo (param "x" $t') (result $t')))
  (core module $Mem
    (memory (export "mem") 1)
    (global $bump (mut i32) (i32.const 4096))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $bump) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $bump (i32.add (local.get $p) (local.get 3)))
      (if (i32.gt_u (global.get $bump) (i32.mul (memory.size) (i32.const 65536)))
        (then (drop (memory.grow (i32.const 16)))))
      (local.get $p)))
  (core instance $mem (instantiate $Mem))
  (core func $echo' (canon lower (func $echo) (memory (core memory $mem "mem"))
    (realloc (core func $mem "realloc"))))
  (core module $M
    (import "" "echo" (func $echo {sig(lower)}))
    (func (export "run") {sig(lift)} {body}))
  (core instance $m (instantiate $M (with "" (instance (export "echo" (func $echo'))))))
  (export $t'' "t" (type $t'))
  (func (export "run") (param "x" $t'') (result $t'')
    (canon lift (core func $m "run") (memory (core memory $mem "mem"))
      (realloc (core func $mem "realloc")))))
"""


@cache
def _binary(text: str) -> bytes:
    return load_component(text)


class Echo:
    """An instance of the echo component for ``t``, recording what its host function saw."""

    def __init__(self, t: ValType, reply: Any = None) -> None:
        self.seen: list[Any] = []
        linker = Linker()

        def echo(x: Any) -> Any:
            self.seen.append(x)
            return x if reply is None else reply(x)

        linker.define("echo", echo)
        self.run = linker.instantiate(_binary(echo_text(t)), "echo").func("run")

    def __call__(self, value: Any) -> Any:
        return self.run.call(value)


def same(a: Any, b: Any) -> bool:
    """Equal, with NaN equal to itself (floats come back as the canonical NaN)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if type(a) is not type(b) and not (isinstance(a, str) and isinstance(b, str)):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, Variant):
        return a.case == b.case and same(a.value, b.value)
    if isinstance(a, Ok | Err | Some):
        return same(a.value, b.value)
    return a == b


def same_canon(a: Any, b: Any) -> bool:
    """Equal canon values, with ``bytes`` equal to the list of its ints (both lower alike)."""
    if isinstance(a, bytes):
        a = list(a)
    if isinstance(b, bytes):
        b = list(b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(map(same_canon, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_canon(a[k], b[k]) for k in a)
    if isinstance(a, Variant) and isinstance(b, Variant):
        return a.case == b.case and same_canon(a.value, b.value)
    return same(a, b)


# -- random types and values -----------------------------------------------------------------

PLAIN_LEAVES: list[ValType] = [
    BoolType(), S8Type(), U8Type(), S16Type(), U16Type(), S32Type(), U32Type(), S64Type(),
    U64Type(), F32Type(), F64Type(), CharType(), StringType(),
]


def _plain(t: ValType) -> bool:
    """No maps (component text has none yet) and flags the validator accepts (at most 32)."""
    match t:
        case MapType():
            return False
        case FlagsType(labels):
            return len(labels) <= 32
        case ListType(u) | OptionType(u):
            return _plain(u)
        case RecordType(fields):
            return all(_plain(f.t) for f in fields)
        case TupleType(ts):
            return all(map(_plain, ts))
        case VariantType(cases):
            return all(c.t is None or _plain(c.t) for c in cases)
        case ResultType(ok, error):
            return all(u is None or _plain(u) for u in (ok, error))
    return True


all_types = st.recursive(st.sampled_from(PLAIN_LEAVES), vs._extend, max_leaves=5)
plain_types = all_types.filter(_plain)


def python_values(t: ValType) -> st.SearchStrategy[Any]:
    """Values of ``t`` in the Python mapping: the canon strategies, converted."""
    return vs.values_for(t).map(lambda v: to_python(v, t))


# -- round trips -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(t=plain_types, data=st.data())
def test_python_values_cross_a_real_component_both_ways_unchanged(t, data):
    echo = Echo(t)
    for _ in range(3):
        canon = data.draw(vs.values_for(t))
        value = to_python(canon, t)
        echo.seen.clear()
        result = echo(value)
        assert len(echo.seen) == 1 and same(echo.seen[0], value), (echo.seen, value)
        assert same(result, value), (result, value)
        assert same_canon(to_canon(result, t), canon), (result, canon)


def _no_map(t: ValType | None) -> bool:
    match t:
        case MapType():
            return False
        case ListType(u) | OptionType(u):
            return _no_map(u)
        case RecordType(fields):
            return all(_no_map(f.t) for f in fields)
        case TupleType(ts):
            return all(map(_no_map, ts))
        case VariantType(cases):
            return all(_no_map(c.t) for c in cases)
        case ResultType(ok, error):
            return _no_map(ok) and _no_map(error)
    return True


@settings(max_examples=300, deadline=None)
@given(t=all_types.filter(_no_map), data=st.data())
def test_the_mapping_loses_nothing(t, data):
    """(Maps are the exception: a dict keeps one value per key; see the test on maps.)"""
    value = data.draw(vs.values_for(t))
    python = to_python(value, t)
    assert same_canon(to_canon(python, t), value)
    assert same(to_python(to_canon(python, t), t), python)


junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=3),
    st.binary(max_size=3), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.builds(Variant, st.sampled_from(["none", "some", "ok", "error", "a"]), st.integers()),
    st.builds(Ok, st.integers()), st.builds(Some, st.none()),
)


@settings(max_examples=300, deadline=None)
@given(t=all_types, value=junk)
def test_any_value_either_converts_or_raises_a_type_or_value_error(t, value):
    try:
        to_canon(value, t)
    except (TypeError, ValueError) as e:
        assert str(e).startswith("value")


# -- the mapping, case by case -----------------------------------------------------------------


def test_options_are_none_or_the_value():
    echo = Echo(OptionType(U32Type()))
    assert echo(None) is None
    assert echo(7) == 7
    assert echo(Some(7)) == 7                      # accepted, never produced here
    assert echo(Variant("some", 7)) == 7           # the canon shape is still accepted
    assert echo(Variant("none")) is None
    assert echo.seen == [None, 7, 7, 7, None]


def test_a_nested_option_wraps_its_outer_some():
    echo = Echo(OptionType(OptionType(StringType())))
    assert echo(None) is None
    assert echo(Some(None)) == Some(None)
    assert echo(Some("x")) == Some("x")
    assert echo("x") == Some("x")                  # a bare value is some(some(x))
    assert to_canon(Some(None), OptionType(OptionType(StringType()))) == \
        Variant("some", Variant("none"))


def test_an_option_of_a_variant_takes_a_variant_as_its_value():
    t = OptionType(VariantType([CaseType("some", U32Type()), CaseType("other")]))
    assert to_canon(Variant("some", 3), t) == Variant("some", Variant("some", 3))
    assert to_python(Variant("some", Variant("other")), t) == Variant("other")


def test_results_are_ok_or_err():
    echo = Echo(ResultType(StringType(), U32Type()))
    assert echo(Ok("fine")) == Ok("fine")
    assert echo(Err(404)) == Err(404)
    assert echo(Variant("error", 5)) == Err(5)
    empty = Echo(ResultType())
    assert empty(Ok()) == Ok(None)
    assert empty(Err()) == Err(None)
    match echo(Ok("x")):
        case Ok(value):
            assert value == "x"
        case _:
            raise AssertionError("not Ok")


def test_a_result_case_without_a_payload_refuses_a_value():
    with pytest.raises(ValueError, match=r"the error case of result<u32> has no value, got 3"):
        to_canon(Err(3), ResultType(U32Type()))


@dataclass
class Point:
    x_pos: int
    y_pos: int
    label: str


POINT = RecordType([FieldType("x-pos", S32Type()), FieldType("y-pos", S32Type()),
                    FieldType("label", StringType())])


def test_records_come_from_dicts_or_objects_and_come_back_as_dicts():
    echo = Echo(POINT)
    out = {"x-pos": 1, "y-pos": -2, "label": "p"}
    assert echo({"x-pos": 1, "y-pos": -2, "label": "p"}) == out
    assert echo({"x_pos": 1, "y_pos": -2, "label": "p"}) == out
    assert echo(Point(1, -2, "p")) == out
    assert echo.seen == [out, out, out]


def test_bad_records_name_the_field():
    with pytest.raises(TypeError, match=r"value: expected record .*: field 'label' is missing"):
        to_canon({"x-pos": 1, "y-pos": 2}, POINT)
    with pytest.raises(ValueError, match=r"has no field\(s\) 'z'"):
        to_canon({"x-pos": 1, "y-pos": 2, "label": "", "z": 0}, POINT)
    with pytest.raises(ValueError, match="field 'x-pos' is given twice"):
        to_canon({"x-pos": 1, "x_pos": 1, "y-pos": 2, "label": ""}, POINT)
    with pytest.raises(TypeError, match=r"field 'y-pos': expected s32 \(an int from"):
        to_canon({"x-pos": 1, "y-pos": "2", "label": ""}, POINT)
    with pytest.raises(TypeError, match="no attribute 'x_pos' \\(field 'x-pos'\\)"):
        to_canon(3, POINT)


def test_a_keyword_field_is_read_from_the_attribute_with_an_underscore():
    @dataclass
    class Lambda:
        class_: str

    assert to_canon(Lambda("c"), RecordType([FieldType("class", StringType())])) == {"class": "c"}


def test_flags_are_sets_of_names():
    echo = Echo(FlagsType(["read", "write", "exec"]))
    assert echo({"read", "exec"}) == frozenset({"read", "exec"})
    assert echo(["write"]) == frozenset({"write"})
    assert echo({"read": True, "write": False}) == frozenset({"read"})
    with pytest.raises(ValueError, match=r"has no flag\(s\) 'delete'"):
        to_canon({"delete"}, FlagsType(["read"]))
    with pytest.raises(TypeError, match="a set of flag names"):
        to_canon("read", FlagsType(["read"]))


def test_enums_are_case_names_and_variants_stay_variants():
    assert Echo(EnumType(["red", "green"]))("green") == "green"
    with pytest.raises(ValueError, match="expected enum { red, green } .*got 'blue'"):
        to_canon("blue", EnumType(["red", "green"]))
    shape = VariantType([CaseType("circle", F64Type()), CaseType("dot")])
    echo = Echo(shape)
    assert echo(Variant("circle", 2)) == Variant("circle", 2.0)
    assert echo(Variant("dot")) == Variant("dot")
    with pytest.raises(ValueError, match="case 'dot' of .* has no payload"):
        to_canon(Variant("dot", 1), shape)


def test_list_u8_is_bytes_and_other_lists_are_lists():
    data = Echo(ListType(U8Type()))
    assert data(b"\x00\xffab") == b"\x00\xffab"
    assert data(bytearray(b"xy")) == b"xy"
    assert data([1, 2, 3]) == b"\x01\x02\x03"
    assert data.seen == [b"\x00\xffab", b"xy", b"\x01\x02\x03"]
    assert Echo(ListType(U8Type(), 2))(b"hi") == b"hi"
    words = Echo(ListType(StringType()))
    assert words(("a", "b")) == ["a", "b"]
    with pytest.raises(ValueError, match=r"element 1: expected u8 \(an int from 0 to 255\), got 256"):
        to_canon([1, 256], ListType(U8Type()))
    with pytest.raises(ValueError, match="3 bytes"):
        to_canon(b"ab", ListType(U8Type(), 3))


def test_tuples_and_maps():
    assert Echo(TupleType([U8Type(), StringType()]))([1, "a"]) == (1, "a")
    t = MapType(StringType(), OptionType(U32Type()))
    assert to_canon({"a": None, "b": 2}, t) == [("a", Variant("none")), ("b", Variant("some", 2))]
    assert to_python([("a", Variant("none")), ("b", Variant("some", 2))], t) == {"a": None, "b": 2}
    assert to_canon([("a", 1)], t) == [("a", Variant("some", 1))]
    assert to_python([("a", Variant("none")), ("a", Variant("some", 1))], t) == {"a": 1}
    keyed_by_lists = MapType(ListType(U32Type()), U32Type())
    assert to_python([([1], 2)], keyed_by_lists) == [([1], 2)]


def test_numbers_are_checked():
    ints = Echo(S8Type())
    assert ints(-128) == -128
    with pytest.raises(ValueError, match=r"run: parameter 'x': expected s8 \(an int from -128 to 127\), got 128"):
        ints(128)
    with pytest.raises(TypeError, match=r"expected s8 .*got True \(bool\)"):
        ints(True)
    floats = Echo(F64Type())
    assert floats(3) == 3.0 and isinstance(floats(3), float)
    with pytest.raises(TypeError, match=r"expected f64 \(a float\), got '1' \(str\)"):
        floats("1")
    with pytest.raises(TypeError, match="expected char"):
        to_canon("ab", CharType())
    with pytest.raises(ValueError, match="no lone surrogates"):
        to_canon("a\ud800", StringType())


def test_a_bad_argument_raises_before_anything_runs():
    echo = Echo(U32Type())
    with pytest.raises(TypeError, match=r"run\(x: u32\) takes 1 argument\(s\), 2 given"):
        echo.run.call(1, 2)
    with pytest.raises(TypeError, match="run: parameter 'x'"):
        echo(None)
    assert echo.seen == []
    assert echo(5) == 5                            # the instance is as good as new


def test_a_host_function_returning_a_bad_value_is_named():
    echo = Echo(OptionType(U32Type()), reply=lambda x: "nope")
    with pytest.raises(HostError, match=r"^host function 'echo': its result, some: "
                                        r"expected u32 .*got 'nope'") as e:
        echo(1)
    assert isinstance(e.value.error, TypeError)


def test_streams_are_checked_and_passed_through():
    conv = StreamType(U8Type())
    stream = HostStream(U8Type(), b"abc")
    assert to_canon(stream, conv) is stream
    with pytest.raises(TypeError, match="got a stream of u32"):
        to_canon(HostStream(U32Type(), []), conv)
    with pytest.raises(TypeError, match="expected stream<u8>"):
        to_canon(b"abc", conv)


def test_define_func_and_call_on_a_host_function_use_the_mapping():
    linker = Linker()
    ft = FuncType([("text", StringType())], [ResultType(U32Type(), StringType())])

    def parse(text):
        return Ok(int(text)) if text.isdigit() else Err(f"not a number: {text}")

    parse_func = linker.define_func("parse", parse, ft)
    assert parse_func.call("42") == Ok(42)
    assert parse_func.call("x") == Err("not a number: x")
    assert parse_func.call_canon("42") == [Variant("ok", 42)]


# -- resources a guest implements ------------------------------------------------------------

# A defines a resource (its destructor adds the rep to a running sum) and
# functions that make, lend, and consume one.
PROVIDER = """
(component
  (core module $State
    (global $destroyed (mut i32) (i32.const 0))
    (func (export "dtor") (param i32)
      (global.set $destroyed (i32.add (global.get $destroyed) (local.get 0))))
    (func (export "destroyed") (result i32) (global.get $destroyed)))
  (core instance $state (instantiate $State))
  (type $r (resource (rep i32) (dtor (core func $state "dtor"))))
  (core func $new (canon resource.new $r))
  (core func $rep (canon resource.rep $r))
  (core func $drop (canon resource.drop $r))
  (core module $M
    (import "" "new" (func $new (param i32) (result i32)))
    (import "" "rep" (func $rep (param i32) (result i32)))
    (import "" "drop" (func $drop (param i32)))
    (func (export "make") (param i32) (result i32) (call $new (local.get 0)))
    (func (export "get") (param i32) (result i32) (local.get 0))
    (func (export "consume") (param i32) (result i32)
      (local $v i32)
      (local.set $v (call $rep (local.get 0)))
      (call $drop (local.get 0))
      (local.get $v)))
  (core instance $m (instantiate $M (with "" (instance
    (export "new" (func $new)) (export "rep" (func $rep)) (export "drop" (func $drop))))))
  (export $R "r" (type $r))
  (func (export "make") (param "v" u32) (result (own $R)) (canon lift (core func $m "make")))
  (func (export "get") (param "c" (borrow $R)) (result u32) (canon lift (core func $m "get")))
  (func (export "consume") (param "c" (own $R)) (result u32) (canon lift (core func $m "consume")))
  (func (export "destroyed") (result u32) (canon lift (core func $state "destroyed"))))
"""

# B imports A's resource and hands one to the host: lent (inspect) or given (keep).
USER = """
(component
  (import "r" (type $r (sub resource)))
  (import "make" (func $make (param "v" u32) (result (own $r))))
  (import "inspect" (func $inspect (param "c" (borrow $r)) (result u32)))
  (import "keep" (func $keep (param "c" (own $r))))
  (core func $make' (canon lower (func $make)))
  (core func $inspect' (canon lower (func $inspect)))
  (core func $keep' (canon lower (func $keep)))
  (core func $drop (canon resource.drop $r))
  (core module $M
    (import "" "make" (func $make (param i32) (result i32)))
    (import "" "inspect" (func $inspect (param i32) (result i32)))
    (import "" "keep" (func $keep (param i32)))
    (import "" "drop" (func $drop (param i32)))
    (func (export "lend") (param i32) (result i32)
      (local $h i32) (local $x i32)
      (local.set $h (call $make (local.get 0)))
      (local.set $x (call $inspect (local.get $h)))
      (call $drop (local.get $h))
      (local.get $x))
    (func (export "give") (param i32) (call $keep (call $make (local.get 0)))))
  (core instance $m (instantiate $M (with "" (instance
    (export "make" (func $make')) (export "inspect" (func $inspect'))
    (export "keep" (func $keep')) (export "drop" (func $drop))))))
  (func (export "lend") (param "v" u32) (result u32) (canon lift (core func $m "lend")))
  (func (export "give") (param "v" u32) (canon lift (core func $m "give"))))
"""


def test_the_resource_components_are_valid():
    for text in (PROVIDER, USER, HOST_COUNTER, HOST_COUNTER_INSTANCE):
        assert validate(load_component(text)) is None


@pytest.fixture
def provider():
    linker = Linker()
    return linker, linker.instantiate(_binary(PROVIDER), "provider")


def destroyed(provider_instance) -> int:
    return provider_instance.func("destroyed").call()


def test_an_own_result_is_a_handle_the_host_can_lend_move_or_drop(provider):
    _, a = provider
    h = a.func("make").call(7)
    assert isinstance(h, GuestResource) and h.owned and h.rep == 7
    assert a.func("get").call(h) == 7             # lent: still the host's
    assert h.owned
    assert a.func("consume").call(h) == 7         # moved: the guest dropped it
    assert not h.alive and destroyed(a) == 7
    with pytest.raises(ValueError, match="get: parameter 'c': .*cannot be passed: it was moved"):
        a.func("get").call(h)
    h2 = a.func("make").call(100)
    h2.drop()                                      # runs the guest's destructor
    assert destroyed(a) == 107
    with pytest.raises(ValueError, match="cannot drop .* it was dropped"):
        h2.drop()
    with a.func("make").call(1000) as h3:
        assert h3.alive
    assert destroyed(a) == 1107


def test_a_handle_is_checked_against_the_parameter_type(provider):
    linker, a = provider
    other = linker.instantiate(_binary(PROVIDER), "other")
    h = other.func("make").call(1)
    with pytest.raises(TypeError, match=r"parameter 'c': expected own<.*> \(a GuestResource"):
        a.func("consume").call(h)
    with pytest.raises(TypeError, match="a GuestResource"):
        a.func("consume").call(1)
    assert h.owned                                 # a failed call moves nothing


def test_host_functions_get_borrowed_handles_for_the_call_and_owned_ones_to_keep(provider):
    linker, a = provider
    linker.define("r", a.exports["r"])
    linker.define("make", a.func("make"))
    lent, kept = [], []

    def inspect(c):
        lent.append(c)
        assert c.alive and not c.owned
        return c.rep * 2

    def keep(c):
        kept.append(c)
        if c.rep == 5:
            c.drop()                               # from inside the host function

    linker.define("inspect", inspect)
    linker.define("keep", keep)
    b = linker.instantiate(_binary(USER), "user")
    assert b.func("lend").call(21) == 42
    assert not lent[0].alive                       # the borrow ended with the call
    assert destroyed(a) == 21                      # B dropped its own handle
    b.func("give").call(5)
    assert destroyed(a) == 26
    b.func("give").call(1000)
    assert kept[-1].owned
    assert a.func("consume").call(kept[-1]) == 1000
    assert destroyed(a) == 1026


def test_one_call_cannot_move_a_handle_twice_or_lend_what_it_moves(provider):
    linker, a = provider
    rt = a.exports["r"]
    both = linker.define_func("both", lambda x, y: None,
                              FuncType([("x", OwnType(rt)), ("y", OwnType(rt))], []))
    mixed = linker.define_func("mixed", lambda x, y: None,
                               FuncType([("x", OwnType(rt)), ("y", BorrowType(rt))], []))
    h = a.func("make").call(3)
    with pytest.raises(ValueError, match="both: parameter 'y': .* passed as an own twice"):
        both.call(h, h)
    with pytest.raises(ValueError, match="mixed: parameter 'y': .* passed as an own in the same"):
        mixed.call(h, h)
    assert h.owned
    seen = []
    lend_back = linker.define_func("lend-back", lambda x: seen.append(x),
                                   FuncType([("x", BorrowType(rt))], []))
    lend_back.call(h)
    [borrowed] = seen
    with pytest.raises(ValueError, match="it was expired"):
        both.call(borrowed, h)


def test_a_borrowed_handle_cannot_be_given_away(provider):
    linker, a = provider
    rt = a.exports["r"]
    h = a.func("make").call(4)
    errors = []

    def lend(x):
        with pytest.raises(ValueError, match="is borrowed: it cannot be passed as an own") as e:
            to_canon(x, OwnType(rt))
        errors.append(e)

    linker.define_func("lend", lend, FuncType([("x", BorrowType(rt))], [])).call(h)
    assert len(errors) == 1 and h.owned


def test_error_contexts_and_plain_resource_types_pass_through():
    e = ErrorContext("boom")
    assert to_canon(e, ErrorContextType()) is e and to_python(e, ErrorContextType()) is e
    with pytest.raises(TypeError, match="expected error-context"):
        to_canon("boom", ErrorContextType())
    plain = ResourceType(None, name="plain")       # made by hand: its values are bare reps
    assert to_canon(7, OwnType(plain)) == 7 and to_python(7, OwnType(plain)) == 7
    named = HostResource("thing")
    assert to_canon(object(), OwnType(named.type)) == 1
    assert repr(named) == "<HostResource thing: 1 live>"


# -- resources the host implements -----------------------------------------------------------

_COUNTER_BODY = """
  (core func $new' (canon lower (func $new)))
  (core func $bump' (canon lower (func $bump)))
  (core func $drop (canon resource.drop $c))
  (core module $M
    (import "" "new" (func $new (param i32) (result i32)))
    (import "" "bump" (func $bump (param i32) (result i32)))
    (import "" "drop" (func $drop (param i32)))
    (global $kept (mut i32) (i32.const 0))
    (func (export "count") (param i32) (result i32)
      (local $h i32) (local $x i32)
      (local.set $h (call $new (local.get 0)))
      (drop (call $bump (local.get $h)))
      (local.set $x (call $bump (local.get $h)))
      (call $drop (local.get $h))
      (local.get $x))
    (func (export "bump-it") (param i32) (result i32)
      (local $x i32)
      (local.set $x (call $bump (local.get 0)))
      (call $drop (local.get 0))
      (local.get $x))
    (func (export "keep") (param i32) (global.set $kept (local.get 0)))
    (func (export "give-back") (result i32) (global.get $kept))
    (func (export "take") (param i32) (call $drop (local.get 0))))
  (core instance $m (instantiate $M (with "" (instance
    (export "new" (func $new')) (export "bump" (func $bump')) (export "drop" (func $drop))))))
  (func (export "count") (param "start" u32) (result u32) (canon lift (core func $m "count")))
  (func (export "bump-it") (param "c" (borrow $c)) (result u32)
    (canon lift (core func $m "bump-it")))
  (func (export "keep") (param "c" (own $c)) (canon lift (core func $m "keep")))
  (func (export "give-back") (result (own $c)) (canon lift (core func $m "give-back")))
  (func (export "take") (param "c" (own $c)) (canon lift (core func $m "take"))))
"""

# A guest using a resource type the host implements: counters with a bump method.
HOST_COUNTER = """
(component
  (import "counter" (type $c (sub resource)))
  (import "[constructor]counter" (func $new (param "start" u32) (result (own $c))))
  (import "[method]counter.bump" (func $bump (param "self" (borrow $c)) (result u32)))
""" + _COUNTER_BODY

# The same, with the resource type and its functions in one instance import.
HOST_COUNTER_INSTANCE = """
(component
  (import "test:counters/api" (instance $api
    (export "counter" (type (sub resource)))
    (export "[constructor]counter" (func (param "start" u32) (result (own 0))))
    (export "[method]counter.bump" (func (param "self" (borrow 0)) (result u32)))))
  (alias export $api "counter" (type $c))
  (alias export $api "[constructor]counter" (func $new))
  (alias export $api "[method]counter.bump" (func $bump))
""" + _COUNTER_BODY


class Counter:
    def __init__(self, start: int) -> None:
        self.n = start

    def bump(self) -> int:
        self.n += 1
        return self.n


def counter_linker(as_instance: bool) -> tuple[Linker, HostResource, list[Counter]]:
    dropped: list[Counter] = []
    counter = HostResource(Counter, dtor=dropped.append)
    linker = Linker()
    functions = {"counter": counter, "[constructor]counter": Counter,
                 "[method]counter.bump": Counter.bump}
    if as_instance:
        linker.define("test:counters/api", functions)
    else:
        for name, item in functions.items():
            linker.define(name, item)
    return linker, counter, dropped


@pytest.mark.parametrize("as_instance", [False, True])
def test_host_resources_are_python_objects_to_the_host(as_instance):
    linker, counter, dropped = counter_linker(as_instance)
    text = HOST_COUNTER_INSTANCE if as_instance else HOST_COUNTER
    c = linker.instantiate(_binary(text))
    assert c.func("count").call(10) == 12          # constructor, two bumps, drop
    assert [d.n for d in dropped] == [12] and len(counter) == 0
    mine = Counter(100)
    assert c.func("bump-it").call(mine) == 101     # lent for the call
    assert mine.n == 101 and len(counter) == 0 and len(dropped) == 1
    c.func("keep").call(mine)                      # given: the guest holds it
    assert len(counter) == 1
    back = c.func("give-back").call()              # returned: the host owns it again
    assert back is mine and len(counter) == 0 and len(dropped) == 1
    c.func("take").call(mine)                      # given and dropped by the guest
    assert dropped[-1] is mine and len(counter) == 0


def test_a_host_resource_checks_its_class_and_its_import():
    linker, _, _ = counter_linker(False)
    c = linker.instantiate(_binary(HOST_COUNTER))
    with pytest.raises(TypeError, match=r"take: parameter 'c': expected a Counter \(resource "
                                        r"Counter\), got 'x' \(str\)"):
        c.func("take").call("x")
    bad = Linker()
    bad.define("counter", lambda: 0)
    with pytest.raises(LinkError, match="import 'counter' is a resource type: define it as a "
                                        "HostResource, got function"):
        bad.instantiate(_binary(HOST_COUNTER))
    missing = Linker()
    missing.define("test:counters/api", {"[constructor]counter": Counter})
    with pytest.raises(LinkError, match="missing import 'test:counters/api' export 'counter'"):
        missing.instantiate(_binary(HOST_COUNTER_INSTANCE))


def test_a_bad_argument_takes_back_the_reps_given_to_earlier_ones():
    linker, counter, _ = counter_linker(False)
    ft = FuncType([("c", OwnType(counter.type)), ("d", BorrowType(counter.type)),
                   ("n", U32Type())], [])
    f = linker.define_func("f", lambda c, d, n: None, ft)
    with pytest.raises(TypeError, match="f: parameter 'n'"):
        f.call(Counter(1), Counter(2), "three")
    assert len(counter) == 0
    f.call(Counter(1), Counter(2), 3)             # the host function got its own back
    assert len(counter) == 0
