"""The task tree (Concurrency.md, "Subtasks and Supertasks"): a dump of what is live in a store.

Structured concurrency makes the async call stack a tree: each task has the
supertask that called it (``Task.caller``, ``None`` for the host), and each
component instance nests in its parent. This module walks a store's state
*without changing it* and renders that tree, as text (:func:`render_text`,
``Store.task_tree()``) or as a Graphviz DOT graph (:func:`render_dot`,
written by us, no dependency). It is what a deadlock, a trap, Ctrl-C and
``--tree`` print.

A snapshot: :func:`snapshot` collects every live task of a store from the
places a task can be reached (its threads in the instance thread tables, the
scheduler's waiting threads, the subtasks in the handle tables, the caller
chain of each), so a task waiting to enter (backpressure) or a host task,
which are in no instance table, are found too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .streams import CopyEnd
from .subtasks import Subtask
from .waitables import WaitableSet

if TYPE_CHECKING:
    from .component_instance import ComponentInstance
    from .threads import Thread


@dataclass
class TaskNode:
    """One task (guest or host), its threads, and the tasks it called that are still known."""

    task: Any
    threads: list[Thread] = field(default_factory=list)
    callees: list[TaskNode] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(getattr(self.task, "name", "task"))

    @property
    def state(self) -> str:
        state = getattr(self.task, "state", None)
        if state is not None:
            return str(state.name)
        if getattr(self.task, "resolved", False):
            return "RESOLVED"
        return "CANCEL_DELIVERED" if getattr(self.task, "cancel_delivered", False) else "STARTED"

    @property
    def instance(self) -> ComponentInstance | None:
        return getattr(self.task, "inst", None)


@dataclass
class Snapshot:
    """The live tasks of one store, by ``id``; the roots are those the host called. A
    resolved supertask of a live task is kept, so that the callee hangs under it."""

    store: Any
    nodes: dict[int, TaskNode]
    roots: list[TaskNode]


def _callee_of(subtask: Subtask) -> Any:
    """The task a subtask stands for: its cancel hook is the callee's ``request_cancellation``."""
    return getattr(subtask.on_cancel, "__self__", None)


def snapshot(store: Any) -> Snapshot:
    """Every live task of ``store``, linked to its caller; see module docs."""
    nodes: dict[int, TaskNode] = {}
    order: list[TaskNode] = []

    def node(task: Any) -> TaskNode:
        n = nodes.get(id(task))
        if n is None:
            n = nodes[id(task)] = TaskNode(task)
            order.append(n)
            caller = getattr(task, "caller", None)
            if caller is not None:
                node(caller)
        return n

    def add_thread(thread: Thread) -> None:
        n = node(thread.task)
        if thread not in n.threads:
            n.threads.append(thread)

    for inst in store.instances:
        for thread in inst.threads:
            add_thread(thread)
        for handle in inst.handles:
            if isinstance(handle, Subtask) and not handle.resolved():
                callee = _callee_of(handle)
                if callee is not None:
                    node(callee)
    for thread in store.scheduler.waiting:
        add_thread(thread)
    roots = []
    for n in order:
        caller = getattr(n.task, "caller", None)
        if caller is None:
            roots.append(n)
        else:
            nodes[id(caller)].callees.append(n)
    return Snapshot(store, nodes, roots)


# -- describing the pieces ---------------------------------------------------------------


def describe_thread(thread: Thread) -> str:
    """``name [index i]: state (what it waits on)``."""
    index = f" [index {thread.index}]" if thread.index is not None else ""
    state = thread.state()
    if thread.waiting():
        state = f"waiting on {thread.waits_on or 'a condition'}"
    inst = thread.task.inst
    if inst is not None and inst.poisoned:
        state = "unwound" if thread.finished() else state + " (its instance trapped)"
    return f"thread {thread.name}{index}: {state}"


def describe_handle(index: int, handle: Any) -> str:
    """One entry of an instance's handle table: kind, state, what it is joined to."""
    if isinstance(handle, Subtask):
        callee = _callee_of(handle)
        target = f" -> {callee.name}" if callee is not None else ""
        text = f"subtask{target} {handle.state.name}"
    elif isinstance(handle, CopyEnd):
        text = f"{handle.kind} {handle.state.name}"
    elif isinstance(handle, WaitableSet):
        text = f"waitable-set ({handle.num_waiting} waiting)"
    else:
        text = type(handle).__name__
    joined = getattr(handle, "wset", None)
    if joined is not None and not isinstance(handle, WaitableSet):
        text += " (in a waitable set)"
    if getattr(handle, "pending_event", None) is not None:
        text += ", event pending"
    return f"{index}: {text}"


def _instance_lines(inst: ComponentInstance) -> list[str]:
    flags = []
    if inst.poisoned:
        flags.append("trapped")
    if inst.backpressure:
        flags.append(f"backpressure {inst.backpressure}")
    if inst.num_waiting_to_enter:
        flags.append(f"{inst.num_waiting_to_enter} waiting to enter")
    holder = inst.exclusive_thread
    if holder is not None:
        flags.append(f"held by {holder.name}")
    head = f"instance {inst.name}" + (f" ({', '.join(flags)})" if flags else "")
    table = inst.handles.array
    handles = [describe_handle(i, h) for i, h in enumerate(table) if h is not None]
    return [head] + [f"  handle {h}" for h in handles]


def render_text(store: Any, title: str = "task tree") -> str:
    """The whole tree as indented text: instances (nested), then tasks by caller."""
    snap = snapshot(store)
    strategy = getattr(getattr(store, "strategy", None), "name", "")
    lines = [f"{title} (strategy {strategy or '?'}, {len(snap.nodes)} live task(s))"]
    children: dict[Any, list[ComponentInstance]] = {}
    for inst in store.instances:
        children.setdefault(inst.parent, []).append(inst)

    def walk_instance(inst: ComponentInstance, depth: int) -> None:
        for line in _instance_lines(inst):
            lines.append("  " * (depth + 1) + line)
        for child in children.get(inst, []):
            walk_instance(child, depth + 1)

    for inst in children.get(None, []):
        walk_instance(inst, 0)

    def walk_task(n: TaskNode, depth: int) -> None:
        pad = "  " * (depth + 1)
        inst = n.instance
        where = f" in {inst.name}" if inst is not None else " (host)"
        lines.append(f"{pad}task {n.name}{where}: {n.state}")
        for thread in n.threads:
            lines.append(f"{pad}  {describe_thread(thread)}")
        for callee in n.callees:
            walk_task(callee, depth + 1)

    if snap.roots:
        lines.append("  tasks (callee under caller):")
        for root in snap.roots:
            walk_task(root, 1)
    else:
        lines.append("  no live task")
    return "\n".join(lines)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def render_dot(store: Any) -> str:
    """The tree as a Graphviz digraph: a cluster per instance, task and thread nodes,
    edges caller -> callee (calls) and task -> thread."""
    snap = snapshot(store)
    out = ["digraph task_tree {", "  rankdir=TB;", "  node [fontname=monospace];"]
    ids: dict[int, str] = {}

    def ident(obj: Any, prefix: str) -> str:
        key = id(obj)
        if key not in ids:
            ids[key] = f"{prefix}{len(ids)}"
        return ids[key]

    by_inst: dict[Any, list[TaskNode]] = {}
    for n in snap.nodes.values():
        by_inst.setdefault(n.instance, []).append(n)
    for k, inst in enumerate(store.instances):
        label = f"instance {inst.name}" + (" (trapped)" if inst.poisoned else "")
        out.append(f"  subgraph cluster_{k} {{")
        out.append(f"    label={_quote(label)};")
        for n in by_inst.get(inst, []):
            out.extend(_task_nodes(n, ident, "    "))
        out.append("  }")
    for n in by_inst.get(None, []):
        out.extend(_task_nodes(n, ident, "  "))
    for n in snap.nodes.values():
        for callee in n.callees:
            out.append(f"  {ident(n.task, 'task')} -> {ident(callee.task, 'task')} [label=call];")
    out.append("}")
    return "\n".join(out) + "\n"


def _task_nodes(n: TaskNode, ident: Any, pad: str) -> list[str]:
    task_id = ident(n.task, "task")
    label = _quote(f"{n.name}\n{n.state}")
    lines = [f"{pad}{task_id} [shape=box, label={label}];"]
    for thread in n.threads:
        thread_id = ident(thread, "thread")
        label = describe_thread(thread).removeprefix("thread ")
        lines.append(f"{pad}{thread_id} [shape=ellipse, label={_quote(label)}];")
        lines.append(f"{pad}{task_id} -> {thread_id} [style=dashed];")
    return lines


def task_chain(task: Any) -> list[str]:
    """The names of the tasks from the one the host called down to ``task``."""
    chain = []
    while task is not None:
        chain.append(str(getattr(task, "name", "task")))
        task = getattr(task, "caller", None)
    return chain[::-1]


def annotate(error: BaseException, thread: Thread | None, store: Any = None) -> None:
    """Attach, once, the chain of tasks down to ``thread``'s task and the store's task tree
    to ``error`` (a trap or a deadlock), as ``error.task_chain`` and ``error.task_tree``.

    Only ever called on the way out of a failure, so the cost is not on any fast path.
    """
    if getattr(error, "task_tree", None) is not None:
        return
    task = thread.task if thread is not None else None
    if store is None and task is not None:
        store = task.store
    try:
        error.task_chain = task_chain(task) if task is not None else []  # type: ignore[attr-defined]
        error.task_tree = render_text(store) if store is not None else ""  # type: ignore[attr-defined]
    except AttributeError:  # an exception type that takes no attributes: nothing to attach
        pass
