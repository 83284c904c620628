"""snapbuild.lint (`invoke lint`): which files and tools the gate covers, that every check runs
and reports its findings, and how it fails: naming each failed check with its fix, a missing
tool with its install command."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from snapbuild import lint
from snapbuild.errors import ToolError
from snapbuild.recipe.project import DEFAULT, Project

ROOT = DEFAULT.root
needs_shellcheck = pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")


def tracked(root: Path = ROOT) -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return sorted(filter(None, listed.decode().split("\0")))


def script_names(root: Path = ROOT) -> set[str]:
    return {p.relative_to(root).as_posix() for p in lint.shell_scripts(root)}


# --- the files --------------------------------------------------------------------------------


def test_the_scripts_are_found() -> None:
    names = script_names()
    assert {
        "tests/checks/lib.sh",
        "tests/checks/configure.bash",
        "snap/hooks/configure",
        "snap/local/apps/bin/apache-foreground",
        "snap/local/apps/lib/snapenv.sh",
        "snap/local/apps/sbin/nginx_stage",
        "snap/local/wrappers/bin/httpd",
        "snap/local/ondemand-build-tools/build-tools/ood-substitute",
        "snap/local/wrappers/build-tools/relink",
        ".ci/run",
    } <= names
    assert not any(name.endswith((".py", ".tsv")) for name in names)
    assert "snap/local/ondemand-build-tools/build-tools/gem-from-tree" not in names  # Ruby


# Where the shell scripts live. Every file there is one, but for the build tools in another
# language (their shebang says which) and their data files (not executable), and the checks'
# Python clients (tests/checks/*.py: ruff and mypy --strict check those).
SHELL_PLACES = ["tests/checks/*", "snap/hooks/*", "snap/local/*/bin/*", "snap/local/*/sbin/*", ".ci/run"]
BUILD_TOOLS = "snap/local/*/build-tools/*"


def test_the_list_covers_the_checks_hooks_wrappers_build_tools_and_ci() -> None:
    names = script_names()
    files = tracked()
    for place in SHELL_PLACES:
        matching = [f for f in files if fnmatch.fnmatch(f, place) and not f.endswith(".py")]
        assert matching, place
        assert set(matching) - names == set(), f"{place}: not shell-checked"
    for tool in (f for f in files if fnmatch.fnmatch(f, BUILD_TOOLS) and f not in names):
        path = ROOT / tool
        first = path.read_bytes().split(b"\n", 1)[0]
        if path.stat().st_mode & 0o111:
            assert re.match(rb"#!\S*(/|env )(ruby|python3?|perl)\b", first), f"{tool}: executable but not shell-checked"


def test_a_shell_script_anywhere_is_found_by_its_shebang_or_suffix(tmp_path: Path) -> None:
    files = {
        "a/wrapper": "#!/bin/sh\necho hi\n",
        "b/tool": "#!/usr/bin/env bash\necho hi\n",
        "c/sourced.sh": "# shellcheck shell=sh\nx=1\n",
        "c/lib.bash": "y=2\n",
        "d/script.rb": "#!/usr/bin/env ruby\nputs 1\n",
        "d/data.tsv": "a\tb\n",
        "d/shell-like": "#!/bin/shx\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "untracked.sh").write_text("echo $1\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", *files], cwd=tmp_path, check=True)
    assert script_names(tmp_path) == {"a/wrapper", "b/tool", "c/sourced.sh", "c/lib.bash"}


def test_outside_a_git_checkout_the_list_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as raised:
        lint.shell_scripts(tmp_path)
    assert "cannot list the files git tracks" in raised.value.brief
    assert "git checkout" in raised.value.resolution


@needs_shellcheck
def test_the_projects_scripts_pass_shellcheck() -> None:
    (check,) = [c for c in lint.checks(DEFAULT) if c.tool is lint.SHELLCHECK]
    outcome = lint.run_check(check)
    assert outcome.ok, outcome.output


# --- the gate ---------------------------------------------------------------------------------


def test_the_gate_runs_ruff_mypy_and_shellcheck_over_the_whole_project() -> None:
    gate = {c.name.split(" (")[0]: c for c in lint.checks(DEFAULT)}
    assert list(gate) == [
        "ruff check",
        "ruff format",
        "mypy --strict snapbuild, tests/checks",
        "mypy --strict ondemand_hooks",
        "shellcheck",
    ]
    assert all(c.cwd == ROOT for c in gate.values())
    assert gate["ruff check"].args[-1] == "." and "--no-fix" in gate["ruff check"].args
    assert gate["ruff format"].args == ("format", "--check", ".")
    assert gate["mypy --strict snapbuild, tests/checks"].args == ("--strict", "snapbuild", "tests/checks/browser.py")
    # The hooks package with its own settings; hooks/ is where its imports resolve.
    hooks = gate["mypy --strict ondemand_hooks"].args
    assert hooks[hooks.index("--config-file") + 1] == "hooks/pyproject.toml" and hooks[-1] == "hooks/ondemand_hooks"
    # One list of scripts: the one shell_scripts finds, checked with sourced files followed.
    shellcheck = gate["shellcheck"]
    assert shellcheck.args[:3] == ("-x", "-f", "gcc")
    assert set(shellcheck.args[3:]) == script_names()
    assert shellcheck.name == f"shellcheck ({len(script_names())} scripts)"


def make_project(root: Path, files: dict[str, str]) -> Project:
    """A git checkout with this project's lint settings and `files`."""
    for name in ("pyproject.toml", ".shellcheckrc", "hooks/pyproject.toml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, root / name)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    return Project(root)


CLEAN = {
    "snapbuild/__init__.py": '"""A package."""\n',
    "hooks/ondemand_hooks/__init__.py": (
        '"""The hooks."""\n\nfrom ondemand_hooks.model import VALUE\n\nTWICE: int = VALUE * 2\n'
    ),
    "hooks/ondemand_hooks/model.py": "VALUE: int = 1\n",
    "snap/local/apps/bin/wrapper": '#!/bin/sh\nexec "$SNAP/bin/real" "$@"\n',
}


@needs_shellcheck
def test_a_clean_project_passes_every_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lint.lint(make_project(tmp_path, CLEAN))
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == "invoke lint: ok (5 checks)"
    assert len(re.findall(r"^==> lint: .*: ok in \d+\.\ds$", captured.err, re.M)) == 5


@needs_shellcheck
def test_each_tools_findings_are_printed_and_the_failed_checks_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = {
        **CLEAN,
        # ruff check: an unused import, and a line over 120 columns.
        "snapbuild/unused.py": "import os\n\nTEXT = '" + "x" * 120 + "'\n",
        # ruff format: spacing it would rewrite.
        "tests/ugly.py": "x = {  'a':1 }\n",
        # mypy --strict: a missing annotation; in the hooks, a type error across their own imports.
        "snapbuild/untyped.py": "def twice(x):\n    return x * 2\n",
        "hooks/ondemand_hooks/model.py": 'VALUE: str = "1"\n',
        # shellcheck: an unquoted expansion in a wrapper.
        "snap/local/apps/bin/wrapper": '#!/bin/sh\nexec $SNAP/bin/real "$@"\n',
    }
    with pytest.raises(ToolError) as raised:
        lint.lint(make_project(tmp_path, bad))
    out = capsys.readouterr().out
    assert re.search(r"snapbuild/unused\.py:1:8: F401 \[\*\] `os` imported but unused", out)
    assert "snapbuild/unused.py:3:121: E501" in out
    assert "Would reformat: tests/ugly.py" in out
    assert "snapbuild/untyped.py:1: error: Function is missing a type annotation" in out
    assert "hooks/ondemand_hooks/__init__.py:5: error: Incompatible types in assignment" in out
    assert re.search(r"snap/local/apps/bin/wrapper:2:6: note: Double quote to prevent globbing.*\[SC2086\]", out)
    error = raised.value
    assert error.brief == (
        "invoke lint: 5 of 5 checks failed: ruff check, ruff format, mypy --strict snapbuild, tests/checks, "
        "mypy --strict ondemand_hooks, shellcheck (1 scripts)"
    )
    assert "`.venv/bin/ruff format`" in error.details and "`.venv/bin/ruff check --fix`" in error.details
    assert "[tool.mypy] in hooks/pyproject.toml" in error.details and ".shellcheckrc" in error.details
    assert "run `invoke lint` again" in error.resolution


class FakeRunner:
    """Records each command; `failing` names the tools that exit 1 with a finding."""

    def __init__(self, failing: tuple[str, ...] = ()) -> None:
        self.failing = failing
        self.commands: list[list[str]] = []

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.commands.append(argv)
        tool = Path(argv[0]).name if argv[1:2] != ["-m"] else argv[2]
        if tool in self.failing:
            return subprocess.CompletedProcess(argv, 1, stdout=f"{tool}: a finding\n")
        return subprocess.CompletedProcess(argv, 0, stdout="")


def test_every_check_runs_between_progress_lines_even_after_a_failure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(lint.shutil, "which", lambda name, *a, **k: f"/usr/bin/{name}")
    runner = FakeRunner(failing=("ruff",))
    with pytest.raises(ToolError) as raised:
        lint.lint(DEFAULT, runner)
    assert len(runner.commands) == 5
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["ruff: a finding", "ruff: a finding"]
    err = captured.err.splitlines()
    assert err[0] == "==> lint: ruff check ..."
    assert re.fullmatch(r"==> lint: ruff check: failed \(exit 1\) in \d+\.\ds", err[1])
    assert re.fullmatch(r"==> lint: mypy --strict snapbuild, tests/checks: ok in \d+\.\ds", err[5])
    assert raised.value.brief == "invoke lint: 2 of 5 checks failed: ruff check, ruff format"


def test_a_missing_tool_fails_its_check_with_the_install_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real_which = shutil.which
    monkeypatch.setattr(lint.shutil, "which", lambda name, *a, **k: None if name == "shellcheck" else real_which(name))
    runner = FakeRunner()
    with pytest.raises(ToolError) as raised:
        lint.lint(DEFAULT, runner)
    assert len(runner.commands) == 4  # the others still ran
    assert "shellcheck" in raised.value.brief and "1 of 5 checks failed" in raised.value.brief
    assert "shellcheck is not installed): install it: `sudo apt-get install -y shellcheck`" in raised.value.details
    assert re.search(
        r"==> lint: shellcheck \(\d+ scripts\): failed \(shellcheck is not installed\)", capsys.readouterr().err
    )


def test_a_missing_python_tool_names_the_pinned_install(monkeypatch: pytest.MonkeyPatch) -> None:
    real_find_spec = lint.importlib.util.find_spec
    monkeypatch.setattr(
        lint.importlib.util, "find_spec", lambda name, *a: None if name == "mypy" else real_find_spec(name, *a)
    )
    assert lint.MYPY.command() is None
    assert lint.RUFF.command() == [sys.executable, "-m", "ruff"]
    (check,) = [c for c in lint.checks(DEFAULT) if c.name == "mypy --strict snapbuild, tests/checks"]
    outcome = lint.run_check(check, FakeRunner())
    assert not outcome.ok and outcome.problem == "mypy is not installed"
    assert outcome.resolution == "install it: `.venv/bin/pip install -e .` (pyproject.toml pins it)"


def test_a_checkout_without_shell_scripts_fails_the_shellcheck_check(tmp_path: Path) -> None:
    project = make_project(tmp_path, {"snapbuild/__init__.py": ""})
    (check,) = [c for c in lint.checks(project) if c.tool is lint.SHELLCHECK]
    runner = FakeRunner()
    outcome = lint.run_check(check, runner)
    assert not outcome.ok and "no shell script" in outcome.problem and runner.commands == []


def test_invoke_lists_the_task_with_its_help() -> None:
    listed = subprocess.run(
        [sys.executable, "-m", "invoke", "--list"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert re.search(r"^  lint +The lint gate: ruff", listed, re.M)
    assert "| `lint` |" in (ROOT / "README.md").read_text()


def test_ci_runs_the_gate_after_invoke_check() -> None:
    steps = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith(".venv/bin/invoke")]
    assert steps[:2] == [".venv/bin/invoke check", ".venv/bin/invoke lint"]
