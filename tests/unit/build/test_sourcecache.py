"""snapbuild.build.sourcecache: the offline source cache, its verification, and build planning with it."""

from __future__ import annotations

import hashlib

import pytest

from snapbuild.build.lifecycle import make_plan
from snapbuild.build.pack import part_info
from snapbuild.build.sourcecache import cache_from, open_cache, parse_sums
from snapbuild.errors import ToolError
from snapbuild.recipe.project import DEFAULT
from tests.unit.recipe.projects import COMMIT, CONTENT, CONTENT_SHA, cached_project, make_cache


def test_parse_sums_reads_both_sha256sum_forms():
    assert parse_sums(f"{'A' * 64}  one.tar.gz\n{'b' * 64} *two.tgz\n# comment\n\n") == {
        "one.tar.gz": "a" * 64,
        "two.tgz": "b" * 64,
    }


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


def test_the_release_parts_name_the_shared_cache_files():
    """Every cache entry of the committed part files names a file of ../shared/sources's layout."""
    parts, problems = DEFAULT.load_parts()
    assert problems == []
    entries = {
        name: p.upstream_source.cache for name, p in parts.items() if p.upstream_source and p.upstream_source.cache
    }
    assert {"nginx", "passenger", "ondemand", "rails-apps", "gem-dotenv", "gem-bcrypt"} <= set(entries)
    shared = DEFAULT.root.parent / "shared" / "sources" / "SHA256SUMS"
    if not shared.is_file():
        pytest.skip(f"{shared} is not beside this clone (CI and developer machines have it)")
    sums = parse_sums(shared.read_text())
    for name, entry in entries.items():
        assert sums.get(entry.file) == entry.sha256, f"parts/{name}.yaml: {entry.file} pin differs from {shared}"
