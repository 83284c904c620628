"""Environment → Paths, and the install hook: tree, modes, owners, pages, default YAML, sudoers."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from hooktest_support import FakeSnapctl, SnapEnv, make_paths, snapshot

from ondemand_hooks import hooks, sudoers
from ondemand_hooks.env import Paths
from ondemand_hooks.errors import HookError

SNAP_ENV = {
    "SNAP": "/snap/ondemand/x7",
    "SNAP_COMMON": "/var/snap/ondemand/common",
    "SNAP_DATA": "/var/snap/ondemand/x7",
    "SNAP_REVISION": "x7",
    "SNAP_NAME": "ondemand",
}

# docs/layout.md, relative to $SNAP_COMMON: directory -> mode (all root:root).
LAYOUT_DIRS = {
    "etc/ood/config": 0o755,
    "etc/ood/config/clusters.d": 0o755,
    "etc/ood/config/ondemand.d": 0o755,
    "etc/ood/config/apps": 0o755,
    "etc/apache2": 0o755,
    "var/lib/ondemand-nginx/config/puns": 0o755,
    "var/lib/ondemand-nginx/config/apps/sys": 0o755,
    "var/lib/ondemand-nginx/config/apps/usr": 0o755,
    "var/lib/ondemand-nginx/config/apps/dev": 0o755,
    "var/www/ood/public": 0o755,
    "var/www/ood/apps/sys": 0o755,
    "var/www/ood/discover": 0o755,
    "var/www/ood/register": 0o755,
    "var/log/apache2": 0o700,
    "var/log/ondemand-nginx": 0o755,
    "run/ondemand-nginx": 0o755,
    "run/apache2": 0o755,
}


def test_paths_from_environ_computes_layout_and_stable_snap_path() -> None:
    paths = Paths.from_environ(SNAP_ENV)
    assert paths.snap_stable == Path("/snap/ondemand/current")
    assert paths.ood_portal_yml == Path("/var/snap/ondemand/common/etc/ood/config/ood_portal.yml")
    assert paths.httpd_conf == Path("/var/snap/ondemand/common/etc/apache2/httpd.conf")
    assert paths.portal_conf == Path("/var/snap/ondemand/common/etc/apache2/ood-portal.conf")
    assert paths.hooks_log == Path("/var/snap/ondemand/common/var/log/hooks.log")
    assert paths.sudoers == Path("/etc/sudoers.d/snap-ondemand")
    assert paths.nginx_stage_stable == Path("/snap/ondemand/current/sbin/nginx_stage")
    assert paths.modules_dir == Path("/snap/ondemand/current/apache/modules")
    assert paths.httpd == Path("/snap/ondemand/x7/bin/httpd")


def test_paths_outside_a_snap_mount_keep_snap_but_sudoers_names_the_real_command(tmp_path: Path) -> None:
    paths = make_paths(tmp_path)
    assert paths.snap_stable == paths.snap
    assert paths.nginx_stage_stable == Path("/snap/ondemand/current/sbin/nginx_stage")


@pytest.mark.parametrize("missing", sorted(SNAP_ENV))
def test_paths_from_environ_names_each_missing_variable(missing: str) -> None:
    environ = {k: v for k, v in SNAP_ENV.items() if k != missing}
    with pytest.raises(HookError, match=missing):
        Paths.from_environ(environ)


def test_install_creates_tree_with_layout_modes_and_root_owner(env: SnapEnv) -> None:
    common = env.paths.snap_common
    for relative, mode in LAYOUT_DIRS.items():
        st = (common / relative).stat()
        assert stat.S_ISDIR(st.st_mode), relative
        assert stat.S_IMODE(st.st_mode) == mode, f"{relative}: {oct(stat.S_IMODE(st.st_mode))}"
        if os.geteuid() == 0:
            assert (st.st_uid, st.st_gid) == (0, 0), relative
    log_st = env.paths.hooks_log.stat()
    assert stat.S_IMODE(log_st.st_mode) == 0o600


def test_install_fixes_modes_of_existing_directories(tmp_path: Path) -> None:
    paths = make_paths(tmp_path)
    (paths.apache_log_dir).mkdir(parents=True)
    os.chmod(paths.apache_log_dir, 0o777)
    hooks.ensure_tree(paths)
    assert stat.S_IMODE(paths.apache_log_dir.stat().st_mode) == 0o700


def test_install_refuses_a_symlink_where_a_directory_belongs(tmp_path: Path) -> None:
    paths = make_paths(tmp_path)
    (paths.snap_common / "run").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    paths.apache_run_dir.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError, match="symlink"):
        hooks.ensure_tree(paths)


def test_install_writes_public_pages_and_keeps_admin_versions(env: SnapEnv) -> None:
    need_auth = env.paths.need_auth_page.read_text()
    assert "<html" in need_auth and "snap set ondemand" in need_auth
    assert "maintenance" in env.paths.maintenance_page.read_text()
    assert stat.S_IMODE(env.paths.need_auth_page.stat().st_mode) == 0o644
    env.paths.maintenance_page.write_text("<p>our own page</p>")
    hooks.install_pages(env.paths)
    assert env.paths.maintenance_page.read_text() == "<p>our own page</p>"


def test_install_writes_default_nginx_stage_yml_pointing_at_the_snap(env: SnapEnv) -> None:
    data = yaml.safe_load(env.paths.nginx_stage_yml.read_text())
    snap, common = str(env.paths.snap_stable), str(env.paths.snap_common)
    assert data["min_uid"] == 1000
    assert data["proxy_user"] == "snap_daemon"
    assert data["passenger_root"] == f"{snap}/passenger"
    assert data["nginx_bin"] == f"{snap}/bin/nginx"
    assert data["passenger_ruby"] == f"{snap}/bin/ruby"
    assert data["passenger_nodejs"] == f"{snap}/bin/node"
    assert data["passenger_python"] == f"{snap}/bin/ondemand-python"
    assert "pun_custom_env" not in data  # nothing set yet
    for key in ("pun_config_path", "pun_access_log_path", "pun_error_log_path", "pun_pid_path", "pun_socket_path",
                "pun_secret_key_base_path", "pun_tmp_root"):  # fmt: skip
        assert data[key].startswith(common + "/"), key
        assert "%{user}" in data[key], key
    assert data["pun_socket_path"] == f"{common}/run/ondemand-nginx/%{{user}}/passenger.sock"
    assert data["app_root"]["sys"] == f"{common}/var/www/ood/apps/sys/%{{name}}"


def test_install_writes_default_ood_portal_yml_and_no_auth_portal(env: SnapEnv) -> None:
    st = env.paths.ood_portal_yml.stat()
    assert stat.S_IMODE(st.st_mode) == 0o600
    data = yaml.safe_load(env.paths.ood_portal_yml.read_text())
    assert data["port"] == 80
    assert data["auth"] == []
    assert data["public_root"] == str(env.paths.public_root)
    assert data["pun_stage_cmd"] == "sudo /snap/ondemand/current/sbin/nginx_stage"
    assert data["use_maintenance"] is True  # the flag file is the switch
    vhost = env.paths.portal_conf.read_text()
    assert "RewriteRule ^.*$ /public/need_auth.html [R=301,L]" in vhost  # upstream's no-auth template
    assert "Include" in env.paths.httpd_conf.read_text()


def test_install_does_not_restart_apache(env: SnapEnv) -> None:
    assert env.snapctl.restarts == []


def test_install_twice_changes_nothing(env: SnapEnv) -> None:
    before = snapshot(env.root)
    hooks.install(env.ctx())
    assert snapshot(env.root) == before


# --- sudoers -------------------------------------------------------------------------------


def test_sudoers_rule_content(env: SnapEnv) -> None:
    text = env.paths.sudoers.read_text()
    rules = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert "snap_daemon ALL=(root) NOPASSWD: /snap/ondemand/current/sbin/nginx_stage" in rules
    assert 'Defaults:snap_daemon env_keep += "NGINX_STAGE_* OOD_*"' in rules
    assert any(r.startswith("Defaults:snap_daemon !") for r in rules)
    # Exactly one command, no wildcards, no ALL as command.
    command_rules = [r for r in rules if "NOPASSWD" in r]
    assert len(command_rules) == 1 and "*" not in command_rules[0] and not command_rules[0].endswith("ALL")


def test_sudoers_file_mode_and_owner(env: SnapEnv) -> None:
    st = env.paths.sudoers.stat()
    assert stat.S_IMODE(st.st_mode) == 0o440
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (0, 0)


def test_sudoers_rule_passes_real_visudo(env: SnapEnv, sudo_host: sudoers.Sudo) -> None:
    done = subprocess.run([str(sudo_host.visudo), "-c", "-f", str(env.paths.sudoers)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_sudoers_classic_and_sudo_rs_flavours(tmp_path: Path) -> None:
    paths = make_paths(tmp_path)
    assert "Defaults:snap_daemon !requiretty" in sudoers.render(paths, "sudo")
    rs = sudoers.render(paths, "sudo-rs")
    assert "requiretty" not in rs and "Defaults:snap_daemon !use_pty" in rs


def test_sudoers_refuses_when_no_visudo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_paths(tmp_path)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    assert sudoers.detect(dirs=(str(empty),)) is None
    monkeypatch.setattr(sudoers, "detect", lambda *a, **k: None)
    with pytest.raises(HookError, match="no visudo"):
        sudoers.install(paths)
    assert not paths.sudoers.exists()


def test_sudoers_not_installed_when_visudo_rejects_it(tmp_path: Path) -> None:
    paths = make_paths(tmp_path)
    false = sudoers.Sudo("sudo", Path("/bin/false"))
    with pytest.raises(HookError, match="rejected"):
        sudoers.install(paths, sudo=false)
    assert not paths.sudoers.exists()
    assert list(paths.sudoers.parent.iterdir()) == []  # no temp file left behind


def test_sudoers_real_visudo_rejects_a_broken_rule_and_nothing_is_installed(
    tmp_path: Path, sudo_host: sudoers.Sudo, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = make_paths(tmp_path)
    monkeypatch.setattr(sudoers, "render", lambda p, f: "snap_daemon ALL=(root NOPASSWD: /x\n")
    with pytest.raises(HookError, match="rejected"):
        sudoers.install(paths, sudo=sudo_host)
    assert list(paths.sudoers.parent.iterdir()) == []


def test_sudoers_replaced_atomically_when_outdated(env: SnapEnv) -> None:
    env.paths.sudoers.write_text("# old rule\n")
    assert sudoers.install(env.paths, sudo=env.sudo) is True
    assert "NOPASSWD" in env.paths.sudoers.read_text()
    assert sudoers.install(env.paths, sudo=env.sudo) is False


def test_sudo_detection_prefers_sudo_rs_visudo(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("sudo", "visudo", "visudo-rs"):
        script = bin_dir / name
        script.write_text("#!/bin/sh\necho 'sudo-rs 0.2.5'\n")
        script.chmod(0o755)
    found = sudoers.detect(dirs=(str(bin_dir),))
    assert found is not None
    assert found.flavour == "sudo-rs"
    assert found.visudo == bin_dir / "visudo-rs"


def test_install_fails_clearly_without_visudo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = make_paths(tmp_path)
    monkeypatch.setattr(sudoers, "detect", lambda *a, **k: None)
    env = SnapEnv(tmp_path, paths, FakeSnapctl(), sudo=None)
    with pytest.raises(HookError) as error:
        hooks.install(env.ctx())
    assert "visudo" in str(error.value) and "install sudo" in str(error.value)
    assert not paths.sudoers.exists()
