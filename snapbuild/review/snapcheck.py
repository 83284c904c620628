"""Review-style checks of a built .snap, before it goes anywhere near the store.

- meta/snap.yaml says what snap/metadata.yaml says (name, confinement, base, apps, hooks)
  and its version is one the recipe produces;
- no world-writable files, no setuid/setgid files, no symlinks leaving the snap, no VCS dirs;
- every dynamically linked ELF file finds each library it needs inside the snap, with
  nothing of the build system in sight: the snap is unpacked into a root holding only the
  host's C library (relocation.make_root) and the host's loader lists each file's
  dependencies there (`ld.so --list`'s trace mode). How a file gets its libraries decides
  how it is resolved:
    * executables, Apache/Ruby/Python modules: through their own RPATH ($ORIGIN/...; the
      build's relink tool sets it). No library path: callers reach them without one.
    * shared libraries directly in the snap's library dirs: through the RPATH of whatever
      loads them (DT_RPATH covers the whole dependency tree), i.e. with the snap's
      library dirs as the search path;
    * both with the directories any wrapper puts on LD_LIBRARY_PATH added.
  A library resolved outside the snap (other than the C library's own) is a fault too:
  the host may not have it.
- meta/build-info.yaml (when the snap has one: local builds write it) agrees with the snap's
  contents: each part's version with what its files show (usr/lib/python3.N, usr/lib/ruby/N.0,
  the Apache/nginx/Node binaries' version strings, ...), each stage-package's version with its
  own Debian changelog in usr/share/doc, every Debian package shipped listed (buildfacts.py);
- sizes per top-level directory and file counts, for the report.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from snapbuild import cli
from snapbuild.build import buildfacts
from snapbuild.errors import ToolError, describe
from snapbuild.progress import say, step
from snapbuild.recipe.project import DEFAULT, Project

SNAP_AT = "/relocated/ondemand"  # where the snap sits inside the check root (as relocation.py)

# The C library's files: classic snaps use the host's (relink deletes the staged copies).
C_LIBRARY = re.compile(
    r"^(ld-linux[-\w.]*\.so\.\d+|ld64\.so\.\d+|libc\.so\.6|libm\.so\.6|libmvec\.so\.1|libpthread\.so\.0|libdl\.so\.2|"
    r"librt\.so\.1|libresolv\.so\.2|libutil\.so\.1|libanl\.so\.1|libBrokenLocale\.so\.1|libnsl\.so\.1|"
    r"libnss_\w+\.so\.2|libc_malloc_debug\.so\.0|libthread_db\.so\.1|libmemusage\.so|libpcprofile\.so)$"
)
_LISTING = re.compile(
    r"^(?P<mode>[-dlcbps][-rwxsStT]{9}) (?P<uid>\d+)/(?P<gid>\d+) +(?P<size>\S+) \S+ \S+ squashfs-root(?P<path>/.*)?$"
)
_TYPES = {
    "-": stat.S_IFREG,
    "d": stat.S_IFDIR,
    "l": stat.S_IFLNK,
    "c": stat.S_IFCHR,
    "b": stat.S_IFBLK,
    "p": stat.S_IFIFO,
    "s": stat.S_IFSOCK,
}


# --- the snap's file list -------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One file of the snap, from its squashfs listing. `path` is relative (no leading /)."""

    path: str
    mode: int  # type and permission bits, as st_mode
    size: int
    uid: int = 0
    gid: int = 0
    target: str = ""  # symlink target

    @property
    def is_file(self) -> bool:
        return stat.S_ISREG(self.mode)

    @property
    def is_link(self) -> bool:
        return stat.S_ISLNK(self.mode)

    @property
    def top(self) -> str:
        return self.path.split("/", 1)[0] if "/" in self.path else "(top-level files)"


def parse_mode(text: str) -> int:
    """`-rwsr-xr-x` -> st_mode bits."""
    mode = _TYPES[text[0]]
    for char, bit in zip(text[1:], (0o400, 0o200, 0o100, 0o040, 0o020, 0o010, 0o004, 0o002, 0o001), strict=True):
        if char in "rwxst":  # s/t: the bit is set along with setuid/setgid/sticky; S/T: without it
            mode |= bit
    special = {3: (stat.S_ISUID, "sS"), 6: (stat.S_ISGID, "sS"), 9: (stat.S_ISVTX, "tT")}
    for position, (bit, chars) in special.items():
        if text[position] in chars:
            mode |= bit
    return mode


def parse_listing(text: str) -> list[Entry]:
    """`unsquashfs -lln` output -> entries (the root directory itself is left out)."""
    entries = []
    for line in text.splitlines():
        match = _LISTING.match(line)
        if not match or not match.group("path"):
            continue
        mode = parse_mode(match.group("mode"))
        path, target = match.group("path")[1:], ""
        if stat.S_ISLNK(mode) and " -> " in path:
            path, target = path.split(" -> ", 1)
        size = int(match.group("size")) if match.group("size").isdigit() else 0
        entries.append(Entry(path, mode, size, int(match.group("uid")), int(match.group("gid")), target))
    return entries


def _need_unsquashfs() -> None:
    if shutil.which("unsquashfs") is None:
        raise ToolError("unsquashfs is missing; it reads the snap", resolution="apt-get install squashfs-tools")


def list_snap(snap_file: Path) -> list[Entry]:
    _need_unsquashfs()
    if not snap_file.is_file():
        raise ToolError(
            f"{snap_file}: no such snap", resolution="build it first (`invoke build`) or give the right path"
        )
    done = subprocess.run(["unsquashfs", "-lln", str(snap_file)], capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        raise ToolError(
            f"{snap_file}: not a readable snap (squashfs)", resolution="rebuild it", details=done.stderr.strip()
        )
    return parse_listing(done.stdout)


def read_member(snap_file: Path, member: str) -> str | None:
    """One file's text from the snap (None if it is not there)."""
    _need_unsquashfs()
    done = subprocess.run(
        ["unsquashfs", "-cat", str(snap_file), member], capture_output=True, text=True, errors="replace"
    )
    return done.stdout if done.returncode == 0 else None


def sizes(entries: Iterable[Entry]) -> dict[str, int]:
    """Bytes of regular files per top-level directory, largest first."""
    totals: dict[str, int] = {}
    for entry in entries:
        if entry.is_file:
            totals[entry.top] = totals.get(entry.top, 0) + entry.size
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def counts(entries: Iterable[Entry]) -> dict[str, int]:
    result = {"files": 0, "directories": 0, "symlinks": 0, "other": 0}
    for entry in entries:
        key = (
            "files"
            if entry.is_file
            else "directories"
            if stat.S_ISDIR(entry.mode)
            else "symlinks"
            if entry.is_link
            else "other"
        )
        result[key] += 1
    return result


def world_writable(entries: Iterable[Entry]) -> list[Entry]:
    """Everything others may write to (symlinks are always 0777 and do not count)."""
    return [e for e in entries if not e.is_link and e.mode & stat.S_IWOTH]


def setid(entries: Iterable[Entry]) -> list[Entry]:
    return [e for e in entries if not e.is_link and e.mode & (stat.S_ISUID | stat.S_ISGID)]


def external_symlinks(entries: Iterable[Entry]) -> list[Entry]:
    """Symlinks whose target is absolute or climbs out of the snap: the store's review flags them
    (the target is whatever the host has, not what was reviewed)."""
    found = []
    for entry in entries:
        if not entry.is_link:
            continue
        target = os.path.normpath(os.path.join(os.path.dirname(entry.path), entry.target))
        if entry.target.startswith("/") or target == ".." or target.startswith("../"):
            found.append(entry)
    return found


VCS_DIRS = {".git", ".bzr", ".hg", ".svn"}


def vcs_dirs(entries: Iterable[Entry]) -> list[Entry]:
    return [e for e in entries if stat.S_ISDIR(e.mode) and os.path.basename(e.path) in VCS_DIRS]


def human(size: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return str(size)


# --- ELF --------------------------------------------------------------------------------------

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NEEDED, DT_STRTAB, DT_RPATH, DT_RUNPATH = 1, 5, 15, 29
ET_EXEC, ET_DYN = 2, 3


@dataclass
class Elf:
    """What the dynamic loader cares about in an ELF file."""

    elf_class: int  # 1: 32-bit, 2: 64-bit
    machine: int
    type: int
    dynamic: bool = False
    interp: str = ""
    needed: list[str] = field(default_factory=list)
    rpath: list[str] = field(default_factory=list)
    runpath: list[str] = field(default_factory=list)


def read_elf(path: Path) -> Elf | None:
    """Parse the headers of an ELF file; None if it is not one (or is truncated)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(64)
            if len(data) < 52 or data[:4] != b"\x7fELF" or data[4] not in (1, 2) or data[5] not in (1, 2):
                return None
            end = "<" if data[5] == 1 else ">"
            is64 = data[4] == 2
            e_type, machine = struct.unpack_from(end + "HH", data, 16)
            if is64:
                (phoff,) = struct.unpack_from(end + "Q", data, 32)
                phentsize, phnum = struct.unpack_from(end + "HH", data, 54)
            else:
                (phoff,) = struct.unpack_from(end + "I", data, 28)
                phentsize, phnum = struct.unpack_from(end + "HH", data, 42)
            elf = Elf(data[4], machine, e_type)
            if not phnum or phentsize < (56 if is64 else 32):
                return elf
            handle.seek(phoff)
            table = handle.read(phentsize * phnum)
            loads: list[tuple[int, int, int]] = []  # vaddr, offset, filesz
            dynamic = None
            for index in range(phnum):
                base = index * phentsize
                if len(table) < base + phentsize:
                    break
                if is64:
                    p_type, _, offset, vaddr, _, filesz = struct.unpack_from(end + "IIQQQQ", table, base)
                else:
                    p_type, offset, vaddr, _, filesz = struct.unpack_from(end + "IIIII", table, base)
                if p_type == PT_LOAD:
                    loads.append((vaddr, offset, filesz))
                elif p_type == PT_DYNAMIC:
                    dynamic = (offset, filesz)
                elif p_type == PT_INTERP:
                    handle.seek(offset)
                    elf.interp = handle.read(filesz).split(b"\0", 1)[0].decode("utf-8", "replace")
            if dynamic is None:
                return elf
            elf.dynamic = True
            handle.seek(dynamic[0])
            raw = handle.read(dynamic[1])
            size = 16 if is64 else 8
            tags: list[tuple[int, int]] = []
            for base in range(0, len(raw) - size + 1, size):
                tag, value = struct.unpack_from(end + ("qQ" if is64 else "iI"), raw, base)
                if tag == 0:
                    break
                tags.append((tag, value))
            strtab = next((value for tag, value in tags if tag == DT_STRTAB), None)
            offset = next(
                (
                    off + strtab - vaddr
                    for vaddr, off, filesz in loads
                    if strtab is not None and vaddr <= strtab < vaddr + filesz
                ),
                None,
            )

            def string(at: int) -> str:
                handle.seek(offset + at)  # type: ignore[operator]
                chunk = handle.read(4096)
                return chunk.split(b"\0", 1)[0].decode("utf-8", "replace")

            if offset is not None:
                for tag, value in tags:
                    if tag == DT_NEEDED:
                        elf.needed.append(string(value))
                    elif tag == DT_RPATH:
                        elf.rpath += [p for p in string(value).split(":") if p]
                    elif tag == DT_RUNPATH:
                        elf.runpath += [p for p in string(value).split(":") if p]
            return elf
    except (OSError, struct.error):
        return None


def host_loader() -> tuple[str, int]:
    """The host's program interpreter and machine, read from /bin/sh."""
    for candidate in ("/bin/sh", "/usr/bin/env", sys.executable):
        elf = read_elf(Path(candidate).resolve())
        if elf and elf.interp:
            return elf.interp, elf.machine
    raise ToolError(
        "cannot find the host's dynamic loader (no dynamically linked /bin/sh)",
        resolution="run this on a glibc Linux host",
    )


def library_dirs(unpacked: Path, triplet: str) -> list[str]:
    """The snap's library dirs, as relink gives them to RPATHs (those that exist)."""
    candidates = [f"lib/{triplet}", f"usr/lib/{triplet}", "usr/lib", "lib"]
    return [d for d in candidates if (unpacked / d).is_dir()]


# Where programs the snap runs live: a file there built for another architecture is a fault.
COMMAND_DIRS = ("bin/", "sbin/", "usr/bin/", "usr/sbin/", "nginx/sbin/", "apache/modules/", "python/bin/")
_LD_PATH = re.compile(r"""LD_LIBRARY_PATH=["']?([^"'\s;]+)""")


def wrapper_library_path(unpacked: Path, entries: Iterable[Entry]) -> list[str]:
    """Directories (relative to the snap) that wrapper scripts put on LD_LIBRARY_PATH."""
    found: list[str] = []
    for entry in entries:
        if (
            not entry.is_file
            or entry.size > 65536
            or not entry.path.startswith(("bin/", "sbin/", "meta/hooks/", "lib/", "usr/bin/"))
        ):
            continue
        try:
            head = (unpacked / entry.path).read_bytes()[:65536]
        except OSError:
            continue
        if not head.startswith(b"#!") and not entry.path.endswith(".sh"):
            continue
        for match in _LD_PATH.finditer(head.decode("utf-8", "replace")):
            for item in match.group(1).split(":"):
                for prefix in ("$SNAP/", "${SNAP}/"):
                    if item.startswith(prefix) and "$" not in item[len(prefix) :]:
                        path = item[len(prefix) :].strip("/")
                        if path not in found:
                            found.append(path)
    return found


@dataclass
class Resolution:
    path: str  # relative to the snap
    missing: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)  # resolved on the host, not the C library
    errors: list[str] = field(default_factory=list)


def parse_ld_list(output: str) -> tuple[list[str], list[str], list[str]]:
    """`ld.so --list` output -> (not found, resolved paths, loader errors)."""
    missing, resolved, errors = [], [], []
    for line in output.splitlines():
        text = line.strip()
        if not text:
            continue
        if "=>" in text:
            name, where = (part.strip() for part in text.split("=>", 1))
            if where.startswith("not found"):
                missing.append(name)
            elif where.startswith("/"):
                resolved.append(where.split(" (0x", 1)[0])
        elif not line.startswith("\t"):
            errors.append(text)
    return missing, resolved, errors


def _classify(path: str, output: str, rc: int) -> Resolution:
    missing, resolved, errors = parse_ld_list(output)
    result = Resolution(path, missing=missing)
    for where in resolved:
        if not (where.startswith(SNAP_AT + "/") or C_LIBRARY.match(os.path.basename(where))):
            result.outside.append(where)
    if rc != 0 and not missing:
        result.errors = errors or [f"the loader exited {rc}"]
    return result


def _run_in_root(root: Path, script: str, timeout: int = 1800) -> str:
    argv = ["chroot", str(root), "/bin/sh", "-c", script]
    if os.geteuid() != 0:
        if shutil.which("unshare") is None:
            raise ToolError(
                "the library check needs root or `unshare` (user namespaces) for its chroot",
                resolution="run it as root, as CI does",
            )
        argv = ["unshare", "--user", "--map-root-user", *argv]
    done = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout)
    if done.returncode != 0:
        raise ToolError(
            "the library check could not run in its chroot",
            resolution="run it as root (or where user namespaces are allowed)",
            details=done.stderr.strip(),
        )
    return done.stdout


def resolve_all(root: Path, loader: str, groups: dict[str, list[str]]) -> dict[str, tuple[str, int]]:
    """List each file's libraries with the host's loader in `root`; groups maps a library path
    ('' for none) to files.

    The loader runs in trace mode (LD_TRACE_LOADED_OBJECTS, what `ldd` and `ld.so --list`
    use): it maps the libraries and prints where each was found, running none of the file's
    code. Set through the environment rather than `--list`, because `--list` stops at the
    first library it cannot find; trace mode reports every one of them."""
    script = []
    for index, (libpath, files) in enumerate(sorted(groups.items())):
        if not files:
            continue
        listing = root / "tmp" / f"elf-{index}"
        listing.write_text("".join(f"{SNAP_AT}/{f}\n" for f in files))
        option = f"--library-path '{libpath}' " if libpath else ""
        script.append(
            "while IFS= read -r f; do printf '\\036%s\\n' \"$f\"; "
            f'LD_TRACE_LOADED_OBJECTS=1 {loader} --inhibit-cache {option}"$f" 2>&1; '
            f"printf '\\037%s\\n' \"$?\"; done < /tmp/elf-{index}"
        )
    output = _run_in_root(root, "; ".join(script) or "true")
    results: dict[str, tuple[str, int]] = {}
    for chunk in output.split("\036")[1:]:
        head, _, rest = chunk.partition("\n")
        body, _, code = rest.rpartition("\037")
        results[head[len(SNAP_AT) + 1 :]] = (body, int(code.strip() or 1))
    return results


@dataclass
class LibraryReport:
    checked: int = 0
    skipped_foreign: list[str] = field(default_factory=list)  # other architectures' ELF files
    static: int = 0
    problems: list[str] = field(default_factory=list)
    library_path: list[str] = field(default_factory=list)


def check_libraries(unpacked_root: Path, entries: list[Entry]) -> LibraryReport:
    """Resolve every dynamic ELF file of the snap unpacked at unpacked_root/SNAP_AT."""
    report = LibraryReport()
    unpacked = unpacked_root / SNAP_AT.lstrip("/")
    loader, machine = host_loader()
    triplet = _triplet(machine)
    libdirs = library_dirs(unpacked, triplet)
    wrapper_dirs = wrapper_library_path(unpacked, entries)
    report.library_path = libdirs + [d for d in wrapper_dirs if d not in libdirs]

    def as_path(dirs: Iterable[str]) -> str:
        return ":".join(f"{SNAP_AT}/{d}" for d in dirs)

    own: list[str] = []
    in_libdir: list[str] = []
    elves: dict[str, Elf] = {}
    for entry in entries:
        if not entry.is_file or entry.size < 64:
            continue
        elf = read_elf(unpacked / entry.path)
        if elf is None or elf.type not in (ET_EXEC, ET_DYN):
            continue
        if elf.machine != machine:
            if entry.path.startswith(COMMAND_DIRS) or os.path.dirname(entry.path) in libdirs:
                report.problems.append(
                    f"{entry.path}: built for another architecture (ELF machine {elf.machine}, "
                    f"this snap's is {machine}); the part took the wrong architecture's source"
                )
            else:
                report.skipped_foreign.append(entry.path)
            continue
        if not elf.dynamic:
            report.static += 1
            continue
        elves[entry.path] = elf
        (in_libdir if os.path.dirname(entry.path) in libdirs else own).append(entry.path)
        for rpath in elf.rpath + elf.runpath:
            if not rpath.startswith("$ORIGIN") and not rpath.startswith("${ORIGIN}") and not rpath.startswith("/snap/"):
                report.problems.append(
                    f"{entry.path}: RPATH/RUNPATH entry {rpath!r} points outside the snap (a build-system path?)"
                )
    report.checked = len(elves)
    first = resolve_all(unpacked_root, loader, {as_path(wrapper_dirs): own, as_path(report.library_path): in_libdir})
    retry = [p for p in own if first.get(p, ("", 1))[1] != 0 or _classify(p, *first.get(p, ("", 1))).missing]
    second = resolve_all(unpacked_root, loader, {as_path(report.library_path): retry}) if retry else {}
    for path in sorted(elves):
        output, rc = first.get(path, ("no output from the loader", 1))
        result = _classify(path, output, rc)
        if result.missing:
            hint = ""
            if path in second and not _classify(path, *second[path]).missing:
                hint = (
                    " (they are in the snap's library dirs: the file has no RPATH reaching them; "
                    "run the build's relink over it or give its wrapper LD_LIBRARY_PATH)"
                )
            report.problems.append(f"{path}: cannot find {', '.join(sorted(set(result.missing)))}{hint}")
        if result.outside:
            report.problems.append(
                f"{path}: resolves {', '.join(sorted(set(result.outside)))} from the host, not the snap; "
                "stage that library"
            )
        for error in result.errors:
            report.problems.append(f"{path}: loader: {error}")
    return report


def _triplet(machine: int) -> str:
    return {
        62: "x86_64-linux-gnu",
        183: "aarch64-linux-gnu",
        40: "arm-linux-gnueabihf",
        21: "powerpc64le-linux-gnu",
        22: "s390x-linux-gnu",
        243: "riscv64-linux-gnu",
    }.get(machine, "unknown")


# --- meta/snap.yaml -----------------------------------------------------------------------------


def snap_yaml_problems(
    snap_yaml: dict[str, Any], metadata: dict[str, Any], versions: set[str], entries: list[Entry]
) -> list[str]:
    """meta/snap.yaml against snap/metadata.yaml and the files the snap holds."""
    problems = []
    where = "meta/snap.yaml"
    for key in ("name", "base", "confinement", "grade", "license", "system-usernames"):
        if key in metadata and snap_yaml.get(key) != metadata[key]:
            problems.append(f"{where}: {key} is {snap_yaml.get(key)!r}, snap/metadata.yaml says {metadata[key]!r}")
    if snap_yaml.get("confinement") != "classic":
        problems.append(f"{where}: confinement must be classic (README: why classic)")
    version = str(snap_yaml.get("version", ""))
    if version not in versions:
        problems.append(f"{where}: version {version!r} is none the recipe builds ({', '.join(sorted(versions))})")
    arches = snap_yaml.get("architectures") or []
    platforms = set((metadata.get("platforms") or {}).keys())
    if not isinstance(arches, list) or len(arches) != 1 or (platforms and arches[0] not in platforms):
        expected = ", ".join(sorted(platforms)) or "the platforms"
        problems.append(f"{where}: architectures {arches!r}: expected exactly one of {expected}")
    files = {e.path: e for e in entries}

    def executable(path: str) -> bool:
        seen = 0
        while path in files and files[path].is_link and seen < 20:
            target = files[path].target
            path = os.path.normpath(
                target.lstrip("/") if target.startswith("/") else os.path.join(os.path.dirname(path), target)
            )
            seen += 1
        return path in files and files[path].is_file and bool(files[path].mode & 0o111)

    apps, wanted = snap_yaml.get("apps") or {}, metadata.get("apps") or {}
    for app in sorted(set(apps) | set(wanted)):
        if app not in apps:
            problems.append(f"{where}: apps.{app} is missing (declared in snap/metadata.yaml)")
            continue
        if app not in wanted:
            problems.append(f"{where}: apps.{app} is not declared in snap/metadata.yaml")
            continue
        for key, value in sorted(wanted[app].items()):
            if apps[app].get(key) != value:
                problems.append(
                    f"{where}: apps.{app}.{key} is {apps[app].get(key)!r}, snap/metadata.yaml says {value!r}"
                )
        command = str(apps[app].get("command", "")).split()
        if command and not executable(command[0].replace("$SNAP/", "")):
            problems.append(f"{where}: apps.{app}.command {command[0]!r} is not an executable file in the snap")
    hooks, wanted_hooks = set(snap_yaml.get("hooks") or {}), set(metadata.get("hooks") or {})
    for hook in sorted(hooks ^ wanted_hooks):
        problems.append(
            f"{where}: hook {hook!r} is {'missing' if hook in wanted_hooks else 'not declared in snap/metadata.yaml'}"
        )
    for hook in sorted(wanted_hooks):
        if not executable(f"meta/hooks/{hook}"):
            problems.append(f"meta/hooks/{hook}: missing or not executable")
    return problems


# --- the whole check ----------------------------------------------------------------------------


@dataclass
class SnapReport:
    snap: Path
    snap_yaml: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    libraries: LibraryReport | None = None
    build_info: dict[str, Any] | None = None

    def text(self) -> str:
        lines = [
            f"{self.snap.name}: {self.snap_yaml.get('name', '?')} {self.snap_yaml.get('version', '?')} "
            f"({', '.join(self.snap_yaml.get('architectures') or ['?'])}), "
            f"{self.counts.get('files', 0)} files, {self.counts.get('symlinks', 0)} symlinks, "
            f"{self.counts.get('directories', 0)} directories, {human(sum(self.sizes.values()))} of file data"
        ]
        lines.append("sizes per top-level directory:")
        lines += [f"  {human(size):>10}  {name}" for name, size in self.sizes.items()]
        if self.build_info is None:
            lines.append("build-info: none (a snapcraft build of the committed recipe)")
        else:
            parts = self.build_info.get("parts") or {}
            versions = ", ".join(
                f"{n} {p.get('version', '?')}" for n, p in sorted(parts.items()) if isinstance(p, dict)
            )
            lines.append(f"build-info: {len(parts)} parts ({versions})")
            if self.build_info.get("userland"):
                lines.append(f"  {self.build_info['userland']}")
        if self.libraries is not None:
            lib = self.libraries
            lines.append(
                f"libraries: {lib.checked} dynamic ELF files resolved against the snap "
                f"(library dirs {', '.join(lib.library_path) or 'none'}), {lib.static} static"
            )
            if lib.skipped_foreign:
                lines.append(
                    f"  note: {len(lib.skipped_foreign)} ELF file(s) for another architecture, not checked "
                    f"(e.g. {', '.join(lib.skipped_foreign[:3])})"
                )
        return "\n".join(lines)


def expected_versions(project: Project, left_out: frozenset[str] = frozenset()) -> set[str]:
    """The version a build that left out `left_out` (build-info's `left-out`) must carry."""
    from snapbuild.recipe.generate import snap_version

    parts, _ = project.load_parts()
    try:
        return {snap_version(parts, without=left_out)}
    except ToolError:
        return set()


def left_out_parts(snap_file: Path) -> frozenset[str]:
    """build-info's `left-out` (none for a snap without build-info, e.g. one snapcraft built)."""
    text = read_member(snap_file, "meta/build-info.yaml")
    try:
        info = yaml.safe_load(text) if text else {}
    except yaml.YAMLError:
        return frozenset()
    left = info.get("left-out") if isinstance(info, dict) else None
    return frozenset(str(p) for p in left) if isinstance(left, list) else frozenset()


def inspect_snap(snap_file: Path, project: Project = DEFAULT, libraries: bool = True) -> SnapReport:
    """Every check; the report lists all problems plus the sizes."""
    snap_file = Path(snap_file)
    report = SnapReport(snap_file)
    entries = list_snap(snap_file)
    report.sizes, report.counts = sizes(entries), counts(entries)
    text = read_member(snap_file, "meta/snap.yaml")
    if text is None:
        report.problems.append("meta/snap.yaml: missing; this is not a snap")
    else:
        try:
            report.snap_yaml = yaml.safe_load(text) or {}
        except yaml.YAMLError as error:
            report.problems.append(f"meta/snap.yaml: not valid YAML: {error}")
    if report.snap_yaml:
        versions = expected_versions(project, left_out_parts(snap_file))
        report.problems += snap_yaml_problems(report.snap_yaml, project.load_metadata(), versions, entries)
    report.build_info, found = buildfacts.parse_build_info(read_member(snap_file, buildfacts.BUILD_INFO))
    report.problems += found
    if report.build_info is not None:
        with step("snap check: meta/build-info.yaml against the snap's contents"):
            report.problems += buildfacts.build_info_problems(
                report.build_info, buildfacts.SnapTree(snap_file, entries), report.snap_yaml
            )
    for entry in world_writable(entries):
        report.problems.append(
            f"{entry.path}: world-writable ({stat.filemode(entry.mode)}); drop o+w in the part that ships it"
        )
    for entry in setid(entries):
        report.problems.append(
            f"{entry.path}: setuid/setgid ({stat.filemode(entry.mode)}); the store refuses those, drop the bit"
        )
    for entry in external_symlinks(entries):
        report.problems.append(
            f"{entry.path}: symlink to {entry.target!r}, outside the snap; point it inside the snap or ship the file"
        )
    for entry in vcs_dirs(entries):
        report.problems.append(f"{entry.path}: version-control data in the snap; exclude it in the part that ships it")
    if libraries:
        from snapbuild.build.relocation import make_root

        with tempfile.TemporaryDirectory(prefix="ondemand-snapcheck-") as scratch:
            root = Path(scratch) / "root"
            root.mkdir()
            with step("snap check: root with the host's C library only"):
                _link_targets(root)
                make_root(root)
            with step(f"snap check: unpack {snap_file.name} at {SNAP_AT}"):
                target = root / SNAP_AT.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                done = subprocess.run(
                    ["unsquashfs", "-no-progress", "-q", "-d", str(target), str(snap_file)],
                    capture_output=True,
                    text=True,
                )
                if done.returncode != 0:
                    raise ToolError(
                        f"cannot unpack {snap_file}", resolution="rebuild the snap", details=done.stderr.strip()
                    )
            with step("snap check: resolve every ELF file's libraries"):
                report.libraries = check_libraries(root, entries)
        report.problems += report.libraries.problems
    return report


def _link_targets(root: Path) -> None:
    """Create what the host's top-level links point at (merged /usr: /lib -> usr/lib), so the
    root's copies of those links are never left dangling while make_root fills it."""
    for top in ("bin", "sbin", "lib", "lib64", "lib32", "libx32"):
        host = Path("/") / top
        if host.is_symlink() and not os.readlink(host).startswith("/"):
            (root / os.readlink(host)).mkdir(parents=True, exist_ok=True)


def check_snap(snap_file: Path, project: Project = DEFAULT) -> list[str]:
    """The problems a reviewer would raise about `snap_file` (empty: none)."""
    return inspect_snap(Path(snap_file), project).problems


def check_snap_task(snap_file: Path, project: Project = DEFAULT) -> None:
    """`invoke check --snap FILE`: print the summary; ToolError listing every problem."""
    report = inspect_snap(Path(snap_file), project)
    print(report.text())
    if report.problems:
        raise ToolError(
            f"{Path(snap_file).name}: {len(report.problems)} problem(s) a store reviewer would raise",
            resolution="fix each as it says, rebuild, and check again",
            details=describe(report.problems),
        )
    say(f"{Path(snap_file).name}: no problems")


USAGE = "usage: python -m snapbuild.review.snapcheck SNAP_FILE   (`invoke check --snap`'s checks of a built snap)"


def _command(args: list[str]) -> None:
    if len(args) != 1:
        raise cli.wrong_arguments(args)
    check_snap_task(Path(args[0]))


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m snapbuild.review.snapcheck SNAP_FILE` (needs only PyYAML: the arm64 CI job runs it)."""
    return cli.run(_command, argv, usage=USAGE)


if __name__ == "__main__":
    raise SystemExit(main())
