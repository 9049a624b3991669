"""``stream<T, U>``: a stream whose end carries a value of type ``U``.

From the 2022 design: ``stream<T> = stream<T, unit>``, and a ``future<U>``
is a stream that writes no ``T`` before its ``U``; e.g. ``main: (stdin:
stream<u8>, argv: list<string>) -> stream<u8, expected<_, _>>``.

Here ``stream<T, U>`` is a ``stream<T>`` (same ABI, same handles, same
copies) plus an end value kept with the stream's shared state:

* ``stream.write-end`` (on the writable end, IDLE) lifts a ``U`` from the
  writer, keeps it, and drops the writable end: writing the end value closes
  the stream. The reader's parked or next read ends with DROPPED, as when a
  writer drops.
* ``stream.read-end`` (on the readable end, once DONE: its read saw DROPPED)
  lowers the ``U`` into the reader and returns 1, or returns 0 if the
  writer dropped without an end value. The readable end stays DONE (drop
  it as usual). Reading the end value again returns it again.

Traps: ``write-end`` on a busy end (``cannot have concurrent operations``),
on a DONE end (the reader is gone), or with a ``U`` other than the one a
previous end value used; ``read-end`` before the end (the stream has not
ended), or with a different ``U`` than the writer's
(``stream end value types differ``).

Ownership: lifting the ``U`` moves any handles in it out of the writer's
table at ``write-end``; lowering moves them into the reader's at the first
``read-end`` (a second one traps if ``U`` holds handles: they moved).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..types import StreamType, ValType, _contains, _HandleType, contains_async_value

END_TYPES_DIFFER = "stream end value types differ"
NOT_ENDED = "stream.read-end: the stream has not ended (no read has returned DROPPED yet)"
END_MOVED = "stream.read-end: the end value's handles were already moved out"


@dataclass(frozen=True, repr=False)
class StreamEndType(StreamType):
    """``stream<t, end>``: the WIT spelling this project gives the design's ``stream<T, U>``."""

    end: ValType | None = None

    def __repr__(self) -> str:
        t = "_" if self.t is None else repr(self.t)
        return f"stream<{t}, {self.end!r}>"


def holds_handles(t: ValType | None) -> bool:
    return contains_async_value(t) or _contains(t, lambda u: isinstance(u, _HandleType))


class EndValue:
    """What a stream's writer closed it with: ``U`` and the (lifted) value."""

    __slots__ = ("t", "value", "taken")

    def __init__(self, t: Any, value: Any) -> None:
        self.t = t
        self.value = value
        self.taken = False
