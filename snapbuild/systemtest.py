"""System tests: the built snap in a real snapd, inside a throwaway LXD container.

The behaviour checks themselves are bash scripts in tests/checks/ (one behaviour each, run
as root where the snap is installed). Two drivers run them:

- the pytest suite tests/system/ (`pytest tests/system`), through `SystemContainer` below:
  one container from the local test image per session, placeholder `snapd`/`core24` snaps,
  the snap under test installed with `--dangerous --classic`;
- spread (spread.yaml, tests/spread/), where spread can be installed. Its `lxd-local` adhoc
  backend allocates and discards containers through `python -m snapbuild.systemtest`.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from snapbuild import lxd
from snapbuild.errors import ToolError
from snapbuild.progress import say, step
from snapbuild.project import DEFAULT, Project

SNAP_NAME = "ondemand"
CHECKS_DIR = Path("tests") / "checks"
REMOTE_CHECKS = "/var/tmp/ondemand-checks"
REMOTE_SNAP = "/var/tmp/ondemand-under-test.snap"
PYTEST_PREFIX = "ondemand-systest"
SPREAD_PREFIX = "ondemand-spread"
CHECK_TIMEOUT = 900  # seconds; a refresh of a large snap is the slowest check

# Environment knobs of the system suite.
ENV_SNAP = "ONDEMAND_SNAP"  # the .snap to test (default: newest ./ondemand_*.snap)
ENV_KEEP = "ONDEMAND_KEEP"  # "1": keep the containers of a failed run for debugging

SPREAD_MODULE = "github.com/snapcore/spread/cmd/spread"
# spread publishes no releases; pin a pseudo-version here once the Go proxy serves one.
SPREAD_VERSION = "latest"
SPREAD_BACKEND = "lxd-local"

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


# --------------------------------------------------------------------------- pure helpers


def find_snap(root: Path, environ: Mapping[str, str] | None = None) -> Path | None:
    """The snap under test: $ONDEMAND_SNAP, else the newest ondemand_*.snap in `root`."""
    env = os.environ if environ is None else environ
    chosen = env.get(ENV_SNAP, "").strip()
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise ToolError(f"{ENV_SNAP}={chosen}: no such file",
                            resolution=f"point {ENV_SNAP} at a built .snap, or unset it to use "
                            f"the newest {root}/{SNAP_NAME}_*.snap")
        return path.resolve()
    candidates = [p for p in root.glob(f"{SNAP_NAME}_*.snap") if p.is_file()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name))


def no_snap_reason(root: Path) -> str:
    return (f"no snap under test: set {ENV_SNAP}=/path/to/{SNAP_NAME}_*.snap or build one "
            f"(`invoke build`; none in {root})")


def keep_requested(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return env.get(ENV_KEEP, "").strip() == "1"


def container_name(prefix: str, tag: str = "", suffix: str | None = None) -> str:
    """A valid, unique LXD container name: `prefix[-tag]-suffix`, at most 63 characters.

    LXD names are letters, digits and hyphens, start with a letter and do not end with a
    hyphen; anything else in `tag` becomes a hyphen.
    """
    suffix = secrets.token_hex(3) if suffix is None else suffix
    slug = re.sub(r"[^a-z0-9]+", "-", tag.lower()).strip("-")
    room = 63 - len(prefix) - len(suffix) - 2
    slug = slug[:max(room, 0)].strip("-")
    return "-".join(part for part in (prefix, slug, suffix) if part)


def check_names(project: Project = DEFAULT) -> list[str]:
    """The behaviour checks (tests/checks/*.sh, without the sourced lib.sh)."""
    return sorted(p.stem for p in (project.root / CHECKS_DIR).glob("*.sh") if p.stem != "lib")


def check_argv(name: str, args: Sequence[str] = (), project: Project = DEFAULT) -> list[str]:
    """The command line that runs check `name` inside a prepared container."""
    known = check_names(project)
    if name not in known:
        raise ToolError(f"no check named {name!r} in {CHECKS_DIR}",
                        resolution="use one of: " + ", ".join(known))
    return [f"{REMOTE_CHECKS}/{name}.sh", *args]


def address_host(address: str) -> str:
    """`10.0.0.5:22` or `[fd00::5]:22` -> the host part (spread's $SPREAD_SYSTEM_ADDRESS)."""
    text = address.strip()
    if text.startswith("["):
        return text[1:text.index("]")] if "]" in text else text[1:]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def go_error_brief(output: str) -> str:
    """A failed `go install`'s message on one line (its lines joined with ' / ')."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return " / ".join(lines) or "go install failed without a message"


# --------------------------------------------------------------------------- checks in a container


@dataclass
class CheckResult:
    name: str
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def report(self) -> str:
        """Everything the check printed, for an assertion message."""
        return (f"check {self.name} exited {self.returncode}\n"
                f"--- stdout\n{self.stdout.rstrip()}\n--- stderr\n{self.stderr.rstrip()}")


@dataclass
class SystemContainer:
    """A running test container with snapd, the placeholders and the checks in place."""

    name: str
    snap: Path

    def sh(self, argv: Sequence[str], *, check: bool = True,
           timeout: float = CHECK_TIMEOUT) -> subprocess.CompletedProcess[str]:
        return lxd.exec_(self.name, argv, check=check, capture=True, timeout=timeout)

    def installed(self) -> bool:
        return self.sh(["snap", "list", SNAP_NAME], check=False).returncode == 0

    def install_snap(self) -> None:
        with step(f"snap install --dangerous --classic {self.snap.name} in {self.name}"):
            self.sh(["snap", "install", "--dangerous", "--classic", REMOTE_SNAP])

    def ensure_installed(self) -> None:
        if not self.installed():
            self.install_snap()


def run_check(container: SystemContainer, name: str, *args: str,
              project: Project = DEFAULT) -> CheckResult:
    """Run tests/checks/NAME.sh in the container; its output is printed and returned."""
    argv = check_argv(name, args, project)
    started = time.monotonic()
    done = container.sh(argv, check=False)
    result = CheckResult(name, done.returncode, done.stdout, done.stderr)
    print(f"--- check {name} ({time.monotonic() - started:.1f}s, exit {done.returncode})")
    print(done.stdout, end="")
    if done.stderr:
        print(done.stderr, end="", file=sys.stderr)
    return result


def push_checks(name: str, project: Project = DEFAULT) -> None:
    lxd.exec_(name, ["rm", "-rf", REMOTE_CHECKS], capture=True)
    lxd.push_tree(name, project.root / CHECKS_DIR, REMOTE_CHECKS)


def launch_test_container(name: str) -> str:
    """Launch `name` from the test image, wait for it, install the placeholder snaps."""
    from snapbuild import images

    with step("LXD and the test image"):
        lxd.ensure_lxd()
        alias = images.ensure_image("test")
    with step(f"launch {name}"):
        lxd.launch(name, alias)
        try:
            ip = lxd.wait_ready(name)
        except ToolError:
            lxd.delete(name)
            raise
    try:
        images.prepare_test_container(name)
    except ToolError:
        lxd.delete(name)
        raise
    return ip


def start(snap: Path, tag: str = "", project: Project = DEFAULT, *,
          keep_on_error: bool = False) -> SystemContainer:
    """A fresh container with `snap` installed and the checks pushed; the caller deletes it.

    If installing fails the container is deleted, unless `keep_on_error` (to look inside).
    """
    name = container_name(PYTEST_PREFIX, tag)
    launch_test_container(name)
    container = SystemContainer(name, snap)
    try:
        with step(f"push {snap.name} and {CHECKS_DIR} into {name}"):
            lxd.push_file(name, snap, REMOTE_SNAP)
            push_checks(name, project)
        container.install_snap()
    except BaseException:
        if keep_on_error:
            say(f"keeping container {name} after the failure: lxc exec {name} -- bash; "
                f"lxc delete --force {name}")
        else:
            lxd.delete(name)
        raise
    return container


@contextmanager
def system_container(snap: Path, tag: str = "", *, keep: Callable[[], bool] = lambda: False,
                     project: Project = DEFAULT) -> Iterator[SystemContainer]:
    """start(); delete the container afterwards unless keep() says otherwise."""
    container = start(snap, tag, project, keep_on_error=keep_requested())
    try:
        yield container
    finally:
        if keep():
            say(f"keeping container {container.name} ({ENV_KEEP}=1 and a test failed): "
                f"lxc exec {container.name} -- bash; lxc delete --force {container.name}")
        else:
            lxd.delete(container.name)


def run_on_installed_snap(container: str | None, tag: str, run: Callable[[str], int],
                          project: Project = DEFAULT) -> int:
    """run(name) in `container`, or in a fresh one with the newest built snap installed
    (benchmark scripts); exit status 2 with the reason when there is no snap to install."""
    if container:
        return run(container)
    snap = find_snap(project.root)
    if snap is None:
        print(no_snap_reason(project.root), file=sys.stderr)
        return 2
    with system_container(snap, tag, project=project) as fresh:
        return run(fresh.name)


# --------------------------------------------------------------------------- spread's adhoc backend


def _wait_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError as error:
            if time.monotonic() > deadline:
                raise ToolError(f"{host}:{port} does not accept connections after {timeout:.0f}s ({error})",
                                resolution="check sshd in the container: systemctl status ssh") from None
            time.sleep(0.5)


def allocate(system: str, password: str) -> str:
    """For spread's adhoc `allocate`: a prepared container reachable as root over ssh; its IPv4."""
    if not password:
        raise ToolError("SPREAD_PASSWORD is empty",
                        resolution="run this from spread's allocate script, which sets it")
    name = container_name(SPREAD_PREFIX, system)
    ip = launch_test_container(name)
    try:
        lxd.exec_(name, ["chpasswd"], stdin=f"root:{password}\n", capture=True)
        _wait_port(ip, 22, 60)
    except BaseException:
        lxd.delete(name)
        raise
    say(f"allocated {name} at {ip}")
    return ip


def spread_containers() -> dict[str, str]:
    """Containers made by `allocate`: name -> IPv4 ('' while it has none)."""
    lxd.ensure_lxd()
    names = lxd.lxc("list", "--format=json").stdout
    import json

    return {item["name"]: (lxd.ipv4_from_state(item.get("state") or {}) or "")
            for item in json.loads(names or "[]") if item["name"].startswith(SPREAD_PREFIX + "-")}


def discard(address: str) -> str:
    """For spread's adhoc `discard`: delete the container `allocate` gave this address."""
    host = address_host(address)
    matches = [name for name, ip in spread_containers().items() if ip == host]
    if not matches:
        raise ToolError(f"no {SPREAD_PREFIX}-* container has address {host}",
                        resolution="list them with `lxc list " + SPREAD_PREFIX + "`; delete by hand")
    for name in matches:
        lxd.delete(name)
        say(f"discarded {name}")
    return matches[0]


# --------------------------------------------------------------------------- spread itself

_spread_error: ToolError | None = None


def ensure_spread(project: Project = DEFAULT, runner: Runner = subprocess.run) -> Path:
    """spread on PATH, else `go install` it into build/tools/bin (tried once per process)."""
    global _spread_error
    found = shutil.which("spread")
    if found:
        return Path(found)
    from snapbuild import gotools

    binary = gotools.tools_bin(project) / "spread"
    if binary.is_file():
        return binary
    if _spread_error is not None:
        raise _spread_error
    go = gotools.find_go(runner)
    env = {**os.environ, "GOBIN": str(binary.parent), "CGO_ENABLED": "0", "GOTOOLCHAIN": "auto"}
    binary.parent.mkdir(parents=True, exist_ok=True)
    target = f"{SPREAD_MODULE}@{SPREAD_VERSION}"
    with step(f"go install {target}"):
        done = runner([go, "install", target], capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0 or not binary.is_file():
            _spread_error = ToolError(
                go_error_brief(done.stderr + done.stdout),
                resolution="spread is not served by the Go module proxy here; run the spread suite "
                f"where GitHub is reachable: GOPROXY=direct go install {target}",
            )
            raise _spread_error
    return binary


def run_tests(snap: Path, project: Project = DEFAULT, pytest_args: Sequence[str] = ()) -> None:
    """The system suite (pytest tests/system) against `snap`, then spread where it exists."""
    env = {**os.environ, ENV_SNAP: str(snap)}
    argv = [sys.executable, "-m", "pytest", "tests/system", *pytest_args]
    say(f"==> system suite against {snap}: {' '.join(argv[1:])}")
    done = subprocess.run(argv, cwd=project.root, env=env, check=False)
    if done.returncode != 0:
        raise ToolError(f"system suite failed (pytest exit {done.returncode})",
                        resolution=f"read the failed checks above; rerun with {ENV_KEEP}=1 to keep "
                        "the container and look inside with lxc exec NAME -- bash")
    try:
        spread = ensure_spread(project)
    except ToolError as error:
        print(f"SKIPPED spread suite: {error.brief} ({error.resolution})", flush=True)
        return
    if snap.parent.resolve() != project.root.resolve():
        print(f"SKIPPED spread suite: spread installs the newest {SNAP_NAME}_*.snap in "
              f"{project.root}, not {snap}", flush=True)
        return
    say(f"==> spread suite ({SPREAD_BACKEND})")
    done = subprocess.run([str(spread), SPREAD_BACKEND], cwd=project.root, check=False)
    if done.returncode != 0:
        raise ToolError(f"spread suite failed (exit {done.returncode})",
                        resolution="read spread's report above; `spread -debug` opens a shell at the failure")


# --------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    usage = ("usage: python -m snapbuild.systemtest allocate [SYSTEM]   (spread adhoc; "
             "prints the address, uses $SPREAD_PASSWORD)\n"
             "       python -m snapbuild.systemtest discard ADDRESS")
    try:
        if args[:1] == ["allocate"] and len(args) <= 2:
            system = args[1] if len(args) == 2 else os.environ.get("SPREAD_SYSTEM", "debian-12")
            print(allocate(system, os.environ.get("SPREAD_PASSWORD", "")))
        elif args[:1] == ["discard"] and len(args) <= 2:
            address = args[1] if len(args) == 2 else os.environ.get("SPREAD_SYSTEM_ADDRESS", "")
            if not address:
                print(usage, file=sys.stderr)
                return 2
            discard(address)
        else:
            print(usage, file=sys.stderr)
            return 2
    except ToolError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
