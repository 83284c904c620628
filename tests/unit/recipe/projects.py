"""Fixture projects for the tooling's tests: a small valid recipe (an OnDemand part after a tool
part) that a test breaks one way at a time, per-architecture and source-cache variants, and a
copy of this repository's own inputs."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from snapbuild.errors import ToolError
from snapbuild.recipe.check import check_project
from snapbuild.recipe.generate import write_recipe
from snapbuild.recipe.project import DEFAULT, Project

SHA = "a" * 64


COMMIT = "b" * 40


METADATA = """\
name: ondemand
title: Open OnDemand
summary: test
description: test
license: MIT
base: core24
confinement: classic
grade: devel
platforms: {amd64: }
apps:
  hello:
    command: bin/hello
    daemon: simple
    restart-condition: always
hooks:
  install: {}
"""


ONDEMAND = f"""\
summary: OnDemand
license: MIT
upstream:
  version: 4.2.3
  source: {{type: git, url: https://example.invalid/ondemand.git, tag: v4.2.3, commit: {COMMIT}}}
part:
  plugin: nil
  after: [tool]
"""


TOOL = f"""\
summary: a tool
license: MIT
provides: [bin/hello]
upstream:
  version: "1.0"
  source: {{type: tarball, url: https://example.invalid/tool-1.0.tar.gz, sha256: {SHA}}}
archive:
  source: {{type: apt-source, package: tool, suite: bookworm, version: 1.0-1}}
  part:
    build-packages: [libtool-dev]
part:
  plugin: autotools
  autotools-configure-parameters: [--prefix=/]
  override-build: |
    craftctl default
"""


def make_project(tmp_path: Path, **part_files: str) -> Project:
    (tmp_path / "snap" / "hooks").mkdir(parents=True)
    (tmp_path / "parts").mkdir()
    (tmp_path / "snap" / "metadata.yaml").write_text(METADATA)
    hook = tmp_path / "snap" / "hooks" / "install"
    hook.write_text("#!/bin/sh\n")
    hook.chmod(0o755)
    for name, text in {"ondemand": ONDEMAND, "tool": TOOL}.items():
        (tmp_path / "parts" / f"{name}.yaml").write_text(text)
    project = Project(tmp_path)
    write_recipe(project)  # from the good fixtures, so only the breakage below is reported
    for name, text in part_files.items():
        (tmp_path / "parts" / f"{name}.yaml").write_text(text)
    try:
        write_recipe(project)  # keep the recipe current so drift is not reported on top
    except ToolError:
        pass  # unparsable fixtures: drift is not checked for those
    return project


def problems_of(project: Project, release: bool = False) -> list[str]:
    return check_project(project, release=release).problems


def only(problems: list[str]) -> str:
    assert len(problems) == 1, problems
    return problems[0]


# --- per-architecture sources ---------------------------------------------------------------------


AMD, ARM = "a" * 64, "c" * 64


TWO_PLATFORMS = METADATA.replace("platforms: {amd64: }", "platforms: {amd64: , arm64: }")


def runtime(
    arm64: str | None = f"{{type: tarball, url: https://example.invalid/rt-arm64.tar.xz, sha256: {ARM}}}",
    extra: str = "",
) -> str:
    arm = f"    arm64: {arm64}\n" if arm64 else ""
    return (
        "summary: a runtime\nlicense: MIT\nupstream:\n  version: '1.0'\n  source:\n"
        "    amd64: {type: tarball, url: https://example.invalid/rt-x64.tar.xz, "
        f"sha256: {AMD}, checksum-from: test}}\n"
        f"{arm}{extra}"
        "part:\n  plugin: nil\n  override-build: |\n    craftctl default\n"
    )


def two_platform_project(tmp_path: Path, **files: str):
    project = make_project(tmp_path, **files)
    (tmp_path / "snap" / "metadata.yaml").write_text(TWO_PLATFORMS)
    return project


# --- the offline source cache ---------------------------------------------------------------------


CONTENT = b"a tree of the pinned commit, packed\n"


CONTENT_SHA = hashlib.sha256(CONTENT).hexdigest()


CACHED_TOOL = f"""\
summary: a tool
license: MIT
provides: [bin/hello]
upstream:
  version: "1.0"
  source:
    type: git
    url: https://example.invalid/tool.git
    tag: v1.0
    commit: {COMMIT}
    cache: {{file: tool-1.0.tar.gz, sha256: {CONTENT_SHA}, repository: https://example.invalid/tool, commit: {COMMIT}}}
archive:
  source: {{type: same}}
part:
  plugin: nil
"""


def make_cache(tmp_path: Path, content: bytes = CONTENT, listed: str | None = CONTENT_SHA) -> Path:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tool-1.0.tar.gz").write_bytes(content)
    sums = f"{listed}  tool-1.0.tar.gz\n" if listed else ""
    (cache / "SHA256SUMS").write_text(sums + f"{'0' * 64}  unrelated.tar.gz\n")
    return cache


def cached_project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "project", tool=CACHED_TOOL)


# --- this repository ------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A copy of this project's inputs (metadata, parts, hooks package, local sources)."""
    root = tmp_path / "proj"
    for relative in ("snap/metadata.yaml", "parts", "hooks", "snap/local", "snap/hooks"):
        source = DEFAULT.root / relative
        if source.is_dir():
            shutil.copytree(source, root / relative, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / relative)
    return Project(root)
