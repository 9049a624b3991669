"""Build the Python and JavaScript guests of examples/python/ and examples/js/ from source.

    pip install -e '.[dev]'                       # componentize-py (pinned there)
    python examples/build_toolchain_guests.py --out build
    stackswitch run build/async_app.wasm --host examples/python/async_host.py \
        --invoke 'work("key", 50)'

Guests (``--only NAME`` builds one; the names are the output files' stems):

* ``cli_app``: ``examples/python/cli_app.py``, world ``cli-app`` (a WASI 0.2
  command), by componentize-py;
* ``async_app``: ``examples/python/async_app.py``, world ``async-app`` (an async
  export awaiting a host call and a WASI 0.3 sleep), by componentize-py;
* ``async_app_stubbed``: the same with ``--stub-wasi`` (every WASI import,
  0.3's clock included, replaced by a trapping stub): links with no WASI host;
* ``js_cli_app``: ``examples/js/cli_app.js``, world ``js-cli-app`` (a WASI 0.2
  command), by npm's ``@bytecodealliance/componentize-js``.

Toolchains, all from package registries: componentize-py from PyPI (the
``dev`` extra pins it); componentize-js from npm, installed with ``npm
install`` into the cache (about 390 MB, once); WASI's WIT packages from npm's
``@bytecodealliance/jco`` (``npm pack``, 180 KB, once). Each guest is cached
by the digest of its sources, its world, the WIT packages, the tool's version
and flags, under ``$STACKSWITCH_CACHE_DIR`` (else ``$XDG_CACHE_HOME/stackswitch``
or ``~/.cache/stackswitch``; ``--cache DIR`` overrides), so a second build
copies it (``--rebuild`` builds anyway). A failing step stops the build with a
message naming the step, the command and its output; a missing toolchain
(no componentize-py, no npm) is named as such (exit status 3, so that tests
can tell it from a failing build).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
if str(EXAMPLES) not in sys.path:  # loaded by path (tests, benchmarks) rather than run as a script
    sys.path.insert(0, str(EXAMPLES))
from build_support import BuildError, default_cache, fetch_jco, run_step  # noqa: E402

PYTHON_DIR = EXAMPLES / "python"
JS_DIR = EXAMPLES / "js"

COMPONENTIZE_PY = "0.25.1"
COMPONENTIZE_JS = "@bytecodealliance/componentize-js@0.23.0"

WASI_02 = "0.2.12"
WASI_03 = "0.3.0"
WASI_PACKAGES = {  # (version, package) -> the directory under package/lib/wit/builtin/ in jco
    (WASI_02, name): f"{WASI_02}/wasi-{name}"
    for name in ("cli", "clocks", "filesystem", "io", "random", "sockets")
} | {(WASI_03, "clocks"): f"{WASI_03}/wasi-clocks"}

MISSING_TOOLCHAIN = 3
"""Exit status when a toolchain is not installed (rather than a build that failed)."""


class MissingToolchain(BuildError):
    """A toolchain is not installed here; the message says how to get it."""


@dataclass(frozen=True)
class Guest:
    name: str
    language: str  # "python" or "js"
    source: Path
    world: str
    wit_dir: Path
    flags: tuple[str, ...] = ()


GUESTS = (
    Guest("cli_app", "python", PYTHON_DIR / "cli_app.py", "cli-app", PYTHON_DIR / "wit"),
    Guest("async_app", "python", PYTHON_DIR / "async_app.py", "async-app", PYTHON_DIR / "wit"),
    Guest("async_app_stubbed", "python", PYTHON_DIR / "async_app.py", "async-app",
          PYTHON_DIR / "wit", ("--stub-wasi",)),
    Guest("js_cli_app", "js", JS_DIR / "cli_app.js", "js-cli-app", JS_DIR / "wit",
          # StarlingMonkey's fetch() would add wasi:http imports; these guests need none.
          ("-d", "http", "fetch-event")),
)


def _run(what: str, cmd: list[str], verbose: bool, cwd: Path | None = None,
         timeout: float = 900) -> None:
    """One toolchain step: bounded in time, its output cut to its ends, and a command that
    cannot be found a :class:`MissingToolchain`."""
    run_step(what, cmd, verbose, cwd, timeout=timeout, missing=MissingToolchain,
             max_output=6000)


def _publish(built: Path, target: Path) -> None:
    """Move ``built`` to ``target`` atomically (another build may be writing the same)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    shutil.copyfile(built, temporary)
    os.replace(temporary, target)


# -- toolchains -------------------------------------------------------------------------------


def componentize_py() -> list[str]:
    """The componentize-py command; :class:`MissingToolchain` if it is not installed."""
    try:
        found = metadata.version("componentize-py")
    except metadata.PackageNotFoundError:
        raise MissingToolchain(f"componentize-py is not installed: pip install "
                               f"componentize-py=={COMPONENTIZE_PY} (or pip install -e "
                               f"'.[dev]')") from None
    if found != COMPONENTIZE_PY:
        print(f"note: componentize-py {found} installed; these guests were written for "
              f"{COMPONENTIZE_PY}", file=sys.stderr)
    command = shutil.which("componentize-py")
    if command is None:
        candidate = Path(sys.executable).parent / "componentize-py"
        if not candidate.exists():
            raise MissingToolchain("componentize-py is installed but its command is not on "
                                   "PATH nor beside this Python")
        command = str(candidate)
    return [command]


def _npm() -> str:
    npm = shutil.which("npm")
    if npm is None:
        raise MissingToolchain("npm is not installed (apt-get install npm, or install "
                               "Node.js): the JavaScript toolchain and WASI's WIT "
                               "packages come from npm")
    return npm


def componentize_js(cache: Path, verbose: bool) -> list[str]:
    """The componentize-js command, installed into the cache by ``npm install`` if needed."""
    node = shutil.which("node")
    if node is None:
        raise MissingToolchain("node is not installed: componentize-js runs on Node.js")
    prefix = cache / "npm" / COMPONENTIZE_JS.replace("/", "+").lstrip("@")
    cli = prefix / "node_modules" / "@bytecodealliance" / "componentize-js" / "src" / "cli.js"
    if not cli.exists():
        prefix.mkdir(parents=True, exist_ok=True)
        _run(f"install {COMPONENTIZE_JS} (npm install)",
             [_npm(), "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
              "--no-save", "--loglevel=error", COMPONENTIZE_JS], verbose)
        if not cli.exists():
            raise BuildError(f"npm installed {COMPONENTIZE_JS} but {cli} is missing")
    return [node, str(cli)]


def wasi_wit(cache: Path, verbose: bool) -> Path:
    """WASI's WIT packages (``VERSION/wasi-NAME/package.wit``), from npm's jco, cached."""
    return fetch_jco(cache, verbose, npm=_npm(), missing=MissingToolchain) / "wit"


# -- building ---------------------------------------------------------------------------------


def _wit_tree(guest: Guest, wasi: Path, into: Path) -> Path:
    """``into/wit``: the guest's world(s) plus ``deps/NAME-VERSION/package.wit`` for WASI."""
    wit = into / "wit"
    shutil.copytree(guest.wit_dir, wit)
    for (version, name), directory in WASI_PACKAGES.items():
        dep = wit / "deps" / f"{name}-{version}"
        dep.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wasi / directory / "package.wit", dep / "package.wit")
    return wit


def _digest(guest: Guest, wasi: Path, tool: str) -> str:
    h = hashlib.sha256()
    parts = [guest.name, guest.world, tool, *guest.flags, guest.source.read_bytes()]
    parts += [p.read_bytes() for p in sorted(guest.wit_dir.rglob("*.wit"))]
    parts += [(wasi / d / "package.wit").read_bytes() for d in WASI_PACKAGES.values()]
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "little") + data)
    return h.hexdigest()[:32]


def build(guest: Guest, out: Path, cache: Path, *, rebuild: bool = False,
          verbose: bool = True) -> Path:
    """Build ``guest`` into ``out/NAME.wasm`` (from the cache if an identical build is there)."""
    wasi = wasi_wit(cache, verbose)
    if guest.language == "python":
        command = componentize_py()
        tool = f"componentize-py {metadata.version('componentize-py')}"
    else:
        command = componentize_js(cache, verbose)
        tool = COMPONENTIZE_JS
    cached = cache / "guests" / f"{guest.name}-{_digest(guest, wasi, tool)}.wasm"
    target = out / f"{guest.name}.wasm"
    if cached.exists() and not rebuild:
        _publish(cached, target)
        return target
    with tempfile.TemporaryDirectory(prefix=f"{guest.name}-") as tmp:
        work = Path(tmp)
        wit = _wit_tree(guest, wasi, work)
        built = work / "out.wasm"
        if guest.language == "python":
            app = work / "app"
            app.mkdir()
            shutil.copyfile(guest.source, app / guest.source.name)  # only the app is bundled
            _run(f"componentize-py ({guest.name})",
                 [*command, "-d", str(wit), "-w", guest.world, "componentize", *guest.flags,
                  "-p", str(app), guest.source.stem, "-o", str(built)], verbose, cwd=work)
        else:
            _run(f"componentize-js ({guest.name})",
                 [*command, str(guest.source), "--wit", str(wit), "-n", guest.world,
                  *guest.flags, "-o", str(built)], verbose, cwd=work)
        if not built.exists():
            raise BuildError(f"{guest.name}: the toolchain reported success but wrote nothing")
        _publish(built, cached)
    _publish(cached, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="output directory (default: a new temporary "
                                                  "directory, printed)")
    parser.add_argument("--only", action="append", choices=[g.name for g in GUESTS],
                        help="build only this guest (may be repeated)")
    parser.add_argument("--cache", type=Path, help="toolchains and built guests are kept here "
                                                    "(default: " + str(default_cache()) + ")")
    parser.add_argument("--rebuild", action="store_true", help="build even if cached")
    parser.add_argument("--quiet", action="store_true", help="print only the outputs")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="toolchain-guests-"))
    cache = args.cache or default_cache()
    chosen = [g for g in GUESTS if not args.only or g.name in args.only]
    try:
        for guest in chosen:
            start = time.perf_counter()
            if not args.quiet:
                print(f"{guest.name}: {guest.source.relative_to(EXAMPLES.parent)}", flush=True)
            target = build(guest, out, cache, rebuild=args.rebuild, verbose=not args.quiet)
            size = target.stat().st_size / 1e6
            print(f"{target}  ({size:.1f} MB, {time.perf_counter() - start:.1f} s)", flush=True)
    except MissingToolchain as e:
        print(f"error: {e}", file=sys.stderr)
        return MISSING_TOOLCHAIN
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
