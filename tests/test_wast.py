"""The .wast runner: our own scripts in tests/wast/, value conversion, reporting, the CLI."""

import math
import struct
import subprocess
import sys
from pathlib import Path

import pytest

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
    ListType,
    MapType,
    OptionType,
    RecordType,
    ResultType,
    S8Type,
    S16Type,
    S32Type,
    S64Type,
    StringType,
    TupleType,
    U8Type,
    U16Type,
    U32Type,
    U64Type,
    Variant,
    VariantType,
)
from stackswitch.cli import main, wast
from stackswitch.cli.wast import run_wast, run_wast_file
from stackswitch.component import wasm_tools
from stackswitch.text.wast_values import WastValueError, from_json, matches, show, to_json

WAST_DIR = Path(__file__).parent / "wast"
SCRIPTS = sorted(WAST_DIR.glob("*.wast"))


# -- our own scripts ----------------------------------------------------------------------


@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_wast_script(script):
    result = run_wast_file(script, out=lambda line: None)
    if result.failed:
        pytest.fail("\n".join(result.failures), pytrace=False)
    assert result.passed > 0


def test_there_is_a_script_per_area():
    names = {p.stem for p in SCRIPTS}
    assert {"values", "futures", "streams", "subtasks", "cancel", "backpressure", "threads",
            "resources", "error-context", "callback", "traps", "three-components"} <= names


# -- values -------------------------------------------------------------------------------


def c(kind, value):
    return {"type": kind, "value": value}


def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f64_bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


REC = RecordType([FieldType("a", U8Type()), FieldType("b-c", StringType())])
VAR = VariantType([CaseType("none"), CaseType("num", U32Type()), CaseType("text", StringType())])
FLAGS = FlagsType(["read", "write", "exec"])
COLOR = EnumType(["red", "green"])

# (type, json constant, Python value): each converts into the other
ROUND_TRIPS = [
    (BoolType(), c("bool", True), True),
    (BoolType(), c("bool", False), False),
    (S8Type(), c("s8", "-128"), -128),
    (U8Type(), c("u8", "255"), 255),
    (S16Type(), c("s16", "-32768"), -32768),
    (U16Type(), c("u16", "65535"), 65535),
    (S32Type(), c("s32", "-2147483648"), -(2**31)),
    (U32Type(), c("u32", "4294967295"), 2**32 - 1),
    (S64Type(), c("s64", "-9223372036854775808"), -(2**63)),
    (U64Type(), c("u64", "18446744073709551615"), 2**64 - 1),
    (F32Type(), c("f32", str(f32_bits(1.5))), 1.5),
    (F32Type(), c("f32", str(f32_bits(-0.0))), -0.0),
    (F64Type(), c("f64", str(f64_bits(-2.25))), -2.25),
    (F64Type(), c("f64", str(f64_bits(math.inf))), math.inf),
    (CharType(), c("char", "𝄞"), "𝄞"),
    (StringType(), c("string", "héllo"), "héllo"),
    (StringType(), c("string", ""), ""),
    (ListType(U32Type()), c("list", [c("u32", "1"), c("u32", "2")]), [1, 2]),
    (ListType(U8Type(), 2), c("list", [c("u8", "1"), c("u8", "2")]), [1, 2]),
    (ListType(StringType()), c("list", []), []),
    (MapType(StringType(), U32Type()),
     c("list", [c("tuple", [c("string", "k"), c("u32", "1")])]), [("k", 1)]),
    (REC, c("record", [["a", c("u8", "7")], ["b-c", c("string", "x")]]), {"a": 7, "b-c": "x"}),
    (TupleType([U8Type(), BoolType()]), c("tuple", [c("u8", "1"), c("bool", True)]), (1, True)),
    (VAR, c("variant", {"case": "none"}), Variant("none")),
    (VAR, c("variant", {"case": "num", "payload": c("u32", "5")}), Variant("num", 5)),
    (VAR, c("variant", {"case": "text", "payload": c("string", "t")}), Variant("text", "t")),
    (COLOR, c("enum", "green"), "green"),
    (OptionType(U8Type()), c("option", None), Variant("none")),
    (OptionType(U8Type()), c("option", c("u8", "3")), Variant("some", 3)),
    (OptionType(OptionType(U8Type())), c("option", c("option", None)), Variant("some", Variant("none"))),
    (ResultType(StringType(), U8Type()), c("result", {"Ok": c("string", "fine")}), Variant("ok", "fine")),
    (ResultType(StringType(), U8Type()), c("result", {"Err": c("u8", "4")}), Variant("error", 4)),
    (ResultType(), c("result", {"Ok": None}), Variant("ok")),
    (ResultType(), c("result", {"Err": None}), Variant("error")),
    (FLAGS, c("flags", []), frozenset()),
    (FLAGS, c("flags", ["read", "exec"]), frozenset({"read", "exec"})),
]


@pytest.mark.parametrize("t,j,v", ROUND_TRIPS, ids=[f"{t!r}:{show(j)}" for t, j, _ in ROUND_TRIPS])
def test_values_convert_both_ways(t, j, v):
    value = from_json(j, t)
    assert value == v
    if isinstance(v, float):
        assert math.copysign(1, value) == math.copysign(1, v)
    back = to_json(v, t)
    assert matches(j, back) and matches(back, j)


def test_flags_are_written_in_type_order_and_may_come_from_a_mapping():
    assert to_json(frozenset({"exec", "read"}), FLAGS) == c("flags", ["read", "exec"])
    assert to_json({"write": True, "read": False}, FLAGS) == c("flags", ["write"])


def test_a_map_may_come_as_a_dict():
    t = MapType(StringType(), U8Type())
    assert to_json({"a": 1}, t) == c("list", [c("tuple", [c("string", "a"), c("u8", "1")])])


def test_nan_forms_all_read_as_nan():
    for j in (c("f32", str(0x7FC00000)), c("f32", str(0xFFA00000)), c("f32", "nan:canonical"),
              c("f64", "nan:arithmetic"), c("f64", str(0x7FF0000000000001))):
        t = F32Type() if j["type"] == "f32" else F64Type()
        assert math.isnan(from_json(j, t))


@pytest.mark.parametrize("j,t,message", [
    (c("u8", "256"), U8Type(), "out of range for u8"),
    (c("s8", "-129"), S8Type(), "out of range for s8"),
    (c("u32", "x"), U32Type(), "not an integer"),
    (c("u32", "1"), S32Type(), "is not a value of type s32"),
    (c("bool", "yes"), BoolType(), "not true or false"),
    (c("char", "ab"), CharType(), "not one character"),
    (c("string", 3), StringType(), "not a string"),
    (c("f32", str(2**32)), F32Type(), "out of range"),
    (c("list", "no"), ListType(U8Type()), "is not a list"),
    (c("list", [c("u8", "1")]), ListType(U8Type(), 2), "needs 2 elements, got 1"),
    (c("tuple", [c("u8", "1")]), TupleType([U8Type(), U8Type()]), "needs 2 elements"),
    (c("record", [["a", c("u8", "1")]]), REC, "needs the fields"),
    (c("record", "x"), REC, "[label, value] pairs"),
    (c("variant", {"case": "other"}), VAR, "has no case 'other'"),
    (c("variant", "num"), VAR, "has no case"),
    (c("variant", {"case": "num"}), VAR, "needs a payload of type u32"),
    (c("variant", {"case": "none", "payload": c("u8", "1")}), VAR, "has no payload"),
    (c("enum", "blue"), COLOR, "has no label 'blue'"),
    (c("result", {"Maybe": None}), ResultType(), "neither Ok nor Err"),
    (c("flags", ["read", "fly"]), FLAGS, "has no flag 'fly'"),
    ("u8", U8Type(), "not a value"),
    (c("u32", "1"), ErrorContextType(), "cannot write a value of type error-context"),
    (c("u32", "1"), BorrowType(object()), "cannot write a value of type borrow"),
])
def test_values_of_the_wrong_form_are_refused(j, t, message):
    with pytest.raises(WastValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
        from_json(j, t)


def test_handles_have_no_script_form_but_still_show():
    j = to_json("<own 3>", BorrowType(object()))
    assert j["value"] == "'<own 3>'"
    assert "<own 3>" in show(j)


def test_matching_is_exact_except_for_nan():
    nan = c("f32", str(0x7FC00000))
    assert matches(nan, c("f32", str(0xFFC00001)))
    assert matches(c("f64", "nan:canonical"), c("f64", str(0x7FF8000000000000)))
    assert not matches(nan, c("f32", "0"))
    assert not matches(c("f32", str(f32_bits(0.0))), c("f32", str(f32_bits(-0.0))))
    assert matches(c("u32", "007"), c("u32", "7"))
    assert not matches(c("u32", "7"), c("s32", "7"))
    assert matches(c("flags", ["b", "a"]), c("flags", ["a", "b"]))
    assert matches(c("record", [["b", c("u8", "1")], ["a", c("u8", "2")]]),
                   c("record", [["a", c("u8", "2")], ["b", c("u8", "1")]]))
    assert not matches(c("list", [c("u8", "1")]), c("list", []))
    assert not matches(c("variant", {"case": "a"}), c("variant", {"case": "a", "payload": c("u8", "1")}))
    assert matches(c("option", None), c("option", None))
    assert not matches(c("result", {"Ok": None}), c("result", {"Err": None}))
    assert not matches(c("record", 5), c("record", []))  # malformed: no match, no crash
    assert matches(c("string", "s"), c("string", "s"))
    assert not matches(None, c("u8", "1"))


def test_values_show_in_script_syntax():
    assert show(c("u32", "42")) == "(u32.const 42)"
    assert show(c("bool", False)) == "(bool.const false)"
    assert show(c("f32", str(f32_bits(1.5)))) == "(f32.const 1.5)"
    assert show(c("f32", str(0x7FC00000))) == "(f32.const nan)"
    assert show(c("f32", str(0xFFA00000))) == "(f32.const -nan:0x200000)"
    assert show(c("f64", str(f64_bits(-math.inf)))) == "(f64.const -inf)"
    assert show(c("f64", "nan:canonical")) == "(f64.const nan:canonical)"
    assert show(c("char", '"')) == '(char.const "\\"")'
    assert show(c("string", "a\nb\t\x01\\")) == '(str.const "a\\nb\\t\\u{1}\\\\")'
    assert show(c("list", [c("u8", "1"), c("u8", "2")])) == "(list.const (u8.const 1) (u8.const 2))"
    assert show(c("tuple", [])) == "(tuple.const)"
    assert show(c("record", [["a", c("u8", "1")]])) == '(record.const (field "a" (u8.const 1)))'
    assert show(c("variant", {"case": "x"})) == '(variant.const "x")'
    assert show(c("variant", {"case": "x", "payload": c("u8", "1")})) == '(variant.const "x" (u8.const 1))'
    assert show(c("enum", "red")) == '(enum.const "red")'
    assert show(c("option", None)) == "(option.none)"
    assert show(c("option", c("u8", "1"))) == "(option.some (u8.const 1))"
    assert show(c("result", {"Ok": None})) == "(result.ok)"
    assert show(c("result", {"Err": c("u8", "1")})) == "(result.err (u8.const 1))"
    assert show(c("flags", ["a", "b"])) == '(flags.const "a" "b")'
    assert show(None) == "(none)"
    assert show(c("i32", "-1")) == "(i32.const -1)"
    assert show(c("own", "'h'")) == "(own \"'h'\")"
    assert show(5) == "5"


# -- running scripts and reporting ------------------------------------------------------------

ADD = """
(component $adder
  (core module $M
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
    (func (export "boom") unreachable))
  (core instance $m (instantiate $M))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32) (canon lift (core func $m "add")))
  (func (export "boom") (canon lift (core func $m "boom"))))
"""


def write(tmp_path, text, name="t.wast"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(path):
    lines = []
    result = run_wast(path, out=lines.append)
    return result, lines


def test_a_passing_script_prints_only_the_summary(tmp_path):
    path = write(tmp_path, ADD + '(assert_return (invoke "add" (u32.const 1) (u32.const 2)) (u32.const 3))\n')
    result, lines = run(path)
    assert (result.passed, result.failed, result.failures) == (2, 0, [])
    assert lines == ["2 passed, 0 failed"]


def test_each_failure_is_one_line_with_file_line_command_expected_and_got(tmp_path):
    path = write(tmp_path, ADD + (
        '(assert_return (invoke "add" (u32.const 1) (u32.const 2)) (u32.const 4))\n'
        '(assert_trap (invoke "add" (u32.const 1) (u32.const 1)) "unreachable")\n'
        '(assert_return (invoke "nothing"))\n'
        '(assert_return (invoke "add" (u32.const 1)) (u32.const 1))\n'
        '(assert_return (invoke "add" (s32.const 1) (u32.const 1)) (u32.const 1))\n'
        '(assert_return (invoke $nobody "add"))\n'
        '(assert_trap (invoke "boom") "unreachable")\n'
        '(assert_trap (invoke "boom") "unreachable")\n'))
    result, lines = run(path)
    assert result.failed == 7 and result.passed == 2
    assert lines[-1] == "2 passed, 7 failed"
    assert lines[:-1] == result.failures
    assert lines[0] == f'{path}:9: assert_return "add": expected (u32.const 4), got (u32.const 3)'
    assert lines[1] == (f'{path}:10: assert_trap "add": expected trap "unreachable", '
                        "got a return: (u32.const 2)")
    assert lines[2].startswith(f"{path}:11: assert_return \"nothing\": expected a function named "
                               "'nothing', got instance 'adder' has no export named 'nothing'")
    assert "expected 2 arguments for func(a: u32, b: u32) -> u32, got 1" in lines[3]
    assert "expected arguments of type func(a: u32, b: u32) -> u32, got (s32.const 1) is not a " \
           "value of type u32" in lines[4]
    assert "expected an instance named 'nobody', got none" in lines[5]
    # the first trap poisoned the instance: the second call cannot enter it
    assert lines[6] == (f'{path}:16: assert_trap "boom": expected trap "unreachable", '
                        "got trap: wasm trap: cannot enter component instance")
    assert all("\n" not in line for line in lines)


def test_a_script_that_does_not_convert_is_one_failure(tmp_path):
    path = write(tmp_path, ADD + "\n(assert_return (invoke \"add\" (u32.const 1 )\n")
    result, lines = run(path)
    assert (result.passed, result.failed) == (0, 1)
    assert lines[0].startswith(f"{path}:11: json-from-wast: expected the script to convert, got ")
    assert lines[-1] == "0 passed, 1 failed"


def test_a_missing_file_is_one_failure(tmp_path):
    result, lines = run(tmp_path / "absent.wast")
    assert result.failed == 1 and "failed to read" in lines[0]


def test_missing_wasm_tools_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(wasm_tools, "executable", lambda: "no-such-wasm-tools-binary")
    result, lines = run(write(tmp_path, ADD))
    assert result.failed == 1
    assert "wasm-tools is not installed" in lines[0]


def test_conversion_messages_give_their_line():
    assert wast._conversion_line("error: bad\n     --> /x/y.wast:12:3\n") == 12
    assert wast._conversion_line("failure processing directive on line 7") == 7
    assert wast._conversion_line("no line here") == 0
    assert wast._conversion_error("") == "no message"


def test_definitions_instances_and_registration(tmp_path):
    path = write(tmp_path, """
(component definition $Const
  (core module $M (func (export "get") (result i32) (i32.const 7)))
  (core instance $m (instantiate $M))
  (func (export "get") (result u32) (canon lift (core func $m "get"))))
(component instance $a $Const)
(register "const" $a)
(component $user
  (import "const" (instance $c (export "get" (func (result u32)))))
  (core func $get (canon lower (func $c "get")))
  (core module $M
    (import "" "get" (func $get (result i32)))
    (func (export "twice") (result i32) (i32.add (call $get) (call $get))))
  (core instance $m (instantiate $M (with "" (instance (export "get" (func $get))))))
  (func (export "twice") (result u32) (canon lift (core func $m "twice"))))
(assert_return (invoke "twice") (u32.const 14))
(assert_return (invoke $a "get") (u32.const 7))
(invoke "twice")
(component instance $Const)
(assert_return (invoke "get") (u32.const 7))
(component instance $b $Missing)
""")
    result, lines = run(path)
    assert result.failed == 1, lines
    assert "module_instance $b $Missing: expected a component definition named 'Missing', got none" \
        in lines[0]


def test_module_failures_are_reported_and_leave_no_current_instance(tmp_path):
    path = write(tmp_path, """
(component (import "absent" (func)))
(assert_return (invoke "f"))
(component definition $Bad (core module $M (func (result i32))))
(component instance $i $Bad)
(component (core module $M (func $s unreachable) (start $s)) (core instance (instantiate $M)))
""")
    result, lines = run(path)
    assert result.failed == 5
    assert "module: expected the component to instantiate, got LinkError:" in lines[0]
    assert "absent" in lines[0]
    assert "expected a current instance, got none" in lines[1]
    assert "module_definition $Bad: expected the component definition to be valid, got invalid:" \
        in lines[2]
    assert "got none (its definition failed)" in lines[3]
    assert "expected the component to instantiate, got trap: wasm trap: wasm `unreachable`" in lines[4]


def test_validity_and_well_formedness_checks(tmp_path):
    path = write(tmp_path, """
(assert_invalid
  (component (core module $M (func (export "f"))) (core instance $m (instantiate $M))
    (func (export "f") (canon lift (core func $m "f") async)))
  "the `async` canonical option requires an async function type")
(assert_invalid
  (component (core module $M (func (export "f"))) (core instance $m (instantiate $M))
    (func (export "f") (canon lift (core func $m "f") async)))
  "some other reason")
(assert_invalid (component) "nothing wrong")
(assert_malformed (component binary "\\00asm" "\\0d\\00\\01\\00" "\\7f") "bad section")
(assert_malformed (component quote "(component") "unclosed")
(assert_malformed (component quote "(core module)") "fine")
(assert_unlinkable (component (import "absent" (func))) "absent")
(assert_unlinkable (component) "nothing missing")
(assert_trap (component) "no trap")
(assert_trap (component (import "absent" (func))) "no link")
""")
    result, lines = run(path)
    assert result.passed == 4, lines
    assert any("assert_invalid: expected invalid (some other reason), got another error: "
               "the `async` canonical option" in f for f in result.failures)
    assert any(f.endswith("assert_invalid: expected invalid (nothing wrong), got a valid component")
               for f in result.failures)
    assert any(f.endswith("assert_malformed: expected malformed (fine), got a well-formed component")
               for f in result.failures)
    assert any("assert_unlinkable: expected a link error (nothing missing), got an instance" in f
               for f in result.failures)
    assert any('assert_uninstantiable: expected trap "no trap", got an instance' in f
               for f in result.failures)
    assert any('assert_uninstantiable: expected trap "no link", got LinkError:' in f
               for f in result.failures)


def test_a_plain_action_that_traps_fails(tmp_path):
    path = write(tmp_path, ADD + '(invoke "add" (u32.const 1) (u32.const 1))\n(invoke "boom")\n')
    result, lines = run(path)
    assert result.passed == 2
    assert lines[0] == (f'{path}:10: action "boom": expected the call to return, '
                        "got trap: wasm trap: wasm `unreachable` instruction executed")


def test_unsupported_commands_fail_clearly(tmp_path):
    path = write(tmp_path, ADD + '(assert_exception (invoke "boom"))\n')
    result, lines = run(path)
    assert "expected a command stackswitch runs, got the unsupported command `assert_exception`" \
        in lines[0]


def test_a_cancelled_call_is_reported(tmp_path, monkeypatch):
    path = write(tmp_path, ADD + (
        '(assert_return (invoke "add" (u32.const 1) (u32.const 2)) (u32.const 3))\n'
        '(assert_trap (invoke "add" (u32.const 1) (u32.const 2)) "x")\n'))
    from stackswitch.component.func import Func
    monkeypatch.setattr(Func, "call_canon", lambda self, *args: None)
    result, lines = run(path)
    assert "expected (u32.const 3), got the call cancelled" in lines[0]
    assert 'expected trap "x", got the call cancelled' in lines[1]


def test_a_deadlock_counts_as_a_trap(tmp_path, monkeypatch):
    from stackswitch.component.func import Func
    from stackswitch.scheduler import Deadlock

    def stuck(self, *args):
        raise Deadlock(["thread 1 waits for\nnothing"])

    monkeypatch.setattr(Func, "call_canon", stuck)
    path = write(tmp_path, ADD + (
        '(assert_trap (invoke "boom") "deadlock detected")\n'
        '(assert_return (invoke "boom"))\n'))
    result, lines = run(path)
    assert result.passed == 2 and result.failed == 1
    assert lines[0].endswith('assert_return "boom": expected no values, got deadlock: wasm trap: '
                             "deadlock detected: event loop cannot make further progress; "
                             "waiting: thread 1 waits for nothing")


def test_a_runtime_bug_is_reported_and_the_script_goes_on(tmp_path, monkeypatch):
    from stackswitch.component.func import Func

    def broken(self, *args):
        raise KeyError("oops")

    monkeypatch.setattr(Func, "call_canon", broken)
    path = write(tmp_path, ADD + '(assert_return (invoke "boom"))\n(assert_return (invoke "boom"))\n')
    result, lines = run(path)
    assert result.failed == 2
    assert "expected the command to run, got internal error KeyError: 'oops'" in lines[0]


def test_exhaustion_and_recursion(tmp_path, monkeypatch):
    from stackswitch.component.func import Func

    def deep(self, *args):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(Func, "call_canon", deep)
    path = write(tmp_path, ADD + (
        '(assert_exhaustion (invoke "boom") "call stack exhausted")\n'
        '(assert_trap (invoke "boom") "unreachable")\n'))
    result, lines = run(path)
    assert result.passed == 2 and result.failed == 1
    assert 'expected trap "unreachable", got RecursionError:' in lines[0]


def test_long_values_are_clipped():
    text = wast._show_values([c("string", "x" * 1000)])
    assert len(text) == wast.MAX_SHOWN and text.endswith("...")


def test_result_summary():
    assert wast.WastResult(3, 1, ["x"]).summary == "3 passed, 1 failed"


# -- the command line -----------------------------------------------------------------------


def test_cli_runs_scripts_and_prints_one_summary(tmp_path, capsys):
    good = write(tmp_path, ADD + '(assert_return (invoke "add" (u32.const 2) (u32.const 2)) (u32.const 4))\n',
                 "good.wast")
    assert main(["wast", str(good), str(good)]) == 0
    assert capsys.readouterr().out == "4 passed, 0 failed\n"


def test_cli_exits_1_on_a_failure_or_a_script_that_does_not_convert(tmp_path, capsys):
    good = write(tmp_path, ADD, "good.wast")
    bad = write(tmp_path, ADD + '(assert_return (invoke "add" (u32.const 2) (u32.const 2)) (u32.const 5))\n',
                "bad.wast")
    broken = write(tmp_path, "(component", "broken.wast")
    assert main(["wast", str(good), str(bad)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [f'{bad}:9: assert_return "add": expected (u32.const 5), got (u32.const 4)',
                   "2 passed, 1 failed"]
    assert main(["wast", str(broken)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{broken}:") and "json-from-wast" in out[0]
    assert out[-1] == "0 passed, 1 failed"


def test_cli_bad_policy_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["wast", "--policy", "sometimes", str(write(tmp_path, ADD))])
    assert info.value.code == 2
    assert "unknown scheduler policy" in capsys.readouterr().err


def test_cli_seeded_random_policy(tmp_path, capsys):
    path = write(tmp_path, ADD + '(assert_return (invoke "add" (u32.const 2) (u32.const 2)) (u32.const 4))\n')
    assert main(["wast", "--policy", "random:1", str(path)]) == 0


def test_cli_wast_help_explains():
    out = subprocess.run([sys.executable, "-m", "stackswitch", "wast", "--help"],
                         capture_output=True, text=True, check=True).stdout
    text = " ".join(out.split()).replace("- ", "-")
    assert "json-from-wast" in text and "N passed, M failed" in text and "Exit status 1" in text
    top = subprocess.run([sys.executable, "-m", "stackswitch", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "wast" in top


def test_cli_console_exit_status():
    done = subprocess.run([sys.executable, "-m", "stackswitch", "wast", str(WAST_DIR / "values.wast")],
                          capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stdout.splitlines()[-1].endswith("passed, 0 failed")
