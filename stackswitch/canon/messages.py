"""Trap wording, in one place.

Where wasmtime has a message for a rule, we use its words so that the spec's
``assert_trap`` expectations (which are substrings of wasmtime's messages)
match ours. Rules wasmtime words differently per case keep the spec's intent
in a short sentence of our own.
"""

from __future__ import annotations


def unknown_index(what: str, i: int) -> str:
    return f"unknown {what} index {i}"


TABLE_FULL = "table index limit exceeded"
CANNOT_ENTER = "wasm trap: cannot enter component instance"
CANNOT_LEAVE = "cannot leave component instance"
SYNC_BLOCK = "cannot block a synchronous task before returning"
DEADLOCK = "deadlock detected: event loop cannot make further progress"
UNSUPPORTED_CALLBACK_CODE = "unsupported callback code"
TASK_RETURN_TWICE = "task.return or task.cancel called more than once"
TASK_RETURN_BORROWS = "borrow handles still remain at the end of the call"
TASK_NO_RETURN = "async-lifted export failed to produce a result"
TASK_RETURN_SYNC = "task.return called from a synchronously-lifted export"
TASK_RETURN_TYPE = "invalid `task.return` signature and/or options for current task"
TASK_CANCEL_NOT_DELIVERED = "`task.cancel` called by task which has not been cancelled"
TASK_CANCEL_SYNC = "task.cancel called from a synchronously-lifted export"
NOT_WAITABLE_SET = "handle is not a waitable set"
NOT_WAITABLE = "handle is not a waitable"
WAITABLE_SET_NOT_EMPTY = "cannot drop waitable set with waiters or members"
WAITABLE_SET_BUSY = "cannot drop waitable set with waiters or members"
SYNC_WAITER_JOIN = "cannot join a waitable that is being waited on synchronously"
WAIT_WHILE_IN_SET = "cannot wait synchronously on a waitable that is in a waitable set"
NOT_SUBTASK = "handle is not a subtask"
SUBTASK_DROP_UNRESOLVED = "cannot drop a subtask which has not yet resolved"
SUBTASK_CANCEL_AFTER_RESOLVE = "`subtask.cancel` called after terminal status delivered"
SUBTASK_CANCEL_TWICE = "`subtask.cancel` called more than once"
BACKPRESSURE_OVERFLOW = "backpressure counter overflow"
BACKPRESSURE_UNDERFLOW = "backpressure counter underflow"
NOT_RESOURCE = "handle is not a resource"
RESOURCE_TYPE_MISMATCH = "handle used with wrong type"
RESOURCE_LENT = "cannot remove owned resource while borrowed"
NOT_OWN = "cannot lift own resource from a borrow"
NOT_ERROR_CONTEXT = "handle is not an error-context"
THREAD_NOT_SUSPENDED = "cannot resume thread which is not suspended"
THREAD_FUNC_TYPE = "thread start function does not have type (func (param i32))"
STREAM_BUSY = "cannot drop busy stream"
FUTURE_BUSY = "cannot drop busy future"
FUTURE_WRITE_DROP = "cannot drop future write end without first writing a value"
COPY_NOT_IDLE = "stream or future is already busy with a read or write"
CANCEL_NOT_COPYING = "stream or future has no pending read or write to cancel"
SAME_INSTANCE_COPY = "cannot read and write a stream or future of non-number type in the same component instance"
CALLBACK_NOT_ASYNC = "the `async` canonical option requires an async function type"
REENTER = "wasm trap: cannot enter component instance"


def wrong_end(op: str, expected: str) -> str:
    return f"{op}: handle is not a {expected}"


def type_mismatch(op: str) -> str:
    return f"{op}: stream or future type mismatch"


def after_dropped(verb: str, thing: str, other_end: str) -> str:
    return f"cannot {verb} {thing} after being notified that the {other_end} end dropped"
