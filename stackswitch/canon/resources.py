"""Resources (spec: "Resource State").

A :class:`ResourceType` is a runtime type created per instance of the
component that defines it, so types compare by identity. A
:class:`ResourceHandle` sits in an instance's handle table: ``own`` handles
carry the duty to destroy, ``borrow`` handles are scoped to the task they were
lent to, and ``num_lends`` counts live borrows lent out of an own handle (it
must be zero before the owner may drop or transfer it).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .component_instance import ComponentInstance
    from .tasks import Task


class ResourceType:
    """A resource type: ``impl`` is the instance that defined it (``None``: the host).

    ``dtor`` is its destructor as a core function (``[rep] -> []``), or None.
    """

    def __init__(self, impl: ComponentInstance | None, dtor: Callable[[int], Any] | None = None,
                 name: str = "resource") -> None:
        self.impl = impl
        self.dtor = dtor
        self.name = name

    def __repr__(self) -> str:
        return f"<ResourceType {self.name}>"


class ResourceHandle:
    """One own or borrow handle in a handle table."""

    __slots__ = ("rt", "rep", "own", "borrow_scope", "num_lends")

    def __init__(self, rt: ResourceType, rep: int, own: bool, borrow_scope: Task | None = None) -> None:
        self.rt = rt
        self.rep = rep
        self.own = own
        self.borrow_scope = borrow_scope
        self.num_lends = 0

    def __repr__(self) -> str:
        kind = "own" if self.own else "borrow"
        return f"<{kind} {self.rt.name} rep={self.rep}>"
