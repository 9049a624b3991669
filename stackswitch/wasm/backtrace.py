"""Wasm backtraces of traps: the frames wasmtime reports, as data.

wasmtime describes where a trap happened in the text of its error
("error while executing at wasm backtrace:" then one line per frame,
``  N:   0xOFFSET - MODULE!FUNCTION``, the names taken from the module's name
section where present, ``<wasm function K>`` otherwise, optionally followed by
``at FILE:LINE`` lines from DWARF). :func:`parse` reads those lines into
:class:`WasmFrame` values, innermost first, so that the command line can
print them after the trap message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FRAME = re.compile(r"^\s*(\d+):\s+(0x[0-9a-fA-F]+)\s+-\s+(.*?)\s*$")


@dataclass(frozen=True)
class WasmFrame:
    """One wasm frame: the module (name section, or ``<unknown>``), the function, the code
    offset in the module's binary, and a source location where DWARF gave one."""

    module: str
    function: str
    offset: int
    source: str = ""

    def __str__(self) -> str:
        where = f"  at {self.source}" if self.source else ""
        return f"{self.module}!{self.function} (offset {self.offset:#x}){where}"


def parse(text: str) -> list[WasmFrame]:
    """The frames listed in wasmtime's backtrace ``text``, innermost first (none if absent)."""
    frames: list[WasmFrame] = []
    for line in text.splitlines():
        match = _FRAME.match(line)
        if match:
            module, bang, function = match.group(3).partition("!")
            if not bang:
                module, function = "<unknown>", module
            frames.append(WasmFrame(module, function, int(match.group(2), 16)))
        elif frames and line.strip().startswith("at "):
            last = frames[-1]
            frames[-1] = WasmFrame(last.module, last.function, last.offset,
                                   line.strip().removeprefix("at ").strip())
    return frames


def frames_of(error: BaseException) -> list[WasmFrame]:
    """The wasm frames attached to ``error`` (by :mod:`.fibers`), innermost first."""
    frames: list[WasmFrame] = getattr(error, "wasm_frames", None) or []
    return frames
