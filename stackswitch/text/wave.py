"""WAVE, the WebAssembly Value Encoding, for component values.

WAVE is the text form ``wasmtime run --invoke`` and ``wasm-tools`` use for
component values (see the wasm-wave crate's README in bytecodealliance/
wasm-tools). Parsing is *typed*: WAVE text alone is ambiguous (``{}`` may be
flags or a record, ``123`` may be a flat ``some(123)``), so every value is read
against its :mod:`~stackswitch.canon.types` type and returned in the Python
representation documented in :mod:`stackswitch.canon.values`.

Choices where WAVE says nothing or leaves room:

* Formatting is canonical and explicit: options and results are always
  written ``some(x)``/``none``/``ok(x)``/``err(x)``, every record field is
  written (``none`` ones too), floats use the shortest text that reads back to
  the same bits, and only the escapes a reader needs (plus control
  characters, as ``\\u{..}``) are used.
* ``map<k, v>`` (newer than WAVE) is a list of 2-tuples: ``[(k, v), ...]``.
* Handles (``own``, ``borrow``, ``stream``, ``future``, ``error-context``)
  have no WAVE syntax: parsing one is an error, formatting one shows the
  placeholder ``<type>``, which no parser accepts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Container
from typing import Any, NoReturn

from ..canon import types as ct
from ..canon.float_bits import to_f32
from . import escaping

__all__ = ["WaveError", "format_value", "parse_call", "parse_value"]

KEYWORDS = frozenset({"true", "false", "inf", "nan", "some", "none", "ok", "err"})

_INT_BITS: dict[type, tuple[bool, int]] = {
    ct.S8Type: (True, 8), ct.S16Type: (True, 16), ct.S32Type: (True, 32),
    ct.S64Type: (True, 64), ct.U8Type: (False, 8), ct.U16Type: (False, 16),
    ct.U32Type: (False, 32), ct.U64Type: (False, 64),
}

# A loose token: what a number, keyword or label might be. It is cut out first
# and then checked against the strict forms, so that errors quote all of it.
_LOOSE = re.compile(r"[-+.%0-9A-Za-z_]+")
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_WORD = r"(?:[a-z][a-z0-9]*|[A-Z][A-Z0-9]*)"
_LABEL = re.compile(rf"{_WORD}(?:-{_WORD})*")
_ESCAPES = {"'": "'", '"': '"', "\\": "\\", "t": "\t", "n": "\n", "r": "\r"}
_ESCAPE_HELP = "an escape (\\' \\\" \\\\ \\t \\n \\r or \\u{hex})"
_CALL_NAME = re.compile(r"[-%A-Za-z0-9_:/#@.\[\]]+")
_CLOSERS = {"(": ")", "[": "]", "{": "}"}


class WaveError(Exception):
    """Bad WAVE text: where (character offset), what was expected, what was there."""

    def __init__(self, offset: int, expected: str, found: str) -> None:
        self.offset = offset
        self.expected = expected
        self.found = found
        super().__init__(f"at {offset}: expected {expected}, found {found}")


def _article(t: ct.ValType) -> str:
    """``a u8`` / ``an s8``, so messages read naturally."""
    text = repr(t)
    return ("an " if text[0] in "aeio" or re.match(r"[sf][0-9]", text) else "a ") + text


class _Parser:
    """A recursive-descent reader over one text; recursion follows the type, not the text."""

    def __init__(self, text: str) -> None:
        self.s = text
        self.pos = 0

    # -- tokens ---------------------------------------------------------------

    def ws(self) -> None:
        """Skip whitespace and ``//`` comments, which may sit between any tokens."""
        s, i = self.s, self.pos
        while i < len(s):
            if s[i].isspace():
                i += 1
            elif s.startswith("//", i):
                j = s.find("\n", i)
                i = len(s) if j < 0 else j + 1
            else:
                break
        self.pos = i

    def peek(self) -> str:
        self.ws()
        return self.s[self.pos] if self.pos < len(self.s) else ""

    def found(self, pos: int | None = None) -> str:
        """Describe the token at ``pos`` for an error message."""
        s = self.s
        i = self.pos if pos is None else pos
        if i >= len(s):
            return "end of input"
        m = _LOOSE.match(s, i)
        if m:
            return f'"{m.group()}"'
        if s[i] in "\"'":
            j = s.find(s[i], i + 1)
            return s[i:j + 1] if 0 < j < i + 40 and "\n" not in s[i:j] else s[i:i + 20] + "..."
        return f'"{s[i]}"'

    def fail(self, expected: str, pos: int | None = None, found: str | None = None) -> NoReturn:
        at = self.pos if pos is None else pos
        raise WaveError(at, expected, self.found(at) if found is None else found)

    def expect(self, ch: str, what: str | None = None) -> None:
        if self.peek() != ch:
            self.fail(what or f'"{ch}"')
        self.pos += 1

    def loose(self) -> tuple[str, int]:
        """The loose token at the cursor (possibly empty) and where it starts."""
        self.ws()
        m = _LOOSE.match(self.s, self.pos)
        start = self.pos
        if not m:
            return "", start
        self.pos = m.end()
        return m.group(), start

    def peek_keyword(self) -> str | None:
        """The unprefixed keyword at the cursor, without consuming it."""
        self.ws()
        m = _LOOSE.match(self.s, self.pos)
        return m.group() if m and m.group() in KEYWORDS else None

    def label(self, what: str, keywords_ok: bool) -> tuple[str, int]:
        """A (possibly ``%``-prefixed) kebab label; bare keywords only where allowed."""
        tok, start = self.loose()
        name = tok[1:] if tok.startswith("%") else tok
        if not _LABEL.fullmatch(name):
            self.fail(what, start)
        if name in KEYWORDS and not keywords_ok and not tok.startswith("%"):
            self.fail(f"%{name} (a case named like a WAVE keyword needs a % prefix)", start)
        return name, start

    def new_label(self, what: str, t: ct.ValType, known: Container[str],
                  seen: Container[str]) -> str:
        """The label of a record field or a flag: one of ``known``, not in ``seen`` yet."""
        name, start = self.label(f"a {what} of {t!r}", True)
        if name not in known:
            self.fail(f"a {what} of {t!r}", start)
        if name in seen:
            self.fail(f"each {what} once in {t!r}", start, f'a second "{name}"')
        return name

    def comma_or(self, close: str, what: str) -> bool:
        """After an element: consume ``,`` (True) or the closer (False)."""
        c = self.peek()
        if c == ",":
            self.pos += 1
            if self.peek() == close:
                self.pos += 1
                return False
            return True
        if c == close:
            self.pos += 1
            return False
        self.fail(f'"," or "{close}" {what}')

    # -- literals -------------------------------------------------------------

    def escape(self) -> str:
        """Decode the escape whose backslash is at the cursor."""
        s, start = self.s, self.pos
        c = s[start + 1:start + 2]
        if c in _ESCAPES and c:
            self.pos += 2
            return _ESCAPES[c]
        if c == "u":
            m = re.compile(r"\{([0-9A-Fa-f]{1,6})\}").match(s, start + 2)
            if m:
                code = int(m.group(1), 16)
                if code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                    self.pos = m.end()
                    return chr(code)
            self.fail("a Unicode scalar value in \\u{hex}", start,
                      f'"{s[start:(m.end() if m else start + 2)]}"')
        self.fail(_ESCAPE_HELP, start, f'"{s[start:start + 2]}"')

    def quoted(self, quote: str) -> str:
        """A ``'``- or ``"``-delimited literal at the cursor, decoded."""
        s = self.s
        start = self.pos
        self.pos += 1
        out: list[str] = []
        kind = "char" if quote == "'" else "string"
        while True:
            if self.pos >= len(s):
                self.fail(f"the closing {quote} of the {kind} started at {start}")
            c = s[self.pos]
            if c == quote:
                self.pos += 1
                return "".join(out)
            if c == "\\":
                out.append(self.escape())
            elif c == "\n":
                self.fail(f"\\n (a newline in a {kind} must be escaped)", found="a line break")
            elif 0xD800 <= ord(c) <= 0xDFFF:
                self.fail("a Unicode scalar value", found=f"surrogate U+{ord(c):04X}")
            else:
                out.append(c)
                self.pos += 1

    def multiline(self) -> str:
        '''A ``"""`` string: dedented by the indent of its closing line.'''
        s, start = self.s, self.pos
        i = start + 3
        if s.startswith("\r\n", i):
            i += 2
        elif s.startswith("\n", i):
            i += 1
        else:
            self.fail('a line break after """', i)
        body = i
        while not s.startswith('"""', i):
            if i >= len(s):
                self.fail(f'the closing """ of the string started at {start}', i)
            i += 2 if s[i] == "\\" else 1
        self.pos = i + 3
        lines = s[body:i].split("\n")
        indent = lines.pop()
        if indent.strip(" ") or not lines:
            self.fail('a line break and only spaces before the closing """', i - len(indent))
        out: list[str] = []
        offset = body
        for raw in lines:
            line = raw[:-1] if raw.endswith("\r") else raw
            if line and not line.startswith(indent):
                self.fail(f"{len(indent)} spaces of indentation", offset,
                          f"{len(line) - len(line.lstrip(' '))}")
            sub = _Parser(line[len(indent):] + '"')
            try:
                out.append(sub.quoted_body())
            except WaveError as e:
                shift = offset + len(indent)
                raise WaveError(e.offset + shift, e.expected, e.found) from None
            offset += len(raw) + 1
        return "\n".join(out)

    def quoted_body(self) -> str:
        """Decode a multiline-string line (raw quotes allowed) up to the added final quote."""
        s = self.s
        out: list[str] = []
        while self.pos < len(s) - 1:
            if s[self.pos] == "\\":
                out.append(self.escape())
            else:
                out.append(s[self.pos])
                self.pos += 1
        return "".join(out)

    # -- values ---------------------------------------------------------------

    def value(self, t: ct.ValType) -> Any:
        """Read one value of type ``t`` at the cursor."""
        match t:
            case ct.BoolType():
                tok, start = self.loose()
                if tok not in ("true", "false"):
                    self.fail("a bool (true or false)", start)
                return tok == "true"
            case ct.S8Type() | ct.S16Type() | ct.S32Type() | ct.S64Type() | ct.U8Type() | ct.U16Type() \
                    | ct.U32Type() | ct.U64Type():
                signed, bits = _INT_BITS[type(t)]
                lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed \
                    else (0, (1 << bits) - 1)
                tok, start = self.loose()
                if not _INT.fullmatch(tok) or not lo <= int(tok) <= hi:
                    self.fail(f"{_article(t)} ({lo}..{hi})", start)
                return int(tok)
            case ct.F32Type() | ct.F64Type():
                tok, start = self.loose()
                specials = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
                if tok in specials:
                    return specials[tok]
                if not _FLOAT.fullmatch(tok):
                    self.fail(f"{_article(t)} (a number, nan, inf or -inf)", start)
                x = float(tok)
                return to_f32(x) if isinstance(t, ct.F32Type) else x
            case ct.CharType():
                start = self.pos
                if self.peek() != "'":
                    self.fail("a char ('x')")
                start = self.pos
                text = self.quoted("'")
                if len(text) != 1:
                    self.fail("a char (exactly one character)", start,
                              f"'{self.s[start + 1:self.pos - 1]}'")
                return text
            case ct.StringType():
                if self.peek() != '"':
                    self.fail('a string ("...")')
                if self.s.startswith('"""', self.pos):
                    return self.multiline()
                return self.quoted('"')
            case ct.ListType(u, n):
                start = self.pos
                items = self.seq("[", "]", lambda _i: u, f"in {t!r}")
                if n is not None and len(items) != n:
                    self.fail(f"{n} elements for {t!r}", self.ws_pos(start),
                              f"{len(items)} elements")
                return items
            case ct.MapType(k, v):
                pair = ct.TupleType([k, v])
                return self.seq("[", "]", lambda _i: pair, f"in {t!r}")
            case ct.TupleType(ts):
                return self.tuple(t, ts)
            case ct.RecordType():
                return self.record(t)
            case ct.VariantType(cases):
                return self.case(t, {c.label: c.t for c in cases})
            case ct.EnumType(labels):
                name, start = self.label(f"a case of {t!r}", False)
                if name not in labels:
                    self.fail(f"a case of {t!r}", start)
                return name
            case ct.OptionType(u):
                kw = self.peek_keyword()
                if kw in ("some", "none") or isinstance(u, ct.OptionType | ct.ResultType):
                    return self.case(t, {"none": None, "some": u}, keywords=True)
                return ct.Variant("some", self.value(u))
            case ct.ResultType(ok, err):
                kw = self.peek_keyword()
                if kw in ("ok", "err") or ok is None or isinstance(ok, ct.OptionType | ct.ResultType):
                    v = self.case(t, {"ok": ok, "err": err}, keywords=True)
                    return ct.Variant("error", v.value) if v.case == "err" else v
                return ct.Variant("ok", self.value(ok))
            case ct.FlagsType(labels):
                return self.flags(t, labels)
            case ct.OwnType() | ct.BorrowType() | ct.StreamType() | ct.FutureType() | ct.ErrorContextType():
                self.ws()
                self.fail(f"a value, but {t!r} has no WAVE syntax (handles cannot be written)")
        raise TypeError(f"not a component value type: {t!r}")  # pragma: no cover

    def ws_pos(self, pos: int) -> int:
        """The first non-blank offset at or after ``pos``."""
        saved, self.pos = self.pos, pos
        self.ws()
        at, self.pos = self.pos, saved
        return at

    def seq(self, open_: str, close: str, elem: Any, where: str) -> list[Any]:
        """Comma-separated elements between brackets; trailing comma allowed."""
        self.expect(open_, f'"{open_}" to start {where[3:]}')
        items: list[Any] = []
        if self.peek() == close:
            self.pos += 1
            return items
        while True:
            et = elem(len(items))
            items.append(self.value(et))
            if not self.comma_or(close, where):
                return items

    def tuple(self, t: ct.ValType, ts: tuple[ct.ValType, ...]) -> tuple[Any, ...]:
        self.expect("(", f'"(" to start {t!r}')
        items: list[Any] = []
        for i, u in enumerate(ts):
            items.append(self.value(u))
            last = i == len(ts) - 1
            c = self.peek()
            if c == ",":
                self.pos += 1
                if last:
                    self.expect(")", f'")" after the {len(ts)} elements of {t!r}')
            elif c == ")" and last:
                self.pos += 1
            else:
                self.fail(f'"," and element {i + 1} of {t!r}' if not last
                          else f'")" after the {len(ts)} elements of {t!r}')
        return tuple(items)

    def record(self, t: ct.RecordType) -> dict[str, Any]:
        types = {f.label: f.t for f in t.fields}
        open_at = self.ws_pos(self.pos)
        self.expect("{", f'"{{" to start {t!r}')
        got: dict[str, Any] = {}
        if self.peek() == ":":
            self.pos += 1
            self.expect("}", '"}" after "{:"')
        elif self.peek() == "}":
            self.fail(f"a field of {t!r} (write {{:}} if every field is none)")
        else:
            while True:
                name = self.new_label("field", t, types, got)
                self.expect(":", f'":" after field "{name}"')
                got[name] = self.value(types[name])
                if not self.comma_or("}", f"in {t!r}"):
                    break
        out: dict[str, Any] = {}
        for f in t.fields:
            if f.label in got:
                out[f.label] = got[f.label]
            elif isinstance(f.t, ct.OptionType):
                out[f.label] = ct.Variant("none")
            else:
                self.fail(f'field "{f.label}" of {t!r}', open_at, "it missing")
        return out

    def case(self, t: ct.ValType, cases: dict[str, ct.ValType | None],
             keywords: bool = False) -> ct.Variant:
        """``label`` or ``label(payload)``; option/result cases are bare keywords."""
        what = "one of " + ", ".join(cases) if keywords else f"a case of {t!r}"
        if keywords:
            tok, start = self.loose()
            name = tok
        else:
            name, start = self.label(what, False)
        if name not in cases:
            self.fail(what, start)
        payload = cases[name]
        if payload is None:
            if self.peek() == "(":
                self.fail(f'no payload after case "{name}" of {t!r}')
            return ct.Variant(name)
        self.expect("(", f'"(" and the {payload!r} payload of case "{name}"')
        v = self.value(payload)
        self.expect(")", f'")" after the payload of case "{name}"')
        return ct.Variant(name, v)

    def flags(self, t: ct.ValType, labels: tuple[str, ...]) -> frozenset[str]:
        got: set[str] = set()
        self.expect("{", f'"{{" to start {t!r}')
        if self.peek() == "}":
            self.pos += 1
            return frozenset()
        while True:
            got.add(self.new_label("flag", t, labels, got))
            if not self.comma_or("}", f"in {t!r}"):
                return frozenset(got)

    def finish(self) -> None:
        if self.peek():
            self.fail("end of input")


def parse_value(text: str, t: ct.ValType) -> Any:
    """Read ``text`` as one WAVE value of type ``t``; raise :class:`WaveError` if it isn't."""
    p = _Parser(text)
    v = p.value(t)
    p.finish()
    return v


def parse_call(text: str) -> tuple[str, list[str]]:
    """Split ``f(a, b)`` into ``f`` and the argument texts, still untyped.

    The caller knows the parameter types only once it has the name, so the
    arguments are cut apart here (respecting brackets, quotes and comments)
    and read later with :func:`parse_value`.
    """
    p = _Parser(text)
    p.ws()
    m = _CALL_NAME.match(text, p.pos)
    if not m:
        p.fail("a function name")
    name = m.group()
    p.pos = m.end()
    args: list[str] = []
    if p.peek() == "(":
        p.pos += 1
        args = _split_args(p)
    p.finish()
    return name, args


def _split_args(p: _Parser) -> list[str]:
    """Cut top-level comma-separated texts up to the matching ``)``."""
    s = p.s
    stack: list[tuple[str, int]] = []
    args: list[str] = []
    arg_start = p.pos
    open_at = p.pos - 1
    while True:
        p.ws()
        if p.pos >= len(s):
            closer = _CLOSERS[stack[-1][0]] if stack else ")"
            opened = stack[-1][1] if stack else open_at
            p.fail(f'"{closer}" to close the "{s[opened]}" at {opened}')
        c = s[p.pos]
        if c in _CLOSERS:
            stack.append((c, p.pos))
            p.pos += 1
        elif c in ")]}":
            want = _CLOSERS[stack[-1][0]] if stack else ")"
            if c != want:
                p.fail(f'"{want}"')
            if stack:
                stack.pop()
                p.pos += 1
                continue
            arg = s[arg_start:p.pos].strip()
            if arg:  # empty only for "f()" or after a trailing comma
                args.append(arg)
            p.pos += 1
            return args
        elif c == "," and not stack:
            arg = s[arg_start:p.pos].strip()
            if not arg:
                p.fail("an argument before \",\"")
            args.append(arg)
            p.pos += 1
            arg_start = p.pos
        elif s.startswith('"""', p.pos):
            p.multiline()
        elif c in "\"'":
            p.quoted(c)
        else:
            p.pos += 1


def format_value(v: Any, t: ct.ValType) -> str:
    """Write ``v`` (of type ``t``) as canonical WAVE text, the inverse of :func:`parse_value`."""
    match t:
        case ct.BoolType():
            return "true" if v else "false"
        case ct.S8Type() | ct.S16Type() | ct.S32Type() | ct.S64Type() | ct.U8Type() | ct.U16Type() \
                | ct.U32Type() | ct.U64Type():
            return str(int(v))
        case ct.F32Type() | ct.F64Type():
            return _format_float(float(v), isinstance(t, ct.F32Type))
        case ct.CharType():
            return "'" + escaping.escape(v, "'", c1_controls=True) + "'"
        case ct.StringType():
            return '"' + escaping.escape(v, '"', c1_controls=True) + '"'
        case ct.ListType(u):
            return "[" + ", ".join(format_value(x, u) for x in v) + "]"
        case ct.MapType(k, w):
            pair = ct.TupleType([k, w])
            items = v.items() if isinstance(v, dict) else v
            return "[" + ", ".join(format_value(tuple(x), pair) for x in items) + "]"
        case ct.TupleType(ts):
            return "(" + ", ".join(format_value(x, u) for x, u in zip(v, ts, strict=True)) + ")"
        case ct.RecordType(fields):
            return "{" + ", ".join(f"{f.label}: {format_value(v[f.label], f.t)}"
                                   for f in fields) + "}"
        case ct.VariantType(cases):
            payload = {c.label: c.t for c in cases}
            return _format_case(v.case, v.value, payload[v.case], True)
        case ct.EnumType():
            return _label(v)
        case ct.OptionType(u):
            return _format_case(v.case, v.value, u if v.case == "some" else None, False)
        case ct.ResultType(ok, err):
            name = "ok" if v.case == "ok" else "err"
            return _format_case(name, v.value, ok if name == "ok" else err, False)
        case ct.FlagsType(labels):
            return "{" + ", ".join(lb for lb in labels if lb in v) + "}"
    return f"<{t!r}>"


def _label(name: str) -> str:
    """Case labels that collide with keywords need ``%``."""
    return "%" + name if name in KEYWORDS else name


def _format_case(name: str, value: Any, t: ct.ValType | None, prefix: bool) -> str:
    head = _label(name) if prefix else name
    return head if t is None else f"{head}({format_value(value, t)})"


def _format_float(x: float, f32: bool) -> str:
    """Shortest text that reads back to the same float (binary32 for ``f32``)."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if not f32:
        return repr(x)
    for digits in range(1, 10):  # pragma: no branch (9 digits always round-trip)
        text = f"{x:.{digits}g}"
        if to_f32(float(text)) == x:
            plain = repr(float(text))  # "5027190.0" beats "5.02719e+06"
            return plain if len(plain) < len(text) else text
    return repr(x)  # pragma: no cover
