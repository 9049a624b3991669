"""The folders are the layers: no upward import, no cycle, no stackswitch module importing a strategy.

The rules (docs/architecture.md, "Layers"), checked by reading every module's
imports with ``ast`` (imports inside functions and under ``TYPE_CHECKING``
included, since both are still dependencies a reader has to follow):

* a module imports only from its own layer or the layers below it;
* nothing in ``stackswitch`` imports ``callback_abi``: strategies plug in by
  name through the ``stackswitch.strategies`` entry point;
* no import cycle between modules (``TYPE_CHECKING``-only imports excepted:
  they never run) and none between packages;
* no two modules share a file name, so a name says which module it is.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("stackswitch", "callback_abi")

# Bottom to top. A module's layer is the longest prefix of its name listed here.
LAYERS: dict[str, int] = {
    "stackswitch.errors": 0,
    "stackswitch.limits": 0,
    "stackswitch.trace": 0,
    "stackswitch.stacks": 0,
    "stackswitch.scheduler": 0,
    "stackswitch.event_loop": 0,
    "stackswitch.version": 0,
    "stackswitch.compiled": 0,
    "stackswitch.wasm": 1,
    "stackswitch.canon": 2,
    "stackswitch.embed": 3,
    "stackswitch.component": 4,
    "stackswitch.wasi": 4,  # beside component: the linker's add_wasi reaches it; it uses no component module
    "stackswitch.text": 5,
    "stackswitch.observe": 5,  # watching a run: traces and logs (reads canon, changes nothing)
    "callback_abi": 5,  # a strategy: may use everything below the command line
    "stackswitch.cli": 6,
    "stackswitch": 7,  # the package itself: the public API (lazy) and __main__
}


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    type_checking: bool
    line: int


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The module of ours that ``name`` (a module or a name inside one) refers to."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> list[Import]:
    path, is_package = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    guarded = {id(n) for node in ast.walk(tree)
               if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                here = here[:len(here) - (node.level - 1)]
                base = ".".join(here + ([node.module] if node.module else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                found.append(Import(module, target, id(node) in guarded, node.lineno))
    return found


IMPORTS = [imp for module in sorted(MODULES) for imp in _imports(module)]


def _layer(module: str) -> int:
    prefix = module
    while prefix not in LAYERS:
        prefix = prefix.rpartition(".")[0]
    return LAYERS[prefix]


def _where(imp: Import) -> str:
    return f"{MODULES[imp.source][0].relative_to(ROOT)}:{imp.line} imports {imp.target}"


def test_the_walk_sees_the_whole_tree():
    assert {"stackswitch.canon.calls", "stackswitch.component.linker", "stackswitch.cli",
            "callback_abi.callback_strategy"} <= set(MODULES)
    assert any(i.target == "stackswitch.canon.calls" for i in IMPORTS)


def test_no_stackswitch_module_imports_callback_abi():
    bad = [_where(i) for i in IMPORTS
           if i.source.startswith("stackswitch") and i.target.startswith("callback_abi")]
    assert bad == []


def test_no_module_imports_from_a_layer_above_it():
    bad = [_where(i) for i in IMPORTS if _layer(i.target) > _layer(i.source)]
    assert bad == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_modules():
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in IMPORTS:
        if not imp.type_checking:
            graph[imp.source].add(imp.target)
    assert _cycles(graph) == []


def _package(module: str) -> str:
    """The folder a module lives in; the root package's own modules and its API are apart."""
    parts = module.split(".")
    if module in ("stackswitch", "stackswitch.__main__"):
        return "stackswitch (public API)"
    if parts[0] == "callback_abi":
        return "callback_abi"
    if len(parts) == 2 and not MODULES[module][1]:
        return "stackswitch (bottom)"
    return ".".join(parts[:2])


def test_no_import_cycle_between_packages():
    graph: dict[str, set[str]] = defaultdict(set)
    for imp in IMPORTS:
        a, b = _package(imp.source), _package(imp.target)
        graph[a]
        graph[b]
        if a != b:
            graph[a].add(b)
    assert _cycles(dict(graph)) == []
    assert "stackswitch.canon" in graph["stackswitch.component"]


def test_no_two_modules_share_a_name():
    by_name: dict[str, list[str]] = defaultdict(list)
    for module, (path, is_package) in MODULES.items():
        if not is_package and path.name != "__main__.py":
            by_name[path.stem].append(module)
    assert {name: mods for name, mods in by_name.items() if len(mods) > 1} == {}
