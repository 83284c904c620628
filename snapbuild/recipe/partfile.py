"""Part files (`parts/<name>.yaml`): load, validate their own schema, resolve into craft-parts parts.

The schema is described in docs/parts.md. Every problem names the file and the dotted key
at fault, so `invoke check` can report all of them in one run.
"""

from __future__ import annotations

import copy
import platform
import posixpath
import re
import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import yaml

SHA256 = re.compile(r"^[0-9a-f]{64}$")
GIT_COMMIT = re.compile(r"^[0-9a-f]{40}$")
UNVERIFIED = "unverified"

Mode = Literal["upstream", "archive"]

_TOP_KEYS = {"summary", "license", "provides", "network", "upstream", "archive", "part"}
_UPSTREAM_KEYS = {"version", "homepage", "source"}
_ARCHIVE_KEYS = {"version", "source", "part"}
# Keys the generator owns: a part body that sets them would bypass the pinning rules.
_GENERATED_PART_KEYS = {"source", "source-type", "source-checksum", "source-tag", "source-commit", "source-branch"}

_SOURCE_KEYS: dict[str, set[str]] = {
    "tarball": {"type", "url", "sha256", "checksum-from", "cache"},
    "git": {"type", "url", "tag", "commit", "cache"},
    "local": {"type", "path"},
    "apt-source": {"type", "package", "suite", "version"},
    "same": {"type"},
}
_CACHE_KEYS = {"file", "sha256", "repository", "commit", "note"}
_CACHE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_UPSTREAM_SOURCE_TYPES = {"tarball", "git", "local"}
_ARCHIVE_SOURCE_TYPES = {"tarball", "apt-source", "same"}
# snapd's architecture names (snapcraft's `platforms` keys), in the order recipes list them.
ARCHITECTURES = ("amd64", "arm64", "armhf", "ppc64el", "riscv64", "s390x")
_MACHINES = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "armhf",
    "ppc64le": "ppc64el",
    "riscv64": "riscv64",
    "s390x": "s390x",
}
# A per-architecture source is a tarball pinned by sha256: the generated recipe checks the
# pulled file itself (snapcraft's source-checksum cannot differ per architecture).
_PER_ARCH_KEYS = {"type", "url", "sha256", "checksum-from"}


def host_arch() -> str:
    """This machine's architecture as snapd names it (amd64, arm64, ...)."""
    machine = platform.machine()
    return _MACHINES.get(machine, machine)


@dataclass(frozen=True)
class CacheEntry:
    """A file of an offline source cache that may stand in for an upstream source.

    It is the tree of `repository` at `commit` (the same commit the upstream source pins),
    packed as `file`; `sha256` pins the file's bytes, which differ from the upstream tarball's.
    """

    file: str
    sha256: str
    repository: str
    commit: str
    note: str = ""

    def describe(self) -> str:
        return f"{self.file} (tree of {self.repository} @ {self.commit[:12]})"


@dataclass(frozen=True)
class Source:
    """One declared input of a part."""

    type: str
    url: str = ""
    sha256: str = ""
    checksum_from: str = ""
    tag: str = ""
    commit: str = ""
    path: str = ""
    package: str = ""
    suite: str = ""
    version: str = ""
    cache: CacheEntry | None = None

    @property
    def remote(self) -> bool:
        """Whether building from this source needs the network (unless a cache stands in)."""
        return self.type in ("tarball", "git")

    @property
    def verified(self) -> bool:
        """Whether the bytes of this input are pinned by a digest (or signed archive index)."""
        if self.type == "tarball":
            return bool(SHA256.match(self.sha256))
        if self.type == "git":
            return bool(GIT_COMMIT.match(self.commit))
        return True  # local sources are in this repo; apt verifies apt-source signatures

    def describe(self) -> str:
        if self.type == "tarball":
            return self.url
        if self.type == "git":
            return f"{self.url} @ {self.tag} ({self.commit or 'no commit'})"
        if self.type == "local":
            return f"./{self.path}"
        if self.type == "apt-source":
            return f"apt-get source {self.package}={self.version} ({self.suite})"
        return self.type


@dataclass
class PartFile:
    """A part file, parsed. `body` is the craft-parts part without its source keys."""

    name: str
    path: Path
    summary: str = ""
    license: str = ""
    provides: list[str] = field(default_factory=list)
    upstream_version: str = ""
    homepage: str = ""
    upstream_source: Source | None = None
    archive_version: str = ""
    archive_source: Source | None = None
    archive_overrides: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] = field(default_factory=dict)
    # Registries the part's build tool fetches lock-file-pinned packages from (yarn.lock,
    # Gemfile.lock): probed before a build, listed in the audit.
    network: list[str] = field(default_factory=list)
    # Per-architecture sources (`source: {amd64: {...}, arm64: {...}}`), by arch; empty for a
    # part with one source for all. upstream_source/archive_source are then `arch`'s entry,
    # so every local build (craft-parts, on this machine) sees one plain pinned tarball.
    upstream_by_arch: dict[str, Source] = field(default_factory=dict)
    archive_by_arch: dict[str, Source] = field(default_factory=dict)
    arch: str = field(default_factory=host_arch)

    @property
    def has_archive(self) -> bool:
        return self.archive_source is not None or bool(self.archive_by_arch)

    @property
    def per_arch(self) -> bool:
        return bool(self.upstream_by_arch or self.archive_by_arch)

    def arch_sources(self) -> list[tuple[str, dict[str, Source]]]:
        """(key, sources by arch) of each per-architecture source block of this part."""
        blocks = (("upstream.source", self.upstream_by_arch), ("archive.source", self.archive_by_arch))
        return [(key, by_arch) for key, by_arch in blocks if by_arch]

    def missing_arches(self, arches: list[str]) -> list[tuple[str, str]]:
        """(source key, arch) for every arch in `arches` a per-architecture block has no source for."""
        return [(key, arch) for key, by_arch in self.arch_sources() for arch in arches if arch not in by_arch]

    def for_arch(self, arch: str) -> PartFile:
        """This part as a build on `arch` sees it: the per-architecture sources' `arch` entries."""
        chosen = replace(self, arch=arch)
        if self.upstream_by_arch:
            chosen.upstream_source = self.upstream_by_arch.get(arch)
        if self.archive_by_arch:
            chosen.archive_source = self.archive_by_arch.get(arch)
        return chosen

    def where(self, key: str) -> str:
        """`parts/x.yaml: key` — the prefix every problem about this file carries."""
        return f"{self.path.parent.name}/{self.path.name}: {key}"

    def source_for(self, mode: Mode) -> Source | None:
        """The declared source a build in `mode` takes (before any cache stands in)."""
        if mode == "archive" and self.archive_source is not None and self.archive_source.type != "same":
            return self.archive_source
        return self.upstream_source

    def resolve(self, mode: Mode, fetched: Path | None = None, cached: Path | None = None) -> dict[str, Any]:
        """The craft-parts part for `mode`; `fetched` is the extracted dir of an apt-source,
        `cached` a verified cache file standing in for the upstream source."""
        if mode == "upstream":
            body = copy.deepcopy(self.body)
        elif self.archive_source is None:
            raise ValueError(f"part {self.name} has no archive source")
        else:
            body = deep_merge(self.body, self.archive_overrides)
        source = self.source_for(mode)
        if source is not None and source.type == "apt-source":
            body["source"] = str(fetched) if fetched else "."
            return body
        if cached is not None and source is not None and source.cache is not None:
            return with_cache_file(body, cached, source.cache)
        return with_source(body, source)

    def recipe_part(self, arches: list[str]) -> dict[str, Any]:
        """The release recipe's part: like resolve("upstream"), but a per-architecture upstream
        source becomes snapcraft's `on <arch>` grammar, one entry per arch in `arches`."""
        if not self.upstream_by_arch:
            return self.resolve("upstream")
        sources = [(arch, self.upstream_by_arch[arch]) for arch in arches if arch in self.upstream_by_arch]
        body = copy.deepcopy(self.body)
        body["source"] = [{f"on {arch}": source.url} for arch, source in sources]
        # A plain file keeps the downloaded tarball in the src dir for the check to hash;
        # a tar source would unpack and delete it first.
        body["source-type"] = "file"
        body["override-pull"] = checksum_script(self.name, sources)
        return body


def declared_sources(part: PartFile) -> list[tuple[str, Source | None]]:
    """(key, source) of every source the part file declares, each architecture's included."""
    found: list[tuple[str, Source | None]] = []
    for key, single, by_arch in (
        ("upstream.source", part.upstream_source, part.upstream_by_arch),
        ("archive.source", part.archive_source, part.archive_by_arch),
    ):
        found += [(f"{key}.{arch}", source) for arch, source in by_arch.items()] if by_arch else [(key, single)]
    return found


def download_name(url: str) -> str:
    """The file name a `file` source downloads `url` to (craft-parts: the URL path's basename)."""
    return posixpath.basename(urlparse(url).path)


def checksum_script(part: str, sources: list[tuple[str, Source]]) -> str:
    """override-pull for per-architecture tarballs: pull, check the build arch's sha256, unpack.

    snapcraft's grammar chooses `source` per arch but not `source-checksum`, so the pin is
    checked here; a mismatch fails the pull printing both checksums.
    """
    where = f"parts/{part}.yaml upstream.source"
    cases = "".join(
        f"  {arch}) file={shlex.quote(download_name(source.url))}; sha256={source.sha256} ;;\n"
        for arch, source in sources
    )
    return (
        f"# Generated from {where} (per-architecture): snapcraft's source-checksum\n"
        "# cannot differ per architecture, so the pulled file is checked here.\n"
        "craftctl default\n"
        'arch="${CRAFT_ARCH_BUILD_FOR:-$CRAFT_TARGET_ARCH}"\n'
        "# `on <arch>` chose the source by the build machine: a cross-build would ship another arch's binary.\n"
        'if [ -n "${CRAFT_ARCH_BUILD_ON:-}" ] && [ "$CRAFT_ARCH_BUILD_ON" != "$arch" ]; then\n'
        f'  echo "{part}: per-architecture sources need a native build '
        '(building on $CRAFT_ARCH_BUILD_ON for $arch)" >&2\n'
        "  exit 1\n"
        "fi\n"
        'case "$arch" in\n'
        + cases
        + f'  *) echo "{part}: no source for architecture $arch; add {where}.$arch" >&2; exit 1 ;;\n'
        "esac\n"
        'actual="$(sha256sum "$CRAFT_PART_SRC/$file" | cut -d " " -f 1)"\n'
        'if [ "$actual" != "$sha256" ]; then\n'
        f'  echo "{part}: $file ($arch) does not match its pin in {where}.$arch:" >&2\n'
        '  echo "  expected sha256 $sha256" >&2\n'
        '  echo "  actual   sha256 $actual" >&2\n'
        "  exit 1\n"
        "fi\n"
        "# Unpacked as a tar source would be: the tarball's single top-level directory stripped.\n"
        'tar -xf "$CRAFT_PART_SRC/$file" -C "$CRAFT_PART_SRC" --strip-components=1\n'
        'rm "$CRAFT_PART_SRC/$file"\n'
    )


def with_source(body: dict[str, Any], source: Source | None) -> dict[str, Any]:
    """Add the craft-parts/snapcraft source keys for a declared source."""
    if source is None:
        return body
    if source.type == "tarball":
        body["source"] = source.url
        if source.verified:
            body["source-checksum"] = f"sha256/{source.sha256}"
    elif source.type == "git":
        body["source"] = source.url
        body["source-type"] = "git"
        if source.tag:
            body["source-tag"] = source.tag
        if source.commit:
            body["source-commit"] = source.commit
    elif source.type == "local":
        body["source"] = source.path
    return body


def with_cache_file(body: dict[str, Any], path: Path, entry: CacheEntry) -> dict[str, Any]:
    """Source keys for a verified cache file (a tarball of the pinned commit's tree)."""
    body["source"] = str(path)
    body["source-type"] = "tar"
    body["source-checksum"] = f"sha256/{entry.sha256}"
    return body


def deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Dicts merge key by key; lists and scalars in `overrides` replace. Inputs are not modified."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _unknown(where: str, data: dict[str, Any], allowed: set[str]) -> list[str]:
    return [
        f"{where}{key}: unknown key; allowed keys are {', '.join(sorted(allowed))}"
        for key in data
        if key not in allowed
    ]


def _parse_source(pf: PartFile, key: str, data: Any, types: set[str], problems: list[str]) -> Source | None:
    if not isinstance(data, dict):
        problems.append(f"{pf.where(key)}: must be a mapping with a `type` ({' | '.join(sorted(types))})")
        return None
    kind = data.get("type")
    if kind not in types:
        problems.append(f"{pf.where(key + '.type')}: {kind!r} is not one of {', '.join(sorted(types))}")
        return None
    problems += _unknown(pf.where(key + "."), data, _SOURCE_KEYS[kind])
    source = Source(
        type=kind,
        url=str(data.get("url", "")),
        sha256=str(data.get("sha256", "")).lower(),
        checksum_from=str(data.get("checksum-from", "")),
        tag=str(data.get("tag", "")),
        commit=str(data.get("commit", "")),
        path=str(data.get("path", "")),
        package=str(data.get("package", "")),
        suite=str(data.get("suite", "")),
        version=str(data.get("version", "")),
    )
    required = {
        "tarball": ("url", "sha256"),
        "git": ("url", "tag", "commit"),
        "local": ("path",),
        "apt-source": ("package", "suite", "version"),
        "same": (),
    }[kind]
    for name in required:
        if not data.get(name):
            hint = {
                "sha256": f"add the tarball's sha256 (or `sha256: {UNVERIFIED}` and say why in checksum-from)",
                "commit": "add the 40-hex commit the tag points at: a tag alone can move",
            }.get(name, f"add `{name}`")
            problems.append(f"{pf.where(f'{key}.{name}')}: missing; {hint}")
    if kind == "tarball" and source.sha256 and source.sha256 != UNVERIFIED and not SHA256.match(source.sha256):
        problems.append(f"{pf.where(key + '.sha256')}: {source.sha256!r} is not 64 hex digits (or `{UNVERIFIED}`)")
    if kind == "git" and source.commit and not GIT_COMMIT.match(source.commit):
        problems.append(f"{pf.where(key + '.commit')}: {source.commit!r} is not a 40-hex commit id")
    if kind == "local" and source.path and not (pf.path.parent.parent / source.path).is_dir():
        problems.append(f"{pf.where(key + '.path')}: {source.path!r} is not a directory of the project")
    if "cache" in data:
        source = _with_cache(pf, key + ".cache", data["cache"], source, problems)
    return source


def _is_per_arch(data: Any) -> bool:
    """A source block keyed by architecture (`{amd64: {...}, arm64: {...}}`) rather than by `type`."""
    return isinstance(data, dict) and "type" not in data and any(key in ARCHITECTURES for key in data)


def _parse_arch_sources(pf: PartFile, key: str, data: dict[str, Any], problems: list[str]) -> dict[str, Source]:
    """Parse a per-architecture source block: one pinned tarball per arch."""
    sources: dict[str, Source] = {}
    for arch, entry in data.items():
        where = f"{key}.{arch}"
        if arch not in ARCHITECTURES:
            problems.append(
                f"{pf.where(where)}: not an architecture; a per-architecture source is keyed by "
                f"{', '.join(ARCHITECTURES)} (or give one source with a `type`)"
            )
            continue
        if isinstance(entry, dict) and entry.get("type") not in (None, "tarball"):
            problems.append(
                f"{pf.where(where + '.type')}: {entry.get('type')!r}: per-architecture sources are "
                "tarballs; use `type: tarball` or one source for all architectures"
            )
            continue
        if isinstance(entry, dict):
            problems += _unknown(pf.where(where + "."), entry, _PER_ARCH_KEYS)
            entry = {k: v for k, v in entry.items() if k in _PER_ARCH_KEYS}
        source = _parse_source(pf, where, entry, {"tarball"}, problems)
        if source is None:
            continue
        if source.sha256 == UNVERIFIED:
            problems.append(
                f"{pf.where(where + '.sha256')}: a per-architecture tarball needs its sha256 (the "
                "generated recipe checks the pulled file against it); add it"
            )
        sources[arch] = source
    if not data:
        problems.append(f"{pf.where(key)}: empty; give one source per architecture or a single source with a `type`")
    return sources


def _with_cache(pf: PartFile, key: str, data: Any, source: Source, problems: list[str]) -> Source:
    """Parse a source's `cache:` entry; its commit must be the one the source pins."""
    if not isinstance(data, dict):
        problems.append(f"{pf.where(key)}: must be a mapping ({', '.join(sorted(_CACHE_KEYS))})")
        return source
    problems += _unknown(pf.where(key + "."), data, _CACHE_KEYS)
    entry = CacheEntry(
        file=str(data.get("file", "")),
        sha256=str(data.get("sha256", "")).lower(),
        repository=str(data.get("repository", "")),
        commit=str(data.get("commit", "")).lower(),
        note=str(data.get("note", "")),
    )
    for name in ("file", "sha256", "repository", "commit"):
        if not data.get(name):
            problems.append(
                f"{pf.where(f'{key}.{name}')}: missing; a cache entry names its file, the file's "
                "sha256, and the repository and commit whose tree it holds"
            )
    if entry.file and not _CACHE_FILE.match(entry.file):
        problems.append(f"{pf.where(key + '.file')}: {entry.file!r} must be a plain file name inside the cache dir")
    if entry.sha256 and not SHA256.match(entry.sha256):
        problems.append(f"{pf.where(key + '.sha256')}: {entry.sha256!r} is not 64 hex digits")
    if entry.commit and not GIT_COMMIT.match(entry.commit):
        problems.append(f"{pf.where(key + '.commit')}: {entry.commit!r} is not a 40-hex commit id")
    if source.type == "git" and entry.commit and source.commit and entry.commit != source.commit:
        problems.append(
            f"{pf.where(key + '.commit')}: {entry.commit} differs from the source's commit "
            f"{source.commit}; a cache entry must hold the pinned tree"
        )
    return replace(source, cache=entry)


def parse_part_file(path: Path, arch: str | None = None) -> tuple[PartFile, list[str]]:
    """Parse one part file; returns the part and every problem found in it. `arch` (default:
    this machine's) picks the per-architecture sources' entry as its upstream/archive source."""
    pf = PartFile(name=path.stem, path=path, arch=arch or host_arch())
    problems: list[str] = []
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        return pf, [f"{pf.where('(file)')}: not valid YAML: {error}".replace("\n", " ")]
    if not isinstance(data, dict):
        return pf, [f"{pf.where('(file)')}: must be a mapping with keys {', '.join(sorted(_TOP_KEYS))}"]
    problems += _unknown(pf.where(""), data, _TOP_KEYS)
    for key in ("summary", "license", "part", "upstream"):
        if key not in data:
            problems.append(f"{pf.where(key)}: missing; see docs/parts.md")
    pf.summary = str(data.get("summary", ""))
    pf.license = str(data.get("license", ""))
    provides = data.get("provides", [])
    if not isinstance(provides, list) or not all(isinstance(p, str) for p in provides):
        problems.append(f"{pf.where('provides')}: must be a list of paths in the snap (e.g. bin/nginx)")
    else:
        pf.provides = provides
    network = data.get("network", [])
    if not isinstance(network, list) or not all(isinstance(n, str) and n.startswith("https://") for n in network):
        problems.append(
            f"{pf.where('network')}: must be a list of https:// registry URLs the build fetches "
            "lock-file-pinned packages from (e.g. https://registry.npmjs.org)"
        )
    else:
        pf.network = network

    upstream = data.get("upstream") or {}
    if not isinstance(upstream, dict):
        problems.append(f"{pf.where('upstream')}: must be a mapping (version, homepage, source)")
        upstream = {}
    problems += _unknown(pf.where("upstream."), upstream, _UPSTREAM_KEYS)
    pf.upstream_version = str(upstream.get("version", ""))
    if "upstream" in data and not pf.upstream_version:
        problems.append(f"{pf.where('upstream.version')}: missing; the version the release recipe ships")
    pf.homepage = str(upstream.get("homepage", ""))
    if _is_per_arch(upstream.get("source")):
        pf.upstream_by_arch = _parse_arch_sources(pf, "upstream.source", upstream["source"], problems)
        pf.upstream_source = pf.upstream_by_arch.get(pf.arch)
    elif "source" in upstream:
        pf.upstream_source = _parse_source(pf, "upstream.source", upstream["source"], _UPSTREAM_SOURCE_TYPES, problems)

    if "archive" in data:
        archive = data["archive"]
        if not isinstance(archive, dict):
            problems.append(f"{pf.where('archive')}: must be a mapping (version, source, part)")
        else:
            problems += _unknown(pf.where("archive."), archive, _ARCHIVE_KEYS)
            pf.archive_version = str(archive.get("version", pf.upstream_version))
            if _is_per_arch(archive.get("source")):
                pf.archive_by_arch = _parse_arch_sources(pf, "archive.source", archive["source"], problems)
                pf.archive_source = pf.archive_by_arch.get(pf.arch)
            else:
                pf.archive_source = _parse_source(
                    pf, "archive.source", archive.get("source"), _ARCHIVE_SOURCE_TYPES, problems
                )
            overrides = archive.get("part", {}) or {}
            if not isinstance(overrides, dict):
                problems.append(f"{pf.where('archive.part')}: must be a mapping merged over `part`")
            else:
                pf.archive_overrides = overrides
            upstream_sources: list[Source | None] = list(pf.upstream_by_arch.values()) or [pf.upstream_source]
            if (
                pf.archive_source
                and pf.archive_source.type == "same"
                and any(s and s.remote and s.cache is None for s in upstream_sources)
            ):
                problems.append(
                    f"{pf.where('archive.source.type')}: `same` only fits parts whose upstream source is local, "
                    "absent, or has a `cache` entry (offline builds must have a way to it); declare the "
                    "archive's own source or add upstream.source.cache"
                )

    body = data.get("part")
    if body is not None and not isinstance(body, dict):
        problems.append(f"{pf.where('part')}: must be a mapping (a craft-parts part)")
    elif isinstance(body, dict):
        pf.body = body
        for key in sorted(_GENERATED_PART_KEYS & set(body)):
            problems.append(
                f"{pf.where('part.' + key)}: set by the generator; declare it under upstream.source instead"
            )
        if pf.upstream_by_arch and "override-pull" in body:
            problems.append(
                f"{pf.where('part.override-pull')}: generated for per-architecture sources (it checks "
                "the pulled file's sha256); move these steps to override-build"
            )
    for key in sorted(_GENERATED_PART_KEYS & set(pf.archive_overrides)):
        problems.append(
            f"{pf.where('archive.part.' + key)}: set by the generator; declare it under archive.source instead"
        )
    return pf, problems


def load_parts(parts_dir: Path, arch: str | None = None) -> tuple[dict[str, PartFile], list[str]]:
    """Every part file in `parts_dir`, by name, with all problems found while parsing them."""
    parts: dict[str, PartFile] = {}
    problems: list[str] = []
    files = sorted(parts_dir.glob("*.yaml"))
    if not files:
        problems.append(f"{parts_dir.name}/: no part files; add one YAML file per part (docs/parts.md)")
    for path in files:
        part, found = parse_part_file(path, arch)
        parts[part.name] = part
        problems += found
    for path in sorted(parts_dir.glob("*.yml")):
        problems.append(f"{parts_dir.name}/{path.name}: part files end in .yaml; rename it")
    return parts, problems


def platform_arches(metadata: dict[str, Any]) -> list[str]:
    """The architectures snap/metadata.yaml's `platforms` builds for (a platform's `build-for`, else its name)."""
    arches: list[str] = []
    platforms = metadata.get("platforms") or {}
    for name, spec in platforms.items() if isinstance(platforms, dict) else []:
        targets = spec.get("build-for") if isinstance(spec, dict) else None
        for arch in (targets if isinstance(targets, list) else [targets]) if targets else [name]:
            if str(arch) not in arches:
                arches.append(str(arch))
    return arches


def arch_problems(
    parts: dict[str, PartFile], arches: list[str], metadata_file: str = "snap/metadata.yaml"
) -> list[str]:
    """Every part with per-architecture sources must have one for every platform."""
    return [
        f"{part.where(key)}: no source for {arch}, which {metadata_file} platforms builds; add "
        f"{key}.{arch} (type: tarball, url, sha256, checksum-from) or drop {arch} from platforms"
        for _, part in sorted(parts.items())
        for key, arch in part.missing_arches(arches)
    ]
