"""Run the parts lifecycle (pull → build → stage → prime) with craft-parts, on this machine.

This is the `--destructive` backend; the LXD backend runs the same thing inside a container.
Incremental: craft-parts keeps state in the work dir, so only outdated steps re-run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snapbuild.build.buildfacts import host_distribution, userland_note
from snapbuild.build.sourcecache import SourceCache
from snapbuild.errors import ToolError, describe
from snapbuild.fileutil import write_atomic
from snapbuild.progress import say
from snapbuild.recipe.partfile import Mode, PartFile, Source, host_arch
from snapbuild.recipe.project import Project
from snapbuild.recipe.userland import Distribution, base_userland


@dataclass
class BuildPlan:
    """What a build will use: per part, the source it takes, and the parts left out."""

    mode: Mode
    parts: dict[str, PartFile]
    without: frozenset[str]
    sources: dict[str, str] = field(default_factory=dict)  # part -> description
    # part -> the part file's version for this mode (declared; build-info records what was built)
    versions: dict[str, str] = field(default_factory=dict)
    # part -> where its input comes from: upstream, cache, archive, local, or for stage-packages
    # only base-archive (the base's userland) or host-archive (another build host's, e.g. Debian 12).
    origins: dict[str, str] = field(default_factory=dict)
    cached: dict[str, Path] = field(default_factory=dict)  # part -> verified cache file
    cache: SourceCache | None = None
    # The machine whose archive stage-packages come from, and the snap's base: a local build on
    # Debian 12 stages Debian 12's libraries into a core24 snap.
    host: Distribution = field(default_factory=host_distribution)
    base: str = ""

    @property
    def included(self) -> list[str]:
        return sorted(name for name in self.parts if name not in self.without)

    def table(self) -> str:
        """Before the build: the part files' versions (`declared`; meta/build-info.yaml records
        what was built) and where each part's input comes from."""
        width = max(len(n) for n in self.parts) if self.parts else 4
        rows = [f"  {'part':<{width}}  {'declared':<14}  {'from':<12}  source ({self.mode})"]
        for name in sorted(self.parts):
            if name in self.without:
                rows.append(f"  {name:<{width}}  {'-':<14}  {'-':<12}  LEFT OUT (--without {name})")
            else:
                rows.append(
                    f"  {name:<{width}}  {self.versions[name]:<14}  {self.origins[name]:<12}  {self.sources[name]}"
                )
        if any(
            self.parts[name].body.get("stage-packages") or self.parts[name].archive_overrides.get("stage-packages")
            for name in self.included
        ):
            rows.append(f"  ({userland_note(self.base, self.host)})")
        return "\n".join(rows)


def make_plan(
    project: Project,
    mode: Mode,
    without: frozenset[str],
    cache: SourceCache | None = None,
    host: Distribution | None = None,
) -> BuildPlan:
    """Choose each part's source for `mode`; refuse unknown or still-needed `without` parts.

    With a source cache, a part whose upstream source has a cache entry present in the cache
    takes the cache file, verified against the part file's pin here, before any work. `host` is
    the build machine (default: this one), whose archive stage-packages come from.
    """
    parts, problems = project.load_parts()
    if problems:
        raise ToolError(
            "the part files have problems; nothing was built",
            resolution="run `invoke check` and fix what it lists",
            details=describe(problems),
        )
    unknown = sorted(without - set(parts))
    if unknown:
        raise ToolError(
            f"--without {', '.join(unknown)}: no such part", resolution=f"parts are: {', '.join(sorted(parts))}"
        )
    needed = {dep: name for name, part in parts.items() if name not in without for dep in part.body.get("after", [])}
    still_needed = sorted(p for p in without if p in needed)
    if still_needed:
        raise ToolError(
            f"--without {', '.join(still_needed)}: needed by part {needed[still_needed[0]]} (its `after:`)",
            resolution="leave that part out too, or keep this one",
        )
    plan = BuildPlan(
        mode=mode,
        parts=parts,
        without=without,
        cache=cache,
        host=host or host_distribution(),
        base=str(project.load_metadata().get("base", "")),
    )
    missing = []
    for name in plan.included:
        part = parts[name]
        gap = _arch_gap(part, mode)
        if gap:
            missing.append(f"{name}: {part.where(gap)} has no source for {part.arch}, this machine's architecture")
            continue
        if mode == "archive" and not part.has_archive:
            source = part.upstream_source
            missing.append(
                f"{name}: has no archive source; its upstream source {source.describe() if source else '-'} is needed"
            )
            continue
        source = part.source_for(mode)
        from_archive = mode == "archive" and source is part.archive_source
        # An archive block's version (default: upstream's) is what a Debian 12 host builds,
        # also when it keeps the upstream source (`same`): Ruby and Python are Debian's.
        plan.versions[name] = part.archive_version if mode == "archive" else part.upstream_version
        if source is None:
            # Named for whose archive it is: only a build on the base's own userland is "base".
            target = base_userland(plan.base)
            plan.origins[name] = "base-archive" if target and plan.host.same_userland(target) else "host-archive"
            plan.sources[name] = f"packages from the build host's archive, {plan.host.describe()}"
        elif cache is not None and source.cache is not None and cache.has(source.cache):
            plan.cached[name] = cache.verified_path(name, source.cache)
            plan.origins[name] = "cache"
            plan.sources[name] = f"{source.cache.describe()} for {source.describe()}"
        else:
            plan.origins[name] = "archive" if from_archive else ("local" if source.type == "local" else "upstream")
            plan.sources[name] = source.describe()
    if missing:
        raise ToolError(
            f"cannot build from the {mode} sources: {len(missing)} part(s) cannot be sourced; nothing was built",
            resolution=(
                f"build without them: `invoke build --without {','.join(m.split(':')[0] for m in missing)}` "
                "(the snap's version then says so), or build where the upstream sources are reachable"
            ),
            details=describe(missing),
        )
    return plan


def _arch_gap(part: PartFile, mode: Mode) -> str | None:
    """The per-architecture source block a `mode` build needs that has no entry for the part's
    arch (parts are loaded for this machine's): without it the part would silently build sourceless."""
    if mode == "archive" and part.archive_by_arch:
        key = "archive.source"
    elif mode == "archive" and part.archive_source is not None and part.archive_source.type != "same":
        return None
    else:
        key = "upstream.source"
    return key if (key, part.arch) in part.missing_arches([part.arch]) else None


def _remote_source(plan: BuildPlan, name: str) -> Source | None:
    """The source a part fetches over the network in this build, if any (apt reports its own errors)."""
    source = plan.parts[name].source_for(plan.mode)
    if name in plan.cached or source is None or not source.remote:
        return None
    return source


def unreachable_sources(plan: BuildPlan, timeout: float = 8.0) -> list[str]:
    """Remote inputs of the included parts that do not answer (probed before any work):
    their sources, and the registries their build tools fetch lock-pinned packages from."""
    import requests

    from snapbuild.build.net import ca_bundle

    failures = []
    probed: dict[str, str | None] = {}
    for name in plan.included:
        part = plan.parts[name]
        source = _remote_source(plan, name)
        urls = ([source.url] if source else []) + part.network
        for url in urls:
            if url not in probed:
                try:
                    requests.head(url, timeout=timeout, allow_redirects=True, verify=ca_bundle())
                    probed[url] = None
                except requests.RequestException as error:
                    probed[url] = type(error).__name__
            if probed[url]:
                fix = (
                    "--source-cache DIR with its cache entry"
                    if source and url == source.url and source.cache
                    else f"--without {name}"
                )
                failures.append(f"{name}: {url} ({probed[url]}); the build could go on with {fix}")
    return failures


def resolved_parts(plan: BuildPlan, fetched: dict[str, Path]) -> dict[str, dict[str, Any]]:
    parts = {}
    for name in plan.included:
        body = plan.parts[name].resolve(plan.mode, fetched.get(name), plan.cached.get(name))
        # Local sources are relative to the project root; craft-parts resolves them from cwd.
        parts[name] = body
    return parts


def fetch_archive_sources(plan: BuildPlan, work: Path) -> dict[str, Path]:
    """apt-get source every apt-source part (cached), before the lifecycle runs."""
    from snapbuild.build.sources import fetch_archive_source

    fetched = {}
    for name in plan.included:
        source = plan.parts[name].archive_source
        if plan.mode == "archive" and source is not None and source.type == "apt-source":
            spec = {"package": source.package, "suite": source.suite, "version": source.version}
            fetched[name] = fetch_archive_source(name, spec, work / "apt-sources")
    return fetched


def run_lifecycle(project: Project, plan: BuildPlan, work: Path, base: str) -> Path:
    """Pull/build/stage/prime every included part; return the prime dir. One log file per part."""
    import os

    from craft_parts import LifecycleManager, PartsError, Step
    from craft_parts.actions import ActionType

    from snapbuild.build.net import use_system_trust

    use_system_trust()
    # Part scripts call `craftctl`, which lives next to the interpreter running craft-parts.
    tools = str(Path(sys.executable).parent)
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = tools + os.pathsep + os.environ.get("PATH", "")
    fetched = fetch_archive_sources(plan, work)
    parts = resolved_parts(plan, fetched)
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    os.chdir(project.root)  # local sources (hooks/, snap/local/...) are project-relative
    try:
        with _libyaml_states():  # the manager loads every state file
            manager = LifecycleManager(
                {"parts": parts},
                application_name="ondemand",
                project_name="ondemand",
                cache_dir=work / "cache",
                work_dir=work,
                arch=host_arch(),
                base=base,
                parallel_build_count=os.cpu_count() or 1,
            )
            actions = manager.plan(Step.PRIME)
    except PartsError as error:
        raise ToolError(
            f"craft-parts refused the parts: {error.brief}",
            resolution=error.resolution or "run `invoke check`",
            details=error.details or "",
        ) from None
    todo = [a for a in actions if a.action_type != ActionType.SKIP]
    listings = StageListings(work / STAGE_LISTINGS)
    say(f"lifecycle: {len(todo)} of {len(actions)} step(s) to run (the rest are up to date)")
    started = time.monotonic()
    timings: dict[str, dict[str, float]] = {}
    with listings.installed(), _libyaml_states(), manager.action_executor() as executor:
        for number, action in enumerate(todo, 1):
            label = f"[{number}/{len(todo)}] {action.step.name.lower():<5} {action.part_name}"
            if action.action_type != ActionType.RUN:
                label += f" ({action.action_type.name.lower()}: {action.reason or 'outdated'})"
            say(f"{label} ...")
            log = logs / f"{action.part_name}.log"
            began = time.monotonic()
            with log.open("a") as stream:
                stream.write(f"\n===== {action.step.name} {action.part_name} {time.ctime()} =====\n")
                stream.flush()
                try:
                    executor.execute(action, stdout=stream, stderr=stream)
                except PartsError as error:
                    raise _step_failed(action.part_name, action.step.name.lower(), log, error.brief) from None
                except Exception as error:  # a plugin crash still names the part and step
                    raise _step_failed(action.part_name, action.step.name.lower(), log, repr(error)) from None
            elapsed = time.monotonic() - began
            timings.setdefault(action.part_name, {})[action.step.name.lower()] = round(elapsed, 2)
            say(f"{label}: {elapsed:.1f}s")
    total = time.monotonic() - started
    say(f"lifecycle: done in {total:.1f}s")
    record_timings(work, timings, lifecycle=total)
    return work / "prime"


TIMINGS = "timings.json"


class _LibyamlLoader:
    """The yaml module as craft-parts' state loader sees it, loading with libyaml.

    craft-parts reads every part's state files (a stage or prime state lists each file the
    part ships) with the pure-Python loader: ~40 s of CPU per run for this snap, so most of a
    hooks-only rebuild. libyaml gives the same data for these plain documents."""

    def __init__(self, module: Any) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)

    def safe_load(self, stream: Any) -> Any:
        return self._module.load(stream, Loader=self._module.CSafeLoader)


@contextmanager
def _libyaml_states() -> Iterator[None]:
    import yaml
    from craft_parts.state_manager import states

    if not getattr(yaml, "__with_libyaml__", False) or getattr(states, "yaml", None) is not yaml:
        yield  # no libyaml, or a craft-parts that loads states otherwise: leave it as it is
        return
    module: Any = states  # its `yaml` global is what it loads state files with
    module.yaml = _LibyamlLoader(yaml)
    try:
        yield
    finally:
        module.yaml = yaml


STAGE_LISTINGS = "stage-listings.pickle"


class StageListings:
    """Keeps craft-parts' listing of each part's install dir between runs.

    Before every stage action craft-parts lists the install dir of every part to look for
    files two parts would stage differently: ~38k files and ~7 s here, most of a hooks-only
    rebuild. A part's install dir changes only when its build step runs, and that rewrites
    the part's build state file; so a listing is reused while the state file and the install
    dir keep their mtimes (and the part's `stage:` filter is the same), and made afresh
    otherwise. The comparison of the listings is still craft-parts' own, at every stage.
    """

    def __init__(self, path: Path) -> None:
        import pickle

        self.path = path
        try:
            self.saved: dict[tuple[str, str | None], tuple[tuple[object, ...], list[str]]] = pickle.loads(
                path.read_bytes()
            )
        except (OSError, pickle.PickleError, EOFError, AttributeError, ValueError):
            self.saved = {}

    @staticmethod
    def key(part: Any, partition: str | None) -> tuple[object, ...] | None:
        """What must stay the same for a saved listing to hold; None: no build state yet."""
        try:
            state = (part.part_state_dir / "build").stat().st_mtime_ns
            installed = part.part_install_dirs[partition].stat().st_mtime_ns
        except OSError:
            return None
        return (state, installed, tuple(part.spec.stage_files or ()))

    @contextmanager
    def installed(self) -> Iterator[None]:
        """craft-parts' listing function, wrapped, for the length of the block; saved after."""
        import pickle

        from craft_parts.executor import collisions

        original = getattr(collisions, "_get_candidate_from_install_dir", None)
        if original is None or not hasattr(collisions, "StageCandidate"):  # another craft-parts: no shortcut
            yield
            return

        def listing(part: Any, partition: str | None) -> Any:
            key = self.key(part, partition)
            saved = self.saved.get((part.name, partition))
            if key is not None and saved is not None and saved[0] == key:
                return collisions.StageCandidate(
                    part_name=part.name,
                    contents={Path(p) for p in saved[1]},
                    source_dir=part.part_install_dirs[partition],
                    permissions=part.spec.permissions,
                    is_overlay=False,
                )
            candidate = original(part, partition)
            if key is not None and candidate is not None:
                self.saved[(part.name, partition)] = (key, sorted(str(p) for p in candidate.contents))
            return candidate

        collisions._get_candidate_from_install_dir = listing
        try:
            yield
        finally:
            collisions._get_candidate_from_install_dir = original
            write_atomic(self.path, pickle.dumps(self.saved))


def load_timings(work: Path) -> dict[str, Any]:
    """Seconds per part and step, from the most recent run of each step (for `invoke bench-build`)."""
    import json

    path = work / TIMINGS
    return json.loads(path.read_text()) if path.exists() else {"steps": {}, "last": {}}


def record_timings(work: Path, steps: dict[str, dict[str, float]], **last: float) -> None:
    """Merge this run's step times into work/timings.json; `last` holds this run's totals."""
    import json

    data = load_timings(work)
    for part, by_step in steps.items():
        data["steps"].setdefault(part, {}).update(by_step)
    data["last"] = {key: round(value, 2) for key, value in last.items()}
    (work / TIMINGS).write_text(json.dumps(data, indent=1, sort_keys=True))


# craft-parts' words when two parts stage one path differently; in an incremental build that
# is usually a file that moved from one part to another since the work dir was made.
STAGE_CONFLICT = "parts list the same file with different contents or permissions"


def _step_failed(part: str, step: str, log: Path, brief: str) -> ToolError:
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    if STAGE_CONFLICT in brief:
        return ToolError(
            f"part {part}: {step} failed: {brief}",
            resolution=(
                "if a file moved between parts since the last build, the work dir still has the old part's "
                "copy: rebuild from a fresh one (`invoke build --clean`, or delete the work dir for "
                "--destructive); otherwise two part files ship the same path: give it to one part"
            ),
            details=tail,
        )
    return ToolError(
        f"part {part}: {step} failed: {brief}",
        resolution=(
            f"read the whole log at {log}; fix parts/{part}.yaml and run the build again (finished steps are kept)"
        ),
        details=tail,
    )
