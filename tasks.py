"""Tasks for the Open OnDemand snap. `invoke --list` shows them; `invoke --help TASK` details one.

Each task is a thin entry point into the `snapbuild` library. Errors go through snapbuild.cli,
as for every other entry point: `error: ...` with the resolution and no traceback, exit 1 (a
ToolError) or 2 (a UsageError: options the task does not take together, or unknown values).
"""

from __future__ import annotations

import sys

from invoke import task

from snapbuild.cli import UsageError, reported
from snapbuild.errors import ToolError
from snapbuild.recipe.project import DEFAULT as PROJECT


@task
@reported
def generate(c):
    """Write snap/snapcraft.yaml (and docs/configuration.md) from snap/metadata.yaml and parts/*.yaml."""
    from snapbuild.fileutil import write_atomic
    from snapbuild.recipe.check import generated_files

    for relative, produce, _ in generated_files(PROJECT):
        changed = write_atomic(PROJECT.root / relative, produce(PROJECT))
        print(f"{relative}: {'written' if changed else 'unchanged'}")


@task(
    help={
        "release": "also refuse unverified (unpinned) upstream sources, as release builds do",
        "snap": "also run the store-review checks on this built .snap",
    }
)
@reported
def check(c, release=False, snap=""):
    """Validate parts (through craft-parts), snap metadata, pins, downloads and generated-file drift."""
    from snapbuild.errors import describe
    from snapbuild.recipe.check import check_project

    report = check_project(PROJECT, release=release)
    for warning in report.warnings:
        print(f"warning: {warning}")
    if not report.ok:
        raise ToolError(
            f"invoke check: {len(report.problems)} problem(s)",
            resolution="fix each problem as it says, then run `invoke check` again",
            details=describe(report.problems),
        )
    print(f"invoke check: ok ({len(report.warnings)} warning(s))")
    if snap:
        from pathlib import Path

        from snapbuild.review.snapcheck import check_snap_task

        check_snap_task(Path(snap), PROJECT)


@task(
    help={
        "snap": "the .snap file to publish",
        "channel": "edge (default), beta, candidate or stable (latest track)",
        "dry_run": "print the plan and name/version/arch/size/sha256; needs no snapcraft or credentials",
    }
)
@reported
def publish(c, snap, channel="edge", dry_run=False):
    """Upload a built snap and release it to latest/<channel> (refuses partial builds and unverified sources)."""
    from pathlib import Path

    from snapbuild.release import publish as publish_snap

    publish_snap(PROJECT, Path(snap), channel=channel, dry_run=dry_run)


@task(help={"snap": "also read this built .snap (setuid/setgid, world-writable, sizes) into build/audit-snap.md"})
@reported
def audit(c, snap=""):
    """Write docs/audit.md (the store reviewers' report) and print its diff against the committed one."""
    from pathlib import Path

    from snapbuild.review.audit import run_audit

    run_audit(PROJECT, Path(snap) if snap else None)


@task(
    help={
        "repeats": "how many hooks-only rebuilds to time (the best is reported)",
        "try_only": "only the `invoke try` comparison (its own build container; leaves `invoke build`'s alone)",
        "source_cache": "offline source cache for the try comparison (default $ONDEMAND_SOURCE_CACHE)",
    }
)
@reported
def bench_build(c, repeats=1, try_only=False, source_cache=""):
    """Print build times per part, hooks-only rebuild+repack vs bare `snap pack`, and `invoke try` vs repack+install."""
    from snapbuild.bench import bench_build as run
    from snapbuild.bench import bench_try
    from snapbuild.build.sourcecache import cache_from

    if not try_only:
        run(PROJECT, repeats=int(repeats))
    bench_try(PROJECT, repeats=int(repeats), cache=cache_from(source_cache))


@task
@reported
def lint(c):
    """The lint gate: ruff (check, format), mypy --strict (snapbuild, tests/checks/*.py, hooks), shellcheck."""
    from snapbuild.lint import lint as run_lint

    run_lint(PROJECT)


@task
@reported
def lint_workflows(c):
    """Run actionlint (built through the Go module proxy into build/tools/bin) on .github/workflows."""
    from snapbuild.machines.gotools import actionlint_workflows

    actionlint_workflows(PROJECT)


def _parts_list(value: str) -> frozenset[str]:
    return frozenset(p.strip() for p in value.split(",") if p.strip())


@task(
    help={
        "source": (
            "upstream (the release recipe's pinned tarballs) or archive (stacks from Debian's archive; builds offline)"
        ),
        "without": (
            "comma-separated parts to leave out (e.g. ondemand where GitHub is unreachable); the version says so"
        ),
        "destructive": "build on this machine instead of in an LXD container",
        "snapcraft": (
            "delegate to `snapcraft pack` (needs snapcraft; combine with --destructive for --destructive-mode)"
        ),
        "clean": "LXD: start from a fresh build container instead of the kept one",
        "compression": "squashfs compression: lzo (fast, default) or xz (smallest, for releases)",
        "work_dir": "destructive: craft-parts work dir (default build/<source>[-without-...])",
        "output": "where to write the .snap (default ./ondemand_<version>_<arch>.snap)",
        "source_cache": (
            "offline source cache (a dir of source archives + SHA256SUMS; default $ONDEMAND_SOURCE_CACHE): "
            "its files stand in for the upstream sources that name them, after their sha256 is checked"
        ),
        "remote": (
            "`snapcraft remote-build`: Launchpad builds every platform of snap/snapcraft.yaml "
            "(needs Launchpad credentials)"
        ),
        "platform": "remote: build only this platform of snap/snapcraft.yaml (amd64 or arm64)",
        "launchpad_timeout": "remote: stop waiting for Launchpad after this many seconds (0: wait until it is done)",
        "dry_run": "remote: print the command, the platforms and each prerequisite; uploads nothing",
    }
)
@reported
def build(
    c,
    source="upstream",
    without="",
    destructive=False,
    snapcraft=False,
    clean=False,
    compression="lzo",
    work_dir="",
    output="",
    source_cache="",
    remote=False,
    platform="",
    launchpad_timeout=0,
    dry_run=False,
):
    """Build ondemand_<version>_<arch>.snap: in LXD (default), on the host, with snapcraft, or on Launchpad."""
    from pathlib import Path

    from snapbuild.build import backends
    from snapbuild.build.sourcecache import cache_from

    if remote:
        from snapbuild.build.remote import build_remote

        others = [
            flag
            for flag, used in (
                ("--source", source != "upstream"),
                ("--without", without),
                ("--destructive", destructive),
                ("--snapcraft", snapcraft),
                ("--clean", clean),
                ("--compression", compression != "lzo"),
                ("--work-dir", work_dir),
                ("--output", output),
                ("--source-cache", source_cache),
            )
            if used
        ]
        if others:
            raise UsageError(
                f"--remote builds the committed recipe on Launchpad; it takes no {', '.join(others)}",
                resolution="drop them, or build locally without --remote",
            )
        build_remote(PROJECT, platform=platform, timeout=int(launchpad_timeout), dry_run=dry_run)
        return
    if platform or dry_run or launchpad_timeout:
        raise UsageError(
            "--platform, --launchpad-timeout and --dry-run go with --remote", resolution="add --remote, or drop them"
        )
    if source not in ("upstream", "archive"):
        raise UsageError(f"--source {source}: unknown", resolution="use --source upstream or --source archive")
    if compression not in ("lzo", "xz"):
        raise UsageError(f"--compression {compression}: unknown", resolution="use lzo or xz")
    left_out = _parts_list(without)
    cache = cache_from(source_cache)
    if snapcraft:
        if source != "upstream" or left_out or cache:
            raise UsageError(
                "--snapcraft builds the committed recipe only",
                resolution=(
                    "drop --source/--without/--source-cache (and unset $ONDEMAND_SOURCE_CACHE), "
                    "or use the other backends"
                ),
            )
        backends.build_snapcraft(PROJECT, destructive=destructive)
    elif destructive:
        backends.build_destructive(
            PROJECT,
            source,
            left_out,
            output=Path(output) if output else None,
            work=Path(work_dir) if work_dir else None,
            compression=compression,
            cache=cache,
        )
    else:
        backends.build_lxd(PROJECT, source, left_out, clean=clean, compression=compression, cache=cache)


@task(
    name="try",
    help={
        "container": (
            "the test container to try the snap in: made from the test image if missing, kept, and "
            "updated in place by the next `invoke try --container` (default: a fresh ondemand-try-*)"
        ),
        "copy": "tar the prime dir into the test container instead of sharing the build container's work dir",
        "source": "archive (default, what this machine builds) or upstream",
        "without": "comma-separated parts to leave out (default: rails-apps, as the README's build)",
        "source_cache": "offline source cache (default $ONDEMAND_SOURCE_CACHE), as for `invoke build`",
    },
)
@reported
def try_(c, container="", copy=False, source="", without="", source_cache=""):
    """Build what changed and `snap try` the prime dir in a test container's real snapd: hooks, services, no .snap."""
    from snapbuild.build.backends import LOCAL_BUILD
    from snapbuild.build.devtry import try_snap
    from snapbuild.build.sourcecache import cache_from

    mode = source or LOCAL_BUILD[0]
    if mode not in ("upstream", "archive"):
        raise UsageError(f"--source {mode}: unknown", resolution="use --source archive or --source upstream")
    left_out = _parts_list(without) if without else LOCAL_BUILD[1]
    try_snap(PROJECT, mode, left_out, container=container, copy=copy, cache=cache_from(source_cache))


@task(
    help={
        "unit_only": "run only the pytest unit tests (no LXD, no snapd)",
        "snap": (
            "the .snap to test (default: $ONDEMAND_SNAP, else the newest ./ondemand_*.snap, built if there is none)"
        ),
        "source_cache": (
            "when a snap must be built first: the offline source cache (default $ONDEMAND_SOURCE_CACHE, "
            "else ../shared/sources where it exists), as the README's build command uses it"
        ),
    }
)
@reported
def test(c, unit_only=False, snap="", source_cache=""):
    """Unit tests; then on the built snap: relocation, store-review checks, the spread suite in real snapd (LXD)."""
    from pathlib import Path

    from snapbuild.machines import systemtest
    from snapbuild.progress import step

    c.run(f"{sys.executable} -m pytest tests/unit -q", pty=False)
    if unit_only:
        return
    path = systemtest.find_snap(PROJECT.root, {systemtest.ENV_SNAP: snap} if snap else None)
    if path is None:
        from snapbuild.build.backends import LOCAL_BUILD, build_lxd, local_cache_dir
        from snapbuild.build.sourcecache import cache_from, open_cache

        mode, left_out = LOCAL_BUILD
        cache = cache_from(source_cache)
        if cache is None and local_cache_dir(PROJECT).is_dir():
            cache = open_cache(local_cache_dir(PROJECT))
        path = build_lxd(PROJECT, mode, left_out, cache=cache)
    from snapbuild.build.relocation import relocation_test
    from snapbuild.review.snapcheck import check_snap_task

    with step(f"relocation test of {Path(path).name}"):
        relocation_test(Path(path))
    with step(f"store-review checks of {Path(path).name}"):
        check_snap_task(Path(path), PROJECT)
    systemtest.run_tests(Path(path))
