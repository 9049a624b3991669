"""The readable event log: one line per event, who started, blocked, resumed, returned.

:data:`FORMATS` turns the runtime's events (:mod:`stackswitch.trace`) into
sentences; ``stackswitch demo`` prints them, and ``--log`` prints them for any
command. An :class:`EventLog` numbers the lines and keeps only the events of
the instances asked for (``--log client,server``): an event belongs to the
instance it names, or to the instance of the thread or task it names (learnt
from the running thread when that thread first runs); host tasks belong to
``host``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from .. import trace
from ..canon.threads import current_thread_or_none

Format = Callable[[dict[str, Any]], str]

FORMATS: dict[str, Format] = {
    "host.invoke": lambda f: f"host calls {f['func']}{tuple(f['args'])}",
    "task.start": lambda f: f"{f['task']} starts with args {f['args']}",
    "thread.block": lambda f: f"{f['thread']} blocks on {f['on']}",
    "thread.resume": lambda f: f"{f['thread']} resumes" + (" (cancelled)" if f["cancelled"] else ""),
    "thread.exit": lambda f: f"{f['thread']} exits",
    "task.return": lambda f: f"{f['task']} returns {f['result']}",
    "callback.event": lambda f: (f"{f['task']} callback gets {f['event']} (index {f['index']}, "
                                 f"payload {f['payload']})"),
    "stream.event": lambda f: f"  {f['instance']}'s {f['end']} {f['index']}: {f['result']}, "
                              f"{f['count']} element(s) copied",
    "future.event": lambda f: f"  {f['instance']}'s {f['end']} {f['index']}: {f['result']}",
    "backpressure": lambda f: f"{f['instance']} backpressure = {f['value']}",
}
"""The sentences ``stackswitch demo`` prints (its log is exactly these kinds)."""

MORE_FORMATS: dict[str, Format] = {
    "thread.new": lambda f: f"new thread {f['thread']} (index {f['index']})",
    "task.cancel-requested": lambda f: f"cancellation of {f['task']} requested",
    "task.cancel": lambda f: f"{f['task']} confirms the cancellation",
    "subtask.cancel": lambda f: f"subtask {f['subtask']} cancelled",
    "stream.new": lambda f: f"{f['instance']} makes a stream (readable {f['readable']}, "
                            f"writable {f['writable']})",
    "future.new": lambda f: f"{f['instance']} makes a future (readable {f['readable']}, "
                            f"writable {f['writable']})",
    "waitable-set.new": lambda f: f"{f['instance']} makes waitable set {f['index']}",
    "waitable-set.drop": lambda f: f"{f['instance']} drops waitable set {f['index']}",
    "subtask.new": lambda f: f"{f['instance']} holds subtask {f['index']} ({f['subtask']})",
    "subtask.drop": lambda f: f"{f['instance']} drops subtask {f['index']} ({f['subtask']})",
    "stream.drop": lambda f: f"  {f['end']} {f['index']} dropped",
    "future.drop": lambda f: f"  {f['end']} {f['index']} dropped",
    "trap": lambda f: f"TRAP in {f['thread']}: {f['message']}",
    "scheduler.deadlock": lambda f: "DEADLOCK; waiting: " + "; ".join(f["waiting"]),
}
"""What ``--log`` prints beyond the demo's sentences."""


class EventLog:
    """A subscriber printing one numbered line per event of the chosen instances.

    ``instances`` (names) keeps only their events; ``None`` keeps every event.
    ``switches`` also prints every raw stack switch.
    """

    def __init__(self, instances: Iterable[str] | None = None, out: TextIO | None = None,
                 formats: dict[str, Format] | None = None, switches: bool = False) -> None:
        self.instances = set(instances) if instances is not None else None
        self.out = out
        self.formats = formats if formats is not None else {**FORMATS, **MORE_FORMATS}
        self.switches = switches
        self.lines = 0
        self._owner: dict[str, str] = {}  # thread or task name -> its instance's name
        self._unsubscribe: Callable[[], None] | None = None

    def __enter__(self) -> EventLog:
        self._unsubscribe = trace.subscribe(self)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def instance_of(self, event: trace.Event) -> str | None:
        """The instance an event belongs to (see module docs), if known."""
        fields = event.fields
        if "instance" in fields:
            return str(fields["instance"])
        thread = current_thread_or_none()
        if thread is not None:
            inst = thread.task.inst
            name = inst.name if inst is not None else "host"
            self._owner.setdefault(thread.name, name)
            self._owner.setdefault(thread.task.name, name)
        for key in ("thread", "task", "subtask"):
            if key in fields and str(fields[key]) in self._owner:
                return self._owner[str(fields[key])]
        return None

    def __call__(self, event: trace.Event) -> None:
        fmt = self.formats.get(event.kind)
        if fmt is None and not (self.switches and event.kind.startswith("stack.")):
            return
        if self.instances is not None:
            inst = self.instance_of(event)
            if inst is None or inst not in self.instances:
                return
        elif event.kind == "thread.resume" or event.kind == "task.start":
            self.instance_of(event)
        self.lines += 1
        text = fmt(event.fields) if fmt else str(event)
        print(f"{self.lines:3}  {text}", file=self.out if self.out is not None else sys.stdout)
