"""The host scheduler: which waiting thread runs next, and every other free choice.

The spec defines a nondeterministic machine: its reference code makes its
choices with ``random``, and any outcome some sequence of those choices
produces is a valid run. Every such choice is made here, through one
method, :meth:`Scheduler.decide`, named by a :class:`ChoicePoint`; a
:class:`Policy` makes the decisions:

* ``"fifo"`` (default, :class:`Fifo`): option 0 every time: the ready thread
  that has waited longest, the first pending event in join order, keep
  running when a wait is already satisfied (block when the point is to
  yield), keep an error-context's message. Fully deterministic.
* ``"random:SEED"`` (:class:`Seeded`): a seeded pick at every choice point.
  The same seed gives the same run.
* ``"replay:TOKEN"`` (:class:`Replay`): the decisions a token lists (see
  :func:`encode_choices`), FIFO's beyond its end. ``stackswitch explore``
  prints such tokens; ``--replay TOKEN`` reruns that schedule exactly.

Options are numbered so that 0 is always FIFO's choice: a token of zeros
is the FIFO run, and a short token means a schedule close to FIFO. A choice
point with a single option is no choice and costs nothing: the policy is
not asked and nothing is recorded.

The scheduler knows threads only through a small protocol (``ready()``,
``resume_from_host()``, ``describe_wait()``) so that it sits below the
Canonical ABI and imports nothing from it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from . import trace
from .errors import Trap

T = TypeVar("T")

DEADLOCK_MESSAGE = "wasm trap: deadlock detected: event loop cannot make further progress"


class ChoicePoint(StrEnum):
    """The places where the spec lets an implementation choose (``definitions.py`` names).

    Each value is the name a recorded decision carries.
    """

    NEXT_THREAD = "next-thread"
    """``Store.tick``: which ready thread runs next (``random.choice`` over the
    ready threads). Also where a sync call waiting for its callee lets another
    ready thread of its instance run (``Thread.wait_until`` under a sync call)."""

    KEEP_RUNNING = "keep-running"
    """``Thread.wait_until``: a thread whose condition already holds may keep
    running or block anyway (``random.randint(0, 1)`` unless
    ``DETERMINISTIC_PROFILE``). Option 0 keeps running, except for a yield,
    whose point is to let others run: there option 0 blocks."""

    EVENT = "event"
    """``WaitableSet.get_pending_event``: which member with a pending event
    delivers it (the spec shuffles the members)."""

    CANCEL_THREAD = "cancel-thread"
    """``Task.request_cancellation``: which cancellable thread of the task the
    cancellation resumes (``random.choice``)."""

    ERROR_CONTEXT_MESSAGE = "error-context-message"
    """``canon error-context.new``: the host may keep the debug message or
    drop it (the reference keeps it at random unless deterministic). Option 0
    keeps it."""


class Policy:
    """Makes the decisions. Subclasses override :meth:`pick`."""

    spec = "fifo"
    """The string that names this policy (``--policy``)."""

    def pick(self, point: ChoicePoint, n: int) -> int:
        """An option in ``range(n)`` (``n >= 2``) at ``point``; 0 is FIFO's choice."""
        return 0

    def __repr__(self) -> str:
        return f"<policy {self.spec}>"


class Fifo(Policy):
    """Option 0 at every choice point."""


class Seeded(Policy):
    """A seeded pick at every choice point."""

    def __init__(self, seed: int) -> None:
        self.spec = f"random:{seed}"
        self.rng = random.Random(seed)

    def pick(self, point: ChoicePoint, n: int) -> int:
        if n == 2:
            return 1 if self.rng.random() < 0.5 else 0
        return self.rng.randrange(n)


class Replay(Policy):
    """The listed decisions, in order, then option 0; an option out of range is 0 too.

    A schedule replays exactly while the program makes the same choices; a
    token from another program (or a changed one) still gives a valid run.
    """

    def __init__(self, choices: Sequence[int]) -> None:
        self.choices = list(choices)
        self.spec = f"replay:{encode_choices(self.choices)}"
        self._next = 0

    def pick(self, point: ChoicePoint, n: int) -> int:
        i = self._next
        self._next += 1
        if i < len(self.choices) and 0 <= self.choices[i] < n:
            return self.choices[i]
        return 0


def encode_choices(choices: Sequence[int]) -> str:
    """A replay token: the decisions in base 36, ``.``-separated, trailing zeros dropped,
    and a run of k zeros written ``_k``. The empty token is the FIFO run."""
    trimmed = list(choices)
    while trimmed and trimmed[-1] == 0:
        trimmed.pop()
    parts: list[str] = []
    zeros = 0
    for c in trimmed:
        if c == 0:
            zeros += 1
            continue
        if zeros:
            parts.append("0" if zeros == 1 else f"_{zeros}")
            zeros = 0
        parts.append(_base36(c))
    return ".".join(parts) or "-"


def decode_choices(token: str) -> list[int]:
    """The decisions a token from :func:`encode_choices` lists; ValueError if malformed."""
    if token in ("", "-"):
        return []
    choices: list[int] = []
    for part in token.split("."):
        try:
            if part.startswith("_"):
                choices.extend([0] * int(part[1:]))
            else:
                choices.append(int(part, 36))
        except ValueError:
            raise ValueError(f"malformed replay token {token!r} (at {part!r})") from None
    return choices


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if n == 0:
            return out


def policy_named(spec: str | Policy) -> Policy:
    """The policy ``spec`` names: ``fifo``, ``random:SEED`` or ``replay:TOKEN``."""
    if isinstance(spec, Policy):
        return spec
    kind, _, arg = spec.partition(":")
    if spec == "fifo":
        return Fifo()
    if kind == "random":
        if not arg.lstrip("-").isdigit():
            raise ValueError(f"scheduler policy {spec!r}: the seed must be an integer")
        return Seeded(int(arg))
    if kind == "replay":
        return Replay(decode_choices(arg))
    raise ValueError(f"unknown scheduler policy {spec!r} "
                     "(use 'fifo', 'random:SEED' or 'replay:TOKEN')")


@dataclass(frozen=True)
class Decision:
    """One decision made: where, among how many options, which."""

    point: ChoicePoint
    options: int
    chosen: int


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

    def __init__(self, policy: str | Policy = "fifo", *, record: bool = False) -> None:
        """``record`` keeps every decision in :attr:`decisions` (the explorer reads them)."""
        self.policy = policy_named(policy)
        self.fifo = isinstance(self.policy, Fifo)
        self.decisions: list[Decision] | None = [] if record else None
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

    def decide(self, point: ChoicePoint, n: int) -> int:
        """The option (``0 <= i < n``, 0 being FIFO's) taken at ``point``; the one place
        where the runtime makes a choice the spec leaves open."""
        if n <= 1:
            return 0
        chosen = 0 if self.fifo else self.policy.pick(point, n)
        if self.decisions is not None:
            self.decisions.append(Decision(point, n, chosen))
        return chosen

    def choose(self, candidates: Sequence[T], point: ChoicePoint = ChoicePoint.NEXT_THREAD) -> T:
        """One of ``candidates``, listed in FIFO's order of preference."""
        return candidates[self.decide(point, len(candidates))]

    def keep_running(self, yielding: bool = False) -> bool:
        """May a thread whose wait is already satisfied skip blocking?

        The spec lets the embedder choose. FIFO keeps running, as wasmtime
        does (a wait on a set with an event pending returns at once), except
        for a yield, which really lets the others run.
        """
        blocks = self.decide(ChoicePoint.KEEP_RUNNING, 2) == 1
        return blocks if yielding else not blocks

    def next_ready(self) -> Schedulable | None:
        """The thread to resume next, or ``None`` if no waiting thread is ready."""
        if self.fifo and self.decisions is None:
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
