"""A core instance's exports, looked up by name when first asked for.

``wasmtime.Instance.exports`` wraps every export up front, one
``wasmtime_instance_export_nth`` call each; a componentize-py guest's core
instances have about 4,500 exports, most never aliased, and those calls
were a third of its start-up once compiling was cached. Here the names
come from the module's type (cheap), and an export is fetched by name the
first time it is used, then kept: every lookup of one name gives the same
Python object, which callers rely on to recognise a function they have seen.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator, Mapping
from typing import Any

import wasmtime
from wasmtime._extern import wrap_extern

from . import capi


class CoreExports(Mapping[str, Any]):
    """The exports of ``instance`` (of ``module``, in ``store``) by name, fetched lazily."""

    def __init__(self, store: wasmtime.Store, module: wasmtime.Module,
                 instance: wasmtime.Instance) -> None:
        self._store = store
        self._instance = instance
        self._names = [e.name for e in module.exports]
        self._known = set(self._names)
        self._fetched: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        found = self._fetched.get(name)
        if found is not None:
            return found
        if name not in self._known:
            raise KeyError(name)
        item = capi.ExternStruct()
        data = name.encode("utf-8")
        if not capi.instance_export_get(capi.address(self._store._context()),
                                        ctypes.addressof(self._instance._instance), data,
                                        len(data), ctypes.addressof(item)):
            raise KeyError(name)
        found = self._fetched[name] = wrap_extern(item)
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._known

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
