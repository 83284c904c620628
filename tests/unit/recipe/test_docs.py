"""snapbuild.recipe.docs: docs/configuration.md, from the hooks package's configuration model."""

from __future__ import annotations

import sys

import pytest

from snapbuild.recipe import check, docs
from snapbuild.recipe.project import DEFAULT


def test_the_document_is_the_hooks_renderers_and_the_committed_one() -> None:
    text = docs.configuration_doc(DEFAULT)
    from ondemand_hooks.docs import render_configuration_doc

    assert text == render_configuration_doc()
    assert text.startswith("# Configuring the ondemand snap\n")
    assert text == (DEFAULT.root / "docs" / "configuration.md").read_text()


def test_the_projects_hooks_dir_goes_on_the_path_once(monkeypatch: pytest.MonkeyPatch) -> None:
    hooks = str(DEFAULT.root / "hooks")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != hooks])
    docs.configuration_doc(DEFAULT)
    docs.configuration_doc(DEFAULT)
    assert sys.path.count(hooks) == 1 and sys.path[0] == hooks
    assert sys.modules["ondemand_hooks.docs"].__file__.startswith(hooks)


def test_it_is_a_generated_file_that_invoke_check_compares() -> None:
    assert ("docs/configuration.md", docs.configuration_doc, "invoke generate") in check.generated_files(DEFAULT)
