"""snapbuild's modules and the snapbuild modules each imports, read from the source with `ast`
(lazy imports inside functions included), for the layer and entry-point tests."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

from snapbuild.recipe.project import DEFAULT

PACKAGE = DEFAULT.root / "snapbuild"


def module_files() -> dict[str, Path]:
    """Dotted name -> file of every module in the package (directories without an __init__.py,
    such as package data, are not packages)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent)
        if not all(
            (PACKAGE.parent / parent / "__init__.py").is_file() for parent in relative.parents if parent != Path(".")
        ):
            continue
        parts = list(relative.with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


MODULES = module_files()


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str) -> set[str]:
    """The snapbuild modules `module` imports, anywhere in its file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            names: Iterable[str] = (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            # `from snapbuild.build import backends` imports the module snapbuild.build.backends.
            names = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source for alias in node.names
            ]
        else:
            continue
        found.update(name for name in names if name.split(".")[0] == "snapbuild")
    return found - {module}


def unit(module: str) -> str:
    return ".".join(module.split(".")[:2])
