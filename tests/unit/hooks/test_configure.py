"""The configure hook: every key allowed, refused when invalid, and back to default when unset."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hooktest_support import SnapEnv, make_cert, snapshot

from ondemand_hooks import model
from ondemand_hooks.errors import ConfigError


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Real files the path-valued keys can point at (shared: no test modifies them)."""
    d = tmp_path_factory.mktemp("site")
    cert, key = make_cert(d)
    htpasswd = d / "htpasswd"
    htpasswd.write_text("alice:$apr1$abc$xyz\n")
    slurm = d / "slurm.conf"
    slurm.write_text("ClusterName=owens\n")
    (d / "bin").mkdir()
    return {"cert": str(cert), "key": str(key), "htpasswd": str(htpasswd), "slurm": str(slurm), "bin": str(d / "bin")}


def portal_yml(env: SnapEnv) -> dict[str, Any]:
    data = yaml.safe_load(env.paths.ood_portal_yml.read_text())
    assert isinstance(data, dict)
    return data


def nginx_yml(env: SnapEnv) -> dict[str, Any]:
    data = yaml.safe_load(env.paths.nginx_stage_yml.read_text())
    assert isinstance(data, dict)
    return data


def vhost(env: SnapEnv) -> str:
    return env.paths.portal_conf.read_text()


def main_conf(env: SnapEnv) -> str:
    return env.paths.httpd_conf.read_text()


def cluster(env: SnapEnv, cluster_id: str = "owens") -> dict[str, Any]:
    data = yaml.safe_load((env.paths.clusters_d / f"{cluster_id}.yml").read_text())
    assert isinstance(data, dict)
    return data


@dataclass(frozen=True)
class Case:
    """Keys to set (values may name files by {cert} etc.) and what must then hold."""

    values: dict[str, Any]
    check: Callable[[SnapEnv], Any]


OIDC = {
    "portal.oidc.provider-metadata-url": "https://idp.example.edu/.well-known/openid-configuration",
    "portal.oidc.client-id": "ondemand.example.edu",
}
# Upstream's need_auth vhost (no auth yet) uses only the server name; the other portal
# keys show in the full vhost, so their cases turn basic auth on.
BASIC = {"portal.auth.type": "basic", "portal.auth.basic.user-file": "{htpasswd}"}
SSL = {**BASIC, "portal.ssl.certificate": "{cert}", "portal.ssl.certificate-key": "{key}"}

VALID: dict[str, Case] = {
    "portal.servername": Case(
        {"portal.servername": "OnDemand.Example.edu"},
        lambda e: "  ServerName ondemand.example.edu" in vhost(e)
        and portal_yml(e)["servername"] == "ondemand.example.edu",
    ),
    "portal.server-aliases": Case(
        {**BASIC, "portal.servername": "a.example.edu", "portal.server-aliases": "b.example.edu, c.example.edu"},
        lambda e: "ServerAlias b.example.edu" in vhost(e) and "ServerAlias c.example.edu" in vhost(e),
    ),
    "portal.port": Case(
        {"portal.port": 8080},
        lambda e: "<VirtualHost *:*>" in vhost(e) and "Listen 8080\n" in main_conf(e) and "Listen" not in vhost(e),
    ),
    "portal.listen-addr-port": Case(
        {**BASIC, "portal.port": "8080", "portal.listen-addr-port": "127.0.0.1:8080,[::1]:8080"},
        lambda e: "Listen 127.0.0.1:8080\nListen [::1]:8080\n" in vhost(e)
        and "\nListen " not in main_conf(e)
        and "<VirtualHost *:8080>" in vhost(e),
    ),
    "portal.ssl.certificate": Case(
        SSL,
        lambda e: "SSLEngine On" in vhost(e)
        and "<VirtualHost *:443>" in vhost(e)
        and "Listen 443\nListen 80\n" in vhost(e)
        and "<VirtualHost *:80>" in vhost(e),
    ),
    "portal.ssl.certificate-key": Case(SSL, lambda e: "SSLCertificateKeyFile" in vhost(e)),
    "portal.ssl.certificate-chain": Case(
        {**SSL, "portal.ssl.certificate-chain": "{cert}"}, lambda e: "SSLCertificateChainFile" in vhost(e)
    ),
    "portal.auth.type": Case(
        {"portal.auth.type": "basic", "portal.auth.basic.user-file": "{htpasswd}"},
        lambda e: "AuthType Basic" in vhost(e) and "mod_auth_basic.so" in main_conf(e),
    ),
    "portal.auth.basic.user-file": Case(
        {"portal.auth.type": "basic", "portal.auth.basic.user-file": "{htpasswd}"},
        lambda e: 'AuthUserFile "' in vhost(e),
    ),
    "portal.oidc.uri": Case(
        {**OIDC, "portal.oidc.uri": "/login/oidc"},
        lambda e: "OIDCRedirectURI /login/oidc\n" in vhost(e) and '<Location "/login/oidc">' in vhost(e),
    ),
    "portal.oidc.provider-metadata-url": Case(
        OIDC, lambda e: "OIDCProviderMetadataURL" in vhost(e) and "mod_auth_openidc.so" in main_conf(e)
    ),
    "portal.oidc.client-id": Case(OIDC, lambda e: "OIDCClientID ondemand.example.edu\n" in vhost(e)),
    "portal.oidc.client-secret": Case(
        {**OIDC, "portal.oidc.client-secret": "Xy9-z_.~+/="}, lambda e: "OIDCClientSecret Xy9-z_.~+/=\n" in vhost(e)
    ),
    "portal.oidc.remote-user-claim": Case(
        {**OIDC, "portal.oidc.remote-user-claim": "email"}, lambda e: "OIDCRemoteUserClaim email\n" in vhost(e)
    ),
    "portal.oidc.scope": Case(
        {**OIDC, "portal.oidc.scope": "openid  groups"}, lambda e: 'OIDCScope "openid groups"' in vhost(e)
    ),
    "portal.oidc.session-inactivity-timeout": Case(
        {**OIDC, "portal.oidc.session-inactivity-timeout": 600},
        lambda e: "OIDCSessionInactivityTimeout 600\n" in vhost(e),
    ),
    "portal.oidc.session-max-duration": Case(
        {**OIDC, "portal.oidc.session-max-duration": "0"}, lambda e: "OIDCSessionMaxDuration 0\n" in vhost(e)
    ),
    "portal.maintenance.enabled": Case(
        {**BASIC, "portal.maintenance.enabled": True},
        lambda e: e.paths.maintenance_enable.is_file()
        and "RewriteRule ^.*$ /public/maintenance/index.html [R=302,L]" in vhost(e),
    ),
    "portal.maintenance.allowlist": Case(
        {**BASIC, "portal.maintenance.enabled": "true", "portal.maintenance.allowlist": "10.0.0.5, 192.168.1.7/24"},
        lambda e: portal_yml(e)["maintenance_ip_allowlist"] == ["10.0.0.5", "192.168.1."]
        and "RewriteCond %{REMOTE_ADDR} !^10\\.0\\.0\\.5\n" in vhost(e)
        and "RewriteCond %{REMOTE_ADDR} !^192\\.168\\.1\\.\n" in vhost(e),
    ),
    "portal.user-map-match": Case(
        {**OIDC, "portal.user-map-match": "^([^@]+)@example%.edu$"},
        lambda e: portal_yml(e)["user_map_match"] == "^([^@]+)@example%.edu$",
    ),
    "portal.host-regex": Case(
        {"portal.host-regex": r"[\w.-]+\.cluster\.example\.edu"},
        lambda e: portal_yml(e)["host_regex"] == r"[\w.-]+\.cluster\.example\.edu",
    ),
    "portal.lua-log-level": Case({"portal.lua-log-level": "warn"}, lambda e: portal_yml(e)["lua_log_level"] == "warn"),
    "nginx-stage.min-uid": Case({"nginx-stage.min-uid": 5000}, lambda e: nginx_yml(e)["min_uid"] == 5000),
    "nginx-stage.nginx-file-upload-max": Case(
        {"nginx-stage.nginx-file-upload-max": 1024}, lambda e: nginx_yml(e)["nginx_file_upload_max"] == "1024"
    ),
    "nginx-stage.pun-custom-env.<NAME>": Case(
        {
            "nginx-stage.pun-custom-env.ood-dashboard-title": "Example U #1",
            "nginx-stage.pun-custom-env.OOD_BRAND_BG_COLOR": "#53565a",
        },
        lambda e: nginx_yml(e)["pun_custom_env"]
        == {"OOD_BRAND_BG_COLOR": "#53565a", "OOD_DASHBOARD_TITLE": "Example U #1"},
    ),
    "clusters.<id>.title": Case(
        {"clusters.owens.title": "Owens", "clusters.owens.login.host": "owens.example.edu"},
        lambda e: cluster(e)["v2"]["metadata"]["title"] == "Owens",
    ),
    "clusters.<id>.login.host": Case(
        {"clusters.owens.login.host": "owens.example.edu"},
        lambda e: cluster(e)["v2"] == {"metadata": {"title": "owens"}, "login": {"host": "owens.example.edu"}},
    ),
    "clusters.<id>.job.adapter": Case(
        {"clusters.owens.job.adapter": "slurm"}, lambda e: cluster(e)["v2"]["job"] == {"adapter": "slurm"}
    ),
    "clusters.<id>.job.cluster": Case(
        {"clusters.owens.job.adapter": "slurm", "clusters.owens.job.cluster": "owens"},
        lambda e: cluster(e)["v2"]["job"]["cluster"] == "owens",
    ),
    "clusters.<id>.job.host": Case(
        {"clusters.pitzer.job.adapter": "pbspro", "clusters.pitzer.job.host": "pbs.example.edu"},
        lambda e: cluster(e, "pitzer")["v2"]["job"]["host"] == "pbs.example.edu",
    ),
    "clusters.<id>.job.bin": Case(
        {"clusters.owens.job.adapter": "slurm", "clusters.owens.job.bin": "{bin}"},
        lambda e: cluster(e)["v2"]["job"]["bin"].endswith("/bin"),
    ),
    "clusters.<id>.job.conf": Case(
        {"clusters.owens.job.adapter": "slurm", "clusters.owens.job.conf": "{slurm}"},
        lambda e: cluster(e)["v2"]["job"]["conf"].endswith("/slurm.conf"),
    ),
}

INJECTIONS = [
    "x\nLoadModule evil_module /tmp/evil.so",
    'x" evil="1',
    "x'y",
    "</VirtualHost>",
    "<Location />",
    "x\\",
    "${HOME}",
    "a\rb",
    "tab\there",
]

INVALID: list[tuple[str, Any, str]] = [
    ("portal.servername", "bad_host", "is not a host name"),
    ("portal.servername", "-lead.example.edu", "is not a host name"),
    ("portal.servername", "a" * 64 + ".example.edu", "is not a host name"),
    ("portal.servername", 42.5, "is not text"),
    ("portal.server-aliases", "ok.example.edu,bad host", "is not a host name"),
    ("portal.port", 70000, '"70000" is not a port; use a number from 1 to 65535'),
    ("portal.port", 0, "is not a port"),
    ("portal.port", "80a", "is not a port"),
    ("portal.port", True, "is not a port"),
    ("portal.port", 80.5, "is not a port"),
    ("portal.listen-addr-port", "localhost:80", "is not PORT, IPv4:PORT or [IPv6]:PORT"),
    ("portal.listen-addr-port", "::1:80", "is not PORT, IPv4:PORT or [IPv6]:PORT"),
    ("portal.listen-addr-port", "1.2.3.4:99999", "no valid port"),
    ("portal.ssl.certificate", "relative/cert.pem", "is not an absolute path"),
    ("portal.ssl.certificate", "/nonexistent/cert.pem", "does not exist"),
    ("portal.ssl.certificate", "{htpasswd}", "is not a PEM certificate"),
    ("portal.ssl.certificate", "{bin}", "is not a regular file"),
    ("portal.ssl.certificate-key", "{cert}", "is not a PEM private key"),
    ("portal.ssl.certificate-chain", "/nonexistent/chain.pem", "does not exist"),
    ("portal.auth.type", "ldap", "is not one of: auto, none, oidc, basic"),
    ("portal.auth.basic.user-file", "/nonexistent/htpasswd", "does not exist"),
    ("portal.oidc.uri", "oidc", "is not a URL path"),
    ("portal.oidc.uri", "/oidc/../x", "is not a URL path"),
    ("portal.oidc.provider-metadata-url", "http://idp.example.edu/.well-known/openid", "is not an https URL"),
    ("portal.oidc.provider-metadata-url", "https://user:pw@idp.example.edu/", "contains credentials"),
    ("portal.oidc.provider-metadata-url", "https:///nohost", "no valid host name"),
    ("portal.oidc.client-id", "two words", "contains spaces"),
    ("portal.oidc.remote-user-claim", "claim with space", "is not a claim name"),
    ("portal.oidc.scope", "profile email", "lacks the 'openid' scope"),
    ("portal.oidc.session-inactivity-timeout", 0, "is not a number of seconds"),
    ("portal.oidc.session-max-duration", -1, "is not a number of seconds"),
    ("portal.maintenance.enabled", "yes please", "is not true or false"),
    ("portal.maintenance.allowlist", "10.0.0.1,example.edu", "is not an IP address or an IPv4 network of /8, /16"),
    ("portal.maintenance.allowlist", "10.0.0.0/33", "is not an IP address or an IPv4 network"),
    ("portal.maintenance.allowlist", "10.0.0.0/20", "upstream's allowlist matches the start of the client's address"),
    ("portal.maintenance.allowlist", "10.0.300.", "is not an IP address"),
    ("portal.user-map-match", "a b", "is not a Lua pattern"),
    ("portal.host-regex", "[unclosed", "is not a valid regular expression"),
    ("portal.lua-log-level", "verbose", "is not one of"),
    ("nginx-stage.min-uid", 999, "use a number from 1000"),
    ("nginx-stage.min-uid", 0, "use a number from 1000"),
    ("nginx-stage.min-uid", "-5", "use a number from 1000"),
    ("nginx-stage.nginx-file-upload-max", -1, "is not a number of bytes"),
    ("nginx-stage.pun-custom-env.1abc", "x", "is not an environment variable name"),
    ("nginx-stage.pun-custom-env.Mixed_Case", "x", "is not an environment variable name"),
    ("clusters.owens.login.host", "not a host", "is not a host name"),
    ("clusters.owens.job.adapter", "slurmish", "is not one of: slurm, pbspro, torque, lsf, sge"),
    ("clusters.owens.title", "x" * 200, "longer than 128"),
    ("clusters.owens.job.cluster", "-owens", "is not a cluster name"),
    ("clusters.owens.job.host", "pbs_server", "is not a host name"),
    ("clusters.owens.job.bin", "/nonexistent/bin", "is not an existing directory"),
    ("clusters.owens.job.conf", "/nonexistent/slurm.conf", "does not exist"),
    ("clusters.Bad_Id.login.host", "a.example.edu", "is not a cluster id"),
] + [
    (key, bad, "")  # every free-text key refuses every injection attempt
    for key in ("portal.oidc.client-secret", "portal.oidc.client-id", "portal.user-map-match",
                "nginx-stage.pun-custom-env.ood-title", "clusters.owens.title")
    for bad in INJECTIONS
]  # fmt: skip


def fill(values: dict[str, Any], files: dict[str, str]) -> dict[str, Any]:
    return {k: v.format(**files) if isinstance(v, str) and "{" in v and "}" in v and "${" not in v else v
            for k, v in values.items()}  # fmt: skip


def generated(env: SnapEnv) -> dict[str, bytes]:
    out = {p.name: p.read_bytes() for p in (env.paths.ood_portal_yml, env.paths.nginx_stage_yml,
                                              env.paths.httpd_conf, env.paths.portal_conf)}  # fmt: skip
    out["maintenance.enable"] = b"on" if env.paths.maintenance_enable.exists() else b"off"
    out.update({f"clusters.d/{p.name}": p.read_bytes() for p in env.paths.clusters_d.iterdir()})
    return out


def test_every_key_has_a_valid_case() -> None:
    assert set(VALID) == {key.name for key in model.KEYS}


def test_every_key_has_an_invalid_case() -> None:
    covered = set()
    for name, _, _ in INVALID:
        key, _ = model._match(tuple(name.split(".")))
        if key is not None:
            covered.add(key.name)
    # portal.oidc.client-secret and the pun-custom-env value are covered by the injections.
    assert covered == {key.name for key in model.KEYS}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_value_is_applied(env: SnapEnv, files: dict[str, str], name: str) -> None:
    case = VALID[name]
    env.set(fill(case.values, files))
    env.configure()
    assert case.check(env), f"{name}: effect not found"


@pytest.mark.parametrize("name", sorted(VALID))
def test_unset_returns_to_the_default(env: SnapEnv, files: dict[str, str], name: str) -> None:
    pristine = generated(env)
    case = VALID[name]
    env.set(fill(case.values, files))
    env.configure()
    assert generated(env) != pristine, f"{name}: setting it changed nothing"
    env.snapctl.unset(*case.values)
    env.configure()
    assert generated(env) == pristine


@pytest.mark.parametrize("name,value,message", INVALID, ids=[f"{n}={v!r}"[:60] for n, v, _ in INVALID])
def test_invalid_value_is_refused_and_nothing_changes(
    env: SnapEnv, files: dict[str, str], name: str, value: Any, message: str
) -> None:
    before = snapshot(env.root)
    env.set(fill({name: value}, files))
    with pytest.raises(ConfigError) as error:
        env.configure()
    problems = error.value.problems
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{name}: "), problems
    assert message in problems[0]
    assert snapshot(env.root) == before
    assert env.snapctl.restarts == []


def test_port_message_is_exactly_as_documented(env: SnapEnv) -> None:
    env.set({"portal.port": "70000"})
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert error.value.problems == ['portal.port: "70000" is not a port; use a number from 1 to 65535']
    assert "nothing was changed" in str(error.value)


def test_secret_is_never_echoed(env: SnapEnv) -> None:
    env.set({"portal.oidc.client-secret": "hunter2\nLoadModule x y"})
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert "hunter2" not in str(error.value)
    assert "(hidden)" in str(error.value)


def test_all_problems_are_reported_together(env: SnapEnv, files: dict[str, str]) -> None:
    before = snapshot(env.root)
    env.set({"portal.port": 0, "portal.servername": "a b", "nginx-stage.min-uid": 1,
             "portal.ssl.certificate": files["cert"], "portal.prot": 1})  # fmt: skip
    with pytest.raises(ConfigError) as error:
        env.configure()
    keys = sorted(p.split(":", 1)[0] for p in error.value.problems)
    assert keys == sorted(["portal.port", "portal.servername", "nginx-stage.min-uid", "portal.prot",
                           "portal.ssl.certificate-key"])  # fmt: skip
    assert snapshot(env.root) == before


def test_a_good_config_survives_a_bad_change(env: SnapEnv) -> None:
    env.set({"portal.servername": "ondemand.example.edu", "nginx-stage.min-uid": 2000})
    env.configure()
    before = snapshot(env.root)
    env.set({"nginx-stage.min-uid": 10})
    with pytest.raises(ConfigError):
        env.configure()
    assert snapshot(env.root) == before


@pytest.mark.parametrize(
    "key,hint",
    [
        ("portal.prot", "did you mean portal.port?"),
        ("portal.servrname", "did you mean portal.servername?"),
        ("portal.oidc.client-secrte", "did you mean portal.oidc.client-secret?"),
        ("nginx-stage.min-ui", "did you mean nginx-stage.min-uid?"),
        ("clusters.owens.login.hots", "did you mean clusters.owens.login.host?"),
        ("portal.zzzzzzzz", "known keys here: portal."),
        # Keys outside our namespaces (`portl.port`, `qqqq`) never reach the hook: snapctl can
        # only read named keys, so the hook reads its namespaces and such keys have no effect.
    ],
)
def test_unknown_key_is_refused_with_a_hint(env: SnapEnv, key: str, hint: str) -> None:
    before = snapshot(env.root)
    env.set({key: "1"})
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert error.value.problems[0].startswith(f"{key}: unknown key")
    assert hint in error.value.problems[0]
    assert snapshot(env.root) == before


def test_a_group_given_a_value_and_a_value_given_subkeys_are_refused(env: SnapEnv) -> None:
    env.snapctl.config = {"portal": {"ssl": "on", "port": {"number": 80}}}
    with pytest.raises(ConfigError) as error:
        env.configure()
    text = "\n".join(error.value.problems)
    assert "portal.ssl: is a group of settings, not a value; set one of portal.ssl.certificate" in text
    assert "portal.port.number: portal.port is a single value, not a group" in text


def test_empty_string_means_default(env: SnapEnv) -> None:
    pristine = generated(env)
    env.set({"portal.servername": "", "portal.port": ""})
    env.configure()
    assert generated(env) == pristine


# --- cross-key rules ---------------------------------------------------------------------------


def test_listen_must_include_the_portal_port(env: SnapEnv) -> None:
    env.set({"portal.port": 443, "portal.listen-addr-port": "8443"})
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert error.value.problems[0].startswith("portal.listen-addr-port: ")
    assert "does not include portal.port 443" in error.value.problems[0]


def test_explicit_oidc_needs_its_keys(env: SnapEnv) -> None:
    env.set({"portal.auth.type": "oidc"})
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert sorted(p.split(":")[0] for p in error.value.problems) == [
        "portal.oidc.client-id",
        "portal.oidc.provider-metadata-url",
    ]


def test_auto_auth_waits_for_both_oidc_keys(env: SnapEnv) -> None:
    env.set({"portal.oidc.client-id": "ondemand"})
    env.configure()
    assert "need_auth.html" in vhost(env) and "OIDC" not in vhost(env)


def test_auth_none_overrides_oidc_keys(env: SnapEnv) -> None:
    env.set({**OIDC, "portal.auth.type": "none"})
    env.configure()
    assert "need_auth.html" in vhost(env) and "OIDCClientID" not in vhost(env)


def test_cluster_subkeys_need_an_adapter(env: SnapEnv, files: dict[str, str]) -> None:
    env.set({"clusters.owens.login.host": "owens.example.edu", "clusters.owens.job.bin": files["bin"]})
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert error.value.problems == ["clusters.owens.job.bin: needs clusters.owens.job.adapter; set it too"]


@pytest.mark.parametrize(
    "values,key",
    [
        ({"portal.port": "http", "portal.listen-addr-port": "8081"}, "portal.port"),
        ({"portal.ssl.certificate": "/nonexistent/cert.pem", "portal.ssl.certificate-key": "{key}"},
         "portal.ssl.certificate"),
        ({"portal.ssl.certificate": "cert.pem", "portal.ssl.certificate-chain": "{cert}"}, "portal.ssl.certificate"),
        ({"portal.ssl.certificate": "{cert}", "portal.ssl.certificate-key": "/nonexistent/key.pem"},
         "portal.ssl.certificate-key"),
        ({"portal.auth.type": "oidc", "portal.oidc.provider-metadata-url": "http://idp.example.edu/x",
          "portal.oidc.client-id": "ondemand"}, "portal.oidc.provider-metadata-url"),
        ({**OIDC, "portal.auth.type": "oidc", "portal.oidc.client-id": "two words"}, "portal.oidc.client-id"),
        ({"portal.auth.type": "basic", "portal.auth.basic.user-file": "/nonexistent/htpasswd"},
         "portal.auth.basic.user-file"),
        ({"clusters.owens.title": "Owens", "clusters.owens.login.host": "bad_host"}, "clusters.owens.login.host"),
        ({"clusters.owens.job.adapter": "pbs", "clusters.owens.job.cluster": "owens"}, "clusters.owens.job.adapter"),
    ],
    ids=["port", "certificate", "certificate-with-chain", "certificate-key", "oidc-url", "oidc-client-id",
         "basic-user-file", "cluster-login-host", "cluster-adapter"],
)  # fmt: skip
def test_a_refused_value_is_reported_once_not_again_as_missing(
    env: SnapEnv, files: dict[str, str], values: dict[str, Any], key: str
) -> None:
    # The cross-key rules (pairs, "required when", "needs") skip a key whose own value was
    # refused: the admin set it, so "set it" or "does not include portal.port 80" misleads.
    before = snapshot(env.root)
    env.set(fill(values, files))
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert [p.split(":", 1)[0] for p in error.value.problems] == [key], error.value.problems
    assert snapshot(env.root) == before


def test_pun_custom_env_name_given_twice_is_refused(env: SnapEnv) -> None:
    env.set({"nginx-stage.pun-custom-env.ood-title": "a", "nginx-stage.pun-custom-env.OOD_TITLE": "b"})
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert "sets OOD_TITLE" in error.value.problems[0]


# --- restart only on change ------------------------------------------------------------------


def test_restart_requested_only_when_a_generated_file_changes(env: SnapEnv) -> None:
    env.configure()
    assert env.snapctl.restarts == []  # install already generated the same files
    env.set({"portal.servername": "ondemand.example.edu"})
    applied = env.configure()
    assert applied.portal_changed and env.snapctl.restarts == [("ondemand.apache",)]
    env.configure()
    assert env.snapctl.restarts == [("ondemand.apache",)]
    env.set({"nginx-stage.min-uid": 4000})  # nginx_stage.yml only: Apache does not read it
    applied = env.configure()
    assert env.paths.nginx_stage_yml in applied.written
    assert env.snapctl.restarts == [("ondemand.apache",)]


def test_no_restart_of_a_disabled_apache(env: SnapEnv) -> None:
    env.snapctl.apache_enabled = False
    env.set({"portal.servername": "ondemand.example.edu"})
    applied = env.configure()
    assert applied.portal_changed and not applied.restarted and env.snapctl.restarts == []


def test_a_failed_restart_is_a_warning_not_a_failure(env: SnapEnv) -> None:
    env.snapctl.fail_restart = True
    env.set({"portal.servername": "ondemand.example.edu"})
    applied = env.configure()
    assert applied.portal_changed and not applied.restarted


# --- files around the settings ---------------------------------------------------------------


def test_admin_keys_in_nginx_stage_yml_are_kept_and_snap_paths_restored(env: SnapEnv) -> None:
    data = nginx_yml(env)
    data["disabled_shell"] = "/bin/false"
    data["nginx_bin"] = "/usr/sbin/nginx"
    data["min_uid"] = 0  # a managed key edited by hand: the snap's value wins
    env.paths.nginx_stage_yml.write_text(yaml.safe_dump(data))
    env.configure()
    after = nginx_yml(env)
    assert after["disabled_shell"] == "/bin/false"
    assert after["nginx_bin"] == f"{env.paths.snap_stable}/bin/nginx"
    assert after["min_uid"] == 1000


@pytest.mark.parametrize(
    "content,message",
    [
        ("min_uid: [1000\n", "is not valid YAML"),
        ("- just\n- a list\n", "must be a mapping"),
        ("min_uid: 1000\nmin_uid: 0\n", "duplicate key 'min_uid'"),
        ("\udcff", None),
    ],
)
def test_broken_nginx_stage_yml_refuses_configure(env: SnapEnv, content: str, message: str | None) -> None:
    if message is None:
        env.paths.nginx_stage_yml.write_bytes(b"\xff\xfe")
        message = "is not UTF-8"
    else:
        env.paths.nginx_stage_yml.write_text(content)
    before = snapshot(env.root)
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert error.value.problems[0].startswith(str(env.paths.nginx_stage_yml))
    assert message in error.value.problems[0]
    assert snapshot(env.root) == before


def test_cluster_files_are_written_and_removed_with_their_keys(env: SnapEnv) -> None:
    env.set({"clusters.owens.login.host": "owens.example.edu", "clusters.pitzer.login.host": "pitzer.example.edu"})
    env.configure()
    own = env.paths.clusters_d / "admin.yml"
    own.write_text("v2:\n  login:\n    host: admin.example.edu\n")
    assert sorted(p.name for p in env.paths.clusters_d.iterdir()) == ["admin.yml", "owens.yml", "pitzer.yml"]
    assert stat.S_IMODE((env.paths.clusters_d / "owens.yml").stat().st_mode) == 0o644
    env.snapctl.unset("clusters.pitzer")
    applied = env.configure()
    assert applied.removed == [env.paths.clusters_d / "pitzer.yml"]
    assert sorted(p.name for p in env.paths.clusters_d.iterdir()) == ["admin.yml", "owens.yml"]
    assert own.read_text() == "v2:\n  login:\n    host: admin.example.edu\n"


def test_cluster_id_clashing_with_an_admin_file_is_refused(env: SnapEnv) -> None:
    own = env.paths.clusters_d / "owens.yml"
    own.write_text("v2: {}\n")
    before = snapshot(env.root)
    env.set({"clusters.owens.login.host": "owens.example.edu"})
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert error.value.problems[0].startswith("clusters.owens: ")
    assert "was not written by the snap" in error.value.problems[0]
    assert snapshot(env.root) == before


def test_oidc_passphrase_generated_once_and_private(env: SnapEnv) -> None:
    env.set(OIDC)
    env.configure()
    secret_file = env.paths.oidc_passphrase_file
    passphrase = secret_file.read_text().strip()
    assert len(passphrase) == 64 and int(passphrase, 16) >= 0
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert f"OIDCCryptoPassphrase {passphrase}\n" in vhost(env)
    env.set({"portal.servername": "ondemand.example.edu"})
    env.configure()
    assert secret_file.read_text().strip() == passphrase
    assert f"OIDCCryptoPassphrase {passphrase}\n" in vhost(env)


def test_corrupt_oidc_passphrase_refuses_and_says_how_to_fix(env: SnapEnv) -> None:
    env.paths.oidc_passphrase_file.write_text("short\n")
    env.set(OIDC)
    before = snapshot(env.root)
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert "delete it" in error.value.problems[0]
    assert snapshot(env.root) == before


def test_files_holding_secrets_are_root_only(env: SnapEnv) -> None:
    env.set({**OIDC, "portal.oidc.client-secret": "s3cret"})
    env.configure()
    for path in (env.paths.ood_portal_yml, env.paths.portal_conf, env.paths.oidc_passphrase_file):
        assert "s3cret" not in path.read_text() or stat.S_IMODE(path.stat().st_mode) == 0o600, path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# --- files Apache's workers read: checked for the user that reads them ----------------------


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory every user can enter (pytest's tmp_path sits under a root-only 0700 dir)."""
    import shutil
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="ondemand-readable-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_readable_by_follows_owner_group_and_other_bits_and_every_parent(open_dir: Path) -> None:
    tmp_path = open_dir
    import pwd

    from ondemand_hooks.validators import readable_by

    nobody = pwd.getpwnam("nobody")
    tmp_path.chmod(0o755)
    secret = tmp_path / "htpasswd"
    secret.write_text("u:x\n")
    secret.chmod(0o600)  # root's only
    assert "nobody cannot read it (mode -rw-------)" in (readable_by(secret, "nobody") or "")
    assert "chgrp nobody" in (readable_by(secret, "nobody") or "")
    os.chown(secret, 0, nobody.pw_gid)
    secret.chmod(0o640)
    assert readable_by(secret, "nobody") is None
    tmp_path.chmod(0o700)  # the file is fine, its directory is not
    assert f"nobody cannot enter {tmp_path}" in (readable_by(secret, "nobody") or "")
    tmp_path.chmod(0o755)
    assert readable_by(secret, "root") is None
    assert readable_by(secret, "no-such-account-here") is None


def test_a_password_file_the_portal_user_cannot_read_is_refused_naming_the_key(open_dir: Path) -> None:
    tmp_path = open_dir
    from ondemand_hooks.validators import ExistingFile, Invalid

    tmp_path.chmod(0o755)
    secret = tmp_path / "htpasswd"
    secret.write_text("u:x\n")
    secret.chmod(0o600)
    check = ExistingFile("htpasswd file", reader="nobody")
    with pytest.raises(
        Invalid, match="the htpasswd file must be readable by the portal's user, but nobody cannot read it"
    ):
        check(str(secret))
    secret.chmod(0o644)
    assert check(str(secret)) == str(secret)


def usr1_stand_in(env: SnapEnv) -> tuple[subprocess.Popen[bytes], Path]:
    """A process whose command line names our httpd.conf, as Apache's parent's does; on
    SIGUSR1 it writes 'yes' to the marker and exits ('ready' once it is waiting)."""
    marker = env.root / "got-usr1"
    script = (
        "import signal, sys, time, pathlib\n"
        "signal.signal(signal.SIGUSR1, lambda *a: (pathlib.Path(sys.argv[1]).write_text('yes'), sys.exit(0)))\n"
        "pathlib.Path(sys.argv[1]).write_text('ready')\n"
        "time.sleep(30)\n"
    )
    return subprocess.Popen([sys.executable, "-c", script, str(marker), "-f", str(env.paths.httpd_conf)]), marker


def test_reload_signals_only_a_process_running_our_httpd_conf(env: SnapEnv) -> None:
    """A stale PidFile naming another process is not signalled; our Apache (a stand-in
    process whose command line names httpd.conf) gets SIGUSR1 and no snapd restart."""
    import os
    import time

    from ondemand_hooks import hooks as hook_fns

    pid_file = env.paths.apache_pid_file
    pid_file.parent.mkdir(parents=True, exist_ok=True)
    pid_file.write_text(f"{os.getpid()}\n")  # pytest itself: not our Apache
    assert hook_fns.apache_main_pid(env.paths) is None
    stand_in, marker = usr1_stand_in(env)
    try:
        pid_file.write_text("")  # mid-graceful: the parent is found among the processes
        deadline = time.time() + 10
        while not (marker.exists() and hook_fns.apache_main_pid(env.paths) == stand_in.pid):
            assert time.time() < deadline, "the stand-in was never found"
            time.sleep(0.05)
        pid_file.write_text(f"{stand_in.pid}\n")
        env.set({"portal.servername": "ondemand.example.edu"})
        applied = env.configure()
        assert applied.restarted and env.snapctl.restarts == []
        assert stand_in.wait(10) == 0 and marker.read_text() == "yes"
    finally:
        stand_in.kill()
        stand_in.wait()


def test_a_change_of_the_module_set_restarts_instead_of_reloading(env: SnapEnv, tmp_path: Path) -> None:
    """Switching the auth type loads other modules (mod_auth_openidc's children segfault
    after a graceful load): Apache is restarted through snapd, not signalled."""
    import subprocess
    import sys
    import time

    from ondemand_hooks import hooks as hook_fns

    ready = tmp_path / "ready"
    script = "import pathlib, sys, time\npathlib.Path(sys.argv[1]).write_text('ready')\ntime.sleep(30)\n"
    stand_in = subprocess.Popen([sys.executable, "-c", script, str(ready), "-f", str(env.paths.httpd_conf)])
    try:
        env.paths.apache_pid_file.parent.mkdir(parents=True, exist_ok=True)
        env.paths.apache_pid_file.write_text(f"{stand_in.pid}\n")
        deadline = time.time() + 10
        while not ready.exists():
            assert time.time() < deadline
            time.sleep(0.05)
        htpasswd = tmp_path / "htpasswd"
        htpasswd.write_text("alice:{SHA}x\n")
        htpasswd.chmod(0o644)
        before = hook_fns.loaded_modules(env.paths.httpd_conf.read_bytes())
        env.set({"portal.auth.type": "basic", "portal.auth.basic.user-file": str(htpasswd)})
        applied = env.configure()
        assert hook_fns.loaded_modules(env.paths.httpd_conf.read_bytes()) - before >= {"auth_basic_module"}
        assert applied.restarted and env.snapctl.restarts == [("ondemand.apache",)]
        assert stand_in.poll() is None  # not signalled (SIGUSR1 would have ended it)
    finally:
        stand_in.kill()
        stand_in.wait()


def test_values_ruby_would_read_as_symbols_are_quoted(env: SnapEnv, files: dict[str, str]) -> None:
    """Upstream's generator reads ood_portal.yml with Ruby, where a plain `::1` is a Symbol."""
    env.set(fill({**BASIC, "portal.maintenance.allowlist": "::1"}, files))
    env.configure()
    assert "- '::1'" in env.paths.ood_portal_yml.read_text()
    assert "RewriteCond %{REMOTE_ADDR} !^::1\n" in vhost(env)


def test_a_change_while_oidc_is_on_reloads_gracefully(env: SnapEnv) -> None:
    """mod_auth_openidc loaded before and after (the module set unchanged): SIGUSR1 to our
    Apache, no snapd restart; only loading or unloading it restarts (see needs_restart)."""
    import time

    from ondemand_hooks import hooks as hook_fns

    env.set(OIDC)
    env.configure()  # no Apache of ours runs yet: restarted through snapd
    assert env.snapctl.restarts == [("ondemand.apache",)]
    stand_in, marker = usr1_stand_in(env)
    try:
        env.paths.apache_pid_file.write_text(f"{stand_in.pid}\n")
        deadline = time.time() + 10
        while not (marker.exists() and hook_fns.apache_main_pid(env.paths) == stand_in.pid):
            assert time.time() < deadline, "the stand-in was never found"
            time.sleep(0.05)
        env.set({"portal.oidc.scope": "openid profile groups"})
        applied = env.configure()
        assert "auth_openidc_module" in hook_fns.loaded_modules(env.paths.httpd_conf.read_bytes())
        assert applied.restarted and env.snapctl.restarts == [("ondemand.apache",)]  # no second restart
        assert stand_in.wait(10) == 0 and marker.read_text() == "yes"
    finally:
        stand_in.kill()
        stand_in.wait()
