"""snapbuild.recipe.auditdoc: docs/audit.md, the reviewer's report, from the repository alone."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from snapbuild.errors import ToolError
from snapbuild.recipe import auditdoc
from snapbuild.recipe.project import DEFAULT, Project
from snapbuild.recipe.userland import LXD_BUILD_HOST


def test_audit_is_deterministic(project: Project) -> None:
    first = auditdoc.audit_doc(project)
    assert first == auditdoc.audit_doc(project)


def test_audit_sections(project: Project) -> None:
    text = auditdoc.audit_doc(project)
    for heading in (
        "## The snap",
        "## Why classic confinement",
        "## What runs as root, and why",
        "## The sudoers rule",
        "## Sources",
        "### Release build",
        "### Archive build",
        "### Unverified sources",
    ):
        assert f"\n{heading}" in text, heading
    assert "HPC orchestration agent that drops privileges to each user's uid and gid" in text
    assert "IDE whose file explorer and editor need the whole cluster filesystem" in text
    assert "| confinement | classic |" in text


def test_sudoers_text_is_the_hooks_renderer_output(project: Project) -> None:
    sys.path.insert(0, str(DEFAULT.root / "hooks"))
    from ondemand_hooks import sudoers
    from ondemand_hooks.env import Paths

    paths = Paths(
        snap=Path("/snap/ondemand/9"),
        snap_common=Path("/var/snap/ondemand/common"),
        snap_data=Path("/var/snap/ondemand/9"),
        revision="9",
        name="ondemand",
    )
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
    metadata = project.metadata_file.read_text().replace(
        "apps:\n", "apps:\n  newcomer:\n    command: bin/update-portal\n", 1
    )
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


def test_the_archive_build_names_the_lxd_build_host(project: Project) -> None:
    text = auditdoc.audit_doc(project).split("### Archive build")[1].split("### Offline source cache")[0]
    host = LXD_BUILD_HOST.describe()
    assert host == "Debian 12 (bookworm)"
    assert f"| stage-packages (the build host's archive: {host}) |" in text
    assert f"Its stage-packages are {host}'s, not core24's" in text


def test_tables_escape_what_markdown_would_take_as_cells() -> None:
    assert auditdoc.markdown_table(["a", "b"], [["x|y", "one\ntwo"]]) == [
        "| a | b |",
        "|---|---|",
        "| x\\|y | one two |",
    ]


def test_broken_part_files_stop_the_audit(project: Project) -> None:
    (project.parts_dir / "node.yaml").write_text("summary: [unclosed\n")
    with pytest.raises(ToolError) as raised:
        auditdoc.audit_doc(project)
    assert raised.value.brief == "the part files have problems; the audit needs them valid"
    assert raised.value.resolution == "run `invoke check` and fix what it lists"
