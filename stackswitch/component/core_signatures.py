"""Checking, at instantiation, that each core function given to a canon definition has
the core type the definition implies (CanonicalABI.md, "canon lift" and "Canonical
Options"): the lifted function (``flatten_functype``), ``realloc``, ``post-return``,
``callback`` and a resource's destructor. ``wasm-tools validate`` rejects a component that
breaks one of these rules; a component given to us without validation gets a
:class:`~stackswitch.errors.LinkError` naming both types rather than a failure at call time.

The core imports a ``canon lower`` or a built-in satisfies are checked where a core
instance is made (:func:`check_import`), so that their mismatch reads the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import wasmtime

from ..errors import LinkError
from ..wasm.core_values import type_name
from .corefuncs import core_signature

Signature = tuple[tuple[str, ...], tuple[str, ...]]
"""``(params, results)`` as core type names (``i32``, ``i64``, ``f32``, ``f64``...)."""


def signature(params: Sequence[str], results: Sequence[str]) -> Signature:
    return tuple(params), tuple(results)


def show(sig: Signature) -> str:
    """A core function type in the text format: ``(func (param i32 i32) (result i32))``."""
    params, results = sig
    text = "(func"
    if params:
        text += " (param " + " ".join(params) + ")"
    if results:
        text += " (result " + " ".join(results) + ")"
    return text + ")"


def check(what: str, item: Any, store: wasmtime.Store, expected: Signature) -> None:
    """Raise :class:`LinkError` unless core function ``item`` has type ``expected``.

    ``what`` says which use of it this is (``"canon lift of f"``, ``"option realloc of ..."``)."""
    given = _signature_of(item, store)
    if given != expected:
        raise LinkError(f"{what}: the core function given has type {show(given)}, "
                        f"expected {show(expected)}")


def realloc_type(ptr: str) -> Signature:
    """``(func (param ptr ptr i32 ptr) (result ptr))``: old pointer, old size, alignment,
    new size."""
    return signature([ptr, ptr, "i32", ptr], [ptr])


CALLBACK_TYPE: Signature = (("i32", "i32", "i32"), ("i32",))
"""``(event code, index, payload) -> callback code``."""


def dtor_type(rep: str = "i32") -> Signature:
    """A resource destructor takes the representation and returns nothing."""
    return signature([rep], [])


def check_import(what: str, import_type: Any, given: Signature) -> None:
    """A core module's function import (``import_type``, wasmtime's) against the
    signature of what a canon definition provides for it."""
    if not isinstance(import_type, wasmtime.FuncType):
        raise LinkError(f"{what}: a function is given for an import of another kind "
                        f"({import_type})")
    expected = signature(map(type_name, import_type.params), map(type_name, import_type.results))
    if given != expected:
        raise LinkError(f"{what}: the import has type {show(expected)}, "
                        f"but the core function given has type {show(given)}")


def _signature_of(item: Any, store: wasmtime.Store) -> Signature:
    try:
        params, results = core_signature(item, store)
    except (AttributeError, TypeError):
        raise LinkError(f"not a core function: {item!r}") from None
    return signature(params, results)
