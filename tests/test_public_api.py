"""The public API in wasmtime-py's conventions: names from ``stackswitch``, Component,
callable Funcs, Instance lookups, the package's metadata."""

import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import pytest

import stackswitch
from stackswitch import (
    CallCancelled,
    Component,
    DecodeError,
    Err,
    Func,
    Instance,
    Linker,
    LinkError,
    Ok,
    TaskCancelled,
)
from stackswitch.canon.types import FuncType, ResultType, StringType, U32Type

ROOT = Path(__file__).resolve().parent.parent
ADD_WAT = ROOT / "examples" / "add.wat"

NOTHING = """
(component
  (core module $M (func (export "nop")))
  (core instance $m (instantiate $M))
  (func (export "nop") (canon lift (core func $m "nop"))))
"""


@pytest.fixture
def add_instance() -> Instance:
    return Linker().instantiate(Component.from_file(ADD_WAT))


def test_every_public_name_resolves_and_loads_only_when_asked_for():
    assert {name for name in stackswitch.__all__ if not hasattr(stackswitch, name)} == set()
    assert set(dir(stackswitch)) >= set(stackswitch.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        stackswitch.Nope  # noqa: B018
    probe = ("import sys, stackswitch.trace; "
             "print(*sorted(m for m in sys.modules if m.startswith('stackswitch.')))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    loaded = done.stdout.split()
    assert "stackswitch.trace" in loaded
    assert [m for m in loaded if m.startswith(("stackswitch.canon", "stackswitch.component",
                                               "stackswitch.embed", "stackswitch.wasm"))] == []


def test_an_export_is_called_like_a_python_function(add_instance):
    add = add_instance["add"]
    assert isinstance(add, Func)
    assert add(2, 40) == 42
    assert add.call(2, 40) == 42                   # the same convention
    assert add.call_canon(2, 40) == [42]           # the spec's shape
    with pytest.raises(TypeError, match="takes 2 argument"):
        add(1)


def test_a_function_without_a_result_returns_none():
    nop = Linker().instantiate(Component(NOTHING))["nop"]
    assert nop() is None
    assert nop.call_canon() == []


def test_a_cancelled_call_raises_instead_of_returning_none():
    def gives_up():
        raise TaskCancelled

    linker = Linker()
    f = linker.define_func("gives-up", gives_up, FuncType([], [U32Type()], async_=True))
    with pytest.raises(CallCancelled, match="'gives-up' was cancelled"):
        f()
    assert f.call_canon() is None


def test_a_host_function_is_a_func_called_the_same_way():
    ft = FuncType([("n", U32Type())], [ResultType(U32Type(), StringType())])
    half = Linker().define_func("half", lambda n: Err("odd") if n % 2 else Ok(n // 2), ft)
    assert half(8) == Ok(4)
    assert half(7) == Err("odd")


def test_instance_exports_read_like_a_mapping(add_instance):
    assert add_instance.get("add") is add_instance["add"] is add_instance.func("add")
    assert add_instance.get("sub") is None
    assert add_instance.get("sub", 0) == 0
    with pytest.raises(KeyError, match=r"no export named 'sub' \(exports: add\)"):
        add_instance["sub"]
    with pytest.raises(LinkError, match="no export named 'sub'"):
        add_instance.func("sub")
    assert "add" in add_instance and "sub" not in add_instance
    assert list(add_instance) == ["add"]


def test_a_component_comes_from_text_or_binary_files_or_values(tmp_path):
    from_text = Component.from_file(ADD_WAT)
    assert from_text.exports == ("add",) and from_text.imports == ()
    wasm = tmp_path / "add.wasm"
    wasm.write_bytes(from_text.binary)
    from_binary = Component.from_file(str(wasm))
    assert from_binary.binary == from_text.binary
    assert Component(ADD_WAT.read_text()).binary == from_text.binary
    assert Component(bytearray(from_text.binary)).decoded == from_text.decoded
    greet = Component.from_file(ROOT / "examples" / "greet.wat")
    assert greet.imports == ("exclaim",) and "greet" in repr(greet)


def test_linker_instantiate_takes_a_component_a_binary_or_a_decoded_one():
    component = Component.from_file(ADD_WAT)
    linker = Linker()
    for given in (component, component.binary, component.decoded):
        assert linker.instantiate(given)["add"](1, 2) == 3
    with pytest.raises(TypeError, match="use Component"):
        linker.instantiate(ADD_WAT.read_text())


def test_bad_input_is_a_clear_error(tmp_path):
    with pytest.raises(LinkError, match="cannot parse component text"):
        Component("(component (bogus))")
    with pytest.raises(DecodeError, match="core WebAssembly module .* not a component"):
        Component(b"\0asm\x01\x00\x00\x00")
    with pytest.raises(DecodeError, match="unexpected end"):
        Component(b"\0asm\x0d\x00")
    truncated = tmp_path / "truncated.wasm"
    truncated.write_bytes(Component.from_file(ADD_WAT).binary[:20])
    with pytest.raises(DecodeError):
        Component.from_file(truncated)
    with pytest.raises(FileNotFoundError):
        Component.from_file(tmp_path / "missing.wat")
    with pytest.raises(TypeError, match="use Component.from_file"):
        Component(ADD_WAT)
    with pytest.raises(TypeError, match="not int"):
        Component(42)


def test_python_m_stackswitch_prints_its_help():
    done = subprocess.run([sys.executable, "-m", "stackswitch", "--help"], capture_output=True,
                          text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")


def test_the_package_ships_its_type_hints_and_license():
    assert (resources.files("stackswitch") / "py.typed").is_file()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["stackswitch"]
    assert "Apache-2.0" in str(project["project"]["license"])
    assert "Apache License" in (ROOT / "LICENSE").read_text()
