"""Build the WASI C programs of examples/wasi/ (0.2 commands) and examples/wasi3/ (0.3) into components.

    pip install -e '.[dev]'                       # ziglang and wasm-tools
    python examples/build_wasi_guests.py --out /tmp/wasi-guests
    stackswitch run /tmp/wasi-guests/hello.component.wasm --dir .::/data a b

For each ``examples/wasi/NAME.c``:

1. compile it against wasi-libc with zig's C compiler (``python -m ziglang cc
   -target wasm32-wasi``): a WASI 0.1 core module with a ``_start``;
2. ``wasm-tools component new --adapt`` with WASI 0.1's *command* adapter
   turns it into a component importing WASI 0.2 and exporting ``wasi:cli/run``.

For each ``examples/wasi3/NAME.c`` (freestanding C on the async built-ins, no
libc targets WASI 0.3 yet), zig compiles it freestanding and ``wasm-tools
component embed`` / ``new`` use its world ``NAME.wit`` with WASI 0.3.0's WIT
packages as dependencies.

The adapter is ``lib/wasi_snapshot_preview1.command.wasm`` of npm's
``@bytecodealliance/jco`` (pinned in ``build_support.py``, whose fetch the toolchain build
shares), and the WASI 0.3.0 packages its
``lib/wit/builtin/0.3.0/``; both are fetched once with ``npm pack``
(node and npm are on the machine; the registry is the only network use) into
the cache directory (``--cache``, default ``$STACKSWITCH_CACHE_DIR``, else
``$XDG_CACHE_HOME/stackswitch`` or ``~/.cache/stackswitch``) and reused
afterwards. ``--adapter FILE`` uses a given one instead. A failing step stops
the build with a message naming it.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # loaded by path (tests, benchmarks) rather than run as a script
    sys.path.insert(0, str(HERE))
from build_support import (  # noqa: E402
    JCO_ADAPTER,
    BuildError,
    default_cache,
    fetch_jco,
    run_step,
    zig_and_wasm_tools,
)

WASI_DIR = HERE / "wasi"
WASI3_DIR = HERE / "wasi3"
WASI3 = "0.3.0"
CFLAGS = ["-target", "wasm32-wasi", "-O2", "-s"]
CFLAGS_FREESTANDING = ["-target", "wasm32-freestanding", "-O2", "-nostdlib", "-Wl,--no-entry", "-s"]


def build_guest(source: Path, out: Path, adapter: Path, *, verbose: bool = True) -> Path:
    """Build ``source`` into ``out/NAME.component.wasm``."""
    wasm_tools = zig_and_wasm_tools()
    out.mkdir(parents=True, exist_ok=True)
    core = out / f"{source.stem}.core.wasm"
    component = out / f"{source.stem}.component.wasm"
    run_step(f"{source.stem}: compile {source.name} (zig cc -target wasm32-wasi)",
             [sys.executable, "-m", "ziglang", "cc", *CFLAGS, str(source), "-o", str(core)],
             verbose)
    run_step(f"{source.stem}: wasm-tools component new --adapt",
             [wasm_tools, "component", "new", str(core), "--adapt",
              f"wasi_snapshot_preview1={adapter}", "-o", str(component)], verbose)
    return component


def build_wasi3_guest(source: Path, out: Path, jco: Path, *, verbose: bool = True) -> Path:
    """Build a WASI 0.3 guest (freestanding C, world ``NAME.wit`` beside it) into a component."""
    wasm_tools = zig_and_wasm_tools()
    out.mkdir(parents=True, exist_ok=True)
    name = source.stem
    wit = out / f"{name}.wit"  # the world, with the WASI packages as its deps
    if wit.exists():
        shutil.rmtree(wit)
    shutil.copytree(jco / "wit" / WASI3, wit / "deps")
    shutil.copy(source.with_suffix(".wit"), wit / "world.wit")
    core, embed = out / f"{name}.core.wasm", out / f"{name}.embed.wasm"
    component = out / f"{name}.component.wasm"
    run_step(f"{name}: compile {source.name} (zig cc, freestanding)",
             [sys.executable, "-m", "ziglang", "cc", *CFLAGS_FREESTANDING, str(source), "-o",
              str(core)], verbose)
    run_step(f"{name}: wasm-tools component embed",
             [wasm_tools, "component", "embed", str(wit), str(core), "-o", str(embed)], verbose)
    run_step(f"{name}: wasm-tools component new",
             [wasm_tools, "component", "new", str(embed), "-o", str(component)], verbose)
    return component


def build_all(out: Path, *, cache: Path | None = None, adapter: Path | None = None,
              verbose: bool = True) -> list[Path]:
    """Build every ``examples/wasi/*.c`` (0.2 commands) and ``examples/wasi3/*.c`` (0.3);
    the component paths, in that order."""
    jco = fetch_jco(cache or default_cache(), verbose)
    adapter = adapter or jco / JCO_ADAPTER
    built = []
    for source in sorted(WASI_DIR.glob("*.c")) + sorted(WASI3_DIR.glob("*.c")):
        start = time.perf_counter()
        if source.parent == WASI_DIR:
            built.append(build_guest(source, out, adapter, verbose=verbose))
        else:
            built.append(build_wasi3_guest(source, out, jco, verbose=verbose))
        if verbose:
            print(f"built {built[-1]} in {time.perf_counter() - start:.2f} s", flush=True)
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: a new temporary directory)")
    parser.add_argument("--cache", type=Path, default=None,
                        help="where the fetched adapter is kept (default: ~/.cache/stackswitch)")
    parser.add_argument("--adapter", type=Path, default=None,
                        help="a wasi_snapshot_preview1.command.wasm to use instead of fetching one")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else Path(tempfile.mkdtemp(prefix="wasi-guests-"))
    try:
        built = build_all(out, cache=args.cache, adapter=args.adapter, verbose=not args.quiet)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"built {len(built)} component(s) in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
