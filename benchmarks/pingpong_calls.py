"""Where the time of one cross-component async call goes: Python calls per iteration.

Runs the ping-pong of ``native_vs_stackswitch.py`` (an async call to a
callback-lifted export that yields once, ``waitable-set.wait``,
``subtask.drop``; ``--guest callback-caller``: the same with a
callback-lifted caller) under cProfile and prints, per iteration, how many Python
function calls it took in all and the functions called most often. A count,
unlike a time, does not move with the machine's load, so it shows whether a
change removed work. Run:
``python benchmarks/pingpong_calls.py [--n N] [--strategy stackful|callback]
[--guest stackful-caller|callback-caller] [--top K]``.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from native_vs_stackswitch import GUESTS  # noqa: E402

from stackswitch.component.linker import Linker  # noqa: E402
from stackswitch.component.wasm_tools import load_component  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="iterations profiled")
    parser.add_argument("--strategy", default="stackful")
    parser.add_argument("--guest", choices=list(GUESTS), default="stackful-caller")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    args = parser.parse_args()

    run = Linker(strategy=args.strategy).instantiate(load_component(GUESTS[args.guest])).func("run")
    run.call(10)  # warm up: first-call caches, imports
    profile = cProfile.Profile()
    profile.enable()
    result = run.call(args.n)
    profile.disable()
    assert result == args.n, result
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(calls for _, calls, _, _, _ in stats.values())
    print(f"{args.guest}, {args.strategy}: {total / args.n:.1f} Python calls per iteration")
    rows = sorted(stats.items(), key=lambda kv: -kv[1][1])
    for (filename, line, name), (_, calls, tottime, _, _) in rows[:args.top]:
        where = "built-in" if filename == "~" else f"{Path(filename).name}:{line}"
        print(f"  {calls / args.n:6.1f}  {tottime / args.n * 1e6:6.2f} µs (profiled)  {name}  {where}")


if __name__ == "__main__":
    main()
