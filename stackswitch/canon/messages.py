"""Trap wording, in one place.

We use wasmtime's words for each rule so that the spec's ``assert_trap``
expectations (substrings of wasmtime's messages) match ours. wasmtime prints
traps of its ``Trap`` enum as ``wasm trap: <message>``; we keep that prefix on
the same messages. Where wasmtime has no message, or words two rules alike,
the wording is ours and says which rule was broken.
"""

from __future__ import annotations

from typing import Any

# -- tables and handles -----------------------------------------------------------------

TABLE_FULL = "cannot allocate another handle: index overflow"


def unknown_index(i: int) -> str:
    return f"unknown handle index {i}"


def not_a_resource(i: int) -> str:
    return f"index {i} is not a resource"


def resource_wrong_type(i: int, expected: Any, found: Any) -> str:
    """wasmtime's words: resource types are named by who defined them."""
    def kind(rt: Any) -> str:
        return "guest-defined resource" if getattr(rt, "impl", None) is not None else "host resource"

    found_kind = kind(found)
    if found_kind == kind(expected):
        found_kind = "a different " + found_kind
    return f"handle index {i} used with the wrong type, expected {kind(expected)} but found {found_kind}"


RESOURCE_LENT = "cannot remove owned resource while borrowed"
NOT_OWN = "cannot lift own resource from a borrow"
NOT_ERROR_CONTEXT = "handle is not an error-context"
# wasmtime checks the (pointer, length) slot before lowering the message (and so before realloc)
DEBUG_MESSAGE_OUT_OF_BOUNDS = "invalid debug message pointer: out of bounds"
NOT_WAITABLE_SET = "handle is not a waitable-set"
NOT_WAITABLE = "handle is not a waitable"
NOT_SUBTASK = "handle is not a subtask"

# -- entering, leaving, blocking ------------------------------------------------------------

CANNOT_ENTER = "wasm trap: cannot enter component instance"
CANNOT_LEAVE = "wasm trap: cannot leave component instance"
SYNC_BLOCK = "wasm trap: cannot block a synchronous task before returning"
UNSUPPORTED_CALLBACK_CODE = "wasm trap: unsupported callback code"

# -- tasks -----------------------------------------------------------------------------------

TASK_RESOLVED_TWICE = "wasm trap: `task.return` or `task.cancel` called more than once for current task"
TASK_RETURN_BORROWS = "borrow handles still remain at the end of the call"
TASK_NO_RETURN = "wasm trap: async-lifted export failed to produce a result"
TASK_RETURN_MISMATCH = "wasm trap: invalid `task.return` signature and/or options for current task"
TASK_CANCEL_NOT_DELIVERED = "wasm trap: `task.cancel` called by task which has not been cancelled"
BACKPRESSURE_OVERFLOW = "wasm trap: backpressure counter overflow"
BACKPRESSURE_UNDERFLOW = "wasm trap: backpressure counter overflow: backpressure.dec below zero"

# -- waitables and subtasks -------------------------------------------------------------------

WAITABLE_SET_HAS_MEMBERS = "cannot drop waitable set with members"
WAITABLE_SET_HAS_WAITERS = "wasm trap: cannot drop waitable set with waiters"
SYNC_AND_ASYNC_WAIT = "wasm trap: waitable cannot be used synchronously while added to a waitable set"
SUBTASK_DROP_UNRESOLVED = "wasm trap: cannot drop a subtask which has not yet resolved"
SUBTASK_CANCEL_AFTER_RESOLVE = "wasm trap: `subtask.cancel` called after terminal status delivered"
SUBTASK_CANCEL_TWICE = "`subtask.cancel` called more than once for the same subtask"

# -- threads ----------------------------------------------------------------------------------

THREAD_NOT_SUSPENDED = "wasm trap: cannot resume thread which is not suspended"

# -- streams and futures ----------------------------------------------------------------------

CONCURRENT_COPY = "wasm trap: cannot have concurrent operations active on a future/stream"
SAME_INSTANCE_COPY = "cannot read from and write to intra-component future/stream with non-numeric payload"
FUTURE_WRITE_DROP = "cannot drop future write end without first writing a value"
BUFFER_TOO_LONG = "wasm trap: stream read/write count too large"


def not_a(thing: str) -> str:
    return f"handle is not a {thing}"


def not_readable_end(thing: str) -> str:
    return f"handle is not a readable end of a {thing}"


def different_type(thing: str) -> str:
    return f"handle is a {thing} of a different type"


def busy_drop(thing: str, readable: bool) -> str:
    return f"cannot {'remove' if readable else 'drop'} busy {thing}"


def lift_in_waitable_set(thing: str) -> str:
    return f"cannot lift {thing} while it's in a waitable set"


def copy_after_done(op: str, thing: str) -> str:
    """A read, write or lift of an end that is DONE (``op``: read, write, lift)."""
    if thing == "stream":
        if op == "write":
            return "cannot write to stream after being notified that the readable end dropped"
        return f"cannot {'read from' if op == 'read' else 'lift'} stream after being notified that the writable end dropped"
    if op == "write":
        return "cannot write to future after previous write succeeded or readable end dropped"
    return f"cannot {'read from' if op == 'read' else 'lift'} future after previous read succeeded"


def cancel_wrong_end(thing: str, op: str) -> str:
    end = "write" if op == "read" else "read"
    return f"passed {end} end to `{thing}.cancel-{op}`"


def cancel_not_pending(op: str) -> str:
    return f"stream or future {op} cancelled when no {op} is pending"


def drop_wrong_end(thing: str, readable: bool) -> str:
    if readable:
        return not_readable_end(thing)
    return f"passed read end to `{thing}.drop-writable`"


def pointer_not_aligned(direction: str) -> str:
    return f"{direction} pointer not aligned"


def pointer_out_of_bounds(direction: str) -> str:
    return f"{direction} pointer out of bounds of memory"
