"""The test host wasmtime's ``.wast`` runner supplies, so its own component-model tests run.

wasmtime's runner (its ``wast`` crate, ``link_component_spectest`` and
``register_wasmtime``) defines, for every script:

* at the root: ``host-echo-u32`` (returns its argument; a concurrent host function) and
  ``host-return-two`` (returns 2);
* an instance ``host``: ``return-three``, a nested instance ``nested`` with
  ``return-four``, ``return-hi`` (a string), the resource types ``resource1`` (whose
  constructor takes a ``u32`` "rep" the host keeps; its destructor counts drops and
  remembers the last rep), ``resource1-again`` (the same type) and ``resource2``, the
  ``resource1`` functions ``assert``, ``last-drop``, ``drops``, ``simple``,
  ``take-borrow``, ``take-own`` (which check the reps and ownership they receive),
  the concurrent functions ``never-return`` (never resolves), ``return-two-slowly``
  and ``echo-slowly`` (yield once first) and ``[method]resource1.never-return``, and a
  core module ``simple-module`` (exporting a global ``g`` = 100 and ``f`` returning 101);
* an instance ``wasmtime``: ``set-max-table-capacity`` and ``gc``.

What each function does is the behaviour those tests rely on, written here from that
description; the names and types are wasmtime's. Not provided: the table capacity wasmtime
sets (``set-max-table-capacity`` records it and changes nothing: our handle tables have no
such knob; docs/conformance.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import wasmtime

from ..embed.host import wait_until, yield_
from ..embed.pyvalues import HostResource


class HostAssertion(Exception):
    """What the host was given is not what the test said it would be (wasmtime panics)."""


@dataclass(eq=False)
class Resource1:
    """A ``resource1``: the rep the guest chose when it constructed it."""

    rep: int


@dataclass
class WasmtimeHost:
    """The definitions for one script's linker, and the state the resource functions share."""

    drops: int = 0
    last_drop: int = 0
    max_table_capacity: int | None = None
    resource1: HostResource = field(init=False)

    def __post_init__(self) -> None:
        self.resource1 = HostResource(Resource1, dtor=self._dropped)

    def _dropped(self, r: Resource1) -> None:
        self.drops += 1
        self.last_drop = r.rep

    def definitions(self) -> dict[str, Any]:
        """Import name -> what ``Linker.define`` takes (callables, dicts, resources)."""
        return {
            "host-echo-u32": _echo,
            "host-return-two": lambda: 2,
            "host": self._host(),
            "wasmtime": {
                "set-max-table-capacity": self._set_max_table_capacity,
                "gc": lambda: None,
            },
        }

    def _host(self) -> dict[str, Any]:
        return {
            "simple-module": wasmtime.wat2wasm(SIMPLE_MODULE),
            "return-three": lambda: 3,
            "nested": {"return-four": lambda: 4},
            "return-hi": lambda: "hi",
            "resource1": self.resource1,
            "resource1-again": self.resource1,
            "resource2": HostResource("resource2"),
            "[constructor]resource1": Resource1,
            "[static]resource1.assert": _assert_rep,
            "[static]resource1.last-drop": lambda: self.last_drop,
            "[static]resource1.drops": lambda: self.drops,
            "[method]resource1.simple": _assert_rep,
            "[method]resource1.take-borrow": lambda a, b: None,
            "[method]resource1.take-own": lambda a, b: None,
            "never-return": _never_return,
            "return-two-slowly": _return_two_slowly,
            "echo-slowly": _echo_slowly,
            "[method]resource1.never-return": lambda r: _never_return(),
        }

    def _set_max_table_capacity(self, capacity: int) -> None:
        self.max_table_capacity = capacity


SIMPLE_MODULE = """(module
  (global (export "g") i32 (i32.const 100))
  (func (export "f") (result i32) (i32.const 101)))"""


def _echo(v: int) -> int:
    return v


def _assert_rep(r: Resource1, rep: int) -> None:
    if r.rep != rep:
        raise HostAssertion(f"resource1 has rep {r.rep}, the guest said {rep}")


def _never_return() -> None:
    wait_until(lambda: False, why="never-return (it never returns)")


def _return_two_slowly() -> int:
    yield_()
    return 2


def _echo_slowly(v: int) -> int:
    yield_()
    return v
