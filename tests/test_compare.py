"""``stackswitch compare``: one guest under each strategy, a table of what each cost.

Behaviour only (no timing): both strategies' columns are there, the counters
are what the guest implies (a callback-only guest switches no greenlet under
``callback``), ``--wast`` mode, the plot, and the errors.
"""

import io
import json
import re
import sys
from pathlib import Path

import pytest

from stackswitch.cli import compare as cmp
from stackswitch.cli import main, measuring
from stackswitch.cli.measuring import Figures

ROOT = Path(__file__).resolve().parent.parent
COUNTER = ROOT / "benchmarks" / "counter.wat"   # callback-lifted count(n): n + 1 NONE events
ADD = ROOT / "examples" / "add.wat"             # a sync export
CALLBACK_WAST = ROOT / "tests" / "wast" / "callback.wast"
TRAPPING = """(component
  (core module $M (func (export "f") unreachable))
  (core instance $m (instantiate $M))
  (func (export "f") (canon lift (core func $m "f"))))"""


def table(text: str) -> dict[str, list[str]]:
    """The printed table as {row label: cells}; the header row is under "strategies"."""
    lines = text.splitlines()
    assert lines[0].startswith("stackswitch compare: ")
    header = lines[1].split()
    rows = {"strategies": header}
    for line in lines[2:]:
        if line.startswith("plot written"):
            continue
        label, *cells = re.split(r"\s{2,}", line.strip())   # cells are 2+ spaces apart
        assert len(cells) == len(header), line
        rows[label] = cells
    return rows


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


@pytest.fixture(scope="module")
def counter_table():
    out = io.StringIO()
    status = cmp.compare(str(COUNTER), "count(4)", repeat=3, concurrent=20, out=out)
    assert status == 0
    return table(out.getvalue())


def test_both_strategies_have_a_column(counter_table):
    assert counter_table["strategies"] == ["stackful", "callback"]
    assert counter_table["result (warm-up run)"] == ["7", "7"]
    assert counter_table["timed runs"] == ["3", "3"]


def test_a_callback_only_guest_switches_no_greenlet(counter_table):
    # a callback-lifted wasm task is a record under both strategies
    assert counter_table["greenlet switches"] == ["0", "0"]


def test_events_are_counted_the_same_under_both(counter_table):
    # count(4): 5 NONE events per call, 3 timed calls
    assert counter_table["events delivered"] == ["15", "15"]
    assert all(number(c) > 0 for c in counter_table["per event (µs)"])
    assert all(number(c) > 0 for c in counter_table["per run, median (µs)"])
    assert counter_table["parked calls"] == ["0", "0"]
    assert counter_table["asyncify unwinds"] == ["0", "0"]


def test_memory_per_suspended_call_is_measured_when_calls_suspend(counter_table):
    assert counter_table["calls suspended, of 20"] == ["20", "20"]
    assert counter_table["threads waiting"] == ["20", "20"]
    for cell in counter_table["memory per suspended call (KiB)"]:
        assert cell != "n/a" and number(cell) >= 0
    for cell in counter_table["peak memory (MiB over loaded)"]:
        assert number(cell) >= 0


def test_code_size_of_each_core_module(counter_table):
    [label] = [k for k in counter_table if k.startswith("core module 0")]
    given = int(label.split("; ")[1].split(" ")[0].replace(",", ""))
    # the counter defines no stackful lift: no strategy transforms its module
    assert counter_table[label] == [f"{given:,}", f"{given:,}"]
    assert counter_table["core code compiled (bytes)"] == [f"{given:,}", f"{given:,}"]


def test_from_the_command_line_with_one_strategy(capsys):
    assert main(["compare", str(ADD), "--invoke", "add(2, 40)", "--strategies", "callback",
                 "--concurrent", "5"]) == 0
    rows = table(capsys.readouterr().out)
    assert rows["strategies"] == ["callback"]
    assert rows["result (warm-up run)"] == ["42"]
    assert rows["events delivered"] == ["0"]
    assert rows["per event (µs)"] == ["n/a"]
    # a sync call completes at once: nothing is suspended to measure
    assert rows["calls suspended, of 5"] == ["0"]
    assert rows["memory per suspended call (KiB)"] == ["n/a"]


def test_wast_mode(capsys):
    assert main(["compare", "--wast", str(CALLBACK_WAST), "--repeat", "2"]) == 0
    rows = table(capsys.readouterr().out)
    assert rows["strategies"] == ["stackful", "callback"]
    passed = rows["result (warm-up run)"]
    assert passed[0] == passed[1] and passed[0].endswith("failed")
    assert rows["timed runs"] == ["2", "2"]
    stackful, callback = map(number, rows["events delivered"])
    assert stackful == callback > 0
    assert number(rows["core code compiled (bytes)"][0]) > 0
    assert not any(k.startswith("calls suspended") for k in rows)


def test_measuring_in_process():
    figures = measuring.measure_invoke("callback", str(COUNTER), "count(2)", repeat=2, concurrent=3)
    assert (figures.result, figures.runs, figures.events, figures.switches) == ("7", 2, 6, 0)
    assert (figures.started, figures.suspended, figures.waiting) == (3, 3, 3)
    assert figures.error is None


def test_measuring_a_script_in_process():
    from stackswitch.component.linker import Linker

    hook = Linker._compiled
    figures = measuring.measure_wast("callback", str(CALLBACK_WAST), repeat=1)
    assert figures.result.endswith(" 0 failed") and figures.runs == 1
    assert figures.module_sizes and all(n > 0 for n in figures.module_sizes)
    assert Linker._compiled is hook  # the size hook is put back


def spec(**given):
    return {"component": str(ADD), "invoke": "add(1, 2)", "host": None, "wast": None,
            "policy": "fifo", "repeat": 1, "concurrent": 0, "strategy": "stackful", **given}


def test_the_measuring_process_reports_its_figures_on_one_marked_line(capsys):
    assert measuring.child_main([json.dumps(spec())]) == 0
    out = capsys.readouterr().out
    assert sum(line.startswith(measuring.MARK) for line in out.splitlines()) == 1
    figures = measuring.figures_in(out)
    assert (figures.strategy, figures.result, figures.error) == ("stackful", "3", None)


def test_the_measuring_process_turns_errors_into_a_status(tmp_path):
    bad = measuring.measure(spec(invoke="add(1)"))
    assert bad.status == 2 and "takes 2 argument(s), 1 given" in bad.error
    trapping = tmp_path / "trap.wat"
    trapping.write_text(TRAPPING)
    trapped = measuring.measure(spec(component=str(trapping), invoke="f()"))
    assert trapped.status == 1 and "unreachable" in trapped.error


@pytest.mark.parametrize("argv, message", [
    (["compare", "/nonexistent/x.wasm", "--invoke", "f()"], "/nonexistent/x.wasm: no such file"),
    (["compare", "--wast", "/nonexistent/x.wast"], "--wast /nonexistent/x.wast: no such file"),
    (["compare", str(ADD), "--host", "/nonexistent/h.py"], "--host /nonexistent/h.py: no such file"),
    (["compare", str(ADD), "--strategies", "stackful,fibers"], "unknown strategy 'fibers'"),
    (["compare", str(ADD), "--strategies", ","], "name at least one strategy"),
    (["compare", str(ADD), "--strategies", "callback,callback"], "named twice"),
    (["compare"], "give either COMPONENT"),
    (["compare", str(ADD), "--wast", str(CALLBACK_WAST)], "not both"),
    (["compare", str(ADD), "--repeat", "0"], "--repeat must be at least 1"),
    (["compare", str(ADD), "--concurrent", "-1"], "--concurrent must not be negative"),
    (["compare", str(ADD), "--rounds", "0"], "--rounds must be at least 1"),
])
def test_bad_input_is_refused_before_anything_runs(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_a_bad_policy_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["compare", str(ADD), "--policy", "lifo"])
    assert exit_.value.code == 2
    assert "unknown scheduler policy 'lifo'" in capsys.readouterr().err


def test_errors_found_by_the_measuring_process_are_reported(tmp_path, capsys):
    assert main(["compare", str(ADD), "--invoke", "nope()"]) == 2
    assert "error: under stackful: " in capsys.readouterr().err
    trapping = tmp_path / "trap.wat"
    trapping.write_text(TRAPPING)
    assert main(["compare", str(trapping), "--invoke", "f()"]) == 1
    assert "unreachable" in capsys.readouterr().err


def test_different_results_are_a_failure(monkeypatch, capsys):
    answers = iter(["1", "2"])
    monkeypatch.setattr(cmp, "_run_child",
                        lambda spec: Figures(spec["strategy"], result=next(answers), runs=1))
    assert main(["compare", str(ADD), "--invoke", "add(1, 1)"]) == 1
    captured = capsys.readouterr()
    assert "different results" in captured.err
    assert table(captured.out)["result (warm-up run)"] == ["1", "2"]


def test_rounds_interleave_the_strategies_and_keep_the_fastest(monkeypatch, capsys):
    order = []
    medians = iter([0.5, 0.3, 0.2, 0.4, 0.6, 0.1])

    def child(spec):
        order.append(spec["strategy"])
        return Figures(spec["strategy"], result="42", runs=1, median_s=next(medians))

    monkeypatch.setattr(cmp, "_run_child", child)
    assert main(["compare", str(ADD), "--rounds", "3"]) == 0
    assert order == ["stackful", "callback"] * 3
    out = capsys.readouterr().out
    assert "(best of 3 rounds)" in out.splitlines()[0]
    assert table(out)["per run, median (µs)"] == ["200,000.0", "100,000.0"]


def test_plot_writes_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "compare.png"
    assert main(["compare", str(COUNTER), "--invoke", "count(2)", "--concurrent", "3",
                 "--plot", str(png)]) == 0
    assert f"plot written to {png}" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_names_the_extra(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import fails
    monkeypatch.setattr(cmp, "_run_child", lambda spec: pytest.fail("measured anyway"))
    assert main(["compare", str(ADD), "--plot", str(tmp_path / "x.png")]) == 2
    assert "pip install 'stackswitch[plot]'" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_a_measuring_process_that_dies_is_reported(monkeypatch):
    monkeypatch.setattr(cmp.sys, "executable", "/bin/false")
    figures = cmp._run_child({"strategy": "stackful"})
    assert figures.status == 1 and "the measuring process failed" in figures.error
