"""One WASI host per guest: which implementation answers each ``wasi:`` import name.

An import ``wasi:PKG/IFACE@VERSION`` is served by the 0.2 implementation
(:mod:`.preview2`) for any 0.2.x version, and by the 0.3 one
(:mod:`.preview3`) for 0.3.x; the component's own declaration types every
function, so one implementation serves every patch version. A function (or a
whole interface, such as ``wasi:sockets``) this host does not implement still
links, and traps when called with a message naming it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ..embed.pyvalues import HostResource
from ..errors import Trap
from ..event_loop import loop_of
from .preview2 import Preview2
from .preview3 import Preview3
from .wasi_config import WasiConfig


class Unimplemented(HostResource):
    """Stands for an export of a WASI interface this host lacks: called, it traps naming it;
    as a resource type, it is a fresh type no function of ours makes."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.qualified = name

    def __call__(self, *args: Any) -> Any:
        raise Trap(f"wasm trap: {self.qualified} is not implemented by stackswitch's WASI host "
                   "(docs/wasi.md lists what is)")


class Interface(Mapping[str, Any]):
    """One WASI interface's exports; any name it lacks is :class:`Unimplemented`."""

    def __init__(self, name: str, known: Mapping[str, Any]) -> None:
        self.name = name
        self.known = known

    def __getitem__(self, key: str) -> Any:
        found = self.known.get(key)
        return found if found is not None else Unimplemented(f"{self.name}#{key}")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str)

    def __iter__(self) -> Iterator[str]:
        return iter(self.known)

    def __len__(self) -> int:
        return len(self.known)


def split_name(name: str) -> tuple[str, str] | None:
    """``wasi:io/streams@0.2.12`` as (``wasi:io/streams``, ``0.2.12``); None if not WASI."""
    if not name.startswith("wasi:") or "/" not in name:
        return None
    interface, _, version = name.partition("@")
    return interface, version


class WasiHost:
    """The WASI imports of the guests of one store, with the capabilities ``config`` grants."""

    def __init__(self, config: WasiConfig, store: Any) -> None:
        self.config = config
        self.store = store
        self.loop = loop_of(store.scheduler)
        self.preview2 = Preview2(config, self.loop)
        self.preview3 = Preview3(config, self.loop, store)

    def provide(self, name: str) -> Interface | None:
        """The definition of import ``name``, or None if it is not a WASI interface."""
        parts = split_name(name)
        if parts is None:
            return None
        interface, version = parts
        if version.startswith("0.3"):
            known = self.preview3.interface(interface)
        else:
            known = self.preview2.interface(interface)
        return Interface(name, known or {})

    def definitions(self, names: Iterable[str]) -> dict[str, Any]:
        """The definitions of every WASI import among ``names``."""
        found = {}
        for name in names:
            item = self.provide(name)
            if item is not None:
                found[name] = item
        return found
