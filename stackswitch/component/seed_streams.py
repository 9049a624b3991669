"""The extension interface core wasm imports: ``stackswitch:seed/streams``.

A component binary cannot spell the extensions' built-ins (only
``stream.forward``/``future.forward`` have an opcode, in wasm-tools 1.262),
so it imports them as functions of an instance named ``stackswitch:seed/streams``
and lowers them like any import. With any feature enabled the
:class:`~.linker.Linker` provides that instance; ``canon lower`` of one of
its functions does not call out to the host: it becomes the built-in itself,
run on the calling thread, acting on the caller's own table with the
caller's rights (``may_leave``, the blocking rules), exactly as a
``canon`` built-in would. Each function still traps unless its own feature
is enabled.

```wit
package stackswitch:seed;
interface streams {
  splice: func(src: u32, dst: u32, n: u32) -> u32;   // payload, or BLOCKED (0xffffffff)
  skip: func(src: u32, n: u32) -> u32;                // payload, or BLOCKED
  forward: func(src: u32, dst: u32);                  // streams; stream.forward's semantics
  future-forward: func(src: u32, dst: u32);
  park: func(thread: u32) -> u32;                     // 0 unparked, 1 cycle, 2 exited
  unpark: func(thread: u32) -> u32;                   // 0 done, 1 not parked on the caller
  write-end: func(h: u32, value: U);                  // stream<T, U>: U is any type the
  read-end: func(h: u32) -> option<U>;                //   component declares here
}
```

Handles are indices into the caller's table; the element type is the end's
own. ``splice`` and ``skip`` behave as the ``async`` forms of the
built-ins: a BLOCKED splice reports on ``dst`` (STREAM_WRITE), a skip on
``src`` (STREAM_READ), through a waitable set. ``write-end``/``read-end``
give ``stream<T, U>`` its binary convention: the stream is a ``stream<T>``
in every function type, and ``U`` is the type this import declares (checked
between writer and reader when the value is read).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..canon.calls import RuntimeContext
from ..canon.extensions import extension_builtins as x
from ..canon.options import CanonicalOptions
from ..canon.threads import current_thread
from ..canon.types import FuncType, OptionType, U32Type, Variant
from ..canon.values import (
    MAX_FLAT_PARAMS,
    MAX_FLAT_RESULTS,
    CoreValueIter,
    flatten_functype,
    lift_flat_values,
    lower_flat_values,
)
from ..errors import LinkError, Trap
from .corefuncs import HostCoreFunc
from .func import Func

NAME = "stackswitch:seed/streams"
NOT_LOWERED = (f"{NAME} functions act on the caller's table: lower them into core wasm "
               "(canon lower), do not call them from the host")

_U32 = U32Type()
_ASYNC = CanonicalOptions(async_=True)


def _inst() -> Any:
    return current_thread().task.inst


def _splice(src: int, dst: int, n: int) -> list[int]:
    t = x.end_type(_inst(), src, "stream")
    return x.canon_stream_splice(t, _ASYNC, src, dst, n)


def _skip(src: int, n: int) -> list[int]:
    return x.canon_stream_skip(x.end_type(_inst(), src, "stream"), _ASYNC, src, n)


def _forward(src: int, dst: int) -> list[Any]:
    return x.canon_stream_forward(x.end_type(_inst(), src, "stream"), src, dst)


def _future_forward(src: int, dst: int) -> list[Any]:
    return x.canon_future_forward(x.end_type(_inst(), src, "future"), src, dst)


# name: (number of u32 parameters, number of u32 results, handler, may suspend the caller)
_NUMERIC: dict[str, tuple[int, int, Callable[..., list[Any]], bool]] = {
    "splice": (3, 1, _splice, False),
    "skip": (2, 1, _skip, False),
    "forward": (2, 0, _forward, False),
    "future-forward": (2, 0, _future_forward, False),
    "park": (1, 1, x.canon_thread_park, True),
    "unpark": (1, 1, x.canon_thread_unpark, False),
}
NAMES = (*_NUMERIC, "write-end", "read-end")


class SeedFunction:
    """One function of the interface, before the importing component gives it a type."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{NAME}#{self.name}>"

    def bind(self, ft: FuncType, store: Any) -> SeedFunc:
        """The function typed as the importing component declares it (checked here)."""
        params = [t for _, t in ft.params]
        results = list(ft.result_types())
        if self.name in _NUMERIC:
            n_params, n_results, _, _ = _NUMERIC[self.name]
            ok = params == [_U32] * n_params and results == [_U32] * n_results
        elif self.name == "write-end":
            ok = len(params) == 2 and params[0] == _U32 and not results
        else:
            ok = params == [_U32] and len(results) == 1 and isinstance(results[0], OptionType)
        if not ok or ft.async_:
            raise LinkError(f"{NAME}#{self.name}: declared as {ft!r}, which is not its signature "
                            "(docs/extensions.md)")

        def not_lowered(on_start: Any, on_resolve: Any, caller: Any) -> Any:
            raise Trap(NOT_LOWERED)

        func = SeedFunc(f"{NAME}#{self.name}", ft, not_lowered, store)
        func.seed_name = self.name
        return func


class SeedFunc(Func):
    """A typed seed function: ``canon lower`` of it is the built-in itself (:meth:`lower`)."""

    seed_name = ""

    def lower(self, opts: CanonicalOptions) -> HostCoreFunc:
        name = self.seed_name
        flat = flatten_functype(opts, self.ft, "lower")
        if name in _NUMERIC:
            _, _, handler, suspends = _NUMERIC[name]
            return HostCoreFunc(f"{NAME}#{name}", tuple(flat.params), tuple(flat.results),
                                handler, may_block=True, may_suspend=suspends)
        params = [t for _, t in self.ft.params]
        if name == "write-end":
            end_t = params[1]

            def write_end(*args: Any) -> list[Any]:
                inst = _inst()
                h, value = lift_flat_values(RuntimeContext(opts, inst), MAX_FLAT_PARAMS,
                                            CoreValueIter(list(args)), params)
                t = x.end_type(inst, h, "stream")
                x.stream_close_with(inst, t, end_t, h, value)
                return []

            return HostCoreFunc(f"{NAME}#{name}", tuple(flat.params), (), write_end,
                                may_block=True)
        option_t = self.ft.result_types()[0]
        end_t = option_t.t
        n_params = len(flat.params)

        def read_end(*args: Any) -> list[Any]:
            inst = _inst()
            h = args[0]
            found, value = x.stream_end_value(inst, x.end_type(inst, h, "stream"), end_t, h)
            out = CoreValueIter(list(args[1:])) if n_params > 1 else None
            result = _some(value) if found else _none()
            return lower_flat_values(RuntimeContext(opts, inst), MAX_FLAT_RESULTS, [result],
                                     [option_t], out)

        return HostCoreFunc(f"{NAME}#{name}", tuple(flat.params), tuple(flat.results), read_end,
                            may_block=True)


def _some(value: Any) -> Variant:
    return Variant("some", value)


def _none() -> Variant:
    return Variant("none", None)


def instance() -> dict[str, SeedFunction]:
    """What the linker defines as ``stackswitch:seed/streams`` once a feature is enabled."""
    return {name: SeedFunction(name) for name in NAMES}
