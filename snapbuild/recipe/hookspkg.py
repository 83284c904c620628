"""The hooks package of a project's source tree, imported as the tooling's own module.

The hooks package is a separate distribution (it ships inside the snap), so the tooling
imports it from the tree next to the recipe: the generated docs and the audit then always
match that code. A copy of `ondemand_hooks` loaded from another tree (another checkout, a
test's temporary project) is dropped first, or its stale modules would be used instead.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

from snapbuild.errors import ToolError
from snapbuild.recipe.project import Project

PACKAGE = "ondemand_hooks"


def hooks_module(project: Project, name: str) -> ModuleType:
    """`ondemand_hooks.<name>` from `project.root / "hooks"`."""
    hooks_dir = project.root / "hooks"
    loaded = sys.modules.get(PACKAGE)
    origin = getattr(loaded, "__file__", None) if loaded is not None else None
    if origin is not None and Path(origin).parent.parent != hooks_dir:
        for module in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[module]
    if str(hooks_dir) in sys.path:
        sys.path.remove(str(hooks_dir))
    sys.path.insert(0, str(hooks_dir))
    try:
        return importlib.import_module(f"{PACKAGE}.{name}")
    except ImportError as error:
        raise ToolError(
            f"hooks/{PACKAGE}/{name}.py cannot be imported ({error})",
            resolution="fix the hooks package (its unit tests say how)",
        ) from None
