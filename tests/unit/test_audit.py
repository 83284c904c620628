"""snapbuild.review.audit: the reviewer's report (docs/audit.md), the built snap's facts, and the diff."""

from __future__ import annotations

import shutil
import sys
import subprocess
from pathlib import Path

import pytest

from snapbuild.recipe import auditdoc, check
from snapbuild.recipe.project import DEFAULT, Project
from snapbuild.review import audit

needs_squashfs = pytest.mark.skipif(not (shutil.which("mksquashfs") and shutil.which("unsquashfs")), reason="needs squashfs-tools")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A copy of this project's inputs (metadata, parts, hooks package, local sources)."""
    root = tmp_path / "proj"
    for relative in ("snap/metadata.yaml", "parts", "hooks", "snap/local", "snap/hooks"):
        source = DEFAULT.root / relative
        if source.is_dir():
            shutil.copytree(source, root / relative, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (root / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / relative)
    return Project(root)


def test_audit_is_deterministic(project: Project) -> None:
    first = auditdoc.audit_doc(project)
    assert first == auditdoc.audit_doc(project)
    assert audit.audit_report(project, None) == first


def test_audit_sections(project: Project) -> None:
    text = auditdoc.audit_doc(project)
    for heading in ("## The snap", "## Why classic confinement", "## What runs as root, and why", "## The sudoers rule",
                    "## Sources", "### Release build", "### Archive build", "### Unverified sources"):
        assert f"\n{heading}" in text, heading
    assert "HPC orchestration agent that drops privileges to each user's uid and gid" in text
    assert "IDE whose file explorer and editor need the whole cluster filesystem" in text
    assert "| confinement | classic |" in text


def test_sudoers_text_is_the_hooks_renderer_output(project: Project) -> None:

    sys.path.insert(0, str(DEFAULT.root / "hooks"))
    from ondemand_hooks import sudoers
    from ondemand_hooks.env import Paths

    paths = Paths(snap=Path("/snap/ondemand/9"), snap_common=Path("/var/snap/ondemand/common"),
                  snap_data=Path("/var/snap/ondemand/9"), revision="9", name="ondemand")
    text = auditdoc.audit_doc(project)
    for flavour in ("sudo", "sudo-rs"):
        assert "```\n" + sudoers.render(paths, flavour) + "```" in text
    assert "`/etc/sudoers.d/snap-ondemand`, mode 0440" in text
    assert "snap_daemon ALL=(root) NOPASSWD: /snap/ondemand/current/sbin/nginx_stage" in text


def test_every_app_and_hook_is_explained() -> None:
    metadata = DEFAULT.load_metadata()
    for name in list(metadata.get("apps") or {}) + list(metadata.get("hooks") or {}):
        assert name in auditdoc.ROOT_NOTES, f"{name}: add a ROOT_NOTES entry in snapbuild/recipe/auditdoc.py"
    assert "**not documented**" not in auditdoc.audit_doc(DEFAULT)


def test_undocumented_app_is_flagged(project: Project) -> None:
    metadata = project.metadata_file.read_text().replace("apps:\n", "apps:\n  newcomer:\n    command: bin/update-portal\n", 1)
    project.metadata_file.write_text(metadata)
    assert "| app `newcomer` | command | `bin/update-portal` | **not documented** |" in auditdoc.audit_doc(project)


def test_every_part_is_listed_in_both_variants(project: Project) -> None:
    text = auditdoc.audit_doc(project)
    release = text.split("### Release build")[1].split("### Archive build")[0]
    archive = text.split("### Archive build")[1].split("### Unverified sources")[0]
    parts, _ = project.load_parts()
    for name, part in parts.items():
        assert f"\n| {name} | {part.upstream_version} |" in release, name
        assert f"\n| {name} |" in archive, name
        if part.upstream_source is not None and part.upstream_source.type == "tarball":
            assert part.upstream_source.sha256 in release
        if part.upstream_source is not None and part.upstream_source.type == "git":
            assert f"commit `{part.upstream_source.commit}`" in release
        if not part.has_archive:
            assert f"`--without {name}`" in archive


def test_unverified_source_is_called_out(project: Project) -> None:
    nginx = project.parts_dir / "nginx.yaml"
    text = nginx.read_text()
    sha = next(line.split(":", 1)[1].strip() for line in text.splitlines() if line.strip().startswith("sha256:"))
    nginx.write_text(text.replace(sha, "unverified", 1))
    report = auditdoc.audit_doc(project)
    assert "| **NO** |" in report.split("### Release build")[1].split("### Archive build")[0]
    unverified = report.split("### Unverified sources")[1].split("###")[0]
    assert "`parts/nginx.yaml` upstream.source: https://nginx.org/download/" in unverified


def test_plugin_fetched_inputs_are_listed(project: Project) -> None:
    # A python-plugin part over the hooks package would pip-install its dependencies from PyPI.
    (project.parts_dir / "pyhooks.yaml").write_text(
        "summary: hooks via pip\nlicense: MIT\nupstream:\n  version: '1'\n"
        "  source: {type: local, path: hooks}\npart:\n  plugin: python\n"
    )
    text = auditdoc.audit_doc(project).split("### Inputs the build tools fetch themselves")[1]
    assert "`parts/pyhooks.yaml`: pip installs `PyYAML>=6` from PyPI" in text


def test_the_snaps_python_takes_nothing_from_pypi(project: Project) -> None:
    text = auditdoc.audit_doc(project).split("### Inputs the build tools fetch themselves")[1]
    assert "PyPI" not in text.split("###")[0]


def test_registered_for_drift_checking() -> None:
    assert ("docs/audit.md", auditdoc.audit_doc, "invoke audit") in check.generated_files(DEFAULT)


def test_stale_audit_is_a_drift_problem(project: Project) -> None:
    (project.root / "docs").mkdir()
    (project.root / "docs" / "audit.md").write_text(auditdoc.audit_doc(project))
    assert not [p for p in check.drift_problems(project) if p.startswith("docs/audit.md")]
    (project.parts_dir / "node.yaml").write_text((project.parts_dir / "node.yaml").read_text().replace("license: MIT", "license: ISC"))
    stale = [p for p in check.drift_problems(project) if p.startswith("docs/audit.md")]
    assert len(stale) == 1 and "run `invoke audit`" in stale[0]


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args], cwd=root, check=True,
                   capture_output=True)


def test_run_audit_writes_and_prints_the_diff_against_the_committed_audit(
        project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    current = auditdoc.audit_doc(project)
    (project.root / "docs").mkdir()
    (project.root / "docs" / "audit.md").write_text(current.replace("| grade | stable |", "| grade | devel |"))
    git(project.root, "init", "-q")
    git(project.root, "add", "docs/audit.md")
    git(project.root, "commit", "-q", "-m", "old audit")
    diff = audit.run_audit(project)
    out = capsys.readouterr().out
    assert "docs/audit.md: written" in out
    assert "-| grade | devel |" in diff and "+| grade | stable |" in diff and diff in out
    assert (project.root / "docs" / "audit.md").read_text() == current
    # Regenerating again: the file is unchanged, but the diff is still against the commit.
    assert audit.run_audit(project) == diff
    git(project.root, "commit", "-q", "-am", "new audit")
    assert audit.run_audit(project) == ""
    assert "no change against the committed audit" in capsys.readouterr().out


def test_run_audit_without_git_or_previous_file(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    diff = audit.run_audit(project)
    assert diff.startswith("--- docs/audit.md (committed)") and "+# Audit: the `ondemand` snap" in diff


def make_snap(tmp_path: Path) -> Path:
    prime = tmp_path / "prime"
    (prime / "meta").mkdir(parents=True)
    (prime / "meta" / "snap.yaml").write_text("name: ondemand\nversion: '4.2.3'\n")
    (prime / "bin").mkdir()
    for name, mode in (("ok", 0o755), ("setuid", 0o4755), ("setgid", 0o2755)):
        (prime / "bin" / name).write_text("#!/bin/sh\n")
        (prime / "bin" / name).chmod(mode)
    (prime / "share").mkdir()
    (prime / "share" / "open").write_text("x" * 100)
    (prime / "share" / "open").chmod(0o666)
    snap = tmp_path / "ondemand_4.2.3_amd64.snap"
    subprocess.run(["mksquashfs", str(prime), str(snap), "-noappend", "-all-root", "-no-progress", "-quiet"],
                   check=True, capture_output=True)
    return snap


@needs_squashfs
def test_snap_facts(tmp_path: Path, project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    snap = make_snap(tmp_path)
    text = audit.snap_audit(snap)
    setid = text.split("## setuid / setgid files")[1].split("##")[0]
    assert "`bin/setuid` -rwsr-xr-x" in setid and "`bin/setgid` -rwxr-sr-x" in setid and "bin/ok" not in setid
    writable = text.split("## World-writable files")[1].split("##")[0]
    assert "`share/open` -rw-rw-rw-" in writable
    assert "- 5 files, 0 symlinks, 3 directories, 0 other" in text
    assert "| `share` | 100 |" in text and "| `bin` | 30 |" in text
    report = audit.audit_report(project, snap)
    assert report.startswith(auditdoc.audit_doc(project)) and "# Audit of `ondemand_4.2.3_amd64.snap`" in report
    audit.run_audit(project, snap)
    assert (project.root / "build" / "audit-snap.md").read_text() == text
    assert "build/audit-snap.md: written" in capsys.readouterr().out


@needs_squashfs
def test_clean_snap_says_none(tmp_path: Path) -> None:
    prime = tmp_path / "p"
    (prime / "meta").mkdir(parents=True)
    (prime / "meta" / "snap.yaml").write_text("name: x\n")
    snap = tmp_path / "x.snap"
    subprocess.run(["mksquashfs", str(prime), str(snap), "-noappend", "-all-root", "-no-progress", "-quiet"], check=True, capture_output=True)
    text = audit.snap_audit(snap)
    assert text.split("## setuid / setgid files (expected: none)")[1].split("##")[0].strip() == "None."
    assert text.split("## World-writable files (expected: none)")[1].split("##")[0].strip() == "None."


@needs_squashfs
def test_module_entry_point(tmp_path: Path) -> None:
    snap = make_snap(tmp_path)
    done = subprocess.run([sys.executable, "-m", "snapbuild.review.audit", str(snap)], cwd=DEFAULT.root,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout == audit.snap_audit(snap)
