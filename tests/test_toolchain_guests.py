"""Guests from real toolchains: Python (componentize-py) and JavaScript (componentize-js).

Built from the sources in examples/python/ and examples/js/ by the committed
script (examples/build_toolchain_guests.py), which caches each build by its
inputs. These tests skip, naming what is missing, only when a toolchain is
genuinely absent (no componentize-py, no node/npm: the script's exit status
3); a build that fails is a failure.

What must hold without a WASI host: every guest decodes and declares exactly
the imports and exports listed in docs/toolchain-guests.md; the guest built with
``--stub-wasi`` links and runs under both strategies; a guest that needs WASI
is refused at link time with a message naming the first WASI import missing;
and a second process finds every compiled module of a 20 MB guest in the
disk cache (the start-up figures are in docs/performance.md).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stackswitch import Component, Linker, Trap
from stackswitch.component.decoder import decode_component
from stackswitch.errors import LinkError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCRIPT = EXAMPLES / "build_toolchain_guests.py"
ASYNC_HOST = EXAMPLES / "python" / "async_host.py"

WASI_02_COMMAND = [  # what componentize-py's runtime imports for a wasi:cli/command@0.2.12 world
    "wasi:io/poll", "wasi:clocks/monotonic-clock", "wasi:io/error", "wasi:io/streams",
    "wasi:cli/environment", "wasi:cli/exit", "wasi:cli/stdin", "wasi:cli/stdout",
    "wasi:cli/stderr", "wasi:cli/terminal-input", "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin", "wasi:cli/terminal-stdout", "wasi:cli/terminal-stderr",
    "wasi:clocks/wall-clock", "wasi:filesystem/types", "wasi:filesystem/preopens",
    "wasi:sockets/network", "wasi:sockets/instance-network", "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket", "wasi:sockets/tcp", "wasi:sockets/tcp-create-socket",
    "wasi:sockets/ip-name-lookup", "wasi:random/random", "wasi:random/insecure",
    "wasi:random/insecure-seed",
]
ASYNC_APP_WASI_02 = [  # componentize-py's runtime alone (its own WASI version: 0.2.9)
    "wasi:io/poll", "wasi:clocks/monotonic-clock", "wasi:clocks/wall-clock",
    "wasi:random/random", "wasi:io/error", "wasi:io/streams", "wasi:cli/stdout",
    "wasi:cli/stderr", "wasi:cli/stdin", "wasi:cli/environment", "wasi:cli/exit",
    "wasi:cli/terminal-input", "wasi:cli/terminal-output", "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout", "wasi:cli/terminal-stderr", "wasi:filesystem/types",
    "wasi:filesystem/preopens", "wasi:sockets/network", "wasi:sockets/instance-network",
    "wasi:sockets/udp", "wasi:sockets/udp-create-socket", "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket", "wasi:sockets/ip-name-lookup",
]
JS_CLI_APP = [
    "wasi:cli/environment", "wasi:cli/exit", "wasi:io/poll", "wasi:clocks/monotonic-clock",
    "wasi:io/error", "wasi:io/streams", "wasi:cli/stdin", "wasi:cli/stdout", "wasi:cli/stderr",
    "wasi:cli/terminal-input", "wasi:cli/terminal-output", "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout", "wasi:cli/terminal-stderr", "wasi:clocks/wall-clock",
    "wasi:filesystem/types", "wasi:filesystem/preopens", "wasi:random/random",
]

EXPECTED = {  # guest -> (imports, the first being the one a link without WASI misses; exports)
    "cli_app": ([f"{n}@0.2.12" for n in WASI_02_COMMAND], ["exports", "wasi:cli/run@0.2.12"]),
    "async_app": ([f"{n}@0.2.9" for n in ASYNC_APP_WASI_02]
                  + ["stackswitch:guests/host", "wasi:clocks/types@0.3.0",
                     "wasi:clocks/monotonic-clock@0.3.0"],
                  ["exports", "work", "describe"]),
    "async_app_stubbed": (["stackswitch:guests/host"], ["exports", "work", "describe"]),
    "js_cli_app": ([f"{n}@0.2.12" for n in JS_CLI_APP], ["wasi:cli/run@0.2.12"]),
}


def load_script():
    """The build script as a module (registered first: its dataclasses look themselves up)."""
    spec = importlib.util.spec_from_file_location("build_toolchain_guests", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def toolchain_guests(tmp_path_factory, build_cache):
    """Each guest built by the committed script: name -> path, or the reason it is missing."""
    out = tmp_path_factory.mktemp("toolchain-guests")
    script = load_script()
    built: dict[str, Path | str] = {}
    for guest in script.GUESTS:
        proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--quiet",
                               "--only", guest.name, "--cache", str(build_cache)],
                              capture_output=True, text=True, check=False)
        if proc.returncode == script.MISSING_TOOLCHAIN:
            built[guest.name] = proc.stderr.strip()
            continue
        assert proc.returncode == 0, f"{SCRIPT.name} --only {guest.name}:\n{proc.stderr}"
        built[guest.name] = out / f"{guest.name}.wasm"
    return built


def guest(toolchain_guests, name: str) -> Path:
    found = toolchain_guests[name]
    if isinstance(found, str):
        pytest.skip(f"{name}: toolchain unavailable: {found}")
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_guest_decodes_with_the_documented_imports_and_exports(toolchain_guests, name):
    decoded = decode_component(guest(toolchain_guests, name).read_bytes())
    imports, exports = EXPECTED[name]
    assert sorted(i.name.name for i in decoded.imports) == sorted(imports)
    assert sorted(e.name.name for e in decoded.exports) == sorted(exports)


@pytest.mark.parametrize("strategy", ["stackful", "callback"])
def test_stubbed_python_guest_runs_under_both_strategies(toolchain_guests, strategy, tmp_path):
    component = Component.from_file(guest(toolchain_guests, "async_app_stubbed"))
    linker = Linker(strategy=strategy)
    namespace: dict = {}
    exec(compile(ASYNC_HOST.read_text(), str(ASYNC_HOST), "exec"), namespace)
    for name, item in namespace["IMPORTS"].items():
        linker.define(name, item)
    instance = linker.instantiate(component)
    assert instance["describe"]() == "Python 3.14.0 (wasi)"
    assert str(instance.func("work").ft) .startswith("async")
    # With WASI stubbed out, the WASI 0.3 sleep is a trapping stub: a trap, not a crash.
    with pytest.raises(Trap):
        instance["work"]("key", 0)


@pytest.mark.parametrize("name", ["cli_app", "async_app", "js_cli_app"])
def test_wasi_guest_without_a_wasi_host_is_refused_naming_the_import(toolchain_guests, name):
    imports, _ = EXPECTED[name]
    with pytest.raises(LinkError, match=f"missing import '{imports[0]}'"):
        Linker(cache=False).instantiate(Component.from_file(guest(toolchain_guests, name)))


_INSTANTIATE = """
import json, sys
from stackswitch import Component, Linker
from stackswitch.wasm import module_cache
linker = Linker(cache=sys.argv[2])
linker.define("stackswitch:guests/host", {"fetch": lambda key: key})
instance = linker.instantiate(Component.from_file(sys.argv[1]))
c = module_cache.counts
print(json.dumps({"compiled": c.compiled, "from_disk": c.from_disk,
                  "describe": instance["describe"]()}))
"""


def test_second_process_compiles_nothing(toolchain_guests, tmp_path):
    path = guest(toolchain_guests, "async_app_stubbed")
    runs = []
    for _ in range(2):
        proc = subprocess.run([sys.executable, "-c", _INSTANTIATE, str(path), str(tmp_path)],
                              capture_output=True, text=True, check=False, cwd=ROOT)
        assert proc.returncode == 0, proc.stderr
        runs.append(json.loads(proc.stdout))
    cold, warm = runs
    assert cold["compiled"] > 30 and cold["from_disk"] == 0
    assert warm == {"compiled": 0, "from_disk": cold["compiled"],
                    "describe": cold["describe"]}


def test_build_script_reuses_an_identical_build(toolchain_guests, tmp_path, monkeypatch,
                                                build_cache):
    guest(toolchain_guests, "async_app_stubbed")
    script = load_script()

    def no_toolchain(*args, **kwargs):
        raise AssertionError("the toolchain ran although the build was cached")

    monkeypatch.setattr(script, "_run", no_toolchain)
    (chosen,) = [g for g in script.GUESTS if g.name == "async_app_stubbed"]
    target = script.build(chosen, tmp_path, build_cache, verbose=False)
    assert target.read_bytes() == toolchain_guests["async_app_stubbed"].read_bytes()
