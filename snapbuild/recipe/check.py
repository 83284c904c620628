"""`invoke check`: validate the recipe inputs and the generated files, reporting every problem.

Each check returns problems as strings `file: key: what is wrong; how to fix it`. Nothing
here builds anything: craft-parts plans the lifecycle (about 10 ms) to validate the parts.
"""

from __future__ import annotations

import difflib
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snapbuild.errors import ToolError
from snapbuild.recipe.partfile import Mode, PartFile, arch_problems, declared_sources, platform_arches
from snapbuild.recipe.project import Project

# Commands that fetch something from the network: every input must be a declared source.
DOWNLOADERS = [
    (re.compile(r"\bcurl\b"), "curl"),
    (re.compile(r"\bwget\b"), "wget"),
    (re.compile(r"\bgit\s+(clone|fetch|pull|submodule\s+update)\b"), "git clone/fetch"),
    (re.compile(r"\bpip3?\s+(download|install)\b"), "pip download/install"),
    (re.compile(r"\bnpm\s+(install|i|pack|add)\b"), "npm install/pack"),
    (re.compile(r"\bgem\s+(install|fetch)\b"), "gem install/fetch"),
    (re.compile(r"\bapt(-get)?\s+(install|source|download)\b"), "apt-get install/source"),
    (re.compile(r"https?://"), "a URL"),
]
# Package managers that fetch what a committed lock file names: allowed only in parts that
# declare the registries they reach in `network:` (probed before a build, in the audit).
LOCK_FETCHERS = [
    (re.compile(r"\byarn(pkg|\.js)?\"?\s+(install|add)\b"), "yarn install"),
    (re.compile(r"\bbundle\s+install\b"), "bundle install"),
]

SNAP_NAME = re.compile(r"^(?=.*[a-z])[a-z0-9](?:-?[a-z0-9])*$")
SNAP_VERSION = re.compile(r"^[a-zA-Z0-9](?:[a-zA-Z0-9:.+~-]{0,30}[a-zA-Z0-9+~])?$")
APP_NAME = re.compile(r"^[a-zA-Z0-9](?:-?[a-zA-Z0-9])*$")
BASES = {"core18", "core20", "core22", "core24", "bare"}
DAEMONS = {"simple", "forking", "oneshot", "notify", "dbus"}
STOP_MODES = {
    "sigterm",
    "sigterm-all",
    "sighup",
    "sighup-all",
    "sigusr1",
    "sigusr1-all",
    "sigusr2",
    "sigusr2-all",
    "sigint",
    "sigint-all",
}
RESTART = {"on-failure", "on-success", "on-abnormal", "on-abort", "on-watchdog", "always", "never"}
HOOKS = {"install", "configure", "pre-refresh", "post-refresh", "remove", "default-configure", "check-health"}
APP_KEYS = {
    "command",
    "daemon",
    "restart-condition",
    "stop-mode",
    "timer",
    "install-mode",
    "environment",
    "command-chain",
    "stop-timeout",
    "start-timeout",
    "refresh-mode",
    "before",
    "after",
    "plugs",
    "slots",
    "restart-delay",
    "post-stop-command",
    "reload-command",
    "stop-command",
    "sockets",
    "activates-on",
    "passthrough",
}
REQUIRED_TOP = ["name", "summary", "description", "license", "base", "confinement", "grade", "platforms", "apps"]


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def craft_parts_problems(parts: dict[str, PartFile], work: Path) -> list[str]:
    """Each part through craft-parts' own validation, in both modes; a fault shared by both is reported once."""
    problems = _craft_parts_problems(parts, "upstream", work)
    upstream_faults = {p.split("craft-parts:", 1)[1] for p in problems}
    archive = _craft_parts_problems(parts, "archive", work)
    return problems + [p for p in archive if p.split("craft-parts:", 1)[1] not in upstream_faults]


def _craft_parts_problems(parts: dict[str, PartFile], mode: Mode, work: Path) -> list[str]:
    """Each part alone through craft-parts' validation, so one bad part hides no other."""
    from craft_parts import LifecycleManager, PartsError, Step

    problems = []
    for name, part in sorted(parts.items()):
        if mode == "archive" and not part.has_archive:
            continue
        body = part.resolve(mode)
        body.pop("after", None)  # dependencies are checked across parts below
        try:
            LifecycleManager(
                {"parts": {name: body}},
                application_name="ondemand",
                cache_dir=work / "cache",
                work_dir=work / name,
                base="core24",
                project_name="ondemand",
            ).plan(Step.PRIME)
        except PartsError as error:
            details = " ".join((error.details or "").split())
            key = "part" if mode == "upstream" else "part (with archive.part)"
            problems.append(
                f"{part.where(key)}: craft-parts: {error.brief} {details}".rstrip()
                + f"; {error.resolution or 'see docs/parts.md'}"
            )
        except (ValueError, TypeError) as error:  # plugin registry raises plain errors
            problems.append(f"{part.where('part.plugin')}: craft-parts: {error}; use a plugin craft-parts provides")
    return problems


def dependency_problems(parts: dict[str, PartFile]) -> list[str]:
    """`after:` must name existing parts and must not form a cycle."""
    problems = []
    graph: dict[str, list[str]] = {}
    for name, part in sorted(parts.items()):
        after = part.body.get("after", [])
        if not isinstance(after, list):
            problems.append(f"{part.where('part.after')}: must be a list of part names")
            continue
        graph[name] = [a for a in after if a in parts]
        for missing in [a for a in after if a not in parts]:
            problems.append(
                f"{part.where('part.after')}: no part named {missing!r}; parts are {', '.join(sorted(parts))}"
            )
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in graph.get(node, []):
            if state.get(nxt) == "open":
                cycle = trail[trail.index(nxt) :] + [nxt] if nxt in trail else [node, nxt]
                problems.append(
                    f"{parts[node].where('part.after')}: dependency cycle {' -> '.join(cycle)}; "
                    "remove one of these `after:` entries"
                )
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return problems


def download_problems(parts: dict[str, PartFile]) -> list[str]:
    """No network fetches inside override scripts, in either mode."""
    problems = []
    for _name, part in sorted(parts.items()):
        for prefix, body in (("part", part.body), ("archive.part", part.archive_overrides)):
            for key, script in sorted(body.items()):
                if not key.startswith("override-") or not isinstance(script, str):
                    continue
                for number, line in enumerate(script.splitlines(), 1):
                    what = _download_in(line, part.network)
                    if what:
                        problems.append(
                            f"{part.where(f'{prefix}.{key}')} line {number}: downloads with {what} "
                            f"({line.strip()!r}); declare the input as a source or build-package instead"
                            + ("" if part.network else ", or its registry under `network:` if a lock file pins it")
                        )
    return problems


def _download_in(line: str, network: list[str]) -> str | None:
    """What in one script line fetches from the network outside the part's declared registries."""
    code = line.split(" #", 1)[0] if not line.lstrip().startswith("#") else ""
    for registry in network:
        code = code.replace(registry, "")
    found = next((what for pattern, what in DOWNLOADERS if pattern.search(code)), None)
    if found is None and not network:
        found = next((what for pattern, what in LOCK_FETCHERS if pattern.search(code)), None)
    return found


def pin_problems(parts: dict[str, PartFile], release: bool) -> tuple[list[str], list[str]]:
    """Unverified sources: warnings normally, errors for a release."""
    problems, warnings = [], []
    for _name, part in sorted(parts.items()):
        for key, source in declared_sources(part):
            if source is None or source.verified:
                continue
            text = f"{part.where(key)}: {source.describe()} is unverified (no sha256/commit pin)"
            if release and key.startswith("upstream.source"):
                problems.append(text + "; release builds refuse unverified sources: add its sha256")
            else:
                warnings.append(text)
    return problems, warnings


def metadata_problems(
    project: Project, metadata: dict[str, Any], parts: dict[str, PartFile], version: str
) -> list[str]:
    """Top-level keys against the snap rules that `snap pack` and the store enforce."""
    where = project.relative(project.metadata_file)
    problems = [f"{where}: {key}: missing; every snap declares it" for key in REQUIRED_TOP if key not in metadata]
    if "version" in metadata:
        problems.append(f"{where}: version: set from parts/ondemand.yaml upstream.version; remove it here")
    name = str(metadata.get("name", ""))
    if name and (not SNAP_NAME.match(name) or len(name) > 40):
        problems.append(f"{where}: name: {name!r} is not a snap name (lowercase letters, digits, single dashes; ≤40)")
    if not SNAP_VERSION.match(version):
        problems.append(
            f"{where}: version {version!r} (from parts/ondemand.yaml) is not a snap version (≤32 of [a-zA-Z0-9.+~-])"
        )
    if len(str(metadata.get("summary", ""))) > 78:
        problems.append(f"{where}: summary: longer than 78 characters; shorten it")
    if len(str(metadata.get("title", ""))) > 40:
        problems.append(f"{where}: title: longer than 40 characters; shorten it")
    if "base" in metadata and metadata["base"] not in BASES:
        problems.append(f"{where}: base: {metadata['base']!r} is not one of {', '.join(sorted(BASES))}")
    if "confinement" in metadata and metadata["confinement"] != "classic":
        problems.append(f"{where}: confinement: must be classic (see README: the per-user nginx needs it)")
    if "grade" in metadata and metadata["grade"] not in {"stable", "devel"}:
        problems.append(f"{where}: grade: must be stable or devel")

    provided = {p for part in parts.values() for p in part.provides}
    apps = metadata.get("apps") or {}
    if not isinstance(apps, dict):
        return problems + [f"{where}: apps: must be a mapping of app name to app"]
    for app, spec in sorted(apps.items()):
        key = f"{where}: apps.{app}"
        if not APP_NAME.match(str(app)):
            problems.append(f"{key}: not a valid app name (letters, digits, single dashes)")
        if not isinstance(spec, dict):
            problems.append(f"{key}: must be a mapping with at least `command`")
            continue
        problems += [
            f"{key}.{k}: unknown app key; allowed: {', '.join(sorted(APP_KEYS))}" for k in spec if k not in APP_KEYS
        ]
        command = str(spec.get("command", "")).split()
        if not command:
            problems.append(f"{key}.command: missing; name the program in the snap to run")
        elif command[0] not in provided:
            problems.append(
                f"{key}.command: {command[0]!r} is provided by no part; add it to some part's `provides:` "
                "(and make that part install it)"
            )
        daemon = spec.get("daemon")
        if daemon is not None and daemon not in DAEMONS:
            problems.append(f"{key}.daemon: {daemon!r} is not one of {', '.join(sorted(DAEMONS))}")
        for sub, allowed in (("stop-mode", STOP_MODES), ("restart-condition", RESTART)):
            if sub in spec and (daemon is None or spec[sub] not in allowed):
                problems.append(f"{key}.{sub}: needs `daemon:` and one of {', '.join(sorted(allowed))}")
        if "timer" in spec and daemon is None:
            problems.append(f"{key}.timer: only daemons can have a timer; add `daemon: oneshot`")

    hooks = metadata.get("hooks") or {}
    for hook in sorted(hooks):
        script = project.hooks_dir / hook
        if hook not in HOOKS and not re.match(r"^(prepare|unprepare|connect|disconnect)-(plug|slot)-", hook):
            problems.append(f"{where}: hooks.{hook}: not a snapd hook name ({', '.join(sorted(HOOKS))})")
        elif not script.is_file():
            problems.append(f"{where}: hooks.{hook}: no {project.relative(script)}; add the wrapper script")
        elif not script.stat().st_mode & 0o111:
            problems.append(f"{project.relative(script)}: not executable; run `chmod +x {project.relative(script)}`")
    for script in sorted(project.hooks_dir.glob("*")) if project.hooks_dir.is_dir() else []:
        if script.name not in hooks:
            problems.append(
                f"{project.relative(script)}: a hook not declared under hooks: in {where}; declare or delete it"
            )
    return problems


def provides_problems(parts: dict[str, PartFile], project: Project) -> list[str]:
    """A dump part from a local directory must actually contain what it promises."""
    problems = []
    for _name, part in sorted(parts.items()):
        source = part.upstream_source
        if source is None or source.type != "local" or part.body.get("plugin") != "dump":
            continue
        for path in part.provides:
            if not (project.root / source.path / path).exists():
                problems.append(
                    f"{part.where('provides')}: {path!r} is not in {source.path}/; add it or drop the promise"
                )
    return problems


# Files generated from the sources; each must equal a fresh generation. Registered by the
# modules that generate them, so `invoke check` covers every generated file.
GeneratedFile = tuple[str, Callable[[Project], str], str]


def generated_files(project: Project) -> list[GeneratedFile]:
    from snapbuild.recipe.docs import configuration_doc
    from snapbuild.recipe.generate import generate_text

    files: list[GeneratedFile] = [("snap/snapcraft.yaml", generate_text, "invoke generate")]
    if (project.root / "hooks" / "ondemand_hooks").is_dir():  # projects without hooks: test fixtures
        from snapbuild.recipe.auditdoc import audit_doc

        files.append(("docs/configuration.md", configuration_doc, "invoke generate"))
        files.append(("docs/audit.md", audit_doc, "invoke audit"))
    return files


def drift_problems(project: Project) -> list[str]:
    problems = []
    for relative, generate, command in generated_files(project):
        path = project.root / relative
        try:
            fresh = generate(project)
        except ToolError:
            continue  # the input problems are reported by the other checks
        current = path.read_text() if path.exists() else ""
        if current != fresh:
            diff = list(
                difflib.unified_diff(
                    current.splitlines(), fresh.splitlines(), "committed", "generated", lineterm="", n=0
                )
            )
            excerpt = "; ".join(line for line in diff[2:8])
            problems.append(f"{relative}: differs from a fresh generation ({excerpt}); run `{command}` and commit it")
    return problems


def check_project(project: Project, release: bool = False) -> Report:
    """Every check; the report lists all problems and warnings."""
    from snapbuild.recipe.generate import snap_version

    report = Report()
    parts, report.problems = project.load_parts()
    try:
        metadata = project.load_metadata()
    except ToolError as error:
        report.problems.append(str(error))
        metadata = {}
    try:
        version = snap_version(parts)
    except ToolError as error:
        report.problems.append(error.brief + "; " + error.resolution)
        version = "0"
    with tempfile.TemporaryDirectory(prefix="ondemand-check-") as work:
        report.problems += craft_parts_problems(parts, Path(work))
    report.problems += dependency_problems(parts)
    report.problems += download_problems(parts)
    pins, report.warnings = pin_problems(parts, release)
    report.problems += pins
    if metadata:
        report.problems += metadata_problems(project, metadata, parts, version)
        report.problems += arch_problems(parts, platform_arches(metadata), project.relative(project.metadata_file))
    report.problems += provides_problems(parts, project)
    report.problems += drift_problems(project)
    return report
