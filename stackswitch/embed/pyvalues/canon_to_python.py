"""Canon values to the Python mapping a host sees.

:func:`python_converter` works out, once per type, the function that turns a
canon value into its Python form: ``None``/``Some`` for options, ``Ok``/
``Err`` for results, ``bytes`` for ``list<u8>``, host objects or
:class:`~.host_handles.GuestResource` handles for reps. The values come from
the runtime, so they are not checked again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...canon import types as ct
from .call_resources import CallResources, Convert
from .host_handles import GuestResource, HostResourceType
from .option_result import Err, Ok, Some

__all__ = ["python_converter", "to_python"]

# A converter of None stands for "the canon value is already the Python value",
# so that records of numbers, lists of strings and the like are not copied.


def _list_out(t: ct.ListType) -> Convert | None:
    if isinstance(t.t, ct.U8Type):
        return lambda v, cx: bytes(v)
    elem = python_converter(t.t)
    if elem is None:
        return None
    return lambda v, cx: [elem(x, cx) for x in v]


def _record_out(t: ct.RecordType) -> Convert | None:
    fields = [(f.label, python_converter(f.t)) for f in t.fields]
    if all(c is None for _, c in fields):
        return None
    return lambda v, cx: {label: (v[label] if c is None else c(v[label], cx))
                          for label, c in fields}


def _tuple_out(t: ct.TupleType) -> Convert | None:
    convs = [python_converter(u) for u in t.ts]
    if all(c is None for c in convs):
        return None
    return lambda v, cx: tuple(x if c is None else c(x, cx) for c, x in zip(convs, v, strict=True))


def _variant_out(t: ct.VariantType) -> Convert | None:
    cases = {c.label: (None if c.t is None else python_converter(c.t)) for c in t.cases}
    if all(c is None for c in cases.values()):
        return None

    def conv(v: ct.Variant, cx: CallResources) -> ct.Variant:
        c = cases[v.case]
        return v if c is None else ct.Variant(v.case, c(v.value, cx))

    return conv


def _option_out(t: ct.OptionType) -> Convert:
    inner = python_converter(t.t)
    wrap = isinstance(t.t, ct.OptionType)

    def conv(v: ct.Variant, cx: CallResources) -> Any:
        if v.case == "none":
            return None
        value = v.value if inner is None else inner(v.value, cx)
        return Some(value) if wrap else value

    return conv


def _result_out(t: ct.ResultType) -> Convert:
    ok = None if t.ok is None else python_converter(t.ok)
    error = None if t.error is None else python_converter(t.error)

    def conv(v: ct.Variant, cx: CallResources) -> Ok | Err:
        if v.case == "ok":
            return Ok(v.value if ok is None else ok(v.value, cx))
        return Err(v.value if error is None else error(v.value, cx))

    return conv


def _hashable(t: ct.ValType | None) -> bool:
    """Is the Python form of every ``t`` value hashable (so that it can be a dict key)?"""
    match t:
        case ct.ListType(u):
            return isinstance(u, ct.U8Type)
        case ct.RecordType() | ct.MapType():
            return False
        case ct.TupleType(ts):
            return all(map(_hashable, ts))
        case ct.VariantType(cases):
            return all(_hashable(c.t) for c in cases)
        case ct.OptionType(u):
            return _hashable(u)
        case ct.ResultType(ok, error):
            return _hashable(ok) and _hashable(error)
    return True


def _map_out(t: ct.MapType) -> Convert:
    key = python_converter(t.k) or (lambda x, cx: x)
    value = python_converter(t.v) or (lambda x, cx: x)
    if not _hashable(t.k):
        # Valid components only have primitive and string keys; a key that
        # cannot be a dict key leaves the entries as pairs.
        return lambda v, cx: [(key(k, cx), value(x, cx)) for k, x in v]
    return lambda v, cx: {key(k, cx): value(x, cx) for k, x in v}


def _handle_out(t: ct.OwnType | ct.BorrowType) -> Convert | None:
    rt = t.rt
    own = isinstance(t, ct.OwnType)
    if isinstance(rt, HostResourceType):
        host = rt.host
        return (lambda rep, cx: host._take(rep)) if own else (lambda rep, cx: host._get(rep))
    if rt.impl is None:
        return None

    def conv(rep: int, cx: CallResources) -> GuestResource:
        h = GuestResource(rt, rep, owned=own)
        if not own:
            cx.borrow(h)
        return h

    return conv


# The types whose canon and Python values differ, and how to build their conversion.
_BUILDERS: tuple[tuple[type, Callable[[Any], Convert | None]], ...] = (
    (ct.ListType, _list_out), (ct.RecordType, _record_out), (ct.TupleType, _tuple_out),
    (ct.VariantType, _variant_out), (ct.OptionType, _option_out),
    (ct.ResultType, _result_out), (ct.MapType, _map_out),
    (ct.OwnType, _handle_out), (ct.BorrowType, _handle_out),
)


def python_converter(t: ct.ValType) -> Convert | None:
    """The conversion of a canon value of type ``t`` to Python (None: no change)."""
    for cls, build in _BUILDERS:
        if isinstance(t, cls):
            return build(t)
    return None


def to_python(value: Any, t: ct.ValType) -> Any:
    """A canon value of type ``t`` in the Python mapping: e.g. what a ``StreamReader`` read."""
    conv = python_converter(t)
    return value if conv is None else conv(value, CallResources())
