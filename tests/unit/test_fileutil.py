"""snapbuild.fileutil: atomic writes (a crash or bad input never leaves half a file) and hashing."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from snapbuild import fileutil


def test_a_write_creates_parents_sets_the_mode_and_says_it_changed(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "file.txt"
    assert fileutil.write_atomic(path, "text\n", mode=0o600) is True
    assert path.read_text() == "text\n" and path.stat().st_mode & 0o777 == 0o600
    assert fileutil.write_atomic(path, b"bytes") is True and path.read_bytes() == b"bytes"


def test_the_same_content_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "file.txt"
    fileutil.write_atomic(path, "same")
    os.utime(path, (1, 1))
    assert fileutil.write_atomic(path, "same") is False
    assert path.stat().st_mtime == 1


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "file.txt"
    fileutil.write_atomic(path, "old")

    def fails(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(fileutil.os, "replace", fails)
    with pytest.raises(OSError, match="disk full"):
        fileutil.write_atomic(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.txt"]


def test_sha256_file_reads_in_chunks(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 5)  # more than one chunk
    path = tmp_path / "big"
    path.write_bytes(data)
    assert fileutil.sha256_file(path) == hashlib.sha256(data).hexdigest()
