"""Build planning: source choice per mode, refusals before any work, timing records."""

from __future__ import annotations

import pytest

from snapbuild.build import snap_name, work_dir
from snapbuild.errors import ToolError
from snapbuild.generate import snap_version
from snapbuild.lifecycle import load_timings, make_plan, record_timings
from snapbuild.project import DEFAULT


def test_archive_plan_without_ondemand_uses_archive_sources():
    plan = make_plan(DEFAULT, "archive", frozenset({"ondemand"}))
    assert "ondemand" not in plan.included
    assert plan.sources["nginx"].startswith("apt-get source nginx=")
    assert plan.sources["node"].startswith("https://registry.npmjs.org/")
    assert "LEFT OUT (--without ondemand)" in plan.table()


def test_archive_plan_with_ondemand_stops_and_names_the_flag():
    with pytest.raises(ToolError) as raised:
        make_plan(DEFAULT, "archive", frozenset())
    error = raised.value
    assert "ondemand: has no archive source" in error.details
    assert "--without ondemand" in error.resolution


def test_unknown_part_in_without_is_refused():
    with pytest.raises(ToolError, match="--without nope: no such part"):
        make_plan(DEFAULT, "archive", frozenset({"nope", "ondemand"}))


def test_leaving_out_a_part_others_need_is_refused():
    with pytest.raises(ToolError, match=r"--without ruby: needed by part"):
        make_plan(DEFAULT, "archive", frozenset({"ruby"}))


def test_version_says_when_ondemand_is_left_out():
    plan = make_plan(DEFAULT, "archive", frozenset({"ondemand"}))
    assert snap_version(plan.parts, "archive", frozenset({"ondemand"})).endswith("+stacks-only")
    assert "+" not in snap_version(plan.parts)


def test_work_dirs_and_names_keep_variants_apart():
    assert work_dir(DEFAULT, "archive", frozenset({"ondemand"})).name == "archive-without-ondemand"
    assert work_dir(DEFAULT, "upstream", frozenset()).name == "upstream"
    assert snap_name("4.2.3", "arm64") == "ondemand_4.2.3_arm64.snap"


def test_timings_merge_per_part_and_keep_the_last_totals(tmp_path):
    record_timings(tmp_path, {"nginx": {"build": 20.0}, "node": {"pull": 1.0}}, lifecycle=30.0)
    record_timings(tmp_path, {"nginx": {"stage": 1.5}}, lifecycle=2.0, pack=9.0)
    data = load_timings(tmp_path)
    assert data["steps"] == {"nginx": {"build": 20.0, "stage": 1.5}, "node": {"pull": 1.0}}
    assert data["last"] == {"lifecycle": 2.0, "pack": 9.0}
