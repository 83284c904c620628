"""snapbuild.machines.gotools: cached `go install` into build/tools/bin, and actionlint on the workflows.

`go` and the tools are fake executables written by the tests (they record their argv and
environment); one test runs the real actionlint on the committed workflows when it is built.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from snapbuild.errors import ToolError
from snapbuild.machines import gotools
from snapbuild.recipe.project import DEFAULT, Project

MODULE = "example.com/tools/cmd/thing"
VERSION = "v1.2.3"


def modinfo(package: str, module: str, version: str) -> bytes:
    text = f"path\t{package}\nmod\t{module}\t{version}\th1:abc=\ndep\tgolang.org/x/sys\tv0.1.0\th1:def=\n"
    return gotools._MODINFO_START + text.encode() + gotools._MODINFO_END


def fake_binary(
    path: Path,
    package: str = MODULE,
    module: str = "example.com/tools",
    version: str = VERSION,
    script: str = "exit 0\n",
) -> Path:
    """A shell script whose bytes carry Go build information, like a real Go binary's."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"#!/bin/sh\n" + script.encode() + b"# " + modinfo(package, module, version) + b"\n")
    path.chmod(0o755)
    return path


FAKE_GO = r"""#!/bin/sh
# FakeGo: records each call, then acts like the few `go` commands gotools uses.
printf '%s\n' "$*" >> "$FAKE_LOG"
printf 'GOBIN=%s GOTOOLCHAIN=%s GOFLAGS=%s GOROOT=%s\n' \
    "$GOBIN" "$GOTOOLCHAIN" "$GOFLAGS" "${GOROOT-unset}" >> "$FAKE_LOG"
case "$1" in
  version) echo "go version go${FAKE_GO_VERSION:-1.26.0} linux/amd64" ;;
  install)
    [ -n "${FAKE_FAIL:-}" ] && { echo "go: $2: module not found" >&2; exit 1; }
    cp "$FAKE_BUILT" "$GOBIN/thing" ;;
  mod)
    case "$4" in
      */cmd/*) echo "not a module" >&2; exit 1 ;;
      golang.org/toolchain@*) printf '{"Dir": "%s"}\n' "$FAKE_TOOLCHAIN" ;;
      *) printf '{"GoMod": "%s"}\n' "$FAKE_GOMOD" ;;
    esac ;;
esac
"""


@pytest.fixture
def fake_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    go = bindir / "go"
    go.write_text(FAKE_GO)
    go.chmod(0o755)
    built = fake_binary(tmp_path / "built" / "thing")
    log = tmp_path / "go.log"
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    monkeypatch.setenv("FAKE_LOG", str(log))
    monkeypatch.setenv("FAKE_BUILT", str(built))
    monkeypatch.delenv("GOTOOLCHAIN", raising=False)
    monkeypatch.setattr(gotools.shutil, "which", lambda name, path=None: str(go) if name == "go" else None)
    return {"go": go, "log": log, "gobin": tmp_path / "gobin", "built": built}


def test_build_info_is_read_from_the_binary(tmp_path: Path) -> None:
    binary = fake_binary(tmp_path / "thing")
    assert gotools.built_from(binary, MODULE, VERSION)
    assert not gotools.built_from(binary, MODULE, "v1.2.4")
    assert not gotools.built_from(binary, "example.com/other/cmd/thing", VERSION)
    plain = tmp_path / "plain"
    plain.write_bytes(b"\x7fELF no build info")
    assert gotools.module_info(plain) == ""
    assert not gotools.built_from(tmp_path / "absent", MODULE, VERSION)


def test_real_go_binary_build_info_if_present() -> None:
    actionlint = gotools.tools_bin() / "actionlint"
    if not actionlint.is_file():
        pytest.skip("actionlint not built here")
    assert "path\tgithub.com/rhysd/actionlint/cmd/actionlint" in gotools.module_info(actionlint)


def test_cached_binary_is_not_rebuilt(tmp_path: Path) -> None:
    gobin = tmp_path / "gobin"
    binary = fake_binary(gobin / "thing")

    def runner(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError(f"nothing should run: {args}")

    assert gotools.go_install(MODULE, VERSION, "thing", gobin=gobin, runner=runner) == binary


def test_install_runs_go_install_with_a_local_gobin(fake_go: dict[str, Path]) -> None:
    binary = gotools.go_install(MODULE, VERSION, "thing", gobin=fake_go["gobin"])
    assert binary == fake_go["gobin"] / "thing" and binary.is_file()
    calls = fake_go["log"].read_text().splitlines()
    assert calls[0] == "version"
    assert calls[2] == f"install {MODULE}@{VERSION}"
    assert calls[3].startswith(f"GOBIN={fake_go['gobin']} GOTOOLCHAIN=auto GOFLAGS=")
    assert "-modcacherw" in calls[3]
    # Second call: cached, go is not run again.
    fake_go["log"].write_text("")
    gotools.go_install(MODULE, VERSION, "thing", gobin=fake_go["gobin"])
    assert fake_go["log"].read_text() == ""


def test_other_version_in_gobin_is_replaced(fake_go: dict[str, Path]) -> None:
    fake_binary(fake_go["gobin"] / "thing", version="v1.0.0")
    gotools.go_install(MODULE, VERSION, "thing", gobin=fake_go["gobin"])
    assert f"install {MODULE}@{VERSION}" in fake_go["log"].read_text()
    assert gotools.built_from(fake_go["gobin"] / "thing", MODULE, VERSION)


def test_install_failure_is_a_tool_error_with_go_output(
    fake_go: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", "1")
    with pytest.raises(ToolError) as err:
        gotools.go_install(MODULE, VERSION, "thing", gobin=fake_go["gobin"])
    assert f"go install {MODULE}@{VERSION} failed" in err.value.brief
    assert "module not found" in err.value.details
    assert "GOPROXY" in err.value.resolution


def test_wrong_command_name_is_reported(fake_go: dict[str, Path]) -> None:
    with pytest.raises(ToolError) as err:
        gotools.go_install(MODULE, VERSION, "other-name", gobin=fake_go["gobin"])
    assert "other-name" in err.value.resolution


def test_old_go_fetches_the_toolchain_the_module_needs(
    fake_go: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Debian 12's golang is 1.19: too old to switch toolchains by itself.
    gomod = tmp_path / "thing.mod"
    gomod.write_text("module example.com/tools\n\ngo 1.25.0\n")
    toolchain = tmp_path / "toolchain"
    (toolchain / "bin").mkdir(parents=True)
    newgo = toolchain / "bin" / "go"
    newgo.write_text(FAKE_GO.replace("$FAKE_LOG", "$FAKE_LOG.new"))
    newgo.chmod(0o444)  # module zips carry no modes: gotools makes it executable
    monkeypatch.setenv("FAKE_GO_VERSION", "1.19.8")
    monkeypatch.setenv("FAKE_GOMOD", str(gomod))
    monkeypatch.setenv("FAKE_TOOLCHAIN", str(toolchain))
    monkeypatch.setenv("GOROOT", "/usr/lib/go-1.19")
    gotools.go_install(MODULE, VERSION, "thing", gobin=fake_go["gobin"])
    old_calls = fake_go["log"].read_text()
    assert "mod download -json golang.org/toolchain@v0.0.1-go1.25.0.linux-" in old_calls
    assert "install" not in old_calls.replace("GOTOOLCHAIN", "")
    assert newgo.stat().st_mode & stat.S_IXUSR
    new_calls = Path(str(fake_go["log"]) + ".new").read_text()
    assert f"install {MODULE}@{VERSION}" in new_calls
    assert "GOROOT=unset" in new_calls  # the fetched toolchain is its own GOROOT


@pytest.mark.parametrize(
    ("gomod", "wanted"),
    [
        ("module m\n\ngo 1.25.0\n", "go1.25.0"),
        ("module m\n\ngo 1.22\n", "go1.22.0"),
        ("module m\n\ngo 1.13\n", "go1.13"),
        ("module m\n\ngo 1.24.0\n\ntoolchain go1.24.3\n", "go1.24.3"),
        ("module m\n", "go1.21.0"),
    ],
)
def test_required_go(gomod: str, wanted: str) -> None:
    assert gotools.required_go(gomod) == wanted


def test_missing_go_is_installed_with_apt_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []
    installed = {"go": False}

    def which(name: str, path: str | None = None) -> str | None:
        if name == "go":
            return "/usr/bin/go" if installed["go"] else None
        return f"/usr/bin/{name}"

    def runner(argv, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(argv)
        installed["go"] = True
        return gotools.subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(gotools.shutil, "which", which)
    monkeypatch.setattr(gotools.os, "geteuid", lambda: 0)
    assert gotools.find_go(runner) == "/usr/bin/go"
    assert calls == [["apt-get", "install", "-y", "-q", "--no-install-recommends", "golang"]]


def test_missing_go_without_root_or_sudo_is_a_tool_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        gotools.shutil, "which", lambda name, path=None: "/usr/bin/apt-get" if name == "apt-get" else None
    )
    monkeypatch.setattr(gotools.os, "geteuid", lambda: 1000)
    with pytest.raises(ToolError) as err:
        gotools.find_go()
    assert "apt-get" in err.value.brief and "go.dev" in err.value.resolution


def test_failed_apt_install_is_a_tool_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gotools.shutil, "which", lambda name, path=None: None if name == "go" else f"/usr/bin/{name}")
    monkeypatch.setattr(gotools.os, "geteuid", lambda: 0)

    def runner(argv, **kwargs):  # type: ignore[no-untyped-def]
        return gotools.subprocess.CompletedProcess(argv, 100, "", "E: Unable to locate package golang\n")

    with pytest.raises(ToolError) as err:
        gotools.find_go(runner)
    assert "Unable to locate package" in err.value.details


# --- actionlint -------------------------------------------------------------------------------


def project_with_workflows(tmp_path: Path, files: dict[str, str]) -> Project:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    for name, text in files.items():
        (workflows / name).write_text(text)
    return Project(tmp_path)


def fake_actionlint(project: Project, script: str) -> Path:
    return fake_binary(
        gotools.tools_bin(project) / "actionlint",
        gotools.ACTIONLINT_MODULE,
        "github.com/rhysd/actionlint",
        gotools.ACTIONLINT_VERSION,
        script,
    )


def test_actionlint_findings_are_listed(tmp_path: Path) -> None:
    project = project_with_workflows(tmp_path, {"a.yml": "on: push\n", "b.yaml": "on: push\n", "notes.txt": ""})
    fake_actionlint(
        project,
        'printf "%s\\n" "$@" > "$(dirname "$0")/args"\n'
        'echo ".github/workflows/a.yml:3:5: unknown key [syntax-check]"\n'
        'echo ".github/workflows/b.yaml:9:1: bad runner [runner-label]"\nexit 1\n',
    )
    with pytest.raises(ToolError) as err:
        gotools.actionlint_workflows(project)
    assert "2 finding(s)" in err.value.brief
    assert "1. .github/workflows/a.yml:3:5: unknown key [syntax-check]" in err.value.details
    assert "2. .github/workflows/b.yaml:9:1: bad runner [runner-label]" in err.value.details
    args = (gotools.tools_bin(project) / "args").read_text().splitlines()
    assert args[-2:] == [".github/workflows/a.yml", ".github/workflows/b.yaml"]
    assert "-no-color" in args


def test_actionlint_clean(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = project_with_workflows(tmp_path, {"a.yml": "on: push\n"})
    fake_actionlint(project, "exit 0\n")
    gotools.actionlint_workflows(project)
    assert "no findings" in capsys.readouterr().err


def test_actionlint_crash_is_not_reported_as_findings(tmp_path: Path) -> None:
    project = project_with_workflows(tmp_path, {"a.yml": "on: push\n"})
    fake_actionlint(project, "echo 'invalid flag' >&2\nexit 2\n")
    with pytest.raises(ToolError) as err:
        gotools.actionlint_workflows(project)
    assert "could not run" in err.value.brief and "invalid flag" in err.value.details


def test_no_workflows_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ToolError):
        gotools.actionlint_workflows(Project(tmp_path))


def test_committed_workflows_pass_the_real_actionlint() -> None:
    binary = gotools.tools_bin(DEFAULT) / "actionlint"
    if not gotools.built_from(binary, gotools.ACTIONLINT_MODULE, gotools.ACTIONLINT_VERSION):
        pytest.skip("actionlint not built here (python -m snapbuild.machines.gotools lint-workflows builds it)")
    gotools.actionlint_workflows(DEFAULT)


def test_committed_workflows_pin_actions_by_commit() -> None:
    for path in gotools.workflow_files(DEFAULT):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            text = line.split("#", 1)[0].strip().removeprefix("- ")
            if text.startswith("uses:") and not text.split(":", 1)[1].strip().startswith("./"):
                ref = text.split("@", 1)[1] if "@" in text else ""
                assert len(ref) == 40 and all(c in "0123456789abcdef" for c in ref), (
                    f"{path.name}:{number}: {line.strip()}"
                )


def test_main_usage_and_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert gotools.main([]) == 2
    assert "lint-workflows" in capsys.readouterr().err
    calls: list[tuple[str, str, str]] = []
    monkeypatch.setattr(gotools, "go_install", lambda m, v, n: calls.append((m, v, n)) or tmp_path / n)
    assert gotools.main(["path", "spread"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "spread")
    assert calls == [(gotools.SPREAD_MODULE, gotools.SPREAD_VERSION, "spread")]
    assert json.dumps(gotools.TOOLS)  # plain data
    assert os.path.basename(gotools.ACTIONLINT_MODULE) == "actionlint"
