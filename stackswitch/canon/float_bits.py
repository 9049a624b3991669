"""``f32`` and ``f64`` values and their bits, with the Canonical ABI's NaN rule.

Component values of the float types are Python floats; an ``f32`` is a
float that binary32 represents exactly. Lifting must turn every NaN into the
canonical NaN (bits ``0x7fc00000`` / ``0x7ff8000000000000``) and lowering
may write any NaN: we write the canonical one too, so that runs are
deterministic. Everything that turns floats into bits or back (memory, flat
core values, the ``.wast`` and WAVE text forms) uses these functions, so the
rule is written once.
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = [
    "CANONICAL_FLOAT32_NAN", "CANONICAL_FLOAT64_NAN", "CANONICAL_NAN", "f32_bits",
    "f32_from_bits", "f64_bits", "f64_from_bits", "to_f32", "to_f64",
]

CANONICAL_FLOAT32_NAN = 0x7FC00000
CANONICAL_FLOAT64_NAN = 0x7FF8000000000000

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_F32 = struct.Struct("<f")
_F64 = struct.Struct("<d")

# The one NaN lifting produces, as a Python float (as binary32 it is 0x7fc00000).
CANONICAL_NAN: float = _F64.unpack(_U64.pack(CANONICAL_FLOAT64_NAN))[0]

_F32_INFINITY = 0x7F800000
_F32_NEGATIVE_INFINITY = 0xFF800000


def _check_float(f: Any) -> None:
    """A float value that is not a number is a host bug, not a guest's: say so plainly."""
    if not isinstance(f, int | float):
        raise TypeError(f"a float value must be a float, not {f!r}")


def f32_bits(f: float) -> int:
    """The binary32 bits of ``f`` rounded to binary32; a NaN gives the canonical NaN.

    A value beyond the largest binary32 rounds to an infinity, as IEEE 754
    rounding does (``struct`` would raise instead).
    """
    _check_float(f)
    if f != f:
        return CANONICAL_FLOAT32_NAN
    try:
        return _U32.unpack(_F32.pack(f))[0]
    except OverflowError:
        return _F32_INFINITY if f > 0 else _F32_NEGATIVE_INFINITY


def f64_bits(f: float) -> int:
    """The binary64 bits of ``f``; a NaN gives the canonical NaN."""
    _check_float(f)
    if f != f:
        return CANONICAL_FLOAT64_NAN
    return _U64.unpack(_F64.pack(f))[0]


def f32_from_bits(bits: int) -> float:
    """The ``f32`` value with binary32 ``bits``; every NaN pattern gives the canonical NaN."""
    f = _F32.unpack(_U32.pack(bits))[0]
    return CANONICAL_NAN if f != f else f


def f64_from_bits(bits: int) -> float:
    """The ``f64`` value with binary64 ``bits``; every NaN pattern gives the canonical NaN."""
    f = _F64.unpack(_U64.pack(bits))[0]
    return CANONICAL_NAN if f != f else f


def to_f32(f: float) -> float:
    """``f`` as the nearest binary32 value (overflowing to an infinity), NaN canonicalised."""
    return f32_from_bits(f32_bits(f))


def to_f64(f: float) -> float:
    """``f`` as a float (an int is accepted), NaN canonicalised."""
    _check_float(f)
    f = float(f)
    return CANONICAL_NAN if f != f else f
