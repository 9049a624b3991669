"""A component as loaded, before any instantiation: :class:`Component`.

The host's handle on a component binary (or component text), decoded once
and instantiable any number of times with :meth:`.Linker.instantiate`, in
the manner of ``wasmtime.component.Component``. No engine is needed: core
modules compile when a :class:`~.linker.Linker` instantiates.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import ast
from .decoder import decode_component
from .wasm_tools import load_component


class Component:
    """A decoded component: its binary and its abstract syntax tree (:mod:`.ast`).

    ``source`` is a component binary (``bytes``, ``bytearray`` or
    ``memoryview``) or component text (``str``, or bytes that do not start
    with ``\\0asm``), which ``wasm-tools`` turns into a binary. Malformed text
    raises :class:`~stackswitch.errors.LinkError`, a malformed binary
    :class:`~.decoder.DecodeError`, both before anything runs.
    """

    binary: bytes
    """The component binary (after parsing, when built from text)."""
    decoded: ast.Component
    """The decoded component, as :func:`.decoder.decode_component` gives it."""

    def __init__(self, source: bytes | bytearray | memoryview | str) -> None:
        if isinstance(source, str):
            data = source.encode("utf-8")
        elif isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
        else:
            hint = " (use Component.from_file for a path)" if isinstance(source, os.PathLike) else ""
            raise TypeError(f"a Component is made from bytes or component text, "
                            f"not {type(source).__name__}{hint}")
        self.binary = load_component(data)
        self.decoded = decode_component(self.binary)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Component:
        """The component in file ``path``: a binary (``.wasm``) or component text (``.wat``).

        The content decides, not the suffix, as wasm-tools does.
        """
        return cls(Path(path).read_bytes())

    @property
    def imports(self) -> tuple[str, ...]:
        """The names this component imports, in order: what the linker must define."""
        return tuple(i.name.name for i in self.decoded.imports)

    @property
    def exports(self) -> tuple[str, ...]:
        """The names this component exports, in order."""
        return tuple(e.name.name for e in self.decoded.exports)

    def __repr__(self) -> str:
        return f"<Component: {len(self.binary)} bytes, exports {', '.join(self.exports) or 'none'}>"
