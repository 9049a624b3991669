"""Build step for the compiled hot path (issue 15, item 6); everything else is in pyproject.toml.

``pip install .`` compiles the modules listed in ``stackswitch/compiled.py``
with Cython, from the unmodified ``.py`` files and their ``.pxd``
declarations, when a C compiler with Python's headers works here. Without one
the build says why and installs the pure-Python package, which behaves the
same, only slower. An editable install (``pip install -e .``) never compiles:
developers, tests and coverage run the ``.py`` files as written.

``STACKSWITCH_COMPILE`` chooses: ``auto`` (the default) as above, ``0`` never
compile, ``1`` compile or fail the install (an editable install included).
pip shows what the build says only with ``-v``; ``stackswitch --version``
tells which build was installed.
"""

from __future__ import annotations

import hashlib
import os
import runpy
import sys
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path

from setuptools import Extension, setup

# setuptools' build_ext is built on Cython's when Cython is importable (a build requirement,
# pyproject.toml): it then turns each extension's .py source into C before compiling it.
from setuptools.command.build_ext import build_ext

try:
    import Cython  # noqa: F401
except ImportError:  # e.g. --no-build-isolation in an environment without it
    HAVE_CYTHON = False
else:
    HAVE_CYTHON = True

ROOT = Path(__file__).resolve().parent
PLAN = runpy.run_path(str(ROOT / "stackswitch" / "compiled.py"))
CHOICES = ("auto", "0", "1")


def _choice() -> str:
    choice = os.environ.get("STACKSWITCH_COMPILE", "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise SystemExit(f"STACKSWITCH_COMPILE={choice!r}: expected one of {', '.join(CHOICES)}")
    return choice


class BuildHotModules(build_ext):
    """Cythonize and compile the hot modules, all of them or none.

    The ``.pxd`` files cimport one another's ``cdef class`` types, so a copy
    with some modules compiled and a module it cimports left pure would crash
    on first use: one failure discards every module built.

    pip builds in the source tree, so ``build/`` may hold an earlier build's
    extension modules. Invariant: after ``run()``, the build directory holds
    exactly the extensions this run built (none when it installs pure Python),
    and they were built with the current directives and Cython."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:  # the CPUs this process may use, not the machine's
            self.parallel = len(os.sched_getaffinity(0)) or 1
        # Cython's generated C goes to the build directory, never beside the sources.
        self.cython_c_in_temp = 1
        self.cython_directives = dict(PLAN["DIRECTIVES"])

    def run(self) -> None:
        choice = _choice()
        if self.editable_mode:
            if choice == "1":
                raise SystemExit("STACKSWITCH_COMPILE=1: an editable install runs the .py files "
                                 "as written and never compiles; use pip install . to compile")
            self._say("editable install: the .py files run as written (not compiled)")
            return
        self._discard_outputs(keep_current=choice != "0")
        if choice == "0":
            self._say("STACKSWITCH_COMPILE=0: installing the pure-Python modules")
            return
        try:
            if not HAVE_CYTHON:
                raise RuntimeError("Cython is not installed in the build environment")
            self.force = self.force or self._settings_changed()
            super().run()
        except Exception as error:  # a compiler missing or failing: fall back, all or nothing
            if choice == "1":
                raise
            self._discard_outputs(keep_current=False)
            self._say(f"cannot compile the hot modules ({type(error).__name__}: {error}); "
                      "installing the pure-Python modules, which behave the same, slower. "
                      "Set STACKSWITCH_COMPILE=1 to make this an error.")
            return
        self._say(f"compiled {len(self.extensions)} hot modules with Cython")

    def get_outputs(self) -> list[str]:
        # Only what run() actually built: after a fallback or in pure mode, nothing.
        return [path for path in super().get_outputs() if os.path.exists(path)]

    def get_output_mapping(self) -> dict[str, str]:
        # An editable install maps what was built into the source tree: nothing here.
        return {k: v for k, v in super().get_output_mapping().items() if os.path.exists(v)}

    def _discard_outputs(self, keep_current: bool) -> None:
        """Remove extension modules of our packages from the build directory (never from
        the source tree): all of them, or, with ``keep_current``, those of modules no
        longer in the list (the rest are rebuilt or found up to date)."""
        current = {self.get_ext_filename(ext.name) for ext in self.extensions}
        build_lib = Path(self.build_lib)
        for package in ("stackswitch", "callback_abi"):
            for suffix in EXTENSION_SUFFIXES:
                for path in (build_lib / package).rglob(f"*{suffix}"):
                    relative = str(path.relative_to(build_lib))
                    if not (keep_current and relative in current):
                        path.unlink()

    def _settings_changed(self) -> bool:
        """Whether the directives, the module list or Cython changed since the last build
        here: Cython only compares the sources' times, so it would reuse stale C."""
        import Cython

        digest = hashlib.sha256(Cython.__version__.encode())
        for name in ("stackswitch/compiled.py", "setup.py"):
            digest.update((ROOT / name).read_bytes())
        stamp = Path(self.build_temp) / "stackswitch-build-settings"
        changed = not stamp.exists() or stamp.read_text() != digest.hexdigest()
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(digest.hexdigest())
        return changed

    @staticmethod
    def _say(message: str) -> None:
        print(f"stackswitch build: {message}", file=sys.stderr)


# Each hot module's own .py is its source; Cython's build_ext turns it into C at build time.
# -w: gcc's warnings about Cython's generated C are noise to whoever installs.
HOT = [Extension(name, [str(PLAN["source_file"](name, ROOT).relative_to(ROOT))],
                 extra_compile_args=["-w"])
       for name in PLAN["HOT_MODULES"]]

setup(ext_modules=HOT, cmdclass={"build_ext": BuildHotModules})
