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

:class:`Recorder` wraps any policy and keeps every decision it made (the
explorer reads them); a policy object may serve several stores in turn.

Options are numbered so that 0 is always FIFO's choice: a token of zeros
is the FIFO run, and a short token means a schedule close to FIFO. A choice
point with a single option is no choice and costs nothing: the policy is
not asked and nothing is recorded.

The scheduler knows threads only through a small protocol (``ready()``,
``resume_from_host()``, ``describe_wait()``) so that it sits below the
Canonical ABI and imports nothing from it.

**The ready queue.** A waiting thread is not asked ``ready()`` on every
tick. It waits on :class:`WaitKey` objects: the things its condition reads
(a waitable set, an instance's entry state, a subtask ...). Whoever changes
such state calls :meth:`WaitKey.touch`, which makes every thread waiting on
that key a *candidate*; a tick asks only the candidates, and a candidate
found not ready stops being one until one of its keys is touched again. A
thread whose condition is an arbitrary predicate (no keys given) is
*polled*: it is a candidate on every tick. A wait may also give a function
that says which keys to watch *given the state now* (a condition "A and B"
need only watch B's key while A holds); it is asked again each time the
thread is found not ready. The invariant that makes this exact: **a
waiting thread that is not a candidate is not ready, and stays so until
one of its keys is touched.** So the ready threads are exactly the
candidates whose ``ready()`` holds, and ``ready()`` stays the final word:
FIFO picks the ready candidate that has waited longest, the other policies
choose among all the ready candidates, listed in that order.

**Hand-offs.** Inside :meth:`Scheduler.run_until`, the thread the loop
resumed may, as it blocks, take the loop's next decision itself
(:meth:`Scheduler.successor`) and hand its quantum straight to the thread
chosen, which saves a pass through the loop's stack. The decision is the
one the loop would make at that point, so the runs, the choices offered to
the policy and the decisions recorded are the same (``Scheduler.hand_offs``
turns it off; the tests compare both).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from heapq import heappop, heappush
from typing import Protocol, TypeVar

from . import trace
from .errors import Trap

T = TypeVar("T")

DEADLOCK_MESSAGE = "wasm trap: deadlock detected: event loop cannot make further progress"
IO_POLL_TICKS = 64
"""While threads keep being ready, host I/O and timers are served every this many ticks."""


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

    PUMP_COUNT = "pump-count"
    """An extension (``--features splice,skip,forward``, ``canon/extensions/``):
    how many values a splice, skip or forward moves in one transfer, from 1
    to as many as both ends offer. Option 0 moves them all (a copy's own
    rule); the others model an engine that moves them in smaller pieces."""


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


class Recorder(Policy):
    """``policy``'s decisions, each recorded in :attr:`decisions`, in order."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.spec = policy.spec
        self.decisions: list[Decision] = []

    def pick(self, point: ChoicePoint, n: int) -> int:
        chosen = self.policy.pick(point, n)
        self.decisions.append(Decision(point, n, chosen))
        return chosen


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


def trimmed(choices: Sequence[int]) -> tuple[int, ...]:
    """``choices`` without its trailing zeros (which FIFO would choose anyway)."""
    end = len(choices)
    while end and choices[end - 1] == 0:
        end -= 1
    return tuple(choices[:end])


def encode_choices(choices: Sequence[int]) -> str:
    """A replay token: the decisions in base 36, ``.``-separated, trailing zeros dropped,
    and a run of k zeros written ``_k``. The empty token is the FIFO run."""
    parts: list[str] = []
    zeros = 0
    for c in trimmed(choices):
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


class WaitKey:
    """Something a waiting thread's condition depends on; see the module docs.

    Contract: whoever changes state that may turn a condition waiting on this
    key from false to true calls :meth:`touch` afterwards (changes that can
    only make conditions false need not). A class whose instances are such
    state (a waitable, a waitable set) may inherit from ``WaitKey``; others
    hold one (an instance's ``enter_key``).
    """

    def __init__(self) -> None:
        # An instance attribute, not a class-level default: the compiled build
        # (scheduler.pxd) makes it a C field, which a class attribute of the same
        # name would clash with. A subclass's __init__ sets it too (or calls this one).
        self._watchers: dict[Schedulable, Scheduler] | None = None
        """The threads waiting on this key, each with its scheduler (None until the first)."""

    def touch(self) -> None:
        """Something the waiting threads' conditions read changed: have them checked again."""
        watchers = self._watchers
        if watchers:
            for thread, scheduler in watchers.items():
                # scheduler.wake(thread), inline (hot: every new event)
                candidates = scheduler._candidates
                if thread not in candidates:
                    seq = scheduler._waiting[thread][0]
                    candidates[thread] = seq
                    heappush(scheduler._heap, (seq, thread))


class Deadlock(Trap):
    """No waiting thread can become ready, yet the host still waits for a result.

    ``waiting`` lists what each blocked thread waits on.
    """

    def __init__(self, waiting: list[str]) -> None:
        self.waiting = waiting
        lines = "".join(f"\n  {w}" for w in waiting) or "\n  (no thread is waiting)"
        super().__init__(f"{DEADLOCK_MESSAGE}; waiting:{lines}")


WaitKeys = tuple[WaitKey, ...]
KeySource = WaitKeys | Callable[[], WaitKeys] | None
"""What a wait watches: its keys; a function giving the keys to watch from the
state now (asked when it starts waiting and whenever it is found not ready);
or None: poll it."""


class Scheduler:
    """Keeps the waiting threads and picks the next one to resume.

    Invariants (see the module docs):

    * ``_waiting`` holds every waiting thread, in the order it started
      waiting (its *wait number*, ``seq``, increases in that order);
    * a waiting thread whose ``ready()`` may hold is in ``_candidates``
      (with its wait number): it was touched, is polled, or just started
      waiting, and has not been found not ready since;
    * every candidate has an entry ``(seq, thread)`` in ``_heap`` (a min-heap
      on ``seq``); entries whose thread is no longer a candidate with that
      number are stale and are dropped when they reach the top;
    * each waiting thread is in the ``_watchers`` of exactly the keys
      ``_waiting`` lists for it (none if it is polled, then it is in
      ``_polled``); ``_rekey`` holds the key functions of the waits that gave one.
    """

    hand_offs = True
    """Whether a blocking thread may hand the quantum straight to the next one
    (:meth:`successor`); the runs are the same either way (tests compare them)."""

    def __init__(self, policy: str | Policy = "fifo") -> None:
        self.policy = policy_named(policy)
        self.fifo = isinstance(self.policy, Fifo)
        # A dict is an insertion-ordered set with O(1) removal.
        self._waiting: dict[Schedulable, tuple[int, WaitKeys | None]] = {}
        self._removed = 0
        self._seq = 0
        self._candidates: dict[Schedulable, int] = {}
        self._heap: list[tuple[int, Schedulable]] = []
        self._polled: dict[Schedulable, int] = {}
        self._rekey: dict[Schedulable, Callable[[], WaitKeys]] = {}
        self.idle: Callable[[int | None], bool] | None = None
        """Called by :meth:`run_until` with ``None`` when no thread is ready: block until host
        I/O or a timer may have made one ready; False when nothing external is pending (then
        it is a deadlock). Also called with ``0`` every :data:`IO_POLL_TICKS` ticks while
        threads are ready, so that due timers and ready descriptors are served even when
        the threads never all block (a thread yielding until a sleep ends). The host's event
        loop installs itself here (``event_loop.loop_of``)."""
        self.ticks = 0
        self._done: Callable[[], bool] | None = None
        """:meth:`run_until`'s ``done`` while its loop runs."""
        self.handoff_from: Schedulable | None = None
        """The thread :meth:`run_until`'s loop resumed and that holds the quantum at its top
        (no other thread switched to within it): when it blocks, it may hand the quantum
        straight to the next thread (:meth:`successor`) instead of going back to the loop."""
        self.host_thread: Schedulable | None = None
        """The thread holding the quantum entered from the host (the loop's, or the last
        hand-off's): the threads' business, kept here for them."""
        self._error: BaseException | None = None
        """What :meth:`successor` caught from ``done()`` or a thread's ``ready()``: the
        loop raises it as the thread returns, where its own choice would have raised it
        (the blocking thread must not receive another's error)."""
        self._decided: Schedulable | None | object = _UNDECIDED
        """The loop's next thread, already chosen by :meth:`successor` but not handed off to."""
        self.checks = 0
        """How many times the scheduler asked a thread ``ready()`` (tests watch it)."""

    # -- the waiting set -------------------------------------------------

    def add_waiting(self, thread: Schedulable, keys: KeySource = None) -> None:
        """``thread`` waits until its ``ready()`` holds.

        ``keys``: every :class:`WaitKey` whose :meth:`~WaitKey.touch` may
        make it ready; ``()`` for a condition that never changes (a yield);
        a function returning such keys for the state at the time it is
        called (when the condition is false, the condition must stay false
        until one of them is touched); ``None`` for an arbitrary predicate,
        which is then asked on every tick. The thread starts as a candidate
        in every case.
        """
        seq = self._seq
        self._seq = seq + 1
        if keys is not None and type(keys) is not tuple:
            self._rekey[thread] = keys
            keys = keys()
        if keys:
            for key in keys:  # self._watch(thread, keys), inline (hot: every wait)
                watchers = key._watchers
                if watchers is None:
                    key._watchers = {thread: self}
                else:
                    watchers[thread] = self
        elif keys is None:
            self._polled[thread] = seq
        self._waiting[thread] = (seq, keys)
        self._candidates[thread] = seq
        heappush(self._heap, (seq, thread))

    def remove_waiting(self, thread: Schedulable) -> None:
        """``thread`` no longer waits (it is being resumed)."""
        waiting = self._waiting
        keys = waiting[thread][1]
        del waiting[thread]
        if keys:
            for key in keys:  # self._unwatch(thread, keys), inline (hot: every resume)
                del key._watchers[thread]  # type: ignore[index]
        elif keys is None:
            del self._polled[thread]
        candidates = self._candidates
        if thread in candidates:
            del candidates[thread]
        if self._rekey:
            self._rekey.pop(thread, None)
        # A dict keeps a hole for each deleted key until it is rebuilt, and
        # iterating it walks the holes too: with 100,000 waiting threads
        # released one by one that made listing them quadratic. Rebuild it
        # (same order) once the holes outnumber the threads.
        self._removed += 1
        if self._removed > 1024 and self._removed > len(self._waiting):
            self._waiting = dict(self._waiting)
            self._removed = 0

    def wake(self, thread: Schedulable) -> None:
        """A key ``thread`` waits on was touched: make it a candidate (no-op if it is one)."""
        if thread not in self._candidates:
            seq = self._waiting[thread][0]
            self._candidates[thread] = seq
            heappush(self._heap, (seq, thread))

    def _found_not_ready(self, thread: Schedulable) -> None:
        """``thread`` was asked and is not ready: no longer a candidate (its entry in
        ``_heap`` goes stale); a wait with a key function watches what it says now."""
        del self._candidates[thread]
        source = self._rekey.get(thread) if self._rekey else None
        if source is None:
            return
        seq, old = self._waiting[thread]
        new = source()
        if new != old:
            self._unwatch(thread, old)  # type: ignore[arg-type]
            self._watch(thread, new)
            self._waiting[thread] = (seq, new)

    def _watch(self, thread: Schedulable, keys: WaitKeys) -> None:
        for key in keys:
            watchers = key._watchers
            if watchers is None:
                key._watchers = {thread: self}
            else:
                watchers[thread] = self

    def _unwatch(self, thread: Schedulable, keys: WaitKeys) -> None:
        for key in keys:
            del key._watchers[thread]  # type: ignore[index]

    @property
    def waiting(self) -> list[Schedulable]:
        """Every waiting thread, longest waiting first."""
        return list(self._waiting)

    def _poll(self) -> None:
        """Make every polled thread a candidate again."""
        candidates = self._candidates
        for thread, seq in self._polled.items():
            if thread not in candidates:
                candidates[thread] = seq
                heappush(self._heap, (seq, thread))

    def ready_threads(self) -> list[Schedulable]:
        """Every waiting thread whose ``ready()`` holds, longest waiting first.

        Only candidates are asked (the others are known not to be ready);
        those found not ready stop being candidates.
        """
        self._poll()
        candidates = self._candidates
        ready = []
        for thread, _ in sorted(candidates.items(), key=_wait_number):
            self.checks += 1
            if thread.ready():
                ready.append(thread)
            else:
                self._found_not_ready(thread)
        # The candidates left are the ready ones, sorted: already a heap.
        self._heap = [(candidates[t], t) for t in ready]
        return ready

    # -- choices ---------------------------------------------------------

    def decide(self, point: ChoicePoint, n: int) -> int:
        """The option (``0 <= i < n``, 0 being FIFO's) taken at ``point``; the one place
        where the runtime makes a choice the spec leaves open."""
        if n <= 1:
            return 0
        return 0 if self.fifo else self.policy.pick(point, n)

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
        """The thread to resume next, or ``None`` if no waiting thread is ready.

        The policy chooses among every ready thread, listed longest waiting
        first. FIFO's choice is the first of them: the candidate with the
        lowest wait number whose ``ready()`` holds, found without listing
        the others.
        """
        if self.fifo:
            if self._polled:
                self._poll()
            heap, candidates = self._heap, self._candidates
            while heap:
                seq, thread = heap[0]
                if thread not in candidates or candidates[thread] != seq:  # (.get: a call)
                    heappop(heap)  # stale: resumed, or found not ready since
                    continue
                self.checks += 1
                if thread.ready():
                    return thread
                heappop(heap)
                self._found_not_ready(thread)
            return None
        ready = self.ready_threads()
        return self.choose(ready) if ready else None

    # -- hand-off ------------------------------------------------------------

    def successor(self) -> Schedulable | None:
        """The thread the loop would resume next, chosen now by the thread that holds the
        quantum (:attr:`handoff_from`) as it blocks; None if the loop would not go straight
        on to resume one (``done()`` holds, host I/O is due, or none is ready).

        Equal to the loop's own choice: between this thread blocking and the loop's
        :meth:`next_ready` nothing runs that makes a thread ready or unready, so the
        choice, and the decision a policy records for it, are the same. The caller
        hands the quantum to it (:meth:`hand_off`) or gives it back (:meth:`defer`).
        """
        done = self._done
        if done is None or (self.idle is not None and self.ticks % IO_POLL_TICKS == 0):
            return None
        try:
            if done():
                return None
            thread = self.next_ready()
        except BaseException as error:  # a host predicate's: raised by the loop, not here
            self._error = error
            return None
        if thread is None:
            self._decided = None  # the loop need not ask again: it would find none too
        return thread

    def hand_off(self, thread: Schedulable) -> None:
        """``thread``, from :meth:`successor`, runs the next quantum without the loop: a tick."""
        self.ticks += 1
        self.handoff_from = thread

    def defer(self, thread: Schedulable) -> None:
        """``thread``, from :meth:`successor`, is resumed by the loop after all."""
        self._decided = thread

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
        """Tick until ``done()``; raise :class:`Deadlock` if nothing can run first.

        With no thread ready it waits in :attr:`idle` (host I/O, timers) while that has
        anything pending, so waiting on the host costs no CPU."""
        outer = self._done
        self._done = done
        try:
            while not done():
                thread = self._decided
                if thread is _UNDECIDED:
                    thread = self.next_ready()  # self.tick(), inline
                else:
                    self._decided = _UNDECIDED
                if thread is not None:
                    self.ticks += 1
                    if self.hand_offs:
                        self.handoff_from = thread
                    try:
                        thread.resume_from_host()  # type: ignore[union-attr]
                    finally:
                        self.handoff_from = None
                        error, self._error = self._error, None
                    if error is not None:
                        raise error
                    if self.idle is not None and self.ticks % IO_POLL_TICKS == 0:
                        self.idle(0)
                    continue
                if self.idle is not None and self.idle(None):
                    continue
                waits = [t.describe_wait() for t in self._waiting]
                trace.emit("scheduler.deadlock", waiting=waits)
                raise Deadlock(waits)
        finally:
            self._done = outer
            self._decided = _UNDECIDED

    def run_all(self) -> int:
        """Tick while anything is ready; returns how many quanta ran."""
        n = 0
        while self.tick():
            n += 1
        return n


_UNDECIDED = object()
"""``Scheduler._decided`` when the loop has to choose its next thread itself."""


def _wait_number(item: tuple[Schedulable, int]) -> int:
    return item[1]
