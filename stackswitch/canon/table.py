"""The per-instance handle tables (spec: "Table State").

Core wasm names resources, waitables, waitable sets, error contexts and
threads by ``i32`` indices into a table. Index 0 is reserved so it can serve
as a null/sentinel value, freed slots are reused before the table grows, and
the length stays below 2**28 so guests can use the top four bits of an index.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from ..errors import Trap, trap_if
from ..limits import too_many_handles
from . import messages

E = TypeVar("E")

MAX_LENGTH = 2**28 - 1


class Table(Generic[E]):
    """A growable array with holes and a free list; every lookup is checked."""

    __slots__ = ("array", "free", "limit")

    def __init__(self, limit: int = MAX_LENGTH) -> None:
        self.array: list[E | None] = [None]
        self.free: list[int] = []
        self.limit = limit
        """At most this many entries at once (``Limits.handles``; the spec's bound is MAX_LENGTH)."""

    def __iter__(self) -> Iterator[E]:
        return (e for e in self.array if e is not None)

    def __len__(self) -> int:
        return len(self.array) - 1 - len(self.free)

    def get(self, i: int) -> E:
        # Hot (several times per async call): the message is built only when trapping,
        # and the bound is checked by the indexing itself (index 0 always holds None).
        if i >= 0:
            try:
                e = self.array[i]
            except IndexError:
                pass
            else:
                if e is not None:
                    return e
        raise Trap(messages.unknown_index(i))

    def add(self, e: E) -> int:
        if self.free:
            i = self.free.pop()
            self.array[i] = e
        else:
            i = len(self.array)
            trap_if(i > MAX_LENGTH, messages.TABLE_FULL)
            if i > self.limit:  # (the message is built only when trapping)
                raise Trap(too_many_handles(self.limit))
            self.array.append(e)
        return i

    def remove(self, i: int) -> E:
        array = self.array
        try:  # self.get(i), inline (hot); 0 holds None, an index past the end raises
            e = array[i] if i >= 0 else None
        except IndexError:
            e = None
        if e is None:
            raise Trap(messages.unknown_index(i))
        array[i] = None
        self.free.append(i)
        return e
