"""Which modules the compiled build compiles, and whether this copy of stackswitch is one.

Issue 15 (item 6): the hot paths are compiled with Cython *from the same
source*, in pure-Python mode. ``pip install .`` does it where Cython and a C
compiler work (``setup.py``; ``STACKSWITCH_COMPILE=0`` turns it off), an
editable install never does (the tests and their coverage run the ``.py``
files as written), and ``benchmarks/build_compiled.py`` makes a compiled copy
of a checkout beside the pure one, to measure both in one run.

Each compiled module is an extension module beside its ``.py``; Python's
import system prefers the extension, so nothing else changes. Some modules
have an *augmenting* ``.pxd`` beside them (the same name): Cython reads it to
make the records the hot paths touch ``cdef class`` types with C fields. A
pure-Python run never reads a ``.pxd``. Because the ``.pxd`` files ``cimport``
one another (``threads.pxd`` needs ``scheduler.pxd``'s ``Scheduler``), a build
compiles all of :data:`HOT_MODULES` or none of them.

This module imports nothing of stackswitch (``setup.py`` reads it by path,
before anything is installed): it is at the bottom layer.
"""

from __future__ import annotations

from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

HOT_MODULES: tuple[str, ...] = (
    "stackswitch.scheduler",
    "stackswitch.stacks",
    "stackswitch.trace",
    "stackswitch.errors",
    "stackswitch.canon.calls",
    "stackswitch.canon.tasks",
    "stackswitch.canon.subtasks",
    "stackswitch.canon.threads",
    "stackswitch.canon.waitables",
    "stackswitch.canon.streams",
    "stackswitch.canon.buffers",
    "stackswitch.canon.canonical_builtins",
    "stackswitch.canon.component_instance",
    "stackswitch.canon.table",
    "stackswitch.canon.futures",
    "stackswitch.canon.context",
    "stackswitch.canon.options",
    "stackswitch.canon.types",
    "stackswitch.canon.values",
    "stackswitch.canon.store",
    "stackswitch.canon.strategy",
    "stackswitch.canon.callback_driver",
    "stackswitch.canon.stackless_threads",
    "stackswitch.component.corefuncs",
    "stackswitch.component.builtin_imports",
    "stackswitch.component.instantiation",
    "stackswitch.wasm.fibers",
    "stackswitch.wasm.core_values",
    "stackswitch.wasm.wasmtime_memory",
    "callback_abi.replay",
    "callback_abi.unwinding",
    "callback_abi.callback_strategy",
    "callback_abi.asyncify.controls",
)
"""The modules on the hot paths of the cross-component call and the stream copy
(docs/performance.md, "Issue 15"), as dotted names."""

DIRECTIVES: dict[str, object] = {
    "language_level": 3,
    # Pure-Python semantics exactly: with annotation typing on, ``x: float`` would
    # become a C double and ``x: int`` could overflow.
    "annotation_typing": False,
    # Compiled functions stay function objects (introspection, ``functools.wraps``).
    "binding": True,
    "embedsignature": False,
}
"""Cython's compiler directives for every compiled module."""

_ROOT = Path(__file__).resolve().parent.parent


def source_file(module: str, root: Path = _ROOT) -> Path:
    """The ``.py`` file of ``module`` (a dotted name) under ``root``."""
    return root.joinpath(*module.split(".")).with_suffix(".py")


def compiled_modules(root: Path = _ROOT) -> list[str]:
    """The hot modules that are compiled in the copy under ``root``: those with an
    extension module beside their ``.py``, which Python's import system picks first."""
    found = []
    for module in HOT_MODULES:
        py = source_file(module, root)
        if any(py.with_suffix(suffix).is_file() for suffix in EXTENSION_SUFFIXES):
            found.append(module)
    return found


def describe(root: Path = _ROOT) -> str:
    """One line for ``--version`` and the benchmarks: pure Python, or how much is compiled."""
    count = len(compiled_modules(root))
    if count == 0:
        return "pure Python"
    return f"compiled with Cython ({count} of {len(HOT_MODULES)} hot modules)"
