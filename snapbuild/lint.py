"""`invoke lint`: the lint gate.

- ruff over the whole tree (`ruff check` and `ruff format --check`; settings: [tool.ruff] in
  pyproject.toml, which the hooks package's pyproject.toml does not shadow);
- mypy --strict over snapbuild (settings: [tool.mypy] in pyproject.toml) and over the hooks
  package with its own hooks/pyproject.toml (hooks/ is its import root);
- shellcheck -x over every shell script git tracks (`shell_scripts`; settings: .shellcheckrc).

Every check runs, each between progress lines, with its findings printed; then the gate fails
naming the checks that failed, each with how to fix it. A tool that is not installed fails its
check (with the command that installs it): the gate never passes by skipping one.
"""

from __future__ import annotations

import fnmatch
import importlib.util
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from snapbuild.errors import ToolError, describe
from snapbuild.progress import say
from snapbuild.recipe.project import Project

Runner = Callable[..., "subprocess.CompletedProcess[str]"]

# A sh or bash shebang: `#!/bin/sh`, `#!/bin/bash`, `#!/usr/bin/env bash`.
SHEBANG = re.compile(rb"^#!\S*(/|env )(ba)?sh\b")
# Shell files without a shebang (sourced by the others; `# shellcheck shell=...` names the shell).
SOURCED_SUFFIXES = {".sh", ".bash"}


@dataclass(frozen=True)
class Tool:
    """A program a check runs: a Python module of the tooling's own environment (pinned in
    pyproject.toml), or a program on PATH; and how to install it."""

    name: str
    install: str
    module: str = ""

    def command(self) -> list[str] | None:
        """The argv prefix that runs the tool, or None when it is not installed."""
        if self.module:
            return [sys.executable, "-m", self.module] if importlib.util.find_spec(self.module) else None
        found = shutil.which(self.name)
        return [found] if found else None


PIP_INSTALL = "`.venv/bin/pip install -e .` (pyproject.toml pins it)"
RUFF = Tool("ruff", install=PIP_INSTALL, module="ruff")
MYPY = Tool("mypy", install=PIP_INSTALL, module="mypy")
SHELLCHECK = Tool("shellcheck", install="`sudo apt-get install -y shellcheck`")


@dataclass(frozen=True)
class Check:
    """One tool run: `tool` with `args` in `cwd`; `fix` says what to do about its findings.
    `unrunnable` says why the check cannot run at all (it then fails)."""

    name: str
    tool: Tool
    args: tuple[str, ...]
    cwd: Path
    fix: str
    unrunnable: str = ""


@dataclass(frozen=True)
class Outcome:
    check: Check
    ok: bool
    output: str = ""
    problem: str = ""  # why it failed, when it did
    resolution: str = ""  # what to do about it
    seconds: float = 0.0


def tracked(root: Path) -> list[str]:
    """The files git tracks under `root`, sorted."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        said = getattr(error, "stderr", b"") or b""
        raise ToolError(
            f"cannot list the files git tracks in {root}: {error}",
            details=said.decode(errors="replace"),
            resolution="run the lint gate in a git checkout of the project, with git installed",
        ) from error
    return sorted(filter(None, listed.decode().split("\0")))


def check_clients(root: Path) -> list[str]:
    """The behaviour checks' Python clients (tests/checks/*.py): typed like snapbuild."""
    return [name for name in tracked(root) if fnmatch.fnmatch(name, "tests/checks/*.py")]


def shell_scripts(root: Path) -> list[Path]:
    """The files git tracks under `root` that have a sh/bash shebang, and the sourced *.sh and
    *.bash files: tests/checks, snap/hooks, the wrappers in snap/local, the build tools, .ci/run."""
    found = []
    for name in tracked(root):
        path = root / name
        if not path.is_file() or path.is_symlink():
            continue
        if path.suffix in SOURCED_SUFFIXES:
            found.append(path)
            continue
        with path.open("rb") as handle:
            if SHEBANG.match(handle.readline()):
                found.append(path)
    return found


def checks(project: Project) -> list[Check]:
    """The gate, in the order it runs (the quickest first)."""
    root = project.root
    scripts = tuple(str(p.relative_to(root)) for p in shell_scripts(root))
    return [
        Check(
            "ruff check",
            RUFF,
            ("check", "--no-fix", "--output-format", "concise", "."),
            root,
            fix="fix each finding: `.venv/bin/ruff check --fix` fixes those marked [*], the rest by hand",
        ),
        Check(
            "ruff format",
            RUFF,
            ("format", "--check", "."),
            root,
            fix="run `.venv/bin/ruff format` (it rewrites the files listed)",
        ),
        Check(
            "mypy --strict snapbuild, tests/checks",
            MYPY,
            ("--strict", "snapbuild", *check_clients(root)),
            root,
            fix="fix each error (settings: [tool.mypy] in pyproject.toml)",
        ),
        Check(
            "mypy --strict ondemand_hooks",
            MYPY,
            ("--strict", "--config-file", "hooks/pyproject.toml", "hooks/ondemand_hooks"),
            root,
            fix="fix each error (settings: [tool.mypy] in hooks/pyproject.toml)",
        ),
        Check(
            f"shellcheck ({len(scripts)} scripts)",
            SHELLCHECK,
            ("-x", "-f", "gcc", *scripts),
            root,
            fix=(
                "fix each finding (settings: .shellcheckrc); where one is wrong, disable that check on "
                "its line with `# shellcheck disable=SCnnnn  # why`"
            ),
            unrunnable="" if scripts else "git tracks no shell script here: the file list is broken",
        ),
    ]


def run_check(check: Check, runner: Runner = subprocess.run) -> Outcome:
    """Run one check: its output (stdout and stderr), and whether it passed (exit 0)."""
    if check.unrunnable:
        return Outcome(check, ok=False, problem=check.unrunnable, resolution="fix snapbuild.lint")
    command = check.tool.command()
    if command is None:
        return Outcome(
            check,
            ok=False,
            problem=f"{check.tool.name} is not installed",
            resolution=f"install it: {check.tool.install}",
        )
    started = time.monotonic()
    done = runner([*command, *check.args], cwd=check.cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.monotonic() - started
    if done.returncode == 0:
        return Outcome(check, ok=True, output=done.stdout or "", seconds=seconds)
    return Outcome(
        check,
        ok=False,
        output=done.stdout or "",
        problem=f"exit {done.returncode}",
        resolution=check.fix,
        seconds=seconds,
    )


def run_gate(gate: Sequence[Check], runner: Runner = subprocess.run) -> list[Outcome]:
    """Run every check, printing a progress line before and after each and its findings."""
    outcomes = []
    for check in gate:
        say(f"==> lint: {check.name} ...")
        outcome = run_check(check, runner)
        if outcome.output.strip():
            print(outcome.output.rstrip(), flush=True)
        if outcome.ok:
            say(f"==> lint: {check.name}: ok in {outcome.seconds:.1f}s")
        else:
            say(f"==> lint: {check.name}: failed ({outcome.problem}) in {outcome.seconds:.1f}s")
        outcomes.append(outcome)
    return outcomes


def verdict(outcomes: Sequence[Outcome]) -> None:
    """Raise the gate's ToolError when a check failed: which ones, and how to fix each."""
    failed = [o for o in outcomes if not o.ok]
    if not failed:
        return
    raise ToolError(
        f"invoke lint: {len(failed)} of {len(outcomes)} checks failed: {', '.join(o.check.name for o in failed)}",
        details=describe([f"{o.check.name} ({o.problem}): {o.resolution}" for o in failed]),
        resolution="do what each failed check above says, then run `invoke lint` again",
    )


def lint(project: Project, runner: Runner = subprocess.run) -> None:
    """`invoke lint`: run the whole gate; raise a ToolError naming every check that failed."""
    outcomes = run_gate(checks(project), runner)
    verdict(outcomes)
    print(f"invoke lint: ok ({len(outcomes)} checks)")
