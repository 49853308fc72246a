"""No import cycle between the parts of cds_service (api, hooks, fhir, clinical, rules, cards,
...; a module directly under cds_service, such as app.py, is a part of its own).

The graph is read from the source with `ast`: only imports that run when a module is imported
count (module level, including inside a top-level `if`/`try`), not imports inside functions
and not those under `if TYPE_CHECKING:`. A cycle means no part can be read, tested or
replaced without the others; the failure prints each cycle with the imports that make it.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from collections.abc import Iterator
from pathlib import Path

import cds_service

ROOT = Path(cds_service.__file__).parent
# Not imported as libraries: Alembic runs env.py (it fails outside a migration by design) and
# `python -m cds_service` runs __main__ (it runs the CLI).
NOT_IMPORTABLE = frozenset({"cds_service.store.migrations.env", "cds_service.__main__"})

# Imports allowed inside a cycle (module -> module it imports). None: the CDS Hooks types
# live in the leaf package cdshooks/, which fhir/, cards/, rules/ and hooks/ all import.
ALLOWED: frozenset[tuple[str, str]] = frozenset()

Edge = tuple[str, str]  # (importing module, imported module)


def modules() -> dict[str, Path]:
    """Every module of the package, by dotted name."""
    found: dict[str, Path] = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def part(module: str) -> str:
    """The part a module belongs to: "cds_service.fhir.client" -> "fhir"."""
    names = module.split(".")
    return names[1] if len(names) > 1 else names[0]


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_imports(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements that run on import: module level and in top-level blocks."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _runtime_imports(node.body)
            yield from _runtime_imports(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _runtime_imports(block)
            for handler in node.handlers:
                yield from _runtime_imports(handler.body)
        elif isinstance(node, ast.With):
            yield from _runtime_imports(node.body)


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The cds_service modules `module` imports at import time."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            # "from pkg import name" imports pkg.name when that is a module
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        found.update(t for t in targets if t in known)
    return found


def module_edges() -> set[Edge]:
    known = modules()
    names = set(known)
    return {
        (module, target)
        for module, path in known.items()
        for target in imports_of(module, path, names)
        if part(module) != part(target) and module != "cds_service" and target != "cds_service"
    }


def cycles(edges: set[Edge]) -> list[list[str]]:
    """One cycle (a list of parts, first repeated last) per strongly connected group of parts."""
    graph: dict[str, set[str]] = {}
    for source, target in edges:
        graph.setdefault(part(source), set()).add(part(target))
    found: list[list[str]] = []
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path = _path_back(graph, start)
        if path is not None:
            found.append(path)
            done.update(path)
    return found


def _path_back(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """The shortest path from `start` back to itself (breadth first), or None."""
    queue: list[list[str]] = [[start]]
    seen = {start}
    while queue:
        path = queue.pop(0)
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                queue.append([*path, nxt])
    return None


def describe(cycle: list[str], edges: set[Edge]) -> str:
    lines = [" -> ".join(cycle)]
    for source, target in zip(cycle, cycle[1:], strict=False):
        why = sorted(f"{m} imports {t}" for m, t in edges if (part(m), part(t)) == (source, target))
        lines.append(f"  {source} -> {target}: " + "; ".join(why))
    return "\n".join(lines)


def test_every_module_imports() -> None:
    """The graph below is of real modules: each one imports on its own."""
    names = {m.name for m in pkgutil.walk_packages([str(ROOT)], "cds_service.")}
    assert names | {"cds_service"} == set(modules())
    for name in sorted(names - NOT_IMPORTABLE):
        importlib.import_module(name)


def test_no_import_cycle_between_parts() -> None:
    edges = module_edges()
    found = cycles(edges - ALLOWED)
    assert not found, "import cycles between parts of cds_service:\n" + "\n".join(
        describe(cycle, edges) for cycle in found
    )


def test_the_allowed_cycle_edges_still_exist() -> None:
    """The allowed list only shrinks: an entry whose import is gone must go too."""
    gone = ALLOWED - module_edges()
    assert not gone, f"no longer imported, remove from ALLOWED: {sorted(gone)}"


def test_cdshooks_is_a_leaf() -> None:
    """The CDS Hooks wire types import nothing of the service but its error types."""
    outward = {
        (source, target)
        for source, target in module_edges()
        if part(source) == "cdshooks" and target != "cds_service.errors"
    }
    assert not outward, sorted(outward)


def test_a_cycle_is_found_and_named() -> None:
    """The checker itself: a made-up back edge is reported with the import that makes it."""
    edges = module_edges() | {("cds_service.clinical.units", "cds_service.api.services")}
    found = cycles(edges - ALLOWED)
    assert found
    text = "\n".join(describe(cycle, edges) for cycle in found)
    assert "clinical -> api" in text
    assert "cds_service.clinical.units imports cds_service.api.services" in text
