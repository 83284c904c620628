"""Pure parts of snapbuild.machines.systemtest and the consistency of checks, spread tasks and tests."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from snapbuild.errors import ToolError
from snapbuild.machines import gotools, systemtest
from snapbuild.recipe.project import DEFAULT, Project

CHECKS = DEFAULT.root / "tests" / "checks"
SPREAD_SUITE = DEFAULT.root / "tests" / "spread" / "main"


# --------------------------------------------------------------------------- find_snap


def touch(path: Path, mtime: float) -> Path:
    path.write_bytes(b"snap")
    os.utime(path, (mtime, mtime))
    return path


def test_find_snap_takes_the_newest_snap(tmp_path: Path) -> None:
    touch(tmp_path / "ondemand_4.0_amd64.snap", 100)
    newest = touch(tmp_path / "ondemand_3.9_amd64.snap", 200)
    touch(tmp_path / "other_9.9_amd64.snap", 300)
    assert systemtest.find_snap(tmp_path, {}) == newest


def test_find_snap_without_any_snap_is_none(tmp_path: Path) -> None:
    assert systemtest.find_snap(tmp_path, {}) is None
    assert "ONDEMAND_SNAP" in systemtest.no_snap_reason(tmp_path)


def test_find_snap_prefers_the_environment(tmp_path: Path) -> None:
    touch(tmp_path / "ondemand_4.0_amd64.snap", 100)
    chosen = touch(tmp_path / "elsewhere.snap", 1)
    assert systemtest.find_snap(tmp_path, {"ONDEMAND_SNAP": str(chosen)}) == chosen.resolve()


def test_find_snap_with_a_missing_environment_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as err:
        systemtest.find_snap(tmp_path, {"ONDEMAND_SNAP": str(tmp_path / "gone.snap")})
    assert "gone.snap: no such file" in err.value.brief


def test_keep_requested_only_for_1() -> None:
    assert systemtest.keep_requested({"ONDEMAND_KEEP": "1"})
    assert not systemtest.keep_requested({"ONDEMAND_KEEP": "0"})
    assert not systemtest.keep_requested({})


# --------------------------------------------------------------------------- names and addresses

LXD_NAME = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


@pytest.mark.parametrize("tag", ["", "debian-12", "Ubuntu 24.04!", "x" * 100, "---"])
def test_container_name_is_a_valid_lxd_name(tag: str) -> None:
    name = systemtest.container_name("ondemand-spread", tag)
    assert LXD_NAME.match(name) and not name.endswith("-") and "--" not in name, name
    assert name.startswith("ondemand-spread-")


def test_container_name_keeps_the_tag_readable_and_the_suffix_unique() -> None:
    assert systemtest.container_name("p", "Ubuntu 24.04", "abc123") == "p-ubuntu-24-04-abc123"
    assert systemtest.container_name("p", "", "abc123") == "p-abc123"
    assert systemtest.container_name("p") != systemtest.container_name("p")


@pytest.mark.parametrize(
    "address, host",
    [
        ("10.147.11.5:22", "10.147.11.5"),
        ("10.147.11.5", "10.147.11.5"),
        ("[fd42::5]:22", "fd42::5"),
        (" 10.0.0.1:2222\n", "10.0.0.1"),
    ],
)
def test_address_host(address: str, host: str) -> None:
    assert systemtest.address_host(address) == host


# --------------------------------------------------------------------------- checks


def test_check_names_are_the_scripts_without_the_library() -> None:
    names = systemtest.check_names()
    assert {"configure-rollback", "install", "refresh", "remove", "services"} <= set(names)
    assert names == sorted(p.stem for p in (DEFAULT.root / "tests" / "checks").glob("*.sh") if p.stem != "lib")


@pytest.mark.parametrize("script", sorted(CHECKS.glob("*.sh")), ids=lambda p: p.name)
def test_check_scripts_parse(script: Path) -> None:
    done = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", systemtest.check_names())
def test_every_check_is_strict_and_executable(name: str) -> None:
    script = CHECKS / f"{name}.sh"
    assert os.access(script, os.X_OK), f"{script} is not executable"
    assert "set -euo pipefail" in script.read_text()


def declared_services(tmp_path: Path, text: str) -> list[str]:
    snap_yaml = tmp_path / "snap.yaml"
    snap_yaml.write_text(text)
    done = subprocess.run(
        ["bash", "-c", '. "$1"; declared_services "$2"', "sh", str(CHECKS / "lib.sh"), str(snap_yaml)],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.splitlines()


def test_declared_services_reads_the_project_metadata_as_dumped(tmp_path: Path) -> None:
    # meta/snap.yaml is written by a YAML dumper: any indentation, keys sorted or not.
    metadata = yaml.safe_load(DEFAULT.metadata_file.read_text())
    expected = sorted(
        f"{app} {'timer' if 'timer' in spec else 'daemon'}"
        for app, spec in metadata["apps"].items()
        if "daemon" in spec
    )
    assert "apache daemon" in expected
    for indent in (2, 4):
        text = yaml.safe_dump(metadata, indent=indent, sort_keys=True)
        assert sorted(declared_services(tmp_path, text)) == expected


def test_declared_services_ignores_other_sections_and_comments(tmp_path: Path) -> None:
    text = """\
name: ondemand
hooks:
  configure:
    daemon: not-an-app
apps:
  # a comment
  'web':
      daemon: simple

      command: bin/web
  tool:
      command: bin/tool
  tick:
      timer: 00:00-24:00/4
      daemon: oneshot
layout: {}
"""
    assert declared_services(tmp_path, text) == ["web daemon", "tick timer"]


# --------------------------------------------------------------------------- spread


def test_go_error_brief_joins_the_lines() -> None:
    output = (
        "go: github.com/snapcore/spread/cmd/spread@latest: module github.com/snapcore/spread/cmd/spread: "
        "reading https://proxy.golang.org/github.com/snapcore/spread/cmd/spread/@v/list: 403 Forbidden\n"
        "\tserver response: This module version is not available.\n"
    )
    assert systemtest.go_error_brief(output) == (
        "go: github.com/snapcore/spread/cmd/spread@latest: module github.com/snapcore/spread/cmd/spread: "
        "reading https://proxy.golang.org/github.com/snapcore/spread/cmd/spread/@v/list: 403 Forbidden"
        " / server response: This module version is not available."
    )
    assert systemtest.go_error_brief("") == "go install failed without a message"


@pytest.fixture
def no_spread(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Project:
    monkeypatch.setattr(systemtest.shutil, "which", lambda name: None)
    monkeypatch.setattr(gotools, "find_go", lambda runner: "go")
    monkeypatch.setattr(systemtest, "_spread_error", None)
    root = tmp_path / "project"  # its ../shared stays inside tmp_path
    root.mkdir()
    return Project(root)


def test_ensure_spread_reports_the_go_error_once(no_spread: Project) -> None:
    calls: list[list[str]] = []

    def runner(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        return subprocess.CompletedProcess(
            argv,
            1,
            "",
            "go: reading https://proxy: 403 Forbidden\n\tserver response: This module version is not available.\n",
        )

    with pytest.raises(ToolError) as err:
        systemtest.ensure_spread(no_spread, runner)
    assert err.value.brief == (
        "go: reading https://proxy: 403 Forbidden / server response: This module version is not available."
    )
    assert err.value.resolution.startswith("spread is not served by the Go module proxy here")
    assert "GOPROXY=direct go install github.com/snapcore/spread/cmd/spread@" in err.value.resolution
    assert calls == [["go", "install", f"{systemtest.SPREAD_MODULE}@{systemtest.SPREAD_VERSION}"]]
    with pytest.raises(ToolError):
        systemtest.ensure_spread(no_spread, runner)
    assert len(calls) == 1  # tried once per process


def test_ensure_spread_uses_a_binary_already_built(no_spread: Project) -> None:
    binary = gotools.tools_bin(no_spread) / "spread"
    binary.parent.mkdir(parents=True)
    binary.write_text("#!/bin/sh\n")

    def runner(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        raise AssertionError("must not run go")

    assert systemtest.ensure_spread(no_spread, runner) == binary


def test_spread_yaml_is_valid_and_names_both_backends() -> None:
    config = yaml.safe_load((DEFAULT.root / "spread.yaml").read_text())
    assert {"lxd-ubuntu", "lxd-local"} <= set(config["backends"])  # google: the scale-out tests below
    assert config["backends"]["lxd-ubuntu"]["type"] == "lxd"
    local = config["backends"]["lxd-local"]
    assert local["type"] == "adhoc"
    assert "ADDRESS" in local["allocate"] and "snapbuild.machines.systemtest allocate" in local["allocate"]
    assert "snapbuild.machines.systemtest discard" in local["discard"]
    assert "tests/spread/main/" in config["suites"]


@pytest.mark.parametrize("name", systemtest.check_names())
def test_every_check_has_a_thin_spread_task(name: str) -> None:
    task = yaml.safe_load((SPREAD_SUITE / name / "task.yaml").read_text())
    assert task["summary"]
    assert f'"$SPREAD_PATH"/tests/checks/{name}.sh' in task["execute"]


def test_spread_tasks_are_only_the_checks() -> None:
    assert sorted(p.parent.name for p in SPREAD_SUITE.glob("*/task.yaml")) == systemtest.check_names()


@pytest.mark.parametrize("name", systemtest.check_names())
def test_every_check_begins_with_check_begin_which_takes_restore(name: str) -> None:
    # spread.yaml's restore-each runs `CHECK.sh --restore` after every task: check_begin
    # (lib.sh; configure_begin calls it) handles it, given the check's own arguments after
    # `--`, and owns the EXIT trap that runs what the check deferred (tests/unit/test_check_lib.py).
    text = (CHECKS / f"{name}.sh").read_text()
    statements = re.sub(r"\\\n\s*", "", text).splitlines()
    begins = [line for line in statements if line.startswith(("check_begin ", "configure_begin "))]
    assert len(begins) == 1, f"{name}.sh: want one check_begin or configure_begin, found {begins}"
    assert begins[0].split()[1] == name
    assert begins[0].endswith(' -- "$@"')
    assert not re.search(r"^\s*trap\b", text, re.M), f"{name}.sh sets a trap; use defer (lib.sh)"


def test_spread_yaml_suite_runs_each_checks_restore_and_installs_the_snap() -> None:
    config = yaml.safe_load((DEFAULT.root / "spread.yaml").read_text())
    suite = config["suites"]["tests/spread/main/"]
    assert '"$SPREAD_PATH/tests/checks/$(basename "$SPREAD_TASK").sh" --restore' in suite["restore-each"]
    assert 'snap install --dangerous --classic "$SNAP_FILE"' in suite["prepare-each"]
    assert config["path"] == systemtest.SPREAD_REMOTE_PATH
    # spread does not glob include entries: the snap comes from a $(HOST: ...) entry with no
    # parenthesis inside (spread's HOST: command ends at the first one).
    snap_entry = [e for e in config["include"] if "snap" in e]
    assert len(snap_entry) == 1 and snap_entry[0].startswith("$(HOST: ") and snap_entry[0].endswith(")")
    assert ")" not in snap_entry[0][:-1] and systemtest.ENV_SPREAD_SNAP in snap_entry[0]
    assert not any("*" in e and not e.startswith("$(") for e in config["include"])


def test_spread_yaml_include_picks_the_named_else_the_newest_snap(tmp_path: Path) -> None:
    config = yaml.safe_load((DEFAULT.root / "spread.yaml").read_text())
    command = next(e for e in config["include"] if "HOST:" in e)[len("$(HOST: ") : -1]

    def entry(env: dict[str, str]) -> str:
        return subprocess.run(
            ["sh", "-c", command], cwd=tmp_path, capture_output=True, text=True, env={"PATH": os.environ["PATH"], **env}
        ).stdout.strip()

    assert "run-invoke-build" in entry({})
    old, new = tmp_path / "ondemand_1_amd64.snap", tmp_path / "ondemand_2_amd64.snap"
    old.write_text("1")
    new.write_text("2")
    os.utime(old, (1, 1))
    assert entry({}) == new.name
    assert entry({systemtest.ENV_SPREAD_SNAP: old.name}) == old.name


SUMMARY_OK = """\
2026-12-02 05:20:01 Discarding lxd-local:debian-12 (lxd-local:debian-12)...
2026-12-02 05:20:02 Successful tasks: 19
2026-12-02 05:20:02 Aborted tasks: 0
"""
SUMMARY_FAILED = """\
2026-12-02 05:20:02 Successful tasks: 17
2026-12-02 05:20:02 Aborted tasks: 1
2026-12-02 05:20:02 Failed tasks: 1
    - lxd-local:debian-12:tests/spread/main/install
2026-12-02 05:20:02 Failed task prepare: 1
    - lxd-local:debian-12:tests/spread/main/refresh
error: unsuccessful run
"""


def test_parse_spread_summary_ok() -> None:
    summary = systemtest.parse_spread_summary(SUMMARY_OK)
    assert (summary.successful, summary.failed, summary.aborted, summary.ok) == (19, 0, 0, True)
    assert summary.lines == ("Successful tasks: 19", "Aborted tasks: 0")


def test_parse_spread_summary_counts_failed_prepares_and_lists_the_jobs() -> None:
    summary = systemtest.parse_spread_summary(SUMMARY_FAILED)
    assert (summary.successful, summary.failed, summary.aborted, summary.ok) == (17, 2, 1, False)
    assert summary.lines == (
        "Successful tasks: 17",
        "Aborted tasks: 1",
        "Failed tasks: 1",
        "    - lxd-local:debian-12:tests/spread/main/install",
        "Failed task prepare: 1",
        "    - lxd-local:debian-12:tests/spread/main/refresh",
    )
    assert not systemtest.parse_spread_summary("error: cannot pack project content\n").ok


def test_spread_jobs_from_the_listing() -> None:
    listing = "lxd-local:debian-12:tests/spread/main/install\nlxd-local:debian-12:tests/spread/main/remove\n"
    assert systemtest.spread_jobs(listing) == [
        "lxd-local:debian-12:tests/spread/main/install",
        "lxd-local:debian-12:tests/spread/main/remove",
    ]


def test_skip_lines_name_the_task() -> None:
    listing = (
        f"{systemtest.SPREAD_REMOTE_PATH}/tests/spread/main/nginx-stage-min-uid/skipped:"
        "nginx_stage's min-uid refusal: OnDemand is not in this build (x: y absent)\n"
        f"{systemtest.SPREAD_REMOTE_PATH}/tests/spread/main/other/notes:ignored\n"
    )
    assert systemtest.skip_lines(listing) == [
        "tests/spread/main/nginx-stage-min-uid: nginx_stage's min-uid refusal: "
        "OnDemand is not in this build (x: y absent)"
    ]


def test_skipped_checks_reads_what_discard_collected(tmp_path: Path) -> None:
    project = Project(tmp_path)
    target = tmp_path / systemtest.SKIPPED_DIR
    target.mkdir(parents=True)
    (target / "ondemand-spread-b.txt").write_text("tests/spread/main/b: why\n")
    (target / "ondemand-spread-a.txt").write_text("tests/spread/main/a: because\n\n")
    assert systemtest.skipped_checks(project) == ["tests/spread/main/a: because", "tests/spread/main/b: why"]


def test_skip_in_a_check_prints_and_records_the_reason(tmp_path: Path) -> None:
    record = tmp_path / "skipped"
    done = subprocess.run(
        ["bash", "-c", '. "$1"; skip "no OnDemand here"; echo not-reached', "sh", str(CHECKS / "lib.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "CHECK_SKIP_FILE": str(record)},
    )
    assert done.returncode == 0
    assert done.stdout == "SKIP: no OnDemand here\n"
    assert record.read_text() == "no OnDemand here\n"


def test_ensure_spread_takes_the_shared_build_beside_the_project(no_spread: Project) -> None:
    shared = no_spread.root / systemtest.SHARED_SPREAD
    shared.parent.mkdir(parents=True)
    shared.write_text("#!/bin/sh\n")
    shared.chmod(0o755)

    def runner(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        raise AssertionError("must not run go")

    assert systemtest.ensure_spread(no_spread, runner) == shared.resolve()


def fake_spread(tmp_path: Path, jobs: list[str], output: str, code: int) -> Path:
    script = tmp_path / "spread"
    listing = "\n".join(jobs)
    script.write_text(f"""#!/bin/sh
if [ "$1" = -list ]; then printf '%s\\n' '{listing}'; exit 0; fi
echo "snap=$ONDEMAND_SPREAD_SNAP args=$*"
cat <<'EOF'
{output}EOF
exit {code}
""")
    script.chmod(0o755)
    return script


JOBS = ["lxd-local:debian-12:tests/spread/main/a", "lxd-local:debian-12:tests/spread/main/b"]


def test_run_spread_passes_when_every_listed_task_succeeds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spread = fake_spread(tmp_path, JOBS, "Successful tasks: 2\nAborted tasks: 0\n", 0)
    summary = systemtest.run_spread(spread, "ondemand_1_amd64.snap", Project(tmp_path))
    assert summary.successful == 2
    out = capsys.readouterr().out
    assert "snap=ondemand_1_amd64.snap args=lxd-local" in out
    assert "==> spread summary" in out and "    Successful tasks: 2" in out


@pytest.mark.parametrize(
    ("output", "code"),
    [
        ("Successful tasks: 1\nAborted tasks: 0\nFailed tasks: 1\n    - x\n", 1),
        ("Successful tasks: 1\nAborted tasks: 1\n", 1),
        ("Successful tasks: 1\nAborted tasks: 0\n", 0),  # a task spread did not run
        ("Successful tasks: 2\nAborted tasks: 0\n", 1),  # spread's own exit status
    ],
)
def test_run_spread_fails_on_a_failed_aborted_or_missing_task(tmp_path: Path, output: str, code: int) -> None:
    spread = fake_spread(tmp_path, JOBS, output, code)
    with pytest.raises(ToolError) as err:
        systemtest.run_spread(spread, "ondemand_1_amd64.snap", Project(tmp_path))
    assert err.value.brief.startswith("spread suite failed")
    assert "spread -debug lxd-local:debian-12:tests/spread/main/" in err.value.resolution


def test_snap_for_spread_copies_a_snap_from_elsewhere_into_the_root(tmp_path: Path) -> None:
    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    snap = elsewhere / "ondemand_1_amd64.snap"
    snap.write_text("snap")
    assert systemtest._snap_for_spread(snap, Project(root)) == snap.name
    assert (root / snap.name).read_text() == "snap"
    assert systemtest._snap_for_spread(root / snap.name, Project(root)) == snap.name
    snap.write_text("other")
    with pytest.raises(ToolError, match="differs"):
        systemtest._snap_for_spread(snap, Project(root))


def test_a_benchmark_script_runs_itself_inside_the_named_container(monkeypatch, tmp_path) -> None:
    calls = []
    monkeypatch.setattr(systemtest.lxd, "push_file", lambda name, src, dst: calls.append(("push", name, src.name, dst)))
    monkeypatch.setattr(systemtest.lxd, "exec_argv", lambda name, argv: ["echo", name, *argv])
    script = tmp_path / "bench_x.py"
    script.write_text("")
    assert systemtest.run_script_inside(script, "/var/tmp/bench_x.py", ["--users", "3"], "box", "bench-x") == 0
    assert calls == [("push", "box", "bench_x.py", "/var/tmp/bench_x.py")]


# --- the scale-out wiring: spread's google backend and the workflow that runs both paths -------------

WORKFLOW = DEFAULT.root / ".github" / "workflows" / "scale-out.yml"


def google() -> dict:
    return yaml.safe_load((DEFAULT.root / "spread.yaml").read_text())["backends"]["google"]


def test_google_backend_runs_ubuntu_24_04_on_amd64_and_arm64() -> None:
    backend = google()
    assert backend.get("type", "google") == "google"
    assert backend["key"] == '$(HOST: echo "$SPREAD_GOOGLE_KEY")'
    project, zone = backend["location"].split("/")  # spread wants <google project>/<compute zone>
    assert project and zone
    systems = {name: spec for entry in backend["systems"] for name, spec in entry.items()}
    assert systems["ubuntu-24.04-64"]["image"] == "ubuntu-os-cloud/ubuntu-2404-lts-amd64"
    assert systems["ubuntu-24.04-arm-64"]["image"] == "ubuntu-os-cloud/ubuntu-2404-lts-arm64"
    assert systems["ubuntu-24.04-arm-64"]["plan"].startswith("t2a-")  # an Arm machine type
    assert systems["ubuntu-24.04-64"]["plan"].startswith("n2-")


def test_each_google_machine_installs_its_own_architectures_snap() -> None:
    assert 'ondemand_*_"$(dpkg --print-architecture)".snap' in google()["environment"]["SNAP_FILE"]


def test_the_lxd_backends_stay() -> None:
    backends = yaml.safe_load((DEFAULT.root / "spread.yaml").read_text())["backends"]
    assert {"lxd-ubuntu", "lxd-local", "google"} <= set(backends)


def test_workflow_runs_the_tasks_not_copies_of_them() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    runs = {name: "\n".join(step.get("run", "") for step in job["steps"]) for name, job in workflow["jobs"].items()}
    assert ".venv/bin/invoke build --remote" in runs["remote-build"]
    assert "snapcraft remote-build" not in runs["remote-build"]  # the task holds the command line
    assert '"$SPREAD" -v google:' in runs["spread-google"]
    checkout = next(
        s for s in workflow["jobs"]["remote-build"]["steps"] if str(s.get("uses", "")).startswith("actions/checkout")
    )
    assert checkout["with"]["fetch-depth"] == 0  # remote-build refuses shallow clones
    env = {k: v for s in workflow["jobs"]["remote-build"]["steps"] for k, v in (s.get("env") or {}).items()}
    assert env["LAUNCHPAD_CREDENTIALS"] == "${{ secrets.LAUNCHPAD_CREDENTIALS }}"


def test_collect_artifacts_pulls_the_checks_evidence_when_there_is_some(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pulled: list[tuple[str, str, Path]] = []
    present = {"with": 0, "without": 1}

    def exec_(name: str, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        assert argv == ["test", "-d", f"{systemtest.SPREAD_REMOTE_PATH}/{systemtest.REMOTE_ARTIFACTS}"]
        return subprocess.CompletedProcess(argv, present[name], "", "")

    monkeypatch.setattr(systemtest.lxd, "exec_", exec_)
    monkeypatch.setattr(systemtest.lxd, "pull_tree", lambda *args: pulled.append(args))
    project = Project(tmp_path)
    assert systemtest.collect_artifacts("without", project) is None
    assert pulled == []
    target = systemtest.collect_artifacts("with", project)
    assert target == tmp_path / systemtest.ARTIFACTS_DIR and target.is_dir()
    assert pulled == [("with", f"{systemtest.SPREAD_REMOTE_PATH}/{systemtest.REMOTE_ARTIFACTS}", target)]


def test_spread_yaml_sends_the_artifacts_dir_discard_collects() -> None:
    environment = yaml.safe_load((DEFAULT.root / "spread.yaml").read_text())["environment"]
    assert environment["CHECK_ARTIFACTS"] == f"$SPREAD_PATH/{systemtest.REMOTE_ARTIFACTS}"
