"""`invoke build`: the three backends (lxd, destructive, snapcraft) over one lifecycle.

- destructive: craft-parts on this machine (lifecycle.py), then pack.py.
- lxd: the same destructive build inside a container made from a locally built image; the
  container is kept (stopped) between builds so rebuilds are incremental; `--clean` starts
  from a fresh one.
- snapcraft: `snapcraft pack` over the generated snap/snapcraft.yaml (the store's path).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from snapbuild.build.lifecycle import (
    BuildPlan,
    load_timings,
    make_plan,
    record_timings,
    run_lifecycle,
    unreachable_sources,
)
from snapbuild.build.pack import snap_pack, write_meta
from snapbuild.build.sourcecache import SourceCache
from snapbuild.errors import ToolError, describe
from snapbuild.progress import say, step
from snapbuild.recipe.generate import snap_version
from snapbuild.recipe.partfile import Mode, host_arch
from snapbuild.recipe.project import Project
from snapbuild.recipe.userland import LXD_BUILD_HOST, Distribution

CONTAINER_PROJECT = "/root/project"
CONTAINER_WORK = "/root/work"
CONTAINER_OUT = "/root/out"
CONTAINER_VENV = "/root/venv"
CONTAINER_CACHE = "/root/source-cache"
# What this project's machines build (the README's build command): Debian 12's archive for
# the distro stacks, the release versions of the rest (from the source cache where GitHub and
# nginx.org are unreachable), without the Rails apps, which need rubygems.org.
LOCAL_BUILD: tuple[Mode, frozenset[str]] = ("archive", frozenset({"rails-apps"}))


def local_cache_dir(project: Project) -> Path:
    """Where this project's machines keep the offline source cache: ../shared/sources beside
    the clone (the README's build command names it)."""
    return project.root.parent / "shared" / "sources"


def snap_name(version: str, arch: str | None = None) -> str:
    return f"ondemand_{version}_{arch or host_arch()}.snap"


def work_dir(project: Project, mode: Mode, without: frozenset[str]) -> Path:
    """One work dir per source mode and set of left-out parts, so switching never mixes primes."""
    suffix = f"-without-{'-'.join(sorted(without))}" if without else ""
    return project.build_dir / f"{mode}{suffix}"


def prepare(
    project: Project,
    mode: Mode,
    without: frozenset[str],
    cache: SourceCache | None = None,
    host: Distribution | None = None,
) -> tuple[BuildPlan, str]:
    """Plan the build, show which source each part takes, and stop early on unreachable ones.
    `host`: the machine that will build (default this one), whose archive stage-packages come from."""
    plan = make_plan(project, mode, without, cache, host)
    version = snap_version(plan.parts, mode, without)
    cached = f", source cache {cache.root}" if cache else ""
    say(f"building ondemand {version} from {mode} sources{cached}:\n{plan.table()}")
    unreachable = unreachable_sources(plan)
    if unreachable:
        parts = ",".join(sorted({line.split(":")[0] for line in unreachable}))
        raise ToolError(
            f"{len(unreachable)} input(s) cannot be reached from this machine; nothing was built",
            resolution=(
                f"give an offline source cache (`--source-cache DIR`) for the sources that have a cache entry, "
                f"leave the parts out (`--without {parts}`; the version says so), or build where these hosts "
                "are reachable"
            ),
            details=describe(unreachable),
        )
    return plan, version


def build_destructive(
    project: Project,
    mode: Mode,
    without: frozenset[str],
    output: Path | None = None,
    work: Path | None = None,
    compression: str = "lzo",
    cache: SourceCache | None = None,
) -> Path:
    """Lifecycle and pack on this machine; returns the snap's path."""
    plan, version = prepare(project, mode, without, cache)
    metadata = project.load_metadata()
    work = work or work_dir(project, mode, without)
    prime = run_lifecycle(project, plan, work, base=str(metadata.get("base", "")))
    target = output or project.root / snap_name(version)
    started = time.monotonic()
    with step(f"pack {target.name}"):
        write_meta(project, plan, prime, version, host_arch(), work)
        snap_pack(prime, target, compression)
    timings = load_timings(work)
    record_timings(work, {}, lifecycle=timings["last"].get("lifecycle", 0.0), pack=time.monotonic() - started)
    say(f"built {target} ({target.stat().st_size / 1e6:.1f} MB)")
    return target


def _project_files(project: Project) -> list[str]:
    """What a build needs: the files git tracks plus new ones it does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=project.root,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (project.root / name).exists()]


def _sync_project(name: str, project: Project) -> None:
    """Replace the container's copy of the project; tar keeps mtimes, so unchanged files stay unchanged
    for craft-parts' outdated-source detection."""
    from snapbuild.machines import lxd

    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "project"
        tree.mkdir()
        directories: set[Path] = set()
        for relative in _project_files(project):
            (tree / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(project.root / relative, tree / relative, follow_symlinks=False)
            directories.update(Path(relative).parents)
        # Directories too keep their mtimes: craft-parts treats a newer directory in a local
        # source as a change, which would rebuild every local part (and all that depend on it).
        for directory in sorted(directories, key=lambda d: len(d.parts), reverse=True):
            source = (project.root / directory).stat()
            os.utime(tree / directory, ns=(source.st_atime_ns, source.st_mtime_ns))
        lxd.exec_(name, ["rm", "-rf", CONTAINER_PROJECT])
        lxd.push_tree(name, tree, CONTAINER_PROJECT)


def _python_dependencies(project: Project) -> list[str]:
    import tomllib

    data = tomllib.loads((project.root / "pyproject.toml").read_text())
    return list(data["project"]["dependencies"])


def build_container_name(image_alias: str) -> str:
    return f"{image_alias}-builder"


def _cache_in_place(name: str, plan: BuildPlan) -> bool:
    """The container already holds this plan's cache files under the same SHA256SUMS (sizes
    compared too): pushing them again would cost seconds per build for nothing."""
    from snapbuild.build.sourcecache import SUMS_FILE
    from snapbuild.machines import lxd

    assert plan.cache is not None
    files = sorted(plan.cached.values())
    script = 'cd "$1" && cat SHA256SUMS && shift && stat -c "%n %s" -- "$@"'
    done = lxd.exec_(
        name, ["sh", "-c", script, "sh", CONTAINER_CACHE, *(p.name for p in files)], check=False, capture=True
    )
    wanted = (plan.cache.root / SUMS_FILE).read_text() + "".join(f"{p.name} {p.stat().st_size}\n" for p in files)
    return done.returncode == 0 and done.stdout == wanted


def _push_cache(name: str, plan: BuildPlan) -> None:
    """Only the cache files this build takes, with the cache's SHA256SUMS, into the container
    (the container verifies them again against the part files' pins)."""
    from snapbuild.build.sourcecache import SUMS_FILE
    from snapbuild.machines import lxd

    assert plan.cache is not None
    with tempfile.TemporaryDirectory() as scratch:
        tree = Path(scratch) / "cache"
        tree.mkdir()
        shutil.copy2(plan.cache.root / SUMS_FILE, tree / SUMS_FILE)
        for path in plan.cached.values():
            shutil.copy2(path, tree / path.name)
        lxd.exec_(name, ["rm", "-rf", CONTAINER_CACHE])
        lxd.push_tree(name, tree, CONTAINER_CACHE)


def prepare_builder(project: Project, plan: BuildPlan, name: str, alias: str, clean: bool = False) -> None:
    """Container `name` (from build image `alias`) running, with the tooling, the project and
    the source cache files this plan takes in place; launched when missing."""
    from snapbuild.machines import lxd

    if clean and lxd.exists(name):
        with step(f"--clean: delete {name}"):
            lxd.delete(name)
    fresh = not lxd.exists(name)
    if fresh:
        with step(f"launch build container {name}"):
            lxd.launch(name, alias)
    else:
        lxd.lxc("start", name, check=False)  # kept stopped between builds; already running is fine
    lxd.wait_ready(name)
    deps = _python_dependencies(project)
    with step("tooling inside the container"):
        # Re-run every time: a no-op when the pinned versions are already installed.
        # Reinstalled only when the pinned list changes (a stamp in the venv records it).
        stamp = " ".join(deps)
        lxd.exec_(name, ["sh", "-c", f"test -x {CONTAINER_VENV}/bin/python || python3 -m venv {CONTAINER_VENV}"])
        current = lxd.exec_(name, ["cat", f"{CONTAINER_VENV}/.deps"], check=False, capture=True).stdout
        if current != stamp:
            lxd.exec_(
                name,
                [f"{CONTAINER_VENV}/bin/pip", "install", "-q", "--disable-pip-version-check", *deps],
                env={"PIP_CERT": "/etc/ssl/certs/ca-certificates.crt"},
            )
            lxd.exec_(name, ["sh", "-c", f'printf %s "$1" > {CONTAINER_VENV}/.deps', "sh", stamp])
    with step("copy the project into the container"):
        _sync_project(name, project)
    if plan.cached:
        if _cache_in_place(name, plan):
            say(f"==> the {len(plan.cached)} source cache file(s) are already in the container")
        else:
            with step(f"copy {len(plan.cached)} verified source cache file(s) into the container"):
                _push_cache(name, plan)


def inner_options(project: Project, plan: BuildPlan) -> list[str]:
    """The source/left-out/work-dir/cache options of a build run inside the build container."""
    argv = ["--source", plan.mode, "--work-dir", f"{CONTAINER_WORK}/{work_dir(project, plan.mode, plan.without).name}"]
    if plan.without:
        argv += ["--without", ",".join(sorted(plan.without))]
    if plan.cached:
        argv += ["--source-cache", CONTAINER_CACHE]
    return argv


def build_lxd(
    project: Project,
    mode: Mode,
    without: frozenset[str],
    clean: bool = False,
    compression: str = "lzo",
    cache: SourceCache | None = None,
) -> Path:
    """The destructive build inside an LXD container from the local build image."""
    from snapbuild.machines import images, lxd

    # Fail fast, before any container work; the container's Debian 12 is the build host.
    plan, version = prepare(project, mode, without, cache, host=LXD_BUILD_HOST)
    with step("LXD and the build image"):
        lxd.ensure_lxd()
        alias = images.ensure_image("build")
    name = build_container_name(alias)
    prepare_builder(project, plan, name, alias, clean=clean)
    target = project.root / snap_name(version)
    remote = f"{CONTAINER_OUT}/{target.name}"
    argv = [
        f"{CONTAINER_VENV}/bin/invoke",
        "build",
        "--destructive",
        *inner_options(project, plan),
        "--output",
        remote,
        "--compression",
        compression,
    ]
    say(f"==> build inside {name}: {' '.join(argv)}")
    started = time.monotonic()
    done = lxd.exec_(name, argv, cwd=CONTAINER_PROJECT, check=False)
    if done.returncode != 0:
        raise ToolError(
            f"the build inside container {name} failed (exit {done.returncode}); {target.name} was left as it was",
            resolution=(
                f"the error is printed above; look inside with `lxc exec {name} -- bash` (work dir {CONTAINER_WORK})"
            ),
        )
    with step(f"copy {target.name} out"), tempfile.TemporaryDirectory(dir=project.root, prefix=".pull-") as scratch:
        pulled = Path(scratch) / target.name
        lxd.pull_file(name, remote, pulled)
        pulled.replace(target)
    lxd.lxc("stop", name, check=False)
    say(f"built {target} in {time.monotonic() - started:.0f}s inside {name} ({target.stat().st_size / 1e6:.1f} MB)")
    return target


def build_snapcraft(project: Project, destructive: bool = False) -> Path:
    """Delegate to snapcraft over the committed recipe (how the store builds)."""
    if shutil.which("snapcraft") is None:
        raise ToolError(
            "snapcraft is not installed",
            resolution=(
                "install it with `snap install snapcraft --classic` (needs the snap store), or use "
                "`invoke build` (LXD) / `invoke build --destructive`"
            ),
        )
    from snapbuild.recipe.check import drift_problems

    drift = drift_problems(project)
    if drift:
        raise ToolError(
            "snap/snapcraft.yaml is out of date", resolution="run `invoke generate` first", details=describe(drift)
        )
    argv = ["snapcraft", "pack"] + (["--destructive-mode"] if destructive else ["--use-lxd"])
    with step(" ".join(argv)):
        subprocess.run(argv, cwd=project.root, check=True)
    built = sorted(project.root.glob("ondemand_*.snap"), key=lambda p: p.stat().st_mtime)
    if not built:
        raise ToolError("snapcraft finished but no ondemand_*.snap appeared", resolution="read snapcraft's log above")
    return built[-1]
