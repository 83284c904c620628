"""What a build actually contains, read from what was staged, and the check that a snap agrees.

meta/build-info.yaml used to repeat the part files' intentions (`version: '3.12'`, "packages
from the base's archive"). This module reads the facts instead:

- the build host's distribution (/etc/os-release), and which base's userland that is not;
- the stage-packages apt installed for each part (craft-parts keeps them, name=version, in
  `<work>/parts/<part>/state/pull` under `assets: stage-packages`), with the archive suites
  apt has those versions from (`apt-cache madison`);
- each part's built version, from the staged programs (`ruby --version`, `python3 -V`,
  `apache2 -v`, ...) or, where nothing can be run, from files (PROBES).

The same file probes read a packed .snap, so `invoke check --snap` can tell when build-info
and the snap's contents disagree. Only the standard library, PyYAML and recipe/userland.py are
imported here: review/snapcheck.py runs on arm64 CI with nothing else.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from snapbuild.recipe.userland import Distribution, base_userland

BUILD_INFO = "meta/build-info.yaml"


# --- the build host's distribution -------------------------------------------------------------------------------


def parse_os_release(text: str) -> Distribution:
    values = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("\"'")
    return Distribution(values.get("ID", ""), values.get("VERSION_ID", ""), values.get("VERSION_CODENAME", ""))


def host_distribution(path: Path = Path("/etc/os-release")) -> Distribution:
    """The machine this runs on (inside the LXD build container: the build image's Debian 12)."""
    try:
        return parse_os_release(path.read_text())
    except OSError:
        return Distribution("", "")


def userland_note(base: str, host: Distribution) -> str:
    """What build-info, the table and the audit say about whose libraries a build stages."""
    wanted = base_userland(base)
    if wanted is None:
        return f"stage-packages come from {host.describe()}'s archive; base {base or '(none)'} has no known userland"
    if host.same_userland(wanted):
        return f"stage-packages come from {host.describe()}'s archive, the userland of base {base}"
    return (
        f"stage-packages come from {host.describe()}'s archive, not from {wanted.describe()}, the userland of "
        f"base {base}: a local build, not what the store builds"
    )


# --- what craft-parts staged -----------------------------------------------------------------------


def staged_packages(work: Path, part: str) -> dict[str, str] | None:
    """name -> version of every package apt installed for the part's stage-packages (None: the
    part has no stage-packages, or no state was found)."""
    for step in ("pull", "build"):
        state = work / "parts" / part / "state" / step
        if not state.is_file():
            continue
        data = yaml.load(state.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
        listed = (data.get("assets") or {}).get("stage-packages")
        if listed is None:
            continue
        packages = {}
        for item in listed:
            name, sep, version = str(item).partition("=")
            packages[name] = version if sep else ""
        return dict(sorted(packages.items()))
    return None


def parse_madison(text: str) -> dict[tuple[str, str], list[str]]:
    """`apt-cache madison` lines -> (package, version) -> suites apt has that version from."""
    found: dict[tuple[str, str], list[str]] = {}
    for line in text.splitlines():
        fields = [f.strip() for f in line.split("|")]
        if len(fields) != 3 or not fields[2].endswith(" Packages"):
            continue  # Sources lines are about source packages
        where = fields[2].split()
        if len(where) < 2:
            continue
        suite = where[1].split("/")[0]
        suites = found.setdefault((fields[0], fields[1]), [])
        if suite not in suites:
            suites.append(suite)
    return found


def archive_suites(packages: dict[str, str]) -> dict[str, list[str]]:
    """package -> suites of its staged version, from the build host's apt indexes ({} without apt)."""
    if not packages or shutil.which("apt-cache") is None:
        return {}
    done = subprocess.run(["apt-cache", "madison", *sorted(packages)], capture_output=True, text=True, timeout=120)
    table = parse_madison(done.stdout)
    return {name: table.get((name, version), []) for name, version in packages.items()}


# --- Debian versions and changelogs ----------------------------------------------------------------


def debian_upstream(version: str) -> str:
    """The upstream part of a Debian version: no epoch, no revision; `+really` names the real one
    (3.1.7+really3.1.2-0+deb12u1 -> 3.1.2)."""
    text = version.split(":", 1)[1] if ":" in version else version
    if "-" in text:
        text = text.rsplit("-", 1)[0]
    if "+really" in text:
        text = text.rsplit("+really", 1)[1]
    return text


_CHANGELOG_HEAD = re.compile(r"^(\S+) \(([^)]+)\) ([^;]+);")


def changelog_head(data: bytes) -> tuple[str, str, str] | None:
    """(source package, version, distribution) of a Debian changelog's newest entry (gzip or plain)."""
    try:
        text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    except (OSError, EOFError):
        return None
    first = text.decode("utf-8", "replace").split("\n", 1)[0]
    match = _CHANGELOG_HEAD.match(first)
    return (match.group(1), match.group(2), match.group(3).strip()) if match else None


def _revision(version: str) -> str:
    return version.rsplit("-", 1)[1] if "-" in version else ""


def same_binary_version(package: str, staged: str, source: str, changelog: str) -> bool:
    """A binary package's version against its doc changelog's newest entry (its source's upload):
    equal, or a binNMU (+bN) of it when the arch-specific changelog is absent. A binary built
    under another name than its source may carry its own upstream version (rubygems' bundler
    2.3.15-2+deb12u1 from rubygems 3.3.15-2+deb12u1): then the upload's revision must match."""
    unbinned = re.sub(r"\+b\d+$", "", staged)
    if staged == changelog or unbinned == changelog:
        return True
    return source != package and bool(_revision(changelog)) and _revision(unbinned) == _revision(changelog)


# --- trees: a prime dir or a packed snap --------------------------------------------------------


class Tree(Protocol):
    def kind(self, path: str) -> str: ...  # 'file', 'dir', 'link' or '' (absent)
    def names(self, directory: str) -> list[str]: ...
    def read(self, path: str) -> bytes | None: ...


class DirTree:
    """A directory (prime/ or stage/)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def kind(self, path: str) -> str:
        target = self.root / path
        if target.is_symlink():
            return "link"
        return "dir" if target.is_dir() else "file" if target.exists() else ""

    def names(self, directory: str) -> list[str]:
        target = self.root / directory
        return sorted(os.listdir(target)) if target.is_dir() else []

    def read(self, path: str) -> bytes | None:
        try:
            return (self.root / path).read_bytes()
        except OSError:
            return None


class SnapTree:
    """A .snap file, from its listing; members are read with `unsquashfs -cat` (symlinks followed)."""

    def __init__(self, snap_file: Path, entries: Iterable[Any]) -> None:
        self.snap = snap_file
        self.kinds: dict[str, str] = {}
        self.children: dict[str, list[str]] = {}
        self.targets: dict[str, str] = {}
        for entry in entries:
            self.kinds[entry.path] = "link" if entry.is_link else "file" if entry.is_file else "dir"
            if entry.is_link:
                self.targets[entry.path] = entry.target
            parent, _, name = entry.path.rpartition("/")
            self.children.setdefault(parent, []).append(name)

    def kind(self, path: str) -> str:
        return self.kinds.get(path, "")

    def names(self, directory: str) -> list[str]:
        return sorted(self.children.get(directory, []))

    def read(self, path: str) -> bytes | None:
        seen = 0
        while self.kinds.get(path) == "link" and seen < 20:  # unsquashfs -cat refuses symlinks
            target = self.targets[path]
            path = os.path.normpath(
                target.lstrip("/") if target.startswith("/") else os.path.join(os.path.dirname(path), target)
            )
            seen += 1
        if self.kinds.get(path) != "file":
            return None
        done = subprocess.run(["unsquashfs", "-cat", str(self.snap), path], capture_output=True)
        return done.stdout if done.returncode == 0 else None


# --- probes: a part's built version ------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    version: str
    evidence: str  # where the version was read: a command and its output, or paths


@dataclass(frozen=True)
class Probe:
    """How to read a part's built version.

    files: from the tree's files (a prime dir at pack time, a .snap in the check);
    command: run at pack time from the prime dir (`{series}` is what `files` found), its
      output matched by `pattern` (group 1);
    required: paths (formatted with the version's series) a snap of that version must hold;
    package: the Debian package whose upstream version is the part's version;
    tree: 'stage' for build-only parts, read from stage/ at pack time and not in the snap.
    """

    files: Callable[[Tree], Found | None]
    command: tuple[str, ...] = ()
    pattern: str = ""
    env: tuple[tuple[str, str], ...] = ()
    required: tuple[str, ...] = ()
    package: str = ""
    tree: str = "prime"


def series(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _search(tree: Tree, path: str, pattern: bytes) -> Found | None:
    data = tree.read(path)
    match = re.search(pattern, data) if data else None
    return Found(match.group(1).decode(), path) if match else None


def _python(tree: Tree) -> Found | None:
    dirs = [n for n in tree.names("usr/lib") if re.fullmatch(r"python3\.\d+", n) and tree.kind(f"usr/lib/{n}") == "dir"]
    if len(dirs) != 1:
        return None
    version = dirs[0][len("python") :]
    exact = _search(tree, f"usr/bin/{dirs[0]}", rb"(?<![\d.])(" + re.escape(version).encode() + rb"\.\d+)(?![\d])")
    return Found(exact.version if exact else version, f"usr/lib/{dirs[0]}" + (f", {exact.evidence}" if exact else ""))


def _triplets(tree: Tree) -> list[str]:
    return [n for n in tree.names("usr/lib") if re.fullmatch(r"[a-z0-9_]+-linux-gnu\w*", n)]


def _ruby(tree: Tree) -> Found | None:
    dirs = [n for n in tree.names("usr/lib/ruby") if re.fullmatch(r"\d+\.\d+\.0", n)]
    if len(dirs) != 1:
        return None
    abi = dirs[0][: -len(".0")]
    for triplet in _triplets(tree):
        for name in tree.names(f"usr/lib/{triplet}"):
            match = re.fullmatch(rf"libruby-{re.escape(abi)}\.so\.({re.escape(abi)}\.\d+)", name)
            if match:
                return Found(match.group(1), f"usr/lib/ruby/{dirs[0]}, usr/lib/{triplet}/{name}")
    return Found(abi, f"usr/lib/ruby/{dirs[0]}")


def _gem(name: str) -> Callable[[Tree], Found | None]:
    def read(tree: Tree) -> Found | None:
        where = "opt/ood/gems/specifications"
        for spec in tree.names(where):
            match = re.fullmatch(rf"{re.escape(name)}-(\d[\w.]*)\.gemspec", spec)
            if match:
                return Found(match.group(1), f"{where}/{spec}")
        return None

    return read


def _ondemand(tree: Tree) -> Found | None:
    data = tree.read("opt/ood/VERSION")
    text = data.decode("utf-8", "replace").strip() if data else ""
    return Found(text, "opt/ood/VERSION") if re.fullmatch(r"\d[\w.+~-]*", text) else None


def _yarn(tree: Tree) -> Found | None:
    return _search(tree, "build-tools/yarn/package.json", rb'"version":\s*"([^"]+)"')


def _npm(tree: Tree) -> Found | None:
    return _search(tree, "build-tools/npm/package.json", rb'"version":\s*"([^"]+)"')


PROBES: dict[str, Probe] = {
    "python": Probe(
        _python,
        ("usr/bin/python{series}", "-V"),
        r"Python (\d+\.\d+\.\d+)",
        (("PYTHONHOME", "usr"),),
        required=("usr/lib/python{series}",),
        package="python{series}",
    ),
    "ruby": Probe(
        _ruby,
        ("usr/bin/ruby", "--version"),
        r"ruby (\d+\.\d+\.\d+)",
        required=("usr/lib/ruby/{series}.0",),
        package="ruby{series}",
    ),
    "apache": Probe(
        lambda t: _search(t, "usr/sbin/apache2", rb"Apache/(\d+\.\d+\.\d+)"),
        ("usr/sbin/apache2", "-v"),
        r"Apache/(\d+\.\d+\.\d+)",
        required=("usr/sbin/apache2",),
        package="apache2-bin",
    ),
    "nginx": Probe(
        lambda t: _search(t, "nginx/sbin/nginx", rb"nginx/(\d+\.\d+\.\d+)"),
        ("nginx/sbin/nginx", "-v"),
        r"nginx/(\d+\.\d+\.\d+)",
        required=("nginx/sbin/nginx",),
    ),
    "node": Probe(
        lambda t: _search(t, "bin/node", rb"node\.js/v(\d+\.\d+\.\d+)"),
        ("bin/node", "--version"),
        r"v(\d+\.\d+\.\d+)",
        required=("bin/node",),
    ),
    "passenger": Probe(
        lambda t: _search(t, "passenger/src/ruby_supportlib/phusion_passenger.rb", rb"VERSION_STRING\s*=\s*'([^']+)'")
    ),
    "ondemand": Probe(_ondemand),
    "gem-bcrypt": Probe(_gem("bcrypt")),
    "gem-dotenv": Probe(_gem("dotenv")),
    "yarn": Probe(_yarn, tree="stage"),
    "npm": Probe(_npm, tree="stage"),
}
# Parts with nothing of their own that records a version: build-info gives the part file's.
NOT_PROBED = {
    "wrappers": "this repository's own files",
    "apps": "this repository's own files",
    "ondemand-build-tools": "this repository's own files",
    "hooks": "this repository's own package (hooks/pyproject.toml)",
    "rails-apps": "built from the same OnDemand tree as the ondemand part (its opt/ood/VERSION)",
}


def run_probe(probe: Probe, tree: Tree, root: Path | None = None) -> Found | None:
    """The built version: the probe's command run from `root` (pack time) when it works, else its files."""
    from_files = probe.files(tree)
    if root is None or not probe.command:
        return from_files
    argv = [str(root / probe.command[0].format(series=series(from_files.version) if from_files else ""))]
    argv += list(probe.command[1:])
    env = dict(os.environ, **{key: str(root / value) for key, value in probe.env})
    try:
        done = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=60, env=env, cwd=root)
    except (OSError, subprocess.TimeoutExpired):
        return from_files  # e.g. another architecture's build: the files still say it
    output = (done.stdout + done.stderr).strip()
    match = re.search(probe.pattern, output)
    if done.returncode != 0 or not match:
        return from_files
    shown = os.path.relpath(argv[0], root)
    return Found(match.group(1), f"{shown} {' '.join(probe.command[1:])}: {output.splitlines()[0]}")


def version_matches(claimed: str, found: str) -> bool:
    """Equal, or one is a release series of the other (3.11 and 3.11.2)."""
    return claimed == found or found.startswith(claimed + ".") or claimed.startswith(found + ".")


# --- build-info of one part (pack time) ---------------------------------------------------------


def part_facts(
    name: str,
    *,
    mode: str,
    declared: str,
    upstream_declared: str,
    origin: str,
    prime: Path,
    stage: Path,
    work: Path,
    host: Distribution,
    base: str,
    suites: Callable[[dict[str, str]], dict[str, list[str]]] | None = None,
) -> dict[str, Any]:
    """The built facts of one part: version (and where it was read), the mode's declared version,
    stage-packages with their archive, whose userland the libraries are, and what differs."""
    probe = PROBES.get(name)
    found = None
    if probe is not None:
        root = stage if probe.tree == "stage" else prime
        found = run_probe(probe, DirTree(root), root)
    facts: dict[str, Any] = {}
    where = "archive.version" if mode == "archive" else "upstream.version"
    if found is not None:
        facts["version"], facts["version-read-from"] = found.version, found.evidence
    else:
        reason = NOT_PROBED.get(name, "no probe for this part in snapbuild/build/buildfacts.py PROBES")
        facts["version"], facts["version-read-from"] = declared, f"parts/{name}.yaml {where} ({reason})"
    facts["declared"] = declared
    differs = []
    if found is not None and declared and not version_matches(declared, found.version):
        differs.append(f"parts/{name}.yaml {where} is {declared}, the build has {found.version}")
    packages = staged_packages(work, name)
    target = base_userland(base)
    if packages:
        by_package = (suites or archive_suites)(packages)
        by_suite: dict[str, list[str]] = {}
        for package in packages:
            for suite in by_package.get(package) or ["unknown (not in the build host's apt indexes)"]:
                by_suite.setdefault(suite, []).append(package)
        facts["archive"] = {"distribution": host.describe(), "suites": dict(sorted(by_suite.items()))}
        facts["libraries-from"] = host.describe() + (
            "" if target is None or host.same_userland(target) else f", not {base}'s {target.describe()}"
        )
        facts["stage-packages"] = packages
        if probe is not None and probe.package and found is not None:
            package = probe.package.format(series=series(found.version))
            staged = packages.get(package)
            if staged and not version_matches(debian_upstream(staged), found.version):
                differs.append(f"stage-package {package} is {staged}, the staged program says {found.version}")
    if (
        mode == "archive"
        and upstream_declared
        and upstream_declared != declared
        and not version_matches(upstream_declared, facts["version"])
    ):
        facts["upstream-version"] = upstream_declared
        on_base = f", on {base}: {target.describe()}" if target and packages else ""
        from_host = f" from {host.describe()}'s archive" if packages else ""
        differs.append(
            f"parts/{name}.yaml upstream.version is {upstream_declared} (the release recipe{on_base}); "
            f"this {mode} build has {facts['version']}{from_host}"
        )
    if differs:
        facts["differs"] = differs
    return facts


# --- the check: build-info against the snap's contents --------------------------------------------


def parse_build_info(text: str | None) -> tuple[dict[str, Any] | None, list[str]]:
    if text is None:
        return None, []
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        return None, [f"{BUILD_INFO}: not valid YAML: {error}".replace("\n", " ")]
    if not isinstance(data, dict) or not isinstance(data.get("parts"), dict):
        return None, [f"{BUILD_INFO}: must be a mapping with `parts:`; rebuild the snap with `invoke build`"]
    return data, []


def _doc_changelog(tree: Tree, package: str, arch: str) -> tuple[str, str, str] | None:
    """(source package, version, path) from usr/share/doc/<package>'s own Debian changelog, when
    the package has its own doc dir (a symlinked one belongs to another package)."""
    doc = f"usr/share/doc/{package}"
    if tree.kind(doc) != "dir":
        return None
    for name in (f"changelog.Debian.{arch}.gz", "changelog.Debian.gz"):
        if tree.kind(f"{doc}/{name}") in ("file", "link"):
            head = changelog_head(tree.read(f"{doc}/{name}") or b"")
            if head:
                return head[0], head[1], f"{doc}/{name}"
    return None


def build_info_problems(info: dict[str, Any], tree: Tree, snap_yaml: dict[str, Any]) -> list[str]:
    """Every way meta/build-info.yaml disagrees with the snap it is in."""
    problems = []
    fix = "fix the build that wrote it (snapbuild/build/buildfacts.py) and rebuild; never edit build-info by hand"
    arches = snap_yaml.get("architectures") or [""]
    arch = str(arches[0])
    if "base" in info and snap_yaml.get("base") is not None and info["base"] != snap_yaml.get("base"):
        problems.append(f"{BUILD_INFO}: base is {info['base']!r}, meta/snap.yaml says {snap_yaml.get('base')!r}; {fix}")
    target = base_userland(str(info.get("base", "")))
    if target and info.get("base-userland") and info["base-userland"] != target.describe():
        problems.append(
            f"{BUILD_INFO}: base-userland is {info['base-userland']!r}, but base {info['base']} is "
            f"{target.describe()!r}; {fix}"
        )
    staging = sorted(n for n, part in info["parts"].items() if isinstance(part, dict) and part.get("stage-packages"))
    if staging and not info.get("userland"):
        problems.append(
            f"{BUILD_INFO}: parts {', '.join(staging)} list stage-packages, but `userland` does not say whose "
            f"archive they came from; {fix}"
        )
    for name in staging:
        distribution = (info["parts"][name].get("archive") or {}).get("distribution")
        if info.get("build-host") and distribution != info["build-host"]:
            problems.append(
                f"{BUILD_INFO}: parts.{name}.archive.distribution is {distribution!r}, but build-host is "
                f"{info['build-host']!r}; {fix}"
            )
    listed: dict[str, tuple[str, str]] = {}  # package -> (version, part)
    for name, part in sorted(info["parts"].items()):
        if not isinstance(part, dict):
            problems.append(f"{BUILD_INFO}: parts.{name} must be a mapping; {fix}")
            continue
        version = str(part.get("version", ""))
        probe = PROBES.get(name)
        if probe is not None and probe.tree == "prime" and version:
            for required in probe.required:
                path = required.format(series=series(version))
                if not tree.kind(path):
                    problems.append(
                        f"{BUILD_INFO}: parts.{name}.version is {version!r}, but the snap has no {path}; {fix}"
                    )
            found = probe.files(tree)
            if found is None:
                problems.append(
                    f"{BUILD_INFO}: parts.{name}.version is {version!r}, but nothing in the snap shows part "
                    f"{name}'s version; {fix}"
                )
            elif not version_matches(version, found.version):
                problems.append(
                    f"{BUILD_INFO}: parts.{name}.version is {version!r}, but the snap has {found.version} "
                    f"({found.evidence}); {fix}"
                )
        packages = part.get("stage-packages") or {}
        if not isinstance(packages, dict):
            problems.append(f"{BUILD_INFO}: parts.{name}.stage-packages must map package names to versions; {fix}")
            continue
        if probe is not None and probe.package and version and packages:
            package = probe.package.format(series=series(version))
            if package not in packages:
                problems.append(
                    f"{BUILD_INFO}: parts.{name}.version is {version!r}, but its stage-packages have no "
                    f"{package}; {fix}"
                )
            elif not version_matches(version, debian_upstream(str(packages[package]))):
                problems.append(
                    f"{BUILD_INFO}: parts.{name}.version is {version!r}, but its stage-package {package} "
                    f"is {packages[package]}; {fix}"
                )
        for package, staged in sorted(packages.items()):
            staged = str(staged)
            if package in listed and listed[package][0] != staged:
                problems.append(
                    f"{BUILD_INFO}: parts.{name}.stage-packages.{package} is {staged}, parts."
                    f"{listed[package][1]} says {listed[package][0]}; {fix}"
                )
            listed.setdefault(package, (staged, name))
            shipped = _doc_changelog(tree, package, arch)
            if shipped and not same_binary_version(package, staged, shipped[0], shipped[1]):
                problems.append(
                    f"{BUILD_INFO}: parts.{name}.stage-packages.{package} is {staged}, but the snap's "
                    f"{shipped[2]} is {shipped[0]} {shipped[1]}; {fix}"
                )
    if listed:
        # Every Debian package whose files the snap ships must be accounted for.
        for package in tree.names("usr/share/doc"):
            if package not in listed and _doc_changelog(tree, package, arch):
                problems.append(
                    f"usr/share/doc/{package}: a Debian package in the snap that no part's stage-packages "
                    f"in {BUILD_INFO} lists; {fix}"
                )
    return problems


def summary_rows(info: dict[str, Any]) -> list[list[str]]:
    """part, built version, declared, from, its own Debian package, archive suites, libraries from, differences."""
    rows = []
    for name, part in sorted((info.get("parts") or {}).items()):
        if not isinstance(part, dict):
            continue
        version = str(part.get("version", "?"))
        packages = part.get("stage-packages") or {}
        probe = PROBES.get(name)
        package = probe.package.format(series=series(version)) if probe and probe.package else ""
        own = f"{package} {packages[package]}" if package in packages else "-"
        archive = part.get("archive") or {}
        suites = ", ".join(archive.get("suites") or [])
        where = f"{archive.get('distribution', '')}: {suites} ({len(packages)} packages)" if archive else "-"
        rows.append(
            [
                name,
                version,
                str(part.get("declared", "-")),
                str(part.get("from", "-")),
                own,
                where,
                str(part.get("libraries-from", "-")),
                "; ".join(part.get("differs") or []) or "-",
            ]
        )
    return rows
