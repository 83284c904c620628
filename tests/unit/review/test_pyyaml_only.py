"""The review layer runs where only PyYAML is installed: the arm64 CI job (.github/workflows/snap.yml)
runs `python -m snapbuild.review.snapcheck` and `python -m snapbuild.review.audit` in a venv with
nothing else. Here a subprocess refuses every import but the standard library's, PyYAML's and
snapbuild's (so craft-parts, invoke, requests, pydantic ... are unimportable), as that venv would."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from snapbuild.recipe.project import DEFAULT
from snapbuild.review import audit
from tests.unit.snaps import make_snap, needs_squashfs

ONLY_PYYAML = r"""
import importlib.abc
import sys

ALLOWED = set(sys.stdlib_module_names) | {"yaml", "_yaml", "snapbuild"}


class OnlyPyYAML(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] not in ALLOWED:
            raise ModuleNotFoundError(f"No module named {name!r} (only PyYAML here)", name=name)
        return None


sys.meta_path.insert(0, OnlyPyYAML())
"""
RUN_MODULE = (
    ONLY_PYYAML
    + r"""
import runpy
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""
)
ENTRY_POINTS = ["snapbuild.review.snapcheck", "snapbuild.review.audit"]


def only_pyyaml(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    # From the checkout, as the CI job runs it (the current directory is on sys.path).
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=DEFAULT.root, capture_output=True, text=True, timeout=120
    )


def test_the_subprocess_really_has_only_pyyaml() -> None:
    done = only_pyyaml(
        ONLY_PYYAML
        + r"""
import yaml
for name in ("craft_parts", "invoke", "requests"):
    try:
        __import__(name)
    except ModuleNotFoundError:
        print(name, "blocked")
"""
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["craft_parts blocked", "invoke blocked", "requests blocked"]


def test_the_review_package_imports_with_pyyaml_only() -> None:
    done = only_pyyaml(
        ONLY_PYYAML
        + r"""
import json
import snapbuild.review, snapbuild.review.snapcheck, snapbuild.review.audit
print(json.dumps(sorted(name for name in sys.modules if name.startswith("snapbuild"))))
"""
    )
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout))
    assert {
        "snapbuild.review.snapcheck",
        "snapbuild.review.audit",
        "snapbuild.build.buildfacts",
        "snapbuild.cli",
    } <= loaded
    # Nothing of the build machinery is imported on the way.
    assert not loaded & {"snapbuild.build.lifecycle", "snapbuild.build.backends", "snapbuild.recipe.check"}


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_the_entry_points_usage_paths_run_with_pyyaml_only(module: str) -> None:
    done = only_pyyaml(RUN_MODULE, module)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: unexpected arguments: (none)\n")
    assert f"\nusage: python -m {module} SNAP_FILE" in done.stderr and "Traceback" not in done.stderr
    helped = only_pyyaml(RUN_MODULE, module, "--help")
    assert helped.returncode == 0 and helped.stdout.startswith(f"usage: python -m {module} SNAP_FILE")


@needs_squashfs
def test_the_audit_of_a_snap_runs_with_pyyaml_only(tmp_path) -> None:
    snap = make_snap(tmp_path)
    done = only_pyyaml(RUN_MODULE, "snapbuild.review.audit", str(snap))
    assert done.returncode == 0, done.stderr
    assert done.stdout == audit.snap_audit(snap)
