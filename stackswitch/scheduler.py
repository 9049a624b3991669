"""The host scheduler: which waiting thread runs next.

The spec leaves the order in which ready threads resume to the embedder
(``Store.tick`` picks "nondeterministically"). This module is that choice and
nothing else: it keeps the threads that wait, in the order they started
waiting, and picks one that is ready.

Policies:

* ``"fifo"`` (default): the ready thread that has waited longest. Fully
  deterministic: the same program gives the same trace.
* ``"random:SEED"``: a seeded generator picks among the ready threads, and
  also decides the other free choices the spec grants (whether an
  already-satisfied wait yields anyway, which event a waitable set delivers
  first). The same seed gives the same run.

The scheduler knows threads only through a small protocol (``ready()``,
``resume_from_host()``, ``describe_wait()``) so that it sits below the
Canonical ABI and imports nothing from it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from . import trace
from .errors import Trap

T = TypeVar("T")

DEADLOCK_MESSAGE = "wasm trap: deadlock detected: event loop cannot make further progress"


class Schedulable(Protocol):
    """What the scheduler needs from a thread."""

    def ready(self) -> bool: ...

    def resume_from_host(self) -> None: ...

    def describe_wait(self) -> str: ...


class Deadlock(Trap):
    """No waiting thread can become ready, yet the host still waits for a result.

    ``waiting`` lists what each blocked thread waits on.
    """

    def __init__(self, waiting: list[str]) -> None:
        self.waiting = waiting
        lines = "".join(f"\n  {w}" for w in waiting) or "\n  (no thread is waiting)"
        super().__init__(f"{DEADLOCK_MESSAGE}; waiting:{lines}")


class Scheduler:
    """Keeps the waiting threads and picks the next one to resume."""

    def __init__(self, policy: str = "fifo") -> None:
        self.policy = policy
        self.rng: random.Random | None
        if policy == "fifo":
            self.rng = None
        elif policy.startswith("random:"):
            seed = policy.partition(":")[2]
            if not seed.lstrip("-").isdigit():
                raise ValueError(f"scheduler policy {policy!r}: the seed must be an integer")
            self.rng = random.Random(int(seed))
        else:
            raise ValueError(f"unknown scheduler policy {policy!r} (use 'fifo' or 'random:SEED')")
        # A dict is an insertion-ordered set with O(1) removal.
        self._waiting: dict[Schedulable, None] = {}
        self._removed = 0
        self.ticks = 0

    # -- the waiting set -------------------------------------------------

    def add_waiting(self, thread: Schedulable) -> None:
        self._waiting[thread] = None

    def remove_waiting(self, thread: Schedulable) -> None:
        del self._waiting[thread]
        # A dict keeps a hole for each deleted key until it is rebuilt, and
        # the FIFO scan walks the holes too: with 100,000 waiting threads
        # released one by one that made the scan quadratic. Rebuild it (same
        # order) once the holes outnumber the threads.
        self._removed += 1
        if self._removed > 1024 and self._removed > len(self._waiting):
            self._waiting = dict(self._waiting)
            self._removed = 0

    @property
    def waiting(self) -> list[Schedulable]:
        return list(self._waiting)

    # -- choices ---------------------------------------------------------

    def choose(self, candidates: Sequence[T]) -> T:
        """One of ``candidates``: the first under FIFO, a seeded pick otherwise."""
        if self.rng is None or len(candidates) == 1:
            return candidates[0]
        return candidates[self.rng.randrange(len(candidates))]

    def shuffled(self, items: list[T]) -> list[T]:
        """``items`` in the order events should be considered."""
        if self.rng is None:
            return items
        items = list(items)
        self.rng.shuffle(items)
        return items

    def keep_running(self, yielding: bool = False) -> bool:
        """May a thread whose wait is already satisfied skip blocking?

        The spec lets the embedder choose. FIFO keeps running, as wasmtime
        does (a wait on a set with an event pending returns at once), except
        for a yield, which really lets the others run; the random policy flips
        a seeded coin either way.
        """
        if self.rng is None:
            return not yielding
        return self.rng.random() < 0.5

    def next_ready(self) -> Schedulable | None:
        """The thread to resume next, or ``None`` if no waiting thread is ready."""
        if self.rng is None:
            for thread in self._waiting:
                if thread.ready():
                    return thread
            return None
        ready = [t for t in self._waiting if t.ready()]
        return self.choose(ready) if ready else None

    # -- driving -----------------------------------------------------------

    def tick(self) -> bool:
        """Resume one ready thread for one quantum; False if none was ready."""
        thread = self.next_ready()
        if thread is None:
            return False
        self.ticks += 1
        thread.resume_from_host()
        return True

    def run_until(self, done: Callable[[], bool]) -> None:
        """Tick until ``done()``; raise :class:`Deadlock` if nothing can run first."""
        while not done():
            if not self.tick():
                waits = [t.describe_wait() for t in self._waiting]
                trace.emit("scheduler.deadlock", waiting=waits)
                raise Deadlock(waits)

    def run_all(self) -> int:
        """Tick while anything is ready; returns how many quanta ran."""
        n = 0
        while self.tick():
            n += 1
        return n
