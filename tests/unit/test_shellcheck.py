"""Every shell script in the repository passes shellcheck (settings: .shellcheckrc)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHEBANG = re.compile(rb"^#!\S*(/|env )(ba)?sh\b")


def shell_scripts() -> list[Path]:
    """The tracked files with a sh/bash shebang, and the sourced *.sh / *.bash files."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    found = []
    for name in sorted(filter(None, listed.decode().split("\0"))):
        path = ROOT / name
        if not path.is_file() or path.is_symlink():
            continue
        if path.suffix in {".sh", ".bash"}:
            found.append(path)
            continue
        with path.open("rb") as handle:
            if SHEBANG.match(handle.readline()):
                found.append(path)
    return found


def test_the_scripts_are_found() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in shell_scripts()}
    assert {
        "tests/checks/lib.sh",
        "tests/checks/configure.bash",
        "snap/hooks/configure",
        "snap/local/apps/bin/apache-foreground",
        "snap/local/apps/lib/snapenv.sh",
    } <= names
    assert not any(name.endswith((".py", ".tsv")) for name in names)


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck is not installed")
def test_shellcheck_is_clean() -> None:
    scripts = [str(p.relative_to(ROOT)) for p in shell_scripts()]
    done = subprocess.run(
        ["shellcheck", "-x", "-f", "gcc", *scripts], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
