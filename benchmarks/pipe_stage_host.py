"""Host imports that stand in for the upstream stages of examples/c/pipeline.py,
so that one stage can be measured alone (``stackswitch compare``, docs/strategies.md):

    stackswitch compare build/pipe_transform_callback.component.wasm \\
        --host benchmarks/pipe_stage_host.py --invoke 'transform(1000)'
    stackswitch compare build/pipe_consumer_callback.component.wasm \\
        --host benchmarks/pipe_stage_host.py --invoke 'consume(1000)'

``produce(n)`` gives the producer's bytes (``abc...``, n of them) and
``transform(n)`` the transform's (the same, uppercased), each as a
``HostStream`` whose values are all there at once: the stage under test
waits only on its own reader or writer.
"""

from stackswitch.canon.host_streams import HostStream
from stackswitch.canon.types import U8Type


def _letters(n: int, first: str) -> bytes:
    return bytes(ord(first) + i % 26 for i in range(n))


def produce(n: int) -> HostStream:
    return HostStream(U8Type(), _letters(n, "a"))


def transform(n: int) -> HostStream:
    return HostStream(U8Type(), _letters(n, "A"))
