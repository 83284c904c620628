"""post-refresh and remove: settings kept, nginx_stage maintenance, PUNs stopped, sudoers gone."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hooktest_support import FakeSnapctl, SnapEnv, host_sudo_or_stub, make_paths, snapshot

from ondemand_hooks import hooks, processes
from ondemand_hooks.errors import ConfigError


def fake_nginx_stage(env: SnapEnv, exit_code: int = 0) -> Path:
    script = env.paths.nginx_stage
    script.write_text(
        f'#!/bin/sh\necho "$NGINX_STAGE_CONFIG_FILE $*" >> "{env.root}/nginx_stage-calls"\nexit {exit_code}\n'
    )
    script.chmod(0o755)
    return env.root / "nginx_stage-calls"


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


# --- post-refresh --------------------------------------------------------------------------


def test_post_refresh_keeps_settings_and_refreshes_pun_configs(env_od: SnapEnv) -> None:
    log = fake_nginx_stage(env_od)
    env_od.set({"portal.servername": "ondemand.example.edu", "nginx-stage.min-uid": 3000,
                "clusters.owens.login.host": "owens.example.edu"})  # fmt: skip
    env_od.configure()
    env_od.paths.maintenance_page.write_text("<p>site page</p>")
    before = snapshot(env_od.paths.snap_common)
    env_od.snapctl.restarts.clear()
    hooks.post_refresh(env_od.ctx())
    assert snapshot(env_od.paths.snap_common) == before  # same settings -> same files
    yml = str(env_od.paths.nginx_stage_yml)
    assert calls(log) == [f"{yml} app_clean", f"{yml} app_reset --sub-uri=/pun", f"{yml} nginx_clean"]
    assert env_od.snapctl.restarts == []  # snapd starts the new revision's services itself


def test_post_refresh_repairs_the_tree_and_the_sudoers_rule(env: SnapEnv) -> None:
    env.paths.sudoers.unlink()
    os.chmod(env.paths.apache_log_dir, 0o755)
    shutil.rmtree(env.paths.puns_config)
    hooks.post_refresh(env.ctx())
    assert env.paths.sudoers.exists()
    assert stat.S_IMODE(env.paths.apache_log_dir.stat().st_mode) == 0o700
    assert env.paths.puns_config.is_dir()


def test_post_refresh_regenerates_a_stale_portal_config(env: SnapEnv) -> None:
    env.set({"portal.servername": "ondemand.example.edu"})
    env.configure()
    # An older revision's generator wrote something else (but unedited: its checksum
    # matches), from the same ood_portal.yml.
    from ondemand_hooks import portal

    old = b"<VirtualHost *:*>\n  ServerName ondemand.example.edu\n</VirtualHost>\n"
    env.paths.portal_conf.write_bytes(old)
    env.paths.ood_portal_sum.write_text(f"{portal.checksum(old)} {env.paths.portal_conf}\n")
    applied = hooks.post_refresh(env.ctx())
    assert applied.portal_changed
    assert "RewriteRule ^.*$ /public/need_auth.html [R=301,L]" in env.paths.portal_conf.read_text()


def test_post_refresh_without_ondemand_runs_no_nginx_stage(env_without_ondemand: SnapEnv) -> None:
    env = env_without_ondemand
    log = fake_nginx_stage(env)
    hooks.post_refresh(env.ctx())
    assert calls(log) == []


def test_post_refresh_survives_a_failing_nginx_stage(env_od: SnapEnv) -> None:
    log = fake_nginx_stage(env_od, exit_code=3)
    hooks.post_refresh(env_od.ctx())
    assert len(calls(log)) == 3


def test_post_refresh_refuses_a_config_that_no_longer_validates(env: SnapEnv, tmp_path: Path) -> None:
    from hooktest_support import make_cert

    cert, key = make_cert(tmp_path)
    env.set({"portal.ssl.certificate": str(cert), "portal.ssl.certificate-key": str(key)})
    env.configure()
    cert.unlink()
    with pytest.raises(ConfigError) as error:
        hooks.post_refresh(env.ctx())
    assert error.value.problems[0].startswith("portal.ssl.certificate: ")
    assert "does not exist" in error.value.problems[0]


# --- remove --------------------------------------------------------------------------------


def test_remove_stops_puns_with_nginx_stage_and_removes_sudoers(env_od: SnapEnv) -> None:
    log = fake_nginx_stage(env_od)
    assert env_od.paths.sudoers.exists()
    hooks.remove(env_od.ctx())
    assert calls(log) == [f"{env_od.paths.nginx_stage_yml} nginx_clean --force"]
    assert not env_od.paths.sudoers.exists()


def test_remove_is_fine_when_sudoers_already_gone(env: SnapEnv) -> None:
    env.paths.sudoers.unlink()
    hooks.remove(env.ctx())
    assert not env.paths.sudoers.exists()


@pytest.fixture
def spawned() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def spawn(binary: Path, started: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shutil.which("sleep") or "/bin/sleep", binary)
    proc = subprocess.Popen([str(binary), "300"])
    started.append(proc)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # wait for the exec to show in /proc
        try:
            if os.readlink(f"/proc/{proc.pid}/exe") == str(binary):
                break
        except OSError:
            pass
        time.sleep(0.02)
    return proc


def test_remove_kills_only_the_snaps_nginx_when_nginx_stage_is_absent(
    env: SnapEnv, spawned: list[subprocess.Popen[bytes]]
) -> None:
    ours = spawn(env.paths.snap / "nginx" / "sbin" / "nginx", spawned)
    other_nginx = spawn(env.root / "elsewhere" / "nginx", spawned)
    our_ruby = spawn(env.paths.snap / "bin" / "ruby-real", spawned)
    assert processes.find([env.paths.snap]) == [ours.pid]
    hooks.remove(env.ctx())
    assert ours.wait(5) is not None
    assert other_nginx.poll() is None and our_ruby.poll() is None
    assert not env.paths.sudoers.exists()


def test_remove_falls_back_to_proc_scan_when_nginx_stage_fails(
    env_od: SnapEnv, spawned: list[subprocess.Popen[bytes]]
) -> None:
    fake_nginx_stage(env_od, exit_code=1)
    ours = spawn(env_od.paths.snap / "nginx" / "sbin" / "nginx", spawned)
    hooks.remove(env_od.ctx())
    assert ours.wait(5) is not None


def test_stop_escalates_to_sigkill(tmp_path: Path, spawned: list[subprocess.Popen[bytes]]) -> None:
    stubborn = tmp_path / "nginx"
    stubborn.write_text("#!/bin/sh\ntrap '' TERM\nwhile :; do sleep 0.1; done\n")
    stubborn.chmod(0o755)
    proc = subprocess.Popen([str(stubborn)])
    spawned.append(proc)
    time.sleep(0.3)
    killed = processes.stop([proc.pid], grace=0.5)
    assert killed == [proc.pid]
    assert proc.wait(5) == -9


def test_proc_scan_roots_cover_every_revision_only_on_a_real_mount(tmp_path: Path) -> None:
    from ondemand_hooks.env import Paths

    mounted = Paths(Path("/snap/ondemand/x7"), tmp_path, tmp_path, "x7", "ondemand")
    assert Path("/snap/ondemand") in hooks._snap_roots(mounted)
    test_layout = Paths(tmp_path / "snap", tmp_path, tmp_path, "x7", "ondemand")
    assert all(str(root).startswith(str(tmp_path)) for root in hooks._snap_roots(test_layout))


# --- the snap's apps as system apps --------------------------------------------------------


def test_bundled_apps_become_system_apps_and_follow_refreshes(tmp_path: Path) -> None:
    paths = make_paths(tmp_path)
    for app in ("shell", "bc_desktop", "files"):
        (paths.bundled_apps / app).mkdir(parents=True)
    hooks.ensure_tree(paths)
    (paths.sys_apps / "files").mkdir()  # the admin's own app of that name
    hooks.link_bundled_apps(paths)
    shell = paths.sys_apps / "shell"
    assert shell.is_symlink() and Path(os.readlink(shell)) == paths.bundled_apps / "shell"
    assert (paths.sys_apps / "bc_desktop").is_symlink()
    assert not (paths.sys_apps / "files").is_symlink(), "an admin's app must never be replaced"
    # A later revision that no longer ships bc_desktop: its link goes, the others stay.
    shutil.rmtree(paths.bundled_apps / "bc_desktop")
    hooks.link_bundled_apps(paths)
    assert not (paths.sys_apps / "bc_desktop").exists() and not (paths.sys_apps / "bc_desktop").is_symlink()
    assert shell.is_symlink() and (paths.sys_apps / "files").is_dir()


def test_a_snap_without_apps_links_nothing(env: SnapEnv) -> None:
    assert list(env.paths.sys_apps.iterdir()) == []


def test_install_stages_the_shell_app_for_every_user_as_upstreams_package_does(tmp_path: Path) -> None:
    paths = make_paths(tmp_path)
    (paths.snap / "opt" / "ood" / "mod_ood_proxy" / "lib").mkdir(parents=True)
    (paths.bundled_apps / "shell").mkdir(parents=True)
    env = SnapEnv(tmp_path, paths, FakeSnapctl(), sudo=host_sudo_or_stub())
    log = fake_nginx_stage(env)
    hooks.install(env.ctx())
    conf = paths.nginx_lib / "config" / "apps" / "sys" / "shell.conf"
    assert conf.is_file(), "the shell app's sys config must exist for app_reset to fill it"
    assert not (paths.nginx_lib / "config" / "apps" / "sys" / "dashboard.conf").exists(), "not in this build"
    assert calls(log) == [f"{paths.nginx_stage_yml} app_reset --sub-uri=/pun"]


def test_configure_removes_what_a_killed_hook_left(env: SnapEnv) -> None:
    paths = env.paths
    staging = paths.apache_conf_dir / ".check-abc123"
    staging.mkdir()
    (staging / "httpd.conf").write_text("half\n")
    partial = paths.ood_config / ".ood_portal.yml.x7y8.tmp"
    partial.write_text("port: 80\nserv")
    keep = paths.ood_config / ".admin-notes"  # not ours: left alone
    keep.write_text("mine\n")
    env.configure()
    assert not staging.exists() and not partial.exists()
    assert keep.read_text() == "mine\n"
