"""Test support: a fake snap environment in temporary directories, and FakeSnapctl."""

from __future__ import annotations

import copy
import grp
import hashlib
import os
import pwd
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ood_generator
import pytest

from ondemand_hooks import hooks, log, sudoers
from ondemand_hooks.env import Paths
from ondemand_hooks.errors import HookError
from ondemand_hooks.snapctl import ServiceStatus

REAL_APACHE = Path("/usr/sbin/apache2")
REAL_MODULES = Path("/usr/lib/apache2/modules")


class FakeSnapctl:
    """snapd's configuration store and service control, in memory.

    Values are kept as snapd keeps them (nested JSON); `set` takes dotted keys like
    `snap set` and parses values as JSON when they are valid JSON, else keeps strings.
    """

    def __init__(self, config: dict[str, Any] | None = None, apache_enabled: bool = True) -> None:
        self.config: dict[str, Any] = copy.deepcopy(config or {})
        self.restarts: list[tuple[str, ...]] = []
        self.apache_enabled = apache_enabled
        self.fail_restart = False

    # -- the SnapctlLike interface --
    def get(self, *keys: str) -> dict[str, Any]:
        if not keys:
            # Real snapctl refuses a bare `get` ("get which option?"); so must the double.
            raise AssertionError("snapctl get needs at least one key (real snapd refuses a bare get)")
        out: dict[str, Any] = {}
        for key in keys:
            node: Any = self.config
            for part in key.split("."):
                if not isinstance(node, dict) or part not in node:
                    break
                node = node[part]
            else:
                out[key] = copy.deepcopy(node)
        return out

    def set(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            parts = key.split(".")
            node = self.config
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = value

    def unset(self, *keys: str) -> None:
        for key in keys:
            parts = key.split(".")
            node: Any = self.config
            for part in parts[:-1]:
                node = node.get(part, {})
            if isinstance(node, dict):
                node.pop(parts[-1], None)

    def restart(self, *services: str) -> None:
        if self.fail_restart:
            raise HookError("snapctl restart failed (fake)")
        self.restarts.append(services)

    def services(self, *services: str) -> list[ServiceStatus]:
        return [ServiceStatus(s, self.apache_enabled, self.apache_enabled) for s in services]

    # -- test helpers --
    def snap_set(self, **dotted: Any) -> None:
        """`snap set ondemand a.b=...`, with Python keyword names: a__b_c -> a.b-c."""
        self.set({k.replace("__", ".").replace("_", "-"): v for k, v in dotted.items()})


@dataclass
class SnapEnv:
    root: Path
    paths: Paths
    snapctl: FakeSnapctl
    sudo: sudoers.Sudo | None = None

    def ctx(self, runner: Callable[..., Any] | None = None) -> hooks.Context:
        return hooks.Context(
            paths=self.paths,
            snapctl=self.snapctl,
            runner=runner or subprocess.run,
            now=lambda: 1_700_000_000.0,
            sudo=self.sudo,
        )

    def set(self, values: dict[str, Any]) -> None:
        self.snapctl.set(values)

    def configure(self) -> hooks.Applied:
        return hooks.configure(self.ctx())


def make_paths(root: Path, **overrides: Any) -> Paths:
    snap = root / "snap"
    for sub in (snap / "bin", snap / "sbin", root / "common", root / "data", root / "etc-sudoers.d"):
        sub.mkdir(parents=True, exist_ok=True)
    return Paths(
        snap=snap,
        snap_common=root / "common",
        snap_data=root / "data",
        revision="x1",
        name="ondemand",
        sudoers_file=root / "etc-sudoers.d" / "snap-ondemand",
        **overrides,
    )


@pytest.fixture(autouse=True)
def _quiet_logging() -> Any:
    log.setup("test", None)
    yield
    log.close()


def host_sudo_or_stub() -> sudoers.Sudo:
    """The host's visudo; without one, /bin/true so tests about other things still run
    (the sudoers tests themselves use `sudo_host`, which skips visibly)."""
    return sudoers.detect() or sudoers.Sudo("sudo", Path("/bin/true"))


def installed(root: Path, ondemand: bool = False, **overrides: Any) -> SnapEnv:
    paths = make_paths(root, **overrides)
    if ondemand:
        ood_generator.add_ondemand(paths.snap, paths.snap_common)
    e = SnapEnv(root, paths, FakeSnapctl(), sudo=host_sudo_or_stub())
    hooks.install(e.ctx())
    return e


def portal_account() -> tuple[str, str]:
    """snap_daemon where it exists (a snap host), else nobody/nogroup: Apache resolves User."""
    for user, group in (("snap_daemon", "snap_daemon"), ("nobody", "nogroup"), ("nobody", "nobody")):
        try:
            pwd.getpwnam(user)
            grp.getgrnam(group)
        except KeyError:
            continue
        return user, group
    pytest.skip("no snap_daemon or nobody account to run Apache as")


def real_env(root: Path, ondemand: bool = True) -> SnapEnv:
    """An installed snap whose hooks check with the host's Apache (Debian's apache2 and its
    modules), so their `httpd -t` is a real one."""
    user, group = portal_account()
    return installed(
        root,
        ondemand=ondemand,
        apache_modules_dir=REAL_MODULES,
        httpd_bin=REAL_APACHE,
        portal_user=user,
        portal_group=group,
    )


def apache_t(env: SnapEnv) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REAL_APACHE), "-t", "-f", str(env.paths.httpd_conf)], capture_output=True, text=True)


@pytest.fixture
def env(tmp_path: Path) -> SnapEnv:
    """An installed snap (install hook run) with nothing configured: OnDemand's generator
    and mod_ood_proxy in it, as in every build the project makes."""
    return installed(tmp_path, ondemand=True)


@pytest.fixture
def env_od(env: SnapEnv) -> SnapEnv:
    """The same as `env` (kept for the tests that are about OnDemand's routes)."""
    return env


@pytest.fixture
def env_without_ondemand(tmp_path: Path) -> SnapEnv:
    """A build without OnDemand (its parts left out): no generator, no vhost."""
    return installed(tmp_path)


def snapshot(root: Path) -> dict[str, tuple[int, str]]:
    """Every file and directory under root (but the hook log) with its mode and content hash."""
    out: dict[str, tuple[int, str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(root))
            if rel.endswith("var/log/hooks.log"):
                continue
            st = path.lstat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            out[rel] = (st.st_mode, digest)
    return out


def make_cert(directory: Path, name: str = "cert") -> tuple[Path, Path]:
    """A self-signed certificate and key (openssl), or a skip."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed")
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=ondemand.example.edu"],
        check=True, capture_output=True,
    )  # fmt: skip
    os.chmod(key, 0o600)
    return cert, key


@pytest.fixture(scope="session")
def sudo_host() -> sudoers.Sudo:
    found = sudoers.detect()
    if found is None:
        pytest.skip("visudo is not installed on this host (apt-get install sudo)")
    return found
