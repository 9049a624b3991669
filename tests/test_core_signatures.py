"""Every canon definition's core function is checked at instantiation: components that
`wasm-tools validate` rejects for a core type mismatch fail to link with a LinkError naming
both types, instead of failing (or running wrongly) at call time."""

import re
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


NO_REALLOC = """(component
  (core module $M
    (memory (export "mem") 1)
    (func (export "f") (param i32 i32) (result i32) local.get 1))
  (core instance $m (instantiate $M))
  (func (export "f") (param "s" string) (result u32)
    (canon lift (core func $m "f") (memory (core memory $m "mem")))))"""

NO_MEMORY = """(component
  (import "g" (func $g (param "s" string)))
  (core func $g' (canon lower (func $g)))
  (core module $M
    (import "" "g" (func $g (param i32 i32)))
    (func (export "f") (call $g (i32.const 0) (i32.const 0))))
  (core instance $m (instantiate $M (with "" (instance (export "g" (func $g'))))))
  (func (export "f") (canon lift (core func $m "f"))))"""

DUPLICATE_LABELS = """(component
  (type $v (variant (case "a") (case "a")))
  (core module $M (func (export "f") (result i32) i32.const 0))
  (core instance $m (instantiate $M))
  (func (export "f") (result $v) (canon lift (core func $m "f"))))"""


@pytest.mark.parametrize("text, message", [
    (NO_REALLOC, "canon lift of f: the canonical option `realloc` is required"),
    (NO_MEMORY, "canon lower of g: the canonical option `memory` is required"),
    (DUPLICATE_LABELS, "variant has duplicate labels: ['a', 'a']"),
], ids=["realloc", "memory", "labels"])
def test_options_and_types_validation_requires_are_link_errors(text, message):
    """Found by the fuzzer: these failed at call time with a TypeError (or at
    instantiation with a ValueError) instead."""
    binary = load_component(text)
    assert validate(binary) is not None
    linker = Linker()
    linker.define("g", lambda s: None)
    with pytest.raises(LinkError) as e:
        linker.instantiate(binary, "bad")
    assert message in str(e.value)


CONTEXT_SLOT = """(component
  (core func $get (canon context.get i32 2))
  (core module $M
    (import "" "get" (func $get (result i32)))
    (func (export "f") (result i32) (call $get)))
  (core instance $m (instantiate $M (with "" (instance (export "get" (func $get))))))
  (func (export "f") (result u32) (canon lift (core func $m "f"))))"""

BORROW_RESULT = """(component
  (type $r (resource (rep i32)))
  (core module $M (func (export "f") (result i32) i32.const 0))
  (core instance $m (instantiate $M))
  (func (export "f") (result (borrow $r)) (canon lift (core func $m "f"))))"""


@pytest.mark.parametrize("text, message", [
    (CONTEXT_SLOT, "context.get: there is no context slot 2 (only 0 and 1)"),
    (BORROW_RESULT, "canon lift of f: a function result may not contain a borrow handle"),
], ids=["context slot", "borrow result"])
def test_more_fuzzer_findings_are_link_errors(text, message):
    """Found by the fuzzer: an AssertionError at call time (context slot 2, a lifted
    borrow result) instead of a link error."""
    try:
        binary = load_component(text)
    except LinkError:
        pytest.skip("wasm-tools no longer even parses it")
    assert validate(binary) is not None
    with pytest.raises(LinkError) as e:
        Linker().instantiate(binary, "bad")
    assert message in str(e.value)


MODULE_PROVIDER = """(component
  (core module $m
    (import "env" "f" (func (param i32)))
    (memory (export "mem") 1 2)
    (table (export "t") 1 funcref)
    (global (export "g") (mut i32) (i32.const 0))
    (func (export "h") (param i32) (result i32) local.get 0))
  (export "m" (core module $m)))"""


def module_importer(module_type: str) -> str:
    return f"""(component
  (import "p" (instance (export "m" (core module {module_type})))))"""


@pytest.mark.parametrize("module_type, message", [
    ("(import \"env\" \"f\" (func (param i32))) (export \"h\" (func (param i32) (result i32)))",
     None),
    ("(import \"env\" \"f\" (func (param i32))) (export \"x\" (func))",
     "module export `x` not defined"),
    ("(export \"h\" (func (param i32) (result i32)))", "module import `env::f` not defined"),
    ("(import \"env\" \"f\" (func (param i32))) (export \"h\" (func (param i64) (result i32)))",
     "module export `h` has the wrong type: expected type `(func (param i64) (result i32))`"),
    ("(import \"env\" \"f\" (func (param i32))) (export \"h\" (global i32))",
     "module export `h`: expected global found func"),
    ("(import \"env\" \"f\" (func (param i32))) (export \"g\" (global i32))",
     "module export `g` has the wrong type"),
    ("(import \"env\" \"f\" (func (param i32))) (export \"mem\" (memory 1 1))",
     "module export `mem` has the wrong type"),
    ("(import \"env\" \"f\" (func (param i32))) (export \"t\" (table 1 externref))",
     "module export `t` has the wrong type"),
    ("(import \"env\" \"f\" (func (param i32))) (export \"mem\" (memory 1))", None),
    ("(import \"env\" \"f\" (func (param i64)))", "module import `env::f` has the wrong type"),
], ids=["fits", "missing export", "missing import", "signature", "kind", "global",
        "memory limits", "table element", "memory fits", "import type"])
def test_an_imported_core_module_must_fit_its_module_type(module_type, message):
    linker = Linker()
    linker.define("p", linker.instantiate(load_component(MODULE_PROVIDER), "provider"))
    importer = load_component(module_importer(module_type))
    if message is None:
        linker.instantiate(importer, "importer")
        return
    with pytest.raises(LinkError) as e:
        linker.instantiate(importer, "importer")
    assert message in str(e.value)


FUTURE_WRITE_WITHOUT_MEMORY = """(component
  (type $f (future u32))
  (core func $new (canon future.new $f))
  (core func $write (canon future.write $f))
  (core module $M
    (import "" "new" (func $new (result i64)))
    (import "" "write" (func $write (param i32 i32) (result i32)))
    (func (export "f") (result i32)
      (call $write (i32.wrap_i64 (i64.shr_u (call $new) (i64.const 32))) (i32.const 0))))
  (core instance $m (instantiate $M (with "" (instance
    (export "new" (func $new)) (export "write" (func $write))))))
  (func (export "f") (result u32) (canon lift (core func $m "f"))))"""


def test_a_future_write_without_memory_is_a_link_error():
    """Found by the fuzzer: an AttributeError at call time."""
    binary = load_component(FUTURE_WRITE_WITHOUT_MEMORY)
    assert validate(binary) is not None
    with pytest.raises(LinkError, match="future.write: the canonical option `memory` is "
                                        "required"):
        Linker().instantiate(binary, "bad")


ERROR_CONTEXT_WITHOUT_MEMORY = """(component
  (core func $new (canon error-context.new))
  (core module $M
    (import "" "new" (func $new (param i32 i32) (result i32)))
    (func (export "f") (result i32) (call $new (i32.const 0) (i32.const 0))))
  (core instance $m (instantiate $M (with "" (instance (export "new" (func $new))))))
  (func (export "f") (result u32) (canon lift (core func $m "f"))))"""

TASK_RETURN_WITHOUT_MEMORY = """(component
  (core func $ret (canon task.return (result string)))
  (core module $M
    (import "" "ret" (func $ret (param i32 i32)))
    (func (export "f") (call $ret (i32.const 0) (i32.const 0))))
  (core instance $m (instantiate $M (with "" (instance (export "ret" (func $ret))))))
  (core module $Mem (memory (export "mem") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) i32.const 0))
  (core instance $mem (instantiate $Mem))
  (func (export "f") async (result string) (canon lift (core func $m "f") async
    (memory (core memory $mem "mem")) (realloc (core func $mem "realloc")))))"""


@pytest.mark.parametrize("text, message", [
    (ERROR_CONTEXT_WITHOUT_MEMORY, "error-context.new: the canonical option `memory` is required"),
    (TASK_RETURN_WITHOUT_MEMORY, "task.return: the canonical option `memory` is required"),
], ids=["error-context.new", "task.return"])
def test_built_ins_without_the_memory_they_need_are_link_errors(text, message):
    """Like the fuzzer's stream/future finding, for the other built-ins taking options."""
    binary = load_component(text)
    assert validate(binary) is not None
    with pytest.raises(LinkError, match=re.escape(message)):
        Linker().instantiate(binary, "bad")
