"""snapbuild's layers: every import, lazy ones inside functions included, goes down the layer
order below, so the package-level import graph has no cycle (docs/layout.md, "The tooling")."""

from __future__ import annotations

import fnmatch

import pytest

from snapbuild.recipe.project import DEFAULT
from tests.unit.modules import MODULES, PACKAGE, imports, unit

# Lowest first. A unit (a top-level module or a subpackage) may import itself and the units of
# lower layers only; units of one layer do not import each other.
LAYERS: list[set[str]] = [
    {"snapbuild.errors", "snapbuild.fileutil", "snapbuild.progress"},
    {"snapbuild.cli"},
    {"snapbuild.recipe"},
    {"snapbuild.machines"},
    {"snapbuild.build"},
    {"snapbuild.review"},
    {"snapbuild.release", "snapbuild.bench", "snapbuild.lint"},
]
RANK = {unit: rank for rank, layer in enumerate(LAYERS) for unit in layer}


def graph(units: bool) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module in MODULES:
        source = unit(module) if units else module
        targets = {unit(m) if units else m for m in imports(module)}
        edges.setdefault(source, set()).update(targets - {source})
    return edges


def cycle(edges: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph as a path, or [] when it has none."""
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> list[str]:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return trail[trail.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt, trail + [nxt])
                if found:
                    return found
        state[node] = "done"
        return []

    for node in sorted(edges):
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return []


def test_the_walk_sees_the_package_and_its_lazy_imports() -> None:
    assert {"snapbuild.recipe.check", "snapbuild.build.backends", "snapbuild.review.snapcheck"} <= set(MODULES)
    assert "snapbuild.machines.data" not in MODULES
    # Module-level and function-level imports both count.
    assert "snapbuild.build.buildfacts" in imports("snapbuild.review.snapcheck")
    assert "snapbuild.build.relocation" in imports("snapbuild.review.snapcheck")  # imported inside inspect_snap
    assert "snapbuild.build.backends" in imports("snapbuild.build.devtry")  # `from snapbuild.build import backends`


def test_every_unit_has_a_layer() -> None:
    units = {unit(m) for m in MODULES} - {"snapbuild"}
    assert units - set(RANK) == set(), "add the new module or subpackage to LAYERS (and docs/layout.md)"
    assert set(RANK) - units == set(), "a unit in LAYERS no longer exists"


def test_the_package_itself_imports_nothing() -> None:
    assert imports("snapbuild") == set()
    for name in MODULES:
        if MODULES[name].name == "__init__.py":
            assert imports(name) == set(), f"{name}: keep subpackage __init__ files free of imports"


def test_imports_only_go_down_the_layers() -> None:
    wrong = [
        f"{module} imports {target}"
        for module in MODULES
        if module != "snapbuild"
        for target in sorted(imports(module))
        if unit(target) != unit(module) and RANK[unit(target)] >= RANK[unit(module)]
    ]
    assert wrong == []


def test_the_package_level_import_graph_is_acyclic() -> None:
    assert cycle(graph(units=True)) == []


def test_no_module_import_cycle_either() -> None:
    assert cycle(graph(units=False)) == []


def test_the_cycle_finder_finds_one() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) == []


def test_every_module_has_a_test_module() -> None:
    """tests/unit mirrors snapbuild: snapbuild/build/pack.py is tested in tests/unit/build/test_pack.py."""
    tests = DEFAULT.root / "tests" / "unit"
    missing = [
        f"{name}: add {path.relative_to(DEFAULT.root)}"
        for name, module in MODULES.items()
        if module.name != "__init__.py"
        for path in [tests / module.parent.relative_to(PACKAGE) / f"test_{module.stem}.py"]
        if not path.is_file()
    ]
    assert missing == []


def test_every_test_directory_is_collected(pytestconfig: pytest.Config) -> None:
    """pytest skips directories its norecursedirs names (by default `build`, which would skip
    tests/unit/build without a word)."""
    patterns = pytestconfig.getini("norecursedirs")
    directories = [p for p in (DEFAULT.root / "tests" / "unit").rglob("*") if p.is_dir() and p.name != "__pycache__"]
    skipped = [
        str(d.relative_to(DEFAULT.root)) for d in directories if any(fnmatch.fnmatch(d.name, pat) for pat in patterns)
    ]
    assert skipped == []
    assert {d.name for d in directories} >= {"recipe", "machines", "build", "review", "hooks"}
