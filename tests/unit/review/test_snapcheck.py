"""snapbuild.review.snapcheck: review-style checks of a built snap.

Snaps here are tiny squashfs images packed by the tests (mksquashfs, what `snap pack` uses)
from a few files and ELF programs copied from the host. The library checks need root (the
chroot), patchelf and the host's xz; they are skipped where those are missing. The last
section checks meta/build-info.yaml against the snap (tests/unit/snaps.py's build-info fixture).
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from snapbuild.errors import ToolError
from snapbuild.recipe.project import DEFAULT, Project
from snapbuild.review import snapcheck
from tests.unit.snaps import (
    ONLY_STACKS,
    STACKS_TRIPLET,
    _edit,
    good_prime,
    needs_squashfs,
    pack,
    snap_with,
    snap_yaml_for,
    stacks_prime,
    write,
)

needs_root_tools = pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("patchelf") or not shutil.which("xz") or not shutil.which("dpkg"),
    reason="needs root (chroot), patchelf, xz and dpkg",
)
LOADER, MACHINE = snapcheck.host_loader()
TRIPLET = snapcheck._triplet(MACHINE)
OTHER_MACHINE = 183 if MACHINE != 183 else 62  # aarch64, or x86-64 on an aarch64 host


def foreign_elf(machine: int = OTHER_MACHINE) -> bytes:
    """A 64-bit little-endian ELF executable header for another architecture (no segments)."""
    header = bytearray(64)
    header[:4] = b"\x7fELF"
    header[4], header[5], header[6] = 2, 1, 1
    struct.pack_into("<HH", header, 16, 2, machine)
    return bytes(header) + b"\0" * 64


# --- listings -------------------------------------------------------------------------------------

LISTING = """\
drwxr-xr-x 0/0                      49 2026-11-24 15:48 squashfs-root
drwxr-xr-x 0/0                      58 2026-11-24 15:48 squashfs-root/bin
-rwxr-xr-x 0/0                   35664 2026-11-24 15:48 squashfs-root/bin/hello
lrwxrwxrwx 0/0                       5 2026-11-24 15:48 squashfs-root/bin/link -> hello
-rwsr-xr-x 0/0                      21 2026-11-24 15:48 squashfs-root/bin/with space
-rw-rw-rw- 1000/1000                 3 2026-11-24 15:48 squashfs-root/share/open
drwxrwxrwt 0/0                       3 2026-11-24 15:48 squashfs-root/tmp
-rwxr-Sr-x 0/0                       9 2026-11-24 15:48 squashfs-root/sgid
crw-r--r-- 0/0                     1,3 2026-11-24 15:48 squashfs-root/dev-null
"""


def test_parse_listing() -> None:
    entries = {e.path: e for e in snapcheck.parse_listing(LISTING)}
    assert set(entries) == {"bin", "bin/hello", "bin/link", "bin/with space", "share/open", "tmp", "sgid", "dev-null"}
    assert entries["bin/link"].is_link and entries["bin/link"].target == "hello"
    assert entries["bin/with space"].mode == stat.S_IFREG | stat.S_ISUID | 0o755
    assert entries["sgid"].mode == stat.S_IFREG | stat.S_ISGID | 0o745  # S: setgid without group x
    assert entries["tmp"].mode == stat.S_IFDIR | stat.S_ISVTX | 0o777
    assert entries["share/open"].uid == 1000 and entries["bin/hello"].size == 35664
    assert stat.S_ISCHR(entries["dev-null"].mode) and entries["dev-null"].size == 0


@pytest.mark.parametrize("text", ["-rwxr-xr-x", "-rwsr-sr-t", "drwxrwxrwt", "lrwxrwxrwx", "-r--r-----", "-rwSr-Sr-T"])
def test_parse_mode_round_trips(text: str) -> None:
    assert stat.filemode(snapcheck.parse_mode(text)) == text


def test_findings_from_listing() -> None:
    entries = snapcheck.parse_listing(LISTING)
    assert sorted(e.path for e in snapcheck.world_writable(entries)) == ["share/open", "tmp"]
    assert sorted(e.path for e in snapcheck.setid(entries)) == ["bin/with space", "sgid"]
    assert snapcheck.sizes(entries) == {"bin": 35685, "share": 3, "(top-level files)": 9}
    assert snapcheck.counts(entries) == {"files": 4, "directories": 2, "symlinks": 1, "other": 1}


@needs_squashfs
def test_list_and_read_a_packed_snap(tmp_path: Path) -> None:
    prime = tmp_path / "prime"
    write(prime / "meta" / "snap.yaml", "name: x\n")
    write(prime / "bin" / "tool", "#!/bin/sh\n", 0o4755)
    write(prime / "share" / "data file", "12345", 0o666)
    (prime / "bin" / "alias").symlink_to("tool")
    snap = pack(prime, tmp_path / "x.snap")
    entries = {e.path: e for e in snapcheck.list_snap(snap)}
    assert entries["bin/alias"].target == "tool"
    assert entries["share/data file"].size == 5
    assert [e.path for e in snapcheck.setid(entries.values())] == ["bin/tool"]
    assert [e.path for e in snapcheck.world_writable(entries.values())] == ["share/data file"]
    assert snapcheck.read_member(snap, "meta/snap.yaml") == "name: x\n"
    assert snapcheck.read_member(snap, "meta/absent") is None


def test_human_sizes() -> None:
    assert snapcheck.human(5) == "5 B"
    assert snapcheck.human(2048) == "2.0 KiB"
    assert snapcheck.human(3 * 1024**3) == "3.0 GiB"


# --- ELF --------------------------------------------------------------------------------------------


def test_read_elf_of_a_host_program() -> None:
    elf = snapcheck.read_elf(Path("/bin/sh").resolve())
    assert elf is not None and elf.dynamic and elf.interp == LOADER
    assert any(n.startswith("libc.so") for n in elf.needed)


def test_read_elf_of_other_files(tmp_path: Path) -> None:
    assert snapcheck.read_elf(write(tmp_path / "script", "#!/bin/sh\n")) is None
    assert snapcheck.read_elf(write(tmp_path / "short", b"\x7fELF\x02")) is None
    elf = snapcheck.read_elf(write(tmp_path / "foreign", foreign_elf(183)))
    assert elf is not None and elf.machine == 183 and not elf.dynamic


@pytest.mark.skipif(not shutil.which("patchelf"), reason="needs patchelf")
def test_read_elf_rpath(tmp_path: Path) -> None:
    copy = tmp_path / "xz"
    shutil.copy2(shutil.which("xz") or "/bin/sh", copy)
    subprocess.run(["patchelf", "--force-rpath", "--set-rpath", "$ORIGIN/../lib:/build/leak", str(copy)], check=True)
    elf = snapcheck.read_elf(copy)
    assert elf is not None and elf.rpath == ["$ORIGIN/../lib", "/build/leak"] and elf.runpath == []


def test_parse_ld_list() -> None:
    output = (
        "\tlinux-vdso.so.1 (0x00007ffd)\n"
        "\tliblzma.so.5 => /relocated/ondemand/usr/lib/x86_64-linux-gnu/liblzma.so.5 (0x00007f)\n"
        "\tlibfoo.so.1 => not found\n"
        "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n"
        "\t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n"
        "/relocated/ondemand/bin/x: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found\n"
    )
    missing, resolved, errors = snapcheck.parse_ld_list(output)
    assert missing == ["libfoo.so.1"]
    assert resolved == ["/relocated/ondemand/usr/lib/x86_64-linux-gnu/liblzma.so.5", "/lib/x86_64-linux-gnu/libc.so.6"]
    assert errors == ["/relocated/ondemand/bin/x: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.38' not found"]


def test_c_library_names() -> None:
    for name in ("libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libnss_files.so.2"):
        assert snapcheck.C_LIBRARY.match(name), name
    for name in ("libstdc++.so.6", "liblzma.so.5", "libselinux.so.1", "libcrypt.so.1"):
        assert not snapcheck.C_LIBRARY.match(name), name


def test_wrapper_library_path(tmp_path: Path) -> None:
    write(
        tmp_path / "bin" / "run",
        '#!/bin/sh\nLD_LIBRARY_PATH="$SNAP/opt/lib:${SNAP}/usr/lib/x:$HOME/x:/usr/lib"\nexec x\n',
        0o755,
    )
    write(tmp_path / "lib" / "env.sh", "export LD_LIBRARY_PATH=$SNAP/more/lib\n")
    write(tmp_path / "share" / "doc.sh", "LD_LIBRARY_PATH=$SNAP/not/a/wrapper\n")
    entries = [snapcheck.Entry(p, stat.S_IFREG | 0o755, 100) for p in ("bin/run", "lib/env.sh", "share/doc.sh")]
    assert snapcheck.wrapper_library_path(tmp_path, entries) == ["opt/lib", "usr/lib/x", "more/lib"]


# --- meta/snap.yaml ------------------------------------------------------------------------------------


def entries_of(prime: Path) -> list[snapcheck.Entry]:
    result = []
    for path in sorted(prime.rglob("*")):
        info = path.lstat()
        result.append(
            snapcheck.Entry(
                str(path.relative_to(prime)),
                info.st_mode,
                info.st_size,
                target=os.readlink(path) if path.is_symlink() else "",
            )
        )
    return result


def test_snap_yaml_matching_metadata_is_clean(tmp_path: Path) -> None:
    metadata = DEFAULT.load_metadata()
    good_prime(tmp_path, metadata)
    problems = snapcheck.snap_yaml_problems(
        snap_yaml_for(metadata), metadata, {"4.2.3", "4.2.3+stacks-only"}, entries_of(tmp_path)
    )
    assert problems == []


def test_snap_yaml_faults_are_each_reported(tmp_path: Path) -> None:
    metadata = DEFAULT.load_metadata()
    good_prime(tmp_path, metadata)
    first_app = sorted(metadata["apps"])[0]
    command = metadata["apps"][first_app]["command"]
    (tmp_path / command).chmod(0o644)
    (tmp_path / "meta" / "hooks" / "install").unlink()
    data = snap_yaml_for(metadata, version="9.9")
    data.update(confinement="strict", base="core22", architectures=["amd64", "arm64"])
    data["apps"] = {**data["apps"], "extra": {"command": "bin/extra"}}
    data["apps"][first_app] = {**data["apps"][first_app], "daemon": "forking"}
    del data["hooks"]["remove"]
    problems = "\n".join(snapcheck.snap_yaml_problems(data, metadata, {"4.2.3"}, entries_of(tmp_path)))
    for expected in (
        "base is 'core22'",
        "confinement is 'strict'",
        "confinement must be classic",
        "version '9.9' is none the recipe builds",
        "architectures ['amd64', 'arm64']",
        "apps.extra is not declared",
        f"apps.{first_app}.daemon is 'forking'",
        f"apps.{first_app}.command {command!r} is not an executable",
        "hook 'remove' is missing",
        "meta/hooks/install: missing or not executable",
    ):
        assert expected in problems, expected


def test_command_through_a_symlink(tmp_path: Path) -> None:
    metadata = {"name": "x", "apps": {"a": {"command": "bin/a"}}}
    write(tmp_path / "usr" / "bin" / "real", "#!/bin/sh\n", 0o755)
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "a").symlink_to("../usr/bin/real")
    data = {
        "name": "x",
        "version": "1",
        "confinement": "classic",
        "architectures": ["amd64"],
        "apps": {"a": {"command": "bin/a"}},
    }
    assert snapcheck.snap_yaml_problems(data, metadata, {"1"}, entries_of(tmp_path)) == []


def test_expected_versions_come_from_the_parts_and_what_build_info_says_was_left_out() -> None:
    version = DEFAULT.load_parts()[0]["ondemand"].upstream_version
    assert snapcheck.expected_versions(DEFAULT) == {version}
    assert snapcheck.expected_versions(DEFAULT, frozenset({"rails-apps"})) == {f"{version}+without-rails-apps"}
    assert snapcheck.expected_versions(DEFAULT, frozenset({"ondemand", "rails-apps"})) == {f"{version}+stacks-only"}


# --- the whole check on packed snaps -----------------------------------------------------------------


@needs_squashfs
def test_inspect_without_libraries(tmp_path: Path) -> None:
    metadata = DEFAULT.load_metadata()
    prime = tmp_path / "prime"
    good_prime(prime, metadata)
    write(prime / "share" / "writable", "x", 0o666)
    write(prime / "bin" / "su-thing", "#!/bin/sh\n", 0o4755)
    (prime / "bin" / "host-python").symlink_to("/usr/bin/python3")
    (prime / "src" / ".git").mkdir(parents=True)
    report = snapcheck.inspect_snap(pack(prime, tmp_path / "t.snap"), DEFAULT, libraries=False)
    assert report.problems == [
        "share/writable: world-writable (-rw-rw-rw-); drop o+w in the part that ships it",
        "bin/su-thing: setuid/setgid (-rwsr-xr-x); the store refuses those, drop the bit",
        "bin/host-python: symlink to '/usr/bin/python3', outside the snap; point it inside the snap or ship the file",
        "src/.git: version-control data in the snap; exclude it in the part that ships it",
    ]
    text = report.text()
    assert "ondemand 4.2.3 (amd64)" in text and "sizes per top-level directory:" in text


def test_external_symlinks_and_vcs_dirs() -> None:
    link = stat.S_IFLNK | 0o777
    entries = [
        snapcheck.Entry("bin/ok", link, 0, target="../usr/bin/ok"),
        snapcheck.Entry("bin/abs", link, 0, target="/usr/bin/python3"),
        snapcheck.Entry("bin/climb", link, 0, target="../../etc/passwd"),
        snapcheck.Entry("top", link, 0, target="bin/ok"),
        snapcheck.Entry("opt/ood/.git", stat.S_IFDIR | 0o755, 0),
        snapcheck.Entry("opt/ood/.gitignore", stat.S_IFREG | 0o644, 0),
    ]
    assert [e.path for e in snapcheck.external_symlinks(entries)] == ["bin/abs", "bin/climb"]
    assert [e.path for e in snapcheck.vcs_dirs(entries)] == ["opt/ood/.git"]


@needs_squashfs
def test_not_a_snap(tmp_path: Path) -> None:
    prime = tmp_path / "prime"
    write(prime / "hello", "x")
    report = snapcheck.inspect_snap(pack(prime, tmp_path / "t.snap"), DEFAULT, libraries=False)
    assert report.problems == ["meta/snap.yaml: missing; this is not a snap"]


@needs_squashfs
@needs_root_tools
def test_library_resolution_in_a_root_without_the_build_system(tmp_path: Path) -> None:
    """Real ELF files from the host, packed into a snap and resolved with only the host's C library."""
    metadata = DEFAULT.load_metadata()
    prime = tmp_path / "prime"
    good_prime(prime, metadata)
    xz = Path(shutil.which("xz") or "")
    lzma = next(
        Path(line.split("=>")[1].split("(")[0].strip())
        for line in subprocess.run(["ldd", str(xz)], capture_output=True, text=True).stdout.splitlines()
        if "liblzma" in line
    )
    libdir = prime / "usr" / "lib" / TRIPLET
    libdir.mkdir(parents=True)
    shutil.copy2(lzma.resolve(), libdir / lzma.name)  # a library, resolved through the library dirs
    # 1. rpath to the snap's library dir, as the build's relink sets it: resolves.
    shutil.copy2(xz, prime / "bin" / "xz-ok")
    subprocess.run(
        ["patchelf", "--force-rpath", "--set-rpath", f"$ORIGIN/../usr/lib/{TRIPLET}", str(prime / "bin" / "xz-ok")],
        check=True,
    )
    # 2. no rpath: the library is in the snap but the program cannot find it.
    shutil.copy2(xz, prime / "bin" / "xz-norpath")
    subprocess.run(["patchelf", "--remove-rpath", str(prime / "bin" / "xz-norpath")], check=True)
    # 3. a library the snap does not ship at all.
    shutil.copy2(xz, prime / "bin" / "xz-missing")
    subprocess.run(
        ["patchelf", "--force-rpath", "--set-rpath", "$ORIGIN/../usr/lib/nowhere", str(prime / "bin" / "xz-missing")],
        check=True,
    )
    subprocess.run(
        ["patchelf", "--replace-needed", "liblzma.so.5", "libnot-shipped.so.9", str(prime / "bin" / "xz-missing")],
        check=True,
    )
    # 4. an absolute build-system rpath.
    shutil.copy2(xz, prime / "bin" / "xz-leak")
    subprocess.run(
        [
            "patchelf",
            "--force-rpath",
            "--set-rpath",
            f"/root/parts/xz/install/usr/lib/{TRIPLET}:$ORIGIN/../usr/lib/{TRIPLET}",
            str(prime / "bin" / "xz-leak"),
        ],
        check=True,
    )
    # 5. another architecture's binary: a fault among commands, a note elsewhere.
    write(prime / "bin" / "foreign", foreign_elf(), 0o755)
    write(prime / "share" / "prebuilt" / "foreign", foreign_elf(), 0o755)
    # 6. a host tool whose libraries the snap lacks: the check root happens to hold them
    # (the root's own tools need them), which must count as "from the host", not as resolved.
    sed = Path(shutil.which("sed") or "")
    shutil.copy2(sed, prime / "bin" / "sed-copy")
    sed_libs = [
        line.split("=>")[0].strip()
        for line in subprocess.run(["ldd", str(sed)], capture_output=True, text=True).stdout.splitlines()
        if "=>" in line and not snapcheck.C_LIBRARY.match(line.split("=>")[0].strip())
    ]

    report = snapcheck.inspect_snap(pack(prime, tmp_path / "t.snap"), DEFAULT)
    problems = report.problems
    by_file: dict[str, list[str]] = {}
    for problem in problems:
        by_file.setdefault(problem.split(":", 1)[0], []).append(problem)
    assert "bin/xz-ok" not in by_file
    assert f"usr/lib/{TRIPLET}/{lzma.name}" not in by_file
    assert by_file["bin/xz-norpath"] == [
        "bin/xz-norpath: cannot find liblzma.so.5 (they are in the snap's library dirs: the file has no RPATH "
        "reaching them; run the build's relink over it or give its wrapper LD_LIBRARY_PATH)"
    ]
    assert by_file["bin/xz-missing"] == ["bin/xz-missing: cannot find libnot-shipped.so.9"]
    assert by_file["bin/xz-leak"] == [
        f"bin/xz-leak: RPATH/RUNPATH entry '/root/parts/xz/install/usr/lib/{TRIPLET}' points outside the snap "
        "(a build-system path?)"
    ]
    assert "built for another architecture" in by_file["bin/foreign"][0]
    assert "share/prebuilt/foreign" not in by_file
    assert report.libraries is not None and report.libraries.skipped_foreign == ["share/prebuilt/foreign"]
    if sed_libs:
        assert len(by_file["bin/sed-copy"]) == 1 and "from the host, not the snap" in by_file["bin/sed-copy"][0]
    assert report.libraries.checked == 6  # xz-ok, -norpath, -missing, -leak, sed-copy, liblzma
    assert report.libraries.library_path == [f"usr/lib/{TRIPLET}", "usr/lib"]
    assert snapcheck.check_snap(tmp_path / "t.snap", DEFAULT) == problems


def test_check_snap_task_reports_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = snapcheck.SnapReport(
        tmp_path / "x.snap",
        {"name": "ondemand", "version": "1", "architectures": ["amd64"]},
        ["a: bad", "b: worse"],
        {"bin": 10},
        {"files": 1},
    )
    monkeypatch.setattr(snapcheck, "inspect_snap", lambda snap, project: report)
    with pytest.raises(snapcheck.ToolError) as err:
        snapcheck.check_snap_task(tmp_path / "x.snap", Project(tmp_path))
    assert "2 problem(s)" in err.value.brief and "1. a: bad" in err.value.details and "2. b: worse" in err.value.details
    assert "ondemand 1 (amd64)" in capsys.readouterr().out


# --- meta/build-info.yaml against the snap ---------------------------------------------------------


@needs_squashfs
def test_build_info_that_matches_the_snap_passes(built: tuple[Path, dict], tmp_path: Path) -> None:
    prime, info = built
    report = snapcheck.inspect_snap(snap_with(prime, info, tmp_path / "ok.snap"), DEFAULT, libraries=False)
    assert report.problems == []
    assert "build-info: 4 parts (apache 2.4.71, python 3.11.2, ruby 3.1.2, wrappers 1)" in report.text()


EDITS = {
    "python-3.12": [
        "parts.python.version is '3.12', but the snap has no usr/lib/python3.12",
        "parts.python.version is '3.12', but the snap has 3.11.2 (usr/lib/python3.11, usr/bin/python3.11)",
        "parts.python.version is '3.12', but its stage-packages have no python3.12",
    ],
    "ruby-3.2": [
        "parts.ruby.version is '3.2', but the snap has no usr/lib/ruby/3.2.0",
        "parts.ruby.version is '3.2', but the snap has 3.1.2 "
        f"(usr/lib/ruby/3.1.0, usr/lib/{STACKS_TRIPLET}/libruby-3.1.so.3.1.2)",
        "parts.ruby.version is '3.2', but its stage-packages have no ruby3.2",
    ],
    "apache2-bin-version": [
        "parts.apache.version is '2.4.71', but its stage-package apache2-bin is 2.4.58-1ubuntu8",
        "parts.apache.stage-packages.apache2-bin is 2.4.58-1ubuntu8, but the snap's "
        "usr/share/doc/apache2-bin/changelog.Debian.gz is apache2 2.4.71-1~deb12u1",
    ],
    "apache-version": [
        "parts.apache.version is '2.4.58', but the snap has 2.4.71 (usr/sbin/apache2)",
        "parts.apache.version is '2.4.58', but its stage-package apache2-bin is 2.4.71-1~deb12u1",
    ],
    "package-left-out": [
        "usr/share/doc/libapr1: a Debian package in the snap that no part's stage-packages in "
        "meta/build-info.yaml lists"
    ],
    "base": [
        "base is 'core22', meta/snap.yaml says 'core24'",
        "base-userland is 'Ubuntu 24.04 (noble)', but base core22 is 'Ubuntu 22.04 (jammy)'",
    ],
    "base-userland": ["base-userland is 'Debian 12 (bookworm)', but base core24 is 'Ubuntu 24.04 (noble)'"],
    "no-userland": [
        "parts apache, python, ruby list stage-packages, but `userland` does not say whose archive they came from"
    ],
}


@needs_squashfs
@pytest.mark.parametrize("change", sorted(EDITS))
def test_check_snap_fails_on_build_info_edited_to_disagree(
    built: tuple[Path, dict], tmp_path: Path, change: str
) -> None:
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
    old = {
        "sources": "archive",
        "left-out": sorted(ONLY_STACKS),
        "parts": {
            "python": {"version": "3.11", "from": "local"},
            "ruby": {"version": "3.1", "from": "base-archive"},
            "apache": {"version": "2.4", "from": "base-archive"},
        },
    }
    assert snapcheck.inspect_snap(snap_with(prime, old, tmp_path / "old.snap"), DEFAULT, libraries=False).problems == []
    old["parts"]["python"]["version"] = "3.12"
    assert "meta/build-info.yaml: parts.python.version is '3.12', but the snap has no usr/lib/python3.12" in "\n".join(
        snapcheck.inspect_snap(snap_with(prime, old, tmp_path / "old2.snap"), DEFAULT, libraries=False).problems
    )


@needs_squashfs
@pytest.mark.skipif(
    os.geteuid() != 0 and not shutil.which("unshare"), reason="the snap check's library chroot needs root or unshare"
)
def test_the_snap_check_command_exits_nonzero_on_an_edited_build_info(built: tuple[Path, dict], tmp_path: Path) -> None:
    """`python -m snapbuild.review.snapcheck` is `invoke check --snap`'s snap half (check_snap_task)."""
    prime, info = built
    snap = snap_with(prime, _edit(info, "python-3.12"), tmp_path / "edited.snap")
    done = subprocess.run(
        [sys.executable, "-m", "snapbuild.review.snapcheck", str(snap)],
        capture_output=True,
        text=True,
        cwd=DEFAULT.root,
    )
    assert done.returncode == 1
    assert "parts.python.version is '3.12', but the snap has no usr/lib/python3.12" in done.stderr
    with pytest.raises(ToolError, match="problem"):
        snapcheck.check_snap_task(snap, DEFAULT)
