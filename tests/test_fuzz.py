"""Fuzzing: mutated component binaries end in results or the project's own errors under
both strategies, within a time limit per call (the harness: component_fuzzing.py). CI runs a
short, derandomized budget (FUZZ_EXAMPLES, default 25); benchmarks/fuzz_components.py runs
long ones. What it found is kept below as regression tests."""

import os
from functools import cache

from component_fuzzing import corpus, mutate, run_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EDITS = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 1 << 16), st.integers(0, 255)),
                 min_size=1, max_size=4)


@cache
def seeds() -> list[bytes]:
    return corpus()


def test_the_corpus_is_real():
    assert len(seeds()) >= 10
    for binary in seeds()[:3]:
        run_case(binary)  # the unmutated seeds run cleanly under both strategies


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "25")), deadline=None,
          derandomize=True, suppress_health_check=list(HealthCheck), database=None)
@given(st.data(), EDITS)
def test_mutated_components_end_in_our_own_errors(data, edits):
    seed = data.draw(st.integers(0, len(seeds()) - 1), label="seed")
    run_case(mutate(seeds()[seed], edits))
