"""snapbuild.recipe.docs: docs/configuration.md, from the hooks package's configuration model."""

from __future__ import annotations

from snapbuild.recipe import check, docs
from snapbuild.recipe.project import DEFAULT


def test_the_document_is_the_hooks_renderers_and_the_committed_one() -> None:
    text = docs.configuration_doc(DEFAULT)
    from ondemand_hooks.docs import render_configuration_doc

    assert text == render_configuration_doc()
    assert text.startswith("# Configuring the ondemand snap\n")
    assert text == (DEFAULT.root / "docs" / "configuration.md").read_text()


def test_it_is_a_generated_file_that_invoke_check_compares() -> None:
    assert ("docs/configuration.md", docs.configuration_doc, "invoke generate") in check.generated_files(DEFAULT)
