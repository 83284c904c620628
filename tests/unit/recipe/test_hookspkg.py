"""The hooks package is imported from the project's own tree, never a stale copy."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from snapbuild.recipe.hookspkg import hooks_module
from snapbuild.recipe.project import DEFAULT, Project


def test_the_projects_hooks_dir_goes_on_the_path_once(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = str(DEFAULT.root / "hooks")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != hooks])
    hooks_module(DEFAULT, "docs")
    hooks_module(DEFAULT, "docs")
    assert sys.path.count(hooks) == 1 and sys.path[0] == hooks
    assert sys.modules["ondemand_hooks.docs"].__file__.startswith(hooks)


def test_a_copy_loaded_from_another_tree_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other"
    shutil.copytree(DEFAULT.root / "hooks" / "ondemand_hooks", other / "hooks" / "ondemand_hooks")
    (other / "hooks" / "ondemand_hooks" / "marker.py").write_text("WHERE = 'other'\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert hooks_module(Project(other), "marker").WHERE == "other"
    module = hooks_module(DEFAULT, "env")
    assert module.__file__.startswith(str(DEFAULT.root / "hooks"))
    assert sys.modules["ondemand_hooks"].__file__.startswith(str(DEFAULT.root / "hooks"))


def test_a_broken_package_is_a_tool_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from snapbuild.errors import ToolError

    (tmp_path / "hooks" / "ondemand_hooks").mkdir(parents=True)
    (tmp_path / "hooks" / "ondemand_hooks" / "__init__.py").write_text("")
    monkeypatch.setattr(sys, "path", list(sys.path))
    with pytest.raises(ToolError, match="cannot be imported"):
        hooks_module(Project(tmp_path), "nope")
    hooks_module(DEFAULT, "env")  # leave the real one loaded for the other tests
