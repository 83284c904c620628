"""docs/audit.md: the report a store reviewer reads, generated from the repository alone.

It depends only on snap/metadata.yaml, parts/*.yaml and the hooks package, so `invoke check`
can tell when it is stale without a built snap (check.generated_files registers it). It is
deterministic: no dates, parts in name order. What only a built .snap can say is
review/audit.py's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snapbuild.errors import ToolError
from snapbuild.recipe.generate import snap_version
from snapbuild.recipe.hookspkg import hooks_module
from snapbuild.recipe.partfile import (
    ARCHITECTURES,
    PartFile,
    Source,
    declared_sources,
    deep_merge,
)
from snapbuild.recipe.project import Project
from snapbuild.recipe.userland import LXD_BUILD_HOST, base_userland

AUDIT_DOC = "docs/audit.md"
SNAP_AUDIT = "build/audit-snap.md"

# Why each app and hook runs with the privileges it has. Every app and hook in
# snap/metadata.yaml needs an entry (a unit test enforces it).
ROOT_NOTES: dict[str, tuple[str, str]] = {
    # name: (runs as, why)
    "apache": (
        "root, then `{user}`",
        "snapd starts the front proxy as root: it binds the portal's port (80/443) and reads the "
        "TLS key. The generated httpd.conf says `User {user}` / `Group {user}`, so every process "
        "serving requests runs as that system user; only Apache's parent stays root.",
    ),
    "nginx-clean": (
        "root",
        "timer (every 2 hours, as upstream's cron job): runs `nginx_stage nginx_clean`, which stops "
        "per-user nginx processes with no connections; stopping another user's processes needs root.",
    ),
    "logrotate": (
        "root",
        "daily timer: rotates the logs under $SNAP_COMMON/var/log (root-owned; per-user nginx logs "
        "are written by each user's nginx).",
    ),
    "update-portal": (
        "root (admin command, run with sudo)",
        "merges the admin's ood_portal.site.yml into ood_portal.yml (both under "
        "$SNAP_COMMON/etc/ood/config) and regenerates the Apache config under "
        "$SNAP_COMMON/etc/apache2 from it; those files are root-owned like upstream's /etc/ood "
        "and /etc/httpd.",
    ),
    "import-config": (
        "root (admin command, run with sudo)",
        "reads an existing site's /etc/ood/config (or the directory given) and writes "
        "ood_portal.site.yml and copied cluster files under $SNAP_COMMON/etc/ood/config, root-owned "
        "like upstream's /etc/ood; the rest it sets with one `snap set ondemand`, whose configure "
        "hook checks every value.",
    ),
    "nginx-stage": (
        "root (admin command, and through the sudoers rule below)",
        "upstream's root helper. The portal's Apache (running as `{user}`) calls it through the "
        "single sudoers rule to start a user's nginx: it writes that user's nginx config and starts "
        "the user's nginx under the user's own uid and gid. Admins call it for maintenance "
        "(`nginx_clean`, `app_reset`).",
    ),
    "install": (
        "root (snapd runs hooks as root)",
        "creates the $SNAP_COMMON tree, installs the sudoers rule (checked with visudo first).",
    ),
    "configure": (
        "root (snapd runs hooks as root)",
        "validates `snap set` values, writes ood_portal.yml and nginx_stage.yml, runs upstream's "
        "`update_ood_portal` on a staged copy (only when ood_portal.yml changed), checks the result with "
        "`httpd -t`, installs it by journaled renames (vhost root:root 0600) and reloads Apache gracefully "
        "when it changed.",
    ),
    "post-refresh": (
        "root (snapd runs hooks as root)",
        "rewrites the sudoers rule and configs for the new revision; resets per-user nginx configs, as "
        "upstream's package upgrade does.",
    ),
    "remove": (
        "root (snapd runs hooks as root)",
        "stops every per-user nginx and deletes the sudoers rule; snapd removes $SNAP_COMMON itself.",
    ),
}

CLASSIC = """\
The snap asks for classic confinement because Open OnDemand falls in two categories the
store's classic review accepts, and cannot work under strict confinement in either.

1. **An HPC orchestration agent that drops privileges to each user's uid and gid.** Every
   user of the portal gets their own web server (the per-user nginx, "PUN"), started by a
   root helper (`nginx_stage`) under that user's own uid and gid, so the user's files, jobs
   and cluster commands are used with exactly that user's rights and nobody else's. The
   users are the site's accounts (LDAP, NIS, ...), unknown when the snap is built, and the
   portal runs the site's batch scheduler commands (Slurm, PBS, ...) installed on the host.
   Strict confinement cannot start processes as arbitrary users or run host programs.
2. **An IDE whose file explorer and editor need the whole cluster filesystem.** The Files
   app, its editor, the job composer and the shell work on users' home, project and scratch
   trees, which live at site-specific mount points (`/fs/...`, `/scratch`, `/gpfs/...`).
   Strict confinement's `home` and `removable-media` interfaces do not reach them.

Nothing else needs classic: the snap ships its own Apache, nginx, Passenger, Ruby, Node.js
and Python, uses the host's C library only (classic snaps run on the host's loader), and
writes outside its own directories exactly one file, the sudoers rule below.
"""


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _pin(source: Source) -> tuple[str, str, str]:
    """(pin, verified, checksum provenance) of a declared source."""
    if source.type == "tarball":
        pin = f"sha256 `{source.sha256}`" if source.verified else f"sha256 {source.sha256 or 'missing'}"
        return pin, "yes" if source.verified else "**NO**", source.checksum_from or "(not stated)"
    if source.type == "git":
        pin = f"commit `{source.commit}`" if source.verified else "no commit"
        return (
            pin,
            "yes" if source.verified else "**NO**",
            "the git commit id (content-addressed); the tag is informational",
        )
    if source.type == "local":
        return "this repository", "yes", "reviewed in this repository (same commit as the recipe)"
    if source.type == "apt-source":
        return (
            f"`{source.package}={source.version}`",
            "yes",
            f"apt, against the signed Sources index of Debian {source.suite}",
        )
    return "-", "-", "-"


def _where(source: Source) -> str:
    """Where the source comes from: URLs as they are, commands and paths as code."""
    text = source.describe()
    return text if source.type in ("tarball", "git") else f"`{text}`"


def _packages(body: dict[str, Any]) -> str:
    packages = body.get("stage-packages") or []
    return ", ".join(f"`{p}`" for p in packages) if packages else "-"


def archive_host() -> str:
    """Whose archive an archive build's stage-packages come from: the LXD build image's."""
    return LXD_BUILD_HOST.describe()


def source_rows(parts: dict[str, PartFile], mode: str) -> list[list[str]]:
    rows = []
    for name, part in sorted(parts.items()):
        if mode == "upstream":
            version, source, by_arch = part.upstream_version, part.upstream_source, part.upstream_by_arch
            body = part.body
        else:
            if not part.has_archive:
                rows.append(
                    [
                        name,
                        "-",
                        "not built: archive builds leave this part out (`--without " + name + "`)",
                        "-",
                        part.license,
                        "-",
                        "-",
                        "-",
                    ]
                )
                continue
            version = part.archive_version
            if part.archive_by_arch:
                source, by_arch = None, part.archive_by_arch
            elif part.archive_source is not None and part.archive_source.type == "same":
                source, by_arch = part.upstream_source, part.upstream_by_arch
            else:
                source, by_arch = part.archive_source, {}
            body = deep_merge(part.body, part.archive_overrides)
        packages = _packages(body)
        if by_arch:
            # Every architecture's source, whatever machine writes the audit (it must not drift).
            for arch in [a for a in ARCHITECTURES if a in by_arch]:
                pin, verified, provenance = _pin(by_arch[arch])
                rows.append(
                    [
                        name,
                        version,
                        f"{arch}: {_where(by_arch[arch])}",
                        pin,
                        part.license,
                        verified,
                        provenance,
                        packages,
                    ]
                )
            continue
        if source is None:
            archive = "the base's archive" if mode == "upstream" else f"the build host's archive, {archive_host()}"
            rows.append(
                [
                    name,
                    version,
                    f"{archive} (stage-packages only)",
                    "apt: signed archive index",
                    part.license,
                    "yes",
                    "apt verifies every package against the archive's signed index",
                    packages,
                ]
            )
            continue
        pin, verified, provenance = _pin(source)
        rows.append([name, version, _where(source), pin, part.license, verified, provenance, packages])
    return rows


def plugin_inputs(project: Project, parts: dict[str, PartFile]) -> list[str]:
    """Inputs a build plugin fetches itself: the python plugin pip-installs a local package's
    dependencies (and build requirements) from PyPI. Listed because no sha256 pins them."""
    import tomllib

    found = []
    for name, part in sorted(parts.items()):
        source = part.upstream_source
        if part.body.get("plugin") != "python" or source is None or source.type != "local":
            continue
        pyproject = project.root / source.path / "pyproject.toml"
        if not pyproject.is_file():
            continue
        data = tomllib.loads(pyproject.read_text())
        deps = list(data.get("project", {}).get("dependencies", [])) + list(part.body.get("python-packages") or [])
        build = list(data.get("build-system", {}).get("requires", []))
        if deps:
            found.append(
                f"- `parts/{name}.yaml`: pip installs {', '.join(f'`{d}`' for d in deps)} from PyPI "
                f"(dependencies of `{source.path}/pyproject.toml`; a version range, not hash-pinned)"
            )
        if build:
            found.append(
                f"- `parts/{name}.yaml`: pip builds `{source.path}` with {', '.join(f'`{d}`' for d in build)} "
                "from PyPI (build requirements; a version range, not hash-pinned)"
            )
    for name, part in sorted(parts.items()):
        if part.network:
            found.append(
                f"- `parts/{name}.yaml`: its build fetches the packages its committed lock files pin "
                f"(versions and integrity hashes) from {', '.join(part.network)} (`network:`, probed "
                "before every build)"
            )
    return found


SUBSTITUTIONS = Path("snap/local/ondemand-build-tools/build-tools/ood-substitutions.tsv")


def substitution_rows(project: Project) -> list[list[str]]:
    """The substitutions table, one row per redirected path."""
    path = project.root / SUBSTITUTIONS
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            file, before, after = line.split("\t")
            rows.append([f"`{file}`", f"`{before}`", f"`{after}`"])
    return rows


def cache_rows(parts: dict[str, PartFile]) -> list[list[str]]:
    """Every offline cache alternative: which file may stand in for which upstream source."""
    rows = []
    for name, part in sorted(parts.items()):
        source = part.upstream_source
        if source is None or source.cache is None:
            continue
        entry = source.cache
        rows.append(
            [
                name,
                f"`{entry.file}`",
                f"sha256 `{entry.sha256}`",
                f"{entry.repository} @ `{entry.commit}`",
                _where(source),
                entry.note or "-",
            ]
        )
    return rows


def sudoers_rule(project: Project, snap_name: str) -> tuple[Path, dict[str, str]]:
    """Where the rule goes and its exact text per sudo flavour, from the hooks' own renderer."""
    sudoers = hooks_module(project, "sudoers")
    env = hooks_module(project, "env")
    paths = env.Paths(
        snap=Path(f"/snap/{snap_name}/x1"),
        snap_common=Path(f"/var/snap/{snap_name}/common"),
        snap_data=Path(f"/var/snap/{snap_name}/x1"),
        revision="x1",
        name=snap_name,
    )
    return paths.sudoers, {flavour: sudoers.render(paths, flavour) for flavour in ("sudo", "sudo-rs")}


def portal_user(project: Project) -> str:
    return str(getattr(hooks_module(project, "env"), "PORTAL_USER", "snap_daemon"))


def audit_doc(project: Project) -> str:
    """docs/audit.md: everything that does not need a built snap."""
    metadata = project.load_metadata()
    parts, problems = project.load_parts()
    if problems:
        raise ToolError(
            "the part files have problems; the audit needs them valid",
            resolution="run `invoke check` and fix what it lists",
        )
    name = str(metadata.get("name", ""))
    user = portal_user(project)
    lines = [
        *snap_section(metadata, parts),
        *classic_section(),
        *root_section(metadata, user),
        *sudoers_section(project, name),
        *sources_section(project, metadata, parts),
    ]
    return "\n".join(lines)


def snap_section(metadata: dict[str, Any], parts: dict[str, PartFile]) -> list[str]:
    """The document's head and the snap's identity."""
    name = str(metadata.get("name", ""))
    lines = [
        f"# Audit: the `{name}` snap",
        "",
        "<!-- GENERATED by `invoke audit` from snap/metadata.yaml, parts/*.yaml and hooks/ondemand_hooks;",
        "     `invoke check` fails when it is out of date. Do not edit. -->",
        "",
        "For store reviewers: what the snap contains and where it comes from, what runs as root and",
        "why, the one file it writes outside its own directories, and why it is classic. Facts read",
        f"from a built snap (setuid/setgid and world-writable files, sizes) are in `{SNAP_AUDIT}`,",
        "written by `invoke audit --snap FILE`.",
        "",
        "## The snap",
        "",
    ]
    users = sorted((metadata.get("system-usernames") or {}).items())
    return lines + markdown_table(
        ["key", "value"],
        [
            ["name", name],
            [
                "version",
                f"{snap_version(parts)} (Open OnDemand's; local builds without it say `+stacks-only` "
                "and are never published)",
            ],
            ["base", str(metadata.get("base", ""))],
            ["confinement", str(metadata.get("confinement", ""))],
            ["grade", str(metadata.get("grade", ""))],
            ["license", str(metadata.get("license", ""))],
            ["architectures", ", ".join(sorted((metadata.get("platforms") or {}).keys()))],
            ["system users", ", ".join(f"`{u}` ({scope})" for u, scope in users) or "-"],
        ],
    )


def classic_section() -> list[str]:
    return ["", "## Why classic confinement", "", CLASSIC.rstrip(), ""]


def root_section(metadata: dict[str, Any], user: str) -> list[str]:
    """Every app and hook, what it runs as and why (ROOT_NOTES), and the privilege drops."""
    undocumented = ("**not documented**", "add an entry to ROOT_NOTES in snapbuild/recipe/auditdoc.py")
    rows = []
    for app, spec in sorted((metadata.get("apps") or {}).items()):
        kind = f"daemon ({spec.get('daemon')})" if spec.get("daemon") else "command"
        if spec.get("timer"):
            kind += f", timer `{spec['timer']}`"
        runs_as, why = ROOT_NOTES.get(app, undocumented)
        rows.append(
            [f"app `{app}`", kind, f"`{spec.get('command', '')}`", runs_as.format(user=user), why.format(user=user)]
        )
    for hook in sorted(metadata.get("hooks") or {}):
        runs_as, why = ROOT_NOTES.get(hook, undocumented)
        rows.append(
            [f"hook `{hook}`", "hook", f"`meta/hooks/{hook}`", runs_as.format(user=user), why.format(user=user)]
        )
    return (
        ["## What runs as root, and why", ""]
        + markdown_table(["what", "kind", "runs", "as", "why"], rows)
        + [
            "",
            "Privilege drops, in order:",
            "",
            f"1. Apache's parent (root) → its request-serving children run as `{user}` "
            "(`User`/`Group` in the generated httpd.conf).",
            f"2. `{user}` → root, only for `nginx_stage`, through the sudoers rule below (no other command, no shell).",
            "3. `nginx_stage` (root) → each user's nginx, started under that user's own uid and gid; the user's",
            "   apps (Passenger) run as that user.",
            "",
        ]
    )


def sudoers_section(project: Project, name: str) -> list[str]:
    """The one file written outside the snap's directories, in the hooks' own words."""
    target, rules = sudoers_rule(project, name)
    return [
        "## The sudoers rule",
        "",
        f"`{target}`, mode 0440, owner root:root. The install and post-refresh hooks write it to a",
        "temporary file in /etc/sudoers.d, check it with `visudo -c -f`, and only then rename it into",
        "place; the remove hook deletes it. It is the only file the snap writes outside `$SNAP_COMMON`.",
        "The text comes from the hooks package's own renderer (`ondemand_hooks.sudoers.render`).",
        "",
        "With sudo:",
        "",
        "```",
        rules["sudo"].rstrip(),
        "```",
        "",
        "With sudo-rs (detected at install time; only the Defaults line differs):",
        "",
        "```",
        rules["sudo-rs"].rstrip(),
        "```",
        "",
        "`/snap/<name>/current/...` keeps the rule valid across refreshes; the snap's files are",
        "read-only (squashfs), so the command it names cannot be changed by anyone but a refresh.",
        "",
    ]


def sources_section(project: Project, metadata: dict[str, Any], parts: dict[str, PartFile]) -> list[str]:
    """Every input of both builds, the cache alternatives, the substitutions, what is unverified and
    what the build tools fetch themselves."""
    return [
        "## Sources",
        "",
        "Every input of the build, per part. `verified` means the bytes are pinned (sha256 or git",
        "commit) or checked by apt against a signed index; release builds refuse unverified sources",
        "(`invoke check --release`). Versions are the part files' (`declared`): what a build",
        "actually contains (each part's version read from the staged programs and files, every",
        "stage-package as name=version with its archive suite, whose userland the libraries are) is",
        "in the snap's `meta/build-info.yaml`, which `invoke check --snap` checks against the snap's",
        "files and `invoke audit --snap` lists.",
        "",
        *build_tables(str(metadata.get("base", "")), parts),
        *cache_section(parts),
        *substitution_section(project),
        "",
        "### Unverified sources",
        "",
        *(unverified_sources(parts) or ["None."]),
        "",
        "### Inputs the build tools fetch themselves",
        "",
        *(plugin_inputs(project, parts) or ["None."]),
        "",
    ]


SOURCE_HEADER = ["part", "declared", "source", "pin", "licence", "verified", "checksum provenance"]


def build_tables(base: str, parts: dict[str, PartFile]) -> list[str]:
    """The release build's sources and the archive build's, each with whose archive its stage-packages are."""
    userland = base_userland(base)
    host = archive_host()
    return [
        "### Release build (what the store gets: `snap/snapcraft.yaml`)",
        "",
        *markdown_table(
            SOURCE_HEADER + [f"stage-packages ({base}'s archive{': ' + userland.describe() if userland else ''})"],
            source_rows(parts, "upstream"),
        ),
        "",
        "### Archive build (`invoke build --source archive`: Debian 12 build hosts, test builds never published)",
        "",
        f"Its stage-packages are {host}'s, not {base}'s: libraries, Ruby, Python and Apache",
        "of another userland than the snap's base, which is why these builds are never published.",
        "",
        *markdown_table(
            SOURCE_HEADER + [f"stage-packages (the build host's archive: {host})"], source_rows(parts, "archive")
        ),
    ]


def cache_section(parts: dict[str, PartFile]) -> list[str]:
    return [
        "",
        "### Offline source cache alternatives (`invoke build --source-cache DIR`)",
        "",
        "A cache file stands in for an upstream source only if its sha256 is the pin below (and the",
        "cache's own `SHA256SUMS` agrees). Each holds the tree of the upstream commit named; its bytes",
        "differ from the upstream tarball's, so it has a pin of its own. `meta/build-info.yaml` in a",
        "built snap records, per part, whether the upstream source, a cache file or the archive was used.",
        "",
        *markdown_table(["part", "cache file", "pin", "tree of", "stands in for", "note"], cache_rows(parts)),
    ]


def substitution_section(project: Project) -> list[str]:
    return [
        "",
        "### Build-time substitutions in OnDemand's tree",
        "",
        f"Applied by `{SUBSTITUTIONS.parent.name}/ood-substitute` in `parts/ondemand.yaml`, from "
        f"`{project.relative(project.root / SUBSTITUTIONS)}`; a line whose upstream text is missing fails the build.",
        "",
        *markdown_table(["file", "upstream", "in the snap"], substitution_rows(project)),
    ]


def unverified_sources(parts: dict[str, PartFile]) -> list[str]:
    return [
        f"- `parts/{n}.yaml` {key}: {s.describe()}"
        for n, p in sorted(parts.items())
        for key, s in declared_sources(p)
        if s is not None and not s.verified
    ]
