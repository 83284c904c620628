"""snapbuild.review.audit: `invoke audit` (docs/audit.md with its diff against the committed one)
and the facts of a built snap (build/audit-snap.md, `python -m snapbuild.review.audit`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from snapbuild.recipe import auditdoc
from snapbuild.recipe.project import DEFAULT, Project
from snapbuild.review import audit
from tests.unit.snaps import _edit, make_snap, needs_squashfs, snap_with


def test_the_report_without_a_snap_is_the_doc(project: Project) -> None:
    assert audit.audit_report(project, None) == auditdoc.audit_doc(project)


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def test_run_audit_writes_and_prints_the_diff_against_the_committed_audit(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
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
    subprocess.run(
        ["mksquashfs", str(prime), str(snap), "-noappend", "-all-root", "-no-progress", "-quiet"],
        check=True,
        capture_output=True,
    )
    text = audit.snap_audit(snap)
    assert text.split("## setuid / setgid files (expected: none)")[1].split("##")[0].strip() == "None."
    assert text.split("## World-writable files (expected: none)")[1].split("##")[0].strip() == "None."


@needs_squashfs
def test_module_entry_point(tmp_path: Path) -> None:
    snap = make_snap(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "snapbuild.review.audit", str(snap)], cwd=DEFAULT.root, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == audit.snap_audit(snap)


@needs_squashfs
def test_audit_of_a_snap_reports_the_built_versions_and_the_userland(built: tuple[Path, dict], tmp_path: Path) -> None:
    prime, info = built
    text = audit.snap_audit(snap_with(prime, info, tmp_path / "ok.snap"))
    section = text.split("## What was built (`meta/build-info.yaml`)")[1]
    assert "- base: core24 (Ubuntu 24.04 (noble)); build host: Debian 12 (bookworm)" in section
    assert "**stage-packages come from Debian 12 (bookworm)'s archive, not from Ubuntu 24.04 (noble)" in section
    assert (
        "| python | 3.11.2 | 3.11 | host-archive | python3.11 3.11.2-6+deb12u9 | Debian 12 (bookworm): bookworm, "
        "bookworm-security (3 packages) |"
    ) in section
    assert "| apache | 2.4.71 | 2.4 | host-archive | apache2-bin 2.4.71-1~deb12u1 |" in section
    assert "- agrees: every version above matches what the snap's files show." in section
    edited = audit.snap_audit(snap_with(prime, _edit(info, "ruby-3.2"), tmp_path / "edited.snap"))
    assert "- meta/build-info.yaml: parts.ruby.version is '3.2', but the snap has no usr/lib/ruby/3.2.0" in edited
    assert "- agrees" not in edited
