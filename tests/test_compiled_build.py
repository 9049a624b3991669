"""The compiled build (issue 15 item 6): ``pip install .`` (setup.py) and ``benchmarks/build_compiled.py``.

Both compile the hot modules listed in ``stackswitch/compiled.py`` with Cython,
from the ``.py`` files and the ``.pxd`` declarations beside them. A build needs
Cython and a C compiler (the ``dev`` extra brings Cython; a test is skipped
without them); what each says when they are missing is checked everywhere.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import subprocess
import sys
import zipfile
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from types import ModuleType

import pytest

from stackswitch import compiled

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "build_compiled.py"

PING_PONG = """
import sys
sys.path.insert(0, "benchmarks")
import stackswitch.canon.tasks, stackswitch.canon.threads, stackswitch.scheduler
from native_vs_stackswitch import COMPONENT
from stackswitch.component.linker import Linker
from stackswitch.component.wasm_tools import load_component
binary = load_component(COMPONENT)
for module in (stackswitch.canon.tasks, stackswitch.canon.threads, stackswitch.scheduler):
    assert not module.__file__.endswith(".py"), module.__file__
for strategy in ("stackful", "callback"):
    print(strategy, Linker(strategy=strategy).instantiate(binary).func("run").call(25))
"""

# The modules of the build that have an augmenting .pxd (beside the .py) and a
# class each makes a cdef class there: a static type (not a heap type, unlike a class
# statement's) whose attributes are C fields. A .pxd that cimports another module's
# (threads.pxd: Scheduler, Continuation, ComponentInstance) needs that module compiled
# with its own .pxd too.
DECLARED = {"stackswitch/scheduler.py": "Scheduler", "stackswitch/stacks.py": "Continuation",
            "stackswitch/canon/threads.py": "Thread", "stackswitch/canon/tasks.py": "Task",
            "stackswitch/canon/component_instance.py": "ComponentInstance"}

CDEF_CLASSES = """
import stackswitch.canon.tasks, stackswitch.canon.threads, stackswitch.scheduler
import stackswitch.stacks, stackswitch.canon.component_instance
HEAPTYPE = 1 << 9
for cls in (stackswitch.scheduler.Scheduler, stackswitch.stacks.Continuation,
            stackswitch.canon.threads.Thread, stackswitch.canon.tasks.Task,
            stackswitch.canon.component_instance.ComponentInstance):
    assert not cls.__flags__ & HEAPTYPE, cls
print(stackswitch.canon.tasks.Task.State.RESOLVED)
"""


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_compiled", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _missing_toolchain() -> str | None:
    return _script().missing_toolchain()


def test_without_cython_the_build_says_so_and_exits_2(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "Cython"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('hidden for the test')\n")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)],
                         env={"PYTHONPATH": str(tmp_path / "shadow"), "PATH": ""},
                         capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    assert "Cython is not installed" in run.stderr
    assert "pure Python" in run.stderr
    assert not out.exists()


def _build(tmp_path: Path, name: str, modules: list[str], *options: str) -> Path:
    """Build ``modules`` into ``tmp_path / name`` (skips the test without Cython)."""
    why = _missing_toolchain()
    if why is not None:
        pytest.skip(why)
    out = tmp_path / name
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), *options,
                    "--modules", *modules], check=True, capture_output=True, cwd=tmp_path)
    return out


def test_compiled_build_with_declarations(tmp_path: Path) -> None:
    """The .pxd files of the modules compiled stay beside them in the build and make
    cdef classes there, and the ping-pong still runs; the .pxd of a module left pure is
    removed from the copy; ``--no-pxd`` removes them all."""
    out = _build(tmp_path, "compiled", DECLARED)
    for name in DECLARED:
        pxd = Path(name).with_suffix(".pxd")
        assert (out / pxd).read_text() == (ROOT / pxd).read_text()
    assert (ROOT / "stackswitch/canon/calls.pxd").exists()
    assert not (out / "stackswitch/canon/calls.pxd").exists()
    run = subprocess.run([sys.executable, "-c", CDEF_CLASSES + PING_PONG.replace(
        "stackswitch.canon.table, stackswitch.canon.waitables, stackswitch.scheduler",
        "stackswitch.canon.tasks, stackswitch.canon.threads, stackswitch.scheduler")],
        cwd=out, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["State.RESOLVED", "stackful", "25", "callback", "25"]
    for name in DECLARED:
        assert list((out / name).parent.glob(Path(name).stem + ".*.so")), name


def test_no_pxd_leaves_every_declaration_out_of_the_copy(tmp_path: Path) -> None:
    """``--no-pxd`` (checked on the copy alone: compiling adds nothing to what it tests)."""
    script = _script()
    script.copy_tree(tmp_path / "copy")
    assert script.drop_declarations(tmp_path / "copy", list(DECLARED), keep=False) == []
    assert not list((tmp_path / "copy").rglob("*.pxd"))


def _declarations() -> list[Path]:
    return sorted(path for package in ("stackswitch", "callback_abi")
                  for path in (ROOT / package).rglob("*.pxd"))


def _declared_classes() -> list[tuple[str, str, set[str], set[str]]]:
    """(module, class, its own fields, with those of its bases) for each ``cdef class`` of
    the package's .pxd files (a cdef subclass names its base: ``cdef class A(B):``)."""
    found = []
    bases: dict[str, str] = {}
    for pxd in _declarations():
        module = ".".join(pxd.relative_to(ROOT).with_suffix("").parts)
        cls = None
        for line in pxd.read_text().splitlines():
            if m := re.match(r"cdef class (\w+)(?:\((\w+)\))?:", line):
                cls = (module, m.group(1), set(), set())
                found.append(cls)
                if m.group(2):
                    bases[m.group(1)] = m.group(2)
            elif cls is not None and (m := re.match(r"    cdef (?:public )?\w+ (.+)", line)):
                cls[2].update(name.strip() for name in m.group(1).split(","))
                cls[3].update(cls[2])
            elif line and not line.startswith(" "):
                cls = None
    own = {name: names for _, name, names, _ in found}
    every = {name: names for _, name, _, names in found}
    for name, base in bases.items():
        while base is not None:
            every[name].update(own[base])
            base = bases.get(base)
    return found


@pytest.mark.parametrize(("module", "name", "fields", "inherited"), _declared_classes(),
                         ids=lambda v: v if isinstance(v, str) else "")
def test_declarations_match_the_source(module: str, name: str, fields: set[str],
                                       inherited: set[str]) -> None:
    """A .pxd declares exactly the attributes its class has: one the .py gains and the
    .pxd lacks would be an AttributeError in the compiled build only. Checked against
    ``__slots__`` in pure Python (no Cython needed); a class without slots keeps a
    ``__dict__`` and a ``__weakref__`` in its declaration, so extra attributes and weak
    references still work there."""
    cls = getattr(importlib.import_module(module), name)
    slots = cls.__dict__.get("__slots__")
    if slots is None:  # its instances have a __dict__ and take weak references
        assert {"__dict__", "__weakref__"} <= inherited, \
            f"{name} has no __slots__: declare a __dict__ and a __weakref__"
        return
    assert set(slots) == fields, f"{module}.{name}: __slots__ and the .pxd differ"


def test_every_hot_module_and_declaration_is_in_the_tree() -> None:
    """The list setup.py compiles names existing modules, and each .pxd declares a module
    on it (a .pxd of a module never compiled would be read by nothing)."""
    for module in compiled.HOT_MODULES:
        assert compiled.source_file(module, ROOT).is_file(), module
    hot = {compiled.source_file(module, ROOT).with_suffix(".pxd") for module in compiled.HOT_MODULES}
    assert _declarations() and set(_declarations()) <= hot


def test_describe_says_which_modules_run_compiled(tmp_path: Path) -> None:
    """A module counts as compiled when an extension module sits beside its .py: the
    file Python's import system loads first."""
    source = compiled.source_file("stackswitch.canon.tasks", tmp_path)
    source.parent.mkdir(parents=True)
    source.write_text("")
    assert compiled.compiled_modules(tmp_path) == []
    assert compiled.describe(tmp_path) == "pure Python"
    source.with_suffix(EXTENSION_SUFFIXES[0]).write_bytes(b"")
    assert compiled.compiled_modules(tmp_path) == ["stackswitch.canon.tasks"]
    assert compiled.describe(tmp_path) == \
        f"compiled with Cython (1 of {len(compiled.HOT_MODULES)} hot modules)"


def _pip(tmp_path: Path, *args: str, editable: bool = False,
         **env: str) -> subprocess.CompletedProcess[str]:
    """Run pip on a copy of the checkout the way ``pip install .`` does, without fetching
    the build requirements (``--no-build-isolation``: they come from the dev extra)."""
    try:
        import Cython  # noqa: F401
        import setuptools
    except ImportError as missing:
        pytest.skip(f"the build requirements are not installed: {missing}")
    if int(setuptools.__version__.split(".")[0]) < 77:
        pytest.skip("setuptools too old for pyproject.toml's license (dev asks for >= 77)")
    source = tmp_path / "source"
    if not source.exists():
        _script().copy_tree(source)
    return subprocess.run([sys.executable, "-m", "pip", *args, "--no-build-isolation",
                           "--no-deps", "--no-index", "-v", *(["-e"] if editable else []),
                           str(source)],
                          capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, **env})


def test_install_without_a_compiler_is_pure_python(tmp_path: Path) -> None:
    """No working C compiler (or no Cython): the install says why and ships the .py files
    alone, which behave the same; ``STACKSWITCH_COMPILE=1`` makes that an error instead."""
    built = _pip(tmp_path, "wheel", "-w", str(tmp_path / "wheels"), CC="/bin/false")
    assert built.returncode == 0, built.stderr
    assert "installing the pure-Python modules" in built.stdout + built.stderr
    (wheel,) = (tmp_path / "wheels").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "stackswitch/canon/tasks.py" in names
    assert not [name for name in names if name.endswith(".so")]
    forced = _pip(tmp_path, "wheel", "-w", str(tmp_path / "forced"), CC="/bin/false",
                  STACKSWITCH_COMPILE="1")
    assert forced.returncode != 0
    shadow = tmp_path / "shadow" / "Cython"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('hidden for the test')\n")
    bare = _pip(tmp_path, "wheel", "-w", str(tmp_path / "bare"), PYTHONPATH=str(shadow.parent))
    assert bare.returncode == 0, bare.stderr
    assert "Cython is not installed in the build environment" in bare.stdout + bare.stderr
    wrong = _pip(tmp_path, "wheel", "-w", str(tmp_path / "wrong"), STACKSWITCH_COMPILE="yes")
    assert wrong.returncode != 0
    assert "STACKSWITCH_COMPILE='yes': expected one of auto, 0, 1" in wrong.stdout + wrong.stderr


def test_editable_installs_never_compile(tmp_path: Path) -> None:
    """Both editable modes install without compiling (the strict one links every file the
    build lists, so it must list no extension module); asking to compile one is an error."""
    for mode in ("lenient", "strict"):
        done = _pip(tmp_path, "install", "--target", str(tmp_path / mode),
                    "--config-settings", f"editable_mode={mode}", editable=True)
        assert done.returncode == 0, (mode, done.stderr[-3000:])
        assert "the .py files run as written" in done.stdout + done.stderr
    forced = _pip(tmp_path, "install", "--target", str(tmp_path / "forced"), editable=True,
                  STACKSWITCH_COMPILE="1")
    assert forced.returncode != 0
    assert "an editable install runs the .py files" in forced.stdout + forced.stderr


def test_install_compiles_the_hot_modules_and_they_pass_the_scripts(tmp_path: Path) -> None:
    """What ``pip install .`` gives where a compiler works: every hot module compiled,
    with its .pxd (a cdef class is a static type), passing every script of tests/wast
    under both strategies and a random schedule. The whole suite against such a build is
    run by hand (docs/performance.md); this keeps the default install under CI."""
    why = _missing_toolchain()
    if why is not None:
        pytest.skip(why)
    site = tmp_path / "site"
    done = _pip(tmp_path, "install", "--target", str(site))
    assert done.returncode == 0, done.stderr[-3000:]
    check = subprocess.run(
        [sys.executable, "-c", "import stackswitch.compiled as c, stackswitch.canon.tasks as t; "
         "print(c.describe()); print(t.Task.__flags__ & (1 << 9))"],
        cwd=site, capture_output=True, text=True)
    assert check.stdout.splitlines() == [
        f"compiled with Cython ({len(compiled.HOT_MODULES)} of {len(compiled.HOT_MODULES)} "
        "hot modules)", "0"], check.stderr
    # The build directory now holds that build's extension modules (pip builds in the
    # tree): an install told not to compile must not ship them.
    pure = _pip(tmp_path, "install", "--target", str(tmp_path / "pure"), STACKSWITCH_COMPILE="0")
    assert pure.returncode == 0, pure.stderr[-3000:]
    assert not list((tmp_path / "pure").rglob("*.so"))
    scripts = sorted(str(path) for path in (ROOT / "tests" / "wast").glob("*.wast"))
    for options in (["--strategy", "stackful"], ["--strategy", "callback"],
                    ["--policy", "random:3"]):
        run = subprocess.run([sys.executable, "-m", "stackswitch", "wast", *options, *scripts],
                             cwd=site, capture_output=True, text=True)
        assert run.returncode == 0, (options, run.stdout[-3000:], run.stderr[-3000:])
