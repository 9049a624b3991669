"""The single observation hook."""

from stackswitch import trace
from stackswitch.canon.types import FuncType, U32Type
from stackswitch.embed.guest import PyComponent


def test_subscribe_sees_events_until_unsubscribed():
    seen = []
    unsubscribe = trace.subscribe(seen.append)
    assert trace.enabled()
    trace.emit("custom.thing", x=1)
    unsubscribe()
    unsubscribe()  # idempotent
    trace.emit("custom.thing", x=2)
    assert [str(e) for e in seen] == ["custom.thing x=1"]


def test_recorder_filters_by_prefix_and_kind(store):
    a = PyComponent(store, "a")

    @a.export(FuncType([], [U32Type()], async_=True), abi="stackful")
    def run():
        a.thread_yield()
        a.task_return(3)

    with trace.Recorder(("task.", "thread.block")) as rec:
        store.call(run, [])
    kinds = [e.kind for e in rec.events]
    assert kinds[0] == "task.state" and "thread.block" in kinds and "task.return" in kinds
    assert all(k.startswith(("task.", "thread.block")) for k in kinds)
    [ret] = rec.of("task.return")
    assert ret.fields["result"] == [3]
    states = [e.fields["state"] for e in rec.of("task.state")]
    assert states == ["STARTED", "RESOLVED"]
