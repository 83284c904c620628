"""snapbuild.release: the publish plan, its refusals, and the upload through a store test double.

The store double is FakeSnapcraft: a `snapcraft` executable the test writes onto PATH. It
records its argv and the credentials it was given, and answers like the store would.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from snapbuild import release
from snapbuild.errors import ToolError
from snapbuild.recipe import check
from snapbuild.recipe.project import Project

pytestmark = pytest.mark.skipif(
    not (shutil.which("mksquashfs") and shutil.which("unsquashfs")), reason="needs squashfs-tools"
)

SNAP_YAML = {
    "name": "ondemand",
    "version": "4.2.3",
    "summary": "s",
    "description": "d",
    "base": "core24",
    "confinement": "classic",
    "grade": "stable",
    "architectures": ["amd64"],
}
CREDENTIALS = "fake-macaroon-for-tests"
MKSQUASHFS = shutil.which("mksquashfs") or "mksquashfs"


def path_without_snapcraft(directory: Path) -> str:
    """A PATH holding unsquashfs (to read the snap) and nothing else."""
    only = directory / "only-unsquashfs"
    only.mkdir(exist_ok=True)
    if not (only / "unsquashfs").exists():
        (only / "unsquashfs").symlink_to(shutil.which("unsquashfs") or "/usr/bin/unsquashfs")
    return str(only)


def make_snap(
    directory: Path,
    snap_yaml: dict | None = None,
    build_info: dict | None = None,
    name: str = "ondemand_4.2.3_amd64.snap",
) -> Path:
    prime = directory / "prime"
    (prime / "meta").mkdir(parents=True)
    (prime / "meta" / "snap.yaml").write_text(yaml.safe_dump(snap_yaml or SNAP_YAML))
    if build_info is not None:
        (prime / "meta" / "build-info.yaml").write_text(yaml.safe_dump(build_info))
    (prime / "bin").mkdir()
    (prime / "bin" / "hello").write_text("#!/bin/sh\necho hello\n")
    snap = directory / name
    subprocess.run(
        [MKSQUASHFS, str(prime), str(snap), "-noappend", "-all-root", "-no-progress", "-quiet"],
        check=True,
        capture_output=True,
    )
    return snap


class FakeSnapcraft:
    """A `snapcraft` on PATH that records each call's argv and SNAPCRAFT_STORE_CREDENTIALS."""

    def __init__(self, directory: Path, exit_code: int = 0) -> None:
        self.bin = directory / "fake-bin"
        self.bin.mkdir()
        self.record = directory / "snapcraft-calls"
        script = self.bin / "snapcraft"
        script.write_text(
            "#!/bin/sh\n"
            f"for a in \"$@\"; do printf 'arg %s\\n' \"$a\"; done >> '{self.record}'\n"
            f"printf 'creds %s\\n---\\n' \"${{SNAPCRAFT_STORE_CREDENTIALS-<unset>}}\" >> '{self.record}'\n"
            f"[ {exit_code} -eq 0 ] && echo \"Revision 7 created for 'ondemand' and released to '$2'\"\n"
            f"exit {exit_code}\n"
        )
        script.chmod(0o755)

    def calls(self) -> list[tuple[list[str], str]]:
        if not self.record.exists():
            return []
        result = []
        for block in self.record.read_text().split("---\n")[:-1]:
            lines = block.splitlines()
            result.append(
                (
                    [line[4:] for line in lines if line.startswith("arg ")],
                    next(line[6:] for line in lines if line.startswith("creds ")),
                )
            )
        return result


@pytest.fixture
def project(tmp_path: Path) -> Project:
    (tmp_path / "proj" / "snap").mkdir(parents=True)
    (tmp_path / "proj" / "snap" / "metadata.yaml").write_text("name: ondemand\n")
    return Project(tmp_path / "proj")


class CheckRecorder(list):
    """Stands in for `invoke check`: records each call's `release` flag; `problems` makes it fail."""

    problems: list[str]

    def __call__(self, project: Project, release: bool = False) -> check.Report:
        self.append(release)
        return check.Report(problems=list(self.problems))


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> CheckRecorder:
    recorder = CheckRecorder()
    recorder.problems = []
    monkeypatch.setattr(check, "check_project", recorder)
    return recorder


@pytest.fixture
def fake_snapcraft(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSnapcraft:
    fake = FakeSnapcraft(tmp_path)
    monkeypatch.setenv("PATH", f"{fake.bin}:/usr/bin:/bin")
    monkeypatch.setenv(release.CREDENTIALS, CREDENTIALS)
    return fake


def test_upload_command_is_the_plan(tmp_path: Path) -> None:
    snap = tmp_path / "x.snap"
    assert release.upload_command(snap, "edge") == ["snapcraft", "upload", "--release=latest/edge", str(snap)]


def test_dry_run_prints_plan_and_facts_without_snapcraft_or_credentials(
    tmp_path: Path,
    project: Project,
    checked: CheckRecorder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    snap = make_snap(tmp_path, build_info={"sources": "upstream", "left-out": [], "parts": {}})
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.delenv(release.CREDENTIALS, raising=False)
    command = release.publish(project, snap, dry_run=True)
    out = capsys.readouterr().out
    assert command == ["snapcraft", "upload", "--release=latest/edge", str(snap)]
    assert f"publish plan: snapcraft upload --release=latest/edge {snap}" in out
    assert "name:    ondemand" in out and "version: 4.2.3" in out and "arch:    amd64" in out
    assert f"size:    {snap.stat().st_size} bytes" in out
    assert f"sha256:  {hashlib.sha256(snap.read_bytes()).hexdigest()}" in out
    assert "upstream sources; left out: nothing" in out
    assert "dry run: nothing uploaded" in out
    assert checked == [True]  # invoke check --release ran


def test_publish_runs_snapcraft_upload_with_the_credentials(
    tmp_path: Path, project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft
) -> None:
    snap = make_snap(tmp_path)
    release.publish(project, snap, channel="edge")
    assert fake_snapcraft.calls() == [(["upload", "--release=latest/edge", str(snap)], CREDENTIALS)]
    assert checked == [True]


def test_publish_to_another_channel(
    tmp_path: Path, project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft
) -> None:
    snap = make_snap(tmp_path)
    release.publish(project, snap, channel="beta")
    assert fake_snapcraft.calls()[0][0] == ["upload", "--release=latest/beta", str(snap)]


def test_dry_run_never_calls_snapcraft(
    tmp_path: Path, project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft
) -> None:
    release.publish(project, make_snap(tmp_path), dry_run=True)
    assert fake_snapcraft.calls() == []


def test_store_failure_is_a_tool_error(
    tmp_path: Path, project: Project, checked: CheckRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeSnapcraft(tmp_path, exit_code=2)
    monkeypatch.setenv("PATH", f"{fake.bin}:/usr/bin:/bin")
    monkeypatch.setenv(release.CREDENTIALS, CREDENTIALS)
    with pytest.raises(ToolError) as err:
        release.publish(project, make_snap(tmp_path))
    assert "exit 2" in err.value.brief and "whoami" in err.value.resolution
    assert len(fake.calls()) == 1


def test_missing_snapcraft_says_how_to_install(
    tmp_path: Path, project: Project, checked: CheckRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", path_without_snapcraft(tmp_path))
    monkeypatch.setenv(release.CREDENTIALS, CREDENTIALS)
    with pytest.raises(ToolError) as err:
        release.publish(project, make_snap(tmp_path))
    assert "snapcraft is not on PATH" in err.value.details
    assert "snap install snapcraft --classic" in err.value.details
    assert release.CREDENTIALS not in err.value.details


def test_missing_credentials_says_how_to_export_them(
    tmp_path: Path,
    project: Project,
    checked: CheckRecorder,
    fake_snapcraft: FakeSnapcraft,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(release.CREDENTIALS)
    with pytest.raises(ToolError) as err:
        release.publish(project, make_snap(tmp_path))
    assert f"{release.CREDENTIALS} is not set" in err.value.details
    assert "snapcraft export-login --snaps=ondemand --channels=latest/edge" in err.value.details
    assert "snapcraft is not on PATH" not in err.value.details
    assert fake_snapcraft.calls() == []


def test_both_missing_are_both_named(
    tmp_path: Path, project: Project, checked: CheckRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", path_without_snapcraft(tmp_path))
    monkeypatch.delenv(release.CREDENTIALS, raising=False)
    with pytest.raises(ToolError) as err:
        release.publish(project, make_snap(tmp_path))
    assert "2 thing(s) missing" in err.value.brief


@pytest.mark.parametrize("dry_run", [True, False])
def test_partial_build_is_refused(
    tmp_path: Path, project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft, dry_run: bool
) -> None:
    snap = make_snap(tmp_path, build_info={"sources": "archive", "left-out": ["ondemand"], "parts": {}})
    with pytest.raises(ToolError) as err:
        release.publish(project, snap, dry_run=dry_run)
    assert "refusing to publish" in err.value.brief
    assert "built without ondemand" in err.value.details
    assert fake_snapcraft.calls() == []


def test_a_build_with_another_distributions_libraries_is_refused(
    tmp_path: Path, project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft
) -> None:
    info = {
        "sources": "archive",
        "left-out": [],
        "parts": {},
        "base": "core24",
        "base-userland": "Ubuntu 24.04 (noble)",
        "build-host": "Debian 12 (bookworm)",
    }
    with pytest.raises(ToolError) as err:
        release.publish(project, make_snap(tmp_path, build_info=info), dry_run=True)
    assert (
        "its stage-packages are Debian 12 (bookworm)'s, not Ubuntu 24.04 (noble)'s, the userland of its base"
        in err.value.details
    )
    assert fake_snapcraft.calls() == []


def test_a_build_on_the_bases_userland_is_not_refused_for_it(
    tmp_path: Path, project: Project, checked: CheckRecorder, capsys: pytest.CaptureFixture[str]
) -> None:
    info = {
        "sources": "upstream",
        "left-out": [],
        "parts": {},
        "base": "core24",
        "base-userland": "Ubuntu 24.04 (noble)",
        "build-host": "Ubuntu 24.04 (noble)",
    }
    release.publish(project, make_snap(tmp_path, build_info=info), dry_run=True)
    assert "upstream sources; left out: nothing; built on Ubuntu 24.04 (noble)" in capsys.readouterr().out


def test_stacks_only_version_is_refused(
    tmp_path: Path, project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft
) -> None:
    snap = make_snap(tmp_path, snap_yaml={**SNAP_YAML, "version": "4.2.3+stacks-only"})
    with pytest.raises(ToolError) as err:
        release.publish(project, snap)
    assert "stacks-only" in err.value.details
    assert fake_snapcraft.calls() == []


def test_unverified_sources_are_refused(
    tmp_path: Path, project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft
) -> None:
    checked.problems = ["parts/nginx.yaml: upstream.source: https://x is unverified; add its sha256"]
    with pytest.raises(ToolError) as err:
        release.publish(project, make_snap(tmp_path))
    assert "invoke check --release: parts/nginx.yaml: upstream.source" in err.value.details
    assert checked == [True]
    assert fake_snapcraft.calls() == []


def test_check_release_really_refuses_unverified_source(tmp_path: Path) -> None:
    # The real check with release=True (no fake): an `unverified` tarball is a problem.
    from snapbuild.recipe.partfile import parse_part_file

    part_file = tmp_path / "parts" / "thing.yaml"
    part_file.parent.mkdir()
    part_file.write_text(
        "summary: s\nlicense: MIT\nupstream:\n  version: '1'\n  source:\n    type: tarball\n"
        "    url: https://example.com/thing-1.tar.gz\n    sha256: unverified\npart:\n  plugin: nil\n"
    )
    part, problems = parse_part_file(part_file)
    assert problems == []
    refused, _ = check.pin_problems({"thing": part}, release=True)
    assert refused and "release builds refuse unverified sources" in refused[0]


def test_other_snap_name_is_refused(tmp_path: Path, project: Project, checked: CheckRecorder) -> None:
    snap = make_snap(tmp_path, snap_yaml={**SNAP_YAML, "name": "other"})
    with pytest.raises(ToolError) as err:
        release.publish(project, snap, dry_run=True)
    assert "'other' is not this project's ('ondemand')" in err.value.details


def test_unknown_channel(tmp_path: Path, project: Project) -> None:
    with pytest.raises(ToolError) as err:
        release.publish(project, tmp_path / "x.snap", channel="latest/edge")
    assert "edge, beta, candidate, stable" in err.value.resolution


def test_missing_or_bogus_snap_file(tmp_path: Path, project: Project) -> None:
    with pytest.raises(ToolError) as err:
        release.publish(project, tmp_path / "absent.snap", dry_run=True)
    assert "no such snap file" in err.value.brief
    bogus = tmp_path / "bogus.snap"
    bogus.write_text("not squashfs")
    with pytest.raises(ToolError) as err:
        release.snap_facts(bogus)
    assert "not a snap" in err.value.brief
