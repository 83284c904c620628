"""Pure parts of snapbuild.systemtest and the consistency of checks, spread tasks and tests."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from snapbuild import gotools, systemtest
from snapbuild.errors import ToolError
from snapbuild.project import DEFAULT, Project

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


@pytest.mark.parametrize("address, host", [
    ("10.147.11.5:22", "10.147.11.5"),
    ("10.147.11.5", "10.147.11.5"),
    ("[fd42::5]:22", "fd42::5"),
    (" 10.0.0.1:2222\n", "10.0.0.1"),
])
def test_address_host(address: str, host: str) -> None:
    assert systemtest.address_host(address) == host


# --------------------------------------------------------------------------- checks


def test_check_names_are_the_scripts_without_the_library() -> None:
    names = systemtest.check_names()
    assert {"configure-rollback", "install", "refresh", "remove", "services"} <= set(names)
    assert names == sorted(p.stem for p in (DEFAULT.root / "tests" / "checks").glob("*.sh") if p.stem != "lib")


def test_check_argv_runs_the_pushed_script() -> None:
    assert systemtest.check_argv("refresh", ["/x.snap"]) == [
        f"{systemtest.REMOTE_CHECKS}/refresh.sh", "/x.snap"]


def test_check_argv_rejects_unknown_checks() -> None:
    with pytest.raises(ToolError) as err:
        systemtest.check_argv("instal")
    assert "no check named 'instal'" in err.value.brief
    assert "install" in err.value.resolution


def test_check_result_report_has_both_streams() -> None:
    result = systemtest.CheckResult("install", 1, "out line\n", "FAIL: x\n")
    assert not result.ok
    assert result.report() == "check install exited 1\n--- stdout\nout line\n--- stderr\nFAIL: x"


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
    done = subprocess.run(["bash", "-c", '. "$1"; declared_services "$2"', "sh",
                           str(CHECKS / "lib.sh"), str(snap_yaml)],
                          capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_declared_services_reads_the_project_metadata_as_dumped(tmp_path: Path) -> None:
    # meta/snap.yaml is written by a YAML dumper: any indentation, keys sorted or not.
    metadata = yaml.safe_load(DEFAULT.metadata_file.read_text())
    expected = sorted(f"{app} {'timer' if 'timer' in spec else 'daemon'}"
                      for app, spec in metadata["apps"].items() if "daemon" in spec)
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
    output = ("go: github.com/snapcore/spread/cmd/spread@latest: module github.com/snapcore/spread/cmd/spread: "
              "reading https://proxy.golang.org/github.com/snapcore/spread/cmd/spread/@v/list: 403 Forbidden\n"
              "\tserver response: This module version is not available.\n")
    assert systemtest.go_error_brief(output) == (
        "go: github.com/snapcore/spread/cmd/spread@latest: module github.com/snapcore/spread/cmd/spread: "
        "reading https://proxy.golang.org/github.com/snapcore/spread/cmd/spread/@v/list: 403 Forbidden"
        " / server response: This module version is not available.")
    assert systemtest.go_error_brief("") == "go install failed without a message"


@pytest.fixture
def no_spread(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Project:
    monkeypatch.setattr(systemtest.shutil, "which", lambda name: None)
    monkeypatch.setattr(gotools, "find_go", lambda runner: "go")
    monkeypatch.setattr(systemtest, "_spread_error", None)
    return Project(tmp_path)


def test_ensure_spread_reports_the_go_error_once(no_spread: Project) -> None:
    calls: list[list[str]] = []

    def runner(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 1, "", "go: reading https://proxy: 403 Forbidden\n"
                                           "\tserver response: This module version is not available.\n")

    with pytest.raises(ToolError) as err:
        systemtest.ensure_spread(no_spread, runner)
    assert err.value.brief == ("go: reading https://proxy: 403 Forbidden / "
                               "server response: This module version is not available.")
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
    assert {"lxd-ubuntu", "lxd-local"} <= set(config["backends"])  # google: tests/unit/test_scale_out.py
    assert config["backends"]["lxd-ubuntu"]["type"] == "lxd"
    local = config["backends"]["lxd-local"]
    assert local["type"] == "adhoc"
    assert "ADDRESS" in local["allocate"] and "snapbuild.systemtest allocate" in local["allocate"]
    assert "snapbuild.systemtest discard" in local["discard"]
    assert "tests/spread/main/" in config["suites"]


@pytest.mark.parametrize("name", systemtest.check_names())
def test_every_check_has_a_thin_spread_task(name: str) -> None:
    task = yaml.safe_load((SPREAD_SUITE / name / "task.yaml").read_text())
    assert task["summary"]
    assert f'"$SPREAD_PATH"/tests/checks/{name}.sh' in task["execute"]


def test_spread_tasks_are_only_the_checks() -> None:
    assert sorted(p.parent.name for p in SPREAD_SUITE.glob("*/task.yaml")) == systemtest.check_names()


@pytest.mark.parametrize("name", systemtest.check_names())
def test_every_check_has_a_system_test(name: str) -> None:
    # Each check is run by some system test module (by name, as the first argument after the machine).
    texts = [p.read_text() for p in (DEFAULT.root / "tests" / "system").glob("test_*.py")]
    assert any(f', "{name}"' in text for text in texts), f"no tests/system/test_*.py runs check {name!r}"
