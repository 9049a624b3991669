"""Component values as ``.wast`` scripts write them: json-from-wast's JSON and the script syntax.

``wasm-tools json-from-wast`` writes a component value as ``{"type": T,
"value": V}``: integers as decimal strings, ``f32``/``f64`` as the decimal
string of their *bits*, ``bool`` as a JSON bool, ``char``/``string`` as
strings, ``list``/``tuple`` as lists of values, ``record`` as ``[label,
value]`` pairs, ``variant`` as ``{"case": c, "payload"?: v}``, ``enum`` as the
label, ``option`` as ``null`` or the value, ``result`` as ``{"Ok": v}`` or
``{"Err": v}`` (``v`` possibly ``null``), ``flags`` as a list of labels.

:func:`from_json` turns one into the value :mod:`stackswitch.canon.values`
expects for a given type, :func:`to_json` turns such a value back, and
:func:`matches` compares an actual constant with an expected one: an
expected NaN (any bits, or ``nan:canonical`` / ``nan:arithmetic``) matches
any NaN, since lifting canonicalises NaNs; other floats must match bit for
bit. :func:`show` writes a constant in the script's own syntax
(``(u32.const 42)``, ``(option.some (str.const "x"))``) for messages.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable
from typing import Any

from ..canon import types as ct
from ..canon.float_bits import (
    CANONICAL_FLOAT32_NAN,
    CANONICAL_FLOAT64_NAN,
    f32_bits,
    f32_from_bits,
    f64_bits,
    f64_from_bits,
)
from .escaping import escape

__all__ = ["WastValueError", "from_json", "matches", "show", "to_json"]


class WastValueError(Exception):
    """A script value that does not fit the type it is used at."""


# -- JSON -> values ----------------------------------------------------------------------------

_INT_RANGES: dict[type, tuple[str, int, int]] = {
    ct.U8Type: ("u8", 0, 2**8 - 1),
    ct.U16Type: ("u16", 0, 2**16 - 1),
    ct.U32Type: ("u32", 0, 2**32 - 1),
    ct.U64Type: ("u64", 0, 2**64 - 1),
    ct.S8Type: ("s8", -(2**7), 2**7 - 1),
    ct.S16Type: ("s16", -(2**15), 2**15 - 1),
    ct.S32Type: ("s32", -(2**31), 2**31 - 1),
    ct.S64Type: ("s64", -(2**63), 2**63 - 1),
}
# The ``type`` json-from-wast writes for the values of the other types a script can write.
_KINDS: dict[type, str] = {
    ct.BoolType: "bool", ct.F32Type: "f32", ct.F64Type: "f64", ct.CharType: "char",
    ct.StringType: "string", ct.ListType: "list", ct.MapType: "list", ct.RecordType: "record",
    ct.TupleType: "tuple", ct.VariantType: "variant", ct.EnumType: "enum",
    ct.OptionType: "option", ct.ResultType: "result", ct.FlagsType: "flags",
}
_HANDLE_TYPES = (ct.OwnType, ct.BorrowType, ct.StreamType, ct.FutureType, ct.ErrorContextType)


def _kind(t: ct.ValType) -> str:
    """The ``type`` json-from-wast writes for a value of ``t``."""
    for cls, (name, _, _) in _INT_RANGES.items():
        if isinstance(t, cls):
            return name
    for cls, name in _KINDS.items():
        if isinstance(t, cls):
            return name
    return repr(t)


def _int_of(j: Any, what: str) -> int:
    try:
        return int(j, 10) if isinstance(j, str) else int(j)
    except (TypeError, ValueError):
        raise WastValueError(f"{what} value {j!r} is not an integer") from None


def from_json(j: Any, t: ct.ValType) -> Any:
    """The value of type ``t`` that the json-from-wast constant ``j`` denotes.

    Raises :class:`WastValueError` if ``j`` is not a value of ``t``.
    """
    if not isinstance(j, dict) or "type" not in j:
        raise WastValueError(f"not a value: {j!r}")
    kind, v = j["type"], j.get("value")
    if isinstance(t, _HANDLE_TYPES):
        raise WastValueError(f"a script cannot write a value of type {t!r}")
    if kind != _kind(t):
        raise WastValueError(f"{show(j)} is not a value of type {t!r}")
    if type(t) in _INT_RANGES:
        _, lo, hi = _INT_RANGES[type(t)]
        n = _int_of(v, kind)
        if not lo <= n <= hi:
            raise WastValueError(f"{n} is out of range for {kind}")
        return n
    match t:
        case ct.BoolType():
            if not isinstance(v, bool):
                raise WastValueError(f"bool value {v!r} is not true or false")
            return v
        case ct.F32Type():
            return f32_from_bits(_float_bits(v, 32))
        case ct.F64Type():
            return f64_from_bits(_float_bits(v, 64))
        case ct.CharType():
            if not isinstance(v, str) or len(v) != 1:
                raise WastValueError(f"char value {v!r} is not one character")
            return v
        case ct.StringType():
            if not isinstance(v, str):
                raise WastValueError(f"string value {v!r} is not a string")
            return v
        case ct.ListType(u, length):
            items = [from_json(x, u) for x in _items(v, kind)]
            if length is not None and len(items) != length:
                raise WastValueError(f"{t!r} needs {length} elements, got {len(items)}")
            return items
        case ct.MapType(k, u):
            return [from_json(x, ct.TupleType([k, u])) for x in _items(v, kind)]
        case ct.TupleType(ts):
            items = _items(v, kind)
            if len(items) != len(ts):
                raise WastValueError(f"{t!r} needs {len(ts)} elements, got {len(items)}")
            return tuple(from_json(x, u) for x, u in zip(items, ts, strict=True))
        case ct.RecordType(fields):
            given = _record_fields(v)
            labels = [f.label for f in fields]
            if sorted(given) != sorted(labels):
                raise WastValueError(f"{t!r} needs the fields {labels}, got {list(given)}")
            return {f.label: from_json(given[f.label], f.t) for f in fields}
        case ct.VariantType(cases):
            if not isinstance(v, dict) or not isinstance(v.get("case"), str):
                raise WastValueError(f"variant value {v!r} has no case")
            case = next((c for c in cases if c.label == v["case"]), None)
            if case is None:
                raise WastValueError(f"{t!r} has no case {v['case']!r}")
            return ct.Variant(case.label,
                              _payload(v.get("payload"), case.t, f"case {case.label!r}"))
        case ct.EnumType(labels):
            if v not in labels:
                raise WastValueError(f"{t!r} has no label {v!r}")
            return v
        case ct.OptionType(u):
            return ct.Variant("none") if v is None else ct.Variant("some", from_json(v, u))
        case ct.ResultType(ok, error):
            if not isinstance(v, dict) or len(v) != 1 or next(iter(v)) not in ("Ok", "Err"):
                raise WastValueError(f"result value {v!r} is neither Ok nor Err")
            if "Ok" in v:
                return ct.Variant("ok", _payload(v["Ok"], ok, "result.ok"))
            return ct.Variant("error", _payload(v["Err"], error, "result.err"))
        case ct.FlagsType(labels):
            names = _items(v, kind)
            unknown = [n for n in names if n not in labels]
            if unknown:
                raise WastValueError(f"{t!r} has no flag {unknown[0]!r}")
            return frozenset(names)
    raise WastValueError(f"a script cannot write a value of type {t!r}")  # pragma: no cover


def _float_bits(v: Any, width: int) -> int:
    """The bits a float constant gives; a core-style NaN pattern (``nan:...``) is the canonical NaN."""
    if isinstance(v, str) and v.startswith("nan:"):
        return CANONICAL_FLOAT32_NAN if width == 32 else CANONICAL_FLOAT64_NAN
    bits = _int_of(v, f"f{width}")
    if not 0 <= bits < 2**width:
        raise WastValueError(f"f{width} bits {bits} out of range")
    return bits


def _items(v: Any, kind: str) -> list[Any]:
    if not isinstance(v, list):
        raise WastValueError(f"{kind} value {v!r} is not a list")
    return v


def _record_fields(v: Any) -> dict[str, Any]:
    if not isinstance(v, list) or not all(isinstance(p, list) and len(p) == 2 for p in v):
        raise WastValueError(f"record value {v!r} is not a list of [label, value] pairs")
    return {label: value for label, value in v}


def _payload(j: Any, t: ct.ValType | None, what: str) -> Any:
    if t is None:
        if j is not None:
            raise WastValueError(f"{what} has no payload, got {show(j)}")
        return None
    if j is None:
        raise WastValueError(f"{what} needs a payload of type {t!r}")
    return from_json(j, t)


# -- values -> JSON ----------------------------------------------------------------------------


def to_json(v: Any, t: ct.ValType) -> dict[str, Any]:
    """The json-from-wast constant for the value ``v`` of type ``t``.

    Handles (own, borrow, stream, future, error-context) have no script form:
    they come out as ``{"type": "<the type>", "value": repr}``, for messages.
    """
    kind = _kind(t)
    if type(t) in _INT_RANGES:
        return {"type": kind, "value": str(int(v))}
    match t:
        case ct.BoolType():
            return {"type": kind, "value": bool(v)}
        case ct.F32Type():
            return {"type": kind, "value": str(f32_bits(v))}
        case ct.F64Type():
            return {"type": kind, "value": str(f64_bits(v))}
        case ct.CharType() | ct.StringType():
            return {"type": kind, "value": str(v)}
        case ct.ListType(u):
            return {"type": kind, "value": [to_json(x, u) for x in v]}
        case ct.MapType(k, u):
            pairs = v.items() if isinstance(v, dict) else v
            pair = ct.TupleType([k, u])
            return {"type": kind, "value": [to_json(tuple(p), pair) for p in pairs]}
        case ct.TupleType(ts):
            return {"type": kind, "value": [to_json(x, u) for x, u in zip(v, ts, strict=True)]}
        case ct.RecordType(fields):
            return {"type": kind, "value": [[f.label, to_json(v[f.label], f.t)] for f in fields]}
        case ct.VariantType(cases):
            case = next(c for c in cases if c.label == v.case)
            value: dict[str, Any] = {"case": v.case}
            if case.t is not None:
                value["payload"] = to_json(v.value, case.t)
            return {"type": kind, "value": value}
        case ct.EnumType():
            return {"type": kind, "value": v}
        case ct.OptionType(u):
            return {"type": kind, "value": None if v.case == "none" else to_json(v.value, u)}
        case ct.ResultType(ok, error):
            key, u = ("Ok", ok) if v.case == "ok" else ("Err", error)
            return {"type": kind, "value": {key: None if u is None else to_json(v.value, u)}}
        case ct.FlagsType(labels):
            given = {k for k, on in v.items() if on} if isinstance(v, dict) else set(v)
            return {"type": kind, "value": [label for label in labels if label in given]}
    return {"type": kind, "value": repr(v)}


# -- comparing constants -----------------------------------------------------------------------


def _is_nan_json(j: dict[str, Any]) -> bool:
    v = j.get("value")
    if isinstance(v, str) and v.startswith("nan:"):
        return True
    bits = _int_of(v, j["type"])
    return math.isnan(f32_from_bits(bits) if j["type"] == "f32" else f64_from_bits(bits))


def matches(expected: Any, actual: Any) -> bool:
    """Does the actual json constant ``actual`` match the script's ``expected`` one?

    Exact, except that an expected NaN matches any NaN, integers compare as
    numbers, flags as sets and record fields by label.
    """
    if not (isinstance(expected, dict) and isinstance(actual, dict)):
        return expected is None and actual is None
    kind = expected.get("type")
    if kind != actual.get("type"):
        return False
    e, a = expected.get("value"), actual.get("value")
    try:
        match kind:
            case "f32" | "f64":
                if _is_nan_json(expected):
                    return _is_nan_json(actual)
                return _int_of(e, kind) == _int_of(a, kind)
            case "u8" | "u16" | "u32" | "u64" | "s8" | "s16" | "s32" | "s64" | "i32" | "i64":
                return _int_of(e, kind) == _int_of(a, kind)
            case "list" | "tuple":
                return len(e) == len(a) and all(map(matches, e, a))
            case "record":
                ef, af = _record_fields(e), _record_fields(a)
                return ef.keys() == af.keys() and all(matches(ef[k], af[k]) for k in ef)
            case "variant":
                return e.get("case") == a.get("case") and matches(e.get("payload"), a.get("payload"))
            case "option":
                return matches(e, a)
            case "result":
                return e.keys() == a.keys() and matches(next(iter(e.values())), next(iter(a.values())))
            case "flags":
                return set(e) == set(a)
    except (WastValueError, TypeError, AttributeError, StopIteration):
        return False
    return bool(e == a)


# -- constants in script syntax ----------------------------------------------------------------


def _quote(s: str) -> str:
    return '"' + escape(s, '"', c1_controls=False) + '"'


def _show_float(kind: str, v: Any) -> str:
    """A float constant as a script writes it: the number, ``inf``, or ``nan[:0xPAYLOAD]``."""
    if isinstance(v, str) and v.startswith("nan:"):
        return v
    try:
        bits = _int_of(v, kind)
        x = f32_from_bits(bits) if kind == "f32" else f64_from_bits(bits)
    except (WastValueError, struct.error):
        return repr(v)
    if math.isnan(x):
        # The bits, not x: converting to a float canonicalised the payload.
        sign = "-" if bits >> (31 if kind == "f32" else 63) else ""
        payload = bits & ((1 << 23) - 1 if kind == "f32" else (1 << 52) - 1)
        canonical = 1 << 22 if kind == "f32" else 1 << 51
        return f"{sign}nan" if payload == canonical else f"{sign}nan:0x{payload:x}"
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    return repr(x)


def show(j: Any) -> str:
    """A json-from-wast constant in the script's own syntax, e.g. ``(u32.const 42)``."""
    if j is None:
        return "(none)"
    if not isinstance(j, dict):
        return repr(j)
    kind, v = j.get("type"), j.get("value")
    match kind:
        case "bool":
            return f"(bool.const {'true' if v else 'false'})"
        case "f32" | "f64":
            return f"({kind}.const {_show_float(kind, v)})"
        case "char":
            return f"(char.const {_quote(str(v))})"
        case "string":
            return f"(str.const {_quote(str(v))})"
        case "list" | "tuple" if isinstance(v, list):
            return _call(f"{kind}.const", (show(x) for x in v))
        case "record" if isinstance(v, list):
            return _call("record.const", (f"(field {_quote(str(p[0]))} {show(p[1])})"
                                          for p in v if isinstance(p, list) and len(p) == 2))
        case "variant" if isinstance(v, dict):
            payload = [show(v["payload"])] if "payload" in v else []
            return _call("variant.const", [_quote(str(v.get("case"))), *payload])
        case "enum":
            return f"(enum.const {_quote(str(v))})"
        case "option":
            return "(option.none)" if v is None else f"(option.some {show(v)})"
        case "result" if isinstance(v, dict) and v:
            key, payload = next(iter(v.items()))
            head = "result.ok" if key == "Ok" else "result.err"
            return _call(head, [] if payload is None else [show(payload)])
        case "flags" if isinstance(v, list):
            return _call("flags.const", (_quote(str(x)) for x in v))
        case str() if isinstance(v, str) and re.fullmatch(r"-?\d+", v):
            return f"({kind}.const {v})"
    return f"({kind} {v!r})" if isinstance(kind, str) else repr(j)


def _call(head: str, parts: Iterable[str]) -> str:
    return "(" + " ".join([head, *parts]) + ")"
