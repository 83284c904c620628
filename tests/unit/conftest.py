"""Fixtures the tooling's tests share (tests/unit/hooks has its own): `project`, a copy of this
repository's inputs, and `built`, a prime dir with the build-info pack.build_info writes for it."""

from tests.unit.recipe.projects import project  # noqa: F401
from tests.unit.snaps import built  # noqa: F401
