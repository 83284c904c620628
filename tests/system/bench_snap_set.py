"""Round-trip time of `snap set ondemand portal.servername=...`: a script, not a test.

    .venv/bin/python tests/system/bench_snap_set.py [--container NAME] [--repetitions 20]

On the host it starts a fresh LXD container with the snap under test installed (as the
system suite does), or uses --container NAME where the snap is installed, pushes itself
and runs itself there with --inside, as root, so no `lxc exec` is timed. Inside it times
whole `snap set` commands, from exec to exit:

- change: portal.servername alternating between two names, so every call changes the
  generated Apache config and the configure hook restarts Apache;
- no change: the name it already has, so the hook validates, renders, finds nothing to
  write and restarts nothing;
- refused: an invalid name, which the hook refuses (nothing is written).

For each it prints the median and the 90th percentile in seconds. Before each call, untimed,
Apache's systemd start counter is reset: systemd refuses a sixth start within 10 s, so
back-to-back changes would otherwise fail (a defect of the snap, reported). portal.servername
is put back as it was. Nothing is asserted: the numbers are for reading and comparing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

SNAP_NAME = "ondemand"
KEY = "portal.servername"
NAMES = ("bench-a.example.test", "bench-b.example.test")
INVALID = "bench_invalid!"
REMOTE = "/var/tmp/ondemand-bench-snap-set.py"
APACHE_UNIT = f"snap.{SNAP_NAME}.apache.service"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


def timed_set(value: str, *, expect_ok: bool = True) -> float:
    started = time.perf_counter()
    done = subprocess.run(["snap", "set", SNAP_NAME, f"{KEY}={value}"], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if (done.returncode == 0) != expect_ok:
        raise SystemExit(f"snap set {KEY}={value} exited {done.returncode}, want "
                         f"{'success' if expect_ok else 'a refusal'}: {done.stderr.strip()}")
    return seconds


def current_value() -> str | None:
    done = subprocess.run(["snap", "get", SNAP_NAME, KEY], capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def inside(repetitions: int) -> int:
    before = current_value()
    try:
        timed_set(NAMES[1])  # warm-up: page cache, and the first name differs from it
        change: list[float] = []
        same: list[float] = []
        refused: list[float] = []
        for i in range(repetitions):
            name = NAMES[i % 2]
            change.append(timed_set(name))
            same.append(timed_set(name))
            refused.append(timed_set(INVALID, expect_ok=False))
    finally:
        if before is None:
            subprocess.run(["snap", "unset", SNAP_NAME, KEY], check=False)
        else:
            subprocess.run(["snap", "set", SNAP_NAME, f"{KEY}={before}"], check=False)
    print(f"bench: snap set {KEY}=..., {repetitions} repetitions each (seconds, exec to exit)")
    for label, values in (("change (Apache restarted)", change), ("no change", same), ("refused", refused)):
        print(f"bench:   {label:26} median {statistics.median(values):.3f}  p90 {percentile(values, 90):.3f}  "
              f"min {min(values):.3f}  max {max(values):.3f}")
    return 0


def host(opts: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from snapbuild.machines import systemtest

    return systemtest.run_script_inside(Path(__file__).resolve(), REMOTE, ["--repetitions", str(opts.repetitions)], opts.container,
                                        "bench-set")


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
