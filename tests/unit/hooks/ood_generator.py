"""Upstream's portal generator for the hook tests, as the snap ships it.

OnDemand's ood-portal-generator (and mod_ood_proxy, whose directory marks OnDemand as
present) come from the offline source cache (`$ONDEMAND_SOURCE_CACHE`, else
`../shared/sources` beside the project), with the build's own substitutions applied by
the build's own `ood-substitute`. The gem directory holds dotenv built from its pinned
tree by the build's `gem-from-tree`; bcrypt, a C extension, is linked from the host's
Debian package (ruby-bcrypt) so no compiler is needed. The hooks then run it through the
snap's real `sbin/update_ood_portal` wrapper. Without Ruby or the cache the tests that
need it skip, saying why.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BUILD_TOOLS = ROOT / "snap" / "local" / "ondemand-build-tools" / "build-tools"
APPS = ROOT / "snap" / "local" / "apps"
ONDEMAND = "ondemand-4.2.3"
DOTENV = "dotenv-2.7.5"
# What the tests need of OnDemand's tree (the substitutions table names files in all of these).
MEMBERS = ("ood-portal-generator", "mod_ood_proxy", "nginx_stage", "apps/shell/app.js", "apps/shell/utils/helpers.js")


def source_cache() -> Path:
    return Path(os.environ.get("ONDEMAND_SOURCE_CACHE") or ROOT.parent / "shared" / "sources")


def _extract(archive: Path, into: Path, prefix: str, members: tuple[str, ...] | None = None) -> Path:
    with tarfile.open(archive) as tar:
        wanted = [
            m for m in tar.getmembers()
            if members is None or any(m.name == f"{prefix}/{x}" or m.name.startswith(f"{prefix}/{x}/") for x in members)
        ]  # fmt: skip
        tar.extractall(into, members=wanted, filter="tar")
    return into / prefix


@functools.cache
def generator_tree() -> tuple[Path | None, str]:
    """(directory with `ood/` and `gems/`, "") or (None, why it cannot be made)."""
    cache = source_cache()
    ruby = shutil.which("ruby")
    if ruby is None:
        return None, "ruby is not installed (apt-get install ruby ruby-bcrypt)"
    for name in (ONDEMAND, DOTENV):
        if not (cache / f"{name}.tar.gz").is_file():
            return None, f"{cache}/{name}.tar.gz is missing (the offline source cache; set $ONDEMAND_SOURCE_CACHE)"
    found = subprocess.run(
        [ruby, "-e", 's = Gem::Specification.find_by_name("bcrypt"); puts s.base_dir, s.full_name, s.extension_dir'],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if found.returncode != 0:
        return None, "the bcrypt gem is not installed for the host's Ruby (apt-get install ruby-bcrypt)"
    base, full_name, extension_dir = found.stdout.split()
    work = Path(tempfile.mkdtemp(prefix="ood-generator-"))
    atexit.register(shutil.rmtree, work, True)
    os.chmod(work, 0o755)  # a live Apache's workers (the portal user) read mod_ood_proxy's Lua
    ood = _extract(cache / f"{ONDEMAND}.tar.gz", work, ONDEMAND, MEMBERS)
    subprocess.run(["sh", str(BUILD_TOOLS / "ood-substitute"), str(ood)], check=True, capture_output=True)
    gems = work / "gems"
    dotenv = _extract(cache / f"{DOTENV}.tar.gz", work, DOTENV)
    subprocess.run(
        [ruby, str(BUILD_TOOLS / "gem-from-tree"), str(dotenv), "dotenv.gemspec", str(gems)],
        check=True, capture_output=True, cwd=dotenv,
    )  # fmt: skip
    for sub, target in (
        (f"specifications/{full_name}.gemspec", Path(base) / "specifications" / f"{full_name}.gemspec"),
        (f"gems/{full_name}", Path(base) / "gems" / full_name),
        (str(Path(extension_dir).relative_to(base)), Path(extension_dir)),
    ):
        link = gems / sub
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target)
    return work, ""


SNAP_COMMON = "/var/snap/ondemand/common"


def add_ondemand(snap: Path, common: Path) -> None:
    """Put upstream's generator, mod_ood_proxy and the snap's wrapper into a fake $SNAP.

    The build's substitutions name the real $SNAP_COMMON; the fake snap's is `common`, so
    the generator's copy here says that instead (as the build would for that path).
    """
    work, why = generator_tree()
    if work is None:
        pytest.skip(f"upstream's portal generator cannot run here: {why}")
    opt = snap / "opt" / "ood"
    opt.mkdir(parents=True, exist_ok=True)
    (opt / "mod_ood_proxy").symlink_to(work / ONDEMAND / "mod_ood_proxy")
    generator = opt / "ood-portal-generator"
    shutil.copytree(work / ONDEMAND / "ood-portal-generator", generator, symlinks=True)
    for template in (generator / "templates").iterdir():
        template.write_text(template.read_text().replace(SNAP_COMMON, str(common)))
    (opt / "gems").symlink_to(work / "gems")
    for relative in ("sbin/update_ood_portal", "lib/snapenv.sh"):
        target = snap / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(APPS / relative, target)
