"""The engine of ``stackswitch explore``: one program run under many schedules.

A *schedule* is the list of options taken at the scheduler's choice points
(:class:`~stackswitch.scheduler.ChoicePoint`), option 0 being FIFO's. A run
is fully determined by its schedule, so a run needs no saved state: to reach
a schedule, run the program afresh with its choices as a prefix (option 0
beyond it) and record every decision it makes. This is stateless model
checking; the recorded decisions say how many options each point had, which
is what the search branches on.

Two searches:

* :meth:`Explorer.systematic`: every schedule within the bounds, fewest
  deviations from FIFO first (iterative preemption bounding): the FIFO run,
  then every schedule that deviates once, then twice... A schedule with k
  deviations is made from the one with k - 1 whose last deviation it keeps,
  by one more deviation at a later decision, tried from the deepest decision
  back (the backtracking order of a depth-first search). So each schedule is
  run exactly once.
* :meth:`Explorer.sample`: seeded random schedules in the spirit of PCT
  (probabilistic concurrency testing): a few deviation points placed at
  random among the decisions, option 0 everywhere else, rather than a coin
  at every decision.

Runs are grouped by :class:`Outcome`. Each outcome keeps a witness, the
smallest schedule known to lead there; :meth:`Explorer.shrink` makes it
smaller (fewer deviations, then fewer decisions) by trying variants of it.
"""

from __future__ import annotations

import gc
import random
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ..scheduler import ChoicePoint, Decision, Policy, Recorder, Replay, encode_choices, trimmed

Choices = tuple[int, ...]


@dataclass(frozen=True)
class Outcome:
    """What one run of a program gave, as far as telling runs apart goes.

    ``kind`` is one word (``passed``/``failed`` for a script; ``returned``,
    ``trap``, ``deadlock``, ``cancelled`` for a call; ``error`` for anything
    else), ``summary`` one line and ``lines`` the details (results, failure
    lines, a trap's message). ``note`` is shown but not compared (what a
    deadlocked run was waiting on).
    """

    kind: str
    summary: str
    lines: tuple[str, ...] = ()
    note: tuple[str, ...] = field(default=(), compare=False)


class Program(Protocol):
    """Something the explorer can run under a schedule: a script or a call."""

    def run(self, policy: Policy) -> Outcome:
        """Run once, afresh, with ``policy`` making the scheduler's decisions."""
        ...


# -- policies that record ------------------------------------------------------------------


_COLLECT_EVERY = 50
"""Runs between two garbage collections (see :meth:`Explorer.run`)."""


class Prefix(Recorder):
    """The given options in order, then option 0 (``replay:TOKEN``), recorded."""

    def __init__(self, choices: Sequence[int]) -> None:
        super().__init__(Replay(choices))
        self.choices = tuple(choices)

    def fits(self) -> bool:
        """Did the run take every listed option (none out of range, none left over)?"""
        taken = [d.chosen for d in self.decisions]
        if len(taken) < len(self.choices):
            return not any(self.choices[len(taken):]) and list(self.choices[:len(taken)]) == taken
        return list(self.choices) == taken[:len(self.choices)]


class _Deviate(Policy):
    """Option 0 except at the given decision numbers, where a random other option."""

    def __init__(self, at: set[int], rng: random.Random) -> None:
        self.at = at
        self.rng = rng
        self.spec = "explore:random"
        self._next = 0

    def pick(self, point: ChoicePoint, n: int) -> int:
        index = self._next
        self._next += 1
        return self.rng.randrange(1, n) if index in self.at else 0


def deviating(at: set[int], rng: random.Random) -> Recorder:
    """A recorded schedule that deviates from FIFO at the decision numbers ``at``."""
    return Recorder(_Deviate(at, rng))


def deviations(choices: Sequence[int]) -> int:
    """How many decisions differ from FIFO's."""
    return sum(1 for c in choices if c)


def _size(choices: Choices) -> tuple[int, int, int, Choices]:
    """How far a schedule is from FIFO, for ordering witnesses: deviations first."""
    return deviations(choices), len(choices), sum(choices), choices


# -- results --------------------------------------------------------------------------------


@dataclass
class Run:
    """One run: the schedule it followed (trailing zeros dropped), all its decisions and
    what it gave."""

    choices: Choices
    decisions: list[Decision]
    outcome: Outcome

    @property
    def token(self) -> str:
        return encode_choices(self.choices)


@dataclass
class Found:
    """One outcome: how many distinct schedules led there, and the smallest known one."""

    outcome: Outcome
    schedules: int
    witness: Run
    shrunk: bool = False


@dataclass
class Report:
    """What an exploration did and found."""

    mode: str
    runs: int = 0
    schedules: int = 0
    outcomes: list[Found] = field(default_factory=list)
    complete: bool = False
    """Every schedule the program has was run (no bound cut any off)."""
    cut_by: list[str] = field(default_factory=list)
    """Which bounds left schedules out (``max-runs``, ``max-depth``, ``max-preemptions``),
    or ``interrupted`` (Ctrl-C)."""
    longest: int = 0
    """The most decisions one run made."""
    all_within: int | None = None
    """Systematic search: every schedule with at most this many deviations (and none past
    ``max_depth``) was run."""
    shrink_runs: int = 0
    shrink_schedules: int = 0
    """Schedules first met while shrinking (counted in :attr:`schedules` too)."""
    nondeterministic: int = 0
    """Runs that did not repeat the decisions of the schedule they extend."""
    seconds: float = 0.0


# -- the explorer ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bounds:
    """How far a search goes."""

    max_depth: int | None = None
    """Only the first D decisions of a run are varied (later ones take option 0)."""
    max_runs: int = 1000
    """Runs the search may make (shrinking has its own budget)."""
    max_preemptions: int | None = None
    """Deviations from FIFO one schedule may have."""
    shrink_budget: int = 100
    """Runs spent shrinking each outcome's witness."""


class Explorer:
    """Runs one program under many schedules and groups the runs by outcome."""

    def __init__(self, program: Program, bounds: Bounds | None = None, *,
                 progress: Callable[[Report], None] | None = None) -> None:
        """``progress`` is called after each run."""
        self.program = program
        self.bounds = Bounds() if bounds is None else bounds
        self.progress = progress
        self.report = Report(mode="")
        self._by_schedule: dict[Choices, Run] = {}
        self._by_request: dict[Choices, Run] = {}
        self._shrinking = False
        self._found: dict[Outcome, Found] = {}
        self._started = time.perf_counter()

    # -- running --------------------------------------------------------------------

    def run(self, policy: Recorder) -> Run:
        """Run the program once under ``policy`` and count the run under its outcome."""
        first = self.report.runs == 0
        try:
            outcome = self.program.run(policy)
        except Exception as e:
            if first:  # bad input shows on the first run: the command reports it
                raise
            where = traceback.extract_tb(e.__traceback__)[-1]
            outcome = Outcome("error", f"{type(e).__name__}: {e}".splitlines()[0],
                              note=(f"raised at {where.filename}:{where.lineno} in {where.name}",))
        taken = [d.chosen for d in policy.decisions]
        run = Run(trimmed(taken), list(policy.decisions), outcome)
        self._note(run)
        if self.report.runs % _COLLECT_EVERY == 0:
            # Each run's linker is garbage (reference cycles) holding wasmtime stores,
            # and each linear memory reserves 4+ GiB of address space: collecting only
            # when Python's allocation counts say so let 200 runs hold 75 GB.
            gc.collect()
        return run

    def _note(self, run: Run) -> None:
        report = self.report
        report.runs += 1
        report.longest = max(report.longest, len(run.decisions))
        if run.choices not in self._by_schedule:
            self._by_schedule[run.choices] = run
            report.schedules += 1
            report.shrink_schedules += self._shrinking
            found = self._found.get(run.outcome)
            if found is None:
                found = self._found[run.outcome] = Found(run.outcome, 0, run)
                report.outcomes.append(found)
            found.schedules += 1
            if _size(run.choices) < _size(found.witness.choices):
                found.witness = run
        report.seconds = time.perf_counter() - self._started
        if self.progress is not None:
            self.progress(report)

    def replay(self, choices: Sequence[int]) -> tuple[Run, Prefix]:
        """Run one schedule; the run, and the policy (which says whether the token fit)."""
        self.report.mode = "replay"
        policy = Prefix(choices)
        return self.run(policy), policy

    def _schedule(self, choices: Choices) -> Run:
        """The run of ``choices``: from an earlier run of the same schedule (or of the same
        request: options out of range make a run follow another schedule) if any."""
        key = trimmed(choices)
        known = self._by_schedule.get(key) or self._by_request.get(key)
        if known is None:
            known = self._by_request[key] = self.run(Prefix(choices))
        return known

    def _depth(self, run: Run) -> int:
        """How many of the run's decisions the search may vary."""
        n = len(run.decisions)
        return n if self.bounds.max_depth is None else min(n, self.bounds.max_depth)

    # -- systematic search ----------------------------------------------------------

    def systematic(self) -> Report:
        """Every schedule within the bounds, by increasing number of deviations."""
        self.report.mode = "systematic"
        return self._interruptible(self._levels)

    def _levels(self) -> None:
        report = self.report
        level = [self.run(Prefix(()))]
        k = 0
        while level:
            report.all_within = k
            if self.bounds.max_preemptions is not None and k >= self.bounds.max_preemptions:
                if any(True for _ in self._children(level)):
                    report.cut_by.append("max-preemptions")
                return
            k += 1
            following: list[Run] = []
            for parent, prefix in self._children(level):
                if report.runs >= self.bounds.max_runs:
                    report.cut_by.append("max-runs")
                    return
                run = self.run(Prefix(prefix))
                if not self._extends(run, parent, prefix):
                    report.nondeterministic += 1
                following.append(run)
            level = following

    def _interruptible(self, search: Callable[[], None]) -> Report:
        """Run ``search``; Ctrl-C ends it early with what was found so far."""
        try:
            search()
        except KeyboardInterrupt:
            self.report.cut_by.append("interrupted")
        return self._finish()

    def _children(self, level: list[Run]) -> Iterator[tuple[Run, Choices]]:
        """Each schedule with one more deviation than a run of ``level``, placed after the
        run's last one, deepest decision first."""
        for parent in level:
            last = len(parent.choices) - 1  # parent.choices ends with its last deviation
            for i in range(self._depth(parent) - 1, last, -1):
                for option in range(1, parent.decisions[i].options):
                    yield parent, parent.choices + (0,) * (i - last - 1) + (option,)

    @staticmethod
    def _extends(run: Run, parent: Run, prefix: Choices) -> bool:
        """Did ``run`` make the parent's decisions up to its new deviation, then take it?"""
        i = len(prefix) - 1
        if len(run.decisions) <= i or run.decisions[i].chosen != prefix[i]:
            return False
        return all((a.point, a.options) == (b.point, b.options)
                   for a, b in zip(run.decisions[:i], parent.decisions[:i], strict=True))

    # -- random sampling ------------------------------------------------------------

    def sample(self, n: int, seed: int, most_deviations: int = 2) -> Report:
        """The FIFO run, then ``n`` runs each with 1 to ``most_deviations`` deviations at
        random decisions (a random other option there), seeded by ``seed``."""
        self.report.mode = "random"
        rng = random.Random(seed)

        def search() -> None:
            longest = self._depth(self.run(Prefix(())))
            for _ in range(n):
                if longest == 0:  # no choice at all: every schedule is the FIFO one
                    return
                count = min(rng.randint(1, most_deviations), longest)
                run = self.run(deviating(set(rng.sample(range(longest), count)), rng))
                longest = max(longest, self._depth(run))

        return self._interruptible(search)

    # -- shrinking ------------------------------------------------------------------

    def shrink(self) -> None:
        """Make each outcome's witness smaller, within the shrink budget (runs per outcome).

        A variant of the witness (one deviation set to 0 or lowered to 1, or one
        decision dropped) replaces it if it gives the same outcome and is
        smaller: fewer deviations, then fewer decisions. Runs are not
        repeated: a schedule already run is looked up. Outcomes met while
        shrinking are counted like any other.
        """
        done: set[Outcome] = set()
        self._shrinking = True
        try:
            while pending := [f for f in self.report.outcomes if f.outcome not in done]:
                for found in pending:
                    done.add(found.outcome)
                    self._shrink_one(found)
        finally:
            self._shrinking = False

    def _shrink_one(self, found: Found) -> None:
        budget = self.bounds.shrink_budget
        improved = True
        while improved and budget > 0 and found.witness.choices:
            improved = False
            for candidate in _variants(found.witness.choices):
                if budget <= 0:
                    break
                before = self.report.runs
                run = self._schedule(candidate)
                ran = self.report.runs - before
                budget -= ran
                self.report.shrink_runs += ran
                if run.outcome == found.outcome and _size(run.choices) < _size(found.witness.choices):
                    found.witness = run
                    improved = True
                    break
        found.shrunk = True

    def _finish(self) -> Report:
        """Whether the search saw every schedule: it did if no bound cut it short."""
        report = self.report
        if self.bounds.max_depth is not None and report.longest > self.bounds.max_depth:
            report.cut_by.append("max-depth")
        if report.mode == "random":
            report.complete = report.longest == 0 and not report.cut_by
        else:
            report.complete = not report.cut_by
        report.seconds = time.perf_counter() - self._started
        return report


def _variants(choices: Choices) -> Iterator[Choices]:
    """Smaller schedules to try in place of ``choices``: each deviation set to 0, each
    option above 1 lowered to 1, each decision dropped (later ones move up)."""
    for i, c in enumerate(choices):
        if c:
            yield choices[:i] + (0,) + choices[i + 1:]
    for i, c in enumerate(choices):
        if c > 1:
            yield choices[:i] + (1,) + choices[i + 1:]
    for i in range(len(choices)):
        yield choices[:i] + choices[i + 1:]
