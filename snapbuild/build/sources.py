"""Fetch a part's `archive` source from Debian's archive (`type: apt-source`).

The download goes through a private apt configuration under the work dir (its own
sources list, lists, cache and dpkg status), so the build host's apt setup is neither
read nor changed. apt verifies the source index against the suite's signed InRelease;
we then check that the downloaded .dsc is the one that index names, and `dpkg-source -x`
checks the tarballs against the .dsc and applies Debian's patches.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from snapbuild.errors import ToolError
from snapbuild.progress import say, step

MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
SUITES = ("bookworm", "trixie", "sid")

_VERSION_RE = re.compile(r"^(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*$")
_PACKAGE_RE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


# --------------------------------------------------------------------------- pure parts


def validate_spec(part: str, spec: dict[str, Any]) -> tuple[str, str, str]:
    """Return (package, suite, version) of an apt-source spec, or raise ToolError."""
    where = f"parts/{part}.yaml archive.source"
    problems = []
    if spec.get("type", "apt-source") != "apt-source":
        problems.append(f"type is {spec.get('type')!r}, expected 'apt-source'")
    package = str(spec.get("package", ""))
    suite = str(spec.get("suite", ""))
    version = str(spec.get("version", ""))
    if not _PACKAGE_RE.match(package):
        problems.append(f"package {package!r} is not a Debian source package name")
    if suite not in SUITES:
        problems.append(f"suite {suite!r} is not one of {', '.join(SUITES)}")
    if not _VERSION_RE.match(version):
        problems.append(f"version {version!r} is not a Debian version (e.g. 1.26.3-3)")
    if problems:
        raise ToolError(
            f"{where}: invalid apt-source spec: " + "; ".join(problems),
            resolution=(
                f"Set archive.source to {{type: apt-source, package: NAME, suite: "
                f"{'|'.join(SUITES)}, version: DEBIAN-VERSION}} in parts/{part}.yaml."
            ),
        )
    return package, suite, version


def upstream_version(version: str) -> str:
    """Debian version without epoch and revision: 1:1.26.3-3 -> 1.26.3."""
    no_epoch = version.split(":", 1)[1] if ":" in version else version
    return no_epoch.rsplit("-", 1)[0] if "-" in no_epoch else no_epoch


def dsc_name(package: str, version: str) -> str:
    no_epoch = version.split(":", 1)[1] if ":" in version else version
    return f"{package}_{no_epoch}.dsc"


def apt_root(workdir: Path, suite: str) -> Path:
    return workdir / "apt" / suite


def render_sources_list(suite: str, mirror: str = MIRROR, keyring: str = KEYRING) -> str:
    """deb-src line for one suite of Debian's archive, trusted only through `keyring`."""
    return f"deb-src [signed-by={keyring}] {mirror} {suite} main\n"


def render_apt_config(root: Path, as_root: bool = False) -> str:
    """apt.conf for a private apt that reads and writes only under `root`.

    APT_CONFIG is read before Dir::Etc::Parts, so pointing Parts at an empty dir here keeps
    the host's apt.conf.d out too.
    """
    lines = [
        f'Dir::Etc "{root}/etc/";',
        'Dir::Etc::main "apt.conf";',
        'Dir::Etc::Parts "apt.conf.d/";',
        'Dir::Etc::SourceList "sources.list";',
        'Dir::Etc::SourceParts "sources.list.d/";',
        'Dir::Etc::Preferences "preferences";',
        'Dir::Etc::PreferencesParts "preferences.d/";',
        'Dir::Etc::Trusted "trusted.gpg";',
        'Dir::Etc::TrustedParts "trusted.gpg.d/";',
        f'Dir::State "{root}/state/";',
        'Dir::State::Lists "lists/";',
        f'Dir::State::status "{root}/state/status";',
        f'Dir::Cache "{root}/cache/";',
        f'Dir::Log "{root}/log/";',
        'Acquire::Languages "none";',
        'Acquire::IndexTargets::deb-src::Sources::KeepCompressed "false";',
        # Never fall back to an unsigned index or unauthenticated download.
        'Acquire::AllowInsecureRepositories "false";',
        'Acquire::AllowDowngradeToInsecureRepositories "false";',
        'APT::Get::AllowUnauthenticated "false";',
        'Binary::apt-get::APT::Get::AllowUnauthenticated "false";',
    ]
    if as_root:
        # The _apt sandbox user cannot write into a root-owned work dir; apt would warn
        # and fall back anyway.
        lines.append('APT::Sandbox::User "root";')
    return "\n".join(lines) + "\n"


def apt_env(root: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env["APT_CONFIG"] = str(root / "etc" / "apt.conf")
    env["LC_ALL"] = "C"
    env["DEBIAN_FRONTEND"] = "noninteractive"
    return env


def update_command() -> list[str]:
    return ["apt-get", "-q", "update"]


def download_command(package: str, version: str) -> list[str]:
    # --only-source: `package` names a source package, never a binary one.
    return ["apt-get", "-q", "--only-source", "--download-only", "source", f"{package}={version}"]


def showsrc_command(package: str) -> list[str]:
    return ["apt-cache", "--only-source", "showsrc", package]


def extract_command(dsc: Path, dest: Path) -> list[str]:
    return ["dpkg-source", "--no-copy", "-x", str(dsc), str(dest)]


def parse_showsrc(text: str) -> list[dict[str, str]]:
    """Parse `apt-cache showsrc` output (deb822 stanzas; continuation lines kept)."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current, key = {}, None
        elif line[0] in " \t" and key:
            current[key] += "\n" + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            current[key] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def index_sha256(stanzas: list[dict[str, str]], version: str, filename: str) -> str | None:
    """sha256 the signed index gives `filename` of source version `version`."""
    for stanza in stanzas:
        if stanza.get("Version") != version:
            continue
        for line in stanza.get("Checksums-Sha256", "").splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[2] == filename:
                return fields[0]
    return None


def explain_apt_failure(
    part: str, package: str, suite: str, version: str, output: str, available: list[str]
) -> ToolError:
    """Turn `apt-get source` output into an error the maintainer can act on."""
    fix = f"update archive.source.version (and suite) in parts/{part}.yaml"
    have = f" {suite} has: {', '.join(available)}." if available else ""
    if re.search(
        r"Unable to find a source package|Can not find version|"
        r"Unable to locate package",
        output,
    ):
        return ToolError(
            f"part {part}: source package {package} {version} is not in Debian {suite}'s source index.{have}",
            resolution=f"Pick a version the suite carries and {fix}.",
            details=output,
        )
    if re.search(r"404\s+Not Found", output):
        return ToolError(
            f"part {part}: Debian {suite} lists {package} {version} but the mirror "
            f"({MIRROR}) answered 404 for its files.",
            resolution=f"The mirror is partial or the version was just removed; use another suite/version and {fix}.",
            details=output,
        )
    if re.search(r"cannot be authenticated|not signed|NO_PUBKEY|BADSIG|Hash Sum mismatch", output, re.I):
        return ToolError(
            f"part {part}: apt could not verify {package} {version} from Debian {suite}.",
            resolution=(
                f"Check {KEYRING} (package debian-archive-keyring) carries {suite}'s key, "
                f"or retry if the mirror was mid-sync."
            ),
            details=output,
        )
    return ToolError(
        f"part {part}: apt-get source {package}={version} from Debian {suite} failed.",
        resolution=f"Read apt's output below; if the version is gone, {fix}.",
        details=output,
    )


# --------------------------------------------------------------------------- side effects


def _run(cmd: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            cmd, env=env, cwd=cwd, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False
        )
    except FileNotFoundError as exc:
        raise ToolError(
            f"{cmd[0]} is not installed (needed to fetch apt-source parts).",
            resolution="Install apt and dpkg-dev (apt-get install dpkg-dev).",
        ) from exc


def prepare_apt(workdir: Path, suite: str) -> Path:
    """Write the private apt tree for `suite`; returns its root."""
    root = apt_root(workdir, suite).resolve()
    for sub in (
        "etc/apt.conf.d",
        "etc/sources.list.d",
        "etc/preferences.d",
        "etc/trusted.gpg.d",
        "state/lists/partial",
        "cache/archives/partial",
        "log",
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "etc" / "apt.conf").write_text(render_apt_config(root, os.geteuid() == 0))
    (root / "etc" / "sources.list").write_text(render_sources_list(suite))
    (root / "state" / "status").touch()
    return root


def _signed_index_present(root: Path, suite: str) -> bool:
    lists = root / "state" / "lists"
    return any(p.name.endswith(f"_dists_{suite}_InRelease") for p in lists.iterdir())


def fetch_archive_source(part: str, spec: dict[str, Any], workdir: Path) -> Path:
    """Download, verify and extract `spec`'s Debian source package; return the tree.

    Cached: a tree already extracted for the same package, suite and version is reused.
    """
    package, suite, version = validate_spec(part, spec)
    workdir = Path(workdir).resolve()
    dest = workdir / "src" / part / f"{package}-{upstream_version(version)}"
    wanted = {"package": package, "suite": suite, "version": version}
    if _already_extracted(dest, wanted):
        say(f"==> {part}: {package} {version} ({suite}) already extracted at {dest}")
        return dest
    root = prepare_apt(workdir, suite)
    env = apt_env(root)
    _update_signed_index(part, suite, root, env)
    downloads = workdir / "downloads" / part
    stanzas = _download_source(part, package, suite, version, env, downloads)
    dsc = downloads / dsc_name(package, version)
    actual = _verify_dsc(part, suite, dsc, index_sha256(stanzas, version, dsc.name))
    _extract(part, dsc, dest, env)
    _stamp(dest).write_text(json.dumps({**wanted, "dsc-sha256": actual}, indent=1) + "\n")
    return dest


def _stamp(dest: Path) -> Path:
    """What was extracted at `dest` (package, suite, version and the .dsc's sha256)."""
    return dest.parent / (dest.name + ".fetched.json")


def _already_extracted(dest: Path, wanted: dict[str, str]) -> bool:
    stamp = _stamp(dest)
    if not (dest.is_dir() and stamp.is_file()):
        return False
    try:
        return {k: v for k, v in json.loads(stamp.read_text()).items() if k in wanted} == wanted
    except ValueError:
        return False


def _update_signed_index(part: str, suite: str, root: Path, env: dict[str, str]) -> None:
    """`apt-get update` of the private config; refuses a failed, stale or unsigned index."""
    with step(f"{part}: apt-get update (Debian {suite} sources, private config)"):
        res = _run(update_command(), env)
        if res.returncode != 0 or re.search(r"^(W|E): ", res.stdout, re.M):
            if "is expired" in res.stdout:
                fix = (
                    f"The mirror serves a stale {suite} Release file; use another suite for "
                    f"archive.source in parts/{part}.yaml."
                )
            else:
                fix = f"Check that {MIRROR} is reachable and {KEYRING} has {suite}'s key."
            raise ToolError(
                f"part {part}: could not read Debian {suite}'s signed source index.", resolution=fix, details=res.stdout
            )
        if not _signed_index_present(root, suite):
            raise ToolError(
                f"part {part}: apt fetched no signed InRelease for Debian {suite}.",
                resolution="Refusing an unsigned source index; check the mirror.",
                details=res.stdout,
            )


def _download_source(
    part: str, package: str, suite: str, version: str, env: dict[str, str], downloads: Path
) -> list[dict[str, str]]:
    """`apt-get source --download-only` into a fresh `downloads`; returns the index's stanzas of
    `package` (they give the .dsc's sha256)."""
    res = _run(showsrc_command(package), env)
    stanzas = parse_showsrc(res.stdout) if res.returncode == 0 else []
    available = sorted({s["Version"] for s in stanzas if "Version" in s})
    if downloads.exists():
        shutil.rmtree(downloads)
    downloads.mkdir(parents=True)
    with step(f"{part}: apt-get source {package}={version} (Debian {suite})"):
        if version not in available:
            raise explain_apt_failure(
                part, package, suite, version, f"E: Can not find version '{version}' of package '{package}'", available
            )
        res = _run(download_command(package, version), env, cwd=downloads)
        if res.returncode != 0 or re.search(r"^E: |cannot be authenticated", res.stdout, re.M):
            raise explain_apt_failure(part, package, suite, version, res.stdout, available)
    return stanzas


def _verify_dsc(part: str, suite: str, dsc: Path, expected: str | None) -> str:
    """The downloaded .dsc's sha256, which must be the one the signed index gives."""
    actual = hashlib.sha256(dsc.read_bytes()).hexdigest() if dsc.is_file() else None
    if expected is None or actual != expected:
        raise ToolError(
            f"part {part}: {dsc.name} does not match Debian {suite}'s signed index (index {expected}, file {actual}).",
            resolution=(
                "Delete the work dir's downloads and retry; if it persists the mirror is "
                "serving a stale or tampered file."
            ),
        )
    return actual


def _extract(part: str, dsc: Path, dest: Path, env: dict[str, str]) -> None:
    """`dpkg-source -x` (which checks the tarballs against the .dsc) into `dest`, renamed into
    place only when complete."""
    tmp = dest.parent / (dest.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with step(f"{part}: dpkg-source -x {dsc.name} (applies Debian's patches)"):
        res = _run(extract_command(dsc, tmp), env, cwd=dsc.parent)
        if res.returncode != 0:
            raise ToolError(
                f"part {part}: dpkg-source could not extract {dsc.name}.",
                resolution=(
                    "A tarball may not match the .dsc or a Debian patch failed to apply; "
                    "delete the work dir's downloads and retry."
                ),
                details=res.stdout,
            )
    tmp.rename(dest)
