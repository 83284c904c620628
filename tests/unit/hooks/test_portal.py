"""The portal config generator: what it renders, checksum safety, httpd -t gate, update-portal."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from hooktest_support import SnapEnv, snapshot
from ondemand_hooks import hooks, portal
from ondemand_hooks.errors import ConfigError, HookError
from ondemand_hooks.model import OidcSettings, PortalSettings

OIDC = {
    "portal.oidc.provider-metadata-url": "https://idp.example.edu/.well-known/openid-configuration",
    "portal.oidc.client-id": "ondemand",
}


def vhost(env: SnapEnv) -> str:
    return env.paths.portal_conf.read_text()


def directives(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


# --- rendering -----------------------------------------------------------------------------


def test_no_auth_sends_every_url_to_need_auth(env_od: SnapEnv) -> None:
    lines = directives(vhost(env_od))
    assert "RewriteCond %{REQUEST_URI} !^/public/" in lines
    assert "RewriteRule ^ /public/need_auth.html [R=302,L]" in lines
    # No route reaches OnDemand before authentication exists.
    assert not any(line.startswith(("LuaHook", "<Location \"/pun\"", "OIDC")) for line in lines)


def test_oidc_with_ondemand_present_routes_everything_through_mod_ood_proxy(env_od: SnapEnv) -> None:
    env_od.set(OIDC)
    env_od.configure()
    text = vhost(env_od)
    lines = directives(text)
    assert f'LuaRoot "{env_od.paths.mod_ood_proxy_lib}"' in lines
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
    assert 'OIDCRedirectURI "/oidc"' in lines
    assert 'RedirectMatch ^/$ "/pun/sys/dashboard"' in lines


def test_ondemand_absent_leaves_routes_out_with_a_comment(env: SnapEnv) -> None:
    env.set(OIDC)
    env.configure()
    text = vhost(env)
    assert "LuaHookFixups" not in text and "LuaRoot" not in text and "OOD_PUN" not in text
    assert "OnDemand is not part of this build" in text
    assert "mod_ood_proxy/lib is absent" in text
    assert '<LocationMatch "^/(?!public/)">' in text  # login still testable


def test_ssl_redirects_port_80_and_sets_hsts(env: SnapEnv, tmp_path: Path) -> None:
    from hooktest_support import make_cert

    cert, key = make_cert(tmp_path)
    env.set({"portal.servername": "ondemand.example.edu", "portal.ssl.certificate": str(cert),
             "portal.ssl.certificate-key": str(key)})  # fmt: skip
    env.configure()
    text = vhost(env)
    redirect = text.split("<VirtualHost *:80>", 1)[1].split("</VirtualHost>", 1)[0]
    assert "RewriteRule ^(.*)$ https://ondemand.example.edu$1 [R=301,NE,L]" in redirect
    main = text.split("<VirtualHost *:443>", 1)[1]
    assert "SSLEngine On" in main and "Strict-Transport-Security" in main
    assert f'SSLCertificateFile "{cert}"' in main
    conf = env.paths.httpd_conf.read_text()
    assert "Listen 443\nListen 80\n" in conf and "SSLSessionCache" in conf


def test_maintenance_allowlist_and_503(env: SnapEnv) -> None:
    env.set({"portal.maintenance.enabled": True, "portal.maintenance.allowlist": "10.1.0.0/16,2001:db8::1"})
    env.configure()
    lines = directives(vhost(env))
    start = lines.index("RewriteCond %{REQUEST_URI} !^/public/")
    assert lines[start : start + 5] == [
        "RewriteCond %{REQUEST_URI} !^/public/",
        "RewriteCond expr \"! -R '10.1.0.0/16'\"",
        "RewriteCond expr \"! -R '2001:db8::1'\"",
        "RewriteRule ^ - [R=503,L]",
        "ErrorDocument 503 /public/maintenance/index.html",
    ]


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
    [
        ("servername", 'x"\nLoadModule evil /e.so'),
        ("server_aliases", ("ok.example.edu", "bad\nname")),
        ("user_map_match", 'a" b'),
        ("host_regex", "a\nb"),
        ("listen", ("80\nLoadModule x y",)),
        ("maintenance_allowlist", ("10.0.0.1' || true '",)),
        ("lua_log_level", "info\nLoadModule"),
    ],
)
def test_renderer_refuses_unsafe_values_even_if_validation_were_bypassed(env_od: SnapEnv, field: str, value: Any) -> None:
    oidc = OidcSettings("/oidc", "https://idp.example.edu/x", "id", None, "sub", "openid", 1, 1)
    base: dict[str, Any] = {"servername": "ondemand.example.edu", "auth": "oidc", "oidc": oidc, "maintenance": True}
    settings = PortalSettings(**{**base, field: value})
    with pytest.raises(HookError, match="internal error: refusing"):
        portal.render(settings, env_od.paths, "a" * 64)


# --- checksum safety -----------------------------------------------------------------------


def test_sidecar_records_what_was_generated(env: SnapEnv) -> None:
    for path in (env.paths.httpd_conf, env.paths.portal_conf):
        recorded = portal.sidecar(path).read_text().split()[0]
        import hashlib

        assert recorded == hashlib.sha256(path.read_bytes()).hexdigest()


def test_admin_edited_vhost_is_kept_and_new_version_written_next_to_it(env: SnapEnv) -> None:
    edited = vhost(env) + "# my local tweak\n"
    env.paths.portal_conf.write_text(edited)
    env.set({"portal.port": 8080})
    applied = env.configure()
    assert vhost(env) == edited
    new = env.paths.portal_conf.with_name("ood-portal.conf.new")
    assert "<VirtualHost *:8080>" in new.read_text()
    assert stat.S_IMODE(new.stat().st_mode) == 0o600
    # httpd.conf was not edited: it is replaced (Listen 8080) and Apache restarted.
    assert "Listen 8080" in env.paths.httpd_conf.read_text()
    assert applied.portal_changed


def test_only_the_edited_file_is_protected_no_restart_if_nothing_installed(env: SnapEnv) -> None:
    env.paths.portal_conf.write_text(vhost(env) + "# tweak\n")
    env.paths.httpd_conf.write_text(env.paths.httpd_conf.read_text() + "# tweak\n")
    env.set({"portal.servername": "ondemand.example.edu"})
    applied = env.configure()
    assert not applied.portal_changed and env.snapctl.restarts == []
    assert env.paths.httpd_conf.with_name("httpd.conf.new").exists()


def test_force_replaces_an_edited_file_after_a_timestamped_backup(env: SnapEnv) -> None:
    edited = vhost(env) + "# my local tweak\n"
    env.paths.portal_conf.write_text(edited)
    env.set({"portal.port": 8080})
    env.configure()
    assert hooks.update_portal(env.ctx(), force=True) is True
    assert "<VirtualHost *:8080>" in vhost(env)
    backups = sorted(env.paths.apache_conf_dir.glob("ood-portal.conf.*.bak"))
    assert [b.read_text() for b in backups][-1] == edited
    assert backups[-1].name.startswith("ood-portal.conf.2023")  # ctx clock: 2023-11-14
    assert stat.S_IMODE(backups[-1].stat().st_mode) == 0o600
    assert not env.paths.portal_conf.with_name("ood-portal.conf.new").exists()


def test_file_without_sidecar_counts_as_admin_owned(env: SnapEnv) -> None:
    portal.sidecar(env.paths.portal_conf).unlink()
    env.paths.portal_conf.write_text("# someone else's vhost\n")
    env.set({"portal.port": 8080})
    env.configure()
    assert vhost(env) == "# someone else's vhost\n"
    assert env.paths.portal_conf.with_name("ood-portal.conf.new").exists()


def test_unedited_file_is_replaced_with_backup(env: SnapEnv) -> None:
    old = vhost(env)
    env.set({"portal.port": 8080})
    env.configure()
    assert "<VirtualHost *:8080>" in vhost(env)
    backups = list(env.paths.apache_conf_dir.glob("ood-portal.conf.*.bak"))
    assert [b.read_text() for b in backups] == [old]


def test_backups_are_pruned(env: SnapEnv) -> None:
    for port in range(8000, 8000 + portal.KEEP_BACKUPS + 5):
        env.set({"portal.port": port})
        env.configure()
    assert len(list(env.paths.apache_conf_dir.glob("ood-portal.conf.*.bak"))) == portal.KEEP_BACKUPS


# --- the httpd -t gate -------------------------------------------------------------------------


def fake_httpd(env: SnapEnv, exit_code: int, message: str = "") -> Path:
    script = env.paths.snap / "bin" / "httpd"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{env.root}/httpd-calls"\n'
        f'cat "$3" "$(dirname "$3")/ood-portal.conf" > "{env.root}/httpd-checked"\n'
        f"echo '{message}' >&2\nexit {exit_code}\n"
    )
    script.chmod(0o755)
    return script


def test_httpd_check_runs_on_the_candidate_pair(env: SnapEnv) -> None:
    fake_httpd(env, 0, "Syntax OK")
    env.set({"portal.port": 8080})
    env.configure()
    calls = (env.root / "httpd-calls").read_text().splitlines()
    assert len(calls) == 1 and calls[0].startswith("-t -f ") and "/.check-" in calls[0]
    checked = (env.root / "httpd-checked").read_text()
    assert "Listen 8080" in checked and "<VirtualHost *:8080>" in checked
    assert "/.check-" in checked.split("Include", 1)[1].splitlines()[0]  # the candidate vhost
    assert not list(env.paths.apache_conf_dir.glob(".check-*"))  # cleaned up


def test_config_failing_httpd_check_is_not_installed(env: SnapEnv) -> None:
    fake_httpd(env, 1, "AH00526: Syntax error on line 3: Invalid command Bogus")
    before = snapshot(env.root)
    env.set({"portal.port": 8080})
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
    edit_yaml(env, port=8081, listen_addr_port=["8081"])
    assert hooks.update_portal(env.ctx(), force=False) is True
    assert "<VirtualHost *:8081>" in vhost(env)
    assert env.snapctl.restarts == [("ondemand.apache",)]
    assert hooks.update_portal(env.ctx(), force=False) is False
    assert env.snapctl.restarts == [("ondemand.apache",)]


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"custom_vhost_directives": ["LoadModule x y"]}, "custom_vhost_directives: not a key the snap's portal generator supports"),
        ({"port": 70000}, 'port (portal.port): "70000" is not a port'),
        ({"public_root": "/var/www/html"}, "public_root: is fixed by the snap"),
        ({"pun_stage_cmd": "sudo /bin/sh"}, "pun_stage_cmd: is fixed by the snap"),
        ({"auth": ["Require all granted"]}, "auth: not one of the forms the snap writes"),
        ({"ssl": ['SSLCertificateFile "/x" \nSSLEngine off']}, "ssl: "),
        ({"servername": "evil\"name"}, "servername (portal.servername)"),
    ],
)
def test_update_portal_refuses_what_snap_set_would_refuse(env: SnapEnv, changes: dict[str, Any], message: str) -> None:
    edit_yaml(env, **changes)
    before = snapshot(env.root)
    with pytest.raises(ConfigError) as error:
        hooks.update_portal(env.ctx(), force=True)
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

    text = "Service          Startup   Current   Notes\nondemand.apache  enabled   inactive  -\nondemand.x  disabled  active  -\n"
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
    assert 'OIDCClientSecret "s3cr3t"' in vhost and "OIDCPKCEMethod" not in vhost
