"""Tasks for the Open OnDemand snap. `invoke --list` shows them; `invoke --help TASK` details one.

Each task is a thin entry point into the `snapbuild` library; errors are ToolError with a
resolution, printed without a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

from invoke import task

from snapbuild.errors import ToolError
from snapbuild.project import DEFAULT as PROJECT


def _reported(function: Callable[..., Any]) -> Callable[..., Any]:
    """Print ToolErrors as `error: ...` plus the resolution and exit 1, instead of a traceback."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except ToolError as error:
            print(f"error: {error}", file=sys.stderr)
            sys.exit(1)

    return wrapper


@task
@_reported
def generate(c):
    """Write snap/snapcraft.yaml (and docs/configuration.md) from snap/metadata.yaml and parts/*.yaml."""
    from snapbuild.check import generated_files
    from snapbuild.fileutil import write_atomic

    for relative, produce, _ in generated_files():
        changed = write_atomic(PROJECT.root / relative, produce(PROJECT))
        print(f"{relative}: {'written' if changed else 'unchanged'}")


@task(help={"release": "also refuse unverified (unpinned) upstream sources, as release builds do"})
@_reported
def check(c, release=False):
    """Validate parts (through craft-parts), snap metadata, pins, downloads and generated-file drift."""
    from snapbuild.check import check_project
    from snapbuild.errors import describe

    report = check_project(PROJECT, release=release)
    for warning in report.warnings:
        print(f"warning: {warning}")
    if not report.ok:
        raise ToolError(
            f"invoke check: {len(report.problems)} problem(s)",
            "fix each problem as it says, then run `invoke check` again",
            describe(report.problems),
        )
    print(f"invoke check: ok ({len(report.warnings)} warning(s))")


@task(help={"unit_only": "run only the pytest unit tests (no LXD, no snapd)"})
@_reported
def test(c, unit_only=False):
    """Run the unit tests, then the spread suite against the built snap in real snapd (LXD)."""
    c.run(f"{sys.executable} -m pytest tests/unit -q", pty=False)
