"""`stackswitch wast --wasmtime-host`: wasmtime's test host and its runner's conventions, so
that wasmtime's own component-model .wast tests run here (docs/conformance.md)."""

from pathlib import Path

import pytest

from stackswitch.cli import main
from stackswitch.cli.wasmtime_host import HostAssertion, Resource1, WasmtimeHost
from stackswitch.cli.wast import run_wast_file

SCRIPT = Path(__file__).parent / "wasmtime_host" / "host.wast"


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_the_host_and_named_components_serve_a_script(strategy):
    lines: list[str] = []
    result = run_wast_file(SCRIPT, out=lines.append, strategy=strategy, wasmtime_host=True)
    assert lines == [] and result.failed == 0 and result.passed == 13


def test_without_the_option_the_host_is_not_there(capsys):
    assert main(["wast", str(SCRIPT)]) == 1
    out = capsys.readouterr().out
    assert "missing import 'host-return-two'" in out
    assert main(["wast", "--wasmtime-host", str(SCRIPT)]) == 0


def test_the_resource_functions_check_what_they_are_given():
    host = WasmtimeHost().definitions()["host"]
    host["[static]resource1.assert"](Resource1(7), 7)
    with pytest.raises(HostAssertion, match="resource1 has rep 7, the guest said 8"):
        host["[method]resource1.simple"](Resource1(7), 8)
