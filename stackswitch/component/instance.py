"""A component instance (or a bundle of exports) as the host sees it: :class:`Instance`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..canon.component_instance import ComponentInstance
from ..errors import LinkError
from .func import Func


@dataclass(eq=False)
class Instance:
    """A component instance (or a bundle of exports) as the host sees it."""

    name: str
    exports: dict[str, Any]
    canon: ComponentInstance | None = None

    def func(self, name: str) -> Func:
        item = self.exports.get(name)
        if not isinstance(item, Func):
            what = "no export" if item is None else f"a {type(item).__name__} export, not a function,"
            raise LinkError(f"instance {self.name!r} has {what} named {name!r} "
                            f"(exports: {', '.join(self.exports) or 'none'})")
        return item

