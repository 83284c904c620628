"""The sudoers rule: the portal user may run exactly the snap's nginx_stage as root.

Written to a temp file in /etc/sudoers.d, checked with `visudo -c -f`, then renamed into
place: a broken sudoers file can lock every admin out of sudo, so nothing unchecked is
ever installed. Hosts using sudo-rs get the sudo-rs flavour of the Defaults line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import fsutil
from .env import Paths
from .errors import HookError, InternalError
from .log import log

SYSTEM_DIRS = ("/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin")
SUDO_RS_DIRS = ("/usr/lib/cargo/bin",)

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass(frozen=True)
class Sudo:
    flavour: str  # "sudo" or "sudo-rs"
    visudo: Path


def _which(name: str, dirs: tuple[str, ...]) -> Path | None:
    found = shutil.which(name, path=os.pathsep.join(dirs))
    return Path(found) if found else None


def detect(runner: Runner = subprocess.run, dirs: tuple[str, ...] = SYSTEM_DIRS) -> Sudo | None:
    """Which sudo the host runs and the visudo that checks its files; None if no visudo."""
    flavour = "sudo"
    sudo = _which("sudo", dirs)
    if sudo is not None:
        with contextlib.suppress(OSError, subprocess.TimeoutExpired):
            done = runner([str(sudo), "--version"], capture_output=True, text=True, timeout=30, check=False)
            if "sudo-rs" in (done.stdout + done.stderr).lower():
                flavour = "sudo-rs"
    if flavour == "sudo-rs":
        candidates = [_which("visudo", SUDO_RS_DIRS), _which("visudo-rs", dirs), _which("visudo", dirs)]
    else:
        candidates = [_which("visudo", dirs)]
        if candidates[0] is None:  # only sudo-rs's visudo around: use it, with its flavour
            rs = _which("visudo-rs", dirs) or _which("visudo", SUDO_RS_DIRS)
            if rs is not None:
                return Sudo("sudo-rs", rs)
    for candidate in candidates:
        if candidate is not None:
            return Sudo(flavour, candidate)
    return None


def render(paths: Paths, flavour: str) -> str:
    user = paths.portal_user
    lines = [
        f"# Installed by the {paths.name} snap; removed with it. Do not edit: refreshes rewrite it.",
        f"# {user} (the portal's Apache) may run exactly the snap's nginx_stage as root, which",
        "# starts and stops each user's nginx under that user's uid.",
    ]
    if flavour == "sudo-rs":
        lines.append(f"Defaults:{user} !use_pty")
    else:
        lines.append(f"Defaults:{user} !requiretty")
    lines.append(f'Defaults:{user} env_keep += "NGINX_STAGE_* OOD_*"')
    lines.append(f"{user} ALL=(root) NOPASSWD: {paths.nginx_stage_stable}")
    return "\n".join(lines) + "\n"


def install(paths: Paths, runner: Runner = subprocess.run, sudo: Sudo | None = None) -> bool:
    """Install or update the rule; True if the file changed. Raises HookError if it cannot be checked."""
    sudo = sudo or detect(runner)
    if sudo is None:
        raise HookError(
            "cannot install the sudoers rule: no visudo on this host to check it with",
            resolution="install sudo (or sudo-rs) and retry; Open OnDemand needs it to start per-user nginx",
        )
    target = paths.sudoers
    content = render(paths, sudo.flavour).encode()
    if fsutil.read_or_none(target) == content and (target.stat().st_mode & 0o7777) == 0o440:
        log.debug("%s: up to date", target)
        return False
    directory = target.parent
    if not directory.is_dir():
        raise HookError(
            f"cannot install the sudoers rule: {directory} does not exist", resolution="install sudo and retry"
        )
    # A dot in the name: sudo never reads it from sudoers.d even if we die before the rename.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    tmp = Path(tmp_name)
    try:
        os.fchmod(fd, 0o440)
        if os.geteuid() == 0:
            os.fchown(fd, 0, 0)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            done = runner(
                [str(sudo.visudo), "-c", "-f", str(tmp)], capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise HookError(f"cannot check the sudoers rule: {sudo.visudo} failed to run ({error})") from None
        if done.returncode != 0:
            detail = " ".join((done.stderr + done.stdout).split())
            raise InternalError(
                f"{sudo.visudo} -c rejected the sudoers rule the snap rendered; not installed: {detail}"
            )
        os.replace(tmp, target)
        fsutil.fsync_dir(directory)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    log.info("%s: sudoers rule installed (checked with %s)", target, sudo.visudo)
    return True


def remove(paths: Paths) -> bool:
    try:
        paths.sudoers.unlink()
    except FileNotFoundError:
        return False
    log.info("%s: sudoers rule removed", paths.sudoers)
    return True
