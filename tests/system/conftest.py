"""Fixtures of the system suite: the snap under test in real snapd, in an LXD container.

Run with `pytest tests/system` (root, LXD; see snapbuild/systemtest.py). The snap is
$ONDEMAND_SNAP or the newest ./ondemand_*.snap; without one every test is skipped with the
reason. ONDEMAND_KEEP=1 keeps the container when a test failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from snapbuild import systemtest
from snapbuild.project import DEFAULT as PROJECT

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.system)


@pytest.fixture(scope="session")
def snap_under_test() -> Path:
    snap = systemtest.find_snap(PROJECT.root)
    if snap is None:
        pytest.skip(systemtest.no_snap_reason(PROJECT.root))
    return snap


@pytest.fixture(scope="session")
def system(request: pytest.FixtureRequest, snap_under_test: Path) -> Iterator[systemtest.SystemContainer]:
    """One container for the whole session: launching is cheap, but the machine has 2 cores."""
    def keep() -> bool:
        return systemtest.keep_requested() and request.session.testsfailed > 0

    with systemtest.system_container(snap_under_test, keep=keep) as container:
        yield container


@pytest.fixture
def installed(system: systemtest.SystemContainer) -> systemtest.SystemContainer:
    """The container with the snap installed (a test before may have removed it)."""
    system.ensure_installed()
    return system
