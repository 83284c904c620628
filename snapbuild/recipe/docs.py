"""Documents generated from the hooks package's configuration model."""

from __future__ import annotations

from snapbuild.recipe.hookspkg import hooks_module
from snapbuild.recipe.project import Project


def configuration_doc(project: Project) -> str:
    """docs/configuration.md: every `snap set` key, from the model the configure hook enforces."""
    return str(hooks_module(project, "docs").render_configuration_doc())
