"""One place to observe everything the runtime does.

Every stack switch (from :mod:`stackswitch.stacks`) and every state change of
the runtime above it (tasks starting, blocking, resuming, resolving; copies on
streams and futures; traps) is reported through :func:`emit`. Nothing is
recorded unless somebody subscribed, so the cost when nobody watches is one
truth test of a list.

An event is a kind (a short dotted name such as ``"stack.resume"``,
``"thread.block"``, ``"task.return"`` or ``"trap"``) plus keyword fields. Observers must not raise and must not
switch stacks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """A single observation: ``kind`` plus the fields given to :func:`emit`."""

    kind: str
    fields: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        detail = " ".join(f"{k}={v}" for k, v in self.fields.items())
        return f"{self.kind} {detail}".rstrip()


Observer = Callable[[Event], None]

counts: dict[str, int] = dict.fromkeys(
    ("events", "switches", "suspensions", "parks", "unwinds", "rewinds"), 0)
"""Running totals that only ever grow, kept even when nobody subscribed (a dict
increment is cheaper than an event): ``events`` delivered to guests (by a callback
or by ``waitable-set.wait``/``poll``), greenlet ``switches`` (resumes plus
suspends), fiber ``suspensions`` (a fiber suspended in a blocking import),
``parks`` (a wasm call parked on its fiber by a stackless task), and asyncify
``unwinds`` / ``rewinds``. Read them with :func:`counters`."""


def counters() -> dict[str, int]:
    """A snapshot of :data:`counts`; subtract two snapshots to measure a stretch of work."""
    return dict(counts)

_observers: list[Observer] = []

listening: list[Observer] = _observers
"""The subscribers, for hot paths: ``if trace.listening:`` is the cheapest test that
somebody listens (one attribute read, no call); the same list :func:`enabled` tests.
Read it, never rebind or change it (use :func:`subscribe`)."""


def subscribe(observer: Observer) -> Callable[[], None]:
    """Call ``observer`` for every event from now on; returns an unsubscribe function."""
    _observers.append(observer)

    def unsubscribe() -> None:
        if observer in _observers:
            _observers.remove(observer)

    return unsubscribe


def enabled() -> bool:
    """True when somebody listens: lets callers skip building costly fields."""
    return bool(_observers)


def emit(kind: str, **fields: Any) -> None:
    """Report one event to every observer (no-op when nobody listens)."""
    if _observers:
        event = Event(kind, fields)
        for observer in list(_observers):
            observer(event)


class Recorder:
    """Collects events in a list while active; a context manager for tests and tools."""

    def __init__(self, kinds: tuple[str, ...] | None = None) -> None:
        self.kinds = kinds
        self.events: list[Event] = []
        self._unsubscribe: Callable[[], None] | None = None

    def __call__(self, event: Event) -> None:
        if self.kinds is None or event.kind.startswith(self.kinds):
            self.events.append(event)

    def __enter__(self) -> Recorder:
        self._unsubscribe = subscribe(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def of(self, kind: str) -> list[Event]:
        """The recorded events of exactly this kind."""
        return [e for e in self.events if e.kind == kind]
