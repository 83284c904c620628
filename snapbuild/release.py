"""`invoke publish`: upload a built snap to the store and release it to latest/<channel>.

The plan is one command, `snapcraft upload --release=latest/<channel> <snap>`, the same
one snapcore/action-publish runs in CI. Before it, the snap itself is checked:

- builds that left parts out (meta/build-info.yaml `left-out`, or a `+stacks-only`
  version) are refused: they are local test builds, not Open OnDemand;
- the recipe must pass `invoke check --release` (no unverified upstream source);
- the snap's name must be the project's.

`--dry-run` prints the plan and what is being published (name, version, architecture,
size, sha256) and applies the same refusals, without snapcraft or store credentials.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from snapbuild.errors import ToolError, describe
from snapbuild.fileutil import sha256_file
from snapbuild.recipe.project import Project

CHANNELS = ("edge", "beta", "candidate", "stable")
TRACK = "latest"
CREDENTIALS = "SNAPCRAFT_STORE_CREDENTIALS"
STACKS_ONLY = "+stacks-only"

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class SnapFacts:
    """What is being published, read from the snap file itself."""

    path: Path
    name: str
    version: str
    architectures: list[str]
    size: int
    sha256: str
    left_out: list[str] = field(default_factory=list)
    sources: str = ""  # build-info's `sources` (upstream|archive), '' if the snap has none
    # build-info's `build-host` and `base-userland`: a local build on another distribution
    # stages that distribution's libraries into the snap.
    build_host: str = ""
    base_userland: str = ""

    def lines(self) -> list[str]:
        info = (
            f"{self.sources} sources"
            if self.sources
            else "no meta/build-info.yaml (a snapcraft build of the committed recipe)"
        )
        return [
            f"  snap:    {self.path}",
            f"  name:    {self.name}",
            f"  version: {self.version}",
            f"  arch:    {', '.join(self.architectures) or '?'}",
            f"  size:    {self.size} bytes ({self.size / 1e6:.1f} MB)",
            f"  sha256:  {self.sha256}",
            f"  build:   {info}; left out: {', '.join(self.left_out) or 'nothing'}"
            + (f"; built on {self.build_host}" if self.build_host else ""),
        ]


def _member(snap_file: Path, member: str) -> str | None:
    done = subprocess.run(
        ["unsquashfs", "-cat", str(snap_file), member], capture_output=True, text=True, errors="replace"
    )
    return done.stdout if done.returncode == 0 else None


def snap_facts(snap_file: Path) -> SnapFacts:
    """Name, version, arch, size, sha256 and build info of a .snap."""
    if not snap_file.is_file():
        raise ToolError(
            f"{snap_file}: no such snap file",
            resolution="build it (`invoke build`) or give the path of the .snap to publish",
        )
    if shutil.which("unsquashfs") is None:
        raise ToolError(
            "unsquashfs is missing; it reads the snap's metadata", resolution="apt-get install squashfs-tools"
        )
    text = _member(snap_file, "meta/snap.yaml")
    if text is None:
        raise ToolError(
            f"{snap_file}: no meta/snap.yaml inside; not a snap", resolution="give the .snap that `invoke build` wrote"
        )
    try:
        meta = yaml.safe_load(text) or {}
        info = yaml.safe_load(_member(snap_file, "meta/build-info.yaml") or "") or {}
    except yaml.YAMLError as error:
        raise ToolError(
            f"{snap_file}: unreadable metadata", resolution="rebuild the snap", details=str(error)
        ) from None
    return SnapFacts(
        path=snap_file,
        name=str(meta.get("name", "")),
        version=str(meta.get("version", "")),
        architectures=[str(a) for a in meta.get("architectures") or []],
        size=snap_file.stat().st_size,
        sha256=sha256_file(snap_file),
        left_out=[str(p) for p in info.get("left-out") or []],
        sources=str(info.get("sources", "")),
        build_host=str(info.get("build-host", "")),
        base_userland=str(info.get("base-userland", "")),
    )


def upload_command(snap_file: Path, channel: str) -> list[str]:
    return ["snapcraft", "upload", f"--release={TRACK}/{channel}", str(snap_file)]


def refusals(project: Project, facts: SnapFacts) -> list[str]:
    """Why this snap must not be published (empty: it may)."""
    from snapbuild.recipe.check import check_project

    problems = []
    if facts.left_out:
        problems.append(
            f"{facts.path.name}: built without {', '.join(facts.left_out)} (meta/build-info.yaml left-out); "
            "publish only full builds (`invoke build` without --without, or the snapcraft build in CI)"
        )
    if facts.build_host and facts.base_userland and facts.build_host != facts.base_userland:
        problems.append(
            f"{facts.path.name}: its stage-packages are {facts.build_host}'s, not {facts.base_userland}'s, "
            "the userland of its base (meta/build-info.yaml build-host, base-userland); publish the snapcraft "
            "build of the committed recipe, which stages the base's packages"
        )
    if facts.version.endswith(STACKS_ONLY):
        problems.append(
            f"{facts.path.name}: version {facts.version} is a stacks-only build without OnDemand; publish a full build"
        )
    expected = str(project.load_metadata().get("name", ""))
    if facts.name != expected:
        problems.append(f"{facts.path.name}: snap name {facts.name!r} is not this project's ({expected!r})")
    report = check_project(project, release=True)
    problems += [f"invoke check --release: {problem}" for problem in report.problems]
    return problems


def publish(
    project: Project,
    snap_file: Path,
    channel: str = "edge",
    dry_run: bool = False,
    runner: Runner = subprocess.run,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Upload snap_file and release it to latest/<channel>; returns the command run (or planned)."""
    env = dict(os.environ if environ is None else environ)
    if channel not in CHANNELS:
        raise ToolError(
            f"channel {channel!r}: unknown",
            resolution=f"use one of {', '.join(CHANNELS)} (released on the {TRACK} track)",
        )
    snap_file = Path(snap_file)
    facts = snap_facts(snap_file)
    command = upload_command(snap_file, channel)
    print(f"publish plan: {' '.join(command)}")
    print("\n".join(facts.lines()))
    problems = refusals(project, facts)
    if problems:
        raise ToolError(
            f"refusing to publish {snap_file.name}: {len(problems)} problem(s)",
            resolution="publish a full build of a recipe that passes `invoke check --release`",
            details=describe(problems),
        )
    if dry_run:
        print(
            f"dry run: nothing uploaded; without --dry-run this releases {facts.name} {facts.version} "
            f"to {TRACK}/{channel}"
        )
        return command
    missing = []
    snapcraft = shutil.which("snapcraft", path=env.get("PATH"))
    if snapcraft is None:
        missing.append("snapcraft is not on PATH; install it with `sudo snap install snapcraft --classic`")
    if not env.get(CREDENTIALS):
        missing.append(
            f"{CREDENTIALS} is not set; export store credentials limited to this snap and channel: "
            f"`snapcraft export-login --snaps={facts.name} --channels={TRACK}/{channel} "
            "--acls=package_access,package_push,package_update,package_release creds.txt` "
            f"(on a machine where you can log in), then `export {CREDENTIALS}=$(cat creds.txt)`"
        )
    if missing:
        raise ToolError(
            f"cannot publish {snap_file.name}: {len(missing)} thing(s) missing",
            resolution="provide what is listed, then run again",
            details=describe(missing),
        )
    done = runner(command, env=env, check=False)
    if done.returncode != 0:
        raise ToolError(
            f"`{' '.join(command)}` failed (exit {done.returncode})",
            resolution=(
                f"read snapcraft's message above; `snapcraft whoami` shows whether {CREDENTIALS} is valid "
                f"and may push {facts.name}"
            ),
        )
    print(f"published {facts.name} {facts.version} ({', '.join(facts.architectures)}) to {TRACK}/{channel}")
    return command
