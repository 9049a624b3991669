"""Shared fixtures: a store, and the C guests of examples/c/ built once per session.

The session's module cache (compiled and asyncified core modules, see
``stackswitch.wasm.disk_cache``) is a temporary directory, named by
``$STACKSWITCH_CACHE_DIR`` for this process and every process it starts, and
removed at the end: the suite leaves the user's cache, and ``$HOME``, alone
(``tests/test_home_untouched.py`` checks it). The guest *build* caches (WASI's
adapter fetched with npm, the toolchain guests' builds) stay where the build
scripts keep them for the user (:func:`build_cache`): they are downloads and
slow builds, as pip's and zig's caches are.
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from stackswitch.canon.store import Store
from stackswitch.wasm.disk_cache import ENV_VAR, default_directory

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
BUILD_SCRIPT = EXAMPLES / "build_c_guests.py"

BUILD_CACHE = default_directory()
"""Where the build scripts keep what they fetch and build: the user's cache directory,
as it was before this session named a temporary one for the module cache."""

_session_cache: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _session_cache
    _session_cache = tempfile.mkdtemp(prefix="stackswitch-test-cache-")
    os.environ[ENV_VAR] = _session_cache


def pytest_unconfigure(config: pytest.Config) -> None:
    if _session_cache is not None:
        shutil.rmtree(_session_cache, ignore_errors=True)


@pytest.fixture(scope="session")
def build_cache() -> Path:
    """The build scripts' cache (``--cache``): :data:`BUILD_CACHE`."""
    return BUILD_CACHE


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
