"""System tests: the built snap in a real snapd, inside throwaway LXD containers.

The behaviour checks are bash scripts in tests/checks/ (one behaviour each, run as root
where the snap is installed). spread is their one driver (spread.yaml, tests/spread/: a
thin task per check); its `lxd-local` adhoc backend allocates and discards containers
through `python -m snapbuild.machines.systemtest`. `run_tests` finds spread, runs the suite and
prints spread's summary; a failed or aborted task fails it.

`SystemContainer`, `start` and `run_on_installed_snap` give the benchmark scripts
(tests/system/bench_*.py) a container with the snap installed.
"""

from __future__ import annotations

import filecmp
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

from snapbuild import cli
from snapbuild.errors import ToolError
from snapbuild.machines import lxd
from snapbuild.progress import say, step
from snapbuild.recipe.project import DEFAULT, Project

SNAP_NAME = "ondemand"
CHECKS_DIR = Path("tests") / "checks"
REMOTE_CHECKS = "/var/tmp/ondemand-checks"
REMOTE_SNAP = "/var/tmp/ondemand-under-test.snap"
BENCH_PREFIX = "ondemand-systest"  # containers of the benchmark scripts
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
            raise ToolError(
                f"{ENV_SNAP}={chosen}: no such file",
                resolution=(
                    f"point {ENV_SNAP} at a built .snap, or unset it to use the newest {root}/{SNAP_NAME}_*.snap"
                ),
            )
        return path.resolve()
    candidates = [p for p in root.glob(f"{SNAP_NAME}_*.snap") if p.is_file()]
    if not candidates:
        return None
    return max(candidates, key=lambda p: (p.stat().st_mtime, p.name))


def no_snap_reason(root: Path) -> str:
    return (
        f"no snap under test: set {ENV_SNAP}=/path/to/{SNAP_NAME}_*.snap or build one (`invoke build`; none in {root})"
    )


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
    slug = slug[: max(room, 0)].strip("-")
    return "-".join(part for part in (prefix, slug, suffix) if part)


def check_names(project: Project = DEFAULT) -> list[str]:
    """The behaviour checks (tests/checks/*.sh, without the sourced lib.sh)."""
    return sorted(p.stem for p in (project.root / CHECKS_DIR).glob("*.sh") if p.stem != "lib")


def address_host(address: str) -> str:
    """`10.0.0.5:22` or `[fd00::5]:22` -> the host part (spread's $SPREAD_SYSTEM_ADDRESS)."""
    text = address.strip()
    if text.startswith("["):
        return text[1 : text.index("]")] if "]" in text else text[1:]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


def go_error_brief(output: str) -> str:
    """A failed `go install`'s message on one line (its lines joined with ' / ')."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    return " / ".join(lines) or "go install failed without a message"


# --------------------------------------------------------------------------- checks in a container


@dataclass
class SystemContainer:
    """A running test container with snapd, the placeholders and the checks in place."""

    name: str
    snap: Path

    def sh(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = CHECK_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return lxd.exec_(self.name, argv, check=check, capture=True, timeout=timeout)

    def installed(self) -> bool:
        return self.sh(["snap", "list", SNAP_NAME], check=False).returncode == 0

    def install_snap(self) -> None:
        with step(f"snap install --dangerous --classic {self.snap.name} in {self.name}"):
            self.sh(["snap", "install", "--dangerous", "--classic", REMOTE_SNAP])

    def ensure_installed(self) -> None:
        if not self.installed():
            self.install_snap()


def push_checks(name: str, project: Project = DEFAULT) -> None:
    lxd.exec_(name, ["rm", "-rf", REMOTE_CHECKS], capture=True)
    lxd.push_tree(name, project.root / CHECKS_DIR, REMOTE_CHECKS)


def launch_test_container(name: str) -> str:
    """Launch `name` from the test image, wait for it, install the placeholder snaps."""
    from snapbuild.machines import images

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


def start(snap: Path, tag: str = "", project: Project = DEFAULT, *, keep_on_error: bool = False) -> SystemContainer:
    """A fresh container with `snap` installed and the checks pushed; the caller deletes it.

    If installing fails the container is deleted, unless `keep_on_error` (to look inside).
    """
    name = container_name(BENCH_PREFIX, tag)
    launch_test_container(name)
    container = SystemContainer(name, snap)
    try:
        with step(f"push {snap.name} and {CHECKS_DIR} into {name}"):
            lxd.push_file(name, snap, REMOTE_SNAP)
            push_checks(name, project)
        container.install_snap()
    except BaseException:
        if keep_on_error:
            say(f"keeping container {name} after the failure: lxc exec {name} -- bash; lxc delete --force {name}")
        else:
            lxd.delete(name)
        raise
    return container


@contextmanager
def system_container(
    snap: Path, tag: str = "", *, keep: Callable[[], bool] = lambda: False, project: Project = DEFAULT
) -> Iterator[SystemContainer]:
    """start(); delete the container afterwards unless keep() says otherwise."""
    container = start(snap, tag, project, keep_on_error=keep_requested())
    try:
        yield container
    finally:
        if keep():
            say(
                f"keeping container {container.name} ({ENV_KEEP}=1 and a test failed): "
                f"lxc exec {container.name} -- bash; lxc delete --force {container.name}"
            )
        else:
            lxd.delete(container.name)


def run_on_installed_snap(
    container: str | None, tag: str, run: Callable[[str], int], project: Project = DEFAULT
) -> int:
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


def run_script_inside(
    script: Path, remote: str, args: Sequence[str], container: str | None, tag: str, project: Project = DEFAULT
) -> int:
    """A benchmark script that runs itself on the test machine: pushed to `remote` in
    `container` (or a fresh one with the snap installed) and run there as root with `--inside`
    and `args`, so no `lxc exec` is timed; its exit status."""

    def run_in(name: str) -> int:
        lxd.push_file(name, script, remote)
        return subprocess.run(lxd.exec_argv(name, ["python3", remote, "--inside", *args]), check=False).returncode

    return run_on_installed_snap(container, tag, run_in, project)


# --------------------------------------------------------------------------- spread's adhoc backend


def _wait_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2):
                return
        except OSError as error:
            if time.monotonic() > deadline:
                raise ToolError(
                    f"{host}:{port} does not accept connections after {timeout:.0f}s ({error})",
                    resolution="check sshd in the container: systemctl status ssh",
                ) from None
            time.sleep(0.5)


def allocate(system: str, password: str) -> str:
    """For spread's adhoc `allocate`: a prepared container reachable as root over ssh; its IPv4."""
    if not password:
        raise ToolError("SPREAD_PASSWORD is empty", resolution="run this from spread's allocate script, which sets it")
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

    return {
        item["name"]: (lxd.ipv4_from_state(item.get("state") or {}) or "")
        for item in json.loads(names or "[]")
        if item["name"].startswith(SPREAD_PREFIX + "-")
    }


def discard(address: str) -> str:
    """For spread's adhoc `discard`: delete the container `allocate` gave this address."""
    host = address_host(address)
    matches = [name for name, ip in spread_containers().items() if ip == host]
    if not matches:
        raise ToolError(
            f"no {SPREAD_PREFIX}-* container has address {host}",
            resolution="list them with `lxc list " + SPREAD_PREFIX + "`; delete by hand",
        )
    for name in matches:
        collect_skips(name)
        collect_artifacts(name)
        lxd.delete(name)
        say(f"discarded {name}")
    return matches[0]


# --------------------------------------------------------------------------- spread itself

_spread_error: ToolError | None = None

# Where the project's machines keep a spread built from its source (beside the project
# root): the Go module proxy does not serve spread, and GitHub is not reachable there.
SHARED_SPREAD = Path("..") / "shared" / "tools" / "spread"
ENV_SPREAD_SNAP = "ONDEMAND_SPREAD_SNAP"  # spread.yaml's include: the snap to send (a name in the root)
SKIPPED_DIR = Path("build") / "spread-skipped"  # discard copies the machines' skip reasons here
SKIP_FILE = "skipped"  # in a task's directory: why its check skipped (tests/checks/lib.sh: skip)
# What checks keep as evidence (the browser's screenshots): spread.yaml's $CHECK_ARTIFACTS on
# the machine, copied by discard to build/spread-artifacts/ (spread's own artifacts need xz there).
ARTIFACTS_DIR = Path("build") / "spread-artifacts"
REMOTE_ARTIFACTS = "artifacts"  # under spread.yaml's `path:`
SPREAD_REMOTE_PATH = "/root/ondemand-snap"  # spread.yaml's `path:`


def ensure_spread(project: Project = DEFAULT, runner: Runner = subprocess.run) -> Path:
    """spread on PATH, else the shared build beside the project, else `go install` it into
    build/tools/bin (tried once per process); ToolError when none of these gives one."""
    global _spread_error
    found = shutil.which("spread")
    if found:
        return Path(found)
    shared = project.root / SHARED_SPREAD
    if shared.is_file() and os.access(shared, os.X_OK):
        return shared.resolve()
    from snapbuild.machines import gotools

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
                resolution=(
                    "spread is not served by the Go module proxy here; put a spread built from "
                    f"its source on PATH (or at {SHARED_SPREAD} from the project root), or run where "
                    f"GitHub is reachable: GOPROXY=direct go install {target}"
                ),
            )
            raise _spread_error
    return binary


@dataclass
class SpreadSummary:
    """The counts of spread's final report (`Successful tasks: N`, ...) and its lines."""

    successful: int = 0
    failed: int = 0  # every `Failed task...: N` (task, prepare, restore, suite or project)
    aborted: int = 0
    lines: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.successful > 0 and self.failed == 0 and self.aborted == 0


_SUMMARY_LINE = re.compile(r"\b(Successful tasks|Aborted tasks|Failed (?:tasks?|suite|project)[\w ]*): (\d+)$")


def parse_spread_summary(output: str) -> SpreadSummary:
    """spread's report: the count lines and the `    - JOB` lines under them."""
    summary = SpreadSummary()
    lines: list[str] = []
    in_list = False
    for raw in output.splitlines():
        line = raw.rstrip()
        match = _SUMMARY_LINE.search(line)
        if match:
            label, count = match.group(1), int(match.group(2))
            if label == "Successful tasks":
                summary.successful += count
            elif label == "Aborted tasks":
                summary.aborted += count
            else:
                summary.failed += count
            lines.append(line[match.start() :])
            in_list = True
        elif in_list and line.startswith("    - "):
            lines.append(line)
        else:
            in_list = False
    summary.lines = tuple(lines)
    return summary


def spread_jobs(listing: str) -> list[str]:
    """`spread -list BACKEND`'s jobs (backend:system:suite/task), one a line."""
    return [line.strip() for line in listing.splitlines() if line.count(":") >= 2 and "/" in line]


def skip_lines(listing: str) -> list[str]:
    """`TASK: reason` from `grep -H .` over the machine's skip files (one `PATH:line` each)."""
    found = []
    prefix = SPREAD_REMOTE_PATH + "/"
    for line in listing.splitlines():
        path, _, reason = line.partition(":")
        if not reason.strip() or not path.endswith("/" + SKIP_FILE):
            continue
        task = path.removeprefix(prefix).removesuffix("/" + SKIP_FILE)
        found.append(f"{task}: {reason.strip()}")
    return found


def collect_skips(name: str, project: Project = DEFAULT) -> list[str]:
    """Copy the reasons of the checks that skipped on container `name` to build/spread-skipped/."""
    done = lxd.exec_(
        name,
        [
            "sh",
            "-c",
            f"find {SPREAD_REMOTE_PATH}/tests -name {SKIP_FILE} -size +0 -print0 2>/dev/null | xargs -0 -r grep -H .",
        ],
        check=False,
        capture=True,
    )
    found = skip_lines(done.stdout)
    if found:
        target = project.root / SKIPPED_DIR
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{name}.txt").write_text("".join(f"{line}\n" for line in found))
    return found


def collect_artifacts(name: str, project: Project = DEFAULT) -> Path | None:
    """Copy what the checks on container `name` kept in $CHECK_ARTIFACTS to
    build/spread-artifacts/ (emptied when a spread run starts); None when they kept nothing."""
    remote = f"{SPREAD_REMOTE_PATH}/{REMOTE_ARTIFACTS}"
    present = lxd.exec_(name, ["test", "-d", remote], check=False, capture=True)
    if present.returncode != 0:
        return None
    target = project.root / ARTIFACTS_DIR
    target.mkdir(parents=True, exist_ok=True)
    lxd.pull_tree(name, remote, target)
    say(f"artifacts of {name}: {target}")
    return target


def skipped_checks(project: Project = DEFAULT) -> list[str]:
    """Every line discard collected in build/spread-skipped/ (sorted)."""
    lines: list[str] = []
    for path in sorted((project.root / SKIPPED_DIR).glob("*.txt")):
        lines.extend(line for line in path.read_text().splitlines() if line.strip())
    return sorted(lines)


def _snap_for_spread(snap: Path, project: Project) -> str:
    """The name, in the project root, of the snap spread sends (spread sends files from the
    root only): `snap` itself when it is there, else a copy made there."""
    root = project.root.resolve()
    if snap.resolve().parent == root:
        return snap.name
    target = root / snap.name
    if target.exists():
        if filecmp.cmp(target, snap, shallow=False):
            return snap.name
        raise ToolError(
            f"{target} exists and differs from {snap}",
            resolution=f"spread sends snaps from {root} only: remove or rename {target}, or pass that one with --snap",
        )
    with step(f"copy {snap} into {root} (spread sends files from the project root)"):
        shutil.copy2(snap, target)
    return snap.name


def run_spread(
    spread: Path, snap_name: str, project: Project = DEFAULT, args: Sequence[str] = (SPREAD_BACKEND,)
) -> SpreadSummary:
    """Run spread (its output streamed), then check its summary: every listed job successful."""
    env = {**os.environ, ENV_SPREAD_SNAP: snap_name}
    listed = subprocess.run(
        [str(spread), "-list", *args], cwd=project.root, env=env, capture_output=True, text=True, check=False
    )
    if listed.returncode != 0:
        raise ToolError(
            f"spread -list {' '.join(args)} failed (exit {listed.returncode})",
            resolution="fix spread.yaml or the task.yaml it names",
            details=(listed.stderr + listed.stdout).strip(),
        )
    jobs = spread_jobs(listed.stdout)
    shutil.rmtree(project.root / SKIPPED_DIR, ignore_errors=True)
    shutil.rmtree(project.root / ARTIFACTS_DIR, ignore_errors=True)
    argv = [str(spread), *args]
    say(f"==> spread: {len(jobs)} task(s), {' '.join(argv[1:])} (sends {snap_name})")
    started = time.monotonic()
    output: list[str] = []
    with subprocess.Popen(
        argv, cwd=project.root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            output.append(line)
    summary = parse_spread_summary("".join(output))
    print(f"==> spread summary ({time.monotonic() - started:.0f}s, exit {process.returncode}):", flush=True)
    for line in summary.lines or ("(spread printed no summary)",):
        print(f"    {line}", flush=True)
    for skipped in skipped_checks(project):
        print(f"SKIPPED {skipped}", flush=True)
    kept = sorted(path for path in (project.root / ARTIFACTS_DIR).rglob("*") if path.is_file())
    if kept:
        print(f"==> evidence the checks kept ({len(kept)} file(s)):", flush=True)
        for path in kept:
            print(f"    {path.relative_to(project.root)}", flush=True)
    if process.returncode != 0 or not summary.ok or summary.successful != len(jobs):
        raise ToolError(
            f"spread suite failed (exit {process.returncode}; {summary.successful} of {len(jobs)} task(s) "
            f"successful, {summary.failed} failed, {summary.aborted} aborted)",
            resolution=(
                "read the failed task's output above (spread prints it with the task's debug "
                f"script); rerun one task with `spread -debug {SPREAD_BACKEND}:debian-12:tests/spread/main/TASK` "
                "for a shell at the failure"
            ),
        )
    return summary


def run_tests(snap: Path, project: Project = DEFAULT) -> None:
    """The spread suite against `snap`; SKIPPED (printed) only where spread cannot be had."""
    try:
        spread = ensure_spread(project)
    except ToolError as error:
        print(f"SKIPPED spread suite: {error.brief} ({error.resolution})", flush=True)
        return
    run_spread(spread, _snap_for_spread(snap, project), project)


# --------------------------------------------------------------------------- command line


USAGE = (
    "usage: python -m snapbuild.machines.systemtest allocate [SYSTEM]   (spread adhoc; "
    "prints the address, uses $SPREAD_PASSWORD)\n"
    "       python -m snapbuild.machines.systemtest discard ADDRESS"
)


def _command(args: list[str]) -> None:
    if args[:1] == ["allocate"] and len(args) <= 2:
        system = args[1] if len(args) == 2 else os.environ.get("SPREAD_SYSTEM", "debian-12")
        print(allocate(system, os.environ.get("SPREAD_PASSWORD", "")))
    elif args[:1] == ["discard"] and len(args) <= 2:
        address = args[1] if len(args) == 2 else os.environ.get("SPREAD_SYSTEM_ADDRESS", "")
        if not address:
            raise cli.UsageError(
                "discard: no ADDRESS, and $SPREAD_SYSTEM_ADDRESS is empty",
                resolution="give the address `allocate` printed",
            )
        discard(address)
    else:
        raise cli.wrong_arguments(args)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(_command, argv, usage=USAGE)


if __name__ == "__main__":
    raise SystemExit(main())
