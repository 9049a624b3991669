"""Producer/consumer over a future<u32>: ``python examples/python_guests_future.py``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout

from stackswitch import trace
from stackswitch.canon.store import Store
from stackswitch.canon.types import FuncType, FutureType, U32Type
from stackswitch.embed.guest import PyComponent

BLOCKED, COMPLETED, RETURNED, FUTURE_READ = 0xFFFF_FFFF, 0, 2, 4
FUT = FutureType(U32Type())
PRODUCE = FuncType([], [FUT], async_=True)
CONSUME = FuncType([], [U32Type()], async_=True)

store = Store()  # policy "fifo"; try Store("random:7")
producer, consumer = PyComponent(store, "producer"), PyComponent(store, "consumer")


@producer.export(PRODUCE, abi="stackful")
def produce():
    readable, writable = producer.future_new(FUT)
    producer.task_return(readable)        # the caller gets the future now...
    producer.thread_yield()               # ...and the value after a turn of the event loop
    ptr = producer.alloc(4, 4)
    producer.memory.store_u32(ptr, 42)
    # A sync write: this greenlet stays suspended until the consumer takes the value.
    status = producer.future_write(FUT, writable, ptr, async_=False)
    assert status == COMPLETED
    producer.future_drop_writable(FUT, writable)


call_produce = consumer.import_(produce, PRODUCE, async_=True)


@consumer.export(CONSUME, abi="stackful")
def consume():
    retptr, valptr = consumer.alloc(4, 4), consumer.alloc(4, 4)
    status = call_produce(retptr)
    assert status == RETURNED                  # produce returned before it blocked
    fut = consumer.memory.load_u32(retptr)
    if consumer.future_read(FUT, fut, valptr) == BLOCKED:
        ws = consumer.waitable_set_new()
        consumer.waitable_join(fut, ws)
        event = consumer.wait(ws)              # this greenlet suspends until the write
        assert event == (FUTURE_READ, fut, COMPLETED)
        consumer.waitable_join(fut, 0)
        consumer.waitable_set_drop(ws)
    consumer.future_drop_readable(FUT, fut)
    consumer.task_return(consumer.memory.load_u32(valptr))


with trace.Recorder(("thread.", "task.return")) as rec:
    result = store.call(consume, [])   # runs the event loop until consume resolves
    store.run()                         # lets the producer finish if it still runs
for event in rec.events:
    print(" ", event)
print("consume() =", result)
