"""The behaviour checks of tests/checks/, one test each, against the installed snap.

Tests run in file order on one container: `install` sees the fresh install, `remove` comes
last and reinstalls afterwards.
"""

from __future__ import annotations

from snapbuild.systemtest import REMOTE_SNAP, SNAP_NAME, SystemContainer, run_check


def test_install(installed: SystemContainer) -> None:
    result = run_check(installed, "install")
    assert result.ok, result.report()


def test_services(installed: SystemContainer) -> None:
    result = run_check(installed, "services")
    assert result.ok, result.report()


def test_configure_rollback(installed: SystemContainer) -> None:
    try:
        result = run_check(installed, "configure-rollback")
        assert result.ok, result.report()
        # The refusal above must come from validation, not from a hook that fails whatever
        # it gets: a valid port right after it is accepted and applied.
        vhost = f"/var/snap/{SNAP_NAME}/common/etc/apache2/ood-portal.conf"
        done = installed.sh(["snap", "set", SNAP_NAME, "portal.port=8080"], check=False)
        assert done.returncode == 0, f"snap set portal.port=8080 after a refused value failed: {done.stderr}"
        got = installed.sh(["snap", "get", SNAP_NAME, "portal.port"], check=False).stdout.strip()
        assert got == "8080", f"portal.port is {got!r} after setting 8080"
        conf = installed.sh(["cat", vhost], check=False).stdout
        assert "8080" in conf, f"{vhost} does not mention port 8080 after portal.port=8080:\n{conf}"
    finally:
        # Whatever happened, later tests start from the default port.
        unset = installed.sh(["snap", "unset", SNAP_NAME, "portal.port"], check=False)
    assert unset.returncode == 0, f"snap unset portal.port failed: {unset.stderr}"


# One check per key group (allowed, refused, invalid, unset); each unsets its keys when it
# exits, and `--restore` again afterwards in case it was killed.
def test_configure_portal(installed: SystemContainer) -> None:
    try:
        result = run_check(installed, "configure-portal")
    finally:
        run_check(installed, "configure-portal", "--restore")
    assert result.ok, result.report()


def test_configure_ssl(installed: SystemContainer) -> None:
    try:
        result = run_check(installed, "configure-ssl")
    finally:
        run_check(installed, "configure-ssl", "--restore")
    assert result.ok, result.report()


def test_configure_auth(installed: SystemContainer) -> None:
    try:
        result = run_check(installed, "configure-auth")
    finally:
        run_check(installed, "configure-auth", "--restore")
    assert result.ok, result.report()


def test_configure_maintenance(installed: SystemContainer) -> None:
    try:
        result = run_check(installed, "configure-maintenance")
    finally:
        run_check(installed, "configure-maintenance", "--restore")
    assert result.ok, result.report()


def test_configure_nginx_stage(installed: SystemContainer) -> None:
    try:
        result = run_check(installed, "configure-nginx-stage")
    finally:
        run_check(installed, "configure-nginx-stage", "--restore")
    assert result.ok, result.report()


def test_configure_clusters(installed: SystemContainer) -> None:
    try:
        result = run_check(installed, "configure-clusters")
    finally:
        run_check(installed, "configure-clusters", "--restore")
    assert result.ok, result.report()


def test_refresh(installed: SystemContainer) -> None:
    try:
        result = run_check(installed, "refresh", REMOTE_SNAP)
    finally:
        installed.sh(["snap", "unset", SNAP_NAME, "portal.servername"], check=False)
    assert result.ok, result.report()


def test_remove(installed: SystemContainer) -> None:
    try:
        result = run_check(installed, "remove")
    finally:
        installed.ensure_installed()  # later tests (and reruns with -k) expect the snap
    assert result.ok, result.report()
