"""LXD on this host: install it, start it, configure it once, and drive containers.

Every entry point is idempotent: on a host that is already set up, `ensure_lxd()` costs a
few local API queries. The daemon is started by hand when PID 1 is not systemd (CI
sandboxes, some build machines); it is detached so it outlives the calling process.

Container helpers wrap the `lxc` client rather than the REST API: it is what maintainers
type when they debug, and its errors read well in a ToolError.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import yaml

from snapbuild import cli
from snapbuild.errors import ToolError
from snapbuild.progress import say, step

BRIDGE = "lxdbr0"
POOL = "default"
PROFILE = "default"
LOG_DIR = Path("/var/log/lxd")
DAEMON_LOG = LOG_DIR / "ondemand-snap-lxd.log"
# stdout/stderr of a hand-started daemon (Go panics land here, not in --logfile)
DAEMON_OUTPUT = LOG_DIR / "ondemand-snap-lxd.out"
LOCK_PATH = Path(tempfile.gettempdir()) / "ondemand-snap-lxd.lock"
START_TIMEOUT = 60

# /24s we may give the bridge, in order of preference; the first one that does not
# overlap the host's own networks (routes, addresses, DNS servers) wins.
CANDIDATE_SUBNETS = tuple(
    ipaddress.IPv4Network(f"10.{second}.{third}.0/24") for second in (147, 173, 199, 223) for third in (11, 47, 83)
)

_ready = False  # ensure_lxd() already succeeded in this process


# --------------------------------------------------------------------------- host tools


def ensure_host_packages(commands: Mapping[str, str]) -> None:
    """Install the Debian package providing each missing command (command -> package)."""
    apt_install(sorted({pkg for cmd, pkg in commands.items() if shutil.which(cmd) is None}))


def apt_install(missing: Sequence[str]) -> None:
    """apt-get install packages on the host (CI machines start bare)."""
    if not missing:
        return
    if os.geteuid() != 0:
        raise ToolError(
            f"missing host packages: {', '.join(missing)}",
            resolution=f"run as root, or `sudo apt-get install -y {' '.join(missing)}`",
        )
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with step(f"apt-get install {' '.join(missing)}"):
        for argv in (["apt-get", "update"], ["apt-get", "install", "-y", *missing]):
            done = subprocess.run(argv, env=env, capture_output=True, text=True)
            if done.returncode != 0:
                raise ToolError(
                    f"`{' '.join(argv)}` failed (exit {done.returncode})",
                    resolution="check the host's apt sources and network, then retry",
                    details=tail(done.stdout + done.stderr),
                )


def tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run(
    argv: Sequence[str], *, check: bool = True, what: str = "", input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a host command with captured output; a failure becomes a ToolError."""
    done = subprocess.run(list(argv), capture_output=True, text=True, input=input)
    if check and done.returncode != 0:
        hint = "the command's output is below"
        if argv[0] in ("lxc", "lxd"):
            hint += f"; `lxc info` and {DAEMON_LOG} show the daemon's side"
        raise ToolError(
            f"{what or '`' + ' '.join(argv) + '`'} failed (exit {done.returncode})",
            resolution=hint,
            details=tail(done.stderr or done.stdout),
        )
    return done


def lxc(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `lxc ARGS...` with captured text output."""
    return run(["lxc", *args], check=check, input=input)


def query(path: str) -> Any | None:
    """GET an LXD API path; None when it does not exist."""
    done = lxc("query", path, check=False)
    if done.returncode != 0:
        return None
    return json.loads(done.stdout) if done.stdout.strip() else {}


# --------------------------------------------------------------------------- preseed


def pick_subnet(taken: Iterable[ipaddress.IPv4Network]) -> ipaddress.IPv4Interface:
    """The bridge address (.1 of the first free candidate /24) avoiding `taken`."""
    taken = list(taken)
    for net in CANDIDATE_SUBNETS:
        if not any(net.overlaps(other) for other in taken):
            return ipaddress.IPv4Interface(f"{net[1]}/{net.prefixlen}")
    raise ToolError(
        "no free 10.x.y.0/24 subnet for the LXD bridge",
        resolution=(
            f"create `{BRIDGE}` yourself: lxc network create {BRIDGE} "
            "ipv4.address=10.A.B.1/24 ipv4.nat=true ipv6.address=none"
        ),
        details="host networks: " + ", ".join(map(str, taken)),
    )


def parse_host_networks(
    routes: list[dict[str, Any]], addrs: list[dict[str, Any]], resolv_conf: str
) -> list[ipaddress.IPv4Network]:
    """Networks the bridge must not shadow, from `ip -j -4 route`, `ip -j -4 addr`, resolv.conf."""
    nets: list[ipaddress.IPv4Network] = []
    for route in routes:
        if route.get("dst") not in (None, "default"):
            nets.append(ipaddress.IPv4Network(route["dst"], strict=False))
    for link in addrs:
        for info in link.get("addr_info", []):
            if info.get("family") == "inet":
                nets.append(ipaddress.IPv4Network(f"{info['local']}/{info['prefixlen']}", strict=False))
    for line in resolv_conf.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                nets.append(ipaddress.IPv4Network(parts[1]))
            except ValueError:  # an IPv6 resolver cannot collide with an IPv4 /24
                pass
    return nets


def _host_networks() -> list[ipaddress.IPv4Network]:
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout or "[]")
    addrs = json.loads(run(["ip", "-j", "-4", "addr"]).stdout or "[]")
    resolv = Path("/etc/resolv.conf")
    return parse_host_networks(routes, addrs, resolv.read_text() if resolv.exists() else "")


def _uplink_mtu() -> int | None:
    """MTU of the default route's interface: containers must not exceed it behind NAT."""
    routes = json.loads(run(["ip", "-j", "-4", "route", "show", "default"], check=False).stdout or "[]")
    for route in routes:
        mtu_file = Path("/sys/class/net") / route.get("dev", "") / "mtu"
        if route.get("dev") and mtu_file.exists():
            return int(mtu_file.read_text())
    return None


def preseed(
    bridge_address: str, *, pool: bool = True, network: bool = True, profile: bool = True, mtu: int | None = None
) -> str:
    """`lxd init --preseed` YAML creating only the pieces asked for.

    Existing pools and networks are left out rather than "updated": preseeding an existing
    bridge would renumber it under running containers.
    """
    data: dict[str, Any] = {"config": {}}
    if pool:
        data["storage_pools"] = [{"name": POOL, "driver": "dir", "config": {}}]
    if network:
        config = {"ipv4.address": bridge_address, "ipv4.nat": "true", "ipv6.address": "none"}
        if mtu is not None and mtu < 1500:
            config["bridge.mtu"] = str(mtu)
        data["networks"] = [{"name": BRIDGE, "type": "bridge", "config": config}]
    if profile:
        data["profiles"] = [
            {
                "name": PROFILE,
                "devices": {
                    "eth0": {"type": "nic", "name": "eth0", "network": BRIDGE},
                    "root": {"type": "disk", "path": "/", "pool": POOL},
                },
            }
        ]
    return yaml.safe_dump(data, sort_keys=True)


def _profile_complete(profile: dict[str, Any] | None) -> bool:
    devices: dict[str, dict[str, str]] = (profile or {}).get("devices", {})
    return devices.get("eth0", {}).get("network") == BRIDGE and devices.get("root", {}).get("type") == "disk"


def _configure() -> None:
    """Preseed whatever is missing of pool, bridge and default profile."""
    need_pool = query(f"/1.0/storage-pools/{POOL}") is None
    need_network = query(f"/1.0/networks/{BRIDGE}") is None
    need_profile = not _profile_complete(query(f"/1.0/profiles/{PROFILE}"))
    if not (need_pool or need_network or need_profile):
        return
    address = str(pick_subnet(_host_networks())) if need_network else ""
    text = preseed(address, pool=need_pool, network=need_network, profile=need_profile, mtu=_uplink_mtu())
    with step(f"configuring LXD (bridge {address or 'kept'})"):
        run(["lxd", "init", "--preseed"], input=text, what="`lxd init --preseed`")


def bridge_address() -> ipaddress.IPv4Interface:
    """The bridge's IPv4 interface address (containers use it as DNS server)."""
    ensure_lxd()
    net = query(f"/1.0/networks/{BRIDGE}") or {}
    value = net.get("config", {}).get("ipv4.address", "")
    try:
        return ipaddress.IPv4Interface(value)
    except ValueError:
        raise ToolError(
            f"LXD network {BRIDGE} has no usable ipv4.address ({value!r})",
            resolution=f"lxc network set {BRIDGE} ipv4.address=10.A.B.1/24",
        ) from None


# --------------------------------------------------------------------------- daemon


@contextmanager
def _host_lock() -> Iterator[None]:
    """Serialise daemon start and configuration between concurrent tool runs."""
    with open(LOCK_PATH, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _daemon_up(timeout: int) -> bool:
    return subprocess.run(["lxd", "waitready", f"--timeout={timeout}"], capture_output=True).returncode == 0


def kernel_problems() -> list[str]:
    """Reasons this kernel cannot run unprivileged containers, as far as /proc tells."""
    problems = []
    userns = Path("/proc/sys/user/max_user_namespaces")
    if userns.exists() and userns.read_text().strip() == "0":
        problems.append("user namespaces are disabled (user.max_user_namespaces = 0)")
    if not Path("/proc/self/ns/user").exists():
        problems.append("the kernel has no user namespace support (no /proc/self/ns/user)")
    if not Path("/sys/fs/cgroup").is_dir():
        problems.append("no cgroup filesystem mounted at /sys/fs/cgroup")
    return problems


def _start_daemon() -> None:
    if Path("/run/systemd/system").is_dir():
        # systemd hosts: the packaged units already know the right flags.
        run(["systemctl", "start", "lxd.socket", "lxd.service"], check=False)
    else:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        with open(DAEMON_OUTPUT, "ab") as out:
            # A new session so the daemon survives this process and its job control.
            subprocess.Popen(
                ["lxd", "--group", "root", f"--logfile={DAEMON_LOG}"],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                start_new_session=True,
                close_fds=True,
            )
    if not _daemon_up(START_TIMEOUT):
        logs = "\n".join(tail(p.read_text(errors="replace"), 20) for p in (DAEMON_LOG, DAEMON_OUTPUT) if p.exists())
        problems = kernel_problems()
        raise ToolError(
            "the LXD daemon did not start" + (": " + "; ".join(problems) if problems else ""),
            resolution=(
                "run on a kernel with user namespaces and cgroups (a VM or bare "
                "metal, not a restricted container); see "
            )
            + str(DAEMON_LOG),
            details=logs,
        )


def _check_container_support() -> None:
    """Fail early, and clearly, when LXD runs but cannot drive containers."""
    info = query("/1.0") or {}
    drivers = str(info.get("environment", {}).get("driver", ""))
    if "lxc" not in drivers.split(" | "):
        raise ToolError(
            "LXD cannot run containers on this host (no lxc driver)",
            resolution="use a kernel with user namespaces and cgroups; see " + str(DAEMON_LOG),
            details="drivers: " + (drivers or "none") + "\n" + "\n".join(kernel_problems()),
        )


def ensure_lxd() -> None:
    """Install, start and configure LXD if needed; cheap when already done."""
    global _ready
    if _ready:
        return
    # LXD needs a firewall tool for the bridge's NAT (it prefers nft) and dnsmasq for
    # DHCP/DNS; neither is a hard dependency of Debian's lxd package.
    ensure_host_packages({"lxd": "lxd", "lxc": "lxd", "nft": "nftables", "dnsmasq": "dnsmasq-base"})
    with _host_lock():
        if not _daemon_up(1):
            with step("starting the LXD daemon"):
                _start_daemon()
        _configure()
    _check_container_support()
    _ready = True


# --------------------------------------------------------------------------- containers


def launch_commands(name: str, image_alias: str, *, nesting: bool = True, fuse: bool = True) -> list[list[str]]:
    """The lxc commands that create and start a container (unprivileged, always)."""
    init = ["lxc", "init", image_alias, name, "-c", "security.privileged=false"]
    if nesting:
        init += ["-c", "security.nesting=true"]
    cmds = [init]
    if fuse:
        # The host's /dev/fuse may be 0600; snapd inside mounts snaps with squashfuse.
        cmds.append(
            [
                "lxc",
                "config",
                "device",
                "add",
                name,
                "fuse",
                "unix-char",
                "source=/dev/fuse",
                "path=/dev/fuse",
                "mode=0666",
            ]
        )
    cmds.append(["lxc", "start", name])
    return cmds


def exists(name: str) -> bool:
    ensure_lxd()
    return query(f"/1.0/instances/{name}") is not None


def launch(name: str, image_alias: str, *, nesting: bool = True, fuse: bool = True) -> None:
    """Create and start container `name` from `image_alias`; it must not exist yet."""
    ensure_lxd()
    if exists(name):
        raise ToolError(f"container {name} already exists", resolution=f"delete it first: lxc delete --force {name}")
    if fuse and not Path("/dev/fuse").exists():
        raise ToolError("the host has no /dev/fuse", resolution="modprobe fuse")
    for argv in launch_commands(name, image_alias, nesting=nesting, fuse=fuse):
        done = run(argv, check=False)
        if done.returncode != 0:
            log = lxc("info", name, "--show-log", check=False).stdout
            delete(name)
            raise ToolError(
                f"launching container {name} from {image_alias} failed at `{' '.join(argv[:3])}`",
                resolution=("check `lxc image list` for the image, and the container log below (kernel support: ")
                + ("; ".join(kernel_problems()) or "looks fine")
                + ")",
                details=tail(done.stderr) + "\n" + tail(log, 25),
            )


def delete(name: str) -> None:
    """Force-delete container `name`; nothing to do if it does not exist."""
    if exists(name):
        lxc("delete", "--force", name)


def ipv4_from_state(state: Mapping[str, Any], interface: str = "eth0") -> str | None:
    """The global IPv4 address of `interface` in an instance state document."""
    nic = (state.get("network") or {}).get(interface) or {}
    for addr in nic.get("addresses", []):
        if addr.get("family") == "inet" and addr.get("scope") == "global":
            return str(addr["address"])
    return None


def address(name: str) -> str | None:
    """IPv4 address of the container's eth0, or None while it has none."""
    state = query(f"/1.0/instances/{name}/state")
    return ipv4_from_state(state) if state else None


def wait_ready(name: str, timeout: float = 180.0) -> str:
    """Wait until systemd finished booting and eth0 has an address; return the address."""
    deadline = time.monotonic() + timeout
    state, ip = "unknown", None
    while time.monotonic() < deadline:
        # Fails with a bus error until systemd is up: just keep polling.
        done = exec_(name, ["systemctl", "is-system-running"], check=False, capture=True)
        state = done.stdout.strip() or "offline"
        ip = address(name)
        if state in ("running", "degraded") and ip:
            if state == "degraded":
                failed = exec_(
                    name, ["systemctl", "--failed", "--no-legend", "--plain"], check=False, capture=True
                ).stdout.strip()
                say(f"{name}: systemd is degraded; failed units:\n{failed}")
            return ip
        time.sleep(0.5)
    jobs = exec_(name, ["systemctl", "list-jobs", "--no-pager"], check=False, capture=True).stdout
    raise ToolError(
        f"container {name} not ready after {timeout:.0f}s (systemd: {state}, eth0: {ip or 'no address'})",
        resolution=f"look inside: lxc exec {name} -- journalctl -b --no-pager",
        details=tail(jobs, 20),
    )


def exec_argv(
    name: str, argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: str | None = None
) -> list[str]:
    """The `lxc exec` command line: no pty, so stdout and stderr stay separate."""
    cmd = ["lxc", "exec", name, "--mode=non-interactive"]
    if cwd:
        cmd += ["--cwd", cwd]
    for key, value in sorted((env or {}).items()):
        cmd += ["--env", f"{key}={value}"]
    return [*cmd, "--", *argv]


def exec_(
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    capture: bool = False,
    stdin: str | bytes | None = None,
    cwd: str | None = None,
    timeout: float | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` in container `name`.

    Without `capture`, output streams to the terminal (long builds stay visible); with it,
    stdout/stderr come back as text. A non-zero exit raises ToolError when `check`.
    """
    data = stdin.encode() if isinstance(stdin, str) else stdin
    try:
        done = subprocess.run(
            exec_argv(name, argv, env=env, cwd=cwd),
            input=data,
            stdin=None if data is not None else subprocess.DEVNULL,
            capture_output=capture,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise ToolError(
            f"`{' '.join(argv)}` in container {name} timed out after {timeout}s",
            resolution=f"look inside: lxc exec {name} -- bash",
        ) from None
    out = (done.stdout or b"").decode(errors="replace")
    err = (done.stderr or b"").decode(errors="replace")
    if check and done.returncode != 0:
        raise ToolError(
            f"`{' '.join(argv)}` failed in container {name} (exit {done.returncode})",
            resolution=f"reproduce it with: lxc exec {name} -- {' '.join(argv)}",
            details=tail(err or out) if capture else "",
        )
    return subprocess.CompletedProcess(done.args, done.returncode, out, err)


def _pipe(producer: list[str], consumer: list[str], what: str) -> None:
    """producer | consumer; both must succeed. stderr goes to files: no pipe deadlock."""
    with tempfile.TemporaryFile() as err1, tempfile.TemporaryFile() as err2:
        first = subprocess.Popen(producer, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err1)
        assert first.stdout is not None
        second = subprocess.Popen(consumer, stdin=first.stdout, stderr=err2)
        first.stdout.close()  # so the producer sees SIGPIPE if the consumer dies
        codes = (first.wait(), second.wait())
        if codes != (0, 0):
            raise ToolError(
                f"{what} failed (exit codes {codes[0]} | {codes[1]})",
                resolution="check that both paths exist and the disk is not full",
                details=_readtail(err1) + "\n" + _readtail(err2),
            )


def _readtail(handle: IO[bytes]) -> str:
    handle.seek(0)
    return tail(handle.read().decode(errors="replace"), 15)


def tar_create(directory: str) -> list[str]:
    return ["tar", "-C", directory, "--numeric-owner", "-cf", "-", "."]


def tar_extract(directory: str) -> list[str]:
    return ["tar", "-C", directory, "--numeric-owner", "-xpf", "-"]


def push_tree(name: str, local_dir: Path, remote_dir: str) -> None:
    """Copy the contents of local_dir into remote_dir (created if needed), symlinks intact."""
    if not local_dir.is_dir():
        raise ToolError(f"cannot push {local_dir}: not a directory", resolution="pass an existing directory")
    # The remote dir is passed as $1, never spliced into the shell text.
    unpack = ["sh", "-c", 'mkdir -p "$1" && shift && exec "$@"', "sh", remote_dir, *tar_extract(remote_dir)]
    _pipe(tar_create(str(local_dir)), exec_argv(name, unpack), f"pushing {local_dir} to {name}:{remote_dir}")


def pull_tree(name: str, remote_dir: str, local_dir: Path) -> None:
    """Copy the contents of remote_dir into local_dir; unlike `lxc file pull -r`, relative
    symlinks stay relative."""
    local_dir.mkdir(parents=True, exist_ok=True)
    _pipe(
        exec_argv(name, tar_create(remote_dir)),
        tar_extract(str(local_dir)),
        f"pulling {name}:{remote_dir} to {local_dir}",
    )


def copy_tree_between(source: str, source_dir: str, target: str, target_dir: str) -> None:
    """Copy the contents of source:source_dir into target:target_dir (which must exist), one
    tar stream from container to container, symlinks and hard links intact."""
    _pipe(
        exec_argv(source, tar_create(source_dir)),
        exec_argv(target, tar_extract(target_dir)),
        f"copying {source}:{source_dir} to {target}:{target_dir}",
    )


def _remote(name: str, path: str) -> str:
    if not path.startswith("/"):
        raise ToolError(
            f"container path {path!r} is not absolute", resolution="pass an absolute path inside the container"
        )
    return f"{name}{path}"


def push_file(name: str, local: Path, remote: str, *, mode: int | None = None) -> None:
    """Copy one file into the container, creating parent directories."""
    args = ["file", "push", "--create-dirs", str(local), _remote(name, remote)]
    if mode is not None:
        args.insert(2, f"--mode={mode:04o}")
    lxc(*args)


def pull_file(name: str, remote: str, local: Path) -> None:
    """Copy one file out of the container."""
    local.parent.mkdir(parents=True, exist_ok=True)
    lxc("file", "pull", _remote(name, remote), str(local))


@contextmanager
def container(
    name: str, image_alias: str, *, nesting: bool = True, fuse: bool = True, keep: bool = False
) -> Iterator[str]:
    """Launch, wait until ready, yield the address; delete afterwards unless `keep`."""
    launch(name, image_alias, nesting=nesting, fuse=fuse)
    try:
        yield wait_ready(name)
    finally:
        if keep:
            say(f"keeping container {name} (lxc delete --force {name} when done)")
        else:
            delete(name)


USAGE = "usage: python -m snapbuild.machines.lxd ensure   (LXD running with its bridge; prints the bridge's address)"


def _command(args: list[str]) -> None:
    if args[:1] != ["ensure"]:
        raise cli.wrong_arguments(args)
    ensure_lxd()
    print(bridge_address())


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(_command, argv, usage=USAGE)


if __name__ == "__main__":
    raise SystemExit(main())
