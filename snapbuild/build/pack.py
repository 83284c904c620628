"""Turn a prime dir into a .snap: what snapcraft adds beyond prime, then `snap pack`.

`snap pack` (from snapd) validates meta/snap.yaml with snapd's own rules. The finished snap
is renamed into place only when complete, so a failed pack never replaces a good snap.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from snapbuild.build.buildfacts import part_facts, userland_note
from snapbuild.build.lifecycle import BuildPlan
from snapbuild.errors import ToolError, describe
from snapbuild.fileutil import write_atomic
from snapbuild.progress import say
from snapbuild.recipe.project import Project
from snapbuild.recipe.userland import base_userland

# Keys of snap/metadata.yaml that snapcraft consumes itself and that snap.yaml does not take.
SNAPCRAFT_ONLY = {"platforms", "parts", "build-base", "adopt-info"}


def snap_yaml(metadata: dict[str, Any], version: str, arch: str) -> dict[str, Any]:
    """meta/snap.yaml: the metadata as snapd reads it, for one architecture."""
    data = {key: value for key, value in metadata.items() if key not in SNAPCRAFT_ONLY}
    data["version"] = version
    data["architectures"] = [arch]
    data["hooks"] = {hook: spec or {} for hook, spec in (metadata.get("hooks") or {}).items()}
    order = [
        "name",
        "version",
        "summary",
        "description",
        "title",
        "license",
        "base",
        "confinement",
        "grade",
        "architectures",
    ]
    return {k: data[k] for k in order if k in data} | {k: v for k, v in data.items() if k not in order}


def missing_provides(plan: BuildPlan, prime: Path) -> list[str]:
    """Paths a part promised in `provides:` but did not prime: an app would fail at run time."""
    return [
        f"parts/{name}.yaml: provides {path!r} but the part did not put it in prime/; fix its build or the promise"
        for name in plan.included
        for path in plan.parts[name].provides
        if not (prime / path).exists() and not (prime / path).is_symlink()
    ]


def write_meta(
    project: Project, plan: BuildPlan, prime: Path, version: str, arch: str, work: Path | None = None
) -> None:
    """meta/snap.yaml, meta/hooks/* and meta/build-info.yaml (what this build contains: with the
    work dir, the versions read from what was staged, not the part files' intentions)."""
    problems = missing_provides(plan, prime)
    if problems:
        raise ToolError(
            "the primed snap lacks files its apps need; nothing was packed",
            resolution="fix the parts named below",
            details=describe(problems),
        )
    meta = prime / "meta"
    hooks = meta / "hooks"
    if hooks.exists():
        shutil.rmtree(hooks)
    hooks.mkdir(parents=True)
    metadata = project.load_metadata()
    for hook in metadata.get("hooks") or {}:
        shutil.copy2(project.hooks_dir / hook, hooks / hook)
        (hooks / hook).chmod(0o755)
    text = yaml.safe_dump(snap_yaml(metadata, version, arch), sort_keys=False, default_flow_style=False, width=100)
    write_atomic(meta / "snap.yaml", text)
    info = build_info(plan, prime, str(metadata.get("base", "")), work)
    write_atomic(meta / "build-info.yaml", yaml.safe_dump(info, sort_keys=True, width=200))


def build_info(plan: BuildPlan, prime: Path, base: str, work: Path | None = None) -> dict[str, Any]:
    """meta/build-info.yaml's content. With the lifecycle's work dir, each part's facts are read
    from what was staged (buildfacts.part_facts); without it only the plan is known."""
    info: dict[str, Any] = {"sources": plan.mode, "left-out": sorted(plan.without)}
    facts: dict[str, dict[str, Any]] = {}
    if work is not None:
        target = base_userland(base)
        info |= {
            "base": base,
            "base-userland": target.describe() if target else "unknown",
            "build-host": plan.host.describe(),
            "userland": userland_note(base, plan.host),
        }
        say(f"build-info: reading the staged versions and packages of {len(plan.included)} parts")
        for name in plan.included:
            part = plan.parts[name]
            facts[name] = part_facts(
                name,
                mode=plan.mode,
                declared=plan.versions[name],
                upstream_declared=part.upstream_version,
                origin=plan.origins[name],
                prime=prime,
                stage=work / "stage",
                work=work,
                host=plan.host,
                base=base,
            )
    info["parts"] = {name: part_info(plan, name, facts.get(name)) for name in plan.included}
    return info


def part_info(plan: BuildPlan, name: str, facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """What build-info says of one part: the version built (with `facts`, read from what was
    staged; else the part file's), where its input came from, and for a cache file the pin and
    the upstream tree it holds."""
    info: dict[str, Any] = {"version": plan.versions[name], "from": plan.origins[name], "source": plan.sources[name]}
    if facts:
        info |= facts
    source = plan.parts[name].source_for(plan.mode)
    if name in plan.cached and source is not None and source.cache is not None:
        info["cache"] = {
            "file": source.cache.file,
            "sha256": source.cache.sha256,
            "repository": source.cache.repository,
            "commit": source.cache.commit,
        }
    if plan.parts[name].network:
        info["lock-pinned-from"] = list(plan.parts[name].network)
    return info


def snap_pack(prime: Path, target: Path, compression: str = "lzo") -> Path:
    """`snap pack` prime into target atomically; returns target."""
    if shutil.which("snap") is None:
        raise ToolError(
            "`snap` is not installed; it packs and validates the snap",
            resolution="install snapd's command (`apt-get install snapd`; no running snapd is needed)",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".pack-") as scratch:
        result = subprocess.run(
            ["snap", "pack", f"--compression={compression}", f"--filename={target.name}", str(prime), scratch],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            said = result.stderr.strip()
            raise ToolError(
                f"snap pack refused {prime}: {said.splitlines()[-1] if said else 'no output'}",
                resolution=(
                    "fix snap/metadata.yaml (or the part that primed the offending file), then `invoke build` again; "
                    f"{target.name if target.exists() else 'no snap'} was left as it was"
                ),
                details=result.stderr + result.stdout,
            )
        os.replace(Path(scratch) / target.name, target)
    return target
