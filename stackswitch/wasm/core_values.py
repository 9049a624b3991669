"""Core wasm values as wasmtime's C API lays them out: arrays of ``wasmtime_val_t``.

Every call into wasm and every host import of :mod:`stackswitch.wasm.fibers`
passes its arguments and results this way; so does a raw global set
(:func:`stackswitch.wasm.capi.global_set`). A :class:`CoreCodec` is built once
per signature and turns a list of Python numbers into such an array and back.

Only numeric core types (i32, i64, f32, f64) are supported. i32/i64 values
come back as unsigned Python ints, as in :mod:`stackswitch.canon.values`;
negative ints in the signed range are accepted on the way in. Each
``wasmtime_val_t`` is :data:`capi.VAL_SIZE` bytes: a kind byte, padding to
offset 8, then the value, then padding.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Sequence
from typing import Any

import wasmtime

from . import capi

Value = int | float
"""A core value on the Python side."""

_KINDS = {"i32": capi.I32, "i64": capi.I64, "f32": capi.F32, "f64": capi.F64}
_FIELDS = {"i32": "I20x", "i64": "Q16x", "f32": "f20x", "f64": "d16x"}
_RAW_FIELDS = {"i32": "I12x", "i64": "Q8x", "f32": "f12x", "f64": "d8x"}
"""Each type in a ``wasmtime_val_raw_t`` (:data:`capi.RAW_SIZE` bytes, no kind tag)."""
_BITS = {"i32": 32, "i64": 64}
_HOST = capi.HOST


def _interleave(kinds: Sequence[int], values: Sequence[Any]) -> itertools.chain[Any]:
    return itertools.chain.from_iterable(zip(kinds, values, strict=True))


_PLAIN = (int, float, bool)
"""The types :meth:`CoreCodec.store`'s fast path packs as they are."""


class CoreCodec:
    """Packs and unpacks one signature's list of core values as ``wasmtime_val_t``s.

    ``types`` never changes; ``size`` is the bytes of one packed array.
    """

    __slots__ = ("types", "count", "size", "_unpack", "_pack", "_kinds", "_kind0", "_template",
                 "_raw", "unpack_from", "raw_unpack_from")

    def __init__(self, types: Sequence[str]) -> None:
        for t in types:
            if t not in _KINDS:
                raise TypeError(f"unsupported core type {t!r}: only i32, i64, f32, f64 are")
        self.types = tuple(types)
        self.count = len(types)
        self.size = capi.VAL_SIZE * self.count
        self._unpack = struct.Struct("<" + "".join("8x" + _FIELDS[t] for t in types))
        self._pack = struct.Struct("<" + "".join("B7x" + _FIELDS[t] for t in types))
        self._kinds = [_KINDS[t] for t in types]
        self._kind0 = self._kinds[0] if types else 0
        # kind, value, kind, value ...: filled by slice assignment, cheaper than zipping
        self._template: list[Any] = [k for kind in self._kinds for k in (kind, 0)]
        self._raw = struct.Struct("<" + "".join(_RAW_FIELDS[t] for t in types))
        """The same values as ``wasmtime_val_raw_t``s (see :meth:`pack_raw_into`)."""
        self.unpack_from = self._unpack.unpack_from if types else None
        """``unpack_from(buffer, address)``: the values wasmtime stored at ``address`` (the
        fiber callbacks call it directly, no method between: one call fewer per import);
        None for no values (test :attr:`count` first)."""
        self.raw_unpack_from = self._raw.unpack_from
        """``raw_unpack_from(buffer, offset)``: the values packed as ``wasmtime_val_raw_t``s
        in ``buffer`` at ``offset`` (a plain call's results)."""

    @classmethod
    def of(cls, valtypes: Sequence[wasmtime.ValType]) -> CoreCodec:
        """The codec for wasmtime's own value types (a ``FuncType``'s params or results)."""
        return cls([type_name(t) for t in valtypes])

    def load_from(self, buffer: bytearray, offset: int) -> list[Value]:
        """The values packed in ``buffer`` at ``offset``."""
        return list(self._unpack.unpack_from(buffer, offset))

    def pack(self, values: Sequence[Value]) -> bytes:
        """``values`` as a ``wasmtime_val_t`` array; ``TypeError`` if they do not fit."""
        if len(values) != self.count:
            raise TypeError(f"expected {self.count} core values {list(self.types)}, "
                            f"got {len(values)}: {list(values)!r}")
        try:
            if self.count == 1:
                return self._pack.pack(self._kind0, values[0])
            fields = self._template[:]
            fields[1::2] = values
            return self._pack.pack(*fields)
        except (struct.error, OverflowError):
            normal = [self._normalize(t, v) for t, v in zip(self.types, values, strict=True)]
            try:
                return self._pack.pack(*_interleave(self._kinds, normal))
            except (struct.error, OverflowError) as e:
                raise TypeError(f"{list(values)!r} do not fit {list(self.types)}: {e}") from None

    def pack_raw_into(self, buffer: bytearray, offset: int, values: Sequence[Value]) -> None:
        """``values`` as ``wasmtime_val_raw_t``s into ``buffer`` at ``offset`` (the layout of
        ``wasmtime_func_call_unchecked``); ``TypeError`` as :meth:`pack` if they do not fit.

        A raw value carries no type: it is right only because this codec is the
        function's own signature, and every value is checked against it here.
        """
        try:
            self._raw.pack_into(buffer, offset, *values)
            return
        except (struct.error, OverflowError, TypeError):
            pass
        self.pack(values)  # raises the same TypeError as the tagged path if they do not fit
        normal = [self._normalize(t, v) for t, v in zip(self.types, values, strict=True)]
        self._raw.pack_into(buffer, offset, *normal)

    def pack_result(self, result: Any) -> bytes:
        """A handler's return value (``None``, one number, or a sequence) packed."""
        if result is None:
            if not self.count:
                return b""
            result = ()
        elif isinstance(result, (int, float)):
            result = (result,)
        return self.pack(result)

    def store(self, address: int, result: Any) -> None:
        """Write a handler's return value where wasmtime expects the results.

        Fast paths, equal to ``pack_result`` then a copy: one value, bare or
        as a one-element list, goes through the very struct call ``pack``
        makes for it (anything that call refuses takes the general path,
        which normalizes or raises); no values and ``None`` or ``[]`` write
        nothing, as ``pack_result`` packs them to ``b""``.
        """
        count = self.count
        if count == 1:
            value = result[0] if type(result) is list and len(result) == 1 else result
            if type(value) in _PLAIN:  # (struct also takes __index__/__float__ objects)
                try:
                    self._pack.pack_into(_HOST, address, self._kind0, value)
                    return
                except (struct.error, OverflowError, TypeError):
                    pass
        elif not count and (result is None or (type(result) is list and not result)):
            return
        data = self.pack_result(result)
        _HOST[address:address + len(data)] = data

    @staticmethod
    def _normalize(t: str, v: Any) -> Any:
        bits = _BITS.get(t)
        if bits is None or not isinstance(v, int):
            return v
        if -(1 << (bits - 1)) <= v < 1 << bits:
            return v & ((1 << bits) - 1)
        raise TypeError(f"{v!r} is not an {t} (want an int in [-2**{bits - 1}, 2**{bits}))")


_NAMED: list[tuple[str, wasmtime.ValType]] = []

OTHER_REFERENCE = "gcref"
"""The name :func:`type_name` gives every reference type but ``funcref`` and ``externref``."""


def type_name(t: wasmtime.ValType) -> str:
    """``i32``, ``i64``, ``f32``, ``f64``, ``funcref`` or ``externref``; for any other type
    (GC references, ``v128``) :data:`OTHER_REFERENCE`.

    Not ``str(t)``: wasmtime-py asks ``wasm_valtype_kind``, which aborts the whole process
    ("not implemented") on a GC reference type, so a guest could crash us with one."""
    if not _NAMED:
        _NAMED.extend((str(v), v) for v in (
            wasmtime.ValType.i32(), wasmtime.ValType.i64(), wasmtime.ValType.f32(),
            wasmtime.ValType.f64(), wasmtime.ValType.funcref(), wasmtime.ValType.externref()))
    for name, known in _NAMED:
        if capi.valtype_equal(t.ptr(), known.ptr()):
            return name
    return OTHER_REFERENCE
