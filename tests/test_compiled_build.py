"""The opt-in compiled build (``benchmarks/build_compiled.py``, issue 15 item 6).

The build itself needs Cython and a C compiler (the ``compiled`` extra, not
``dev``), so that test is skipped without them; the message the script gives
when they are missing is checked everywhere.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "build_compiled.py"

# A few small hot modules keep the build short (waitables.pxd cimports scheduler's
# WaitKey: a module whose .pxd cimports another's needs that one compiled too); the
# default set is checked by running the whole suite from a full build (docs/performance.md).
MODULES = ["stackswitch/scheduler.py", "stackswitch/canon/waitables.py",
           "stackswitch/canon/table.py"]

PING_PONG = """
import sys
sys.path.insert(0, "benchmarks")
import stackswitch.canon.table, stackswitch.canon.waitables, stackswitch.scheduler
from native_vs_stackswitch import COMPONENT
from stackswitch.component.linker import Linker
from stackswitch.component.wasm_tools import load_component
binary = load_component(COMPONENT)
for module in (stackswitch.canon.table, stackswitch.canon.waitables, stackswitch.scheduler):
    assert not module.__file__.endswith(".py"), module.__file__
for strategy in ("stackful", "callback"):
    print(strategy, Linker(strategy=strategy).instantiate(binary).func("run").call(25))
"""

# The modules of the build that get an augmenting .pxd (benchmarks/compiled_pxd) and a
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


def _missing_toolchain() -> str | None:
    spec = importlib.util.spec_from_file_location("build_compiled", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.missing_toolchain()


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


def test_compiled_build_runs_the_ping_pong(tmp_path: Path) -> None:
    out = _build(tmp_path, "compiled", MODULES)
    for name in MODULES:
        assert list((out / name).parent.glob(Path(name).stem + ".*.so")), name
    run = subprocess.run([sys.executable, "-c", PING_PONG], cwd=out,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["stackful", "25", "callback", "25"]


def test_compiled_build_with_declarations(tmp_path: Path) -> None:
    """The .pxd files are copied beside their modules in the build only, make cdef
    classes there, and the ping-pong still runs; ``--no-pxd`` leaves them out."""
    out = _build(tmp_path, "compiled", DECLARED)
    for name in DECLARED:
        pxd = Path(name).with_suffix(".pxd")
        assert (out / pxd).read_text() == (ROOT / "benchmarks" / "compiled_pxd" / pxd).read_text()
    run = subprocess.run([sys.executable, "-c", CDEF_CLASSES + PING_PONG.replace(
        "stackswitch.canon.table, stackswitch.canon.waitables, stackswitch.scheduler",
        "stackswitch.canon.tasks, stackswitch.canon.threads, stackswitch.scheduler")],
        cwd=out, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["State.RESOLVED", "stackful", "25", "callback", "25"]
    plain = _build(tmp_path, "plain", DECLARED, "--no-pxd")
    assert not any((plain / name).with_suffix(".pxd").exists() for name in DECLARED)


def _declared_classes() -> list[tuple[str, str, set[str], set[str]]]:
    """(module, class, its own fields, with those of its bases) for each ``cdef class`` of
    benchmarks/compiled_pxd (a cdef subclass names its base: ``cdef class A(B):``)."""
    found = []
    bases: dict[str, str] = {}
    for pxd in sorted((ROOT / "benchmarks" / "compiled_pxd").rglob("*.pxd")):
        module = ".".join(pxd.relative_to(ROOT / "benchmarks" / "compiled_pxd")
                          .with_suffix("").parts)
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
