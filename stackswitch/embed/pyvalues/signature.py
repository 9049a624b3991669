"""One function type's conversions, for the host calling a guest and a guest calling the host.

A :class:`Signature` works out the conversions of a function's parameters
and results once; :class:`~stackswitch.component.func.Func` uses it for
every call, and host functions defined with Python values are wrapped by it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ...canon import types as ct
from .call_resources import CallResources
from .canon_to_python import python_converter
from .conversion_errors import BadValue
from .python_to_canon import canon_converter

__all__ = ["Signature"]

# Without resources no conversion touches its CallResources: one shared (and
# never changed) instance spares each call the bookkeeping.
_NO_RESOURCES = CallResources()


def _contains_handle(ft: ct.FuncType) -> bool:
    """Whether an ``own`` or ``borrow`` occurs anywhere in ``ft``."""

    def walk(t: ct.ValType | None) -> bool:
        match t:
            case ct.OwnType() | ct.BorrowType():
                return True
            case ct.ListType(u) | ct.OptionType(u):
                return walk(u)
            case ct.RecordType(fields):
                return any(walk(f.t) for f in fields)
            case ct.TupleType(ts):
                return any(map(walk, ts))
            case ct.VariantType(cases):
                return any(walk(c.t) for c in cases)
            case ct.ResultType(ok, error):
                return walk(ok) or walk(error)
            case ct.MapType(k, v):
                return walk(k) or walk(v)
        return False

    return any(map(walk, ft.param_types() + ft.result_types()))


class Signature:
    """The conversions of one function type, worked out once and used for every call.

    :meth:`call` is the host calling a component function with Python values;
    :meth:`host_function` wraps a Python host function so that it receives
    and returns Python values while the runtime sees canon ones.
    """

    def __init__(self, ft: ct.FuncType, name: str) -> None:
        self.ft = ft
        self.name = name
        self._names = [pname for pname, _ in ft.params]
        self._args_in = [canon_converter(t) for _, t in ft.params]
        self._args_out = [python_converter(t) for _, t in ft.params]
        self._result_in = [canon_converter(t) for t in ft.result_types()]
        self._result_out = [python_converter(t) for t in ft.result_types()]
        self._resources = _contains_handle(ft)

    def _convert_args(self, args: Sequence[Any], cx: CallResources) -> list[Any]:
        convs = self._args_in
        if len(args) != len(convs):
            names = ", ".join(f"{n}: {t!r}" for n, t in self.ft.params)
            raise TypeError(f"{self.name}({names}) takes {len(convs)} argument(s), "
                            f"{len(args)} given")
        out: list[Any] = []
        try:
            for conv, arg in zip(convs, args, strict=True):
                out.append(conv(arg, cx))
        except BadValue as e:
            cx.abort()
            e.raise_as(f"{self.name}: parameter {self._names[len(out)]!r}")
        return out

    def call(self, args: Sequence[Any],
             call_canon: Callable[[list[Any]], list[Any] | None]) -> list[Any] | None:
        """Convert ``args``, ``call_canon`` them, convert the results (None stays None)."""
        if not self._resources:
            results = call_canon(self._convert_args(args, _NO_RESOURCES))
        else:
            cx = CallResources()
            canon_args = self._convert_args(args, cx)
            cx.commit()
            try:
                results = call_canon(canon_args)
            finally:
                cx.finish()
        if results is None:
            return None
        if results and self._result_out[0] is not None:
            return [self._result_out[0](results[0], CallResources())]
        return results

    def host_function(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` taking and returning Python values, as a function of canon values."""
        params = self._args_out
        result = self._result_in[0] if self._result_in else None
        name = self.name

        def run(*canon_args: Any) -> Any:
            cx = CallResources()
            try:
                args = [a if conv is None else conv(a, cx)
                        for conv, a in zip(params, canon_args, strict=True)]
                value = fn(*args)
                if result is None:
                    return None
                try:
                    out = result(value, cx)
                except BadValue as e:
                    cx.abort()
                    e.raise_as(f"host function {name!r}: its result")
                cx.commit()
                return out
            finally:
                cx.finish()

        run.__name__ = getattr(fn, "__name__", name)
        return run
