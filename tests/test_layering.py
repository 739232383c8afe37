"""archc's modules import one way, down the pipeline of ARCHITECTURE.md, and in no cycle.

Every ``import`` of every module under archc/ is read with ``ast`` (without importing
anything), including imports inside functions (a lazy import is still a dependency; the CLI
uses them to stay fast) and under ``if TYPE_CHECKING:``. Each top-level module or package of
archc sits on one layer of ``LAYERS``; a module may import its own package and the layers
below its own, never a layer above and never a neighbour on the same layer.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import networkx as nx
import pytest

from .conftest import ROOT

# Bottom to top. The names are archc's top-level modules and packages; "" is archc/__init__.py.
LAYERS: list[tuple[str, ...]] = [
    ("diagnostics", "limits", "_version", "sym"),  # errors, limits, the version, symbolic sizes: every stage uses them
    ("_torch",),  # importing torch where a command needs it, with a diagnostic when it is missing
    ("ops",),  # what each op is (shape, counts, emission facts); every stage reads it
    ("spec",),  # the surface language; it checks op names against the registry while loading
    ("ir",),  # lowering the spec to the graph, the graph's checks and passes
    ("analysis",),  # figures from the graph
    ("render", "emit"),  # pictures and code from the graph and its figures, not from each other
    ("porting",),  # weights from one spec's module onto another's: the graphs, their rows and emitted modules
    ("api",),  # load / lower / analyze / compile / build / diagram: the pipeline, put together
    ("",),  # the package: the public API re-exported
    ("bench", "output"),  # what commands need beyond the API: timing, writing files
    ("commands",),  # one module per subcommand
    ("cli",),
    ("__main__",),
]

# Imports the layering allows but the design does not: "no stage after lowering reads the spec".
# (importer's unit, imported unit) -> why it is still there.
NOT_YET: dict[tuple[str, str], str] = {}
AFTER_LOWERING = ("analysis", "render", "emit")

# Import cycles that exist today, each to be removed by issue 13's redesign. A cycle found must lie
# within one of these; a new one fails. Delete an entry once its cycle is gone.
KNOWN_CYCLES = [
    # type-only: table.py names Report and Row in annotations (under TYPE_CHECKING); at run time
    # only report.py imports table.py (tests/test_api_imports.py checks there is no runtime cycle)
    {"archc.analysis.report", "archc.analysis.table"},
]


@dataclass(frozen=True)
class Import:
    importer: str  # module name, e.g. "archc.ops.conv"
    imported: str
    where: str  # path:line


def module_name(path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def read_imports() -> tuple[set[str], list[Import]]:
    """archc's module names, and each import of one archc module by another.

    ``from P import x`` depends on the module ``P.x`` where x is a submodule, else on ``P``
    (``from . import style`` in archc/render/digraph.py imports archc.render.style, not the
    package's __init__)."""
    files = sorted((ROOT / "archc").rglob("*.py"))
    modules = {module_name(f) for f in files}
    found: list[Import] = []
    for file in files:
        name = module_name(file)
        package = name if file.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                targets = [f"{source}.{a.name}" if f"{source}.{a.name}" in modules else source for a in node.names]
            where = f"{file.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            found += [Import(name, t, where) for t in targets if t in modules and t != name]
    return modules, found


def unit(module: str) -> str:
    """The top-level module or package of archc a module belongs to ("" for archc itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def layering_errors(imports: list[Import]) -> list[str]:
    errors = []
    for imp in imports:
        a, b = unit(imp.importer), unit(imp.imported)
        if a == b:
            continue
        if RANK[b] >= RANK[a]:
            where = "on its own layer" if RANK[b] == RANK[a] else "a layer above"
            errors.append(f"{imp.where}: {imp.importer} imports {imp.imported}, {where} (archc.{b or '__init__'})")
        elif a in AFTER_LOWERING and b == "spec" and (a, b) not in NOT_YET:
            errors.append(f"{imp.where}: {imp.importer} imports {imp.imported}: no stage after lowering reads the spec")
    return list(dict.fromkeys(errors))  # `from .api import a, b` is one line, one error


def new_cycles(imports: list[Import]) -> list[list[str]]:
    """Import cycles (strongly connected groups of modules) not within a known one."""
    graph = nx.DiGraph((imp.importer, imp.imported) for imp in imports)
    groups = [c for c in nx.strongly_connected_components(graph) if len(c) > 1]
    return [sorted(c) for c in groups if not any(c <= known for known in KNOWN_CYCLES)]


@pytest.fixture(scope="module")
def imports() -> list[Import]:
    return read_imports()[1]


def test_every_part_of_archc_has_a_layer() -> None:
    modules, _ = read_imports()
    assert {unit(m) for m in modules} == set(RANK), "place a new top-level module or package in LAYERS"


def test_the_reader_sees_imports_of_every_kind(imports: list[Import]) -> None:
    """Relative, absolute-within-archc, from-package-import-submodule and lazy imports are all
    found (a reader that missed them would make the tests below pass vacuously)."""
    edges = {(i.importer, i.imported) for i in imports}
    assert ("archc.api", "archc.spec.loader") in edges  # from .spec.loader import Loader
    assert ("archc.render.digraph", "archc.render.style") in edges  # from . import style as st
    assert ("archc.api", "archc.emit") in edges  # inside build(): from .emit import exec_source
    assert ("archc.commands.ops", "archc.api") in edges  # lazy, inside a function
    assert ("archc.cli", "archc") in edges  # from . import __version__


def test_imports_go_down_the_pipeline(imports: list[Import]) -> None:
    errors = layering_errors(imports)
    assert not errors, "\n".join(errors)


def test_no_new_import_cycles(imports: list[Import]) -> None:
    cycles = new_cycles(imports)
    assert not cycles, f"import cycles between archc modules, not in KNOWN_CYCLES: {cycles}"


def test_the_checks_catch_what_they_forbid() -> None:
    def imp(a: str, b: str) -> Import:
        return Import(a, b, "x.py:1")

    assert layering_errors([imp("archc.ops.conv", "archc.api")])  # an op importing the API
    assert layering_errors([imp("archc.spec.loader", "archc.ir.graph")])
    assert layering_errors([imp("archc.emit.module", "archc.render.style")])  # a neighbour
    assert layering_errors([imp("archc.analysis.table", "archc.commands._common")])
    assert layering_errors([imp("archc.render.fold", "archc.spec.model")])  # after lowering
    assert not layering_errors([imp("archc.ir.lower", "archc.ops.registry"), imp("archc.ops.conv", "archc.ops.base")])
    cycle = [imp("archc.ir.graph", "archc.ir.check"), imp("archc.ir.check", "archc.ir.graph")]
    assert new_cycles(cycle) == [["archc.ir.check", "archc.ir.graph"]]
    # a known cycle that grows is a new one
    grown = [imp("archc.analysis.report", "archc.analysis.table"), imp("archc.analysis.table", "archc.analysis.memory"),
             imp("archc.analysis.memory", "archc.analysis.report")]
    assert new_cycles(grown)
    assert not new_cycles(grown[:1] + [imp("archc.analysis.table", "archc.analysis.report")])
