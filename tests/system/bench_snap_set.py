"""Round-trip time of `snap set ondemand portal.servername=...` against a floor: a script, not a test.

    .venv/bin/python tests/system/bench_snap_set.py [--container NAME] [--repetitions 20]

On the host it starts a fresh LXD container with the snap under test installed (as the
system suite does), or uses --container NAME where the snap is installed, pushes itself
and runs itself there with --inside, as root, so no `lxc exec` is timed. Inside it packs
and installs the floor: a snap on the same base whose configure hook does nothing (`snap
pack`, no store), then times whole `snap set` commands, from exec to exit:

- floor: `snap set` of the do-nothing snap (snapd's own cost of a configure hook);
- change: portal.servername alternating between two names, so every call changes
  ood_portal.yml, runs upstream's update_ood_portal and reloads Apache gracefully;
- no change: the name it already has, so the hook validates, finds ood_portal.yml as it
  was and runs neither the generator nor a reload;
- refused: an invalid name, which the hook refuses (nothing is written).

It prints the median and the 90th percentile of each, each median as a ratio to the
floor's (targets: change <= 3x, no change and refused <= 1.5x), and, from the `timing:`
lines the hook writes to hooks.log, the median of each phase inside the hook. No
`reset-failed` is done: a change reloads, so systemd's start limit is never reached.
portal.servername is put back as it was and the floor snap removed. Nothing is asserted:
the numbers are for reading and comparing.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SNAP_NAME = "ondemand"
KEY = "portal.servername"
NAMES = ("bench-a.example.test", "bench-b.example.test")
INVALID = "bench_invalid!"
REMOTE = "/var/tmp/ondemand-bench-snap-set.py"
FLOOR = "ondemand-bench-floor"
HOOKS_LOG = Path(f"/var/snap/{SNAP_NAME}/common/var/log/hooks.log")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


def timed_set(value: str, *, expect_ok: bool = True, snap: str = SNAP_NAME, key: str = KEY) -> float:
    started = time.perf_counter()
    done = subprocess.run(["snap", "set", snap, f"{key}={value}"], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if (done.returncode == 0) != expect_ok:
        raise SystemExit(
            f"snap set {snap} {key}={value} exited {done.returncode}, want "
            f"{'success' if expect_ok else 'a refusal'}: {done.stderr.strip()}"
        )
    return seconds


def install_floor() -> None:
    """A snap on the ondemand snap's base whose configure hook only exits."""
    base = re.search(r"^base:\s*(\S+)", Path(f"/snap/{SNAP_NAME}/current/meta/snap.yaml").read_text(), re.MULTILINE)
    with tempfile.TemporaryDirectory() as work:
        tree = Path(work) / "tree"
        (tree / "meta" / "hooks").mkdir(parents=True)
        (tree / "meta" / "snap.yaml").write_text(
            f"name: {FLOOR}\nversion: '1'\nsummary: floor for bench_snap_set\n"
            "description: a configure hook that does nothing\n"
            f"base: {base.group(1) if base else 'core24'}\nconfinement: classic\ngrade: devel\n"
        )
        hook = tree / "meta" / "hooks" / "configure"
        hook.write_text("#!/bin/sh\nexit 0\n")
        hook.chmod(0o755)
        subprocess.run(["snap", "pack", str(tree), work], check=True, capture_output=True)
        packed = next(Path(work).glob(f"{FLOOR}_*.snap"))
        subprocess.run(["snap", "install", "--dangerous", "--classic", str(packed)], check=True, capture_output=True)


def last_timing() -> dict[str, float]:
    """The phases of the hook's last `timing:` line in hooks.log."""
    lines = [line for line in HOOKS_LOG.read_text(errors="replace").splitlines() if "timing: " in line]
    if not lines:
        return {}
    return {
        m.group(1).strip(): float(m.group(2))
        for m in re.finditer(r"([^,:]+?) ([0-9.]+)s(?:,|$)", lines[-1].split("timing: ", 1)[1])
    }


def current_value() -> str | None:
    done = subprocess.run(["snap", "get", SNAP_NAME, KEY], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def inside(repetitions: int) -> int:
    before = current_value()
    install_floor()
    phases: dict[str, dict[str, list[float]]] = {"change": {}, "no change": {}}

    def note(kind: str) -> None:
        for name, value in last_timing().items():
            phases[kind].setdefault(name, []).append(value)

    try:
        timed_set(NAMES[1])  # warm-up: page cache, and the first name differs from it
        timed_set("w", snap=FLOOR, key="bench")
        floor: list[float] = []
        change: list[float] = []
        same: list[float] = []
        refused: list[float] = []
        for i in range(repetitions):
            name = NAMES[i % 2]
            floor.append(timed_set(f"v{i}", snap=FLOOR, key="bench"))
            change.append(timed_set(name))
            note("change")
            same.append(timed_set(name))
            note("no change")
            refused.append(timed_set(INVALID, expect_ok=False))
    finally:
        if before is None:
            subprocess.run(["snap", "unset", SNAP_NAME, KEY], check=False)
        else:
            subprocess.run(["snap", "set", SNAP_NAME, f"{KEY}={before}"], check=False)
        subprocess.run(["snap", "remove", "--purge", FLOOR], check=False, capture_output=True)
    base = statistics.median(floor)
    print(f"bench: snap set, {repetitions} repetitions each (seconds, exec to exit)")
    rows = (
        ("floor (a do-nothing configure hook)", floor, None),
        ("change (generator + graceful reload)", change, 3.0),
        ("no change", same, 1.5),
        ("refused", refused, 1.5),
    )
    for label, values, target in rows:
        ratio = statistics.median(values) / base
        goal = f"  ratio {ratio:.2f}x (target <= {target}x)" if target else ""
        print(
            f"bench:   {label:38} median {statistics.median(values):.3f}  p90 {percentile(values, 90):.3f}  "
            f"min {min(values):.3f}  max {max(values):.3f}{goal}"
        )
    for kind, found in phases.items():
        shown = ", ".join(f"{name} {statistics.median(values):.3f}" for name, values in found.items())
        print(f"bench:   inside the hook, {kind} (medians, s): {shown or 'no timing lines in hooks.log'}")
    return 0


def host(opts: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from snapbuild.machines import systemtest

    return systemtest.run_script_inside(
        Path(__file__).resolve(), REMOTE, ["--repetitions", str(opts.repetitions)], opts.container, "bench-set"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--container", help="an LXD container with the snap installed (default: a fresh one)")
    parser.add_argument("--repetitions", type=int, default=20, help="calls of each kind (default 20, at least 20)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.repetitions < 20:
        parser.error("--repetitions: at least 20")
    if opts.inside:
        return inside(opts.repetitions)
    return host(opts)


if __name__ == "__main__":
    raise SystemExit(main())
