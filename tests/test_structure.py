"""The package's shape: no import cycle (lazy imports inside functions included), no module over 300 lines, every
module on one part of ``docs/structure-whiteboard.json`` and no import that its never-rules forbid."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "nqmix_core"
MAX_LINES = 300


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, known: set[str]) -> set[str]:
    """nqmix_core modules that ``path`` imports anywhere in its body (``from x import y`` may name a module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in known}


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(files)
    graph = {}
    for name, path in files.items():
        # a package's own submodules are not a cycle with it (``pkg/__init__`` importing ``pkg.sub``)
        graph[name] = {m for m in imports(path, known) if m != name and not name.startswith(m + ".")}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_cycle_finder_finds_a_known_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    assert cycles(import_graph()) == []


def test_no_module_over_300_lines():
    long = {module_name(p): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}


WHITEBOARD = PACKAGE.parent / "docs" / "structure-whiteboard.json"


def parts_of_modules() -> dict[str, str]:
    """Package module -> the whiteboard part whose files or folders hold it."""
    import json
    board = json.loads(WHITEBOARD.read_text())
    owner = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).as_posix()
        holders = [part for part, spec in board["parts"].items()
                   for place in spec["is"] if relative == place or (place.endswith("/") and relative.startswith(place))]
        owner[module_name(path)] = holders[0] if len(holders) == 1 else f"on {len(holders) or 'no'} parts"
    return owner


def test_every_module_sits_on_one_part_of_the_whiteboard():
    """``docs/structure-whiteboard.json`` is the package's picture: a new module is placed on it."""
    owner = parts_of_modules()
    unplaced = {m: where for m, where in owner.items() if where.startswith("on ") and m != "nqmix_core"}
    assert unplaced == {}


def test_no_import_breaks_a_never_rule_of_the_whiteboard():
    """An import from one part to another that the whiteboard says must never import it (lazy imports too)."""
    import json
    never = {(a, b): why for a, b, why in json.loads(WHITEBOARD.read_text())["never"]}
    owner = parts_of_modules()
    broken = [f"{m} -> {n}: {never[owner[m], owner[n]]}" for m, targets in import_graph().items() for n in targets
              if (owner.get(m), owner.get(n)) in never]
    assert broken == []
