"""WAVE text: round trips over generated types, the README's examples, every error."""

from __future__ import annotations

import math
from typing import Any

import pytest
import value_strategies as vs
from hypothesis import given, settings
from hypothesis import strategies as st

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
    S64Type,
    StreamType,
    StringType,
    TupleType,
    U8Type,
    U32Type,
    ValType,
    Variant,
    VariantType,
)
from stackswitch.text.wave import WaveError, format_value, parse_call, parse_value

U8, S8, STR, CHAR = U8Type(), S8Type(), StringType(), CharType()
HANDLES = (OwnType, BorrowType, StreamType, FutureType, ErrorContextType)

wave_types: st.SearchStrategy[ValType] = st.recursive(
    st.sampled_from([t for t in vs.LEAF_TYPES if not isinstance(t, HANDLES)]),
    vs._extend, max_leaves=5)


@settings(max_examples=300, deadline=None)
@given(wave_types.flatmap(lambda t: st.tuples(st.just(t), vs.values_for(t))))
def test_round_trip(tv: tuple[ValType, Any]) -> None:
    t, v = tv
    text = format_value(v, t)
    assert vs.same(v, parse_value(text, t)), text


@settings(max_examples=200, deadline=None)
@given(st.floats(width=32), st.floats())
def test_float_round_trip(x32: float, x64: float) -> None:
    for x, t in ((x32, F32Type()), (x64, F64Type())):
        text = format_value(x, t)
        assert vs.same(x, parse_value(text, t))


R = RecordType([FieldType("must-have", U8), FieldType("optional", OptionType(U8))])
RESPONSE = VariantType([CaseType("empty"), CaseType("body", ListType(U8)),
                        CaseType("err", STR)])
PERMS = FlagsType(["read", "write", "exec"])


@pytest.mark.parametrize(("text", "t", "expected"), [
    ("true", BoolType(), True),
    ("false", BoolType(), False),
    ("123", U32Type(), 123),
    ("-9", S8, -9),
    ("3.14", F64Type(), 3.14),
    ("6.022e+23", F64Type(), 6.022e23),
    ("-inf", F64Type(), -math.inf),
    ("inf", F32Type(), math.inf),
    ("1e300", F32Type(), math.inf),
    ("-1e300", F32Type(), -math.inf),
    ("0.1", F32Type(), 0.10000000149011612),
    ("'x'", CHAR, "x"),
    ("'☃'", CHAR, "☃"),
    ("'\\''", CHAR, "'"),
    ("'\"'", CHAR, '"'),
    ("'\\u{0}'", CHAR, "\0"),
    ("'\\u{1F600}'", CHAR, "\U0001F600"),
    ('"abc\\t123"', STR, "abc\t123"),
    ('"a\\"b\\\\c\\n\\r\\\'"', STR, "a\"b\\c\n\r'"),
    ('""', STR, ""),
    ('"\U0001F44B Hello, world! \U0001F44B"', STR, "\U0001F44B Hello, world! \U0001F44B"),
    ('("abc", 123)', TupleType([STR, U8]), ("abc", 123)),
    ("(1,)", TupleType([U8]), (1,)),
    ("[1, 2, 3]", ListType(U8), [1, 2, 3]),
    ("[1, 2, 3,]", ListType(U8, 3), [1, 2, 3]),
    ("[]", ListType(CHAR), []),
    ("['a', 'b', 'c']", ListType(CHAR), ["a", "b", "c"]),
    ('{field-a: 1, field-b: "two"}',
     RecordType([FieldType("field-a", U8), FieldType("field-b", STR)]),
     {"field-a": 1, "field-b": "two"}),
    ("{must-have: 123}", R, {"must-have": 123, "optional": Variant("none")}),
    ("{optional: none, must-have: 123,}", R, {"must-have": 123, "optional": Variant("none")}),
    ("{%must-have: 1, optional: 2}", R, {"must-have": 1, "optional": Variant("some", 2)}),
    ("{:}", RecordType([FieldType("optional", OptionType(U8))]), {"optional": Variant("none")}),
    ("{ok: 1}", RecordType([FieldType("ok", U8)]), {"ok": 1}),
    ("empty", RESPONSE, Variant("empty")),
    ("body([79, 75])", RESPONSE, Variant("body", [79, 75])),
    ('%err("oops")', RESPONSE, Variant("err", "oops")),
    ("days (30)", VariantType([CaseType("days", U32Type()), CaseType("forever")]),
     Variant("days", 30)),
    ("south", EnumType(["north", "south"]), "south"),
    ("%ok", EnumType(["ok", "not-found"]), "ok"),
    ("not-found", EnumType(["ok", "not-found"]), "not-found"),
    ("HTTP3", EnumType(["HTTP3", "method-GET"]), "HTTP3"),
    ("method-GET", EnumType(["HTTP3", "method-GET"]), "method-GET"),
    ('"flat some"', OptionType(STR), Variant("some", "flat some")),
    ('some("explicit some")', OptionType(STR), Variant("some", "explicit some")),
    ("none", OptionType(STR), Variant("none")),
    ("123", OptionType(U8), Variant("some", 123)),
    ("some(none)", OptionType(OptionType(U8)), Variant("some", Variant("none"))),
    ('"flat ok"', ResultType(STR), Variant("ok", "flat ok")),
    ('ok("explicit ok")', ResultType(STR), Variant("ok", "explicit ok")),
    ('err("oops")', ResultType(STR, STR), Variant("error", "oops")),
    ("ok", ResultType(None, STR), Variant("ok")),
    ("ok", ResultType(), Variant("ok")),
    ("err", ResultType(), Variant("error")),
    ("ok(some(1))", ResultType(OptionType(U8)), Variant("ok", Variant("some", 1))),
    ("{read, write}", PERMS, frozenset({"read", "write"})),
    ("{write, read,}", PERMS, frozenset({"read", "write"})),
    ("{%exec}", PERMS, frozenset({"exec"})),
    ("{}", PERMS, frozenset()),
    ("[(1, 'a'), (2, 'b')]", MapType(U8, CHAR), [(1, "a"), (2, "b")]),
    ("  [1, // one\n 2] // done", ListType(U8), [1, 2]),
    ('"""\nA single line\n"""', STR, "A single line"),
    ('"""\n    Indentation determined\n      by ending delimiter\n  """', STR,
     "  Indentation determined\n    by ending delimiter"),
    ('"""\n  Must escape carriage return at end of line: \\r\n'
     '  Must break up double quote triplets: ""\\""\n  """', STR,
     'Must escape carriage return at end of line: \r\nMust break up double quote triplets: """"'),
    ('"""\r\n  a\r\n\r\n  b\r\n  """', STR, "a\n\nb"),
])
def test_examples(text: str, t: ValType, expected: Any) -> None:
    assert vs.same(expected, parse_value(text, t))


def test_nan() -> None:
    assert math.isnan(parse_value("nan", F32Type()))
    assert format_value(math.nan, F64Type()) == "nan"


@pytest.mark.parametrize(("v", "t", "text"), [
    (Variant("error", "oops"), ResultType(U8, STR), 'err("oops")'),
    (Variant("ok"), ResultType(), "ok"),
    (Variant("some", 1), OptionType(U8), "some(1)"),
    (Variant("err", "x"), RESPONSE, '%err("x")'),
    ("ok", EnumType(["ok"]), "%ok"),
    ({"must-have": 1, "optional": Variant("none")}, R, "{must-have: 1, optional: none}"),
    (frozenset({"exec", "read"}), PERMS, "{read, exec}"),
    ("a'\"\\\n\t\r\x00\x7f\u00e9", STR, '"a\'\\"\\\\\\n\\t\\r\\u{0}\\u{7f}\u00e9"'),
    ("'", CHAR, "'\\''"),
    ({1: "a"}, MapType(U8, CHAR), "[(1, 'a')]"),
    (0.1, F32Type(), "0.1"),
    (5027190.0, F32Type(), "5027190.0"),
    (1e-10, F32Type(), "1e-10"),
    (-0.0, F64Type(), "-0.0"),
    (1e100, F64Type(), "1e+100"),
    (-math.inf, F32Type(), "-inf"),
    (True, BoolType(), "true"),
    (7, StreamType(U8), "<stream<u8>>"),
    (7, OwnType(vs.RT), "<own<r>>"),
    (7, ErrorContextType(), "<error-context>"),
])
def test_format(v: Any, t: ValType, text: str) -> None:
    assert format_value(v, t) == text


E2 = VariantType([CaseType("a", U8), CaseType("b")])
ERRORS: list[tuple[str, ValType, str]] = [
    ("[1, 2, 300]", ListType(U8), 'at 7: expected a u8 (0..255), found "300"'),
    ("-129", S8, 'at 0: expected an s8 (-128..127), found "-129"'),
    ("1.0", S64Type(), 'at 0: expected an s64 (-9223372036854775808..9223372036854775807), '
     'found "1.0"'),
    ("007", U8, 'at 0: expected a u8 (0..255), found "007"'),
    ("", U8, "at 0: expected a u8 (0..255), found end of input"),
    ("yes", BoolType(), 'at 0: expected a bool (true or false), found "yes"'),
    ("1.", F64Type(), 'at 0: expected an f64 (a number, nan, inf or -inf), found "1."'),
    ("+1", F32Type(), 'at 0: expected an f32 (a number, nan, inf or -inf), found "+1"'),
    ("x", CHAR, "at 0: expected a char ('x'), found \"x\""),
    ("'ab'", CHAR, "at 0: expected a char (exactly one character), found 'ab'"),
    ("''", CHAR, "at 0: expected a char (exactly one character), found ''"),
    ("'a", CHAR, "at 2: expected the closing ' of the char started at 0, found end of input"),
    ("'\n'", CHAR, "at 1: expected \\n (a newline in a char must be escaped), "
     "found a line break"),
    ("'\ud800'", CHAR, "at 1: expected a Unicode scalar value, found surrogate U+D800"),
    ("'\\q'", CHAR, "at 1: expected an escape (\\' \\\" \\\\ \\t \\n \\r or \\u{hex}), "
     'found "\\q"'),
    ("'\\u{D800}'", CHAR, 'at 1: expected a Unicode scalar value in \\u{hex}, '
     'found "\\u{D800}"'),
    ("'\\u{110000}'", CHAR, 'at 1: expected a Unicode scalar value in \\u{hex}, '
     'found "\\u{110000}"'),
    ("'\\u0041'", CHAR, 'at 1: expected a Unicode scalar value in \\u{hex}, found "\\u"'),
    ("'\\", CHAR, 'at 1: expected an escape (\\\' \\" \\\\ \\t \\n \\r or \\u{hex}), '
     'found "\\"'),
    ("abc", STR, 'at 0: expected a string ("..."), found "abc"'),
    ('"abc', STR, 'at 4: expected the closing " of the string started at 0, '
     "found end of input"),
    ('"""abc"""', STR, 'at 3: expected a line break after """, found "abc"'),
    ('"""\nabc', STR, 'at 7: expected the closing """ of the string started at 0, '
     "found end of input"),
    ('"""\nabc"""', STR, 'at 4: expected a line break and only spaces before the closing """, '
     'found "abc"'),
    ('"""\n  a\n b\n  """', STR, 'at 8: expected 2 spaces of indentation, found 1'),
    ('"""\n  a\\q\n  """', STR, "at 7: expected an escape (\\' \\\" \\\\ \\t \\n \\r or "
     '\\u{hex}), found "\\q"'),
    ("1 2", U8, 'at 2: expected end of input, found "2"'),
    ("(1", TupleType([U8]), 'at 2: expected ")" after the 1 elements of tuple<u8>, '
     "found end of input"),
    ("(1,2)", TupleType([U8]), 'at 3: expected ")" after the 1 elements of tuple<u8>, '
     'found "2"'),
    ("(1)", TupleType([U8, U8]), 'at 2: expected "," and element 1 of tuple<u8, u8>, '
     'found ")"'),
    ("[1, 2]", TupleType([U8]), 'at 0: expected "(" to start tuple<u8>, found "["'),
    ("(1, 2)", ListType(U8), 'at 0: expected "[" to start list<u8>, found "("'),
    ("[1 2]", ListType(U8), 'at 3: expected "," or "]" in list<u8>, found "2"'),
    ("[1, 2]", ListType(U8, 3), 'at 0: expected 3 elements for list<u8, 3>, found 2 elements'),
    ("{}", R, "at 1: expected a field of record { must-have: u8, optional: option<u8> } "
     "(write {:} if every field is none), found \"}\""),
    ("{must-have: 1, must-have: 2}", R, "at 15: expected each field once in "
     "record { must-have: u8, optional: option<u8> }, found a second \"must-have\""),
    ("{other: 1}", R, 'at 1: expected a field of record { must-have: u8, '
     'optional: option<u8> }, found "other"'),
    ("{optional: 1}", R, 'at 0: expected field "must-have" of '
     "record { must-have: u8, optional: option<u8> }, found it missing"),
    ("{must-have 1}", R, 'at 11: expected ":" after field "must-have", found "1"'),
    ("{:1}", R, 'at 2: expected "}" after "{:", found "1"'),
    ("{a_b: 1}", R, 'at 1: expected a field of record { must-have: u8, '
     'optional: option<u8> }, found "a_b"'),
    ("[1]", R, 'at 0: expected "{" to start record { must-have: u8, optional: option<u8> }, '
     'found "["'),
    ("c", E2, 'at 0: expected a case of variant { a(u8), b }, found "c"'),
    ("aB", E2, 'at 0: expected a case of variant { a(u8), b }, found "aB"'),
    ("a", E2, 'at 1: expected "(" and the u8 payload of case "a", found end of input'),
    ("a(1", E2, 'at 3: expected ")" after the payload of case "a", found end of input'),
    ("b(1)", E2, 'at 1: expected no payload after case "b" of variant { a(u8), b }, '
     'found "("'),
    ("err", RESPONSE, "at 0: expected %err (a case named like a WAVE keyword needs a % "
     'prefix), found "err"'),
    ("west", EnumType(["north"]), 'at 0: expected a case of enum { north }, found "west"'),
    ("ok", EnumType(["ok"]), "at 0: expected %ok (a case named like a WAVE keyword needs a % "
     'prefix), found "ok"'),
    ("some", OptionType(U8), 'at 4: expected "(" and the u8 payload of case "some", '
     "found end of input"),
    ("none(1)", OptionType(U8), 'at 4: expected no payload after case "none" of option<u8>, '
     'found "("'),
    ("1", OptionType(OptionType(U8)), 'at 0: expected one of none, some, found "1"'),
    ("1", ResultType(), 'at 0: expected one of ok, err, found "1"'),
    ("ok", ResultType(U8), 'at 2: expected "(" and the u8 payload of case "ok", '
     "found end of input"),
    ("x", ResultType(U8), 'at 0: expected a u8 (0..255), found "x"'),
    ("{read, read}", PERMS, 'at 7: expected each flag once in flags { read, write, exec }, '
     'found a second "read"'),
    ("{run}", PERMS, 'at 1: expected a flag of flags { read, write, exec }, found "run"'),
    ("read", PERMS, 'at 0: expected "{" to start flags { read, write, exec }, found "read"'),
    ("{read write}", PERMS, 'at 6: expected "," or "}" in flags { read, write, exec }, '
     'found "write"'),
    ("1", OwnType(vs.RT), "at 0: expected a value, but own<r> has no WAVE syntax "
     '(handles cannot be written), found "1"'),
    (" x", StreamType(U8), "at 1: expected a value, but stream<u8> has no WAVE syntax "
     '(handles cannot be written), found "x"'),
    ("[1]", ListType(FutureType()), "at 1: expected a value, but future has no WAVE syntax "
     '(handles cannot be written), found "1"'),
    ("1", ErrorContextType(), "at 0: expected a value, but error-context has no WAVE syntax "
     '(handles cannot be written), found "1"'),
    ("\"abc\" x", STR, 'at 6: expected end of input, found "x"'),
    ('"a" "' + "b" * 50, STR, 'at 4: expected end of input, found "' + "b" * 19 + "..."),
    ("1 !", U8, 'at 2: expected end of input, found "!"'),
]


@pytest.mark.parametrize(("text", "t", "message"), ERRORS)
def test_errors(text: str, t: ValType, message: str) -> None:
    with pytest.raises(WaveError) as info:
        parse_value(text, t)
    assert str(info.value) == message
    assert info.value.offset == int(message.split(":")[0][3:])


@settings(max_examples=200, deadline=None)
@given(wave_types, st.text(max_size=12))
def test_garbage_only_raises_wave_error(t: ValType, text: str) -> None:
    try:
        parse_value(text, t)
    except WaveError:
        pass


@pytest.mark.parametrize(("text", "expected"), [
    ("f", ("f", [])),
    ("  f  ", ("f", [])),
    ("f()", ("f", [])),
    ("f ( )", ("f", [])),
    ('f(1, "x", [1, 2])', ("f", ["1", '"x"', "[1, 2]"])),
    ("do-thing(1,)", ("do-thing", ["1"])),
    ("ns:pkg/iface#f(a)", ("ns:pkg/iface#f", ["a"])),
    ("ns:pkg/iface@1.0.0#f", ("ns:pkg/iface@1.0.0#f", [])),
    ("[method]r.f(x)", ("[method]r.f", ["x"])),
    ('f("a,)", \'(\', {a: (1, 2)}, [[1], [2]])',
     ("f", ['"a,)"', "'('", "{a: (1, 2)}", "[[1], [2]]"])),
    ("f(1, // a comma, here\n 2)", ("f", ["1", "// a comma, here\n 2"])),
    ('f("""\n  x, y\n  """, 1)', ("f", ['"""\n  x, y\n  """', "1"])),
    ("%ok(some(1))", ("%ok", ["some(1)"])),
])
def test_parse_call(text: str, expected: tuple[str, list[str]]) -> None:
    assert parse_call(text) == expected


def test_parse_call_arguments_parse() -> None:
    name, args = parse_call('f(1, "x", [1, 2])')
    types = [U8, STR, ListType(U8)]
    assert [parse_value(a, t) for a, t in zip(args, types, strict=True)] == [1, "x", [1, 2]]


@pytest.mark.parametrize(("text", "message"), [
    ("", "at 0: expected a function name, found end of input"),
    ("(1)", 'at 0: expected a function name, found "("'),
    ("f(1", 'at 3: expected ")" to close the "(" at 1, found end of input'),
    ("f([1)", 'at 4: expected "]", found ")"'),
    ("f(1]", 'at 3: expected ")", found "]"'),
    ("f([1", 'at 4: expected "]" to close the "[" at 2, found end of input'),
    ("f(, 1)", 'at 2: expected an argument before ",", found ","'),
    ("f(1,,)", 'at 4: expected an argument before ",", found ","'),
    ('f("a)', 'at 5: expected the closing " of the string started at 2, found end of input'),
    ("f(1) x", 'at 5: expected end of input, found "x"'),
    ("f g", 'at 2: expected end of input, found "g"'),
])
def test_parse_call_errors(text: str, message: str) -> None:
    with pytest.raises(WaveError) as info:
        parse_call(text)
    assert str(info.value) == message
