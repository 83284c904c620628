"""The two shortcuts run_lifecycle takes around craft-parts (a hooks-only rebuild's speed):
saved stage listings and libyaml for state files. Fakes stand in for craft-parts' parts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from snapbuild.build import lifecycle


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
        return collisions.StageCandidate(part_name=part.name, contents={Path("usr"), Path("usr/f")},
                                         source_dir=part.part_install_dirs[partition], permissions=[], is_overlay=False)

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

    document = {"part-properties": {"plugin": "nil"}, "files": ["usr/bin/a", "usr/lib/b"], "directories": [],
                "assets": {"stage-packages": []}, "project-options": {"target_arch": "amd64"}}
    text = yaml.safe_dump(document)
    with lifecycle._libyaml_states():
        assert states.yaml is not yaml
        assert states.yaml.safe_load(text) == yaml.safe_load(text) == document
        assert states.yaml.YAMLError is yaml.YAMLError
    assert states.yaml is yaml
