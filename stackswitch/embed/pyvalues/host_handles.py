"""Resources seen from the host: a type the host implements, and handles to a guest's.

A :class:`HostResource` makes Python objects the resources of a resource
type, giving each object that leaves the host a fresh ``rep``; a
:class:`GuestResource` is the host's handle to a resource a guest
implements, with the own/borrow life the spec gives handles.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...canon.options import CanonicalOptions
from ...canon.resources import ResourceType
from ...canon.threads import current_thread_or_none
from ...canon.types import FuncType, U32Type
from .conversion_errors import BadValue, describe

__all__ = ["GuestResource", "HostResource", "HostResourceType"]


class HostResourceType(ResourceType):
    """The canon resource type of a :class:`HostResource` (``impl`` None: the host)."""

    def __init__(self, host: HostResource, name: str) -> None:
        super().__init__(None, host._guest_dropped, name)
        self.host = host


class HostResource:
    """A resource type the host implements, with Python objects as its resources.

    Define it for a component's ``(import "r" (type (sub resource)))`` (or as
    the ``"r"`` entry of an instance import's dict): ``linker.define("r",
    HostResource(Counter))``. Host functions then return plain Python objects
    for ``own<r>`` and receive the same objects for ``own<r>`` and
    ``borrow<r>``; ``Func.call`` takes and returns them the same way.

    Each time an object leaves the host as an ``own<r>`` it gets a fresh
    ``rep`` (an id in this table) and the receiving guest a handle to it.
    ``dtor(obj)`` runs when a guest drops such a handle; it runs inside the
    guest's ``resource.drop`` and must not block. An object that comes back
    to the host as an ``own<r>`` leaves the table without ``dtor``: the host
    owns it again. A ``borrow<r>`` the host lends in ``Func.call`` has a rep
    for that call only.
    """

    def __init__(self, cls_or_name: type | str = "resource",
                 dtor: Callable[[Any], Any] | None = None) -> None:
        if isinstance(cls_or_name, type):
            self.cls: type | None = cls_or_name
            self.name = cls_or_name.__name__
        else:
            self.cls = None
            self.name = cls_or_name
        self.dtor = dtor
        self.type: ResourceType = HostResourceType(self, self.name)
        self._objects: dict[int, Any] = {}
        self._next_rep = 1

    def __repr__(self) -> str:
        return f"<HostResource {self.name}: {len(self._objects)} live>"

    def __len__(self) -> int:
        """How many reps are live: objects guests hold (or borrow) right now."""
        return len(self._objects)

    def _check(self, obj: Any) -> None:
        if self.cls is not None and not isinstance(obj, self.cls):
            raise BadValue(TypeError, f"expected a {self.cls.__name__} (resource {self.name}), "
                                      f"got {describe(obj)}")
        if isinstance(obj, GuestResource):
            raise BadValue(TypeError, f"expected a Python object for host resource {self.name}, "
                                      f"got {obj!r}")

    def _add(self, obj: Any) -> int:
        rep = self._next_rep
        if rep >= 1 << 32:
            raise RuntimeError(f"host resource {self.name}: out of reps")
        self._next_rep += 1
        self._objects[rep] = obj
        return rep

    def _get(self, rep: int) -> Any:
        try:
            return self._objects[rep]
        except KeyError:
            raise LookupError(f"host resource {self.name} has no rep {rep}") from None

    def _take(self, rep: int) -> Any:
        obj = self._get(rep)
        del self._objects[rep]
        return obj

    def _release(self, rep: int) -> None:
        self._objects.pop(rep, None)

    def _guest_dropped(self, args: list[int]) -> list[Any]:
        """The canon destructor (``[rep] -> []``): a guest dropped its own handle."""
        obj = self._take(args[0])
        if self.dtor is not None:
            self.dtor(obj)
        return []


_DTOR_TYPE = FuncType([("rep", U32Type())], [])


class GuestResource:
    """A handle the host holds to a resource a guest implements.

    It stands for ``rep`` of resource type ``type``. An *owned* handle (the
    host received an ``own<R>``) may be passed back as an ``own<R>``
    argument, which moves it (the handle is then spent), lent as a
    ``borrow<R>`` argument (it stays the host's), or dropped with
    :meth:`drop`, which runs the guest's destructor. A *borrowed* handle (a
    host function's ``borrow<R>`` parameter) is valid until that host
    function returns. A handle the host never drops is never destroyed:
    nothing runs guest code from the garbage collector. ``with handle:``
    drops it at the end of the block.
    """

    __slots__ = ("type", "rep", "_state")

    def __init__(self, rt: ResourceType, rep: int, owned: bool) -> None:
        self.type = rt
        self.rep = rep
        self._state = "owned" if owned else "borrowed"

    def __repr__(self) -> str:
        return f"<{self._state} {self.type.name} rep={self.rep}>"

    @property
    def owned(self) -> bool:
        """True while the host owns this handle (not moved, dropped or merely borrowed)."""
        return self._state == "owned"

    @property
    def alive(self) -> bool:
        """True while the handle may still be used."""
        return self._state in ("owned", "borrowed")

    def drop(self) -> None:
        """Give up the handle; for an owned one, run the resource's destructor."""
        self._check_alive("drop")
        owned = self._state == "owned"
        self._state = "dropped"
        if owned:
            _run_destructor(self.type, self.rep)

    def __enter__(self) -> GuestResource:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.alive:
            self.drop()

    def _check_alive(self, what: str) -> None:
        if not self.alive:
            raise ValueError(f"cannot {what} {self.type.name} handle rep={self.rep}: "
                             f"it was {self._state}")


def _run_destructor(rt: ResourceType, rep: int) -> None:
    """Destroy a guest resource the host owned: a sync call of its destructor.

    As the spec's ``resource.drop`` does it, the destructor runs as a call
    into the defining instance (a task of its own, the reentrance rule). On
    the host's stack the event loop runs until it returns; inside a host
    function the call nests on that function's stack.
    """
    impl = rt.impl
    if rt.dtor is None:
        return
    store = impl.store
    func_inst = store.lift(rt.dtor, _DTOR_TYPE, CanonicalOptions(), impl, name=f"{rt.name}.drop")
    if current_thread_or_none() is None:
        store.call(func_inst, [rep])
    else:
        func_inst(lambda: [rep], lambda _result: None, None)
