"""Real component binaries on wasmtime: linking, instantiation, calls and traps."""

import pytest

from stackswitch.canon.types import FuncType, StringType, U32Type
from stackswitch.component.linker import Linker
from stackswitch.component.wasm_tools import load_component, validate
from stackswitch.errors import LinkError, Trap

ADD = """
(component
  (core module $M
    (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))
  (core instance $m (instantiate $M))
  (func (export "add") (param "a" u32) (param "b" u32) (result u32)
    (canon lift (core func $m "add"))))
"""

# A guest that returns a string: its bytes, or a pointer/length the test picks.
STRINGS = """
(component
  (core module $M
    (memory (export "mem") 1)
    (data (i32.const 100) "hello\\ff\\fe")
    (global $bump (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      (local.set $p (global.get $bump))
      (global.set $bump (i32.add (global.get $bump) (local.get 3)))
      (local.get $p))
    (func (export "get") (param $ptr i32) (param $len i32) (result i32)
      (i32.store (i32.const 0) (local.get $ptr))
      (i32.store (i32.const 4) (local.get $len))
      (i32.const 0))
    (func (export "length") (param $ptr i32) (param $len i32) (result i32) (local.get $len)))
  (core instance $m (instantiate $M))
  (func (export "get") (param "ptr" u32) (param "len" u32) (result string)
    (canon lift (core func $m "get") (memory (core memory $m "mem"))))
  (func (export "length") (param "s" string) (result u32)
    (canon lift (core func $m "length") (memory (core memory $m "mem"))
      (realloc (core func $m "realloc")))))
"""

IMPORTS = """
(component
  (import "double" (func $double (param "x" u32) (result u32)))
  (core func $double' (canon lower (func $double)))
  (core module $M
    (import "host" "double" (func $d (param i32) (result i32)))
    (func (export "quad") (param i32) (result i32) (call $d (call $d (local.get 0)))))
  (core instance $m (instantiate $M (with "host" (instance (export "double" (func $double'))))))
  (func (export "quad") (param "x" u32) (result u32) (canon lift (core func $m "quad"))))
"""

NESTED = """
(component
  (type $t u32)
  (component $Inner
    (alias outer 1 $t (type $u))
    (core module $M (func (export "seven") (result i32) (i32.const 7)))
    (core instance $m (instantiate $M))
    (func (export "seven") (result $u) (canon lift (core func $m "seven"))))
  (instance $inner (instantiate $Inner))
  (export "seven" (func $inner "seven")))
"""

RESOURCES = """
(component
  (type $r (resource (rep i32)))
  (core func $new (canon resource.new $r))
  (core func $rep (canon resource.rep $r))
  (core func $drop (canon resource.drop $r))
  (core module $M
    (import "" "new" (func $new (param i32) (result i32)))
    (import "" "rep" (func $rep (param i32) (result i32)))
    (import "" "drop" (func $drop (param i32)))
    (func (export "roundtrip") (param i32) (result i32)
      (local $h i32) (local $v i32)
      (local.set $h (call $new (local.get 0)))
      (local.set $v (call $rep (local.get $h)))
      (call $drop (local.get $h))
      (local.get $v))
    (func (export "bad-handle") (param i32) (result i32) (call $rep (local.get 0))))
  (core instance $m (instantiate $M (with "" (instance
    (export "new" (func $new)) (export "rep" (func $rep)) (export "drop" (func $drop))))))
  (func (export "roundtrip") (param "x" u32) (result u32) (canon lift (core func $m "roundtrip")))
  (func (export "bad-handle") (param "h" u32) (result u32) (canon lift (core func $m "bad-handle"))))
"""


def instantiate(text, linker=None):
    linker = linker or Linker()
    return linker.instantiate(load_component(text))


def test_a_lifted_core_function_is_called_with_component_values():
    assert instantiate(ADD).func("add").call(2, 40) == 42


def test_host_functions_satisfy_imports():
    linker = Linker()
    calls = []

    def double(x):
        calls.append(x)
        return 2 * x

    linker.define_func("double", double, FuncType([("x", U32Type())], [U32Type()]))
    assert instantiate(IMPORTS, linker).func("quad").call(5) == 20
    assert calls == [5, 10]


def test_a_missing_import_is_named():
    with pytest.raises(LinkError, match="missing import 'double'"):
        instantiate(IMPORTS)


def test_an_import_of_the_wrong_kind_is_refused():
    linker = Linker()
    linker.define("double", instantiate(ADD))
    with pytest.raises(LinkError, match="import 'double' must be a func"):
        instantiate(IMPORTS, linker)


def test_nested_components_and_outer_aliases():
    assert instantiate(NESTED).func("seven").call() == 7


def test_missing_export_lists_the_exports():
    with pytest.raises(LinkError, match=r"no export named 'sub' \(exports: add\)"):
        instantiate(ADD).func("sub")


def test_strings_are_lifted_from_guest_memory_and_lowered_through_realloc():
    inst = instantiate(STRINGS)
    assert inst.func("get").call(100, 5) == "hello"
    assert inst.func("length").call("héllo") == 6


def test_a_string_outside_guest_memory_traps_with_a_clear_message():
    with pytest.raises(Trap, match="string pointer/length out of bounds of memory"):
        instantiate(STRINGS).func("get").call(65530, 100)


def test_a_bad_string_encoding_traps_with_a_clear_message():
    with pytest.raises(Trap, match="invalid utf-8"):
        instantiate(STRINGS).func("get").call(100, 7)


def test_a_bad_handle_traps_and_the_instance_stays_poisoned():
    inst = instantiate(RESOURCES)
    assert inst.func("roundtrip").call(1234) == 1234
    with pytest.raises(Trap, match="unknown handle index 5"):
        inst.func("bad-handle").call(5)
    with pytest.raises(Trap, match="cannot enter component instance"):
        inst.func("roundtrip").call(1)


def test_a_wasm_trap_carries_wasmtimes_message():
    text = """
    (component
      (core module $M (func (export "f") unreachable))
      (core instance $m (instantiate $M))
      (func (export "f") (canon lift (core func $m "f"))))
    """
    with pytest.raises(Trap, match="wasm trap: wasm `unreachable` instruction executed"):
        instantiate(text).func("f").call()


def test_a_guest_writing_outside_its_memory_traps():
    text = """
    (component
      (core module $M
        (memory 1)
        (func (export "f") (i32.store (i32.const 70000) (i32.const 1))))
      (core instance $m (instantiate $M))
      (func (export "f") (canon lift (core func $m "f"))))
    """
    with pytest.raises(Trap, match="out of bounds memory access"):
        instantiate(text).func("f").call()


def test_a_string_result_reaches_the_host_even_across_two_components():
    linker = Linker()
    strings = linker.instantiate(load_component(STRINGS))
    linker.define("strings", strings)
    text = """
    (component
      (import "strings" (instance $s (export "get" (func (param "ptr" u32) (param "len" u32) (result string)))))
      (alias export $s "get" (func $get))
      (export "get" (func $get)))
    """
    assert linker.instantiate(load_component(text)).func("get").call(100, 5) == "hello"


def test_validate_reports_wasm_tools_errors():
    assert validate(load_component(ADD)) is None
    ill_typed = load_component("""
    (component
      (core module $M (func (export "f")))
      (core instance $m (instantiate $M))
      (func (export "f") (param "x" u32) (canon lift (core func $m "f"))))
    """)
    assert "do not match parameter types" in (validate(ill_typed) or "")


def test_component_text_that_does_not_parse_is_a_link_error():
    with pytest.raises(LinkError, match="cannot parse component text"):
        load_component("(component (func $f (canon lift)))")


def test_host_functions_with_string_results_are_lowered_into_guest_memory():
    linker = Linker()
    linker.define_func("greet", lambda: "hi there", FuncType([], [StringType()]))
    text = """
    (component
      (import "greet" (func $greet (result string)))
      (core module $Mem
        (memory (export "mem") 1)
        (global $bump (mut i32) (i32.const 1024))
        (func (export "realloc") (param i32 i32 i32 i32) (result i32)
          (local $p i32)
          (local.set $p (global.get $bump))
          (global.set $bump (i32.add (global.get $bump) (local.get 3)))
          (local.get $p)))
      (core instance $mem (instantiate $Mem))
      (core func $greet' (canon lower (func $greet) (memory (core memory $mem "mem"))
        (realloc (core func $mem "realloc"))))
      (core module $M
        (import "" "mem" (memory 1))
        (import "" "greet" (func $g (param i32)))
        (func (export "len") (result i32) (call $g (i32.const 16)) (i32.load (i32.const 20))))
      (core instance $m (instantiate $M (with "" (instance
        (export "mem" (memory $mem "mem")) (export "greet" (func $greet'))))))
      (func (export "len") (result u32) (canon lift (core func $m "len"))))
    """
    assert linker.instantiate(load_component(text)).func("len").call() == 8


def test_the_readme_example_runs():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    linker = Linker()
    instance = linker.instantiate(load_component(str(root / "examples" / "add.wat")))
    assert instance.func("add").call(2, 40) == 42


def test_plain_python_functions_satisfy_imports_typed_by_the_component():
    linker = Linker()
    linker.define("double", lambda x: 2 * x)
    assert instantiate(IMPORTS, linker).func("quad").call(3) == 12


def test_a_mapping_of_python_functions_satisfies_an_instance_import():
    text = """
    (component
      (import "test:demo/math" (instance $math
        (type $pair (tuple u32 u32))
        (export "sum" (func (param "p" $pair) (result u32)))
        (export "greet" (func (param "name" string) (result string)))))
      (alias export $math "sum" (func $sum))
      (alias export $math "greet" (func $greet))
      (export "sum" (func $sum))
      (export "greet" (func $greet)))
    """
    linker = Linker()
    linker.define("test:demo/math", {"sum": lambda p: p[0] + p[1], "greet": lambda n: f"hi {n}"})
    inst = instantiate(text, linker)
    assert inst.func("sum").call((2, 3)) == 5
    assert inst.func("greet").call("you") == "hi you"
    linker2 = Linker()
    linker2.define("test:demo/math", {"sum": lambda p: 0})
    with pytest.raises(LinkError, match="missing import 'test:demo/math' export 'greet'"):
        instantiate(text, linker2)


SPIN = """
(component
  (core module $M (func (export "spin") (loop $l (br $l))))
  (core instance $m (instantiate $M))
  (func (export "spin") (canon lift (core func $m "spin"))))
"""


def test_fuel_stops_a_guest_that_loops_forever():
    linker = Linker(fuel=100_000)
    with pytest.raises(Trap, match="all fuel consumed"):
        linker.instantiate(load_component(SPIN)).func("spin").call()


def test_an_interruptible_linker_stops_a_guest_from_another_thread():
    import threading

    linker = Linker(interruptible=True)
    spin = linker.instantiate(load_component(SPIN)).func("spin")
    timer = threading.Timer(0.2, linker.interrupt)
    timer.start()
    try:
        with pytest.raises(Trap, match="interrupt"):
            spin.call()
    finally:
        timer.cancel()
    with pytest.raises(RuntimeError, match="not made interruptible"):
        Linker().interrupt()
