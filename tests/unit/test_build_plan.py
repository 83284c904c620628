"""Build planning: source choice per mode, refusals before any work, timing records."""

from __future__ import annotations

import pytest

from snapbuild.build.backends import snap_name, work_dir
from snapbuild.build.lifecycle import load_timings, make_plan, record_timings
from snapbuild.errors import ToolError
from snapbuild.recipe.generate import snap_version
from snapbuild.recipe.project import DEFAULT
from snapbuild.recipe.userland import Distribution


STACKS_ONLY = frozenset({"ondemand", "rails-apps"})
BOOKWORM = Distribution("debian", "12", "bookworm")


def test_archive_plan_takes_the_release_versions_and_the_npm_registrys_node():
    plan = make_plan(DEFAULT, "archive", STACKS_ONLY, host=BOOKWORM)
    assert "ondemand" not in plan.included
    # Without a cache, nginx and Passenger come from upstream (the network) at the release pins.
    assert plan.versions["nginx"] == "1.28.0" and plan.origins["nginx"] == "upstream"
    assert plan.versions["passenger"] == "6.1.2"
    assert plan.origins["node"] == "archive" and plan.sources["node"].startswith("https://registry.npmjs.org/")
    assert plan.origins["ruby"] == "host-archive"
    assert plan.sources["ruby"] == "packages from the build host's archive, Debian 12 (bookworm)"
    assert plan.origins["wrappers"] == "local"
    assert "LEFT OUT (--without ondemand)" in plan.table()


def test_the_table_gives_declared_versions_and_whose_archive_stage_packages_come_from():
    table = make_plan(DEFAULT, "archive", STACKS_ONLY, host=BOOKWORM).table()
    assert table.splitlines()[0].split()[:3] == ["part", "declared", "from"]
    assert ("(stage-packages come from Debian 12 (bookworm)'s archive, not from Ubuntu 24.04 (noble), the userland "
            "of base core24: a local build, not what the store builds)") in table
    # Only a build on the base's own userland takes packages from the base's archive.
    noble = make_plan(DEFAULT, "archive", STACKS_ONLY, host=Distribution("ubuntu", "24.04", "noble"))
    assert noble.origins["ruby"] == "base-archive"
    assert "the userland of base core24)" in noble.table() and "not what the store builds" not in noble.table()


def test_leaving_out_ondemand_needs_the_rails_apps_left_out_too():
    with pytest.raises(ToolError, match=r"--without ondemand: needed by part rails-apps"):
        make_plan(DEFAULT, "archive", frozenset({"ondemand"}))


def test_unknown_part_in_without_is_refused():
    with pytest.raises(ToolError, match="--without nope: no such part"):
        make_plan(DEFAULT, "archive", frozenset({"nope"}))


def test_leaving_out_a_part_others_need_is_refused():
    with pytest.raises(ToolError, match=r"--without ruby: needed by part"):
        make_plan(DEFAULT, "archive", frozenset({"ruby"}))


def test_version_says_what_was_left_out():
    plan = make_plan(DEFAULT, "archive", STACKS_ONLY)
    assert snap_version(plan.parts, "archive", STACKS_ONLY).endswith("+stacks-only")
    assert snap_version(plan.parts, "archive", frozenset({"rails-apps"})) == "4.2.3+without-rails-apps"
    assert snap_version(plan.parts, "archive", frozenset({"rails-apps", "x" * 30})) == "4.2.3+partial"
    assert "+" not in snap_version(plan.parts)


def test_work_dirs_and_names_keep_variants_apart():
    assert work_dir(DEFAULT, "archive", STACKS_ONLY).name == "archive-without-ondemand-rails-apps"
    assert work_dir(DEFAULT, "upstream", frozenset()).name == "upstream"
    assert snap_name("4.2.3", "arm64") == "ondemand_4.2.3_arm64.snap"


def test_timings_merge_per_part_and_keep_the_last_totals(tmp_path):
    record_timings(tmp_path, {"nginx": {"build": 20.0}, "node": {"pull": 1.0}}, lifecycle=30.0)
    record_timings(tmp_path, {"nginx": {"stage": 1.5}}, lifecycle=2.0, pack=9.0)
    data = load_timings(tmp_path)
    assert data["steps"] == {"nginx": {"build": 20.0, "stage": 1.5}, "node": {"pull": 1.0}}
    assert data["last"] == {"lifecycle": 2.0, "pack": 9.0}


def test_a_stage_conflict_says_how_to_start_from_a_fresh_work_dir(tmp_path):
    from snapbuild.build.lifecycle import STAGE_CONFLICT, _step_failed

    log = tmp_path / "wrappers.log"
    log.write_text("===== STAGE wrappers =====\n")
    error = _step_failed("wrappers", "stage", log, f"Failed to stage: {STAGE_CONFLICT}.")
    assert "invoke build --clean" in error.resolution and "moved between parts" in error.resolution
    other = _step_failed("nginx", "build", log, "'override-build' in part 'nginx' failed with code 2.")
    assert "fix parts/nginx.yaml" in other.resolution
