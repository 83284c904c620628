"""The offline source cache: cache entries in part files, verification, and build planning."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from snapbuild.build.lifecycle import make_plan
from snapbuild.build.pack import part_info
from snapbuild.build.sourcecache import cache_from, open_cache, parse_sums
from snapbuild.errors import ToolError
from snapbuild.recipe.partfile import parse_part_file
from snapbuild.recipe.project import DEFAULT, Project
from tests.unit.test_recipe import COMMIT, make_project, only, problems_of

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


def test_parse_sums_reads_both_sha256sum_forms():
    assert parse_sums(f"{'A' * 64}  one.tar.gz\n{'b' * 64} *two.tgz\n# comment\n\n") == {
        "one.tar.gz": "a" * 64, "two.tgz": "b" * 64}


def test_a_cache_file_stands_in_after_its_pin_is_checked(tmp_path):
    project = cached_project(tmp_path)
    plan = make_plan(project, "archive", frozenset({"ondemand"}), open_cache(make_cache(tmp_path)))
    assert plan.origins["tool"] == "cache"
    assert plan.cached["tool"] == (tmp_path / "cache" / "tool-1.0.tar.gz").resolve()
    assert "tool-1.0.tar.gz (tree of https://example.invalid/tool @ bbbbbbbbbbbb)" in plan.table()
    body = plan.parts["tool"].resolve("archive", cached=plan.cached["tool"])
    assert body["source"] == str(plan.cached["tool"])
    assert body["source-type"] == "tar" and body["source-checksum"] == f"sha256/{CONTENT_SHA}"
    info = part_info(plan, "tool")
    assert info["from"] == "cache" and info["cache"]["commit"] == COMMIT and info["cache"]["sha256"] == CONTENT_SHA


def test_without_a_cache_the_upstream_source_is_planned(tmp_path):
    plan = make_plan(cached_project(tmp_path), "archive", frozenset({"ondemand"}))
    assert plan.origins["tool"] == "upstream" and not plan.cached
    assert plan.parts["tool"].resolve("archive")["source"] == "https://example.invalid/tool.git"


def test_one_changed_byte_stops_the_plan_naming_the_file_and_both_checksums(tmp_path):
    damaged = bytearray(CONTENT)
    damaged[0] ^= 1
    cache = open_cache(make_cache(tmp_path, bytes(damaged), listed=None))
    with pytest.raises(ToolError) as raised:
        make_plan(cached_project(tmp_path), "archive", frozenset({"ondemand"}), cache)
    error = raised.value
    assert "tool-1.0.tar.gz does not match its pin; nothing was built" in error.brief
    assert f"expected sha256 {CONTENT_SHA}" in error.details
    assert f"actual   sha256 {hashlib.sha256(bytes(damaged)).hexdigest()}" in error.details


def test_a_sums_file_that_disagrees_with_the_pin_is_refused(tmp_path):
    cache = open_cache(make_cache(tmp_path, listed="c" * 64))
    with pytest.raises(ToolError, match=r"lists tool-1.0.tar.gz with sha256 c{64}, but parts/tool.yaml pins"):
        make_plan(cached_project(tmp_path), "archive", frozenset({"ondemand"}), cache)


def test_a_cache_needs_a_directory_with_sha256sums(tmp_path):
    with pytest.raises(ToolError, match="no such directory"):
        open_cache(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ToolError, match="no SHA256SUMS in it") as raised:
        open_cache(tmp_path / "empty")
    assert "sha256sum" in raised.value.resolution


def test_the_environment_names_the_cache_when_the_option_does_not(tmp_path):
    cache = make_cache(tmp_path)
    assert cache_from("", {"ONDEMAND_SOURCE_CACHE": str(cache)}).root == cache.resolve()
    assert cache_from("", {}) is None


def test_cache_entries_are_checked_in_the_part_file(tmp_path):
    broken = CACHED_TOOL.replace(f"commit: {COMMIT}}}", f"commit: {'c' * 40}}}").replace(
        "file: tool-1.0.tar.gz", "file: ../tool.tar.gz")
    path = tmp_path / "tool.yaml"
    path.write_text(broken)
    _, problems = parse_part_file(path)
    assert any("upstream.source.cache.file: '../tool.tar.gz' must be a plain file name" in p for p in problems)
    assert any("upstream.source.cache.commit: " + "c" * 40 + " differs from the source's commit" in p for p in problems)


def test_same_on_a_remote_source_needs_a_cache_entry(tmp_path):
    no_cache = "\n".join(line for line in CACHED_TOOL.splitlines() if "cache:" not in line) + "\n"
    problem = only(problems_of(make_project(tmp_path, tool=no_cache)))
    assert "archive.source.type: `same` only fits parts whose upstream source is local, absent, or has a `cache` entry" in problem


def test_network_registries_allow_lock_pinned_fetches_only_where_declared(tmp_path):
    script = "  override-build: |\n    yarnpkg install --frozen-lockfile --registry https://registry.npmjs.org\n"
    undeclared = make_project(tmp_path / "a", tool=CACHED_TOOL + script)
    problem = only(problems_of(undeclared))
    assert "downloads with a URL" in problem and "`network:`" in problem
    declared = CACHED_TOOL.replace("provides:", "network: [https://registry.npmjs.org]\nprovides:") + script
    assert problems_of(make_project(tmp_path / "b", tool=declared)) == []


def test_the_release_parts_name_the_shared_cache_files():
    """Every cache entry of the committed part files names a file of ../shared/sources's layout."""
    parts, problems = DEFAULT.load_parts()
    assert problems == []
    entries = {name: p.upstream_source.cache for name, p in parts.items() if p.upstream_source and p.upstream_source.cache}
    assert {"nginx", "passenger", "ondemand", "rails-apps", "gem-dotenv", "gem-bcrypt"} <= set(entries)
    shared = DEFAULT.root.parent / "shared" / "sources" / "SHA256SUMS"
    if not shared.is_file():
        pytest.skip(f"{shared} is not beside this clone (CI and developer machines have it)")
    sums = parse_sums(shared.read_text())
    for name, entry in entries.items():
        assert sums.get(entry.file) == entry.sha256, f"parts/{name}.yaml: {entry.file} pin differs from {shared}"
