"""`invoke bench-build`: build-speed numbers (printed, never asserted: machines here are shared and noisy).

Prints each part's time per step (from the most recent run of that step), then the time of a
hooks-only rebuild + repack, against a bare `snap pack` of the same prime dir, with the ratio.
"""

from __future__ import annotations

import json
import os
import time

from snapbuild import build as backends
from snapbuild.progress import say
from snapbuild.project import Project

MODE = "archive"
WITHOUT = frozenset({"ondemand"})
# Touching one module of the hooks package is the smallest real change: it outdates only the python part.
HOOK_FILE = "hooks/ondemand_hooks/__init__.py"


def _container_json(name: str, path: str) -> dict:
    from snapbuild import lxd

    done = lxd.exec_(name, ["cat", path], check=False, capture=True)
    return json.loads(done.stdout) if done.returncode == 0 and done.stdout.strip() else {"steps": {}, "last": {}}


def bench_build(project: Project, repeats: int = 1) -> None:
    from snapbuild import images, lxd

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
    lxd.exec_(name, ["sh", "-c", f"rm -rf /tmp/bench && mkdir /tmp/bench && snap pack --compression=lzo {work}/prime /tmp/bench >/dev/null"])
    bare = time.monotonic() - started
    lxd.lxc("stop", name, check=False)

    steps = ("pull", "build", "stage", "prime")
    print(f"\n{'part':<10}" + "".join(f"{s:>9}" for s in steps) + f"{'total':>9}   (seconds, most recent run of each step)")
    for part, by_step in sorted(timings["steps"].items()):
        print(f"{part:<10}" + "".join(f"{by_step.get(s, 0.0):>9.1f}" for s in steps) + f"{sum(by_step.values()):>9.1f}")
    full = sum(sum(v.values()) for v in timings["steps"].values())
    best_outer, best_inner = min(rebuilds), min(inner)
    print(f"{'all parts':<10}{'':>36}{full:>9.1f}")
    print(f"\nhooks-only rebuild + repack, inside the container : {best_inner:6.1f} s   (lifecycle + pack)")
    print(f"hooks-only rebuild + repack, `invoke build` (LXD) : {best_outer:6.1f} s   (adds container start, sync, copy-out)")
    print(f"bare `snap pack` of the same prime                : {bare:6.1f} s")
    print(f"ratio rebuild/bare pack: {best_inner / bare:.2f}x inside, {best_outer / bare:.2f}x end to end "
          f"(targets: <= 15 s and <= 1.3x)")
