"""The package's shape (``../shared/DESIGN.md``): layers, one-way data flow, no import cycles, small modules.

Imports are read from the source (every ``import`` statement, the ones inside functions included), so an
upward reach or a cycle hidden behind a lazy import is caught too.

The layers, lowest first; a module may import only from its own layer or a lower one:

====================  ===============================================================================
``babylm.core``       plumbing every layer may use: atomic files, safe JSON, output ownership, guards
``babylm.data``       the corpus: scrape/ingest → text stages → tokenizer → token files → DataModule
``babylm.models``     pure torch / Hugging Face: architectures, losses, the exported folder, BabyLM tracks
``babylm.evaluation`` exported models in use: BLiMP, perplexity, reports, the learning curve, sampling
``babylm.training``   Lightning: the modules, frozen teachers, callbacks, the teacher-cache build, checks
``babylm.commands``   every ``python -m babylm <command>`` entry point
``babylm.cli``        the dispatcher (and ``__main__``)
====================  ===============================================================================
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "babylm"
MAX_LINES = 420  # "modules under ~400 lines"
MAX_LINE_LENGTH = 120
LAYERS = (
    "babylm.core",
    "babylm.data",
    "babylm.models",
    "babylm.evaluation",
    "babylm.training",
    "babylm.commands",
    "babylm.cli",
    "babylm.__main__",
)


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


def layer_of(module: str) -> int | None:
    """Index of ``module``'s layer in :data:`LAYERS` (-1 for the package itself), or None when it has none."""
    if module == "babylm":
        return -1
    for index, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            return index
    return None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``"a -> b"`` for every import of a module from a higher layer than the importer's."""
    return sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        for target in targets
        if (layer_of(target) or -1) > (layer_of(name) or -1)
    )


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


def test_every_module_belongs_to_a_layer():
    assert [name for name in import_graph() if layer_of(name) is None] == []


def test_no_import_reaches_a_higher_layer():
    assert upward_imports(import_graph()) == []


def test_the_layer_check_finds_an_upward_import():
    graph = {"babylm.models.build": {"babylm.training.causal_lm"}, "babylm.training.causal_lm": {"babylm.models.build"}}
    assert upward_imports(graph) == ["babylm.models.build -> babylm.training.causal_lm"]


def test_no_import_cycle():
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def imports_of(prefix: str) -> set[str]:
    graph = import_graph()
    return {t for name, targets in graph.items() if name == prefix or name.startswith(prefix + ".") for t in targets}


def test_data_flows_one_way_inside_the_data_layer():
    # the offline sources never reach into the text stages, the scraper, or the token stage
    sources = imports_of("babylm.data.sources")
    assert not {t for t in sources
                if t.startswith(("babylm.data.text", "babylm.data.wikisource", "babylm.data.tokens"))}
    # the scraper writes articles and nothing later
    scraper = imports_of("babylm.data.wikisource")
    assert not {t for t in scraper if t.startswith(("babylm.data.text", "babylm.data.sources", "babylm.data.tokens"))}


def test_evaluation_sees_models_only_as_exported_folders():
    allowed = ("babylm.models.export", "babylm.models.tracks")
    assert not {t for t in imports_of("babylm.evaluation") if t.startswith("babylm.models") and t not in allowed}


def test_modules_stay_small():
    long = {
        module_name(p): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
