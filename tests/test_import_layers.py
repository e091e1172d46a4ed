"""The packages' imports form layers without cycles: `cds_hooks` (the protocol) knows nothing of
`service`; inside `service`, the vocabulary, facts and rules never reach up to the cards, the
HTTP app, the storage or the configuration file. Imports inside functions count too (a lazy
import hides a cycle, it does not remove it), and importing `a.b.c` runs `a/__init__` and
`a/b/__init__` first, so those count as well."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("service", "cds_hooks")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    files = {module_name(f): f for package in PACKAGES for f in (ROOT / package).rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                parts = target.split(".")
                for end in range(1, len(parts) + 1):  # the packages it runs on the way
                    prefix = ".".join(parts[:end])
                    if prefix in files and prefix != name and not name.startswith(prefix + "."):
                        graph[name].add(prefix)
    return graph


# Read once, while the test modules are collected: CPython 3.11's ast module keeps a recursion
# counter in interpreter-wide state, and once something in the process (an earlier test, another
# thread) has left it off, every later ast.parse fails with "AST constructor recursion depth
# mismatch" (python/cpython gh-106905) — as seen once in the full suite.
GRAPH = import_graph()


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_is_read() -> None:
    graph = GRAPH
    assert "service.vocabulary" in graph["service.facts.model"]
    assert "service.facts" in graph["service.evaluation"]  # the package __init__ runs too


def test_there_is_no_import_cycle() -> None:
    assert cycles(GRAPH) == []


def test_a_cycle_would_be_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_the_protocol_package_imports_nothing_of_the_service() -> None:
    graph = GRAPH
    reaching = {
        (name, target)
        for name, targets in graph.items()
        if name.startswith("cds_hooks")
        for target in targets
        if target.startswith("service")
    }
    assert reaching == set()


# What the lower layers must never import (the layer above them, or the file and the wire).
FORBIDDEN_BELOW = {
    "service.vocabulary": ("service.",),
    "service.facts": (
        "service.prefetch_templates",  # facts take what was fetched, not how it was asked for
        "service.rules",
        "service.cards",
        "service.config",
        "service.app",
        "service.storage",
        "service.evaluation",
        "service.moments",
    ),
    "service.rules": (
        "service.cards",
        "service.config",
        "service.app",
        "service.storage",
        "service.evaluation",
        "service.moments",
    ),
}


def test_facts_and_rules_do_not_reach_up() -> None:
    graph = GRAPH
    breaches = sorted(
        (name, target)
        for name, targets in graph.items()
        for layer, forbidden in FORBIDDEN_BELOW.items()
        if name == layer or name.startswith(layer + ".")
        for target in targets
        if target.startswith(forbidden) and not target.startswith(layer)
    )
    assert breaches == []
