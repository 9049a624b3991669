"""A long fuzzing run: mutated component binaries under both strategies in one process.

    python benchmarks/fuzz_components.py --seconds 600 [--seed 1] [--out findings/]

Each case is a corpus component (tests/component_fuzzing.py) with 1 to 4 random byte
edits, run under every strategy with a fuel budget and a time limit per call. Prints how the
cases ended (link error, trap, results) and each finding (an error that is not one of the
project's own, a hang past the limit, strategies that disagree), and writes each finding's
binary to --out so that it can become a regression test (and, before running each case,
writes it to --out/last-case.wasm: a case that kills the process is there). Exit status 1 if
anything was found.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's stackswitch, and the harness

from component_fuzzing import Finding, corpus, mutate, run_case  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0, help="how long to run")
    parser.add_argument("--cases", type=int, default=None, help="stop after this many cases")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same cases)")
    parser.add_argument("--out", type=Path, default=None, help="where to write findings")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    seeds = corpus()
    ends: Counter[str] = Counter()
    findings = 0
    started = time.monotonic()
    cases = 0
    while time.monotonic() - started < args.seconds and (args.cases is None or cases < args.cases):
        cases += 1
        seed = rng.randrange(len(seeds))
        edits = [(rng.choice((0, 1, 2, 3, 4, 4, 4, 4)), rng.randrange(1 << 16), rng.randrange(256))
                 for _ in range(rng.randint(1, 4))]
        binary = mutate(seeds[seed], edits)
        if args.out is not None:  # if the process dies, this is the case that killed it
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "last-case.wasm").write_bytes(binary)
        try:
            outcomes = run_case(binary)
        except Finding as e:
            findings += 1
            print(f"finding {findings} (case {cases}, seed {seed}, edits {edits}): {e}",
                  flush=True)
            if args.out is not None:
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / f"finding-{args.seed}-{cases}.wasm").write_bytes(binary)
            continue
        ends.update(o.kind for o in outcomes.values())
    elapsed = time.monotonic() - started
    print(f"{cases} cases in {elapsed:.0f} s ({cases / elapsed:.1f}/s), "
          f"{len(seeds)} seed components; strategy runs ending in: "
          + ", ".join(f"{k} {v}" for k, v in sorted(ends.items())) + f"; findings: {findings}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
