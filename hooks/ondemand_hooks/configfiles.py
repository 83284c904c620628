"""The YAML files under $SNAP_COMMON/etc/ood/config, in upstream's vocabulary.

- ood_portal.yml: written whole from the `portal.*` keys, then the admin's
  ood_portal.site.yml keys (upstream's keys the snap does not manage; sitefile.py);
  `update-portal` reads it back (strictly: same validators, unknown keys refused), merges
  the site file again and renders the Apache config.
- nginx_stage.yml: the snap's paths and the `nginx-stage.*` keys are rewritten; any other
  key an admin added by hand is kept.
- clusters.d/<id>.yml: one file per `clusters.<id>`; files the snap did not write are
  never touched (and block a cluster of the same id).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import model, upstream
from .env import Paths
from .errors import ConfigError, InternalError
from .model import PortalSettings, Settings
from .validators import is_passphrase

PORTAL_HEADER = """\
# Open OnDemand portal configuration (upstream's ood_portal.yml keys), written by the
# ondemand snap from `snap set ondemand portal.*`. Change settings with snap set: the
# next `snap set` or refresh rewrites this file. Upstream's other keys go in
# ood_portal.site.yml next to it, which is merged in here. `sudo snap run
# ondemand.update-portal` merges that file again and regenerates the Apache config from
# this one. Readable by root only (it may hold the OIDC client secret).
# Reference: docs/configuration.md.
"""
# The header line naming the merged site keys; update-portal reads it back to tell them
# from keys added to ood_portal.yml by hand.
SITE_KEYS_LINE = "# Keys from ood_portal.site.yml (edit them there, not here): "
EDIT_SITE_FILE = "edit ood_portal.site.yml, not ood_portal.yml (then `sudo snap run ondemand.update-portal`)"


def portal_header(site_keys: Iterable[str] = ()) -> str:
    names = list(site_keys)
    return PORTAL_HEADER + (SITE_KEYS_LINE + ", ".join(names) + "\n" if names else "")


def recorded_site_keys(data: bytes) -> set[str]:
    """The site keys an ood_portal.yml's header says were merged into it."""
    found: set[str] = set()
    for line in data.decode("utf-8", "replace").splitlines():
        if not line.startswith("#"):
            break
        if line.startswith(SITE_KEYS_LINE):
            found.update(name.strip() for name in line[len(SITE_KEYS_LINE) :].split(",") if name.strip())
    return found


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


NGINX_STAGE_HEADER = """\
# nginx_stage configuration (upstream's nginx_stage.yml keys) for the ondemand snap.
# Paths into the snap and the keys set with `snap set ondemand nginx-stage.*` are rewritten
# on every snap set and refresh. Other keys you add here are kept (comments are not).
"""

CLUSTER_MARKER = "# Managed by the ondemand snap"


def cluster_header(cluster_id: str) -> str:
    return (
        f"{CLUSTER_MARKER}: written from `snap set ondemand clusters.{cluster_id}.*`.\n"
        "# Edits here are replaced; to manage this cluster by hand, unset those keys and write\n"
        "# your own file under another name.\n"
    )


# --- strict YAML ---------------------------------------------------------------------------


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in out:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
    return out


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_mapping(path: Path, data: bytes) -> tuple[dict[str, Any], str | None]:
    """(mapping, None) or ({}, problem). An empty file is an empty mapping."""
    try:
        value = yaml.load(data.decode("utf-8"), Loader=_StrictLoader)  # noqa: S506 - strict SafeLoader
    except UnicodeDecodeError:
        return {}, f"{path}: is not UTF-8 text; fix or remove it"
    except yaml.YAMLError as error:
        detail = " ".join(str(error).split())
        return {}, f"{path}: is not valid YAML ({detail}); fix or remove it"
    if value is None:
        return {}, None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        return {}, f"{path}: must be a mapping of keys to values; fix or remove it"
    return value, None


class _RubySafeDumper(yaml.SafeDumper):
    """Upstream's tools read these files with Ruby's YAML, which loads a plain scalar
    starting with ':' as a Symbol (`::1` is not the string "::1" there): such strings are
    quoted. Ruby's safe loader also refuses YAML aliases, so none are written: a value the
    admin's file shares between keys (an anchor) is written out each time."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "'" if value.startswith(":") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_RubySafeDumper.add_representer(str, _represent_str)


def dump_yaml(header: str, data: dict[str, Any]) -> bytes:
    body = yaml.dump(
        data, Dumper=_RubySafeDumper, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000
    )
    return (header + "---\n" + body).encode("utf-8")


# --- ood_portal.yml ------------------------------------------------------------------------

# ood_portal.yml key -> snap key, for keys that map one to one.
PORTAL_YAML_KEYS = {
    "servername": "portal.servername",
    "server_aliases": "portal.server-aliases",
    "port": "portal.port",
    "listen_addr_port": "portal.listen-addr-port",
    "oidc_uri": "portal.oidc.uri",
    "oidc_provider_metadata_url": "portal.oidc.provider-metadata-url",
    "oidc_client_id": "portal.oidc.client-id",
    "oidc_client_secret": "portal.oidc.client-secret",
    "oidc_remote_user_claim": "portal.oidc.remote-user-claim",
    "oidc_scope": "portal.oidc.scope",
    "oidc_session_inactivity_timeout": "portal.oidc.session-inactivity-timeout",
    "oidc_session_max_duration": "portal.oidc.session-max-duration",
    "maintenance_ip_allowlist": "portal.maintenance.allowlist",
    "user_map_match": "portal.user-map-match",
    "host_regex": "portal.host-regex",
    "lua_log_level": "portal.lua-log-level",
}
SSL_DIRECTIVES = {
    "SSLCertificateFile": "portal.ssl.certificate",
    "SSLCertificateKeyFile": "portal.ssl.certificate-key",
    "SSLCertificateChainFile": "portal.ssl.certificate-chain",
}
OIDC_AUTH = ["AuthType openid-connect", "Require valid-user"]
BASIC_AUTH_HEAD = ["AuthType Basic", 'AuthName "Open OnDemand"', "AuthBasicProvider file"]


@dataclass(frozen=True)
class Routes:
    """Sub-URIs upstream makes configurable; fixed in the snap (the apps expect these)."""

    public_uri: str = "/public"
    pun_uri: str = "/pun"
    nginx_uri: str = "/nginx"
    node_uri: str = "/node"
    rnode_uri: str = "/rnode"
    root_uri: str = "/pun/sys/dashboard"
    logout_uri: str = "/logout"
    logout_redirect: str = "/pun/sys/dashboard/logout"


ROUTES = Routes()


def fixed_portal_keys(paths: Paths, *, with_routes: bool | None = None) -> dict[str, Any]:
    """ood_portal.yml keys whose value the snap decides (paths into the snap, routes).

    The routes are written only where OnDemand is in the build, unless `with_routes` says.
    """
    fixed: dict[str, Any] = {
        "public_uri": ROUTES.public_uri,
        "public_root": str(paths.public_root),
        "logroot": str(paths.apache_log_dir),
        "pun_stage_cmd": f"sudo {paths.nginx_stage_stable}",
        "pun_socket_root": str(paths.nginx_run_dir),
        # Always on: portal.maintenance.enabled switches upstream's flag file instead.
        "use_maintenance": True,
    }
    if paths.ondemand_present if with_routes is None else with_routes:
        fixed.update(
            {
                "lua_root": str(paths.mod_ood_proxy_lib_stable),
                "pun_uri": ROUTES.pun_uri,
                "nginx_uri": ROUTES.nginx_uri,
                "node_uri": ROUTES.node_uri,
                "rnode_uri": ROUTES.rnode_uri,
                "root_uri": ROUTES.root_uri,
                "logout_uri": ROUTES.logout_uri,
                "logout_redirect": ROUTES.logout_redirect,
            }
        )
    return fixed


# Keys `portal_yaml` writes besides PORTAL_YAML_KEYS and the fixed ones (and one it makes
# upstream ignore) -> how an admin changes them.
DERIVED_KEYS = {
    "ssl": "set portal.ssl.certificate, portal.ssl.certificate-key and portal.ssl.certificate-chain instead",
    "auth": "set portal.auth.type (and portal.auth.basic.user-file) instead",
    "oidc_redirect_uri": "the snap writes it equal to oidc_uri; set portal.oidc.uri instead",
    "oidc_settings": (
        "the snap writes OIDCPKCEMethod S256 there while portal.oidc.client-secret is unset; put other "
        "mod_auth_openidc directives in custom_vhost_directives"
    ),
    # Upstream reads it only when maintenance_ip_allowlist is absent, which the snap always writes.
    "maintenance_ip_whitelist": (
        "upstream's old name of maintenance_ip_allowlist; set portal.maintenance.allowlist instead"
    ),
}


def managed_portal_keys(paths: Paths) -> dict[str, str]:
    """Every ood_portal.yml key the snap writes (whatever the settings) -> how to change it."""
    managed = {
        yml: f"set {snap} instead: `sudo snap set ondemand {snap}=...`" for yml, snap in PORTAL_YAML_KEYS.items()
    }
    managed.update(DERIVED_KEYS)
    managed["oidc_crypto_passphrase"] = f"the snap generates it once and keeps it in {paths.oidc_passphrase_file}"
    for name, value in fixed_portal_keys(paths, with_routes=True).items():
        shown = str(value).lower() if isinstance(value, bool) else repr(value)  # as YAML says it
        managed[name] = f"the snap fixes it to {shown}"
    managed["use_maintenance"] += "; portal.maintenance.enabled switches maintenance mode"
    return managed


def site_portal_keys(paths: Paths) -> frozenset[str]:
    """Upstream's ood_portal.yml keys an admin sets in ood_portal.site.yml: all the others."""
    return frozenset(upstream.PORTAL_KEYS) - set(managed_portal_keys(paths))


def auth_directives(portal: PortalSettings) -> list[str]:
    if portal.auth == "oidc":
        return list(OIDC_AUTH)
    if portal.auth == "basic":
        return BASIC_AUTH_HEAD + [f'AuthUserFile "{portal.basic_user_file}"', "Require valid-user"]
    return []


# A public OIDC client (no secret): PKCE binds the code to the browser session.
PKCE_SETTINGS = {"OIDCPKCEMethod": "S256"}


def portal_yaml(portal: PortalSettings, paths: Paths, passphrase: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if portal.servername:
        data["servername"] = portal.servername
    if portal.server_aliases:
        data["server_aliases"] = list(portal.server_aliases)
    data["port"] = portal.port
    data["listen_addr_port"] = list(portal.listen)
    if portal.ssl:
        ssl = [
            f'SSLCertificateFile "{portal.ssl.certificate}"',
            f'SSLCertificateKeyFile "{portal.ssl.certificate_key}"',
        ]
        if portal.ssl.certificate_chain:
            ssl.append(f'SSLCertificateChainFile "{portal.ssl.certificate_chain}"')
        data["ssl"] = ssl
    data["auth"] = auth_directives(portal)
    if portal.oidc:
        o = portal.oidc
        data["oidc_uri"] = o.uri
        data["oidc_redirect_uri"] = o.uri
        data["oidc_provider_metadata_url"] = o.provider_metadata_url
        data["oidc_client_id"] = o.client_id
        if o.client_secret:
            data["oidc_client_secret"] = o.client_secret
        else:
            data["oidc_settings"] = dict(PKCE_SETTINGS)
        data["oidc_remote_user_claim"] = o.remote_user_claim
        data["oidc_scope"] = o.scope
        data["oidc_session_inactivity_timeout"] = o.session_inactivity_timeout
        data["oidc_session_max_duration"] = o.session_max_duration
        if passphrase is None:
            raise InternalError("OpenID Connect needs the crypto passphrase")
        data["oidc_crypto_passphrase"] = passphrase
    data["maintenance_ip_allowlist"] = list(portal.maintenance_allowlist)
    data["user_map_match"] = portal.user_map_match
    data["host_regex"] = portal.host_regex
    data["lua_log_level"] = portal.lua_log_level
    data.update(fixed_portal_keys(paths))
    return data


def merge_site_keys(data: Mapping[str, Any], site: Mapping[str, Any]) -> dict[str, Any]:
    """The snap's keys, then the site file's (which never names one of them)."""
    clash = sorted(set(data) & set(site))
    if clash:
        raise InternalError(f"ood_portal.site.yml keys the snap writes itself got through: {', '.join(clash)}")
    return {**data, **site}


def render_portal_yaml(
    portal: PortalSettings, paths: Paths, passphrase: str | None = None, site: Mapping[str, Any] | None = None
) -> bytes:
    site = site or {}
    return dump_yaml(portal_header(site), merge_site_keys(portal_yaml(portal, paths, passphrase), site))


def _site_key_problems(data: Mapping[str, Any], site: Mapping[str, Any], paths: Paths, where: str) -> list[str]:
    """ood_portal.yml holds exactly the site file's keys and values."""
    site_file = paths.ood_portal_site_yml
    siteable = site_portal_keys(paths)
    problems = []
    for name, value in data.items():
        if name in site and value != site[name]:
            problems.append(f"{where}: {name}: differs from {site_file}; {EDIT_SITE_FILE}")
        elif name in siteable and name not in site:
            problems.append(f"{where}: {name}: is not in {site_file}; {EDIT_SITE_FILE}")
    for name in site:
        if name not in data:
            problems.append(
                f"{where}: {name}: missing (it is in {site_file}); `sudo snap run ondemand.update-portal` merges it"
            )
    return problems


def portal_from_yaml(
    data: dict[str, Any], paths: Paths, where: str, site: Mapping[str, Any] | None = None
) -> PortalSettings:
    """Read ood_portal.yml back into settings with the same checks as `snap set`. Upstream's
    keys the snap does not manage must be exactly those of `site` (ood_portal.site.yml)."""
    site = site or {}
    problems = _site_key_problems(data, site, paths, where)
    portal: dict[str, Any] = {}
    siteable = site_portal_keys(paths)

    def put(snap_key: str, value: Any) -> None:
        node = portal
        parts = snap_key.split(".")[1:]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    fixed = fixed_portal_keys(paths)
    for name, value in data.items():
        if name in siteable:
            continue  # checked against the site file above
        if name in PORTAL_YAML_KEYS:
            put(PORTAL_YAML_KEYS[name], value)
        elif name == "oidc_redirect_uri":
            if value != data.get("oidc_uri", "/oidc"):
                problems.append(f"{where}: oidc_redirect_uri: must equal oidc_uri in the snap; remove it")
        elif name == "oidc_crypto_passphrase":
            if not is_passphrase(value):
                problems.append(
                    f"{where}: oidc_crypto_passphrase: not the snap's (32+ hex digits, from "
                    f"{paths.oidc_passphrase_file}); restore it or run `snap set` to rewrite the file"
                )
        elif name == "oidc_settings":
            if value != PKCE_SETTINGS or data.get("oidc_client_secret"):
                problems.append(
                    f"{where}: oidc_settings: the snap writes only {PKCE_SETTINGS} (for a client "
                    "without a secret); remove it"
                )
        elif name == "ssl":
            _ssl_from_yaml(value, put, problems, where)
        elif name == "auth":
            _auth_from_yaml(value, put, problems, where)
        elif name in fixed:
            if value != fixed[name]:
                problems.append(f"{where}: {name}: is fixed by the snap to {fixed[name]!r}; remove the line")
        elif name in upstream.PORTAL_KEYS:
            # A route of OnDemand's in a build without OnDemand.
            problems.append(f"{where}: {name}: the snap does not write it in this build (no OnDemand); remove it")
        else:
            problems.append(
                f"{where}: {name}: not an ood_portal.yml key of OnDemand {upstream.ONDEMAND_VERSION}"
                f"{did_you_mean(name, upstream.PORTAL_KEYS)}; remove it (settings: docs/configuration.md)"
            )
    if "auth" not in data:
        put("portal.auth.type", "none")
    try:
        settings = model.parse({"portal": portal})
    except ConfigError as error:
        reverse = {snap: yml for yml, snap in PORTAL_YAML_KEYS.items()}
        for problem in error.problems:
            key = problem.split(":", 1)[0]
            yml = reverse.get(key)
            problems.append(f"{where}: {yml} ({key}){problem[len(key) :]}" if yml else f"{where}: {problem}")
        raise ConfigError(problems, brief=f"{where} is invalid") from None
    if problems:
        raise ConfigError(problems, brief=f"{where} is invalid")
    return settings.portal


def _ssl_from_yaml(value: Any, put: Any, problems: list[str], where: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        problems.append(f"{where}: ssl: must be a list of SSL directives")
        return
    for line in value:
        parts = line.split(None, 1) if isinstance(line, str) else []
        if len(parts) == 2 and parts[0] in SSL_DIRECTIVES and len(parts[1]) > 2 and parts[1][0] == parts[1][-1] == '"':
            put(SSL_DIRECTIVES[parts[0]], parts[1][1:-1])
        else:
            problems.append(
                f'{where}: ssl: {line!r} is not one of {", ".join(SSL_DIRECTIVES)} "PATH" '
                "(the snap sets SSL from portal.ssl.*)"
            )


def _auth_from_yaml(value: Any, put: Any, problems: list[str], where: str) -> None:
    if value in (None, []):
        put("portal.auth.type", "none")
    elif value == OIDC_AUTH:
        put("portal.auth.type", "oidc")
    elif (
        isinstance(value, list)
        and len(value) == 5
        and value[:3] == BASIC_AUTH_HEAD
        and value[4] == "Require valid-user"
        and isinstance(value[3], str)
        and value[3].startswith('AuthUserFile "')
        and value[3].endswith('"')
    ):
        put("portal.auth.type", "basic")
        put("portal.auth.basic.user-file", value[3][len('AuthUserFile "') : -1])
    else:
        problems.append(
            f"{where}: auth: not one of the forms the snap writes (none, OpenID Connect, basic); "
            "set portal.auth.type instead"
        )


# --- nginx_stage.yml -----------------------------------------------------------------------


def nginx_stage_fixed(paths: Paths) -> dict[str, Any]:
    """nginx_stage.yml keys pointing into the snap and $SNAP_COMMON (upstream's absolute paths)."""
    lib = paths.nginx_lib / "config"
    www = paths.www
    return {
        "ondemand_version_path": str(paths.ondemand_version_file),
        "proxy_user": paths.portal_user,
        "nginx_bin": str(paths.nginx_bin),
        "mime_types_path": str(paths.nginx_mime_types),
        "passenger_root": str(paths.passenger_root),
        "passenger_ruby": str(paths.ruby_bin),
        "passenger_nodejs": str(paths.node_bin),
        "passenger_python": str(paths.python_bin),
        "pun_custom_html_root": str(paths.pun_custom_html_root),
        "pun_config_path": f"{lib}/puns/%{{user}}.conf",
        "pun_secret_key_base_path": f"{lib}/puns/%{{user}}.secret_key_base.txt",
        "pun_tmp_root": f"{paths.nginx_tmp_dir}/%{{user}}",
        "pun_access_log_path": f"{paths.nginx_log_dir}/%{{user}}/access.log",
        "pun_error_log_path": f"{paths.nginx_log_dir}/%{{user}}/error.log",
        "pun_pid_path": f"{paths.nginx_run_dir}/%{{user}}/passenger.pid",
        "pun_socket_path": f"{paths.nginx_run_dir}/%{{user}}/passenger.sock",
        "app_config_path": {
            "dev": f"{lib}/apps/dev/%{{owner}}/%{{name}}.conf",
            "usr": f"{lib}/apps/usr/%{{owner}}/%{{name}}.conf",
            "sys": f"{lib}/apps/sys/%{{name}}.conf",
        },
        "app_root": {
            "dev": f"{www}/apps/dev/%{{owner}}/gateway/%{{name}}",
            "usr": f"{www}/apps/usr/%{{owner}}/gateway/%{{name}}",
            "sys": f"{www}/apps/sys/%{{name}}",
        },
    }


MANAGED_NGINX_KEYS = ("min_uid", "nginx_file_upload_max", "pun_custom_env")


def render_nginx_stage_yaml(settings: Settings, paths: Paths, existing: dict[str, Any]) -> tuple[bytes, list[str]]:
    """New nginx_stage.yml and notes on admin edits that were reverted."""
    ns = settings.nginx_stage
    fixed = nginx_stage_fixed(paths)
    managed: dict[str, Any] = dict(fixed)
    managed["min_uid"] = ns.min_uid
    managed["nginx_file_upload_max"] = str(ns.nginx_file_upload_max)
    if ns.pun_custom_env:
        managed["pun_custom_env"] = dict(ns.pun_custom_env)
    notes = [
        f"nginx_stage.yml: {name} reset to the snap's value {fixed[name]!r}"
        for name in fixed
        if name in existing and existing[name] != fixed[name]
    ]
    kept = {k: val for k, val in existing.items() if k not in managed and k not in MANAGED_NGINX_KEYS}
    return dump_yaml(NGINX_STAGE_HEADER, {**managed, **kept}), notes


# --- clusters.d ----------------------------------------------------------------------------


def cluster_yaml(cluster: model.ClusterSettings) -> bytes:
    v2: dict[str, Any] = {"metadata": {"title": cluster.title}}
    if cluster.login_host:
        v2["login"] = {"host": cluster.login_host}
    if cluster.job_adapter:
        job: dict[str, Any] = {"adapter": cluster.job_adapter}
        for name in ("cluster", "host", "bin", "conf"):
            value = getattr(cluster, f"job_{name}")
            if value is not None:
                job[name] = value
        v2["job"] = job
    return dump_yaml(cluster_header(cluster.id), {"v2": v2})


def is_snap_cluster_file(data: bytes) -> bool:
    return data.startswith(CLUSTER_MARKER.encode())
