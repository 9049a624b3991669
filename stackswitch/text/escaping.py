"""Escaping characters in quoted literals, for the text forms that write strings.

WAVE and ``.wast`` scripts both escape with a backslash and write control
characters as ``\\u{hex}``; they differ only in which characters count as
control characters, so one function serves both.
"""

from __future__ import annotations

__all__ = ["escape"]

_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def escape(text: str, quote: str, *, c1_controls: bool) -> str:
    """``text`` ready to sit between two ``quote`` characters.

    ``quote`` and backslashes get a backslash, newline, tab and carriage
    return their usual escapes, and the other control characters (C0 and
    DEL; the C1 range ``0x80``-``0x9f`` too when ``c1_controls``) are written
    as ``\\u{hex}`` so that a message or a value stays on one legible line.
    """
    top = 0xA0 if c1_controls else 0x80
    out = []
    for c in text:
        if c == quote or c == "\\":
            out.append("\\" + c)
        elif c in _NAMED:
            out.append(_NAMED[c])
        elif ord(c) < 0x20 or 0x7F <= ord(c) < top:
            out.append(f"\\u{{{ord(c):x}}}")
        else:
            out.append(c)
    return "".join(out)
