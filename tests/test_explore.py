"""`stackswitch explore` and `--replay`: every outcome of a small race, reproduced by its token.

The scenarios are in tests/explore/ (not tests/wast/, whose scripts must pass
under FIFO only): a race between two subtasks (race.wast), two events pending
in one waitable set (events.wat, a component called with --invoke), and a
satisfied wait that may block or not (keep-running.wast). The engine itself
is checked on a pure-Python program whose decisions form a known tree.
"""

import json
import re
import shlex
from pathlib import Path

import pytest

from stackswitch.cli import explore as explore_command
from stackswitch.cli import main
from stackswitch.cli.exploring import Bounds, Explorer, Outcome, Prefix, deviations
from stackswitch.scheduler import ChoicePoint, decode_choices, encode_choices, trimmed

HERE = Path(__file__).parent / "explore"
RACE = str(HERE / "race.wast")
EVENTS = str(HERE / "events.wat")
KEEP_RUNNING = str(HERE / "keep-running.wast")
STRATEGIES = ["stackful", "callback"]

DEADLOCK = """
(component
  (type $F (future))
  (core module $Mem (memory (export "mem") 1))
  (core instance $mem (instantiate $Mem))
  (alias core export $mem "mem" (core memory $memory))
  (core func $task.return (canon task.return (result u32)))
  (core func $future.new (canon future.new $F))
  (core func $future.read (canon future.read $F async))
  (core func $waitable-set.new (canon waitable-set.new))
  (core func $waitable-set.wait (canon waitable-set.wait (memory $memory)))
  (core func $waitable.join (canon waitable.join))
  (core module $D
    (import "" "task.return" (func $task.return (param i32)))
    (import "" "future.new" (func $future.new (result i64)))
    (import "" "future.read" (func $future.read (param i32 i32) (result i32)))
    (import "" "waitable-set.new" (func $waitable-set.new (result i32)))
    (import "" "waitable-set.wait" (func $waitable-set.wait (param i32 i32) (result i32)))
    (import "" "waitable.join" (func $waitable.join (param i32 i32)))
    ;; reads a future nobody writes, and waits for it
    (func (export "stuck") (local $r i32) (local $ws i32)
      (local.set $r (i32.wrap_i64 (call $future.new)))
      (drop (call $future.read (local.get $r) (i32.const 0)))
      (local.set $ws (call $waitable-set.new))
      (call $waitable.join (local.get $r) (local.get $ws))
      (call $task.return (call $waitable-set.wait (local.get $ws) (i32.const 0)))))
  (core instance $d (instantiate $D (with "" (instance
    (export "mem" (memory $memory))
    (export "task.return" (func $task.return))
    (export "future.new" (func $future.new))
    (export "future.read" (func $future.read))
    (export "waitable-set.new" (func $waitable-set.new))
    (export "waitable-set.wait" (func $waitable-set.wait))
    (export "waitable.join" (func $waitable.join))))))
  (func (export "stuck") async (result u32) (canon lift (core func $d "stuck") async)))
"""


def explore_json(capsys, *args):
    """Run `stackswitch explore ARGS --json --quiet`: the exit status and the report."""
    status = main(["explore", *args, "--json", "--quiet"])
    return status, json.loads(capsys.readouterr().out)


def by_kind(report):
    return {o["kind"]: o for o in report["outcomes"]}


# -- (a) a race between two subtasks ----------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_race_between_two_subtasks_has_two_outcomes_and_the_token_replays(capsys, strategy):
    status, report = explore_json(capsys, RACE, "--strategy", strategy)
    assert status == 1
    assert report["complete"] and report["cut_by"] == []
    passed, failed = by_kind(report)["passed"], by_kind(report)["failed"]
    assert passed["token"] == "-" and passed["lines"] == []
    assert report["outcomes"][0] is not failed  # FIFO's outcome comes first
    [line] = failed["lines"]
    assert line.endswith('assert_return "run": expected (u32.const 1), got (u32.const 2)')
    assert failed["deviations"] == 1
    assert passed["schedules"] + failed["schedules"] == report["schedules"]

    # the printed command reproduces the failure line exactly
    words = shlex.split(failed["replay"])
    assert words[:2] == ["stackswitch", "wast"] and failed["token"] in words
    assert main(words[1:]) == 1
    assert capsys.readouterr().out.splitlines() == [line, "3 passed, 1 failed"]
    # and so does the same token as a policy
    assert main(["wast", "--strategy", strategy, "--policy", f"replay:{failed['token']}", RACE]) == 1
    assert capsys.readouterr().out.splitlines()[0] == line


def test_the_text_report_names_each_outcome_its_count_and_how_to_replay_it(capsys):
    assert main(["explore", RACE, "--quiet"]) == 1
    out = capsys.readouterr().out
    assert re.match(rf"explored all (\d+) schedules of {re.escape(RACE)} \(stackful\): "
                    r"at most \d+ decisions a run\n2 outcomes:\n", out)
    assert re.search(r"\n\[1\] \d+ schedules, the FIFO one among them \(token -\)\n"
                     r"  4 passed, 0 failed\n", out)
    second = re.search(r"\n\[2\] \d+ schedules, e\.g\. token (\S+) \(1 deviation\(s\) from FIFO\)\n"
                       r"  replay: (.*)\n  3 passed, 1 failed\n    (.*)\n", out)
    assert second is not None
    token, replay, line = second.groups()
    assert replay == f"stackswitch wast --replay {token} {RACE}"
    assert line.endswith("got (u32.const 2)")


# -- (b) two pending events in one waitable set -----------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_two_pending_events_are_delivered_in_either_order(capsys, strategy):
    status, report = explore_json(capsys, EVENTS, "--invoke", "run()", "--strategy", strategy)
    assert status == 1 and report["complete"]
    results = {tuple(o["lines"]): o for o in report["outcomes"]}
    assert set(results) == {("1",), ("2",)}
    second = results[("2",)]
    assert second["kind"] == "returned"
    assert [d["point"] for d in second["decisions"] if d["chosen"]] == ["event"]

    words = shlex.split(second["replay"])
    assert words[:3] == ["stackswitch", "run", EVENTS]
    assert main(words[1:]) == 0
    assert capsys.readouterr().out == "2\n"
    assert main(["run", EVENTS, "--strategy", strategy]) == 0  # FIFO: join order
    assert capsys.readouterr().out == "1\n"


# -- (c) a satisfied wait that may block ------------------------------------------------------


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_satisfied_wait_may_block_and_let_another_task_finish_first(capsys, strategy):
    status, report = explore_json(capsys, KEEP_RUNNING, "--strategy", strategy)
    assert status == 1 and report["complete"]
    got = {o["lines"][0].rsplit("got ", 1)[1] if o["lines"] else "pass": o
           for o in report["outcomes"]}
    assert set(got) == {"pass", "(u32.const 1)", "(u32.const 2)"}
    blocked = got["(u32.const 1)"]
    # the main task's wait blocked although its event was pending
    assert blocked["decisions"][-1] == {"point": "keep-running", "options": 2, "chosen": 1}

    assert main(["explore", KEEP_RUNNING, "--strategy", strategy, "--replay", blocked["token"],
                 "--verbose"]) == 0
    out = capsys.readouterr().out
    assert f"replayed token {blocked['token']} on {KEEP_RUNNING} ({strategy})" in out
    assert "decision 2: keep-running, option 1 of 2" in out
    assert blocked["lines"][0] in out

    status, replayed = explore_json(capsys, KEEP_RUNNING, "--strategy", strategy,
                                    "--replay", blocked["token"])
    assert status == 0 and replayed["fits"]
    assert replayed["outcome"]["lines"] == blocked["lines"]
    assert replayed["decisions"][:len(blocked["decisions"])] == blocked["decisions"]


# -- the report, bounds, sampling ---------------------------------------------------------------


def test_the_json_report_has_counts_bounds_and_one_entry_per_outcome(capsys):
    status, report = explore_json(capsys, RACE, "--max-runs", "5")
    assert status in (0, 1)
    assert set(report) == {"target", "invoke", "strategy", "mode", "bounds", "runs", "schedules",
                           "complete", "cut_by", "all_within", "longest", "shrink_runs",
                           "shrink_schedules",
                           "nondeterministic",
                           "seconds", "outcomes"}
    assert report["mode"] == "systematic" and report["target"] == RACE
    assert report["bounds"] == {"max_runs": 5, "max_depth": None, "max_preemptions": None}
    assert report["runs"] - report["shrink_runs"] == 5 and report["cut_by"] == ["max-runs"]
    assert not report["complete"] and report["nondeterministic"] == 0
    for outcome in report["outcomes"]:
        assert set(outcome) == {"kind", "summary", "lines", "note", "schedules", "token",
                                "deviations", "replay", "decisions"}
        assert deviations(decode_choices(outcome["token"])) == outcome["deviations"]


def test_bounds_cut_the_search_and_say_so(capsys):
    status, report = explore_json(capsys, RACE, "--max-preemptions", "0")
    assert status == 0 and report["runs"] == 1 and report["cut_by"] == ["max-preemptions"]
    assert report["all_within"] == 0
    status, report = explore_json(capsys, RACE, "--max-depth", "2")
    assert report["cut_by"] == ["max-depth"] and not report["complete"]
    # only the first two decisions vary: 2 * 2 schedules... fewer when a choice ends others
    assert report["schedules"] <= 4
    status, report = explore_json(capsys, RACE, "--max-preemptions", "1")
    assert report["cut_by"] == ["max-preemptions"]
    assert all(o["deviations"] <= 1 for o in report["outcomes"]) and len(report["outcomes"]) == 2


def test_random_sampling_is_seeded_and_finds_the_race(capsys):
    status, first = explore_json(capsys, RACE, "--random", "20", "--seed", "3")
    assert status == 1 and first["mode"] == "random"
    assert first["bounds"]["random"] == 20 and first["bounds"]["seed"] == 3
    assert {o["kind"] for o in first["outcomes"]} == {"passed", "failed"}
    _, again = explore_json(capsys, RACE, "--random", "20", "--seed", "3")
    assert [(o["token"], o["schedules"]) for o in again["outcomes"]] == \
           [(o["token"], o["schedules"]) for o in first["outcomes"]]


def test_a_deadlock_is_an_outcome(tmp_path, capsys):
    component = tmp_path / "stuck.wat"
    component.write_text(DEADLOCK)
    status, report = explore_json(capsys, str(component))
    assert status == 0
    [outcome] = report["outcomes"]
    assert outcome["kind"] == "deadlock"
    assert outcome["lines"] == ["wasm trap: deadlock detected: event loop cannot make further "
                                "progress"]
    assert outcome["note"] and all(line.startswith("waiting: ") for line in outcome["note"])


def test_progress_goes_to_stderr(capsys, monkeypatch):
    monkeypatch.setattr(explore_command, "PROGRESS_EVERY", 0.0)
    main(["explore", RACE, "--max-runs", "3"])
    err = capsys.readouterr().err
    assert "explore: 2 runs, 2 schedules, " in err


def test_a_token_that_does_not_fit_is_run_anyway_with_a_warning(capsys):
    assert main(["explore", EVENTS, "--replay", "5.5.5.5"]) == 0
    captured = capsys.readouterr()
    assert "does not fit this run" in captured.err
    assert captured.out.splitlines()[-2:] == ["returned", "  1"]


# -- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["explore", "missing.wast"], "missing.wast: no such file"),
    (["explore", "missing.wasm"], "missing.wasm: no such file"),
    (["explore", RACE, "--max-runs", "0"], "--max-runs must be at least 1"),
    (["explore", RACE, "--invoke", "run()"], "a .wast script makes its own calls"),
    (["explore", RACE, "--host", "h.py"], "a .wast script defines its own"),
    (["explore", RACE, "--random", "3", "--replay", "1"], "does not go with --random"),
    (["explore", EVENTS, "--invoke", "nope()"], "no export named 'nope'"),
    (["explore", EVENTS, "--host", "missing.py"], "--host missing.py: no such file"),
])
def test_bad_input_exits_2_with_one_line(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_a_script_that_does_not_convert_is_bad_input(tmp_path, capsys):
    script = tmp_path / "broken.wast"
    script.write_text("(component\n")
    assert main(["explore", str(script)]) == 2
    assert "cannot convert the script" in capsys.readouterr().err


@pytest.mark.parametrize("args", [
    ["run", EVENTS, "--policy", "fifo", "--replay", "1"],
    ["wast", RACE, "--policy", "random:1", "--replay", "1"],
    ["wast", RACE, "--replay", "not a token"],
    ["explore", RACE, "--replay", "1.?"],
])
def test_replay_usage_errors(capsys, args):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "not both" in err or "malformed replay token" in err


# -- the engine on a known tree of decisions --------------------------------------------------


class Tree:
    """A program whose decisions are a fixed tree: 3 options, then 2, then (after option 1
    only) 2 more; its outcome is the list of options taken."""

    def __init__(self):
        self.runs = 0

    def run(self, policy):
        self.runs += 1
        taken = [policy.pick(ChoicePoint.NEXT_THREAD, 3), policy.pick(ChoicePoint.EVENT, 2)]
        if taken[1] == 1:
            taken.append(policy.pick(ChoicePoint.KEEP_RUNNING, 2))
        return Outcome("returned", "returned", (str(sum(taken)),))


def test_the_systematic_search_runs_every_schedule_once_fewest_deviations_first():
    tree = Tree()
    explorer = Explorer(tree)
    report = explorer.systematic()
    schedules = list(explorer._by_schedule)
    # 3 first options x (1 schedule under option 0 of the second + 2 under option 1)
    assert report.complete and report.runs == tree.runs == len(set(schedules)) == 9
    assert [deviations(s) for s in schedules] == sorted(deviations(s) for s in schedules)
    assert {o.lines for o in (f.outcome for f in report.outcomes)} == {(str(n),) for n in range(5)}


def test_shrinking_finds_the_smallest_schedule_with_the_same_outcome():
    explorer = Explorer(Tree(), Bounds(shrink_budget=50))
    run = explorer.run(Prefix((2, 1, 1)))  # outcome 4: only reachable this way
    explorer.run(Prefix((1, 1, 0)))
    explorer.shrink()
    witnesses = {f.outcome.lines: f.witness.choices for f in explorer.report.outcomes}
    assert witnesses[("4",)] == (2, 1, 1) == run.choices
    assert witnesses[("2",)] == (2,)  # one deviation, where (1, 1) has two


def test_a_program_that_does_not_repeat_its_decisions_is_noticed():
    class Flaky:
        calls = 0

        def run(self, policy):
            Flaky.calls += 1
            for _ in range(1 + Flaky.calls % 2):
                policy.pick(ChoicePoint.NEXT_THREAD, 2 + Flaky.calls % 3)
            return Outcome("returned", "returned")

    report = Explorer(Flaky(), Bounds(max_runs=20)).systematic()
    assert report.nondeterministic > 0


def test_tokens_round_trip_and_drop_trailing_zeros():
    assert trimmed((0, 1, 0, 0)) == (0, 1)
    assert encode_choices((0, 0, 0, 2, 0)) == "_3.2"
    assert decode_choices("_3.2") == [0, 0, 0, 2]
    assert Prefix((1, 0, 2)).spec == "replay:1.0.2"


# -- limits ------------------------------------------------------------------------------------


def test_the_limit_options_apply_to_a_script_and_its_replay_command(capsys):
    # Each subtask of the race is a handle: with room for only one, FIFO's schedule traps
    # (the other holds one subtask at a time, so it passes).
    status, report = explore_json(capsys, RACE, "--max-handles", "1")
    fifo = report["outcomes"][0]
    assert fifo["token"] == "-" and fifo["kind"] == "failed"
    assert any("too many handles in this instance's table (the limit is 1;" in line
               for line in fifo["lines"])
    other = report["outcomes"][1]
    words = shlex.split(other["replay"])
    assert words[words.index("--max-handles") + 1] == "1"
    assert main(words[1:]) == 0  # the replay runs under the same limit, and passes again
    assert capsys.readouterr().out.splitlines()[-1] == "4 passed, 0 failed"
