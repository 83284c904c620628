"""snapbuild.recipe.project: where the project's inputs live, and loading them."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapbuild.errors import ToolError
from snapbuild.recipe.project import DEFAULT, ROOT, VERSION_PART, Project
from tests.unit.recipe.projects import ARM, make_project, runtime


def test_the_default_project_is_this_repository() -> None:
    assert DEFAULT.root == ROOT
    assert (ROOT / "tasks.py").is_file() and (ROOT / "snapbuild" / "recipe" / "project.py").is_file()
    assert DEFAULT.metadata_file == ROOT / "snap" / "metadata.yaml" and DEFAULT.metadata_file.is_file()
    assert (DEFAULT.parts_dir / f"{VERSION_PART}.yaml").is_file()


def test_paths_and_relative_names() -> None:
    project = Project(Path("/p"))
    assert (project.parts_dir, project.recipe_file, project.hooks_dir, project.build_dir) == (
        Path("/p/parts"),
        Path("/p/snap/snapcraft.yaml"),
        Path("/p/snap/hooks"),
        Path("/p/build"),
    )
    assert project.relative(Path("/p/parts/nginx.yaml")) == "parts/nginx.yaml"


def test_missing_metadata_says_to_restore_it(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as raised:
        Project(tmp_path).load_metadata()
    assert (raised.value.brief, raised.value.resolution) == ("snap/metadata.yaml: missing", "restore it from git")


def test_metadata_that_is_not_yaml_shows_where(tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "metadata.yaml").write_text("name: [ondemand\n")
    with pytest.raises(ToolError) as raised:
        Project(tmp_path).load_metadata()
    assert raised.value.brief == "snap/metadata.yaml: not valid YAML"
    assert "line 2" in raised.value.details


def test_metadata_must_be_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "metadata.yaml").write_text("- name\n")
    with pytest.raises(ToolError, match="must be a mapping of snap keys"):
        Project(tmp_path).load_metadata()


def test_parts_resolve_to_the_architecture_asked_for(tmp_path: Path) -> None:
    project = make_project(tmp_path, runtime=runtime())
    parts, problems = project.load_parts("arm64")
    assert problems == [] and sorted(parts) == ["ondemand", "runtime", "tool"]
    assert parts["runtime"].upstream_source.sha256 == ARM


def test_no_part_files_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    assert Project(tmp_path).load_parts() == ({}, ["parts/: no part files; add one YAML file per part (docs/parts.md)"])
