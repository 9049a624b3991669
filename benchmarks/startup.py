"""Start-up of a big guest: cold (nothing cached), warm (modules on disk), and without a cache.

Usage::

    python benchmarks/startup.py                     # the componentize-py guest, both strategies
    python benchmarks/startup.py --runs 5 --strategies stackful
    python benchmarks/startup.py --guest G.wasm --host H.py --invoke 'f()'
    python benchmarks/startup.py --guest build/cli_app.wasm --command a b 0   # a WASI command

By default the guest is ``async_app_stubbed`` (examples/python/async_app.py
built by componentize-py with ``--stub-wasi``, about 21.6 MB, 38 core
modules: CPython inside), built with examples/build_toolchain_guests.py, and
the call is ``describe()`` with examples/python/async_host.py as the host.

Every measurement is one fresh process, ``python -m stackswitch run GUEST
--host H --invoke CALL`` from start to exit (interpreter start, imports,
reading and decoding the component, compiling or loading its core modules,
instantiating, the call, exit), timed by the parent with
``time.perf_counter``:

* cold: a new, empty ``--cache-dir`` each run (everything is compiled and
  written to the cache);
* warm: the same ``--cache-dir`` after one untimed run (every module is read
  from disk);
* no cache: ``--no-cache`` (compiled each time, nothing written).

One untimed run comes first, so that Python's own bytecode is compiled and
written as for an installed package (the children run without
``PYTHONDONTWRITEBYTECODE``) and the guest file is in the OS's file cache.

It prints the best and the median of ``--runs`` runs of each (the machine is
shared: the best is the steadier figure), wall time and CPU time (user +
system of the child: what the start-up costs, whatever else the machine
runs), the ratio cold/warm, and for warm runs a breakdown measured inside one
process (imports, decoding, instantiation, call). The figures go in
docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

_BREAKDOWN = """
import sys, time
t0 = time.perf_counter()
from stackswitch import Component, Linker
from stackswitch.canon import strategy as strategies
from stackswitch.canon.store import Store
import runpy
t1 = time.perf_counter()
component = Component.from_file(sys.argv[1])
component.decoded
t2 = time.perf_counter()
linker = Linker(Store("fifo", strategies.named(sys.argv[4])), cache=sys.argv[3])
namespace = runpy.run_path(sys.argv[2])
for name, item in namespace.get("IMPORTS", {}).items():
    linker.define(name, item)
instance = linker.instantiate(component)
t3 = time.perf_counter()
instance[sys.argv[5]]()
t4 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)
"""


def _default_guest() -> Path:
    spec = importlib.util.spec_from_file_location("build_toolchain_guests",
                                                  EXAMPLES / "build_toolchain_guests.py")
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script
    spec.loader.exec_module(script)
    (guest,) = [g for g in script.GUESTS if g.name == "async_app_stubbed"]
    out = Path(tempfile.mkdtemp(prefix="startup-guest-"))
    return script.build(guest, out, script.default_cache(), verbose=False)


# Children may write bytecode (__pycache__, ignored by git), as an installed package has it:
# with PYTHONDONTWRITEBYTECODE set, every start would compile stackswitch's modules again.
_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _run(argv: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT,
                          env=_ENV, stdin=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def _summary(runs: list[tuple[float, float]]) -> str:
    walls, cpus = [w for w, _ in runs], [c for _, c in runs]
    return (f"wall {min(walls):6.2f} s (median {statistics.median(walls):6.2f})   "
            f"CPU {min(cpus):6.2f} s (median {statistics.median(cpus):6.2f})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guest", type=Path, help="the component (default: built, see above)")
    parser.add_argument("--host", type=Path, default=EXAMPLES / "python" / "async_host.py")
    parser.add_argument("--invoke", default="describe()")
    parser.add_argument("--runs", type=int, default=3, help="runs of each kind (default 3)")
    parser.add_argument("--strategies", default="stackful,callback")
    parser.add_argument("--command", nargs="*", metavar="ARG",
                        help="run GUEST as a WASI command with these arguments instead of "
                             "--host/--invoke (e.g. the cli_app guest; no breakdown)")
    args = parser.parse_args()
    guest = args.guest or _default_guest()
    call = args.invoke.removesuffix("()")
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor())
    print(f"# {datetime.date.today()}, {cpu}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    if args.command is not None:
        what = f"as a WASI command with arguments {args.command}"
        tail = ["--", *args.command]
    else:
        what = f"--invoke {args.invoke!r}"
        tail = ["--host", str(args.host), "--invoke", args.invoke]
    print(f"# guest {guest.name} ({guest.stat().st_size / 1e6:.1f} MB), {what}, "
          f"{args.runs} run(s) each, best and median")

    def command(*options: str) -> list[str]:
        return [sys.executable, "-m", "stackswitch", "run", str(guest), *options, *tail]

    _run(command("--no-cache"))  # untimed: bytecode written, the file cache warm
    interpreter = [_run([sys.executable, "-c", "pass"]) for _ in range(args.runs)]
    print(f"{'python -c pass':31} {_summary(interpreter)}")
    for strategy in args.strategies.split(","):
        cold = []
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="startup-cold-") as empty:
                cold.append(_run(command("--strategy", strategy, "--cache-dir", empty)))
        none = [_run(command("--strategy", strategy, "--no-cache")) for _ in range(args.runs)]
        with tempfile.TemporaryDirectory(prefix="startup-warm-") as cache:
            _run(command("--strategy", strategy, "--cache-dir", cache))
            warm = [_run(command("--strategy", strategy, "--cache-dir", cache))
                     for _ in range(args.runs)]
            parts = []
            for _ in range(args.runs if args.command is None else 0):
                proc = subprocess.run([sys.executable, "-c", _BREAKDOWN, str(guest),
                                       str(args.host), cache, strategy, call],
                                      capture_output=True, text=True, check=True, cwd=ROOT,
                                      env=_ENV)
                parts.append([float(x) for x in proc.stdout.split()])
        print(f"{strategy}: cold (empty cache)    {_summary(cold)}")
        print(f"{strategy}: no cache              {_summary(none)}")
        ratio = min(w for w, _ in cold) / min(w for w, _ in warm)
        print(f"{strategy}: warm (cache on disk)  {_summary(warm)}   cold/warm {ratio:.1f}x")
        if parts:
            best = min(parts, key=sum)
            print(f"{strategy}: warm, inside: imports {best[0]:.3f} s, decode {best[1]:.3f} s, "
                  f"link + load modules + instantiate {best[2]:.3f} s, call {best[3]:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
