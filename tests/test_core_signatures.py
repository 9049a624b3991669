"""Every canon definition's core function is checked at instantiation: components that
`wasm-tools validate` rejects for a core type mismatch fail to link with a LinkError naming
both types, instead of failing (or running wrongly) at call time."""

import subprocess
import sys
from pathlib import Path

import pytest
from builtin_helpers import string_lift_with_realloc

from stackswitch import Linker
from stackswitch.canon.store import Store
from stackswitch.canon.strategy import named
from stackswitch.component.wasm_tools import load_component, validate
from stackswitch.errors import LinkError

ROOT = Path(__file__).resolve().parent.parent

LIFT = """(component
  (core module $M (func (export "f") (param i64) (result i32) i32.const 7))
  (core instance $m (instantiate $M))
  (func (export "f") (param "x" u32) (result u32) (canon lift (core func $m "f"))))"""

LIFT_RESULTS = """(component
  (core module $M (func (export "f") (param i32)))
  (core instance $m (instantiate $M))
  (func (export "f") (param "x" u32) (result u32) (canon lift (core func $m "f"))))"""

CALLBACK = """(component
  (core module $M
    (func (export "f") (result i32) i32.const 0)
    (func (export "cb") (param i32 i32) (result i32) i32.const 0))
  (core instance $m (instantiate $M))
  (func (export "f") async (canon lift (core func $m "f") async (callback (core func $m "cb")))))"""

REALLOC = string_lift_with_realloc(  # realloc takes four parameters, not three
    '(func (export "realloc") (param i32 i32 i32) (result i32) i32.const 16)')

POST_RETURN = """(component
  (core module $M
    (func (export "f") (result i32) i32.const 3)
    (func (export "post") (param i64)))
  (core instance $m (instantiate $M))
  (func (export "f") (result u32)
    (canon lift (core func $m "f") (post-return (core func $m "post")))))"""

DTOR = """(component
  (core module $M (func (export "dtor") (param i64)))
  (core instance $m (instantiate $M))
  (type $r (resource (rep i32) (dtor (core func $m "dtor")))))"""

LOWER = """(component
  (import "g" (func $g (param "x" u32) (result u32)))
  (core func $g' (canon lower (func $g)))
  (core module $M
    (import "" "g" (func $g (param i64) (result i32)))
    (func (export "f") (result i32) i64.const 1 call $g))
  (core instance $m (instantiate $M (with "" (instance (export "g" (func $g'))))))
  (func (export "f") (result u32) (canon lift (core func $m "f"))))"""

BUILTIN = """(component
  (core func $new (canon waitable-set.new))
  (core module $M
    (import "" "new" (func $new (param i32) (result i32)))
    (func (export "f") (result i32) i32.const 0 call $new))
  (core instance $m (instantiate $M (with "" (instance (export "new" (func $new))))))
  (func (export "f") (result u32) (canon lift (core func $m "f"))))"""

CASES = {
    "lift params": (LIFT, "canon lift of f: the core function given has type "
                          "(func (param i64) (result i32)), expected (func (param i32) (result i32))"),
    "lift results": (LIFT_RESULTS, "canon lift of f: the core function given has type "
                                   "(func (param i32)), expected (func (param i32) (result i32))"),
    "callback": (CALLBACK, "option callback: the core function given has type "
                           "(func (param i32 i32) (result i32)), "
                           "expected (func (param i32 i32 i32) (result i32))"),
    "realloc": (REALLOC, "option realloc: the core function given has type "
                         "(func (param i32 i32 i32) (result i32)), "
                         "expected (func (param i32 i32 i32 i32) (result i32))"),
    "post-return": (POST_RETURN, "option post-return: the core function given has type "
                                 "(func (param i64)), expected (func (param i32))"),
    "destructor": (DTOR, "its destructor: the core function given has type (func (param i64)), "
                         "expected (func (param i32))"),
    "lower": (LOWER, "import `` `g` (lower g): the import has type "
                     "(func (param i64) (result i32)), but the core function given has type "
                     "(func (param i32) (result i32))"),
    "built-in": (BUILTIN, "import `` `new` (waitable-set.new): the import has type "
                          "(func (param i32) (result i32)), but the core function given has "
                          "type (func (result i32))"),
}


def host_g(x: int) -> int:
    return x + 1


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_core_type_mismatch_is_a_link_error_naming_both_types(case, strategy):
    text, message = CASES[case]
    binary = load_component(text)
    assert validate(binary) is not None, "wasm-tools validate rejects it too"
    linker = Linker(Store("fifo", named(strategy)))
    linker.define("g", host_g)
    with pytest.raises(LinkError) as e:
        linker.instantiate(binary, "bad")
    assert message in str(e.value)


GC_REF_LIFT = """(component
  (core module $M (func (export "f") (param i31ref) (result i32) i32.const 7))
  (core instance $m (instantiate $M))
  (func (export "f") (param "x" u32) (result u32) (canon lift (core func $m "f"))))"""

GC_REF_IMPORT = """(component
  (core func $yield (canon thread.yield))
  (core module $M
    (import "" "yield" (func (result i31ref)))
    (func (export "f") (result i32) i32.const 1))
  (core instance $m (instantiate $M (with "" (instance (export "yield" (func $yield))))))
  (func (export "f") (result u32) (canon lift (core func $m "f"))))"""


@pytest.mark.parametrize("text, message", [
    (GC_REF_LIFT, "canon lift of f: the core function given has type "
                  "(func (param gcref) (result i32)), expected (func (param i32) (result i32))"),
    (GC_REF_IMPORT, "import `` `yield` (thread.yield): the import has type (func (result gcref)), "
                    "but the core function given has type (func (result i32))"),
], ids=["lift", "import"])
def test_a_gc_reference_type_is_a_link_error_not_an_abort(tmp_path, text, message):
    """Found by the fuzzer: naming a GC reference type through wasmtime-py aborted the
    process ("not implemented"), so this runs in a child process."""
    path = tmp_path / "gc.wat"
    path.write_text(text)
    done = subprocess.run([sys.executable, "-m", "stackswitch", "run", str(path),
                           "--invoke", "f(1)" if text is GC_REF_LIFT else "f()"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
