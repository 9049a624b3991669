"""Chrome / Perfetto trace-event JSON of a run (open it in ui.perfetto.dev or chrome://tracing).

A :class:`ChromeTrace` subscribes to :mod:`stackswitch.trace` and turns the
runtime's events into the trace-event format
(``{"traceEvents": [...], "displayTimeUnit": "ms"}``):

* one *process* (``pid``) per component instance tree (the instance the host
  instantiated, named after it), plus pid 0 for the host's own tasks;
* one *track* (``tid``) per thread: a greenlet under ``stackful``, a stackless
  record under ``callback``; named after the thread;
* on a thread's track, a ``B``/``E`` slice per task on the track of the
  task's first (implicit) thread, from the moment that thread first runs to
  the task's resolution (``task.return`` or ``task.cancel``; a trap or the
  end of the trace closes it too, saying so in its ``args``), and ``run``
  slices nested inside for each stretch the thread runs, ended by what it
  blocked on;
* a flow arrow (``s`` -> ``f``) from the caller's track, at the moment of the
  call, to the callee's task slice: the async call stack;
* instant events (``i``) for every built-in that blocks or delivers an event,
  with its name and fields; process-scoped instants for traps and
  cancellations, a global one for a deadlock;
* counters (``C``): per process, live tasks and bytes copied through
  streams (counted at the writable end); on pid 0, live waitables of all
  instances (stream and future ends, waitable sets, subtasks held).

Timestamps are microseconds from one monotonic clock
(:func:`time.perf_counter_ns`), made strictly increasing per track so that
slices nest unambiguously. Slices are kept well nested on each track (every
``B`` has its ``E`` on the same track, innermost first), which
:func:`stackswitch.observe.trace_checks.check` verifies.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .. import trace
from ..canon.threads import Thread, current_thread_or_none

_INSTANTS = {
    "thread.block", "thread.new", "callback.event", "stream.event", "future.event",
    "stream.new", "future.new", "stream.drop", "future.drop", "backpressure",
    "subtask.cancel", "task.cancel-requested", "task.cancel", "host.invoke",
    "waitable-set.new", "waitable-set.drop", "subtask.new", "subtask.drop",
}
"""Event kinds shown as instant events on the track of the thread they happened on."""


def _jsonable(value: Any) -> Any:
    """Event fields as JSON: numbers, strings, lists and dicts stay; anything else is its repr."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


class _Track:
    """One thread's track: its ids, its open slices (a stack) and its last timestamp."""

    __slots__ = ("pid", "tid", "open", "last", "task")

    def __init__(self, pid: int, tid: int, task: Any) -> None:
        self.pid = pid
        self.tid = tid
        self.open: list[str] = []
        self.last = -1.0
        self.task = task


class ChromeTrace:
    """A subscriber that records a run as trace events; :meth:`write` saves the JSON.

    Use it as a context manager (subscribed inside), or call :meth:`start` and
    :meth:`stop`. ``label`` prefixes every process name (``compare`` merges
    one trace per strategy).
    """

    def __init__(self, label: str = "") -> None:
        self.label = label
        self.events: list[dict[str, Any]] = []
        self._t0 = time.perf_counter_ns()
        self._pids: dict[int, int] = {}
        self._tracks: dict[int, _Track] = {}
        self._threads: list[Thread] = []  # kept alive so that their ids stay unique
        self._running: list[Thread] = []
        self._tasks: dict[int, _Track] = {}  # task id -> the track its slice is on
        self._task_refs: list[Any] = []  # kept alive so that their ids stay unique
        self._seen: set[int] = set()  # tasks whose slice was opened
        self._open_by_name: dict[str, Any] = {}
        self._live: dict[int, int] = {}  # pid -> live tasks
        self._ends: dict[int, int] = {}
        self._copied: dict[int, int] = {}
        self._flows = 0
        self._global_last = -1.0
        self._unsubscribe: Any = None
        self.process(0, "host")

    # -- subscribing ----------------------------------------------------------

    def start(self) -> ChromeTrace:
        if self._unsubscribe is None:
            self._unsubscribe = trace.subscribe(self)
        return self

    def stop(self) -> None:
        """Unsubscribe and close every slice still open (marked ``unfinished``)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for track in self._tracks.values():
            while track.open:
                self._end(track, {"unfinished": True})

    def __enter__(self) -> ChromeTrace:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- output ---------------------------------------------------------------

    def document(self) -> dict[str, Any]:
        """The whole trace as the JSON object format."""
        return {"traceEvents": self.events, "displayTimeUnit": "ms",
                "otherData": {"producer": "stackswitch"}}

    def write(self, path: str | Path) -> None:
        """Stop, then save the trace as JSON at ``path``."""
        self.stop()
        Path(path).write_text(json.dumps(self.document()))

    # -- ids and time ---------------------------------------------------------

    def process(self, pid: int, name: str) -> None:
        label = f"{self.label}: {name}" if self.label else name
        self.events.append({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
                            "args": {"name": label}})

    def _now(self, track: _Track | None) -> float:
        ts = (time.perf_counter_ns() - self._t0) / 1000.0
        last = track.last if track is not None else self._global_last
        if ts <= last:
            ts = last + 0.001
        if track is not None:
            track.last = ts
        else:
            self._global_last = ts
        return ts

    def _pid_of(self, thread: Thread) -> int:
        inst = thread.task.inst
        if inst is None:
            return 0
        root = inst.root
        pid = self._pids.get(id(root))
        if pid is None:
            pid = self._pids[id(root)] = len(self._pids) + 1
            self._task_refs.append(root)
            self.process(pid, f"instance {root.name}")
        return pid

    def _track(self, thread: Thread) -> _Track:
        track = self._tracks.get(id(thread))
        if track is None:
            pid = self._pid_of(thread)
            tid = len(self._tracks) + 1
            track = self._tracks[id(thread)] = _Track(pid, tid, thread.task)
            self._threads.append(thread)
            self.events.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                                "args": {"name": thread.name}})
        return track

    # -- slices ---------------------------------------------------------------

    def _begin(self, track: _Track, name: str, cat: str, args: dict[str, Any] | None = None,
               ts: float | None = None) -> float:
        ts = self._now(track) if ts is None else ts
        event: dict[str, Any] = {"ph": "B", "name": name, "cat": cat, "pid": track.pid,
                                 "tid": track.tid, "ts": ts}
        if args:
            event["args"] = args
        self.events.append(event)
        track.open.append(cat)
        return ts

    def _end(self, track: _Track, args: dict[str, Any] | None = None) -> None:
        track.open.pop()
        event: dict[str, Any] = {"ph": "E", "pid": track.pid, "tid": track.tid,
                                 "ts": self._now(track)}
        if args:
            event["args"] = args
        self.events.append(event)

    def _end_run(self, track: _Track, args: dict[str, Any] | None = None) -> bool:
        """Close the track's open ``run`` slice, if any; was one open?"""
        if track.open and track.open[-1] == "run":
            self._end(track, args)
            return True
        return False

    def _instant(self, name: str, args: dict[str, Any], track: _Track | None,
                 scope: str = "t", pid: int = 0) -> None:
        event: dict[str, Any] = {"ph": "i", "name": name, "cat": "event", "s": scope,
                                 "ts": self._now(track), "args": args}
        if track is not None:
            event["pid"], event["tid"] = track.pid, track.tid
        else:
            event["pid"], event["tid"] = pid, 0
        self.events.append(event)

    def _counter(self, pid: int, name: str, table: dict[int, int], delta: int) -> None:
        table[pid] = table.get(pid, 0) + delta
        self.events.append({"ph": "C", "name": name, "pid": pid, "tid": 0,
                            "ts": self._now(None), "args": {"value": table[pid]}})

    # -- tasks ----------------------------------------------------------------

    def _open_task(self, thread: Thread, track: _Track, caller_track: _Track | None) -> None:
        task = thread.task
        caller = getattr(task, "caller", None)
        args = {"task": task.name,
                "caller": getattr(caller, "name", "host") if caller is not None else "host"}
        inst = task.inst
        if inst is not None:
            args["instance"] = inst.name
        ts = self._begin(track, task.name, "task", args)
        self._tasks[id(task)] = track
        self._task_refs.append(task)
        self._open_by_name[task.name] = task
        self._counter(track.pid, "live tasks", self._live, +1)
        if caller is not None and caller_track is not None and caller_track.open:
            self._flows += 1
            self.events.append({"ph": "s", "name": "call", "cat": "call", "id": self._flows,
                                "pid": caller_track.pid, "tid": caller_track.tid,
                                "ts": self._now(caller_track)})
            self.events.append({"ph": "f", "bp": "e", "name": "call", "cat": "call",
                                "id": self._flows, "pid": track.pid, "tid": track.tid,
                                "ts": max(ts, self._now(track))})

    def _close_task(self, task: Any, args: dict[str, Any]) -> None:
        track = self._tasks.pop(id(task), None)
        if track is None or "task" not in track.open:
            return
        reopen = self._end_run(track)
        while track.open and track.open[-1] != "task":
            self._end(track)
        self._end(track, args)
        self._counter(track.pid, "live tasks", self._live, -1)
        if reopen:
            self._begin(track, "run", "run")

    def _task_named(self, name: str) -> Any:
        """The task an event names: usually the running thread's own."""
        thread = current_thread_or_none()
        if thread is not None and thread.task.name == name:
            return thread.task
        task = self._open_by_name.get(name)
        return task if task is not None and id(task) in self._tasks else None

    # -- the subscriber ---------------------------------------------------------

    def __call__(self, event: trace.Event) -> None:
        kind, fields = event.kind, event.fields
        if kind in _INSTANTS:  # first: on the track of the thread it happened on
            self._on_instant(kind, fields)
        if kind == "thread.resume":
            self._on_resume(fields)
        elif kind == "thread.block":
            self._on_block(fields)
        elif kind == "thread.exit":
            self._on_exit()
        elif kind == "task.return":
            task = self._task_named(fields["task"])
            if task is not None:
                self._close_task(task, {"result": _jsonable(fields.get("result"))})
        elif kind == "task.cancel":
            task = self._task_named(fields["task"])
            if task is not None:
                self._close_task(task, {"cancelled": True})
        elif kind == "task.state" and fields.get("state") == "RESOLVED":
            task = self._task_named(fields["task"])
            if task is not None:
                self._close_task(task, {"resolved": True})
        elif kind == "thread.unwind":
            self._on_unwind(fields)
        elif kind == "trap":
            track = self._current_track()
            self._instant("trap", {"message": str(fields.get("message")),
                                   "thread": str(fields.get("thread"))},
                          None, "p", track.pid if track is not None else 0)
        elif kind == "scheduler.deadlock":
            self._instant("deadlock", {"waiting": _jsonable(fields.get("waiting"))}, None, "g")

    def _current_track(self) -> _Track | None:
        return self._tracks.get(id(self._running[-1])) if self._running else None

    def _on_resume(self, fields: dict[str, Any]) -> None:
        thread = current_thread_or_none()
        if thread is None:
            return
        caller_track = self._current_track()
        track = self._track(thread)
        self._running.append(thread)
        task = thread.task
        if id(task) not in self._seen:
            self._seen.add(id(task))
            self._open_task(thread, track, caller_track)
        self._begin(track, "run", "run", {"cancelled": True} if fields.get("cancelled") else None)

    def _pop_running(self) -> tuple[Thread, _Track] | None:
        if not self._running:
            return None
        thread = self._running.pop()
        return thread, self._tracks[id(thread)]

    def _on_block(self, fields: dict[str, Any]) -> None:
        popped = self._pop_running()
        if popped is None:
            return
        _, track = popped
        self._end_run(track, {"blocked on": str(fields.get("on"))})

    def _on_exit(self) -> None:
        popped = self._pop_running()
        if popped is None:
            return
        thread, track = popped
        self._end_run(track, {"exit": True})
        task = thread.task
        if getattr(task, "threads", None) and getattr(task, "state", None) is not None \
                and task.state.name != "RESOLVED":
            return  # other threads of the task run on: its slice ends when it resolves
        if track.open:  # a host task that resolved as cancelled, or a task left unresolved
            had_task = self._tasks.pop(id(task), None) is track
            while track.open:
                self._end(track, {"thread exited": True})
            if had_task:
                self._counter(track.pid, "live tasks", self._live, -1)

    def _on_unwind(self, fields: dict[str, Any]) -> None:
        """An exception (a trap) left the thread: its slices end here."""
        thread = current_thread_or_none()
        if thread is None or not self._running or self._running[-1] is not thread:
            return
        self._running.pop()
        track = self._tracks[id(thread)]
        had_task = self._tasks.pop(id(thread.task), None) is track
        while track.open:
            self._end(track, {"unwound by": str(fields.get("error"))})
        if had_task:
            self._counter(track.pid, "live tasks", self._live, -1)

    def _on_instant(self, kind: str, fields: dict[str, Any]) -> None:
        track = self._current_track()
        args = {k: _jsonable(v) for k, v in fields.items()}
        pid = track.pid if track is not None else 0
        if kind in ("task.cancel", "task.cancel-requested", "subtask.cancel"):
            self._instant(kind, args, None, "p", pid)
        else:
            self._instant(kind, args, track)
        # Ends move between instances (lifted into a callee, returned to a caller)
        # without an event, so live waitables are counted for the whole store, on pid 0.
        if kind in ("stream.new", "future.new"):
            self._counter(0, "live waitables (all instances)", self._ends, +2)
        elif kind in ("waitable-set.new", "subtask.new"):
            self._counter(0, "live waitables (all instances)", self._ends, +1)
        elif kind in ("stream.drop", "future.drop", "waitable-set.drop", "subtask.drop"):
            self._counter(0, "live waitables (all instances)", self._ends, -1)
        elif kind == "stream.event" and fields.get("end") == "stream writable end":
            self._counter(pid, "stream bytes copied", self._copied, int(fields.get("bytes", 0)))


@contextmanager
def traced(path: str | Path | None, label: str = "") -> Iterator[ChromeTrace | None]:
    """Record a :class:`ChromeTrace` while the block runs and write it to ``path`` after
    (even when the block raises: a trap's trace is the interesting one); no-op for None."""
    if path is None:
        yield None
        return
    recorder = ChromeTrace(label)
    recorder.start()
    try:
        yield recorder
    finally:
        recorder.write(path)


def merge(documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Several traces side by side in one: each keeps its events, its pids moved apart
    (by 1000 per document) so that processes of different runs never mix."""
    events: list[dict[str, Any]] = []
    for k, doc in enumerate(documents):
        for e in doc.get("traceEvents", []):
            events.append({**e, "pid": e.get("pid", 0) + 1000 * k})
    return {"traceEvents": events, "displayTimeUnit": "ms",
            "otherData": {"producer": "stackswitch"}}
