"""Where the time of one stream chunk goes: Python calls per chunk.

Runs the stream of ``wasm_tasks.py`` (3): ``$source`` writes chunks with a
sync ``stream.write``, ``$sink`` reads them with an async ``stream.read`` and
waits in ``waitable-set.wait`` whenever a read blocks. Under cProfile it
prints how many Python function calls one chunk took in all and the
functions called most often. A count, unlike a time, does not move with the
machine's load, so it shows whether a change removed work. Run:
``python benchmarks/stream_calls.py [--chunks N] [--chunk-kib K] [--top K]``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from wasm_tasks import setup  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=2000, help="chunks profiled")
    parser.add_argument("--chunk-kib", type=int, default=64, help="KiB per chunk")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    args = parser.parse_args()

    chunk = args.chunk_kib * 1024
    _, _, sink = setup(chunk)
    consume = sink.func("consume")
    consume.call(10)  # warm up: first-call caches, imports
    profile = cProfile.Profile()
    profile.enable()
    result = consume.call(args.chunks)
    profile.disable()
    assert result == args.chunks * chunk, result
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(calls for _, calls, _, _, _ in stats.values())
    print(f"{total / args.chunks:.1f} Python calls per {args.chunk_kib} KiB chunk")
    rows = sorted(stats.items(), key=lambda kv: -kv[1][1])
    for (filename, line, name), (_, calls, tottime, _, _) in rows[:args.top]:
        where = "built-in" if filename == "~" else f"{Path(filename).name}:{line}"
        print(f"  {calls / args.chunks:6.2f}  {tottime / args.chunks * 1e6:6.2f} µs (profiled)  "
              f"{name}  {where}")


if __name__ == "__main__":
    main()
