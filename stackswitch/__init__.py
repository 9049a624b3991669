"""stackswitch: the Component Model's async semantics on real stacks.

The public API, in the conventions of wasmtime-py::

    from stackswitch import Component, Linker

    instance = Linker().instantiate(Component.from_file("examples/add.wat"))
    assert instance["add"](2, 40) == 42

Layers, bottom to top (no module imports from a layer above it):

* ``stacks``, ``scheduler``, ``trace``, ``errors``: continuations on greenlets,
  the choice of the next ready thread, one place to observe everything;
* ``wasm``: core wasm on wasmtime, each call on a wasmtime fiber;
* ``canon``: the Canonical ABI: value types and their layout, runtime state
  (instances, tasks, threads, waitables, streams, futures, resources), the
  canonical built-ins and the :class:`Store` that drives them;
* ``embed``: the host boundary: Python values (``pyvalues``), Python-written
  guests (``guest``), what host functions may block on (``host``);
* ``component``: real components: decoding, linking, instantiation, and the
  :class:`Component`, :class:`Linker`, :class:`Instance` and :class:`Func`
  the host uses;
* ``wasi`` (beside ``component``): a WASI 0.2 and 0.3 host,
  ``Linker.add_wasi``;
* ``text``: text forms of values: WAVE (``stackswitch run``) and the
  ``.wast`` scripts' JSON values;
* ``cli``: the command line (``python -m stackswitch``).

Strategies other than the default ``stackful`` (the ``callback_abi``
package's ``callback``) plug in by name through the
``stackswitch.strategies`` entry point; nothing here imports them.

The names below load on first use (PEP 562), so that ``import
stackswitch.trace``, which many low modules do, stays cheap and cannot close
an import cycle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .version import VERSION as __version__

# The modules defining the public names; __getattr__ loads one when a name is first asked for.
_MODULES: dict[str, tuple[str, ...]] = {
    "stackswitch.component.component": ("Component",),
    "stackswitch.component.linker": ("Linker",),
    "stackswitch.component.instance": ("Instance",),
    "stackswitch.component.func": ("Func", "CallCancelled"),
    "stackswitch.component.decoder": ("DecodeError",),
    "stackswitch.embed.pyvalues": ("Ok", "Err", "Some", "Variant", "HostResource",
                                   "GuestResource", "to_canon", "to_python"),
    "stackswitch.canon.host_streams": ("HostStream", "HostFuture", "StreamReader",
                                       "FutureReader"),
    "stackswitch.embed.host": ("wait_until", "yield_", "sleep", "TaskCancelled"),
    "stackswitch.wasi": ("WasiConfig", "WasiExit"),
    "stackswitch.canon.store": ("Store",),
    "stackswitch.errors": ("Trap", "LinkError", "HostError"),
    "stackswitch.scheduler": ("Deadlock",),
    "stackswitch.limits": ("Limits",),
}
_WHERE = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "CallCancelled", "Component", "Deadlock", "DecodeError", "Err", "Func", "FutureReader",
    "GuestResource", "HostError", "HostFuture", "HostResource", "HostStream", "Instance",
    "Limits", "LinkError", "Linker", "Ok", "Some", "Store", "StreamReader", "TaskCancelled",
    "Trap", "Variant", "WasiConfig", "WasiExit", "__version__", "sleep", "to_canon",
    "to_python", "wait_until", "yield_",
]

if TYPE_CHECKING:
    from .canon.host_streams import FutureReader, HostFuture, HostStream, StreamReader
    from .canon.store import Store
    from .component.component import Component
    from .component.decoder import DecodeError
    from .component.func import CallCancelled, Func
    from .component.instance import Instance
    from .component.linker import Linker
    from .embed.host import TaskCancelled, sleep, wait_until, yield_
    from .embed.pyvalues import (
        Err,
        GuestResource,
        HostResource,
        Ok,
        Some,
        Variant,
        to_canon,
        to_python,
    )
    from .errors import HostError, LinkError, Trap
    from .limits import Limits
    from .scheduler import Deadlock
    from .wasi import WasiConfig, WasiExit


def __getattr__(name: str) -> Any:
    """Import the module defining a public name the first time the name is used."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_WHERE})
