"""snapbuild.build.buildfacts: what a build contains, read from what was staged (the staged
packages, the build host, Debian versions, each part's probe)."""

from __future__ import annotations

import gzip
from pathlib import Path

from snapbuild.build import buildfacts
from snapbuild.recipe.project import DEFAULT
from snapbuild.recipe.userland import Distribution
from tests.unit.snaps import BOOKWORM, STACKS_TRIPLET, craft_parts_state


def test_staged_packages_come_from_craft_parts_pull_state(tmp_path: Path) -> None:
    craft_parts_state(tmp_path)
    assert buildfacts.staged_packages(tmp_path, "ruby") == {
        "bundler": "2.3.15-2+deb12u1",
        "libruby3.1": "3.1.7+really3.1.2-0+deb12u1",
        "ruby3.1": "3.1.7+really3.1.2-0+deb12u1",
    }
    assert buildfacts.staged_packages(tmp_path, "wrappers") is None  # no stage-packages
    assert buildfacts.staged_packages(tmp_path, "absent") is None


def test_os_release_and_whose_userland_a_build_stages() -> None:
    host = buildfacts.parse_os_release(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'
    )
    assert host == BOOKWORM and host.describe() == "Debian 12 (bookworm)"
    assert "not from Ubuntu 24.04 (noble), the userland of base core24: a local build" in buildfacts.userland_note(
        "core24", host
    )
    assert buildfacts.userland_note("core24", Distribution("ubuntu", "24.04", "noble")).endswith(
        "the userland of base core24"
    )


def test_apt_cache_madison_gives_each_versions_suites() -> None:
    text = (
        "apache2-bin | 2.4.71-1~deb12u1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages\n"
        "apache2-bin | 2.4.62-1~deb12u2 | http://deb.debian.org/debian bookworm/main amd64 Packages\n"
        "   apache2 | 2.4.71-1~deb12u1 | http://deb.debian.org/debian-security bookworm-security/main Sources\n"
    )
    assert buildfacts.parse_madison(text) == {
        ("apache2-bin", "2.4.71-1~deb12u1"): ["bookworm-security"],
        ("apache2-bin", "2.4.62-1~deb12u2"): ["bookworm"],
    }


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
        assert name in buildfacts.PROBES or name in buildfacts.NOT_PROBED, (
            f"{name}: add a probe to PROBES (or a reason to NOT_PROBED) in snapbuild/build/buildfacts.py"
        )


def test_a_program_that_cannot_run_is_read_from_its_files(built: tuple[Path, dict], tmp_path: Path) -> None:
    prime, _ = built
    (prime / "usr" / "bin" / "ruby").chmod(0o644)  # e.g. another architecture's build
    found = buildfacts.run_probe(buildfacts.PROBES["ruby"], buildfacts.DirTree(prime), prime)
    assert found == buildfacts.Found("3.1.2", f"usr/lib/ruby/3.1.0, usr/lib/{STACKS_TRIPLET}/libruby-3.1.so.3.1.2")
