"""ood_portal.site.yml: upstream's other ood_portal.yml keys, merged by configure and update-portal.

Upstream's real generator renders them (ood_generator.py); the tests about Apache's verdict
run the host's real `httpd -t` and skip, saying why, where it is not installed.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import ood_generator
import pytest
import yaml
from hooktest_support import REAL_APACHE, REAL_MODULES, SnapEnv, apache_t, make_cert, real_env, snapshot

from ondemand_hooks import configfiles, hooks, model, portal, sitefile, upstream
from ondemand_hooks.errors import ConfigError

needs_apache = pytest.mark.skipif(
    not (REAL_APACHE.is_file() and (REAL_MODULES / "mod_mpm_event.so").is_file()),
    reason=f"real Apache not installed ({REAL_APACHE}, {REAL_MODULES}): apt-get install apache2-bin",
)


def write_site(env: SnapEnv, text: str, mode: int = 0o600) -> Path:
    path = env.paths.ood_portal_site_yml
    path.write_text(text.replace("{www}", str(env.paths.www)))
    path.chmod(mode)
    return path


def basic_auth(env: SnapEnv) -> None:
    """Upstream's need_auth vhost (no auth yet) renders none of these keys: turn basic on."""
    htpasswd = env.root / "htpasswd"
    htpasswd.write_text("alice:{SHA}x\n")
    env.set({"portal.auth.type": "basic", "portal.auth.basic.user-file": str(htpasswd)})


def vhost(env: SnapEnv) -> str:
    return env.paths.portal_conf.read_text()


def portal_yml(env: SnapEnv) -> dict[str, Any]:
    data = yaml.safe_load(env.paths.ood_portal_yml.read_text())
    assert isinstance(data, dict)
    return data


def refused(env: SnapEnv, run: Any = None) -> list[str]:
    """The problems of a configure (or `run`) that must change nothing."""
    before, restarts = snapshot(env.root), list(env.snapctl.restarts)
    with pytest.raises(ConfigError) as error:
        (run or env.configure)()
    assert snapshot(env.root) == before
    assert env.snapctl.restarts == restarts
    return error.value.problems


# A site's file: upstream keys from real deployments, none of them the snap's.
SITE = r"""# Example HPC: upstream's keys the snap does not manage.
custom_vhost_directives:
  - 'Header always set X-Site "Example HPC"'
  - RequestHeader unset X-Forwarded-User
custom_location_directives:
  - Header always set X-Robots-Tag noindex
user_map_cmd: /opt/site/bin/ood-map-user
user_env: OIDC_CLAIM_email
map_fail_uri: /register
register_uri: /register
register_root: {www}/register
oidc_discover_uri: /discover
oidc_discover_root: {www}/discover
pun_max_retries: 12
pun_pre_hook_root_cmd: /opt/site/bin/pun-pre-hook
pun_pre_hook_exports: OIDC_ACCESS_TOKEN,OIDC_CLAIM_EMAIL
security_csp_frame_ancestors: https://lms.example.edu
accesslog: '|/usr/bin/logger -t ondemand-access'
errorlog: ondemand-error.log
logformat: '"%h %l %u %t \"%r\" %>s %b %D"'
http_redirect_host: ondemand.example.edu
strip_proxy_headers: [Authorization, OIDC_access_token, X-Site-Token]
"""


@needs_apache
def test_a_sites_keys_render_a_vhost_real_apache_accepts(tmp_path: Path) -> None:
    env = real_env(tmp_path)
    cert, key = make_cert(tmp_path)
    basic_auth(env)
    env.set({"portal.servername": "ondemand.example.edu", "portal.ssl.certificate": str(cert),
             "portal.ssl.certificate-key": str(key)})  # fmt: skip
    write_site(env, SITE)
    env.configure()  # its own httpd -t is the real apache2's
    done = apache_t(env)
    assert done.returncode == 0 and "Syntax OK" in done.stderr + done.stdout, done.stderr
    text, www, logs = vhost(env), env.paths.www, env.paths.apache_log_dir
    for line in (
        '  Header always set X-Site "Example HPC"\n',
        "  RequestHeader unset X-Forwarded-User\n",
        "    Header always set X-Robots-Tag noindex\n",  # in every portal <Location>
        '  SetEnv OOD_USER_MAP_CMD "/opt/site/bin/ood-map-user"\n',
        '  SetEnv OOD_USER_ENV "OIDC_CLAIM_email"\n',
        '  SetEnv OOD_MAP_FAIL_URI "/register"\n',
        f'  Alias "/register" "{www}/register"\n',
        f'  Alias "/discover" "{www}/discover"\n',
        '    SetEnv OOD_PUN_MAX_RETRIES "12"\n',
        '  SetEnv OOD_PUN_PRE_HOOK_ROOT_CMD "/opt/site/bin/pun-pre-hook"\n',
        '  SetEnv OOD_PUN_PRE_HOOK_EXPORTS "OIDC_ACCESS_TOKEN,OIDC_CLAIM_EMAIL"\n',
        '  Header always set Content-Security-Policy "frame-ancestors https://lms.example.edu;"\n',
        f'  ErrorLog  "{logs}/ondemand-error.log"\n',
        '  LogFormat "%h %l %u %t \\"%r\\" %>s %b %D"\n',
        '  TransferLog "|/usr/bin/logger -t ondemand-access"\n',
        "  RewriteRule ^(.*) https://ondemand.example.edu:443$1 [R=301,NE,L]\n",
        "    RequestHeader unset X-Site-Token\n",
    ):
        assert line in text, line
    assert "OOD_USER_MAP_MATCH" not in text  # upstream: user_map_cmd wins
    assert text.count("Header always set X-Robots-Tag noindex") == 4  # pun, nginx, node, rnode
    written = env.paths.ood_portal_yml.read_text()
    site = yaml.safe_load(env.paths.ood_portal_site_yml.read_text().replace("{www}", str(www)))
    assert f"{configfiles.SITE_KEYS_LINE}{', '.join(site)}\n" in written.split("---", 1)[0]
    assert {k: portal_yml(env)[k] for k in site} == site
    assert list(portal_yml(env))[-len(site) :] == list(site)  # after the snap's keys


def test_configure_then_update_portal_changes_nothing(env: SnapEnv) -> None:
    basic_auth(env)
    write_site(env, SITE)
    env.configure()
    before = snapshot(env.root)
    assert hooks.update_portal(env.ctx(), force=False) is False
    assert snapshot(env.root) == before
    assert env.configure().written == []


def test_post_refresh_merges_the_site_file_too(env: SnapEnv) -> None:
    basic_auth(env)
    env.configure()
    write_site(env, "user_env: OIDC_CLAIM_email\n")
    hooks.post_refresh(env.ctx())
    assert '  SetEnv OOD_USER_ENV "OIDC_CLAIM_email"\n' in vhost(env)


def test_no_site_file_means_no_site_keys(env: SnapEnv) -> None:
    basic_auth(env)
    env.configure()
    assert not env.paths.ood_portal_site_yml.exists()
    assert configfiles.SITE_KEYS_LINE not in env.paths.ood_portal_yml.read_text()
    assert set(portal_yml(env)) <= set(configfiles.managed_portal_keys(env.paths))


# --- what the site file may not hold ---------------------------------------------------------


@pytest.mark.parametrize(
    "line,says",
    [
        (
            "servername: ondemand.example.edu",
            "set portal.servername instead: `sudo snap set ondemand portal.servername=...`",
        ),
        ("port: 8080", "set portal.port instead"),
        ("user_map_match: '^([^@]+)@example.edu$'", "set portal.user-map-match instead"),
        ("oidc_client_secret: s3cr3t", "set portal.oidc.client-secret instead"),
        ("ssl: ['SSLCertificateFile \"/etc/ssl/x.pem\"']", "set portal.ssl.certificate, portal.ssl.certificate-key"),
        ("auth: [AuthType Basic]", "set portal.auth.type"),
        ("oidc_redirect_uri: /oidc", "set portal.oidc.uri instead"),
        (
            "oidc_settings: {OIDCPassClaimsAs: environment}",
            "put other mod_auth_openidc directives in custom_vhost_directives",
        ),
        ("oidc_crypto_passphrase: abc", "the snap generates it once and keeps it in {passphrase}"),
        ("maintenance_ip_whitelist: [10.0.0.1]", "set portal.maintenance.allowlist instead"),
        ("public_root: /var/www/html", "the snap fixes it to '{www}/public'"),
        ("pun_stage_cmd: sudo /bin/sh", "the snap fixes it to 'sudo /snap/ondemand/current/sbin/nginx_stage'"),
        ("lua_root: /opt/ood/mod_ood_proxy/lib", "the snap fixes it to "),
        ("root_uri: /pun/sys/files", "the snap fixes it to '/pun/sys/dashboard'"),
        ("use_maintenance: false", "the snap fixes it to true; portal.maintenance.enabled switches maintenance mode"),
    ],
)
def test_a_key_the_snap_manages_is_refused_naming_the_snap_key(env: SnapEnv, line: str, says: str) -> None:
    path = write_site(env, f"user_env: OIDC_CLAIM_email\n{line}\n")
    name = line.split(":", 1)[0]
    says = says.replace("{passphrase}", str(env.paths.oidc_passphrase_file)).replace("{www}", str(env.paths.www))
    problems = refused(env)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: {name}: managed by the snap, remove it from this file; ")
    assert says in problems[0]


def test_the_managed_keys_are_every_key_the_snap_writes(env: SnapEnv) -> None:
    ssl = model.SslSettings("/c.pem", "/k.pem", "/chain.pem")
    oidc = model.OidcSettings("/oidc", "https://idp.example.edu/x", "ood", None, "sub", "openid", 60, 60)
    variants = [
        model.PortalSettings(
            servername="a.example.edu", server_aliases=("b.example.edu",), ssl=ssl, auth="oidc", oidc=oidc
        ),
        model.PortalSettings(auth="oidc", oidc=model.OidcSettings(**{**oidc.__dict__, "client_secret": "s"})),
        model.PortalSettings(auth="basic", basic_user_file="/htpasswd"),
    ]
    managed = set(configfiles.managed_portal_keys(env.paths))
    for settings in variants:
        assert set(configfiles.portal_yaml(settings, env.paths, "0" * 64)) <= managed
    assert managed <= set(upstream.PORTAL_KEYS)
    assert configfiles.site_portal_keys(env.paths) == set(upstream.PORTAL_KEYS) - managed


@pytest.mark.parametrize(
    "line,hint",
    [
        ("custom_vhost_directive: [Header set X y]", "; did you mean custom_vhost_directives?"),
        ("pun_max_retry: 3", "; did you mean pun_max_retries?"),
        ("ServerAdmin: root@example.edu", ""),
    ],
)
def test_an_unknown_key_is_refused_with_a_hint(env: SnapEnv, line: str, hint: str) -> None:
    path = write_site(env, f"{line}\n")
    name = line.split(":", 1)[0]
    assert refused(env) == [f"{path}: {name}: not an ood_portal.yml key of OnDemand 4.2.3{hint}; rename or remove it"]


@pytest.mark.parametrize(
    "mode,owner,says",
    [
        (0o664, 0, ["is writable by its group (mode 0664", "run `sudo chmod 600 {path}`"]),
        (0o646, 0, ["is writable by all users (mode 0646"]),
        (0o600, 65534, ["is owned by nobody (uid 65534), not root", "run `sudo chown root:root {path}`"]),
    ],
)
def test_a_file_others_can_write_is_refused(env: SnapEnv, mode: int, owner: int, says: list[str]) -> None:
    path = write_site(env, "user_env: OIDC_CLAIM_email\n", mode)
    if owner:
        if os.geteuid() != 0:
            pytest.skip("needs root to give the file away")
        os.chown(path, owner, owner)
    problems = refused(env)
    assert len(problems) == 1 and problems[0].startswith(f"{path}: "), problems
    for fragment in says:
        assert fragment.replace("{path}", str(path)) in problems[0]
    assert "it may hold secrets" in problems[0]


@pytest.mark.parametrize(
    "content,says",
    [
        ("user_env: A\nuser_env: B\n", "duplicate key 'user_env'"),
        ("- custom_vhost_directives\n", "must be a mapping of keys to values"),
        ("user_env: [unclosed\n", "is not valid YAML"),
        ("register_uri: 2024-01-01\n", "register_uri: holds a YAML date, which upstream's generator cannot read"),
        ("strip_proxy_cookies: !!set {a, b}\n", "strip_proxy_cookies: holds a YAML set"),
    ],
)
def test_a_file_upstream_could_not_read_is_refused(env: SnapEnv, content: str, says: str) -> None:
    path = write_site(env, content)
    problems = refused(env)
    assert len(problems) == 1 and problems[0].startswith(f"{path}: ") and says in problems[0], problems


def test_every_problem_is_listed_with_the_snaps_own(env: SnapEnv) -> None:
    path = write_site(env, "servername: a.example.edu\nuser_envv: X\n")
    env.set({"portal.port": 0})
    problems = refused(env)
    assert [p.split(": ", 2)[:2] for p in problems] == [
        ["portal.port", '"0" is not a port; use a number from 1 to 65535'],
        [str(path), "servername"],
        [str(path), "user_envv"],
    ]


def test_yaml_anchors_are_written_out_for_upstreams_loader(env: SnapEnv) -> None:
    """Ruby's safe YAML loader refuses aliases: a value shared in the site file is repeated."""
    basic_auth(env)
    write_site(env, "custom_vhost_directives: &h [Header always set X-A one]\ncustom_location_directives: *h\n")
    env.configure()
    body = env.paths.ood_portal_yml.read_text().split("\n---\n", 1)[1]
    assert not re.search(r"[&*]id\d", body), body
    assert portal_yml(env)["custom_location_directives"] == ["Header always set X-A one"]
    assert "  Header always set X-A one\n" in vhost(env) and "    Header always set X-A one\n" in vhost(env)


# --- values upstream's generator or Apache refuse ---------------------------------------------


@needs_apache
@pytest.mark.parametrize(
    "key,value,words",
    [
        (
            "custom_vhost_directives",
            "[Header always set X-Ok yes, Bogus on]",
            "Invalid command 'Bogus', perhaps misspelled",
        ),
        ("custom_location_directives", "[ProxyTimeout soon]", "ProxyTimeout"),
        ("security_csp_frame_ancestors", "'https://a.example.edu\" extra'", "Unknown parameter: extra"),
    ],
)
def test_a_value_httpd_refuses_is_refused_naming_the_key(tmp_path: Path, key: str, value: str, words: str) -> None:
    env = real_env(tmp_path)
    basic_auth(env)
    env.configure()
    path = write_site(env, f"user_env: OIDC_CLAIM_email\npun_max_retries: 5\n{key}: {value}\n")
    problems = refused(env)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}: {key}: httpd -t rejected it: "), problems
    assert words in problems[0]
    assert re.search(r"\(line \d+ of the generated ood-portal\.conf\)$", problems[0]), problems


def test_a_value_the_generator_refuses_names_the_site_file_and_its_keys(env: SnapEnv) -> None:
    basic_auth(env)
    env.configure()
    # A string where upstream's template iterates a list: its Ruby raises.
    path = write_site(env, "user_env: OIDC_CLAIM_email\ncustom_vhost_directives: Header always set X-Ok yes\n")
    problems = refused(env)
    assert len(problems) == 1, problems
    assert problems[0].startswith(
        f"{path}: user_env, custom_vhost_directives: update_ood_portal refused ood_portal.yml with these keys "
        "from this file: NoMethodError:"
    ), problems


@pytest.mark.parametrize(
    "output,words",
    [
        (["AH00526: Syntax error on line 2 of {vhost}:", "Invalid command 'Bogus', perhaps misspelled"],
         "Invalid command 'Bogus', perhaps misspelled"),
        # An error in an included file is located in the including one first, on one line.
        (["apache2: Syntax error on line 7 of {main}: Syntax error on line 2 of {vhost}: Bogus takes one argument"],
         "Bogus takes one argument"),
    ],
)  # fmt: skip
def test_apaches_line_is_put_on_the_keys_whose_values_are_on_it(env: SnapEnv, output: list[str], words: str) -> None:
    text = b'<VirtualHost *:80>\n  Bogus 80\n  SetEnv OOD_PUN_MAX_RETRIES "8"\n</VirtualHost>\n'
    site = {"custom_vhost_directives": ["Header set X y", "Bogus 80"], "pun_max_retries": 8, "register_uri": "/reg"}
    said = [line.format(vhost=env.paths.portal_conf, main=env.paths.httpd_conf) for line in output]
    error = portal.ApacheRefused(["httpd -t rejected it"], "Apache configuration check failed", output=said, vhost=text)
    # pun_max_retries 8 is not the 8 of "80"; register_uri is nowhere on the line.
    assert sitefile.attribute(error, site, env.paths).problems == [
        f"{env.paths.ood_portal_site_yml}: custom_vhost_directives: httpd -t rejected it: {words} "
        "(line 2 of the generated ood-portal.conf)"
    ]
    assert sitefile.attribute(error, {}, env.paths) is error


def test_an_error_outside_the_vhost_is_left_as_apache_said_it(env: SnapEnv) -> None:
    said = [f"AH00526: Syntax error on line 3 of {env.paths.httpd_conf}:", "Cannot load mod_x.so"]
    error = portal.ApacheRefused(["httpd -t rejected it"], "Apache configuration check failed", output=said, vhost=b"")
    assert sitefile.attribute(error, {"user_env": "X"}, env.paths) is error


# --- update-portal: applies a changed site file ----------------------------------------------


@pytest.mark.skipif(Path("/usr/sbin/ondemand-dex").exists(), reason="upstream's ondemand-dex is installed on this host")
def test_dex_without_upstreams_dex_is_refused_by_the_generator(env: SnapEnv) -> None:
    path = write_site(env, "dex:\n  connectors: []\n")
    problems = refused(env)
    assert problems[0].startswith(f"{path}: dex: update_ood_portal refused ood_portal.yml"), problems
    assert "You do not have dex installed" in problems[0]


def test_update_portal_applies_a_changed_site_file(env: SnapEnv) -> None:
    basic_auth(env)
    write_site(env, "user_env: OIDC_CLAIM_email\n")
    env.configure()
    assert '  SetEnv OOD_USER_ENV "OIDC_CLAIM_email"\n' in vhost(env)
    write_site(env, "user_env: OIDC_CLAIM_sub\npun_max_retries: 9\n")
    assert hooks.update_portal(env.ctx(), force=False) is True
    assert '  SetEnv OOD_USER_ENV "OIDC_CLAIM_sub"\n' in vhost(env) and 'OOD_PUN_MAX_RETRIES "9"' in vhost(env)
    assert portal_yml(env)["user_env"] == "OIDC_CLAIM_sub" and portal_yml(env)["pun_max_retries"] == 9
    assert f"{configfiles.SITE_KEYS_LINE}user_env, pun_max_retries\n" in env.paths.ood_portal_yml.read_text()
    assert (env.paths.ood_portal_yml.stat().st_mode & 0o777) == 0o600
    before = snapshot(env.root)
    assert hooks.update_portal(env.ctx(), force=False) is False
    assert snapshot(env.root) == before
    # The next snap set writes the same file: both merge the same way.
    assert env.configure().written == []
    env.paths.ood_portal_site_yml.unlink()
    assert hooks.update_portal(env.ctx(), force=False) is True
    assert "OOD_USER_ENV" not in vhost(env) and 'OOD_PUN_MAX_RETRIES "5"' in vhost(env)
    assert configfiles.SITE_KEYS_LINE not in env.paths.ood_portal_yml.read_text()
    assert "user_env" not in portal_yml(env)


def test_update_portal_keeps_a_snap_key_edited_in_ood_portal_yml(env: SnapEnv) -> None:
    basic_auth(env)
    write_site(env, "user_env: OIDC_CLAIM_email\n")
    env.configure()
    text = env.paths.ood_portal_yml.read_text()
    env.paths.ood_portal_yml.write_text(text.replace("lua_log_level: info", "lua_log_level: debug"))
    write_site(env, "user_env: OIDC_CLAIM_sub\n")
    assert hooks.update_portal(env.ctx(), force=False) is True
    assert portal_yml(env)["lua_log_level"] == "debug" and portal_yml(env)["user_env"] == "OIDC_CLAIM_sub"
    assert "LogLevel lua_module:debug" in vhost(env)


def test_update_portal_refuses_site_keys_added_to_ood_portal_yml_by_hand(env: SnapEnv) -> None:
    basic_auth(env)
    write_site(env, "user_env: OIDC_CLAIM_email\n")
    env.configure()
    with env.paths.ood_portal_yml.open("a") as handle:
        handle.write("pun_max_retries: 3\n")
    problems = refused(env, lambda: hooks.update_portal(env.ctx(), force=False))
    assert problems == [
        f"{env.paths.ood_portal_yml}: pun_max_retries: is not in {env.paths.ood_portal_site_yml}; "
        "edit ood_portal.site.yml, not ood_portal.yml (then `sudo snap run ondemand.update-portal`)"
    ]


def test_update_portal_refuses_a_bad_site_file_and_writes_nothing(env: SnapEnv) -> None:
    basic_auth(env)
    write_site(env, "user_env: OIDC_CLAIM_email\n")
    env.configure()
    path = write_site(env, "user_env: OIDC_CLAIM_sub\nservername: x.example.edu\n")
    problems = refused(env, lambda: hooks.update_portal(env.ctx(), force=False))
    assert problems == [
        f"{path}: servername: managed by the snap, remove it from this file; set portal.servername instead: "
        "`sudo snap set ondemand portal.servername=...`"
    ]
    write_site(env, "user_env: OIDC_CLAIM_sub\n", 0o666)
    assert "sudo chmod 600" in refused(env, lambda: hooks.update_portal(env.ctx(), force=False))[0]


def test_update_portal_refuses_a_value_the_generator_refuses(env: SnapEnv) -> None:
    basic_auth(env)
    env.configure()
    path = write_site(env, "custom_location_directives: Header always set X-Ok yes\n")
    problems = refused(env, lambda: hooks.update_portal(env.ctx(), force=False))
    assert problems[0].startswith(f"{path}: custom_location_directives: update_ood_portal refused ood_portal.yml"), (
        problems
    )


def test_ood_portal_yml_must_hold_exactly_the_site_files_keys(env: SnapEnv) -> None:
    """The round trip's check: the site keys in ood_portal.yml are the site file's, value for value."""
    basic_auth(env)
    env.configure()
    data = {**portal_yml(env), "user_env": "OIDC_CLAIM_sub", "pun_max_retries": 3}
    where = str(env.paths.ood_portal_yml)
    site = {"user_env": "OIDC_CLAIM_email", "map_fail_uri": "/register"}
    with pytest.raises(ConfigError) as error:
        configfiles.portal_from_yaml(data, env.paths, where, site)
    site_file = env.paths.ood_portal_site_yml
    assert error.value.problems == [
        f"{where}: user_env: differs from {site_file}; {configfiles.EDIT_SITE_FILE}",
        f"{where}: pun_max_retries: is not in {site_file}; {configfiles.EDIT_SITE_FILE}",
        f"{where}: map_fail_uri: missing (it is in {site_file}); `sudo snap run ondemand.update-portal` merges it",
    ]
    data = {**portal_yml(env), **site}
    assert configfiles.portal_from_yaml(data, env.paths, where, site).auth == "basic"


# --- the key list is upstream's ---------------------------------------------------------------


def test_the_key_list_is_upstreams_ood_portal_yml_keys() -> None:
    work, why = ood_generator.generator_tree()
    if work is None:
        pytest.skip(f"upstream's sources are not available: {why}")
    generator = work / ood_generator.ONDEMAND / "ood-portal-generator"
    view = (generator / "lib" / "ood_portal_generator" / "view.rb").read_text()
    example = (generator / "share" / "ood_portal_example.yml").read_text()
    read = set(re.findall(r"opts\.fetch\(:(\w+)", view))
    documented = set(re.findall(r"^#? ?([a-z_0-9]+):", example, re.MULTILINE))
    assert len(upstream.PORTAL_KEYS) == len(set(upstream.PORTAL_KEYS))
    assert set(upstream.PORTAL_KEYS) == read | documented
    assert "dex" in documented and ood_generator.ONDEMAND == f"ondemand-{upstream.ONDEMAND_VERSION}"


def test_the_docs_name_the_file_and_every_upstream_key() -> None:
    from ondemand_hooks import docs

    text = docs.render_configuration_doc()
    section = text.split("## Other upstream keys: ood_portal.site.yml\n", 1)[1].split("\n## ", 1)[0]
    assert "/var/snap/ondemand/common/etc/ood/config/ood_portal.site.yml" in section
    assert "sudo snap run ondemand.update-portal" in section and "chmod 600" in section
    for name in upstream.PORTAL_KEYS:
        assert f"`{name}`" in section, name
    layout = (ood_generator.ROOT / "docs" / "layout.md").read_text()
    assert "| `etc/ood/config/ood_portal.site.yml` (" in layout
