"""The package's shape (``../shared/DESIGN.md``): no import cycles, data flows one way, modules stay small.

Imports are read from the source (every ``import`` statement, the ones inside functions included), so a
cycle hidden behind a lazy import is caught too.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "babylm"
MAX_LINES = 420  # "modules under ~400 lines"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """``{module: the babylm modules it imports}`` (``from pkg import mod`` counts as importing ``pkg.mod``)."""
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.add(node.module)
                targets.update(f"{node.module}.{alias.name}" for alias in node.names)
        graph[name] = {t for t in targets if t in modules and t != name and not name.startswith(t + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle among modules (ignoring ``package → its own submodule`` edges), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if target.startswith(node + "."):
                continue  # a package's __init__ naming its own submodules is not a cycle
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def imports_of(prefix: str) -> set[str]:
    return {t for name, targets in import_graph().items() if name == prefix or name.startswith(prefix + ".") for t in targets}


def test_data_flows_one_way():
    # data knows nothing of models, training or evaluation
    assert not {t for t in imports_of("babylm.data") if t.startswith(("babylm.models", "babylm.evaluation", "babylm.training_cli", "babylm.export"))}
    # the offline sources never reach into the text stages, the scraper, or the token stage
    assert not {t for t in imports_of("babylm.data.sources") if t.startswith(("babylm.data.text", "babylm.data.wikisource", "babylm.data.tokens"))}
    # the scraper writes articles and nothing later
    assert not {t for t in imports_of("babylm.data.wikisource") if t.startswith(("babylm.data.text", "babylm.data.sources", "babylm.data.tokens"))}
    # evaluation and generation read models only through the exported directory, never through each other
    assert not {t for t in imports_of("babylm.evaluation") if t.startswith(("babylm.generate", "babylm.models"))}
    assert not {t for t in imports_of("babylm.generate") if t.startswith(("babylm.evaluation", "babylm.models"))}


def test_modules_stay_small():
    long = {module_name(p): n for p in PACKAGE.rglob("*.py") if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
