"""`invoke try`: the built prime directory as an installed snap in a real snapd (`snap try`).

A hooks-only change then costs a craft-parts rebuild of what changed plus `snap try`, with no
squashfs at all:

- the build runs in a build container of its own (`<build image>-try-builder`, kept running
  between tries), through the same incremental lifecycle as `invoke build`, and stops after
  prime + meta/ (`python -m snapbuild.build.devtry prime`, run inside it);
- the prime dir reaches the test container without a copy: on a `dir` (or btrfs) storage pool
  the builder's work dir is a host directory, shared read-only into the test container as an
  LXD disk device. Both containers are unprivileged with LXD's one default id map, so the
  files keep their owners. Other pools fall back to a tar copy (`--copy` forces it);
- `snap try --classic DIR` in the test container: the install (first time) or post-refresh
  hooks, the configure hook and the services run as from a packed snap. Running it again on
  the same DIR makes a new revision, so an edited hook runs as after a refresh.

Test containers are `ondemand-try-*` from the test image, or the one `--container` names;
`invoke try` marks those it made (`user.ondemand-try`) and refuses to touch any other.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from snapbuild import cli
from snapbuild.build import backends
from snapbuild.build.sourcecache import SourceCache
from snapbuild.errors import ToolError
from snapbuild.progress import say, step
from snapbuild.recipe.project import DEFAULT, Project
from snapbuild.recipe.userland import LXD_BUILD_HOST

TRY_PREFIX = "ondemand-try"
MARK = "user.ondemand-try"  # config key on the test containers `invoke try` launched
DEVICE = "ondemand-try-work"  # the disk device that shares the builder's work dir
MOUNT_POINT = "/var/lib/ondemand-try/work"  # where that work dir appears in the test container
COPY_DIR = "/var/lib/ondemand-try/prime"  # where --copy puts the prime dir instead
METHODS = ("mount", "copy")
SHARED_POOL_DRIVERS = ("dir", "btrfs")  # pools whose instance rootfs is a plain host directory
LXD_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$")


# --------------------------------------------------------------------------- pure helpers


def builder_name(image_alias: str) -> str:
    """The try build container: distinct from `invoke build`'s, so a try never waits on, nor
    changes, a build someone else runs."""
    return f"{image_alias}-try-builder"


def check_container_name(name: str) -> str:
    """`name` if LXD accepts it as a container name; a build container is refused."""
    if not LXD_NAME.match(name) or name.endswith("-") or "--" in name:
        raise ToolError(
            f"--container {name!r}: not a valid LXD container name",
            resolution=(
                "use letters, digits and single hyphens, starting with a letter, at most 63 characters "
                f"(e.g. {TRY_PREFIX}-dev)"
            ),
        )
    if name.endswith("-builder"):
        raise ToolError(
            f"--container {name}: that is a build container, not a test container",
            resolution=(
                f"name a test container, e.g. --container {TRY_PREFIX}-dev (made from the test image if missing)"
            ),
        )
    return name


def remote_work(project: Project, mode: str, without: frozenset[str]) -> str:
    """The work dir inside the build container (the one `invoke build` uses for these options)."""
    return f"{backends.CONTAINER_WORK}/{backends.work_dir(project, mode, without).name}"  # type: ignore[arg-type]


def rootfs_path(pool_source: str, container: str) -> Path:
    """Where a container's root filesystem lies on the host, in a dir/btrfs storage pool."""
    return Path(pool_source) / "containers" / container / "rootfs"


def tried_dir(method: str) -> str:
    """The directory `snap try` mounts, inside the test container."""
    if method == "mount":
        return f"{MOUNT_POINT}/prime"
    if method == "copy":
        return COPY_DIR
    raise ToolError(f"unknown transfer method {method!r}", resolution=f"use one of: {', '.join(METHODS)}")


def device_add_argv(container: str, source: Path) -> list[str]:
    """Share the builder's work dir read-only: a tried snap cannot write into its own files
    through it, as it cannot into a squashfs."""
    return [
        "config",
        "device",
        "add",
        container,
        DEVICE,
        "disk",
        f"source={source}",
        f"path={MOUNT_POINT}",
        "readonly=true",
    ]


def snap_try_argv(directory: str) -> list[str]:
    return ["snap", "try", "--classic", directory]


def prime_argv(plan_options: Sequence[str]) -> list[str]:
    """The command, inside the build container, that builds what changed and writes meta/."""
    return [f"{backends.CONTAINER_VENV}/bin/python", "-m", "snapbuild.build.devtry", "prime", *plan_options]


@dataclass(frozen=True)
class Tried:
    container: str
    directory: str
    revision: str
    builder: str
    fresh: bool


def next_steps(tried: Tried, checks: Sequence[str], checks_dir: str) -> str:
    """What to do with a tried snap: run a check or a spread task's check, update it, leave."""
    c = tried.container
    example = "install" if "install" in checks else (checks[0] if checks else "NAME")
    return "\n".join(
        [
            f"ondemand {tried.revision} is tried in {c} from {tried.directory} (snap try, no .snap)",
            f"  run a check (as root, in the container):  lxc exec {c} -- {checks_dir}/{example}.sh",
            f"    checks: {', '.join(checks)}",
            "  a spread task: tests/spread/main/NAME runs tests/checks/NAME.sh after reinstalling a packed .snap "
            "(its prepare); against the tried snap run the check itself as above (not refresh.sh: it needs a .snap, "
            "and every tried revision is the same directory)",
            f"  a shell in the container:                 lxc exec {c} -- bash",
            f"  after editing a hook or any source:       invoke try --container {c}   (updates it in place)",
            f"  leave: lxc exec {c} -- snap remove --purge ondemand    (the container stays for the next try)",
            f"         lxc delete --force {c}    (the container too)",
            f"         lxc delete --force {tried.builder}"
            "    (the try build container; the next try rebuilds from scratch)",
        ]
    )


# --------------------------------------------------------------------------- inside the build container


def build_prime(project: Project, mode: str, without: frozenset[str], work: Path, cache_dir: str = "") -> Path:
    """Lifecycle up to prime and meta/ (snap.yaml, hooks, build-info), without packing.

    The caller probed the sources already; this side does not probe them again."""
    from snapbuild.build.lifecycle import make_plan, run_lifecycle
    from snapbuild.build.pack import write_meta
    from snapbuild.build.sourcecache import cache_from
    from snapbuild.recipe.generate import snap_version
    from snapbuild.recipe.partfile import host_arch

    plan = make_plan(project, mode, without, cache_from(cache_dir))  # type: ignore[arg-type]
    version = snap_version(plan.parts, mode, without)  # type: ignore[arg-type]
    metadata = project.load_metadata()
    prime = run_lifecycle(project, plan, work, base=str(metadata.get("base", "")))
    write_meta(project, plan, prime, version, host_arch())
    return prime


def _parser() -> cli.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m snapbuild.build.devtry",
        description="inside the try build container: build prime and meta/, no pack",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    prime = sub.add_parser("prime")
    prime.add_argument("--source", required=True, choices=("upstream", "archive"))
    prime.add_argument("--work-dir", required=True)
    prime.add_argument("--without", default="")
    prime.add_argument("--source-cache", default="")
    return parser


def _command(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    without = frozenset(p.strip() for p in args.without.split(",") if p.strip())
    build_prime(DEFAULT, args.source, without, Path(args.work_dir), args.source_cache)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(_command, argv)


# --------------------------------------------------------------------------- on the host


@contextmanager
def _locked_builder(builder: str) -> Iterator[None]:
    """Hold the try builder for this process; says so when another `invoke try` has it."""
    import fcntl

    from snapbuild.machines.images import cache_dir

    with open(cache_dir() / f"{builder}.lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"==> another `invoke try` is building in {builder}; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _pool_source() -> tuple[str, str]:
    """(driver, source) of the default storage pool."""
    from snapbuild.machines import lxd

    pool = lxd.query(f"/1.0/storage-pools/{lxd.POOL}") or {}
    return str(pool.get("driver", "")), str((pool.get("config") or {}).get("source", ""))


def choose_method(copy: bool, driver: str) -> str:
    return "copy" if copy or driver not in SHARED_POOL_DRIVERS else "mount"


def refuse_foreign(name: str) -> None:
    """Stop unless container `name` (which exists) is one `invoke try` made."""
    from snapbuild.machines import lxd

    if lxd.lxc("config", "get", name, MARK, check=False).stdout.strip() != "1":
        raise ToolError(
            f"container {name} exists but was not made by `invoke try` (no {MARK}=1); nothing was done",
            resolution=(
                f"name another one (e.g. --container {TRY_PREFIX}-NAME, made from the test image), "
                "or leave --container out for a fresh one"
            ),
        )


def ensure_test_container(name: str) -> bool:
    """Test container `name` running with snapd ready; launched (and marked) when missing.
    Returns whether it was launched now. A container `invoke try` did not make is refused."""
    from snapbuild.machines import lxd, systemtest

    if lxd.exists(name):
        refuse_foreign(name)
        lxd.lxc("start", name, check=False)  # kept between tries; stopped or running are both fine
        lxd.wait_ready(name)
        return False
    systemtest.launch_test_container(name)
    lxd.lxc("config", "set", name, MARK, "1")
    return True


def _share_work_dir(container: str, source: Path) -> None:
    """The builder's work dir at MOUNT_POINT in the test container, re-added if it shows
    another directory (the builder was recreated) or is missing."""
    import os

    from snapbuild.machines import lxd

    inode = str(os.stat(source).st_ino)
    seen = lxd.exec_(container, ["stat", "-c", "%i", MOUNT_POINT], check=False, capture=True).stdout.strip()
    if seen == inode:
        return
    devices = lxd.query(f"/1.0/instances/{container}") or {}
    if DEVICE in (devices.get("devices") or {}):
        lxd.lxc("config", "device", "remove", container, DEVICE)
    with step(f"share {source} into {container} at {MOUNT_POINT} (read-only)"):
        lxd.lxc(*device_add_argv(container, source))


def _copy_prime(builder: str, container: str, prime: str) -> None:
    """tar from the builder straight into the test container (symlinks intact); the target
    dir itself stays, so the revision snapd mounted from it sees the new files."""
    from snapbuild.machines import lxd

    lxd.exec_(container, ["sh", "-c", 'mkdir -p "$1" && find "$1" -mindepth 1 -delete', "sh", COPY_DIR])
    lxd.copy_tree_between(builder, prime, container, COPY_DIR)


def revision(container: str) -> str:
    from snapbuild.machines import lxd

    done = lxd.exec_(container, ["snap", "list", "ondemand"], check=False, capture=True)
    lines = done.stdout.strip().splitlines()
    return lines[1].split()[2] if done.returncode == 0 and len(lines) > 1 else "?"


def try_snap(
    project: Project,
    mode: str,
    without: frozenset[str],
    container: str = "",
    copy: bool = False,
    cache: SourceCache | None = None,
) -> Tried:
    """Build what changed in the try builder, then `snap try` its prime dir in a test container."""
    from snapbuild.machines import images, lxd, systemtest

    started = time.monotonic()
    if container:
        check_container_name(container)
    plan, _version = backends.prepare(project, mode, without, cache, host=LXD_BUILD_HOST)  # type: ignore[arg-type]
    with step("LXD and the build image"):
        lxd.ensure_lxd()
        alias = images.ensure_image("build")
    if container and lxd.exists(container):
        refuse_foreign(container)  # before any build work
    builder = builder_name(alias)
    work = remote_work(project, mode, without)
    # One try build at a time: two syncs into one project copy would mix their trees.
    with _locked_builder(builder):
        backends.prepare_builder(project, plan, builder, alias)
        argv = prime_argv(backends.inner_options(project, plan))
        with step(f"build prime inside {builder}"):
            done = lxd.exec_(builder, argv, cwd=backends.CONTAINER_PROJECT, check=False)
            if done.returncode != 0:
                raise ToolError(
                    f"the build inside {builder} failed (exit {done.returncode}); the tried snap was left as it was",
                    resolution=(
                        f"the error is printed above; look inside with `lxc exec {builder} -- bash` (work dir {work})"
                    ),
                )
    name = container or systemtest.container_name(TRY_PREFIX)
    fresh = ensure_test_container(name)
    driver, pool = _pool_source()
    method = choose_method(copy, driver)
    directory = tried_dir(method)
    if method == "mount":
        _share_work_dir(name, rootfs_path(pool, builder) / work.lstrip("/"))
    else:
        with step(f"copy the prime dir into {name}"):
            _copy_prime(builder, name, f"{work}/prime")
    systemtest.push_checks(name, project)
    with step(f"snap try --classic {directory} in {name}"):
        done = lxd.exec_(name, snap_try_argv(directory), check=False, capture=True)
        if done.returncode != 0:
            raise ToolError(
                f"`snap try` refused {directory} in {name}: {done.stderr.strip() or done.stdout.strip()}",
                resolution=(
                    f"the hooks' log: lxc exec {name} -- cat /var/snap/ondemand/common/var/log/hooks.log; "
                    f"snapd's: lxc exec {name} -- snap changes"
                ),
                details=done.stdout + done.stderr,
            )
    tried = Tried(name, directory, revision(name), builder, fresh)
    say(f"==> try ready in {time.monotonic() - started:.1f}s")
    print(next_steps(tried, systemtest.check_names(project), systemtest.REMOTE_CHECKS))
    return tried


if __name__ == "__main__":
    raise SystemExit(main())
