"""Runtime numbers of the installed snap's per-user nginx (PUN): a script, not a test.

    .venv/bin/python tests/system/bench_runtime.py [--container NAME] [--users 20] ...

On the host it starts a fresh LXD container with the snap under test installed (as the
system suite does; or uses --container NAME where the snap is installed), pushes
tests/checks, tests/fixtures/apps and itself, and runs itself there with --inside, as root.
Inside, PUNs are set up with the checks' own helpers (tests/checks/pun.bash) and every
HTTP client runs as the portal user (snap_daemon), the only user allowed into the socket
directories. It prints:

- PUN cold start: `nginx -c CONF` (as root) until the first 200 from the Rack app;
- a warm request to the Rack app through the unix socket, and through the front proxy
  (only where mod_ood_proxy exists to route /pun/... to a PUN; else it says skipped);
- N users' PUNs at once (each serving the Rack, Node and WSGI fixtures) under a bounded
  loopback load: a fixed number of requests, a fixed concurrency and a per-request
  timeout; success rate, latency percentiles, and memory per PUN (RSS summed over the
  PUN's processes, and PSS, which does not count shared pages twice).

Nothing here is asserted: the numbers are for reading and comparing between builds.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import glob
import http.client
import json
import os
import pwd
import shlex
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

SNAP_NAME = "ondemand"
SNAP = f"/snap/{SNAP_NAME}/current"
COMMON = f"/var/snap/{SNAP_NAME}/common"
NGINX = f"{SNAP}/bin/nginx"
PORTAL_USER = "snap_daemon"
REMOTE_ROOT = "/var/tmp/ondemand-bench"
KINDS = ("rack", "node", "wsgi")
BENCH_UID_BASE = 1600  # bench01 = 1601, ...


# --------------------------------------------------------------------------- HTTP over a unix socket


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def get(sock: str, path: str, timeout: float) -> tuple[int, float]:
    """(status or 0 on error, seconds) of one GET through a unix socket, new connection."""
    started = time.monotonic()
    conn = UnixHTTPConnection(sock, timeout)
    try:
        conn.request("GET", path, headers={"Host": "localhost"})
        response = conn.getresponse()
        response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        status = 0
    finally:
        conn.close()
    return status, time.monotonic() - started


# --------------------------------------------------------------------------- client modes (as snap_daemon)


def client_until_200(sock: str, path: str, t0: float, timeout: float) -> dict[str, object]:
    """Poll until the first 200; seconds since t0 (wall clock, set by the parent)."""
    deadline = time.time() + timeout
    tries = 0
    while time.time() < deadline:
        tries += 1
        if os.path.exists(sock):
            status, _ = get(sock, path, timeout=max(deadline - time.time(), 0.1))
            if status == 200:
                return {"ok": True, "seconds": time.time() - t0, "tries": tries}
        time.sleep(0.005)
    return {"ok": False, "seconds": time.time() - t0, "tries": tries}


def client_load(targets: list[str], requests: int, concurrency: int, timeout: float) -> dict[str, object]:
    """`requests` GETs spread round-robin over SOCK|PATH targets, `concurrency` at a time."""
    jobs = [targets[i % len(targets)].split("|", 1) for i in range(requests)]
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda job: get(job[0], job[1], timeout), jobs))
    wall = time.monotonic() - started
    return {"statuses": [s for s, _ in results], "seconds": [t for _, t in results], "wall": wall}


def as_portal_user(args: list[str]) -> dict[str, object]:
    """Run this script's client mode as the portal user; its JSON answer."""
    user = pwd.getpwnam(PORTAL_USER)
    argv = [
        "setpriv",
        f"--reuid={user.pw_uid}",
        f"--regid={user.pw_gid}",
        "--clear-groups",
        sys.executable,
        os.path.abspath(__file__),
        "--client",
        *args,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"client {' '.join(args[:1])} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


# --------------------------------------------------------------------------- inside the container (root)


class Helpers:
    """The checks' bash helpers (lib.sh + pun.bash), called one function at a time."""

    def __init__(self, checks: Path) -> None:
        self.prefix = f". {shlex.quote(str(checks / 'lib.sh'))}; . {shlex.quote(str(checks / 'pun.bash'))}; "

    def __call__(self, *words: str) -> str:
        script = self.prefix + " ".join(shlex.quote(w) for w in words)
        done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(words)} failed: {(done.stdout + done.stderr).strip()}")
        return done.stdout


def sock_of(user: str) -> str:
    return f"{COMMON}/run/ondemand-nginx/{user}/passenger.sock"


def conf_of(user: str) -> str:
    return f"{COMMON}/var/lib/ondemand-nginx/config/puns/{user}.conf"


def errlog_of(user: str) -> str:
    return f"{COMMON}/var/log/ondemand-nginx/{user}/error.log"


def start_nginx(user: str) -> float:
    """Start the user's PUN; the wall-clock time just before."""
    t0 = time.time()
    subprocess.run([NGINX, "-c", conf_of(user), "-e", errlog_of(user)], check=True, capture_output=True)
    return t0


def app_path(kind: str, tail: str = "bench") -> str:
    return f"/pun/sys/systest-{kind}/{tail}"


def pun_pids(user: str) -> list[int]:
    """The PUN's processes: nginx master + descendants, Passenger watchdog + descendants."""
    roots: set[int] = set()
    for pattern in (
        f"{COMMON}/run/ondemand-nginx/{user}/passenger.pid",
        f"{COMMON}/var/tmp/ondemand-nginx/{user}/passenger.*/watchdog.pid",
    ):
        for path in glob.glob(pattern):
            text = Path(path).read_text().strip()
            if text.isdigit():
                roots.add(int(text))
    parent: dict[int, int] = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(stat.split("/")[2])] = int(fields[1])
    keep = set(roots) & set(parent)
    grew = True
    while grew:
        grew = False
        for pid, ppid in parent.items():
            if pid not in keep and ppid in keep:
                keep.add(pid)
                grew = True
    return sorted(keep)


def memory_kib(pids: list[int]) -> tuple[int, int]:
    """(RSS, PSS) in KiB summed over pids."""
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def inside(opts: argparse.Namespace) -> int:
    checks = Path(opts.root) / "checks"
    fixtures = Path(opts.root) / "fixtures" / "apps"
    sh = Helpers(checks)
    users = [f"bench{i:02d}" for i in range(1, opts.users + 1)]
    listed = subprocess.run(["snap", "list", SNAP_NAME], capture_output=True, text=True).stdout
    print(f"bench: snap {listed.splitlines()[-1]}")
    print(
        f"bench: machine: {os.cpu_count()} CPUs, "
        f"{int(Path('/proc/meminfo').read_text().split()[1]) // 1024} MiB RAM; clients run as {PORTAL_USER}"
    )
    if not os.path.isdir(f"{SNAP}/opt/ood/nginx_stage"):
        print(
            "bench: nginx_stage is absent in this build: "
            "PUNs are started by hand with nginx -c CONF (as nginx_stage would)"
        )

    def cleanup() -> None:
        for user in users:
            subprocess.run(
                ["bash", "-c", sh.prefix + f"remove_pun {user} >/dev/null; remove_user {user}"],
                capture_output=True,
                check=False,
            )
        subprocess.run(["bash", "-c", sh.prefix + "remove_apps"], capture_output=True, check=False)

    cleanup()
    try:
        sh("install_apps", str(fixtures))
        for number, user in enumerate(users, start=1):
            sh("ensure_user", user, str(BENCH_UID_BASE + number))
            sh("write_pun", user)

        # --- cold start ------------------------------------------------------------------
        first = users[0]
        colds = []
        for _ in range(opts.cold_runs):
            sh("remove_pun", first)
            sh("write_pun", first)
            t0 = start_nginx(first)
            got = as_portal_user(["until-200", sock_of(first), app_path("rack", "cold"), repr(t0), str(opts.timeout)])
            if not got["ok"]:
                raise SystemExit(f"cold start: no 200 from the Rack app within {opts.timeout}s")
            colds.append(float(got["seconds"]))  # type: ignore[arg-type]
        print(
            f"bench: PUN cold start (nginx -c CONF -> first 200 from the Rack app), {len(colds)} runs: "
            f"min {min(colds):.2f} s, median {statistics.median(colds):.2f} s, max {max(colds):.2f} s"
        )

        # --- warm requests ---------------------------------------------------------------
        warm = as_portal_user(
            [
                "load",
                "--requests",
                str(opts.warm_requests),
                "--concurrency",
                "1",
                "--timeout",
                str(opts.timeout),
                f"{sock_of(first)}|{app_path('rack', 'warm')}",
            ]
        )
        ok = [t for s, t in zip(warm["statuses"], warm["seconds"], strict=True) if s == 200]  # type: ignore[call-overload]
        print(
            f"bench: warm Rack request through the socket, {opts.warm_requests} sequential, new connection each: "
            f"{len(ok)}/{opts.warm_requests} ok, p50 {ms(pct(ok, 50))}, p95 {ms(pct(ok, 95))}, max {ms(max(ok))}"
        )
        if os.path.isdir(f"{SNAP}/opt/ood/mod_ood_proxy"):
            print(
                "bench: warm request through the front proxy: not measured: needs an authenticated "
                "/pun route (portal.auth.*) and nginx_stage-managed PUNs; add it with an OnDemand build"
            )
        else:
            print(
                "bench: warm request through the front proxy: skipped: needs mod_ood_proxy "
                "(absent in this build: Apache has no route to a PUN)"
            )
        sh("stop_pun", first)

        # --- many PUNs at once -----------------------------------------------------------
        started = time.monotonic()
        for user in users:
            sh("remove_pun", user)
            sh("write_pun", user)
            start_nginx(user)
        started_all = time.monotonic() - started
        targets = [f"{sock_of(u)}|{app_path(k, 'first')}" for u in users for k in KINDS]
        first_hits = as_portal_user(
            [
                "load",
                "--requests",
                str(len(targets)),
                "--concurrency",
                str(opts.concurrency),
                "--timeout",
                str(opts.spawn_timeout),
                *targets,
            ]
        )
        hits = zip(first_hits["statuses"], first_hits["seconds"], strict=True)  # type: ignore[call-overload]
        spawn_ok = [t for s, t in hits if s == 200]
        print(
            f"bench: {len(users)} PUNs started (nginx -c, sequential) in {started_all:.2f} s; first request to each "
            f"of their {len(targets)} apps (app spawn), {opts.concurrency} at a time: "
            f"{len(spawn_ok)}/{len(targets)} ok, "
            f"p50 {ms(pct(spawn_ok, 50))}, p95 {ms(pct(spawn_ok, 95))}, max {ms(max(spawn_ok or [0.0]))}, "
            f"all in {float(first_hits['wall']):.2f} s"  # type: ignore[arg-type]
        )

        targets = [f"{sock_of(u)}|{app_path(k, 'load')}" for u in users for k in KINDS]
        load = as_portal_user(
            [
                "load",
                "--requests",
                str(opts.requests),
                "--concurrency",
                str(opts.concurrency),
                "--timeout",
                str(opts.timeout),
                *targets,
            ]
        )
        statuses: list[int] = load["statuses"]  # type: ignore[assignment]
        seconds: list[float] = load["seconds"]  # type: ignore[assignment]
        good = [t for s, t in zip(statuses, seconds, strict=True) if s == 200]
        failures = {str(s): statuses.count(s) for s in sorted(set(statuses)) if s != 200}
        wall = float(load["wall"])  # type: ignore[arg-type]
        print(
            f"bench: load on {len(users)} PUNs x {len(KINDS)} apps: {opts.requests} requests, concurrency "
            f"{opts.concurrency}, timeout {opts.timeout:g} s: success {len(good)}/{opts.requests} "
            f"({100 * len(good) / opts.requests:.1f} %){', failures ' + json.dumps(failures) if failures else ''}; "
            f"p50 {ms(pct(good, 50))}, p95 {ms(pct(good, 95))}, max {ms(max(good or [0.0]))}; "
            f"{opts.requests / wall:.0f} req/s over {wall:.2f} s"
        )

        per_pun = []
        for user in users:
            pids = pun_pids(user)
            rss, pss = memory_kib(pids)
            per_pun.append((rss, pss, len(pids)))
        rss_mib = [r / 1024 for r, _, _ in per_pun]
        pss_mib = [p / 1024 for _, p, _ in per_pun]
        counts = [n for _, _, n in per_pun]
        print(
            f"bench: memory per PUN ({min(counts)}-{max(counts)} processes each: nginx master+worker, Passenger "
            f"watchdog+core, the apps' processes): RSS min {min(rss_mib):.1f} / median "
            f"{statistics.median(rss_mib):.1f} / max {max(rss_mib):.1f} MiB; PSS median "
            f"{statistics.median(pss_mib):.1f} MiB; all {len(users)} PUNs: PSS {sum(pss_mib):.0f} MiB"
        )
    finally:
        cleanup()
    return 0


# --------------------------------------------------------------------------- on the host


def host(opts: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from snapbuild.machines import lxd, systemtest
    from snapbuild.recipe.project import DEFAULT as PROJECT

    tests = PROJECT.root / "tests"
    inner = [
        "python3",
        f"{REMOTE_ROOT}/bench_runtime.py",
        "--inside",
        "--root",
        REMOTE_ROOT,
        *(
            f"--{k.replace('_', '-')}={v}"
            for k, v in vars(opts).items()
            if k not in ("container", "inside", "client", "root") and v is not None
        ),
    ]

    def run_in(name: str) -> int:
        lxd.exec_(name, ["rm", "-rf", REMOTE_ROOT], capture=True)
        lxd.push_tree(name, tests / "checks", f"{REMOTE_ROOT}/checks")
        lxd.push_tree(name, tests / "fixtures" / "apps", f"{REMOTE_ROOT}/fixtures/apps")
        lxd.push_file(name, Path(__file__).resolve(), f"{REMOTE_ROOT}/bench_runtime.py")
        done = subprocess.run(lxd.exec_argv(name, inner), check=False)
        return done.returncode

    return systemtest.run_on_installed_snap(opts.container, "bench", run_in, PROJECT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--container", help="an LXD container with the snap installed (default: a fresh one)")
    parser.add_argument("--users", type=int, default=20, help="PUNs at once (default 20)")
    parser.add_argument("--requests", type=int, default=2000, help="requests of the load phase (default 2000)")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (default 8)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    parser.add_argument(
        "--spawn-timeout", type=float, default=120.0, help="seconds for a first request that spawns an app"
    )
    parser.add_argument("--cold-runs", type=int, default=5, help="cold starts to time (default 5)")
    parser.add_argument("--warm-requests", type=int, default=200, help="sequential warm requests (default 200)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--root", default=REMOTE_ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--client", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.client:
        mode, *rest = opts.client
        if mode == "until-200":
            sock, path, t0, timeout = rest
            print(json.dumps(client_until_200(sock, path, float(t0), float(timeout))))
        else:
            load = argparse.ArgumentParser()
            load.add_argument("--requests", type=int)
            load.add_argument("--concurrency", type=int)
            load.add_argument("--timeout", type=float)
            load.add_argument("targets", nargs="+")
            args = load.parse_args(rest)
            print(json.dumps(client_load(args.targets, args.requests, args.concurrency, args.timeout)))
        return 0
    if opts.inside:
        if os.geteuid() != 0:
            print("--inside runs as root (it creates users and starts nginx as root)", file=sys.stderr)
            return 2
        return inside(opts)
    return host(opts)


if __name__ == "__main__":
    raise SystemExit(main())
