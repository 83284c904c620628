"""`invoke bench-build`: build-speed numbers (printed, never asserted: machines here are shared and noisy).

Prints each part's time per step (from the most recent run of that step), then the time of a
hooks-only rebuild + repack, against a bare `snap pack` of the same prime dir, with the ratio;
then a hooks-only change made ready in snapd by `invoke try` against rebuild + repack + install
(bench_try, in the try build container), each with its floor.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from snapbuild.build import backends
from snapbuild.build.sourcecache import SourceCache
from snapbuild.progress import say
from snapbuild.recipe.partfile import Mode
from snapbuild.recipe.project import Project

MODE: Mode = "archive"
WITHOUT = frozenset({"ondemand"})
# Touching one module of the hooks package is the smallest real change: it outdates only the python part.
HOOK_FILE = "hooks/ondemand_hooks/__init__.py"


def _bare_pack(work: str) -> list[str]:
    """A bare `snap pack` of the build container's prime dir, into a scratch directory."""
    return [
        "sh",
        "-c",
        f"rm -rf /tmp/bench && mkdir /tmp/bench && snap pack --compression=lzo {work}/prime /tmp/bench >/dev/null",
    ]


def _container_json(name: str, path: str) -> dict[str, Any]:
    from snapbuild.machines import lxd

    done = lxd.exec_(name, ["cat", path], check=False, capture=True)
    return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else {"steps": {}, "last": {}}


def bench_build(project: Project, repeats: int = 1) -> None:
    from snapbuild.machines import images, lxd

    say("bench-build: a full build first, if the build container has none")
    backends.build_lxd(project, MODE, WITHOUT)
    name = backends.build_container_name(images.ensure_image("build"))
    work = f"{backends.CONTAINER_WORK}/{backends.work_dir(project, MODE, WITHOUT).name}"

    rebuilds = []
    inner = []
    for _ in range(repeats):
        os.utime(project.root / HOOK_FILE)
        started = time.monotonic()
        backends.build_lxd(project, MODE, WITHOUT)
        rebuilds.append(time.monotonic() - started)
        lxd.lxc("start", name, check=False)
        lxd.wait_ready(name)
        last = _container_json(name, f"{work}/timings.json")["last"]
        inner.append(last.get("lifecycle", 0.0) + last.get("pack", 0.0))

    timings = _container_json(name, f"{work}/timings.json")
    started = time.monotonic()
    lxd.exec_(name, _bare_pack(work))
    bare = time.monotonic() - started
    lxd.lxc("stop", name, check=False)

    print(build_report(timings, rebuilds, inner, bare))


def build_report(timings: dict[str, Any], rebuilds: list[float], inner: list[float], bare: float) -> str:
    """Each part's time per step (`timings`: timings.json's), then the best hooks-only rebuild +
    repack, inside the container and end to end, against a bare `snap pack`."""
    steps = ("pull", "build", "stage", "prime")
    lines = [
        "",
        f"{'part':<10}" + "".join(f"{s:>9}" for s in steps) + f"{'total':>9}   (seconds, most recent run of each step)",
    ]
    for part, by_step in sorted(timings["steps"].items()):
        lines.append(
            f"{part:<10}" + "".join(f"{by_step.get(s, 0.0):>9.1f}" for s in steps) + f"{sum(by_step.values()):>9.1f}"
        )
    full = sum(sum(v.values()) for v in timings["steps"].values())
    best_outer, best_inner = min(rebuilds), min(inner)
    lines += [
        f"{'all parts':<10}{'':>36}{full:>9.1f}",
        "",
        f"hooks-only rebuild + repack, inside the container : {best_inner:6.1f} s   (lifecycle + pack)",
        f"hooks-only rebuild + repack, `invoke build` (LXD) : {best_outer:6.1f} s"
        "   (adds container start, sync, copy-out)",
        f"bare `snap pack` of the same prime                : {bare:6.1f} s",
        f"ratio rebuild/bare pack: {best_inner / bare:.2f}x inside, {best_outer / bare:.2f}x end to end "
        f"(targets: <= 15 s and <= 1.3x)",
    ]
    return "\n".join(lines)


def _timed(run: Callable[[], object]) -> float:
    started = time.monotonic()
    run()
    return time.monotonic() - started


def bench_try(project: Project, repeats: int = 1, cache: SourceCache | None = None) -> None:
    """A hooks-only change made ready in snapd two ways, in the same try build container and the
    same test container: `invoke try` (rebuild, `snap try`) against rebuild + repack + install
    (what `invoke build` and `snap install` take), each next to its floor: a bare `snap try` of
    the unchanged prime, and a bare `snap pack` + `snap install` of it."""
    import tempfile

    from snapbuild.build import devtry
    from snapbuild.machines import images, lxd, systemtest

    mode, without = backends.LOCAL_BUILD
    container = systemtest.container_name(f"{devtry.TRY_PREFIX}-bench")
    say(f"bench-build (try): a first `invoke try` into {container} (a full build if the try build container has none)")
    tried = devtry.try_snap(project, mode, without, container=container, cache=cache)
    builder, work = tried.builder, devtry.remote_work(project, mode, without)
    alias = images.ensure_image("build")
    try:
        tries, floors, repacks, packs, installs = [], [], [], [], []
        snap = "/var/tmp/ondemand-bench.snap"
        for _ in range(repeats):
            os.utime(project.root / HOOK_FILE)
            tries.append(_timed(lambda: devtry.try_snap(project, mode, without, container=container, cache=cache)))
            floors.append(_timed(lambda: lxd.exec_(container, devtry.snap_try_argv(tried.directory), capture=True)))

            def repack_install() -> None:
                # What the packed path takes: `invoke build` (its steps, in the same builder) and the install.
                plan, version = backends.prepare(project, mode, without, cache)
                backends.prepare_builder(project, plan, builder, alias)
                remote = f"{backends.CONTAINER_OUT}/{backends.snap_name(version)}"
                lxd.exec_(
                    builder,
                    [
                        f"{backends.CONTAINER_VENV}/bin/invoke",
                        "build",
                        "--destructive",
                        *backends.inner_options(project, plan),
                        "--output",
                        remote,
                    ],
                    cwd=backends.CONTAINER_PROJECT,
                )
                with tempfile.TemporaryDirectory() as scratch:
                    local = Path(scratch) / "ondemand.snap"
                    lxd.pull_file(builder, remote, local)
                    lxd.push_file(container, local, snap)
                lxd.exec_(container, ["snap", "install", "--dangerous", "--classic", snap], capture=True)

            os.utime(project.root / HOOK_FILE)
            repacks.append(_timed(repack_install))
            packs.append(_timed(lambda: lxd.exec_(builder, _bare_pack(work))))
            installs.append(
                _timed(
                    lambda: lxd.exec_(container, ["snap", "install", "--dangerous", "--classic", snap], capture=True)
                )
            )
            # Back to the tried snap, for the next round.
            lxd.exec_(container, devtry.snap_try_argv(tried.directory), capture=True)
    finally:
        lxd.delete(container)
    runs = {"try": tries, "snap try": floors, "repack+install": repacks, "snap pack": packs, "snap install": installs}
    print(try_report(runs, repeats))


def try_report(runs: dict[str, list[float]], repeats: int) -> str:
    """The best of each way to make a hooks-only change ready in snapd, with its floor and ratios,
    then every run's time."""
    t, f, r = min(runs["try"]), min(runs["snap try"]), min(runs["repack+install"])
    p, i = min(runs["snap pack"]), min(runs["snap install"])
    return "\n".join(
        [
            "",
            f"hooks-only change -> ready in snapd (best of {repeats}; seconds)",
            f"  `invoke try` (rebuild + snap try)                 : {t:6.1f} s   (target <= 10 s)",
            f"    floor: bare `snap try` of the unchanged prime   : {f:6.1f} s   ratio {t / f:.2f}x",
            f"  rebuild + repack + install (`invoke build` steps) : {r:6.1f} s",
            f"    floor: bare `snap pack` + `snap install`        : {p + i:6.1f} s"
            f"   ({p:.1f} + {i:.1f}) ratio {r / (p + i):.2f}x",
            f"  repack path / try path                            : {r / t:.2f}x",
            "  every run: "
            + "; ".join(f"{label} " + ", ".join(f"{v:.1f}" for v in values) for label, values in runs.items()),
        ]
    )
