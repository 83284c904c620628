"""Built snaps for the tooling's tests: prime dirs packed with mksquashfs (what `snap pack`
uses), and the build-info fixture: a prime dir shaped like the real snap's Ruby, Python and
Apache (their programs are shell scripts printing what the Debian 12 builds print), with a work
dir holding craft-parts' pull state for those parts (the format craft-parts writes, `!!set` and
all)."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from snapbuild.build import buildfacts
from snapbuild.build.lifecycle import make_plan
from snapbuild.build.pack import build_info
from snapbuild.recipe.generate import snap_version
from snapbuild.recipe.project import DEFAULT
from snapbuild.recipe.userland import Distribution

MKSQUASHFS = shutil.which("mksquashfs")


needs_squashfs = pytest.mark.skipif(not (MKSQUASHFS and shutil.which("unsquashfs")), reason="needs squashfs-tools")


def pack(prime: Path, target: Path) -> Path:
    subprocess.run(
        [MKSQUASHFS, str(prime), str(target), "-noappend", "-all-root", "-no-progress", "-quiet"],
        check=True,
        capture_output=True,
    )
    return target


def write(path: Path, text: str | bytes, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    path.chmod(mode)
    return path


def snap_yaml_for(metadata: dict, version: str = "4.2.3", arch: str = "amd64") -> dict:
    data = {k: v for k, v in metadata.items() if k not in ("platforms",)}
    data.update(version=version, architectures=[arch], hooks={h: {} for h in metadata.get("hooks") or {}})
    return data


def good_prime(prime: Path, metadata: dict) -> None:
    """A prime dir whose meta matches the project's metadata, with every command present."""
    write(prime / "meta" / "snap.yaml", yaml.safe_dump(snap_yaml_for(metadata)))
    for hook in metadata.get("hooks") or {}:
        write(prime / "meta" / "hooks" / hook, "#!/bin/sh\n", 0o755)
    for app in (metadata.get("apps") or {}).values():
        write(prime / app["command"].split()[0], "#!/bin/sh\n", 0o755)


def make_snap(tmp_path: Path) -> Path:
    prime = tmp_path / "prime"
    (prime / "meta").mkdir(parents=True)
    (prime / "meta" / "snap.yaml").write_text("name: ondemand\nversion: '4.2.3'\n")
    (prime / "bin").mkdir()
    for name, mode in (("ok", 0o755), ("setuid", 0o4755), ("setgid", 0o2755)):
        (prime / "bin" / name).write_text("#!/bin/sh\n")
        (prime / "bin" / name).chmod(mode)
    (prime / "share").mkdir()
    (prime / "share" / "open").write_text("x" * 100)
    (prime / "share" / "open").chmod(0o666)
    snap = tmp_path / "ondemand_4.2.3_amd64.snap"
    subprocess.run(
        ["mksquashfs", str(prime), str(snap), "-noappend", "-all-root", "-no-progress", "-quiet"],
        check=True,
        capture_output=True,
    )
    return snap


# --- build-info ---------------------------------------------------------------------------------------


BOOKWORM = Distribution("debian", "12", "bookworm")


# Everything but the three stacks (and wrappers, which they build `after`).
ONLY_STACKS = frozenset(set(DEFAULT.load_parts()[0]) - {"apache", "python", "ruby", "wrappers"})


STACKS_TRIPLET = "x86_64-linux-gnu"


STAGED = {
    "apache": ["apache2-bin=2.4.71-1~deb12u1", "libapr1=1.7.2-3+deb12u1", "libssl3=3.0.22-1~deb12u2"],
    "python": ["python3=3.11.2-1+b1", "python3.11=3.11.2-6+deb12u9", "libssl3=3.0.22-1~deb12u2"],
    "ruby": [
        "ruby3.1=3.1.7+really3.1.2-0+deb12u1",
        "bundler=2.3.15-2+deb12u1",
        "libruby3.1=3.1.7+really3.1.2-0+deb12u1",
    ],
}


# Each package's doc changelog head, as the Debian 12 packages ship it.
CHANGELOGS = {
    "apache2-bin": "apache2 (2.4.71-1~deb12u1) bookworm-security; urgency=medium",
    "libapr1": "apr (1.7.2-3+deb12u1) bookworm; urgency=medium",
    "libssl3": "openssl (3.0.22-1~deb12u2) bookworm-security; urgency=medium",
    "python3": "python3-defaults (3.11.2-1) unstable; urgency=medium",  # a binNMU (+b1) without an arch changelog
    "python3.11": "python3.11 (3.11.2-6+deb12u9) bookworm-security; urgency=medium",
    "ruby3.1": "ruby3.1 (3.1.7+really3.1.2-0+deb12u1) bookworm-security; urgency=medium",
    "libruby3.1": "ruby3.1 (3.1.7+really3.1.2-0+deb12u1) bookworm-security; urgency=medium",
    "bundler": "rubygems (3.3.15-2+deb12u1) bookworm; urgency=medium",  # a binary with its own upstream version
}


SUITES = {
    "apache2-bin": ["bookworm-security"],
    "libapr1": ["bookworm"],
    "libssl3": ["bookworm-security"],
    "python3": ["bookworm"],
    "python3.11": ["bookworm-security"],
    "ruby3.1": ["bookworm-security"],
    "bundler": ["bookworm"],
    "libruby3.1": ["bookworm-security"],
}


def script(output: str) -> str:
    return f"#!/bin/sh\necho '{output}'\n"


def stacks_prime(prime: Path) -> None:
    good_prime(prime, DEFAULT.load_metadata())
    # The version a build without OnDemand carries (check --snap compares it with build-info's left-out).
    meta = prime / "meta" / "snap.yaml"
    data = yaml.safe_load(meta.read_text())
    data["version"] = snap_version(DEFAULT.load_parts()[0], "archive", ONLY_STACKS)
    meta.write_text(yaml.safe_dump(data))
    (prime / "usr" / "lib" / "python3.11" / "encodings").mkdir(parents=True)
    write(prime / "usr" / "bin" / "python3.11", script("Python 3.11.2"), 0o755)
    (prime / "usr" / "lib" / "ruby" / "3.1.0").mkdir(parents=True)
    write(prime / "usr" / "lib" / STACKS_TRIPLET / "libruby-3.1.so.3.1.2", "not really ELF")
    write(
        prime / "usr" / "bin" / "ruby",
        script("ruby 3.1.2p20 (2022-04-12 revision 4491bb740a) [x86_64-linux-gnu]"),
        0o755,
    )
    write(prime / "usr" / "sbin" / "apache2", script("Server version: Apache/2.4.71 (Debian)"), 0o755)
    for package, head in CHANGELOGS.items():
        write(
            prime / "usr" / "share" / "doc" / package / "changelog.Debian.gz",
            gzip.compress(f"{head}\n\n  * x\n".encode()),
        )


def craft_parts_state(work: Path) -> None:
    """<work>/parts/<part>/state/pull as craft-parts writes it."""
    for part, packages in STAGED.items():
        state = {
            "assets": {"source-details": None, "stage-packages": packages, "stage-snaps": None},
            "directories": set(),
            "files": set(),
            "part_properties": {"plugin": "nil"},
        }
        write(work / "parts" / part / "state" / "pull", yaml.dump(state))
    write(
        work / "parts" / "wrappers" / "state" / "pull", yaml.dump({"assets": {"stage-packages": None}, "files": set()})
    )


@pytest.fixture
def built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict]:
    """A prime dir and the build-info pack.build_info writes for it (apt's suites faked)."""
    monkeypatch.setattr(buildfacts, "archive_suites", lambda packages: {p: SUITES.get(p, []) for p in packages})
    prime, work = tmp_path / "prime", tmp_path / "work"
    stacks_prime(prime)
    craft_parts_state(work)
    plan = make_plan(DEFAULT, "archive", ONLY_STACKS, host=BOOKWORM)
    return prime, build_info(plan, prime, "core24", work)


def snap_with(prime: Path, info: dict, target: Path) -> Path:
    write(prime / "meta" / "build-info.yaml", yaml.safe_dump(info))
    return pack(prime, target)


def _edit(info: dict, change: str) -> dict:
    edited = yaml.safe_load(yaml.safe_dump(info))
    parts = edited["parts"]
    if change == "python-3.12":
        parts["python"]["version"] = "3.12"
    elif change == "ruby-3.2":
        parts["ruby"]["version"] = "3.2"
    elif change == "apache2-bin-version":
        parts["apache"]["stage-packages"]["apache2-bin"] = "2.4.58-1ubuntu8"
    elif change == "apache-version":
        parts["apache"]["version"] = "2.4.58"
    elif change == "package-left-out":
        del parts["apache"]["stage-packages"]["libapr1"]
    elif change == "base":
        edited["base"] = "core22"
    elif change == "base-userland":
        edited["base-userland"] = "Debian 12 (bookworm)"
    elif change == "no-userland":
        del edited["userland"]
    return edited
