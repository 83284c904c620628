"""meta/build-info.yaml says what was built, and `invoke check --snap` fails when it does not.

The fixtures are a small prime dir shaped like the real snap's Ruby, Python and Apache (their
programs are shell scripts printing what the Debian 12 builds print), a work dir holding
craft-parts' pull state for those parts (the format craft-parts writes, `!!set` and all), and
snaps packed from them with mksquashfs as tests/unit/test_snapcheck.py does.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from snapbuild.build import buildfacts
from snapbuild.build.lifecycle import make_plan
from snapbuild.build.pack import build_info
from snapbuild.errors import ToolError
from snapbuild.recipe.generate import snap_version
from snapbuild.recipe.project import DEFAULT
from snapbuild.recipe.userland import Distribution
from snapbuild.review import audit, snapcheck
from tests.unit.test_snapcheck import good_prime, needs_squashfs, pack, write

BOOKWORM = Distribution("debian", "12", "bookworm")
# Everything but the three stacks (and wrappers, which they build `after`).
ONLY_STACKS = frozenset(set(DEFAULT.load_parts()[0]) - {"apache", "python", "ruby", "wrappers"})
TRIPLET = "x86_64-linux-gnu"

STAGED = {
    "apache": ["apache2-bin=2.4.71-1~deb12u1", "libapr1=1.7.2-3+deb12u1", "libssl3=3.0.22-1~deb12u2"],
    "python": ["python3=3.11.2-1+b1", "python3.11=3.11.2-6+deb12u9", "libssl3=3.0.22-1~deb12u2"],
    "ruby": ["ruby3.1=3.1.7+really3.1.2-0+deb12u1", "bundler=2.3.15-2+deb12u1", "libruby3.1=3.1.7+really3.1.2-0+deb12u1"],
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
SUITES = {"apache2-bin": ["bookworm-security"], "libapr1": ["bookworm"], "libssl3": ["bookworm-security"],
          "python3": ["bookworm"], "python3.11": ["bookworm-security"], "ruby3.1": ["bookworm-security"],
          "bundler": ["bookworm"], "libruby3.1": ["bookworm-security"]}


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
    write(prime / "usr" / "lib" / TRIPLET / "libruby-3.1.so.3.1.2", "not really ELF")
    write(prime / "usr" / "bin" / "ruby", script("ruby 3.1.2p20 (2022-04-12 revision 4491bb740a) [x86_64-linux-gnu]"), 0o755)
    write(prime / "usr" / "sbin" / "apache2", script("Server version: Apache/2.4.71 (Debian)"), 0o755)
    for package, head in CHANGELOGS.items():
        write(prime / "usr" / "share" / "doc" / package / "changelog.Debian.gz", gzip.compress(f"{head}\n\n  * x\n".encode()))


def craft_parts_state(work: Path) -> None:
    """<work>/parts/<part>/state/pull as craft-parts writes it."""
    for part, packages in STAGED.items():
        state = {"assets": {"source-details": None, "stage-packages": packages, "stage-snaps": None},
                 "directories": set(), "files": set(), "part_properties": {"plugin": "nil"}}
        write(work / "parts" / part / "state" / "pull", yaml.dump(state))
    write(work / "parts" / "wrappers" / "state" / "pull", yaml.dump({"assets": {"stage-packages": None}, "files": set()}))


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


# --- reading what was staged ---------------------------------------------------------------------


def test_staged_packages_come_from_craft_parts_pull_state(tmp_path: Path) -> None:
    craft_parts_state(tmp_path)
    assert buildfacts.staged_packages(tmp_path, "ruby") == {
        "bundler": "2.3.15-2+deb12u1", "libruby3.1": "3.1.7+really3.1.2-0+deb12u1", "ruby3.1": "3.1.7+really3.1.2-0+deb12u1"}
    assert buildfacts.staged_packages(tmp_path, "wrappers") is None  # no stage-packages
    assert buildfacts.staged_packages(tmp_path, "absent") is None


def test_os_release_and_whose_userland_a_build_stages() -> None:
    host = buildfacts.parse_os_release('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
                                       "VERSION_CODENAME=bookworm\n")
    assert host == BOOKWORM and host.describe() == "Debian 12 (bookworm)"
    assert "not from Ubuntu 24.04 (noble), the userland of base core24: a local build" in buildfacts.userland_note("core24", host)
    assert buildfacts.userland_note("core24", Distribution("ubuntu", "24.04", "noble")).endswith("the userland of base core24")


def test_apt_cache_madison_gives_each_versions_suites() -> None:
    text = ("apache2-bin | 2.4.71-1~deb12u1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages\n"
            "apache2-bin | 2.4.62-1~deb12u2 | http://deb.debian.org/debian bookworm/main amd64 Packages\n"
            "   apache2 | 2.4.71-1~deb12u1 | http://deb.debian.org/debian-security bookworm-security/main Sources\n")
    assert buildfacts.parse_madison(text) == {("apache2-bin", "2.4.71-1~deb12u1"): ["bookworm-security"],
                                              ("apache2-bin", "2.4.62-1~deb12u2"): ["bookworm"]}


def test_debian_versions() -> None:
    assert buildfacts.debian_upstream("3.1.7+really3.1.2-0+deb12u1") == "3.1.2"
    assert buildfacts.debian_upstream("1:1.2.13.dfsg-1+deb12u1") == "1.2.13.dfsg"
    assert buildfacts.debian_upstream("2.4.71-1~deb12u1") == "2.4.71"
    assert buildfacts.same_binary_version("python3", "3.11.2-1+b1", "python3-defaults", "3.11.2-1")
    assert buildfacts.same_binary_version("bundler", "2.3.15-2+deb12u1", "rubygems", "3.3.15-2+deb12u1")
    assert not buildfacts.same_binary_version("apache2-bin", "2.4.71-2", "apache2", "2.4.71-1~deb12u1")
    assert not buildfacts.same_binary_version("ruby3.1", "3.1.7-1", "ruby3.1", "3.1.8-1")
    head = buildfacts.changelog_head(gzip.compress(b"apache2 (2.4.71-1~deb12u1) bookworm-security; urgency=medium\n"))
    assert head == ("apache2", "2.4.71-1~deb12u1", "bookworm-security")


def test_every_part_has_a_probe_or_says_why_not() -> None:
    for name in DEFAULT.load_parts()[0]:
        assert name in buildfacts.PROBES or name in buildfacts.NOT_PROBED, \
            f"{name}: add a probe to PROBES (or a reason to NOT_PROBED) in snapbuild/build/buildfacts.py"


# --- build-info at pack time ---------------------------------------------------------------------


def test_build_info_gives_the_staged_versions_not_the_part_files(built: tuple[Path, dict]) -> None:
    _, info = built
    assert info["base"] == "core24" and info["build-host"] == "Debian 12 (bookworm)"
    assert info["base-userland"] == "Ubuntu 24.04 (noble)"
    assert "not from Ubuntu 24.04 (noble), the userland of base core24: a local build" in info["userland"]
    python, ruby, apache = info["parts"]["python"], info["parts"]["ruby"], info["parts"]["apache"]
    assert (python["version"], python["declared"], python["upstream-version"]) == ("3.11.2", "3.11", "3.12")
    assert python["version-read-from"] == "usr/bin/python3.11 -V: Python 3.11.2"
    assert python["differs"] == ["parts/python.yaml upstream.version is 3.12 (the release recipe, on core24: Ubuntu "
                                 "24.04 (noble)); this archive build has 3.11.2 from Debian 12 (bookworm)'s archive"]
    assert (ruby["version"], ruby["declared"], ruby["upstream-version"]) == ("3.1.2", "3.1", "3.2")
    assert ruby["version-read-from"].startswith("usr/bin/ruby --version: ruby 3.1.2p20")
    assert ruby["stage-packages"]["ruby3.1"] == "3.1.7+really3.1.2-0+deb12u1"
    assert apache["version"] == "2.4.71" and apache["declared"] == "2.4" and "differs" not in apache
    assert apache["from"] == "host-archive" and apache["source"] == "packages from the build host's archive, Debian 12 (bookworm)"
    assert apache["archive"] == {"distribution": "Debian 12 (bookworm)",
                                 "suites": {"bookworm": ["libapr1"], "bookworm-security": ["apache2-bin", "libssl3"]}}
    assert apache["libraries-from"] == "Debian 12 (bookworm), not core24's Ubuntu 24.04 (noble)"
    wrappers = info["parts"]["wrappers"]
    assert wrappers["version"] == "1" and "this repository's own files" in wrappers["version-read-from"]
    assert "stage-packages" not in wrappers


def test_a_program_that_cannot_run_is_read_from_its_files(built: tuple[Path, dict], tmp_path: Path) -> None:
    prime, _ = built
    (prime / "usr" / "bin" / "ruby").chmod(0o644)  # e.g. another architecture's build
    found = buildfacts.run_probe(buildfacts.PROBES["ruby"], buildfacts.DirTree(prime), prime)
    assert found == buildfacts.Found("3.1.2", f"usr/lib/ruby/3.1.0, usr/lib/{TRIPLET}/libruby-3.1.so.3.1.2")


# --- invoke check --snap: build-info against the snap --------------------------------------------


@needs_squashfs
def test_build_info_that_matches_the_snap_passes(built: tuple[Path, dict], tmp_path: Path) -> None:
    prime, info = built
    report = snapcheck.inspect_snap(snap_with(prime, info, tmp_path / "ok.snap"), DEFAULT, libraries=False)
    assert report.problems == []
    assert "build-info: 4 parts (apache 2.4.71, python 3.11.2, ruby 3.1.2, wrappers 1)" in report.text()


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


EDITS = {
    "python-3.12": ["parts.python.version is '3.12', but the snap has no usr/lib/python3.12",
                    "parts.python.version is '3.12', but the snap has 3.11.2 (usr/lib/python3.11, usr/bin/python3.11)",
                    "parts.python.version is '3.12', but its stage-packages have no python3.12"],
    "ruby-3.2": ["parts.ruby.version is '3.2', but the snap has no usr/lib/ruby/3.2.0",
                 f"parts.ruby.version is '3.2', but the snap has 3.1.2 (usr/lib/ruby/3.1.0, usr/lib/{TRIPLET}/libruby-3.1.so.3.1.2)",
                 "parts.ruby.version is '3.2', but its stage-packages have no ruby3.2"],
    "apache2-bin-version": ["parts.apache.version is '2.4.71', but its stage-package apache2-bin is 2.4.58-1ubuntu8",
                            "parts.apache.stage-packages.apache2-bin is 2.4.58-1ubuntu8, but the snap's "
                            "usr/share/doc/apache2-bin/changelog.Debian.gz is apache2 2.4.71-1~deb12u1"],
    "apache-version": ["parts.apache.version is '2.4.58', but the snap has 2.4.71 (usr/sbin/apache2)",
                       "parts.apache.version is '2.4.58', but its stage-package apache2-bin is 2.4.71-1~deb12u1"],
    "package-left-out": ["usr/share/doc/libapr1: a Debian package in the snap that no part's stage-packages in "
                         "meta/build-info.yaml lists"],
    "base": ["base is 'core22', meta/snap.yaml says 'core24'",
             "base-userland is 'Ubuntu 24.04 (noble)', but base core22 is 'Ubuntu 22.04 (jammy)'"],
    "base-userland": ["base-userland is 'Debian 12 (bookworm)', but base core24 is 'Ubuntu 24.04 (noble)'"],
    "no-userland": ["parts apache, python, ruby list stage-packages, but `userland` does not say whose archive they came from"],
}


@needs_squashfs
@pytest.mark.parametrize("change", sorted(EDITS))
def test_check_snap_fails_on_build_info_edited_to_disagree(built: tuple[Path, dict], tmp_path: Path, change: str) -> None:
    prime, info = built
    snap = snap_with(prime, _edit(info, change), tmp_path / f"{change}.snap")
    problems = snapcheck.inspect_snap(snap, DEFAULT, libraries=False).problems
    fix = "; fix the build that wrote it (snapbuild/build/buildfacts.py) and rebuild; never edit build-info by hand"
    expected = [(text if text.startswith("usr/") else f"meta/build-info.yaml: {text}") + fix for text in EDITS[change]]
    assert problems == expected


@needs_squashfs
def test_an_older_build_info_with_series_versions_still_agrees(tmp_path: Path) -> None:
    prime = tmp_path / "prime"
    stacks_prime(prime)
    old = {"sources": "archive", "left-out": sorted(ONLY_STACKS), "parts": {
        "python": {"version": "3.11", "from": "local"}, "ruby": {"version": "3.1", "from": "base-archive"},
        "apache": {"version": "2.4", "from": "base-archive"}}}
    assert snapcheck.inspect_snap(snap_with(prime, old, tmp_path / "old.snap"), DEFAULT, libraries=False).problems == []
    old["parts"]["python"]["version"] = "3.12"
    assert "meta/build-info.yaml: parts.python.version is '3.12', but the snap has no usr/lib/python3.12" in \
        "\n".join(snapcheck.inspect_snap(snap_with(prime, old, tmp_path / "old2.snap"), DEFAULT, libraries=False).problems)


@needs_squashfs
@pytest.mark.skipif(os.geteuid() != 0 and not shutil.which("unshare"), reason="the snap check's library chroot needs root or unshare")
def test_the_snap_check_command_exits_nonzero_on_an_edited_build_info(built: tuple[Path, dict], tmp_path: Path) -> None:
    """`python -m snapbuild.review.snapcheck` is `invoke check --snap`'s snap half (check_snap_task)."""
    prime, info = built
    snap = snap_with(prime, _edit(info, "python-3.12"), tmp_path / "edited.snap")
    done = subprocess.run([sys.executable, "-m", "snapbuild.review.snapcheck", str(snap)], capture_output=True, text=True,
                          cwd=DEFAULT.root)
    assert done.returncode == 1
    assert "parts.python.version is '3.12', but the snap has no usr/lib/python3.12" in done.stderr
    with pytest.raises(ToolError, match="problem"):
        snapcheck.check_snap_task(snap, DEFAULT)


# --- invoke audit --snap -----------------------------------------------------------------------------


@needs_squashfs
def test_audit_of_a_snap_reports_the_built_versions_and_the_userland(built: tuple[Path, dict], tmp_path: Path) -> None:
    prime, info = built
    text = audit.snap_audit(snap_with(prime, info, tmp_path / "ok.snap"))
    section = text.split("## What was built (`meta/build-info.yaml`)")[1]
    assert "- base: core24 (Ubuntu 24.04 (noble)); build host: Debian 12 (bookworm)" in section
    assert "**stage-packages come from Debian 12 (bookworm)'s archive, not from Ubuntu 24.04 (noble)" in section
    assert ("| python | 3.11.2 | 3.11 | host-archive | python3.11 3.11.2-6+deb12u9 | Debian 12 (bookworm): bookworm, "
            "bookworm-security (3 packages) |") in section
    assert "| apache | 2.4.71 | 2.4 | host-archive | apache2-bin 2.4.71-1~deb12u1 |" in section
    assert "- agrees: every version above matches what the snap's files show." in section
    edited = audit.snap_audit(snap_with(prime, _edit(info, "ruby-3.2"), tmp_path / "edited.snap"))
    assert "- meta/build-info.yaml: parts.ruby.version is '3.2', but the snap has no usr/lib/ruby/3.2.0" in edited
    assert "- agrees" not in edited
