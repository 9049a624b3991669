"""Build every C guest in examples/c/ into a component.

    pip install -e '.[dev]'                       # ziglang and wasm-tools
    python examples/build_c_guests.py --out /tmp/c-guests
    stackswitch run /tmp/c-guests/blocking.component.wasm \
        --host examples/c/blocking_host.py --invoke 'run(21)'

For each ``examples/c/NAME.c`` (with its world in ``examples/c/NAME.wit``;
the two styles of one program, ``BASE_sync.c`` and ``BASE_callback.c``, may
share ``BASE.wit`` instead):

1. compile it freestanding with zig's C compiler (``python -m ziglang cc``,
   from the ``ziglang`` package on PyPI) into a core module;
2. ``wasm-tools component embed NAME.wit`` adds the world to it;
3. ``wasm-tools component new`` makes ``OUT/NAME.component.wasm``.

``--out DIR`` chooses the output directory (default: a new temporary
directory, printed; nothing is written inside the repository). A failing step
stops the build with a message naming the step, the command and its output.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # loaded by path (tests, benchmarks) rather than run as a script
    sys.path.insert(0, str(HERE))
from build_support import BuildError, run_step, zig_and_wasm_tools  # noqa: E402

C_DIR = HERE / "c"

# A program written in both styles: BASE_sync.c and BASE_callback.c share BASE.wit.
STYLE_SUFFIXES = ("_sync", "_callback")

CFLAGS = ["-target", "wasm32-freestanding", "-O2", "-nostdlib", "-Wl,--no-entry", "-s"]


def world_of(source: Path) -> Path:
    """``NAME.wit`` next to ``source``; for ``BASE_sync.c`` or ``BASE_callback.c`` without one, ``BASE.wit``."""
    wit = source.with_suffix(".wit")
    if wit.exists():
        return wit
    for suffix in STYLE_SUFFIXES:
        if source.stem.endswith(suffix):
            return source.with_name(source.stem.removesuffix(suffix) + ".wit")
    return wit


def build_guest(source: Path, out: Path, *, verbose: bool = True) -> Path:
    """Build ``source`` (next to its ``.wit``) into ``out/NAME.component.wasm``."""
    wasm_tools = zig_and_wasm_tools()
    name = source.stem
    wit = world_of(source)
    if not wit.exists():
        raise BuildError(f"{source.name}: no world {wit.name} next to it")
    out.mkdir(parents=True, exist_ok=True)
    core = out / f"{name}.core.wasm"
    embed = out / f"{name}.embed.wasm"
    component = out / f"{name}.component.wasm"
    run_step(f"{name}: compile {source.name} (zig cc)",
             [sys.executable, "-m", "ziglang", "cc", *CFLAGS, str(source), "-o", str(core)],
             verbose)
    run_step(f"{name}: wasm-tools component embed {wit.name}",
             [wasm_tools, "component", "embed", str(wit), str(core), "-o", str(embed)], verbose)
    run_step(f"{name}: wasm-tools component new",
             [wasm_tools, "component", "new", str(embed), "-o", str(component)], verbose)
    return component


def build_all(out: Path, *, verbose: bool = True) -> list[Path]:
    """Build every ``examples/c/*.c``; the component paths, in name order."""
    built = []
    for source in sorted(C_DIR.glob("*.c")):
        if verbose:
            print(f"building {source.relative_to(C_DIR.parent)} -> "
                  f"{out / (source.stem + '.component.wasm')}", flush=True)
        start = time.perf_counter()
        built.append(build_guest(source, out, verbose=verbose))
        if verbose:
            print(f"  done in {time.perf_counter() - start:.2f} s", flush=True)
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="output directory (default: a new temporary directory)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    args = parser.parse_args(argv)
    out = args.out if args.out is not None else Path(tempfile.mkdtemp(prefix="c-guests-"))
    try:
        built = build_all(out, verbose=not args.quiet)
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"built {len(built)} component(s) in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
