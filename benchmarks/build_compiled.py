"""Build an opt-in compiled copy of stackswitch (issue 15, item 6), from the same source.

Copies the checkout (the files ``git ls-files`` lists: the package, the
callback strategy, the benchmarks, the tests and what they read) into a
build directory, then compiles the hot modules of that copy with Cython in
pure-Python mode: the unmodified ``.py`` files, no annotation typing (an
annotation never changes what a value may be). Some of them get an
*augmenting* ``.pxd`` from ``benchmarks/compiled_pxd`` (copied beside the
``.py`` in the build tree only; ``--no-pxd`` leaves them out): it makes the
records the hot paths read (``Task``, ``Thread``, the fiber layer's call
records, ...) ``cdef class`` types with C struct fields, and types a few locals.
Each compiled module is an extension module beside its ``.py``; Python's
import system prefers the extension, and every module not compiled stays
pure Python.

The source tree is never touched: CI measures coverage of the pure-Python
modules and keeps running them. Use the build by running from its root, so
that its copy is first on ``sys.path``::

    python benchmarks/build_compiled.py            # -> build/compiled
    cd build/compiled
    python benchmarks/native_vs_stackswitch.py --cpu
    python -m pytest -q -p no:cacheprovider
    python -m stackswitch wast tests/wast/*.wast

(the benchmarks put their own checkout first on ``sys.path``; in the copy
that is the compiled one) or by putting it first yourself:
``PYTHONPATH=build/compiled python your_script.py``. Needs the optional
extra ``pip install '.[compiled]'`` (Cython) and a C compiler with Python's
headers; without them the script says what is missing and exits with status
2, and stackswitch runs as before, in pure Python.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Augmenting declarations (``cdef class`` attributes, typed locals) for some of
# the compiled modules, outside the package: ``compiled_pxd/<path>.pxd`` is
# copied beside ``<path>.py`` in the build tree only (docs/performance.md,
# "Helper `pxd`"). The ``.py`` stays the source of truth.
PXD_DIR = ROOT / "benchmarks" / "compiled_pxd"

# The modules on the hot paths of the ping-pong and of the stream copy
# (docs/performance.md, "Issue 15"): scheduler and stacks, the Canonical ABI
# records and built-ins, the fiber layer and the callback strategy.
HOT_MODULES = [
    "stackswitch/scheduler.py",
    "stackswitch/stacks.py",
    "stackswitch/trace.py",
    "stackswitch/errors.py",
    "stackswitch/canon/calls.py",
    "stackswitch/canon/tasks.py",
    "stackswitch/canon/subtasks.py",
    "stackswitch/canon/threads.py",
    "stackswitch/canon/waitables.py",
    "stackswitch/canon/streams.py",
    "stackswitch/canon/buffers.py",
    "stackswitch/canon/canonical_builtins.py",
    "stackswitch/canon/component_instance.py",
    "stackswitch/canon/table.py",
    "stackswitch/canon/futures.py",
    "stackswitch/canon/context.py",
    "stackswitch/canon/options.py",
    "stackswitch/canon/types.py",
    "stackswitch/canon/values.py",
    "stackswitch/canon/store.py",
    "stackswitch/canon/strategy.py",
    "stackswitch/component/corefuncs.py",
    "stackswitch/component/builtin_imports.py",
    "stackswitch/component/instantiation.py",
    "stackswitch/wasm/fibers.py",
    "stackswitch/wasm/core_values.py",
    "stackswitch/wasm/wasmtime_memory.py",
    "stackswitch/canon/callback_driver.py",
    "stackswitch/canon/stackless_threads.py",
    "callback_abi/replay.py",
    "callback_abi/unwinding.py",
    "callback_abi/callback_strategy.py",
    "callback_abi/asyncify/controls.py",
]

# Pure-Python mode: compile the source as Python. annotation_typing off keeps
# Python's semantics exactly (with it, ``x: float`` would become a C double).
DIRECTIVES = {
    "language_level": 3,
    "annotation_typing": False,
    "binding": True,
    "embedsignature": False,
}


def missing_toolchain() -> str | None:
    """Why the build cannot run here, or None when Cython and a C compiler are present."""
    try:
        import Cython  # noqa: F401
    except ImportError:
        return "Cython is not installed: pip install 'stackswitch[compiled]' (or pip install cython)"
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        return f"no C compiler: {compiler!r} (Python's configured CC) is not on PATH"
    include = sysconfig.get_paths()["include"]
    if not (Path(include) / "Python.h").is_file():
        return f"Python's C headers are missing ({include}/Python.h): install python3-dev"
    return None


def copy_tree(out: Path) -> None:
    """Copy the checkout's files as they are in the work tree into ``out``: the ones git
    tracks or would track (``git ls-files``), or, outside a git checkout (or in a
    build's own copy, which git ignores), every file but build products."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True)
    names = [name for name in listed.stdout.decode().split("\0") if name]
    if out.exists():
        shutil.rmtree(out)
    if listed.returncode != 0 or not names:
        inside = [out.relative_to(ROOT).parts[0]] if out.is_relative_to(ROOT) else []
        products = shutil.ignore_patterns(
            ".git", "build", "_cython", "__pycache__", ".*_cache", ".hypothesis", "*.so",
            *inside)

        def ignore(directory: str, names: list[str]) -> set[str]:
            # A build's .pxd beside a .py was copied there from PXD_DIR: a product too.
            ignored = set(products(directory, names))
            if not Path(directory).is_relative_to(PXD_DIR):
                ignored.update(name for name in names if name.endswith(".pxd"))
            return ignored

        shutil.copytree(ROOT, out, ignore=ignore)
        return
    for name in names:
        source = ROOT / name
        if not source.is_file():  # deleted in the work tree, not yet committed
            continue
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def copy_declarations(out: Path, modules: list[str]) -> list[str]:
    """Put the augmenting ``.pxd`` of each module being compiled beside its ``.py`` in
    ``out``; returns the ones copied. A ``.pxd`` for a module left pure Python is not
    copied (it would declare a class the interpreter never sees)."""
    copied = []
    for name in modules:
        pxd = Path(name).with_suffix(".pxd")
        if (PXD_DIR / pxd).is_file():
            shutil.copy2(PXD_DIR / pxd, out / pxd)
            copied.append(str(pxd))
    return copied


def compile_modules(out: Path, modules: list[str], jobs: int) -> None:
    """Cythonize ``modules`` (paths relative to ``out``) and build them in place."""
    from Cython.Build import cythonize
    from setuptools import Distribution, Extension

    # -w: gcc's warnings about Cython's generated C (array bounds in its int helpers) are
    # noise to whoever runs this; gcc and clang both take it (the package is POSIX-only).
    extensions = [Extension(name.removesuffix(".py").replace("/", "."), [name],
                            extra_compile_args=["-w"])
                  for name in modules]
    here = Path.cwd()
    os.chdir(out)
    try:
        built = cythonize(extensions, compiler_directives=DIRECTIVES, nthreads=jobs,
                          quiet=True, build_dir="_cython")
        dist = Distribution({"ext_modules": built, "script_name": "build_compiled",
                             "script_args": ["-q", "build_ext", "--inplace",
                                             "--build-temp", "_cython/temp",
                                             "--build-lib", "_cython/lib",
                                             "-j", str(jobs)]})
        dist.parse_command_line()
        dist.run_commands()
    finally:
        os.chdir(here)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "compiled",
                        help="build directory (replaced; default build/compiled)")
    parser.add_argument("--modules", nargs="*", default=None,
                        help="module files to compile, relative to the root (default: the hot ones)")
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-pxd", action="store_true",
                        help="compile the .py files alone, without benchmarks/compiled_pxd")
    args = parser.parse_args(argv)
    why = missing_toolchain()
    if why is not None:
        print(f"build_compiled: cannot build: {why}; stackswitch still runs in pure Python",
              file=sys.stderr)
        return 2
    modules = HOT_MODULES if args.modules is None else args.modules
    out = args.out.resolve()
    if out == ROOT or out in ROOT.parents:
        parser.error(f"--out {out} would replace the checkout itself")
    copy_tree(out)
    declared = [] if args.no_pxd else copy_declarations(out, modules)
    compile_modules(out, modules, args.jobs)
    print(f"built {len(modules)} compiled modules ({len(declared)} with a .pxd) in {out}; run from there "
          f"(cd {out}) or with PYTHONPATH={out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
