"""Shared fixtures: a store, and the C guests of examples/c/ built once per session."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from stackswitch.canon.store import Store

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BUILD_SCRIPT = EXAMPLES / "build_c_guests.py"


def load_script(path: Path):
    """A Python file that is not part of a package (an example or a build script) as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def c_guests(tmp_path_factory):
    """Every examples/c/*.c built by the committed script, by name (``NAME.component.wasm``).

    The build needs ``ziglang`` (PyPI) and ``wasm-tools``, both in the dev extra:
    without them the tests that use this fail, on purpose, rather than skip.
    """
    try:
        import ziglang  # noqa: F401
    except ImportError:
        pytest.fail("the C guests need zig's C compiler from PyPI: "
                    "pip install -e '.[dev]' (or pip install ziglang)")
    out = tmp_path_factory.mktemp("c-guests")
    proc = subprocess.run([sys.executable, str(BUILD_SCRIPT), "--out", str(out)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{BUILD_SCRIPT.name} failed:\n{proc.stdout}{proc.stderr}"
    built = {p.name.removesuffix(".component.wasm"): p for p in out.glob("*.component.wasm")}
    assert set(built) == {p.stem for p in (EXAMPLES / "c").glob("*.c")}
    return built


@pytest.fixture
def store():
    return Store()
