"""snapbuild.build.remote: the remote-build plan, its refusals, and the run through a Launchpad test double.

The double is FakeSnapcraft: a `snapcraft` executable the test writes onto PATH. It answers
`--version`, records each remote-build's argv, working directory and the Launchpad
credentials it could read, and "brings back" one empty snap per architecture, as snapcraft
does when Launchpad's builds succeed. Git, the checks' plumbing and the file system are real.
"""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from snapbuild.build import remote
from snapbuild.errors import ToolError
from snapbuild.recipe import check
from snapbuild.recipe.project import DEFAULT, Project

RECIPE = """\
name: ondemand
version: 4.2.3
base: core24
platforms:
  amd64: null
  arm64: null
parts: {}
"""
TOKEN = "[1]\noauth_token = fake-token-for-tests\n"


class FakeSnapcraft:
    """`snapcraft` on PATH: `--version` prints `version`; remote-build records and drops snaps."""

    def __init__(self, directory: Path, version: str = "8.7.1", exit_code: int = 0) -> None:
        self.bin = directory / "fake-bin"
        self.bin.mkdir(exist_ok=True)
        self.record = directory / "snapcraft-calls"
        script = self.bin / "snapcraft"
        script.write_text(
            "#!/bin/sh\n"
            f"if [ \"$1\" = --version ]; then echo 'snapcraft {version}'; exit 0; fi\n"
            f"for a in \"$@\"; do printf 'arg %s\\n' \"$a\"; done >> '{self.record}'\n"
            'creds="${XDG_DATA_HOME:-$HOME/.local/share}/snapcraft/launchpad-credentials"\n'
            "printf 'cwd %s\\ncreds %s\\n---\\n' \"$PWD\" "
            f"\"$(cat \"$creds\" 2>/dev/null | tr '\\n' '|' || true)\" >> '{self.record}'\n"
            f"[ {exit_code} -eq 0 ] || exit {exit_code}\n"
            "archs=amd64,arm64\n"
            'for a in "$@"; do case "$a" in --build-for=*) archs="${a#--build-for=}";; esac; done\n'
            'IFS=,; for arch in $archs; do : > "ondemand_4.2.3_${arch}.snap"; done\n'
        )
        script.chmod(0o755)

    def calls(self) -> list[dict[str, object]]:
        if not self.record.exists():
            return []
        result = []
        for block in self.record.read_text().split("---\n")[:-1]:
            lines = block.splitlines()
            result.append(
                {
                    "argv": [line[4:] for line in lines if line.startswith("arg ")],
                    "cwd": next(line[4:] for line in lines if line.startswith("cwd ")),
                    "creds": next(line[6:] for line in lines if line.startswith("creds ")),
                }
            )
        return result


def git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def project(tmp_path: Path) -> Project:
    root = tmp_path / "proj"
    (root / "snap").mkdir(parents=True)
    (root / "snap" / "snapcraft.yaml").write_text(RECIPE)
    (root / "snap" / "metadata.yaml").write_text("name: ondemand\n")
    (root / ".gitignore").write_text("/*.snap\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "recipe")
    return Project(root)


class CheckRecorder(list):
    """Stands in for `invoke check`: records each call's `release` flag; `problems` makes it fail."""

    problems: list[str]
    drift: list[str]

    def __call__(self, project: Project, release: bool = False) -> check.Report:
        self.append(release)
        return check.Report(problems=list(self.problems))


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> CheckRecorder:
    recorder = CheckRecorder()
    recorder.problems = []
    recorder.drift = []
    monkeypatch.setattr(check, "check_project", recorder)
    monkeypatch.setattr(check, "drift_problems", lambda project: list(recorder.drift))
    return recorder


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME: no Launchpad credentials until a test writes them."""
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HOME", str(path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.delenv(remote.CREDENTIALS_ENV, raising=False)
    return path


def credentials_file(home: Path) -> Path:
    path = home / ".local" / "share" / "snapcraft" / "launchpad-credentials"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(TOKEN)
    return path


@pytest.fixture
def fake_snapcraft(tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSnapcraft:
    fake = FakeSnapcraft(tmp_path)
    monkeypatch.setenv("PATH", f"{fake.bin}:/usr/bin:/bin")
    credentials_file(home)
    return fake


def without_snapcraft(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """A PATH holding git (the tree checks need it) and nothing else."""
    only = directory / "only-git"
    only.mkdir(exist_ok=True)
    if not (only / "git").exists():
        (only / "git").symlink_to(shutil.which("git") or "/usr/bin/git")
    monkeypatch.setenv("PATH", str(only))


# --------------------------------------------------------------------------- the plan


def test_the_committed_recipe_builds_amd64_and_arm64() -> None:
    assert [(p.name, p.build_for) for p in remote.platforms(DEFAULT)] == [("amd64", ("amd64",)), ("arm64", ("arm64",))]


def test_platforms_with_explicit_build_for(tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "snapcraft.yaml").write_text(
        "platforms:\n  amd64: null\n  pi:\n    build-on: [arm64]\n    build-for: [arm64]\n"
    )
    assert [(p.name, p.build_for) for p in remote.platforms(Project(tmp_path))] == [
        ("amd64", ("amd64",)),
        ("pi", ("arm64",)),
    ]


def test_command_builds_the_whole_plan_or_one_platform(project: Project) -> None:
    every = remote.platforms(project)
    assert remote.remote_build_command(every, every) == [
        "snapcraft",
        "remote-build",
        "--launchpad-accept-public-upload",
    ]
    arm = remote.select(every, "arm64")
    assert remote.remote_build_command(arm, every, timeout=3600) == [
        "snapcraft",
        "remote-build",
        "--launchpad-accept-public-upload",
        "--build-for=arm64",
        "--launchpad-timeout=3600",
    ]


def test_unknown_platform_names_the_known_ones(project: Project) -> None:
    with pytest.raises(ToolError) as err:
        remote.build_remote(project, platform="riscv64", dry_run=True)
    assert "--platform riscv64: not a platform" in err.value.brief
    assert "amd64, arm64" in err.value.resolution


def test_dry_run_prints_plan_and_prerequisites_without_snapcraft_or_credentials(
    project: Project,
    checked: CheckRecorder,
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    without_snapcraft(monkeypatch, home.parent)
    assert remote.build_remote(project, dry_run=True) == []
    out = capsys.readouterr().out
    assert "remote build plan: snapcraft remote-build --launchpad-accept-public-upload\n" in out
    assert "platform:  amd64 (build-for amd64) -> ondemand_4.2.3_amd64.snap" in out
    assert "platform:  arm64 (build-for arm64) -> ondemand_4.2.3_arm64.snap" in out
    assert "snapcraft: MISSING: snapcraft is not on PATH" in out
    assert "launchpad credentials: MISSING: no Launchpad credentials" in out
    assert "git tree: ok" in out
    assert "dry run: nothing uploaded" in out
    assert checked == [True]  # invoke check --release ran


def test_dry_run_never_calls_remote_build(
    project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft, capsys: pytest.CaptureFixture[str]
) -> None:
    remote.build_remote(project, dry_run=True)
    assert fake_snapcraft.calls() == []
    out = capsys.readouterr().out
    assert "snapcraft: ok" in out and "launchpad credentials: ok, " in out
    assert not list(project.root.glob("*.snap"))


# --------------------------------------------------------------------------- the run


def test_remote_build_runs_in_the_project_root_and_returns_the_snaps(
    project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft
) -> None:
    built = remote.build_remote(project)
    (call,) = fake_snapcraft.calls()
    assert call["argv"] == ["remote-build", "--launchpad-accept-public-upload"]
    assert Path(str(call["cwd"])).resolve() == project.root.resolve()
    assert call["creds"] == TOKEN.replace("\n", "|")
    assert [p.name for p in built] == ["ondemand_4.2.3_amd64.snap", "ondemand_4.2.3_arm64.snap"]
    assert checked == [True]


def test_one_platform_with_a_timeout(project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft) -> None:
    built = remote.build_remote(project, platform="arm64", timeout=7200)
    assert fake_snapcraft.calls()[0]["argv"] == [
        "remote-build",
        "--launchpad-accept-public-upload",
        "--build-for=arm64",
        "--launchpad-timeout=7200",
    ]
    assert [p.name for p in built] == ["ondemand_4.2.3_arm64.snap"]


def test_credentials_from_the_environment_are_written_owner_only(
    project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = home / ".local" / "share" / "snapcraft" / "launchpad-credentials"
    target.unlink()
    monkeypatch.setenv(remote.CREDENTIALS_ENV, TOKEN)
    remote.build_remote(project)
    assert target.read_text() == TOKEN
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert fake_snapcraft.calls()[0]["creds"] == TOKEN.replace("\n", "|")


def test_an_existing_credentials_file_is_not_overwritten(
    project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(remote.CREDENTIALS_ENV, "[1]\noauth_token = another\n")
    remote.build_remote(project)
    assert fake_snapcraft.calls()[0]["creds"] == TOKEN.replace("\n", "|")


def test_xdg_data_home_and_the_legacy_file_are_where_snapcraft_looks(tmp_path: Path) -> None:
    current, legacy = remote.credentials_files({"HOME": "/home/u"})
    assert current == Path("/home/u/.local/share/snapcraft/launchpad-credentials")
    assert legacy == Path("/home/u/.local/share/snapcraft/provider/launchpad/credentials")
    assert remote.credentials_files({"HOME": "/home/u", "XDG_DATA_HOME": "/data"})[0] == Path(
        "/data/snapcraft/launchpad-credentials"
    )
    legacy_file = tmp_path / "snapcraft" / "provider" / "launchpad" / "credentials"
    legacy_file.parent.mkdir(parents=True)
    legacy_file.write_text(TOKEN)
    assert remote.credentials_problems({"HOME": "/nonexistent", "XDG_DATA_HOME": str(tmp_path)}) == []


# --------------------------------------------------------------------------- refusals


def test_missing_snapcraft_says_how_to_install(
    project: Project, checked: CheckRecorder, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_snapcraft(monkeypatch, home.parent)
    credentials_file(home)
    with pytest.raises(ToolError) as err:
        remote.build_remote(project)
    assert "1 thing(s) missing; nothing was uploaded" in err.value.brief
    assert "snapcraft is not on PATH" in err.value.details and "snap install snapcraft --classic" in err.value.details
    assert "Launchpad credentials" not in err.value.details


def test_missing_credentials_name_the_file_and_how_to_create_it(
    project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft, home: Path
) -> None:
    (home / ".local" / "share" / "snapcraft" / "launchpad-credentials").unlink()
    with pytest.raises(ToolError) as err:
        remote.build_remote(project)
    details = err.value.details
    assert f"neither {home}/.local/share/snapcraft/launchpad-credentials nor " in details
    assert "provider/launchpad/credentials" in details
    assert f"{remote.CREDENTIALS_ENV} is not set" in details
    assert "authorize it" in details and "launchpad.net" in details
    assert "snapcraft is not on PATH" not in details
    assert fake_snapcraft.calls() == []


def test_both_missing_are_both_named(
    project: Project, checked: CheckRecorder, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_snapcraft(monkeypatch, home.parent)
    with pytest.raises(ToolError) as err:
        remote.build_remote(project)
    assert "2 thing(s) missing" in err.value.brief


def test_snapcraft_7_is_too_old(
    project: Project, checked: CheckRecorder, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeSnapcraft(tmp_path, version="7.5.2")
    monkeypatch.setenv("PATH", f"{fake.bin}:/usr/bin:/bin")
    credentials_file(home)
    with pytest.raises(ToolError) as err:
        remote.build_remote(project)
    assert "snapcraft 7.5 is too old" in err.value.details and "snap refresh snapcraft" in err.value.details
    assert fake.calls() == []


@pytest.mark.parametrize("dry_run", [True, False])
def test_unverified_sources_are_refused(
    project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft, dry_run: bool
) -> None:
    checked.problems = ["parts/nginx.yaml: upstream.source: https://x is unverified; add its sha256"]
    with pytest.raises(ToolError) as err:
        remote.build_remote(project, dry_run=dry_run)
    assert "refusing to build remotely" in err.value.brief
    assert "invoke check --release: parts/nginx.yaml: upstream.source" in err.value.details
    assert checked == [True]
    assert fake_snapcraft.calls() == []


def test_a_stale_recipe_is_refused(project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft) -> None:
    checked.drift = ["snap/snapcraft.yaml: differs from a fresh generation (...); run `invoke generate` and commit it"]
    with pytest.raises(ToolError) as err:
        remote.build_remote(project)
    assert "drift: snap/snapcraft.yaml: differs" in err.value.details
    assert fake_snapcraft.calls() == []


def test_drift_reported_by_the_check_is_not_repeated(project: Project, checked: CheckRecorder) -> None:
    checked.problems = checked.drift = ["snap/snapcraft.yaml: differs"]
    assert remote.refusals(project) == ["invoke check --release: snap/snapcraft.yaml: differs"]


def test_uncommitted_changes_are_refused(
    project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft
) -> None:
    (project.root / "snap" / "snapcraft.yaml").write_text(RECIPE + "# edited\n")
    with pytest.raises(ToolError) as err:
        remote.build_remote(project)
    assert "uncommitted changes to snap/snapcraft.yaml" in err.value.details
    assert fake_snapcraft.calls() == []


def test_shallow_clone_is_refused(project: Project, tmp_path: Path) -> None:
    git(project.root, "commit", "-q", "--allow-empty", "-m", "second")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{project.root}", str(shallow)], check=True)
    problems = remote.git_problems(shallow)
    assert len(problems) == 1 and "shallow clone" in problems[0] and "fetch-depth: 0" in problems[0]


def test_project_must_be_the_top_of_a_git_repository(
    tmp_path: Path, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "not the top level" in remote.git_problems(project.root / "snap")[0]
    alone = tmp_path / "alone"
    alone.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # in case tmp is inside a repository
    assert "not in a git repository" in remote.git_problems(alone)[0]


def test_a_failed_remote_build_is_a_tool_error(
    project: Project, checked: CheckRecorder, tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeSnapcraft(tmp_path, exit_code=3)
    monkeypatch.setenv("PATH", f"{fake.bin}:/usr/bin:/bin")
    credentials_file(home)
    with pytest.raises(ToolError) as err:
        remote.build_remote(project)
    assert "exit 3" in err.value.brief and "--recover" in err.value.resolution
    assert len(fake.calls()) == 1


def test_a_platform_whose_snap_did_not_arrive(
    project: Project, checked: CheckRecorder, fake_snapcraft: FakeSnapcraft, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Launchpad built only amd64 (snapcraft was asked for the whole plan).
    script = fake_snapcraft.bin / "snapcraft"
    script.write_text(script.read_text().replace("archs=amd64,arm64", "archs=amd64"))
    with pytest.raises(ToolError) as err:
        remote.build_remote(project)
    assert "no snap for arm64 arrived" in err.value.brief


def test_negative_timeout(project: Project) -> None:
    with pytest.raises(ToolError) as err:
        remote.build_remote(project, timeout=-1, dry_run=True)
    assert "negative" in err.value.brief


def test_untracked_files_are_shown_as_uploaded_too(
    project: Project, checked: CheckRecorder, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project.root / "notes.txt").write_text("x")
    (project.root / "ondemand_4.2.3_amd64.snap").write_text("ignored by .gitignore")
    remote.build_remote(project, dry_run=True)
    out = capsys.readouterr().out
    assert "untracked: notes.txt (uploaded too" in out
    assert "ondemand_4.2.3_amd64.snap" not in out.split("untracked:")[1].splitlines()[0]
    assert "git tree: ok" in out  # untracked files do not make the tree dirty
