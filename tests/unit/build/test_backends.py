"""snapbuild.build.backends: work dirs and snap names per variant, the options of a build inside
the build container, and what is pushed into it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from snapbuild.build import backends
from snapbuild.build.backends import snap_name, work_dir
from snapbuild.build.lifecycle import BuildPlan
from snapbuild.build.sourcecache import SUMS_FILE, SourceCache
from snapbuild.errors import ToolError
from snapbuild.machines import lxd
from snapbuild.recipe.project import DEFAULT
from snapbuild.recipe.userland import LXD_BUILD_HOST

STACKS_ONLY = frozenset({"ondemand", "rails-apps"})


def test_work_dirs_and_names_keep_variants_apart():
    assert work_dir(DEFAULT, "archive", STACKS_ONLY).name == "archive-without-ondemand-rails-apps"
    assert work_dir(DEFAULT, "upstream", frozenset()).name == "upstream"
    assert snap_name("4.2.3", "arm64") == "ondemand_4.2.3_arm64.snap"


def _plan(cached: dict[str, Path] | None = None, root: Path | None = None) -> BuildPlan:
    cache = SourceCache(root, {}) if root is not None else None
    return BuildPlan("archive", {}, frozenset({"rails-apps", "ondemand"}), cached=cached or {}, cache=cache)


def test_inner_options_without_a_cache_or_left_out_parts() -> None:
    plan = BuildPlan("upstream", {}, frozenset())
    assert backends.inner_options(DEFAULT, plan) == ["--source", "upstream", "--work-dir", "/root/work/upstream"]


def test_cache_in_place_compares_sums_and_sizes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / SUMS_FILE).write_text("abc  nginx.tar.gz\n")
    (tmp_path / "nginx.tar.gz").write_bytes(b"12345")
    plan = _plan({"nginx": tmp_path / "nginx.tar.gz"}, tmp_path)
    answers = {"in": "abc  nginx.tar.gz\nnginx.tar.gz 5\n", "stale": "abc  nginx.tar.gz\nnginx.tar.gz 4\n"}
    for state, expected in (("in", True), ("stale", False)):
        monkeypatch.setattr(
            lxd, "exec_", lambda name, argv, state=state, **kw: subprocess.CompletedProcess(argv, 0, answers[state], "")
        )
        assert backends._cache_in_place("b", plan) is expected
    monkeypatch.setattr(lxd, "exec_", lambda name, argv, **kw: subprocess.CompletedProcess(argv, 1, "", "missing"))
    assert backends._cache_in_place("b", plan) is False


def test_the_local_cache_dir_is_shared_sources_beside_the_clone() -> None:
    assert backends.local_cache_dir(DEFAULT) == DEFAULT.root.parent / "shared" / "sources"


def test_the_build_container_is_named_after_its_image() -> None:
    assert backends.build_container_name("ondemand-build-1234abcd") == "ondemand-build-1234abcd-builder"


def test_the_container_gets_the_pinned_python_dependencies() -> None:
    deps = backends._python_dependencies(DEFAULT)
    assert any(d.startswith("craft-parts==") for d in deps) and all("==" in d for d in deps)


def test_the_project_files_are_what_git_would_commit() -> None:
    files = backends._project_files(DEFAULT)
    assert {"tasks.py", "snap/metadata.yaml", "snapbuild/build/backends.py"} <= set(files)
    assert not [f for f in files if f.startswith((".venv/", ".git/")) or "__pycache__" in f]


def test_unreachable_inputs_stop_the_build_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "unreachable_sources", lambda plan: ["nginx: https://nginx.org/ is unreachable"])
    with pytest.raises(ToolError) as raised:
        backends.prepare(DEFAULT, "archive", STACKS_ONLY, host=LXD_BUILD_HOST)
    assert raised.value.brief == "1 input(s) cannot be reached from this machine; nothing was built"
    assert "--without nginx" in raised.value.resolution
    assert raised.value.details == "  1. nginx: https://nginx.org/ is unreachable"


def test_the_build_plan_of_a_reachable_build_names_its_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "unreachable_sources", lambda plan: [])
    plan, version = backends.prepare(DEFAULT, "archive", STACKS_ONLY, host=LXD_BUILD_HOST)
    assert version.endswith("+stacks-only") and plan.host == LXD_BUILD_HOST


def test_a_snapcraft_build_needs_snapcraft(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends.shutil, "which", lambda name: None)
    with pytest.raises(ToolError) as raised:
        backends.build_snapcraft(DEFAULT)
    assert raised.value.brief == "snapcraft is not installed" and "snap install snapcraft" in raised.value.resolution
