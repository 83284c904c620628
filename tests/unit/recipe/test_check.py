"""snapbuild.recipe.check (`invoke check`), on small fixture projects broken one way at a time,
and on the committed tree."""

from __future__ import annotations

import pytest

from snapbuild.errors import ToolError
from snapbuild.recipe import auditdoc, check
from snapbuild.recipe.check import check_project
from snapbuild.recipe.generate import generate_text, write_recipe
from snapbuild.recipe.project import DEFAULT, Project
from tests.unit.recipe.projects import (
    CACHED_TOOL,
    COMMIT,
    METADATA,
    ONDEMAND,
    SHA,
    TOOL,
    make_project,
    only,
    problems_of,
    runtime,
    two_platform_project,
)


def test_fixture_project_is_clean(tmp_path):
    project = make_project(tmp_path)
    report = check_project(project)
    assert report.problems == []
    assert report.warnings == []


def test_unknown_part_key(tmp_path):
    broken = TOOL.replace("  plugin: autotools\n", "  plugin: autotools\n  stage-pakages: [foo]\n")
    project = make_project(tmp_path)
    (project.parts_dir / "tool.yaml").write_text(broken)
    message = only([p for p in problems_of(project) if "craft-parts" in p])
    assert message.startswith("parts/tool.yaml: part: craft-parts:")
    assert "stage-pakages" in message


def test_unknown_part_file_key(tmp_path):
    project = make_project(tmp_path, tool=TOOL.replace("summary:", "sumary:"))
    problems = problems_of(project)
    assert "parts/tool.yaml: sumary: unknown key; allowed keys are" in problems[0]
    assert any(p.startswith("parts/tool.yaml: summary: missing") for p in problems)


def test_bad_plugin_property(tmp_path):
    project = make_project(
        tmp_path, tool=TOOL.replace("autotools-configure-parameters", "autotools-configure-paramters")
    )
    message = only([p for p in problems_of(project) if "craft-parts" in p])
    assert "parts/tool.yaml: part" in message and "autotools-configure-paramters" in message


def test_unknown_plugin(tmp_path):
    project = make_project(tmp_path, tool=TOOL.replace("plugin: autotools", "plugin: autotoolz"))
    problems = problems_of(project)
    assert any(p.startswith("parts/tool.yaml: part") and "autotoolz" in p for p in problems), problems


def test_after_cycle(tmp_path):
    project = make_project(
        tmp_path, tool=TOOL.replace("  plugin: autotools\n", "  plugin: autotools\n  after: [ondemand]\n")
    )
    cycle = [p for p in problems_of(project) if "cycle" in p]
    assert cycle and "ondemand -> tool -> ondemand" in cycle[0]
    assert cycle[0].startswith("parts/tool.yaml: part.after: dependency cycle") or cycle[0].startswith(
        "parts/ondemand.yaml: part.after: dependency cycle"
    )


def test_after_unknown_part(tmp_path):
    project = make_project(tmp_path, ondemand=ONDEMAND.replace("after: [tool]", "after: [toll]"))
    assert "parts/ondemand.yaml: part.after: no part named 'toll'" in only(
        [p for p in problems_of(project) if "toll" in p]
    )


def test_missing_sha256(tmp_path):
    project = make_project(tmp_path, tool=TOOL.replace(f", sha256: {SHA}", ""))
    message = only([p for p in problems_of(project) if "sha256" in p])
    assert message.startswith("parts/tool.yaml: upstream.source.sha256: missing; add the tarball's sha256")


def test_malformed_sha256(tmp_path):
    project = make_project(tmp_path, tool=TOOL.replace(SHA, "abc"))
    assert "'abc' is not 64 hex digits" in only([p for p in problems_of(project) if "sha256" in p])


def test_unverified_is_a_warning_but_refused_for_release(tmp_path):
    project = make_project(tmp_path, tool=TOOL.replace(SHA, "unverified"))
    report = check_project(project)
    assert report.problems == []
    assert report.warnings == [
        "parts/tool.yaml: upstream.source: https://example.invalid/tool-1.0.tar.gz is unverified (no sha256/commit pin)"
    ]
    release = only(problems_of(project, release=True))
    assert release.startswith("parts/tool.yaml: upstream.source:") and "release builds refuse" in release


def test_git_source_needs_a_commit(tmp_path):
    project = make_project(tmp_path, ondemand=ONDEMAND.replace(f", commit: {COMMIT}", ""))
    assert "parts/ondemand.yaml: upstream.source.commit: missing" in only(
        [p for p in problems_of(project) if "commit" in p]
    )


@pytest.mark.parametrize(
    "line, what",
    [
        ("curl -LO https://example.invalid/x.tgz", "curl"),
        ("wget -q example.invalid/x.tgz", "wget"),
        ("git clone https://example.invalid/x.git", "git clone/fetch"),
        ("npm install left-pad", "npm install/pack"),
    ],
)
def test_override_script_that_downloads(tmp_path, line, what):
    project = make_project(tmp_path, tool=TOOL.replace("    craftctl default\n", f"    {line}\n    craftctl default\n"))
    message = only([p for p in problems_of(project) if "downloads" in p])
    assert message.startswith(f"parts/tool.yaml: part.override-build line 1: downloads with {what}")
    assert "declare the input as a source" in message


def test_comment_mentioning_curl_is_not_a_download(tmp_path):
    project = make_project(
        tmp_path, tool=TOOL.replace("    craftctl default\n", "    # no curl here\n    craftctl default\n")
    )
    assert problems_of(project) == []


def test_source_keys_in_part_body_are_refused(tmp_path):
    project = make_project(tmp_path, tool=TOOL.replace("  plugin: autotools\n", "  plugin: autotools\n  source: .\n"))
    assert any(p.startswith("parts/tool.yaml: part.source: set by the generator") for p in problems_of(project))


def test_drift_is_reported(tmp_path):
    project = make_project(tmp_path)
    project.recipe_file.write_text(project.recipe_file.read_text().replace("grade: devel", "grade: stable"))
    message = only(problems_of(project))
    assert message.startswith("snap/snapcraft.yaml: differs from a fresh generation")
    assert "run `invoke generate`" in message


def test_app_command_must_be_provided(tmp_path):
    project = make_project(tmp_path, tool=TOOL.replace("provides: [bin/hello]", "provides: [bin/other]"))
    assert only(problems_of(project)).startswith(
        "snap/metadata.yaml: apps.hello.command: 'bin/hello' is provided by no part"
    )


def test_metadata_rules(tmp_path):
    project = make_project(tmp_path)
    text = METADATA.replace("name: ondemand", "name: OnDemand").replace("confinement: classic", "confinement: strict")
    text = text.replace("    daemon: simple\n", "    daemon: simpel\n")
    project.metadata_file.write_text(text)
    write_recipe(project)
    problems = problems_of(project)
    assert any(p.startswith("snap/metadata.yaml: name: 'OnDemand' is not a snap name") for p in problems)
    assert any(p.startswith("snap/metadata.yaml: confinement: must be classic") for p in problems)
    assert any(p.startswith("snap/metadata.yaml: apps.hello.daemon: 'simpel'") for p in problems)


def test_declared_hook_needs_a_script(tmp_path):
    project = make_project(tmp_path)
    (project.hooks_dir / "install").unlink()
    assert (
        only(problems_of(project)) == "snap/metadata.yaml: hooks.install: no snap/hooks/install; add the wrapper script"
    )


def test_all_problems_are_reported_together(tmp_path):
    project = make_project(
        tmp_path,
        tool=TOOL.replace(f", sha256: {SHA}", "").replace("craftctl default", "wget x"),
        ondemand=ONDEMAND.replace("after: [tool]", "after: [nope]"),
    )
    problems = problems_of(project)
    assert {"sha256", "downloads", "'nope'"} <= {
        key for key in ("sha256", "downloads", "'nope'") for p in problems if key in p
    }


def test_invalid_yaml_names_the_file(tmp_path):
    project = make_project(tmp_path, tool="summary: [unclosed\n")
    assert any(p.startswith("parts/tool.yaml: (file): not valid YAML") for p in problems_of(project))


def test_committed_tree_passes_check():
    """The repository's own recipe: `invoke check` must pass on what is committed."""
    report = check_project(DEFAULT)
    assert report.problems == []


# --- per-architecture sources ---------------------------------------------------------------------


def test_check_refuses_a_platform_without_a_source(tmp_path):
    project = two_platform_project(tmp_path, runtime=runtime(arm64=None))
    problem = only([p for p in problems_of(project) if "arm64" in p])
    assert problem.startswith("parts/runtime.yaml: upstream.source: no source for arm64")
    assert "snap/metadata.yaml platforms" in problem and "add upstream.source.arm64" in problem
    with pytest.raises(ToolError) as error:
        generate_text(project)  # the recipe is not generated with a platform that has no source
    assert "no source for arm64" in error.value.details


def test_check_passes_when_every_platform_has_its_source(tmp_path):
    project = two_platform_project(tmp_path, runtime=runtime())
    (tmp_path / "snap" / "snapcraft.yaml").write_text(generate_text(project))
    assert problems_of(project) == []


# --- cache entries and lock-pinned registries --------------------------------------------------


def test_same_on_a_remote_source_needs_a_cache_entry(tmp_path):
    no_cache = "\n".join(line for line in CACHED_TOOL.splitlines() if "cache:" not in line) + "\n"
    problem = only(problems_of(make_project(tmp_path, tool=no_cache)))
    assert (
        "archive.source.type: `same` only fits parts whose upstream source is local, absent, or has a `cache` entry"
        in problem
    )


def test_network_registries_allow_lock_pinned_fetches_only_where_declared(tmp_path):
    script = "  override-build: |\n    yarnpkg install --frozen-lockfile --registry https://registry.npmjs.org\n"
    undeclared = make_project(tmp_path / "a", tool=CACHED_TOOL + script)
    problem = only(problems_of(undeclared))
    assert "downloads with a URL" in problem and "`network:`" in problem
    declared = CACHED_TOOL.replace("provides:", "network: [https://registry.npmjs.org]\nprovides:") + script
    assert problems_of(make_project(tmp_path / "b", tool=declared)) == []


# --- generated files ------------------------------------------------------------------------------


def test_registered_for_drift_checking() -> None:
    assert ("docs/audit.md", auditdoc.audit_doc, "invoke audit") in check.generated_files(DEFAULT)


def test_stale_audit_is_a_drift_problem(project: Project) -> None:
    (project.root / "docs").mkdir()
    (project.root / "docs" / "audit.md").write_text(auditdoc.audit_doc(project))
    assert not [p for p in check.drift_problems(project) if p.startswith("docs/audit.md")]
    (project.parts_dir / "node.yaml").write_text(
        (project.parts_dir / "node.yaml").read_text().replace("license: MIT", "license: ISC")
    )
    stale = [p for p in check.drift_problems(project) if p.startswith("docs/audit.md")]
    assert len(stale) == 1 and "run `invoke audit`" in stale[0]
