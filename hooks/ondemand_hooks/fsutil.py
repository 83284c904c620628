"""Careful file writes: a temp file in the same directory, fsync, rename, fsync the directory."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

from .env import Dir


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_or_none(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _chown(path: Path | int, uid: int, gid: int) -> None:
    # Only root can give files away; unprivileged runs (developer machines) keep their owner.
    if os.geteuid() == 0:
        if isinstance(path, int):
            os.fchown(path, uid, gid)
        else:
            os.chown(path, uid, gid, follow_symlinks=False)


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
    """Replace `path` with `data` so readers see the old or the new file, never a mix.

    The temp file's name starts with a dot and contains one, so neither Apache (exact
    Include paths) nor sudo (skips dotted names in sudoers.d) ever picks it up.
    """
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, mode)
        _chown(fd, uid, gid)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)


def write_if_changed(path: Path, data: bytes, mode: int = 0o644) -> bool:
    """Atomic write unless the file already holds exactly `data` with `mode`; True if written."""
    current = read_or_none(path)
    if current == data and (path.stat().st_mode & 0o7777) == mode:
        return False
    atomic_write(path, data, mode)
    return True


def ensure_dir(spec: Dir) -> bool:
    """Create the directory (or fix its mode/owner); True if anything changed."""
    changed = False
    path = spec.path
    if path.is_symlink():
        # A symlink where a root-owned directory belongs could redirect root's writes.
        raise OSError(f"{path} is a symlink; expected a directory")
    if not path.is_dir():
        path.mkdir(mode=spec.mode)
        changed = True
    st = path.stat()
    if (st.st_mode & 0o7777) != spec.mode:
        os.chmod(path, spec.mode)
        changed = True
    if os.geteuid() == 0 and (st.st_uid, st.st_gid) != (spec.uid, spec.gid):
        _chown(path, spec.uid, spec.gid)
        changed = True
    return changed


def ensure_file_mode(path: Path, mode: int) -> None:
    """Create an empty file with `mode` if missing, else enforce the mode (and root owner)."""
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, mode)
        os.close(fd)
    os.chmod(path, mode)
    _chown(path, 0, 0)
