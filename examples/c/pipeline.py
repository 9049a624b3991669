"""Link the three pipeline components (producer -> transform -> consumer) and call consume(n).

    python examples/build_c_guests.py --out build
    python examples/c/pipeline.py build 1000                      # all sync-style
    python examples/c/pipeline.py build 1000 --styles callback    # all callback-style
    python examples/c/pipeline.py build 1000 --styles sync,callback,sync   # one per stage
    python examples/c/pipeline.py build 20 --strategy callback --trace t.json  # watch it run

Each stage is its own component instance; ``linker.define(name, func)``
makes one instance's export the next one's import. The printed hash is the
same whichever style each stage is written in: the 64-bit FNV-1a hash of n
bytes "ABC...ZABC...".
"""

from __future__ import annotations

import argparse
from pathlib import Path

from stackswitch.component.instance import Instance
from stackswitch.component.linker import Linker
from stackswitch.component.wasm_tools import load_component
from stackswitch.observe.chrome_trace import traced

STAGES = ("producer", "transform", "consumer")


def link_pipeline(linker: Linker, build: Path, styles: tuple[str, str, str]) -> Instance:
    """Instantiate ``BUILD/pipe_STAGE_STYLE.component.wasm`` for each stage; the consumer."""
    def stage(name: str, style: str) -> Instance:
        component = load_component(Path(build) / f"pipe_{name}_{style}.component.wasm")
        return linker.instantiate(component, f"{name}-{style}")

    producer = stage("producer", styles[0])
    linker.define("produce", producer.func("produce"))       # the transform's import
    transform = stage("transform", styles[1])
    linker.define("transform", transform.func("transform"))  # the consumer's import
    return stage("consumer", styles[2])


def expected_hash(n: int) -> int:
    """What consume(n) returns: FNV-1a (64-bit) of the uppercased bytes."""
    h = 0xCBF29CE484222325
    for i in range(n):
        h = ((h ^ (ord("A") + i % 26)) * 0x100000001B3) % 2**64
    return h


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", type=Path, help="the output directory of build_c_guests.py")
    parser.add_argument("n", type=int, help="how many bytes to send down the pipeline")
    parser.add_argument("--styles", default="sync",
                        help="sync, callback, or one per stage: e.g. sync,callback,sync")
    parser.add_argument("--strategy", default="stackful", choices=("stackful", "callback"),
                        help="how the runtime runs the tasks (docs/strategies.md)")
    parser.add_argument("--trace", metavar="FILE.json",
                        help="write a Chrome/Perfetto trace of the call (docs/observability.md)")
    args = parser.parse_args()
    styles = args.styles.split(",")
    styles = tuple(styles * 3 if len(styles) == 1 else styles)
    if len(styles) != 3 or not set(styles) <= {"sync", "callback"}:
        parser.error("--styles: sync or callback, once or once per stage")
    consumer = link_pipeline(Linker(strategy=args.strategy), args.build, styles)
    with traced(args.trace, args.strategy):
        h = consumer.func("consume")(args.n)
    print(f"consume({args.n}) = {h:#018x} (expected {expected_hash(args.n):#018x})")


if __name__ == "__main__":
    main()
