"""Documents generated from the hooks package's configuration model."""

from __future__ import annotations

import sys

from snapbuild.recipe.project import Project


def configuration_doc(project: Project) -> str:
    """docs/configuration.md: every `snap set` key, from the model the configure hook enforces."""
    # The hooks package is a separate distribution (it ships inside the snap); import it from
    # the source tree so the document always matches the code next to it.
    hooks_dir = str(project.root / "hooks")
    if hooks_dir not in sys.path:
        sys.path.insert(0, hooks_dir)
    from ondemand_hooks.docs import render_configuration_doc

    return render_configuration_doc()
