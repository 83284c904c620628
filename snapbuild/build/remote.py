"""`invoke build --remote`: snapcraft's remote build (Launchpad's build farm) of the committed recipe.

The plan is one command, `snapcraft remote-build`, run in the project root: snapcraft pushes
the tree to Launchpad, Launchpad builds every platform of snap/snapcraft.yaml (amd64 and
arm64 here) on native builders, and snapcraft downloads ondemand_<version>_<arch>.snap for
each. `--platform NAME` builds one of them (`--build-for`, which filters the recipe's plan).

Before it, the recipe must pass `invoke check --release` (no unverified source) and be what
`invoke generate` writes; then the prerequisites are checked and every missing one is named,
before anything is uploaded. `--dry-run` prints the plan and the state of each prerequisite,
and needs neither snapcraft nor Launchpad.

Facts this relies on (snapcraft 8.x, core22/core24 "current" remote builder):
- flags, from snapcraft's reference (documentation.ubuntu.com/snapcraft/8.7.1, reference/
  commands/remote-build): `--launchpad-accept-public-upload` (skips the interactive consent;
  the upload is public), `--build-for` (comma-separated; filters the project's platforms),
  `--launchpad-timeout` (seconds; local only, the Launchpad build goes on), `--project`
  (a private Launchpad project), `--recover`. 8.3 also had `--platform`; 8.7 has not, so
  only `--build-for` is used.
- the project must be the top level of a git repository and not a shallow clone
  (snapcraft's explanation page "Remote build"; craft-application's
  check_git_repo_for_remote_build refuses both).
- what is uploaded: craft-application's WorkTree copies the project directory as it is,
  commits what git does not ignore in the copy and pushes that (remote/worktree.py), so
  uncommitted changes and untracked files would be built too.
- Launchpad credentials: craft-application's RemoteBuildService reads
  platformdirs.user_data_path("snapcraft") / "launchpad-credentials", i.e.
  $XDG_DATA_HOME/snapcraft/launchpad-credentials (~/.local/share/snapcraft/... by default);
  snapcraft falls back to the legacy provider/launchpad/credentials beside it when only
  that one exists (snapcraft's tests/unit/services/test_remotebuild.py). Without a file,
  launchpadlib asks the user to authorize snapcraft in a browser and writes the file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from snapbuild.errors import ToolError, describe
from snapbuild.progress import say, step
from snapbuild.recipe.project import Project

# CI convention of this project (not snapcraft's): the credentials file's content in a
# secret; written to the file snapcraft reads just before the build.
CREDENTIALS_ENV = "LAUNCHPAD_CREDENTIALS"
MIN_SNAPCRAFT = 8  # the remote builder for core24 recipes

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class Platform:
    name: str
    build_for: tuple[str, ...]


def _recipe(project: Project) -> dict[str, Any]:
    try:
        return yaml.safe_load(project.recipe_file.read_text()) or {}
    except FileNotFoundError:
        raise ToolError("snap/snapcraft.yaml: missing", resolution="run `invoke generate`") from None


def platforms(project: Project) -> list[Platform]:
    """The recipe's platforms; the shorthand `amd64: null` builds on and for amd64."""
    declared = _recipe(project).get("platforms") or {}
    if not isinstance(declared, dict) or not declared:
        raise ToolError(
            "snap/snapcraft.yaml: no `platforms`",
            resolution="declare them in snap/metadata.yaml and run `invoke generate`",
        )
    result = []
    for name, spec in declared.items():
        targets = (spec or {}).get("build-for") or [name]
        result.append(Platform(str(name), tuple(str(t) for t in ([targets] if isinstance(targets, str) else targets))))
    return result


def select(available: list[Platform], platform: str) -> list[Platform]:
    if not platform:
        return available
    chosen = [p for p in available if p.name == platform]
    if not chosen:
        raise ToolError(
            f"--platform {platform}: not a platform of snap/snapcraft.yaml",
            resolution=f"use one of: {', '.join(p.name for p in available)}, or leave --platform out to build them all",
        )
    return chosen


def remote_build_command(chosen: list[Platform], every: list[Platform], timeout: int = 0) -> list[str]:
    # The project is open source (MIT, public on GitHub): consent to the public upload up
    # front, so that the build also runs where nobody can answer snapcraft's prompt (CI).
    command = ["snapcraft", "remote-build", "--launchpad-accept-public-upload"]
    if chosen != every:  # without --build-for snapcraft builds the recipe's whole plan
        command.append("--build-for=" + ",".join(t for p in chosen for t in p.build_for))
    if timeout:
        command.append(f"--launchpad-timeout={timeout}")
    return command


def credentials_files(environ: Mapping[str, str]) -> tuple[Path, Path]:
    """(current, legacy) Launchpad credentials files of snapcraft 8."""
    data = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "share")
    base = Path(data) / "snapcraft"
    return base / "launchpad-credentials", base / "provider" / "launchpad" / "credentials"


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)


def git_problems(root: Path) -> list[str]:
    """What keeps snapcraft from uploading this tree, or keeps the build from being the commit's."""
    if shutil.which("git") is None:
        return ["git is not on PATH; snapcraft uploads the project through git: `sudo apt-get install git`"]
    top = _git(root, "rev-parse", "--show-toplevel")
    if top.returncode != 0:
        return [f"{root} is not in a git repository; remote-build uploads a git repository: clone the project with git"]
    if Path(top.stdout.strip()).resolve() != root.resolve():
        return [
            f"{root} is not the top level of its git repository ({top.stdout.strip()}); "
            "remote-build needs the project at the top"
        ]
    problems = []
    if _git(root, "rev-parse", "--is-shallow-repository").stdout.strip() == "true":
        problems.append(
            "this is a shallow clone; remote-build refuses those: `git fetch --unshallow` "
            "(in GitHub Actions: actions/checkout with fetch-depth: 0)"
        )
    dirty = [line[3:] for line in _git(root, "status", "--porcelain", "--untracked-files=no").stdout.splitlines()]
    if dirty:
        problems.append(
            f"uncommitted changes to {', '.join(dirty)}; remote-build uploads the tree as it is, "
            "so commit (or stash) them to build the committed recipe"
        )
    return problems


def untracked(root: Path) -> list[str]:
    """Files git neither tracks nor ignores: remote-build uploads them too (it copies the directory)."""
    listed = _git(root, "ls-files", "--others", "--exclude-standard", "--directory")
    return listed.stdout.split() if listed.returncode == 0 else []


def snapcraft_problems(environ: Mapping[str, str], runner: Runner) -> list[str]:
    snapcraft = shutil.which("snapcraft", path=environ.get("PATH"))
    if snapcraft is None:
        return [
            f"snapcraft is not on PATH; install snapcraft {MIN_SNAPCRAFT} or newer: "
            "`sudo snap install snapcraft --classic`"
        ]
    done = runner(["snapcraft", "--version"], env=dict(environ), capture_output=True, text=True, check=False)
    found = re.search(r"(\d+)\.(\d+)", done.stdout or "")
    if done.returncode != 0 or found is None:
        return [
            f"`snapcraft --version` failed or printed no version ({(done.stdout or done.stderr or '').strip()!r}); "
            "reinstall it: `sudo snap remove snapcraft && sudo snap install snapcraft --classic`"
        ]
    if int(found.group(1)) < MIN_SNAPCRAFT:
        return [
            f"snapcraft {found.group(0)} is too old for a core24 remote build; "
            f"`sudo snap refresh snapcraft --channel={MIN_SNAPCRAFT}.x/stable` (or latest/stable)"
        ]
    return []


def credentials_problems(environ: Mapping[str, str]) -> list[str]:
    current, legacy = credentials_files(environ)
    if current.is_file() or legacy.is_file() or environ.get(CREDENTIALS_ENV):
        return []
    return [
        f"no Launchpad credentials: neither {current} nor {legacy} exists, and {CREDENTIALS_ENV} is not set. "
        "Create them once, on a machine with a browser and a Launchpad account (https://launchpad.net/+login): "
        "run `snapcraft remote-build --launchpad-accept-public-upload` in this directory; snapcraft prints a "
        f"Launchpad page where you authorize it, then saves {current} (and goes on to build). "
        f"For CI, store that file's content as the {CREDENTIALS_ENV} secret"
    ]


def prerequisites(project: Project, environ: Mapping[str, str], runner: Runner) -> dict[str, list[str]]:
    return {
        "snapcraft": snapcraft_problems(environ, runner),
        "launchpad credentials": credentials_problems(environ),
        "git tree": git_problems(project.root),
    }


def refusals(project: Project) -> list[str]:
    """`invoke check --release` and the drift check: what keeps this recipe from a release build."""
    from snapbuild.recipe.check import check_project, drift_problems

    problems = [f"invoke check --release: {problem}" for problem in check_project(project, release=True).problems]
    problems += [
        f"drift: {problem}"
        for problem in drift_problems(project)
        if f"invoke check --release: {problem}" not in problems
    ]
    return problems


def _credentials_source(environ: Mapping[str, str]) -> str:
    current, legacy = credentials_files(environ)
    for path in (current, legacy):
        if path.is_file():
            return str(path)
    return f"${CREDENTIALS_ENV}, written to {current} before the build" if environ.get(CREDENTIALS_ENV) else "none"


def _write_credentials(environ: Mapping[str, str]) -> None:
    current, legacy = credentials_files(environ)
    if current.is_file() or legacy.is_file():
        return
    current.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(current, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # an OAuth token: owner only
    with os.fdopen(descriptor, "w") as handle:
        handle.write(environ[CREDENTIALS_ENV].rstrip("\n") + "\n")
    say(f"wrote ${CREDENTIALS_ENV} to {current}")


def build_remote(
    project: Project,
    platform: str = "",
    timeout: int = 0,
    dry_run: bool = False,
    runner: Runner = subprocess.run,
    environ: Mapping[str, str] | None = None,
) -> list[Path]:
    """Build the recipe's platforms on Launchpad; returns the snaps snapcraft brought back (none on a dry run)."""
    env = dict(os.environ if environ is None else environ)
    if timeout < 0:
        raise ToolError(
            f"--launchpad-timeout {timeout}: negative", resolution="give seconds, or 0 to wait until Launchpad is done"
        )
    every = platforms(project)
    chosen = select(every, platform)
    command = remote_build_command(chosen, every, timeout)
    version = str(_recipe(project).get("version", "?"))
    print(f"remote build plan: {' '.join(command)}")
    print(f"  recipe:    snap/snapcraft.yaml (ondemand {version})")
    for p in chosen:
        arches = ",".join(p.build_for)
        print(f"  platform:  {p.name} (build-for {arches}) -> ondemand_{version}_{arches}.snap")
    print("  builds on: Launchpad's build farm, one native build per platform; the tree is uploaded publicly")
    waits = f"{timeout}s (local; the Launchpad build goes on)" if timeout else "none (waits until Launchpad is done)"
    print(f"  timeout:   {waits}")
    extra = untracked(project.root) if shutil.which("git") else []
    if extra:
        print(
            f"  untracked: {', '.join(extra)} "
            "(uploaded too: snapcraft copies the directory, minus what .gitignore lists)"
        )
    problems = refusals(project)
    if problems:
        raise ToolError(
            f"refusing to build remotely: {len(problems)} problem(s)",
            resolution="fix the recipe until `invoke check --release` passes, then run again",
            details=describe(problems),
        )
    missing = prerequisites(project, env, runner)
    if dry_run:
        print("prerequisites:")
        for what, found in missing.items():
            detail = (
                "; ".join(found)
                if found
                else ("ok, " + _credentials_source(env) if what == "launchpad credentials" else "ok")
            )
            print(f"  {what}: {'MISSING: ' if found else ''}{detail}")
        print("dry run: nothing uploaded; without --dry-run this runs the command above in " + str(project.root))
        return []
    listed = [problem for found in missing.values() for problem in found]
    if listed:
        raise ToolError(
            f"cannot build remotely: {len(listed)} thing(s) missing; nothing was uploaded",
            resolution="provide what is listed, then run again (`--dry-run` shows the plan and each prerequisite)",
            details=describe(listed),
        )
    if env.get(CREDENTIALS_ENV):
        _write_credentials(env)
    started = time.time()
    with step(" ".join(command)):
        done = runner(command, cwd=project.root, env=env, check=False)
    if done.returncode != 0:
        raise ToolError(
            f"`{' '.join(command)}` failed (exit {done.returncode})",
            resolution=(
                "read snapcraft's message above; the build logs (*.txt) are in the project root, and "
                "`snapcraft remote-build --recover` picks up builds that are still running on Launchpad"
            ),
        )
    built = sorted(p for p in project.root.glob("ondemand_*.snap") if p.stat().st_mtime >= started - 1)
    wanted = {t for p in chosen for t in p.build_for}
    arrived = {p.stem.rsplit("_", 1)[-1] for p in built}
    if wanted - arrived:
        raise ToolError(
            f"snapcraft finished but no snap for {', '.join(sorted(wanted - arrived))} arrived",
            resolution="read snapcraft's log above and the build logs (*.txt) in the project root",
        )
    for snap in built:
        say(f"built {snap} ({snap.stat().st_size / 1e6:.1f} MB) on Launchpad")
    return built
