"""Build a compiled copy of a checkout beside the pure one (issue 15, item 6), to measure both.

``pip install .`` already compiles the hot modules where a C compiler works
(``setup.py``; the list and directives are in ``stackswitch/compiled.py``,
shared with this script). This script is for comparing: it copies the
checkout (the files ``git ls-files`` lists: the package, the callback
strategy, the benchmarks, the tests and what they read) into a build
directory, then compiles the hot modules of that copy with Cython in
pure-Python mode: the unmodified ``.py`` files, no annotation typing (an
annotation never changes what a value may be). Some of them have an
*augmenting* ``.pxd`` beside them in the package (``--no-pxd`` removes
them from the copy, ``--modules`` those of modules it leaves pure): it makes the
records the hot paths read (``Task``, ``Thread``, the fiber layer's call
records, ...) ``cdef class`` types with C struct fields, and types a few locals.
Each compiled module is an extension module beside its ``.py``; Python's
import system prefers the extension, and every module not compiled stays
pure Python.

The source tree is never touched: an editable install and the tests (and
their coverage) keep running the pure-Python modules. Use the build by
running from its root, so that its copy is first on ``sys.path``::

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
import runpy
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# What to compile and how: the same list and directives as ``pip install .`` (setup.py).
_PLAN = runpy.run_path(str(ROOT / "stackswitch" / "compiled.py"))
HOT_MODULES = [str(_PLAN["source_file"](name, Path()).as_posix()) for name in _PLAN["HOT_MODULES"]]
DIRECTIVES = _PLAN["DIRECTIVES"]


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
        shutil.copytree(ROOT, out, ignore=shutil.ignore_patterns(
            ".git", "build", "_cython", "__pycache__", ".*_cache", ".hypothesis", "*.so",
            *inside))
        return
    for name in names:
        source = ROOT / name
        if not source.is_file():  # deleted in the work tree, not yet committed
            continue
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def drop_declarations(out: Path, modules: list[str], keep: bool) -> list[str]:
    """Keep in ``out`` the augmenting ``.pxd`` of each module being compiled (with
    ``keep``) and remove every other one: a ``.pxd`` of a module left pure Python
    would make another module ``cimport`` a class the interpreter never sees as one.
    Returns the ``.pxd`` files kept."""
    compiled = {Path(name).with_suffix(".pxd") for name in modules}
    kept = []
    for package in ("stackswitch", "callback_abi"):
        for pxd in sorted(out.joinpath(package).rglob("*.pxd")):
            relative = pxd.relative_to(out)
            if keep and relative in compiled:
                kept.append(str(relative))
            else:
                pxd.unlink()
    return kept


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
                        help="compile the .py files alone, without their .pxd declarations")
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
    declared = drop_declarations(out, modules, keep=not args.no_pxd)
    compile_modules(out, modules, args.jobs)
    print(f"built {len(modules)} compiled modules ({len(declared)} with a .pxd) in {out}; run from there "
          f"(cd {out}) or with PYTHONPATH={out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
