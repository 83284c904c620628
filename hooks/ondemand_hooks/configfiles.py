"""The YAML files under $SNAP_COMMON/etc/ood/config, in upstream's vocabulary.

- ood_portal.yml: written whole from the `portal.*` keys; `update-portal` reads it back
  (strictly: same validators, unknown keys refused) to render the Apache config.
- nginx_stage.yml: the snap's paths and the `nginx-stage.*` keys are rewritten; any other
  key an admin added by hand is kept.
- clusters.d/<id>.yml: one file per `clusters.<id>`; files the snap did not write are
  never touched (and block a cluster of the same id).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import model
from .env import Paths
from .errors import ConfigError, HookError, InternalError
from .model import PortalSettings, Settings

PORTAL_HEADER = """\
# Open OnDemand portal configuration (upstream's ood_portal.yml keys), written by the
# ondemand snap from `snap set ondemand portal.*`. Change settings with snap set: the
# next `snap set` or refresh rewrites this file. `sudo snap run ondemand.update-portal`
# regenerates the Apache config from it. Readable by root only (it may hold the OIDC
# client secret). Reference: docs/configuration.md.
"""

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
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
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
    quoted."""


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


def fixed_portal_keys(paths: Paths) -> dict[str, Any]:
    """ood_portal.yml keys whose value the snap decides (paths into the snap, routes)."""
    fixed: dict[str, Any] = {
        "public_uri": ROUTES.public_uri,
        "public_root": str(paths.public_root),
        "logroot": str(paths.apache_log_dir),
        "pun_stage_cmd": f"sudo {paths.nginx_stage_stable}",
        "pun_socket_root": str(paths.nginx_run_dir),
        # Always on: portal.maintenance.enabled switches upstream's flag file instead.
        "use_maintenance": True,
    }
    if paths.ondemand_present:
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
        ssl = [f'SSLCertificateFile "{portal.ssl.certificate}"', f'SSLCertificateKeyFile "{portal.ssl.certificate_key}"']
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


def render_portal_yaml(portal: PortalSettings, paths: Paths, passphrase: str | None = None) -> bytes:
    return dump_yaml(PORTAL_HEADER, portal_yaml(portal, paths, passphrase))


def portal_from_yaml(data: dict[str, Any], paths: Paths, where: str) -> PortalSettings:
    """Read ood_portal.yml back into settings with the same checks as `snap set`."""
    problems: list[str] = []
    portal: dict[str, Any] = {}

    def put(snap_key: str, value: Any) -> None:
        node = portal
        parts = snap_key.split(".")[1:]
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    fixed = fixed_portal_keys(paths)
    for name, value in data.items():
        if name in PORTAL_YAML_KEYS:
            put(PORTAL_YAML_KEYS[name], value)
        elif name == "oidc_redirect_uri":
            if value != data.get("oidc_uri", "/oidc"):
                problems.append(f"{where}: oidc_redirect_uri: must equal oidc_uri in the snap; remove it")
        elif name == "oidc_crypto_passphrase":
            if not isinstance(value, str) or len(value) < 32 or not set(value) <= set("0123456789abcdef"):
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
        else:
            problems.append(
                f"{where}: {name}: not a key the snap's portal generator supports; remove it "
                "(settings: docs/configuration.md; custom directives: edit ood-portal.conf, which the "
                "generator then leaves alone)"
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
            problems.append(f"{where}: {yml} ({key}){problem[len(key):]}" if yml else f"{where}: {problem}")
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
                f"{where}: ssl: {line!r} is not one of {', '.join(SSL_DIRECTIVES)} \"PATH\" "
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
