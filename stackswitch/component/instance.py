"""A component instance (or a bundle of exports) as the host sees it: :class:`Instance`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..canon.component_instance import ComponentInstance
from ..errors import LinkError
from .func import Func


@dataclass(eq=False)
class Instance:
    """A component instance (or a bundle of exports) as the host sees it.

    Its exports read like a read-only mapping by export name:
    ``instance["add"]`` (``KeyError`` if missing), ``instance.get("add")``
    (``None`` if missing), ``"add" in instance``, iteration over the names.
    An export is a :class:`Func`, a nested :class:`Instance`, or a type
    (e.g. a resource type) the linker can pass on.
    """

    name: str
    exports: dict[str, Any]
    canon: ComponentInstance | None = None

    def func(self, name: str) -> Func:
        """The function exported as ``name``; LinkError if there is none (or not a function)."""
        item = self.exports.get(name)
        if not isinstance(item, Func):
            what = "no export" if item is None else f"a {type(item).__name__} export, not a function,"
            raise LinkError(f"instance {self.name!r} has {what} named {name!r} "
                            f"({self._listing()})")
        return item

    def get(self, name: str, default: Any = None) -> Any:
        """The export ``name``, or ``default`` (None) when there is none."""
        return self.exports.get(name, default)

    def __getitem__(self, name: str) -> Any:
        try:
            return self.exports[name]
        except KeyError:
            raise KeyError(f"instance {self.name!r} has no export named {name!r} "
                           f"({self._listing()})") from None

    def __contains__(self, name: object) -> bool:
        return name in self.exports

    def __iter__(self) -> Iterator[str]:
        return iter(self.exports)

    def _listing(self) -> str:
        return f"exports: {', '.join(self.exports) or 'none'}"
