"""Finding and stopping the snap's nginx processes without nginx_stage (a /proc scan)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from .log import log


def _exe(pid: int, proc: Path) -> str | None:
    try:
        target = os.readlink(proc / str(pid) / "exe")
    except OSError:  # gone, kernel thread, or not ours to see
        return None
    return target.removesuffix(" (deleted)")


def find(roots: Iterable[Path], names: tuple[str, ...] = ("nginx",), proc: Path = Path("/proc")) -> list[int]:
    """Pids whose executable lives under one of `roots` and is named like one of `names`."""
    prefixes = sorted({str(r).rstrip("/") + "/" for r in roots})
    me = os.getpid()
    found = []
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if pid == me:
            continue
        exe = _exe(pid, proc)
        if exe is None or not any(exe.startswith(p) for p in prefixes):
            continue
        if any(os.path.basename(exe).startswith(n) for n in names):
            found.append(pid)
    return sorted(found)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes (its parent reaps it).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def stop(pids: list[int], grace: float = 10.0) -> list[int]:
    """SIGTERM, wait up to `grace` seconds, SIGKILL what is left; returns pids killed hard."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        except PermissionError as error:
            log.warning("cannot signal pid %d: %s", pid, error)
    deadline = time.monotonic() + grace
    remaining = [p for p in pids if _alive(p)]
    while remaining and time.monotonic() < deadline:
        time.sleep(0.1)
        remaining = [p for p in remaining if _alive(p)]
    for pid in remaining:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return remaining
