"""Canonical ABI options and the context that lifting and lowering run in.

Spec sections "Canonical ABI Options" and "Lifting and Lowering Context".
:class:`LiftLowerContext` is the base the runtime extends: it adds the
``may_leave`` guard around ``realloc`` and implements the two handle hooks,
so that :mod:`.values` never needs to know about handle tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import Trap
from ..limits import DEFAULT, hostcall_fuel_exhausted
from ..wasm.memory import Memory, PtrType

StringEncoding = Literal["utf8", "utf16", "latin1+utf16"]
STRING_ENCODINGS: tuple[StringEncoding, ...] = ("utf8", "utf16", "latin1+utf16")


@dataclass
class CanonicalOptions:
    """The ``canonopt``s of one ``canon lift`` or ``canon lower``.

    ``realloc`` is called as ``realloc(old_ptr, old_size, align, new_size)``
    and returns the new pointer, an unsigned core integer.
    """

    string_encoding: StringEncoding = "utf8"
    memory: Memory | None = None
    realloc: Callable[[int, int, int, int], int] | None = None
    post_return: Callable[..., Any] | None = None
    async_: bool = False
    callback: Callable[..., Any] | None = None

    def __post_init__(self) -> None:
        if self.string_encoding not in STRING_ENCODINGS:
            raise ValueError(f"unknown string encoding {self.string_encoding!r}")

    @property
    def ptr_type(self) -> PtrType:
        """The pointer type of ``memory`` (``'i32'`` when there is none)."""
        return "i32" if self.memory is None else self.memory.ptr_type

    def lift_equal(self, other: CanonicalOptions) -> bool:
        """Whether values lifted under ``self`` and ``other`` read the same way.

        ``task.return`` uses this: its options must lift the results exactly
        as the task's own ``canon lift`` would.
        """
        return self.string_encoding == other.string_encoding and self.memory is other.memory


class LiftLowerContext:
    """What lifting and lowering need besides the value: options, instance, borrow scope.

    ``borrow_scope`` is the task (when lowering) or subtask (when lifting)
    that ``borrow`` handles are tied to; it may be ``None`` when no borrow
    can occur.
    """

    hostcall_fuel: int | None = None
    """Bytes this lift may still take out of guest memory (``Limits.hostcall_fuel``); set
    from the store's limits on first use. A context lives for one call or one copy."""

    def __init__(self, opts: CanonicalOptions, inst: Any = None,
                 borrow_scope: Any = None) -> None:
        self.opts = opts
        self.inst = inst
        self.borrow_scope = borrow_scope

    def consume_fuel(self, n: int) -> None:
        """Charge ``n`` bytes lifted out of the guest; trap once the fuel is gone.

        Lifting copies into host objects, so a guest could name the same memory
        many times over (a list of strings all pointing at one MiB) and make the
        host allocate without bound; this bounds it, as wasmtime does.
        """
        fuel = self.hostcall_fuel
        if fuel is None:
            fuel = self._fuel_limit()
        fuel -= n
        if fuel < 0:
            raise Trap(hostcall_fuel_exhausted(self._fuel_limit()))
        self.hostcall_fuel = fuel

    def _fuel_limit(self) -> int:
        limits = getattr(getattr(self.inst, "store", None), "limits", DEFAULT)
        return int(limits.hostcall_fuel)

    @property
    def memory(self) -> Memory:
        """The ``memory`` canonopt; only types stored in memory ask for it."""
        memory = self.opts.memory
        if memory is None:
            raise TypeError("this value needs linear memory but the canonical options have none")
        return memory

    def reallocate(self, old_ptr: int, old_size: int, align: int, new_size: int) -> int:
        """Call the guest's ``realloc``; the runtime overrides this to add its guards.

        Callers check the returned pointer's alignment and bounds themselves,
        because the trap message depends on what is being stored.
        """
        realloc = self.opts.realloc
        if realloc is None:
            raise TypeError("this value needs realloc but the canonical options have none")
        ptr = self.call_realloc(realloc, old_ptr, old_size, align, new_size)
        bits = 32 if self.memory.ptr_type == "i32" else 64
        if not isinstance(ptr, int) or not 0 <= ptr < (1 << bits):
            raise TypeError(f"realloc returned {ptr!r}, not an unsigned i{bits}")
        return ptr

    def call_realloc(self, realloc: Callable[[int, int, int, int], int], *args: int) -> int:
        """How ``realloc`` is invoked: directly here; in a task of its own at runtime."""
        return realloc(*args)

    def allocate(self, align: int, size: int) -> int:
        """A fresh allocation: ``realloc(0, 0, align, size)``."""
        return self.reallocate(0, 0, align, size)

    def lift_handle(self, t: Any, i: int) -> Any:
        """Take the handle at index ``i`` of the current instance's table.

        Called for own, borrow, stream, future and error-context values;
        the runtime knows the tables and the ownership rules.
        """
        raise TypeError(f"lifting {t!r} needs a runtime context")

    def lower_handle(self, t: Any, v: Any) -> int:
        """Put ``v`` into the current instance's table and return its index."""
        raise TypeError(f"lowering {t!r} needs a runtime context")
