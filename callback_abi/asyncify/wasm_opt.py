"""Finding binaryen's ``wasm-opt``, and asking it what it supports.

The transform (:mod:`.transform`) runs whatever :func:`find_wasm_opt` returns;
the answers about a given command are cached for the process, since an npm
wasm-opt (or npx) takes about half a second to start.

``--all-features`` is not safe for the output: binaryen 132 then writes the
"compact import section" encoding, which wasmtime 50 refuses. So the features
are an explicit list (:data:`FEATURES`) that binaryen reads but does not
introduce on its own, each passed only if the installed wasm-opt knows it
(108 knows neither ``bulk-memory-opt`` nor ``call-indirect-overlong``). A
module using anything else (GC, memory64, custom page sizes ...) is refused,
by the transform's checks or by wasm-opt.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from .conventions import AsyncifyError

ENV_VAR = "STACKSWITCH_WASM_OPT"
"""Environment variable naming the wasm-opt to use (a path, or a command such as ``npx wasm-opt``)."""

INSTALL_HINT = (
    "install binaryen: `apt-get install binaryen` (puts wasm-opt on PATH) or "
    "`npm install binaryen` (node_modules/.bin/wasm-opt), or set "
    f"{ENV_VAR} to a wasm-opt executable")

FEATURES = ("sign-ext", "mutable-globals", "nontrapping-float-to-int", "bulk-memory",
            "bulk-memory-opt", "call-indirect-overlong", "multivalue", "reference-types", "simd",
            "relaxed-simd", "extended-const", "tail-call", "exception-handling", "threads")
"""wasm-opt features enabled (on top of the MVP) where the installed wasm-opt has them."""

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
_PROBE_TIMEOUT = 120


def _search_roots() -> list[Path]:
    """Directories whose ``node_modules/.bin`` may hold an npm-installed wasm-opt."""
    cwd = Path.cwd()
    roots = [cwd, *cwd.parents]
    return roots + ([_PROJECT_ROOT] if _PROJECT_ROOT not in roots else [])


def _is_executable(path: Path | str) -> bool:
    return Path(path).is_file() and os.access(path, os.X_OK)


@functools.lru_cache(maxsize=8)
def _npx_has_wasm_opt(npx: str, cwd: str) -> bool:
    """Whether ``npx --no-install wasm-opt`` runs here (cached: npx takes ~0.5 s to start)."""
    try:
        proc = subprocess.run([npx, "--no-install", "wasm-opt", "--version"], cwd=cwd,
                              capture_output=True, text=True, errors="replace",
                              stdin=subprocess.DEVNULL, timeout=_PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return proc.returncode == 0 and "wasm-opt" in proc.stdout


def _from_env(override: str) -> tuple[str, ...]:
    """The command ``$STACKSWITCH_WASM_OPT`` names: an executable's path, or a command line."""
    if _is_executable(override):
        return (override,)
    words = shlex.split(override)
    found = shutil.which(words[0]) if words else None
    if found is None:
        raise AsyncifyError(f"{ENV_VAR}={override!r}: no such executable; {INSTALL_HINT}")
    return (found, *words[1:])


def find_wasm_opt() -> tuple[str, ...]:
    """The command that runs wasm-opt, as an argv prefix; :class:`AsyncifyError` if none.

    Order: ``$STACKSWITCH_WASM_OPT`` (and nothing else when it is set, so a
    wrong value is reported rather than silently bypassed), ``wasm-opt`` on
    PATH, ``node_modules/.bin/wasm-opt`` in the working directory, its
    parents or the project, then ``npx --no-install wasm-opt``.
    """
    override = os.environ.get(ENV_VAR, "").strip()
    if override:
        return _from_env(override)
    found = shutil.which("wasm-opt")
    if found is not None:
        return (found,)
    for root in _search_roots():
        candidate = root / "node_modules" / ".bin" / "wasm-opt"
        if _is_executable(candidate):
            return (str(candidate),)
    npx = shutil.which("npx")
    if npx is not None and _npx_has_wasm_opt(npx, os.getcwd()):
        return (npx, "--no-install", "wasm-opt")
    raise AsyncifyError(f"wasm-opt (binaryen) was not found (not on PATH, no "
                        f"node_modules/.bin/wasm-opt, not via npx); {INSTALL_HINT}")


def _ask(command: tuple[str, ...], flag: str) -> subprocess.CompletedProcess[str]:
    """``command flag``'s outcome; :class:`AsyncifyError` if it cannot be run at all."""
    try:
        return subprocess.run([*command, flag], capture_output=True, text=True,
                              errors="replace", stdin=subprocess.DEVNULL, timeout=_PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise AsyncifyError(f"cannot run {' '.join(command)}: {e}; {INSTALL_HINT}") from None


@functools.lru_cache(maxsize=8)
def wasm_opt_version(command: tuple[str, ...]) -> str:
    """``wasm-opt --version``'s answer (e.g. ``wasm-opt version 108``); checks the tool runs."""
    proc = _ask(command, "--version")
    if proc.returncode != 0:
        raise AsyncifyError(f"{' '.join(command)} --version failed (exit status "
                            f"{proc.returncode}): {proc.stderr.strip()}; {INSTALL_HINT}")
    return proc.stdout.strip() or "wasm-opt (unknown version)"


@functools.lru_cache(maxsize=8)
def feature_flags(command: tuple[str, ...]) -> tuple[str, ...]:
    """``--mvp-features`` plus ``--enable-X`` for each of :data:`FEATURES` this wasm-opt knows."""
    known = set(re.findall(r"--enable-([a-z0-9-]+)", _ask(command, "--help").stdout))
    return ("--mvp-features", *(f"--enable-{f}" for f in FEATURES if f in known))
