"""The portal config generator: what it renders, checksum safety, httpd -t gate, update-portal."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml
from hooktest_support import SnapEnv, snapshot

from ondemand_hooks import hooks, portal
from ondemand_hooks.errors import ConfigError, HookError
from ondemand_hooks.model import PortalSettings

OIDC = {
    "portal.oidc.provider-metadata-url": "https://idp.example.edu/.well-known/openid-configuration",
    "portal.oidc.client-id": "ondemand",
}


def vhost(env: SnapEnv) -> str:
    return env.paths.portal_conf.read_text()


def directives(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


# --- what upstream's generator makes of the snap's ood_portal.yml --------------------------

BASIC_USERS = "alice:$apr1$abc$xyz\n"


def basic(env: SnapEnv) -> dict[str, Any]:
    users = env.root / "htpasswd"
    users.write_text(BASIC_USERS)
    users.chmod(0o644)
    return {"portal.auth.type": "basic", "portal.auth.basic.user-file": str(users)}


def test_no_auth_is_upstreams_need_auth_vhost(env_od: SnapEnv) -> None:
    text = vhost(env_od)
    lines = directives(text)
    assert "<VirtualHost *:*>" in lines
    assert "RewriteRule ^.*$ /public/need_auth.html [R=301,L]" in lines
    # The template's hard-coded public root, redirected into the snap at build time.
    assert f'Alias "/public" "{env_od.paths.public_root}"' in lines
    # No route reaches OnDemand before authentication exists.
    assert not any(line.startswith(("LuaHook", '<Location "/pun"', "OIDC")) for line in lines)
    # The need_auth template opens no port: the main config does.
    assert "Listen" not in text and "\nListen 80\n" in env_od.paths.httpd_conf.read_text()


def test_oidc_routes_everything_through_mod_ood_proxy(env_od: SnapEnv) -> None:
    env_od.set(OIDC)
    env_od.configure()
    text = vhost(env_od)
    lines = directives(text)
    assert text.startswith("#\n# Open OnDemand Portal\n#\n# Generated using ood-portal-generator version ")
    assert f'LuaRoot "{env_od.paths.mod_ood_proxy_lib_stable}"' in lines
    for uri, handler in (("/pun", "pun_proxy.lua pun_proxy_handler"), ("/nginx", "nginx.lua nginx_handler")):
        block = text.split(f'<Location "{uri}">', 1)[1].split("</Location>", 1)[0]
        assert "AuthType openid-connect" in block and "Require valid-user" in block
        assert f"LuaHookFixups {handler}" in block
    for uri in ("/node", "/rnode"):
        block = text.split(f'<LocationMatch "^{uri}/', 1)[1].split("</LocationMatch>", 1)[0]
        assert "AuthType openid-connect" in block and "LuaHookFixups node_proxy.lua node_proxy_handler" in block
        assert "RequestHeader unset OIDC_access_token" in block
    assert 'SetEnv OOD_PUN_STAGE_CMD "sudo /snap/ondemand/current/sbin/nginx_stage"' in lines
    assert f'SetEnv OOD_PUN_SOCKET_ROOT "{env_od.paths.nginx_run_dir}"' in lines
    assert "OIDCRedirectURI /oidc" in lines
    assert 'RedirectMatch ^/$ "/pun/sys/dashboard"' in lines
    passphrase = env_od.paths.oidc_passphrase_file.read_text().strip()
    assert f"OIDCCryptoPassphrase {passphrase}" in lines


def test_ondemand_absent_means_no_vhost(env_without_ondemand: SnapEnv) -> None:
    env = env_without_ondemand
    env.set(OIDC)
    env.configure()
    assert not env.paths.portal_conf.exists()
    conf = env.paths.httpd_conf.read_text()
    assert "Include" not in conf and "OnDemand (its ood-portal-generator) is not part of this build" in conf
    assert "\nListen 80\n" in conf


def test_ssl_redirects_port_80_and_sets_hsts(env: SnapEnv, tmp_path: Path) -> None:
    from hooktest_support import make_cert

    cert, key = make_cert(tmp_path)
    env.set({**basic(env), "portal.servername": "ondemand.example.edu", "portal.ssl.certificate": str(cert),
             "portal.ssl.certificate-key": str(key)})  # fmt: skip
    env.configure()
    text = vhost(env)
    redirect = text.split("<VirtualHost *:80>", 1)[1].split("</VirtualHost>", 1)[0]
    assert "RewriteRule ^(.*) https://%{HTTP_HOST}:443$1 [R=301,NE,L]" in redirect
    main = text.split("<VirtualHost *:443>", 1)[1]
    assert "SSLEngine On" in main and "Strict-Transport-Security" in main
    assert f'SSLCertificateFile "{cert}"' in main
    assert "Listen 443\nListen 80\n" in text
    conf = env.paths.httpd_conf.read_text()
    assert "\nListen " not in conf and "SSLSessionCache" in conf


def test_maintenance_is_upstreams_flag_file_and_allowlist(env: SnapEnv) -> None:
    env.set(
        {**basic(env), "portal.maintenance.enabled": True, "portal.maintenance.allowlist": "10.1.0.0/16,2001:db8::1"}
    )
    env.configure()
    assert env.paths.maintenance_enable.is_file()
    lines = directives(vhost(env))
    start = lines.index(f"RewriteCond {env.paths.maintenance_enable} -f")
    assert lines[start : start + 5] == [
        f"RewriteCond {env.paths.maintenance_enable} -f",
        "RewriteCond %{REQUEST_URI} !/public/maintenance/.*$",
        "RewriteCond %{REMOTE_ADDR} !^10\\.1\\.",
        "RewriteCond %{REMOTE_ADDR} !^2001:db8::1",
        "RewriteRule ^.*$ /public/maintenance/index.html [R=302,L]",
    ]
    # Off again: only the flag file goes; the vhost stays and Apache is not touched.
    before, restarts = vhost(env), list(env.snapctl.restarts)
    env.set({"portal.maintenance.enabled": False})
    applied = env.configure()
    assert not env.paths.maintenance_enable.exists() and vhost(env) == before
    assert not applied.portal_changed and env.snapctl.restarts == restarts


def test_httpd_conf_loads_modules_by_absolute_path_and_openidc_only_with_oidc(env: SnapEnv) -> None:
    conf = env.paths.httpd_conf.read_text()
    modules = env.paths.modules_dir
    for name in ("mpm_event", "authz_core", "unixd", "rewrite", "headers", "proxy", "proxy_wstunnel", "lua", "ssl",
                 "setenvif", "socache_shmcb"):  # fmt: skip
        assert f'LoadModule {name}_module "{modules}/mod_{name}.so"' in conf
    assert "auth_openidc" not in conf
    assert f"User {env.paths.portal_user}\nGroup {env.paths.portal_group}\n" in conf
    assert f'PidFile "{env.paths.apache_run_dir}/httpd.pid"' in conf
    assert f'ErrorLog "{env.paths.apache_log_dir}/error.log"' in conf
    assert f'Include "{env.paths.portal_conf}"' in conf
    env.set(OIDC)
    env.configure()
    assert f'LoadModule auth_openidc_module "{modules}/mod_auth_openidc.so"' in env.paths.httpd_conf.read_text()


@pytest.mark.parametrize(
    "field,value",
    [("servername", 'x"\nLoadModule evil /e.so'), ("listen", ("80\nLoadModule x y",))],
)
def test_main_config_refuses_unsafe_values_even_if_validation_were_bypassed(
    env: SnapEnv, field: str, value: Any
) -> None:
    settings = PortalSettings(**{"servername": "ondemand.example.edu", field: value})
    with pytest.raises(HookError, match="internal error: refusing"):
        portal.render_httpd_conf(settings, env.paths, env.paths.portal_conf, set())


# --- upstream's checksum safety, run on a stage ----------------------------------------------


def test_sum_file_records_what_the_generator_wrote(env: SnapEnv) -> None:
    recorded = env.paths.ood_portal_sum.read_text().split()
    assert recorded == [portal.checksum(env.paths.portal_conf.read_bytes()), str(env.paths.portal_conf)]
    import hashlib

    assert (
        portal.sidecar(env.paths.httpd_conf).read_text().split()[0]
        == hashlib.sha256(env.paths.httpd_conf.read_bytes()).hexdigest()
    )
    for path in (env.paths.portal_conf,):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert (path.stat().st_uid, path.stat().st_gid) == (os.geteuid(), os.getegid()) or os.geteuid() == 0


def test_admin_edited_vhost_is_kept_and_new_version_written_next_to_it(env: SnapEnv) -> None:
    edited = vhost(env) + "  Header set X-Site local\n"
    env.paths.portal_conf.write_text(edited)
    env.set({"portal.servername": "ondemand.example.edu"})
    applied = env.configure()
    assert vhost(env) == edited
    new = env.paths.portal_conf.with_name("ood-portal.conf.new")
    assert "ServerName ondemand.example.edu" in new.read_text()
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    # httpd.conf was not edited: it is replaced (its ServerName) and Apache restarted.
    assert "ServerName ondemand.example.edu" in env.paths.httpd_conf.read_text()
    assert applied.portal_changed


def test_a_comment_added_by_hand_is_not_an_edit(env: SnapEnv) -> None:
    """Upstream's checksum leaves out comment lines."""
    env.paths.portal_conf.write_text(vhost(env) + "# reviewed by the admin\n")
    env.set({"portal.servername": "ondemand.example.edu"})
    env.configure()
    assert "ServerName ondemand.example.edu" in vhost(env)


def test_only_the_edited_file_is_protected_no_restart_if_nothing_installed(env: SnapEnv) -> None:
    env.paths.portal_conf.write_text(vhost(env) + "  Header set X-Site local\n")
    env.paths.httpd_conf.write_text(env.paths.httpd_conf.read_text() + "# tweak\n")
    env.set({"portal.servername": "ondemand.example.edu"})
    applied = env.configure()
    assert not applied.portal_changed and env.snapctl.restarts == []
    assert env.paths.httpd_conf.with_name("httpd.conf.new").exists()
    assert env.paths.portal_conf.with_name("ood-portal.conf.new").exists()


def test_force_replaces_an_edited_file_after_a_timestamped_backup(env: SnapEnv) -> None:
    edited = vhost(env) + "  Header set X-Site local\n"
    env.paths.portal_conf.write_text(edited)
    env.set({"portal.servername": "ondemand.example.edu"})
    env.configure()
    assert hooks.update_portal(env.ctx(), force=True) is True
    assert "ServerName ondemand.example.edu" in vhost(env)
    backups = portal.backups_of(env.paths.portal_conf)
    assert backups[-1].read_text() == edited
    assert re.fullmatch(r"ood-portal\.conf\.\d{8}T\d{6}(-\d+)?", backups[-1].name)
    assert stat.S_IMODE(backups[-1].stat().st_mode) == 0o600


def test_vhost_without_sum_file_counts_as_admin_owned(env: SnapEnv) -> None:
    env.paths.ood_portal_sum.unlink()
    env.paths.portal_conf.write_text("# someone else's vhost\nListen 8443\n")
    env.set({"portal.servername": "ondemand.example.edu"})
    env.configure()
    assert vhost(env) == "# someone else's vhost\nListen 8443\n"
    assert env.paths.portal_conf.with_name("ood-portal.conf.new").exists()
    # The main config follows the vhost Apache will read (it opens 8443 itself).
    assert "\nListen 80\n" in env.paths.httpd_conf.read_text()


def test_unedited_file_is_replaced_with_backup(env: SnapEnv) -> None:
    old = vhost(env)
    env.set({"portal.servername": "ondemand.example.edu"})
    env.configure()
    assert "ServerName ondemand.example.edu" in vhost(env)
    assert [b.read_text() for b in portal.backups_of(env.paths.portal_conf)] == [old]


def test_backups_are_pruned(env: SnapEnv) -> None:
    for n in range(portal.KEEP_BACKUPS + 3):
        env.set({"portal.servername": f"p{n}.example.edu"})
        env.configure()
    assert len(portal.backups_of(env.paths.portal_conf)) == portal.KEEP_BACKUPS


# --- the generator runs only when its input changed -------------------------------------------


def counting_runner(calls: list[list[str]]) -> Any:
    import subprocess

    def run(command: list[str], **kwargs: Any) -> Any:
        calls.append(list(command))
        return subprocess.run(command, **kwargs)

    return run


def test_generator_runs_only_when_ood_portal_yml_changed(env: SnapEnv) -> None:
    calls: list[list[str]] = []
    ctx = env.ctx(counting_runner(calls))
    generator = str(env.paths.update_ood_portal)
    env.set({"nginx-stage.min-uid": 5000})
    hooks.configure(ctx)
    assert not [c for c in calls if c[0] == generator]
    env.set({"portal.servername": "ondemand.example.edu"})
    hooks.configure(ctx)
    assert [c for c in calls if c[0] == generator] == [[generator, "--detailed-exitcodes"]]
    # A refresh runs it again whatever the input (the new revision's templates may differ).
    calls.clear()
    hooks.post_refresh(ctx)
    assert [c for c in calls if c[0] == generator] == [[generator, "--detailed-exitcodes"]]


def test_an_edited_vhost_makes_the_generator_run_again(env: SnapEnv) -> None:
    calls: list[list[str]] = []
    env.paths.portal_conf.write_text(vhost(env) + "  Header set X-Site local\n")
    env.set({"nginx-stage.min-uid": 5000})
    hooks.configure(env.ctx(counting_runner(calls)))
    assert [c for c in calls if c[0] == str(env.paths.update_ood_portal)]
    assert env.paths.portal_conf.with_name("ood-portal.conf.new").exists()


def test_generator_failure_names_ood_portal_yml_and_changes_nothing(env: SnapEnv) -> None:
    (env.paths.snap / "sbin" / "update_ood_portal").write_text(
        "#!/bin/sh\necho 'StandardError:something upstream refused' >&2\nexit 1\n"
    )
    before = snapshot(env.root)
    env.set({"portal.servername": "ondemand.example.edu"})
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert error.value.problems == [
        f"{env.paths.ood_portal_yml}: update_ood_portal refused it (exit 1): StandardError:something upstream refused"
    ]
    assert snapshot(env.root) == before


# --- a commit killed halfway is finished by the next hook -------------------------------------


def test_a_commit_killed_halfway_is_finished_by_the_next_hook(env: SnapEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    real_replace = os.replace
    done: list[str] = []

    def replace_then_die(source: Any, target: Any) -> None:
        if len(done) == 2:
            raise SystemExit("killed")  # a SIGKILL, as far as the files can tell
        done.append(str(target))
        real_replace(source, target)

    env.set({"portal.servername": "ondemand.example.edu"})
    monkeypatch.setattr(portal.os, "replace", replace_then_die)
    with pytest.raises(SystemExit):
        env.configure()
    monkeypatch.setattr(portal.os, "replace", real_replace)
    stages = list(env.paths.apache_conf_dir.glob(".check-*"))
    assert len(stages) == 1 and (stages[0] / portal.JOURNAL).is_file()
    hooks.remove_stale_temporaries(env.paths)
    assert not list(env.paths.apache_conf_dir.glob(".check-*"))
    assert "ServerName ondemand.example.edu" in vhost(env)
    assert env.paths.ood_portal_sum.read_text().split()[0] == portal.checksum(env.paths.portal_conf.read_bytes())
    assert "ServerName ondemand.example.edu" in env.paths.httpd_conf.read_text()


def test_a_stage_without_journal_is_dropped(env: SnapEnv) -> None:
    before = vhost(env)
    stage = env.paths.apache_conf_dir / ".check-killed"
    stage.mkdir()
    (stage / "ood-portal.conf").write_text("# half generated")
    hooks.remove_stale_temporaries(env.paths)
    assert not stage.exists() and vhost(env) == before


# --- the httpd -t gate -------------------------------------------------------------------------


def fake_httpd(env: SnapEnv, exit_code: int, message: str = "") -> Path:
    script = env.paths.snap / "bin" / "httpd"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{env.root}/httpd-calls"\n'
        f'cat "$3" "$(dirname "$3")/ood-portal-check.conf" > "{env.root}/httpd-checked"\n'
        f"echo '{message}' >&2\nexit {exit_code}\n"
    )
    script.chmod(0o755)
    return script


def test_httpd_check_runs_on_the_candidate_pair(env: SnapEnv) -> None:
    fake_httpd(env, 0, "Syntax OK")
    env.set({"portal.servername": "ondemand.example.edu"})
    env.configure()
    calls = (env.root / "httpd-calls").read_text().splitlines()
    assert len(calls) == 1 and calls[0].startswith("-t -f ") and "/.check-" in calls[0]
    checked = (env.root / "httpd-checked").read_text()
    assert "ServerName ondemand.example.edu\n" in checked.split("Include", 1)[0]  # main
    assert "  ServerName ondemand.example.edu\n" in checked  # the staged vhost
    assert "/.check-" in checked.split("Include", 1)[1].splitlines()[0]  # the candidate vhost
    assert not list(env.paths.apache_conf_dir.glob(".check-*"))  # cleaned up


def test_config_failing_httpd_check_is_not_installed(env: SnapEnv) -> None:
    fake_httpd(env, 1, "AH00526: Syntax error on line 3: Invalid command Bogus")
    before = snapshot(env.root)
    env.set({"portal.servername": "ondemand.example.edu"})
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert "Invalid command Bogus" in "\n".join(error.value.problems)
    after = snapshot(env.root)
    for name in ("httpd-calls", "httpd-checked"):
        after.pop(name, None)
    assert after == before
    assert env.snapctl.restarts == []


def test_httpd_check_is_skipped_visibly_when_no_httpd(env: SnapEnv, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="ondemand_hooks")
    env.set({"portal.port": 8080})
    from ondemand_hooks import log as hook_log

    hook_log.log.propagate = True
    try:
        env.configure()
    finally:
        hook_log.log.propagate = False
    assert any("skipped the Apache syntax check" in r.getMessage() for r in caplog.records)


# --- update-portal (reads ood_portal.yml strictly) ---------------------------------------------


def edit_yaml(env: SnapEnv, **changes: Any) -> None:
    data = yaml.safe_load(env.paths.ood_portal_yml.read_text())
    data.update(changes)
    env.paths.ood_portal_yml.write_text(yaml.safe_dump(data))


def test_update_portal_renders_ood_portal_yml(env: SnapEnv) -> None:
    edit_yaml(env, servername="ondemand.example.edu")
    assert hooks.update_portal(env.ctx(), force=False) is True
    assert "  ServerName ondemand.example.edu\n" in vhost(env)
    assert env.snapctl.restarts == [("ondemand.apache",)]
    assert hooks.update_portal(env.ctx(), force=False) is False
    assert env.snapctl.restarts == [("ondemand.apache",)]


@pytest.mark.parametrize(
    "changes,message",
    [
        # Upstream's other keys belong in ood_portal.site.yml, never ood_portal.yml by hand.
        (
            {"custom_vhost_directives": ["LoadModule x y"]},
            "custom_vhost_directives: is not in {site}; edit ood_portal.site.yml, not ood_portal.yml",
        ),
        (
            {"servernmae": "x.example.edu"},
            "servernmae: not an ood_portal.yml key of OnDemand 4.2.3; did you mean servername?",
        ),
        ({"port": 70000}, 'port (portal.port): "70000" is not a port'),
        ({"public_root": "/var/www/html"}, "public_root: is fixed by the snap"),
        ({"pun_stage_cmd": "sudo /bin/sh"}, "pun_stage_cmd: is fixed by the snap"),
        ({"auth": ["Require all granted"]}, "auth: not one of the forms the snap writes"),
        ({"ssl": ['SSLCertificateFile "/x" \nSSLEngine off']}, "ssl: "),
        ({"servername": 'evil"name'}, "servername (portal.servername)"),
    ],
)
def test_update_portal_refuses_what_snap_set_would_refuse(env: SnapEnv, changes: dict[str, Any], message: str) -> None:
    edit_yaml(env, **changes)
    before = snapshot(env.root)
    with pytest.raises(ConfigError) as error:
        hooks.update_portal(env.ctx(), force=True)
    message = message.format(site=env.paths.ood_portal_site_yml)
    assert any(message in p for p in error.value.problems), error.value.problems
    assert all(p.startswith(str(env.paths.ood_portal_yml)) for p in error.value.problems)
    assert snapshot(env.root) == before


def test_update_portal_refuses_duplicate_yaml_keys(env: SnapEnv) -> None:
    env.paths.ood_portal_yml.write_text("port: 80\nport: 8080\n")
    with pytest.raises(ConfigError, match="duplicate key"):
        hooks.update_portal(env.ctx(), force=False)


def test_update_portal_without_ood_portal_yml(env: SnapEnv) -> None:
    env.paths.ood_portal_yml.unlink()
    with pytest.raises(HookError, match="does not exist"):
        hooks.update_portal(env.ctx(), force=False)


def test_generated_yaml_round_trips_to_the_same_config(env_od: SnapEnv, tmp_path: Path) -> None:
    """configure renders from ood_portal.yml, so update-portal right after changes nothing."""
    from hooktest_support import make_cert

    cert, key = make_cert(tmp_path)
    env_od.set({**OIDC, "portal.servername": "ondemand.example.edu", "portal.server-aliases": "ood.example.edu",
                "portal.ssl.certificate": str(cert), "portal.ssl.certificate-key": str(key),
                "portal.maintenance.enabled": True, "portal.maintenance.allowlist": "10.0.0.0/8",
                "portal.oidc.client-secret": "abc", "portal.host-regex": r"c\d+\.example\.edu"})  # fmt: skip
    env_od.configure()
    before = snapshot(env_od.root)
    assert hooks.update_portal(env_od.ctx(), force=False) is False
    assert snapshot(env_od.root) == before


def test_snapctl_services_output_parsing() -> None:
    from ondemand_hooks.snapctl import parse_services

    text = (
        "Service          Startup   Current   Notes\n"
        "ondemand.apache  enabled   inactive  -\n"
        "ondemand.x  disabled  active  -\n"
    )
    statuses = parse_services(text)
    assert [(s.name, s.enabled, s.active) for s in statuses] == [
        ("ondemand.apache", True, False),
        ("ondemand.x", False, True),
    ]


def test_mime_types_come_from_the_snap_when_shipped(env: SnapEnv) -> None:
    assert 'TypesConfig "/dev/null"' in env.paths.httpd_conf.read_text()
    (env.paths.snap / "etc").mkdir()
    (env.paths.snap / "etc" / "mime.types").write_text("text/html html\n")
    (env.paths.snap / "nginx" / "conf").mkdir(parents=True)
    (env.paths.snap / "nginx" / "conf" / "mime.types").write_text("types {}\n")
    env.set({"portal.port": 8080})
    env.configure()
    assert f'TypesConfig "{env.paths.snap_stable}/etc/mime.types"' in env.paths.httpd_conf.read_text()
    ns = yaml.safe_load(env.paths.nginx_stage_yml.read_text())
    assert ns["mime_types_path"] == f"{env.paths.snap_stable}/nginx/conf/mime.types"


def test_oidc_without_a_client_secret_uses_pkce(env_od: SnapEnv) -> None:
    """Decision (issue 16): a public OIDC client is configured, with PKCE, not refused."""
    env_od.set({
        "portal.oidc.provider-metadata-url": "https://idp.example.edu/.well-known/openid-configuration",
        "portal.oidc.client-id": "ondemand",
    })  # fmt: skip
    env_od.configure()
    vhost = env_od.paths.portal_conf.read_text()
    assert "OIDCPKCEMethod S256" in vhost and "OIDCClientSecret" not in vhost
    env_od.set({"portal.oidc.client-secret": "s3cr3t"})
    env_od.configure()
    vhost = env_od.paths.portal_conf.read_text()
    assert "OIDCClientSecret s3cr3t\n" in vhost and "OIDCPKCEMethod" not in vhost


def test_main_config_gives_mod_ood_proxy_the_snaps_luaposix(env: SnapEnv) -> None:
    """Upstream's vhost always sets OOD_ALLOWED_HOSTS, and mod_ood_proxy then requires
    `posix`: the snap's luaposix must be on mod_lua's package paths."""
    assert "LuaPackage" not in env.paths.httpd_conf.read_text()  # a build without luaposix
    (env.paths.snap / "usr" / "share" / "lua" / "5.3" / "posix").mkdir(parents=True)
    (env.paths.snap / "usr" / "lib" / "x86_64-linux-gnu" / "lua" / "5.3").mkdir(parents=True)
    (env.paths.snap / "usr" / "lib" / "x86_64-linux-gnu" / "lua" / "5.3" / "posix.so").write_bytes(
        b""
    )  # as lua-posix ships it
    env.set({**basic(env), "portal.servername": "ondemand.example.edu"})
    env.configure()
    conf = env.paths.httpd_conf.read_text()
    share, lib = env.paths.snap_stable / "usr/share/lua/5.3", env.paths.snap_stable / "usr/lib/x86_64-linux-gnu/lua/5.3"
    assert (
        f'LuaPackagePath "{share}/?.lua"\nLuaPackagePath "{share}/?/init.lua"\nLuaPackageCPath "{lib}/?.so"\n' in conf
    )
    assert "SetEnv OOD_ALLOWED_HOSTS" in vhost(env)
