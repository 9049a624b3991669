"""Correct under every schedule: our guests and scripts under seeded random policies.

The spec's reference code makes its free choices at random (which ready
thread runs, whether a satisfied wait or a yield blocks, which pending event
comes first, whether error-context.new keeps its message). Any outcome of
some sequence of those choices is a valid run, so the demo and every script
in tests/wast/ must pass under every seed, with both strategies, asserting
only what the spec guarantees. A failure names its seed: ``stackswitch wast
--policy random:SEED --strategy STRATEGY tests/wast/NAME.wast`` reruns it.
See docs/schedules.md.
"""

from pathlib import Path

import pytest

from stackswitch import trace
from stackswitch.canon.store import Store
from stackswitch.canon.strategy import named
from stackswitch.cli.demo import build
from stackswitch.cli.wast import run_wast_file

WAST_DIR = Path(__file__).parent / "wast"
SCRIPTS = sorted(WAST_DIR.glob("*.wast"))
STRATEGIES = ["stackful", "callback"]
SEEDS = [1, 2, 5, 7, 13, 42]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_demo_gives_its_result_under_every_seed(strategy):
    """`stackswitch demo --policy random:S` for S in 0..199, in process."""
    failures = []
    for seed in range(200):
        store = Store(f"random:{seed}", named(strategy))
        run, _ = build(store)
        with trace.Recorder(("task.return",)) as rec:
            result = store.call(run, [])
        returned = {e.fields["task"].split("#")[0]: e.fields["result"] for e in rec.events}
        if result != [4212] or returned.get("server.fetch") != [42] \
                or returned.get("consumer.consume") != [12]:
            failures.append(f"random:{seed}: {result}, task results {returned}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("script", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_wast_script_passes_under_a_random_schedule(script, strategy, seed):
    result = run_wast_file(script, out=lambda line: None, policy=f"random:{seed}",
                           strategy=strategy)
    if result.failed:
        pytest.fail(f"--policy random:{seed} --strategy {strategy}:\n"
                    + "\n".join(result.failures), pytrace=False)
    assert result.passed > 0
