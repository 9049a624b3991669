"""Gaps found by running wasmtime's own component-model tests, each now as the spec (or
wasmtime, where the spec's reference code says nothing) has it."""

import pytest
from builtin_helpers import string_lift_with_realloc

from stackswitch import Linker
from stackswitch.canon.store import Store
from stackswitch.canon.strategy import named
from stackswitch.component.wasm_tools import load_component
from stackswitch.errors import Trap

STRATEGIES = ["stackful", "callback"]

UNCAUGHT = "uncaught exception propagated out of component"

THROWS = """(component
  (core module $m
    (tag $t)
    (func (export "f") (throw $t)))
  (core instance $i (instantiate $m))
  (func (export "f") (canon lift (core func $i "f"))))"""

THROWS_IN_POST_RETURN = """(component
  (core module $m
    (tag $t)
    (func (export "f") (result i32) i32.const 1)
    (func (export "post") (param i32) (throw $t)))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32)
    (canon lift (core func $i "f") (post-return (core func $i "post")))))"""

THROWS_IN_REALLOC = string_lift_with_realloc(
    '(func (export "realloc") (param i32 i32 i32 i32) (result i32) (throw $t))', prelude="(tag $t)")

CAUGHT_INSIDE = """(component
  (core module $m
    (tag $t)
    (func $throw (throw $t))
    (func (export "f") (result i32)
      (block $caught
        (try_table (catch_all $caught) (call $throw))
        (return (i32.const 0)))
      (i32.const 7)))
  (core instance $i (instantiate $m))
  (func (export "f") (result u32) (canon lift (core func $i "f"))))"""

TASK_RETURN_UTF16 = """(component
  (core module $m
    (import "" "task.return" (func $task-return))
    (func (export "foo") (call $task-return)))
  (core func $task-return (canon task.return string-encoding=utf16))
  (core instance $i (instantiate $m
    (with "" (instance (export "task.return" (func $task-return))))))
  (func (export "foo") async (canon lift (core func $i "foo") async)))"""

TASK_RETURN_SAME = TASK_RETURN_UTF16.replace(" string-encoding=utf16", "")


def instance(text: str, strategy: str):
    return Linker(Store("fifo", named(strategy))).instantiate(load_component(text), "t")


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("text, args", [(THROWS, ()), (THROWS_IN_POST_RETURN, ()),
                                        (THROWS_IN_REALLOC, ("abc",))],
                         ids=["export", "post-return", "realloc"])
def test_an_uncaught_wasm_exception_is_a_trap_at_the_component_boundary(strategy, text, args):
    f = instance(text, strategy)["f"]
    with pytest.raises(Trap, match=UNCAUGHT) as e:
        f(*args)
    assert "thrown Wasm exception" in str(e.value)  # what wasmtime's async tests look for


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_exception_caught_inside_the_component_is_not_a_trap(strategy):
    assert instance(CAUGHT_INSIDE, strategy)["f"]() == 7


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_task_return_with_another_string_encoding_traps_even_without_a_string(strategy):
    with pytest.raises(Trap, match="invalid `task.return` signature and/or options for "
                                   "current task"):
        instance(TASK_RETURN_UTF16, strategy)["foo"]()
    assert instance(TASK_RETURN_SAME, strategy)["foo"]() is None


DEBUG_MESSAGE = """(component
  (core module $libc
    (memory (export "mem") 1)
    (global $calls (mut i32) (i32.const 0))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
      (i32.const 256))
    (func (export "calls") (result i32) (global.get $calls)))
  (core instance $libc (instantiate $libc))
  (core func $new (canon error-context.new (memory (core memory $libc "mem"))))
  (core func $debug (canon error-context.debug-message (memory (core memory $libc "mem"))
    (realloc (core func $libc "realloc"))))
  (core module $m
    (import "" "mem" (memory 1))
    (import "" "new" (func $new (param i32 i32) (result i32)))
    (import "" "debug" (func $debug (param i32 i32)))
    (func (export "run") (param $at i32)
      (i32.store8 (i32.const 0) (i32.const 0x78))
      (call $debug (call $new (i32.const 0) (i32.const 1)) (local.get $at))))
  (core instance $i (instantiate $m (with "" (instance
    (export "mem" (memory $libc "mem"))
    (export "new" (func $new)) (export "debug" (func $debug))))))
  (func (export "run") (param "at" u32) (canon lift (core func $i "run")))
  (func (export "calls") (result u32) (canon lift (core func $libc "calls"))))"""


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_debug_message_slot_out_of_bounds_traps_before_realloc(strategy):
    inst = instance(DEBUG_MESSAGE, strategy)
    inst["run"](65536 - 8)  # the (pointer, length) pair fits at the very end
    assert inst["calls"]() == 1
    inst = instance(DEBUG_MESSAGE, strategy)
    with pytest.raises(Trap, match="invalid debug message pointer: out of bounds"):
        inst["run"](65536 - 4)


RESOURCE_PROVIDER = """(component
  (type $r (resource (rep i32)))
  (export "r" (type $r)))"""

SAME_RESOURCE_TWICE = """(component
  (import "a" (instance $a (export "r" (type (sub resource)))))
  (alias export $a "r" (type $r))
  (import "b" (instance $b (export "r" (type (eq $r))))))"""


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_an_instance_import_of_a_resource_type_equal_to_another_is_checked(strategy):
    from stackswitch.errors import LinkError

    linker = Linker(Store("fifo", named(strategy)))
    first = linker.instantiate(load_component(RESOURCE_PROVIDER), "first")
    second = linker.instantiate(load_component(RESOURCE_PROVIDER), "second")
    linker.define("a", first)
    linker.define("b", first)
    linker.instantiate(load_component(SAME_RESOURCE_TWICE), "same")
    linker.define("b", second)
    with pytest.raises(LinkError, match="import 'b' export 'r': mismatched resource types"):
        linker.instantiate(load_component(SAME_RESOURCE_TWICE), "different")
