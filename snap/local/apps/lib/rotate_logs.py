"""Rotate logs under a directory like upstream's logrotate rule: copytruncate, compress,
skip empty files, keep a fixed number of old copies. Runs with the snap's Python."""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

KEEP = 7
PATTERNS = ("apache2/*.log", "ondemand-nginx/*/access.log", "ondemand-nginx/*/error.log")


def rotate(log: Path, keep: int = KEEP) -> bool:
    """Rotate one log; return whether it was rotated (empty logs are left alone)."""
    if log.stat().st_size == 0:
        return False
    for number in range(keep - 1, 0, -1):
        older = log.with_name(f"{log.name}.{number}.gz")
        if older.exists():
            older.replace(log.with_name(f"{log.name}.{number + 1}.gz"))
    # Copy then truncate: the writer keeps its open descriptor (no reload needed).
    with log.open("rb") as source, gzip.open(log.with_name(f"{log.name}.1.gz"), "wb") as target:
        shutil.copyfileobj(source, target)
    with log.open("r+b") as handle:
        handle.truncate(0)
    return True


def main(root: str) -> int:
    rotated = [log for pattern in PATTERNS for log in sorted(Path(root).glob(pattern)) if rotate(log)]
    print(f"logrotate: rotated {len(rotated)} log(s) under {root}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
