"""The portal through OnDemand's own code path, timed: a script, not a test.

    .venv/bin/python tests/system/bench_portal.py [--container NAME] [--users 20]

On the host it starts a fresh LXD container with the snap under test installed (or uses
--container NAME), pushes itself and runs itself there with --inside, as root, so no
`lxc exec` is timed. Inside, with basic auth on and one cluster (login host localhost):

- first request of a new user: GET /pun/sys/shell/ssh/localhost as a user with no PUN
  yet (Apache -> mod_ood_proxy -> sudo nginx_stage pun -> the user's nginx + Passenger ->
  the shell app's first spawn) until the page answers 200; the median over the users;
- warm request, through Apache + mod_ood_proxy vs straight to the user's PUN socket (the
  floor, measured in the same run): p50 of each and their ratio; and where the difference
  goes: Apache alone (a static /public file) and mod_ood_proxy's own per-request timings
  (time_user_map, time_proxy from its log lines);
- all users logging in at once (their PUNs stopped first): errors and p95.

Users bench-user-N (uid 2100+N) are created and removed again; the auth keys and the
cluster are unset at the end. Nothing is asserted: the numbers are for reading.
A build without OnDemand has no mod_ood_proxy: the script says so and exits 2.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import http.client
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

SNAP_NAME = "ondemand"
SNAP = f"/snap/{SNAP_NAME}/current"
COMMON = f"/var/snap/{SNAP_NAME}/common"
NGINX_STAGE = f"{SNAP}/sbin/nginx_stage"
PAGE = "/pun/sys/shell/ssh/localhost"
REMOTE = "/var/tmp/ondemand-bench-portal.py"
HTPASSWD = "/etc/ondemand-bench-portal/htpasswd"
PASSWORD = "bench-password"
CLUSTER = "benchlocal"
UID_BASE = 2100


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def users(count: int) -> list[str]:
    return [f"bench-user-{n}" for n in range(count)]


def setup(names: list[str]) -> None:
    os.makedirs(os.path.dirname(HTPASSWD), exist_ok=True)
    lines = []
    for n, name in enumerate(names):
        if run("id", "-u", name).returncode != 0:
            subprocess.run(["useradd", "-m", "-u", str(UID_BASE + n), name], check=True)
        hashed = run("openssl", "passwd", "-apr1", PASSWORD).stdout.strip()
        lines.append(f"{name}:{hashed}\n")
    Path(HTPASSWD).write_text("".join(lines))
    subprocess.run(["chgrp", "snap_daemon", HTPASSWD], check=True)
    os.chmod(HTPASSWD, 0o640)
    subprocess.run(
        [
            "snap",
            "set",
            SNAP_NAME,
            "portal.auth.type=basic",
            f"portal.auth.basic.user-file={HTPASSWD}",
            f"clusters.{CLUSTER}.login.host=localhost",
        ],
        check=True,
    )
    deadline = time.time() + 30
    while status(names[0], "/pun/sys/dashboard", auth=False) != 401:
        if time.time() > deadline:
            raise SystemExit("Apache does not ask for a password 30 s after portal.auth.type=basic")
        time.sleep(0.5)


def teardown(names: list[str]) -> None:
    for name in names:
        run(NGINX_STAGE, "nginx", "-u", name, "-s", "stop")
        run("pkill", "-KILL", "-u", name)
        run("userdel", "-r", name)
    run("rm", "-rf", os.path.dirname(HTPASSWD))
    run("snap", "unset", SNAP_NAME, "portal.auth.type", "portal.auth.basic.user-file", f"clusters.{CLUSTER}")


def status(user: str, path: str, auth: bool = True) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", 80, timeout=60)
    headers = {"Authorization": "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()} if auth else {}
    try:
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        answer.read()
        return answer.status
    except OSError:
        return 0
    finally:
        conn.close()


class UnixConnection(http.client.HTTPConnection):
    """HTTP over the PUN's unix socket, as Apache's mod_proxy reaches it."""

    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def direct_status(user: str) -> int:
    conn = UnixConnection(f"{COMMON}/run/ondemand-nginx/{user}/passenger.sock")
    try:
        # What mod_ood_proxy forwards: the user's identity comes with the proxied request.
        conn.request("GET", PAGE, headers={"X-Forwarded-User": user, "Host": "localhost"})
        answer = conn.getresponse()
        answer.read()
        return answer.status
    finally:
        conn.close()


def lua_timings(user: str, last: int) -> dict[str, list[float]]:
    """mod_ood_proxy's own per-request timings in ms (its logger.lua writes time_user_map, the
    user mapping, and time_proxy, from the start of proxying to the log phase, at LogLevel
    lua_module:info) of the user's last `last` requests for PAGE,
    from the vhost's error logs (upstream names them <servername>_error.log)."""
    lines: list[str] = []
    for log in sorted(Path(f"{COMMON}/var/log/apache2").glob("*error*.log")):
        lines += [
            line
            for line in log.read_text(errors="replace").splitlines()
            if f'local_user="{user}"' in line and f'req_uri="{PAGE}"' in line
        ]
    found: dict[str, list[float]] = {"time_user_map": [], "time_proxy": []}
    for line in lines[-last:]:
        for name in found:
            match = re.search(rf'{name}="([0-9.]+)"', line)
            if match:
                found[name].append(float(match.group(1)))
    return found


def timed(call, *args) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    result = call(*args)
    return time.perf_counter() - started, result


def inside(count: int) -> int:
    if not Path(f"{SNAP}/opt/ood/mod_ood_proxy/lib").is_dir():
        print("bench: this build has no OnDemand (mod_ood_proxy): nothing to time", file=sys.stderr)
        return 2
    names = users(count)
    try:
        setup(names)
        first: list[float] = []
        for name in names:
            seconds, code = timed(status, name, PAGE)
            if code != 200:
                raise SystemExit(f"first request of {name}: HTTP {code}, want 200")
            first.append(seconds)
        user = names[0]
        proxied = [timed(status, user, PAGE)[0] for _ in range(200)]
        lua = lua_timings(user, 200)
        direct = [timed(direct_status, user)[0] for _ in range(200)]
        static = [timed(status, user, "/public/need_auth.html", False)[0] for _ in range(200)]
        for name in names:
            run(NGINX_STAGE, "nginx", "-u", name, "-s", "stop")
        time.sleep(3)
        with concurrent.futures.ThreadPoolExecutor(max_workers=count) as pool:
            together = list(pool.map(lambda n: timed(status, n, PAGE), names))
        errors = sum(1 for _, code in together if code != 200)
    finally:
        teardown(names)
    print(f"bench: portal through mod_ood_proxy -> nginx_stage -> PUN -> shell app, {count} users")
    print(
        f"bench:   first request of a new user   median {statistics.median(first):.3f}s  "
        f"p90 {percentile(first, 90):.3f}s  max {max(first):.3f}s"
    )
    p50_proxied, p50_direct = statistics.median(proxied), statistics.median(direct)
    print(
        f"bench:   warm request via Apache       p50 {p50_proxied * 1000:.2f} ms  "
        f"p95 {percentile(proxied, 95) * 1000:.2f} ms"
    )
    print(
        f"bench:   warm request to the PUN socket p50 {p50_direct * 1000:.2f} ms  "
        f"p95 {percentile(direct, 95) * 1000:.2f} ms (floor)"
    )
    print(f"bench:   ratio (Apache / socket) p50   {p50_proxied / p50_direct:.2f}x (target <= 1.10x)")
    # Where the difference goes: Apache by itself (a static public file, no Lua, no proxy),
    # and mod_ood_proxy's own timings of the proxied requests.
    print(f"bench:   Apache alone (static /public page) p50 {statistics.median(static) * 1000:.2f} ms")
    for name, values in lua.items():
        # logger.lua writes both in milliseconds (r:clock() is in microseconds).
        shown = f"p50 {statistics.median(values):.3f} ms over {len(values)} requests" if values else "not logged"
        print(f"bench:   mod_ood_proxy {name:14} {shown}")
    times = [seconds for seconds, _ in together]
    print(
        f"bench:   {count} users at once              errors {errors}  "
        f"p95 {percentile(times, 95):.3f}s  max {max(times):.3f}s"
    )
    return 0


def host(opts: argparse.Namespace) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from snapbuild.machines import systemtest

    return systemtest.run_script_inside(
        Path(__file__).resolve(), REMOTE, ["--users", str(opts.users)], opts.container, "bench-portal"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--container", help="an LXD container with the snap installed (default: a fresh one)")
    parser.add_argument("--users", type=int, default=20, help="users to log in (default 20)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.users < 2:
        parser.error("--users: at least 2")
    return inside(opts.users) if opts.inside else host(opts)


if __name__ == "__main__":
    raise SystemExit(main())
