"""Is a trace-event document well formed? The rules our traces keep, checked.

:func:`check` returns a list of problems (empty when the trace is well formed):

* ``traceEvents`` is a list of objects, each with a known ``ph`` and, except
  metadata, a numeric ``ts``, and a ``pid`` and ``tid``;
* per track (``pid``, ``tid``), taken in time order, every ``B`` has its ``E``
  and an ``E`` never comes without an open ``B`` (``X`` events need a
  non-negative ``dur``);
* every flow event (``s``/``t``/``f``) lies inside a slice of its track, and
  each flow id has both a start and an end.

:func:`slices` lists the slices (name, category, pid, tid, start, end), which
tests use to count one slice per task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_PHASES = {"B", "E", "X", "i", "I", "C", "M", "s", "t", "f", "b", "e", "n"}


@dataclass(frozen=True)
class Slice:
    name: str
    cat: str
    pid: int
    tid: int
    start: float
    end: float
    args: dict[str, Any]


def _by_track(events: list[dict[str, Any]]) -> dict[tuple[int, int], list[dict[str, Any]]]:
    tracks: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for e in events:
        if e.get("ph") in ("B", "E", "X"):
            tracks.setdefault((e["pid"], e["tid"]), []).append(e)
    for evs in tracks.values():
        evs.sort(key=lambda e: e["ts"])  # stable: same-ts events keep their order
    return tracks


def slices(document: dict[str, Any]) -> list[Slice]:
    """Every complete slice of the trace (``B``/``E`` pairs and ``X`` events)."""
    found = []
    for (pid, tid), evs in _by_track(document["traceEvents"]).items():
        stack: list[dict[str, Any]] = []
        for e in evs:
            if e["ph"] == "X":
                found.append(Slice(e.get("name", ""), e.get("cat", ""), pid, tid, e["ts"],
                                   e["ts"] + e["dur"], e.get("args", {})))
            elif e["ph"] == "B":
                stack.append(e)
            elif stack:
                b = stack.pop()
                args = {**b.get("args", {}), **e.get("args", {})}
                found.append(Slice(b.get("name", ""), b.get("cat", ""), pid, tid, b["ts"],
                                   e["ts"], args))
    return found


def check(document: Any) -> list[str]:
    """The ways ``document`` breaks the rules in the module docs (none: well formed)."""
    if not isinstance(document, dict) or not isinstance(document.get("traceEvents"), list):
        return ["not a trace document: no traceEvents list"]
    events = document["traceEvents"]
    problems = []
    for n, e in enumerate(events):
        if not isinstance(e, dict) or e.get("ph") not in _PHASES:
            problems.append(f"event {n}: unknown or missing ph: {e!r}")
            continue
        if "pid" not in e or "tid" not in e:
            problems.append(f"event {n}: no pid/tid")
        if e["ph"] != "M" and not isinstance(e.get("ts"), int | float):
            problems.append(f"event {n}: no numeric ts")
        if e["ph"] == "X" and not (isinstance(e.get("dur"), int | float) and e["dur"] >= 0):
            problems.append(f"event {n}: X without a non-negative dur")
    if problems:
        return problems
    for track, evs in _by_track(events).items():
        depth = 0
        for e in evs:
            if e["ph"] == "B":
                depth += 1
            elif e["ph"] == "E":
                if depth == 0:
                    problems.append(f"track {track}: E at {e['ts']} with no open B")
                else:
                    depth -= 1
        if depth:
            problems.append(f"track {track}: {depth} B without E")
    spans: dict[tuple[int, int], list[Slice]] = {}
    for s in slices(document):
        spans.setdefault((s.pid, s.tid), []).append(s)
    ends: dict[Any, set[str]] = {}
    for e in events:
        if e["ph"] in ("s", "t", "f"):
            ends.setdefault(e.get("id"), set()).add(e["ph"])
            inside = any(s.start <= e["ts"] <= s.end for s in spans.get((e["pid"], e["tid"]), []))
            if not inside:
                problems.append(f"flow {e.get('id')} ({e['ph']}) at {e['ts']} on track "
                                f"{(e['pid'], e['tid'])} is in no slice")
    for flow, phases in ends.items():
        if not {"s", "f"} <= phases:
            problems.append(f"flow {flow} lacks its {'start' if 's' not in phases else 'end'}")
    return problems
