"""What converting the values of one call does to resources, settled when the call ends.

Converting a value may move a host's :class:`~.host_handles.GuestResource`,
lend one, or give a Python object a rep in a
:class:`~.host_handles.HostResource`. Those effects wait in a
:class:`CallResources` until the call's values have all converted, so that a
bad argument leaves the host's handles as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .conversion_errors import BadValue
from .host_handles import GuestResource, HostResource

__all__ = ["CallResources", "Convert"]


class CallResources:
    """The resource effects of one call's conversions, to commit, abort and finish.

    Handles move only once every argument converted (a bad argument leaves
    the host's handles as they were); borrowed handles and lent reps end
    with the call.
    """

    __slots__ = ("moving", "borrowed", "lent", "added")

    # Tuples, empty in the common case: most calls involve no resources, and
    # four empty tuples cost nothing to make.
    def __init__(self) -> None:
        self.moving: tuple[GuestResource, ...] = ()
        self.borrowed: tuple[GuestResource, ...] = ()
        self.lent: tuple[tuple[HostResource, int], ...] = ()
        self.added: tuple[tuple[HostResource, int], ...] = ()

    def moves(self, h: GuestResource) -> bool:
        """Whether ``h`` is already passed as an own in this call."""
        return any(m is h for m in self.moving)

    def move(self, h: GuestResource) -> None:
        """``h`` is passed as an own: spent once the call's values converted."""
        if self.moves(h):
            raise BadValue(ValueError, f"{h!r} is passed as an own twice in one call")
        self.moving += (h,)

    def borrow(self, h: GuestResource) -> None:
        """``h`` was lent to the host: it expires when the call ends."""
        self.borrowed += (h,)

    def lend(self, host: HostResource, rep: int) -> None:
        """A host object was lent to a guest as ``rep``: the rep ends with the call."""
        self.lent += ((host, rep),)

    def add(self, host: HostResource, rep: int) -> None:
        """A host object got ``rep`` to leave as an own: undone if the call's values do not convert."""
        self.added += ((host, rep),)

    def commit(self) -> None:
        """Every value converted: the moved handles are spent."""
        for h in self.moving:
            h._state = "moved"

    def abort(self) -> None:
        """A value did not convert: give back the reps handed out so far."""
        for host, rep in self.added + self.lent:
            host._release(rep)

    def finish(self) -> None:
        """The call ended: borrowed handles expire, lent reps are released."""
        for h in self.borrowed:
            if h._state == "borrowed":
                h._state = "expired"
        for host, rep in self.lent:
            host._release(rep)


# A conversion of one value: it records its resource effects in the CallResources.
Convert = Callable[[Any, CallResources], Any]
