"""An offline source cache: source archives that stand in for unreachable upstream sources.

Air-gapped HPC sites (and this project's own machines) keep a directory of source archives
with a `SHA256SUMS` file. A part file names, per upstream source, the cache file that may
stand in for it (`upstream.source.cache`: file, sha256, and the repository + commit whose
tree it holds). The pin in the part file is what is trusted: a cache file is used only
when its bytes hash to that pin, and the cache's own SHA256SUMS must agree with it too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from snapbuild.errors import ToolError
from snapbuild.fileutil import sha256_file
from snapbuild.recipe.partfile import CacheEntry

SUMS_FILE = "SHA256SUMS"
# CI and air-gapped sites can name the cache once instead of on every command line.
ENV_CACHE = "ONDEMAND_SOURCE_CACHE"


def parse_sums(text: str) -> dict[str, str]:
    """`sha256sum` output (`HEX  NAME` or `HEX *NAME`) as name -> lower-case hex."""
    sums = {}
    for line in text.splitlines():
        fields = line.strip().split(None, 1)
        if len(fields) == 2 and not line.lstrip().startswith("#"):
            sums[fields[1].lstrip("*").strip()] = fields[0].lower()
    return sums


@dataclass(frozen=True)
class SourceCache:
    """A cache directory and the checksums its SHA256SUMS lists."""

    root: Path
    sums: dict[str, str]

    def has(self, entry: CacheEntry) -> bool:
        return (self.root / entry.file).is_file()

    def verified_path(self, part: str, entry: CacheEntry) -> Path:
        """The cache file for `entry`, after checking its bytes against the part file's pin."""
        path = self.root / entry.file
        if not path.is_file():
            raise ToolError(
                f"part {part}: the source cache {self.root} has no {entry.file}",
                resolution=f"add {entry.file} ({entry.describe()}) to the cache, or build without --source-cache",
            )
        listed = self.sums.get(entry.file)
        if listed is not None and listed != entry.sha256:
            raise ToolError(
                f"part {part}: {self.root / SUMS_FILE} lists {entry.file} with sha256 {listed}, "
                f"but parts/{part}.yaml pins {entry.sha256}; nothing was built",
                resolution=(
                    "the cache holds a different file than the part file names: replace the file with the pinned "
                    f"one, or (after checking its provenance) update upstream.source.cache.sha256 in parts/{part}.yaml"
                ),
            )
        actual = sha256_file(path)
        if actual != entry.sha256:
            raise ToolError(
                f"part {part}: cache file {path} does not match its pin; nothing was built",
                resolution=(
                    "the file is damaged or not the pinned one: restore it from the cache's origin "
                    f"(it is the tree of {entry.repository} at {entry.commit})"
                ),
                details=f"expected sha256 {entry.sha256}\nactual   sha256 {actual}",
            )
        return path


def open_cache(directory: Path) -> SourceCache:
    """Load a cache directory; refuse one that does not exist or has no SHA256SUMS."""
    root = directory.expanduser().resolve()
    if not root.is_dir():
        raise ToolError(
            f"--source-cache {directory}: no such directory",
            resolution=f"point --source-cache (or ${ENV_CACHE}) at a directory of source archives with a {SUMS_FILE}",
        )
    sums_path = root / SUMS_FILE
    if not sums_path.is_file():
        raise ToolError(
            f"--source-cache {directory}: no {SUMS_FILE} in it",
            resolution=(
                f"write one with `sha256sum *.tar.gz > {SUMS_FILE}` in the cache, after checking each file's provenance"
            ),
        )
    return SourceCache(root, parse_sums(sums_path.read_text()))


def cache_from(option: str, environ: dict[str, str] | None = None) -> SourceCache | None:
    """The cache named on the command line, else by $ONDEMAND_SOURCE_CACHE, else none."""
    env = os.environ if environ is None else environ
    chosen = option or env.get(ENV_CACHE, "")
    return open_cache(Path(chosen)) if chosen else None
