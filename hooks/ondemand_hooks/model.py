"""The configuration model: every `snap set ondemand` key, declared once.

Each `Key` names its type, default, example, description and validator; `parse` checks a
whole snapd configuration document against them and returns typed `Settings`, or raises
`ConfigError` listing every problem (one line per problem, naming the key). The keys
mirror upstream's ood_portal.yml / nginx_stage.yml / clusters.d keys, dash-cased under
the namespaces `portal`, `nginx-stage` and `clusters`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import validators as v
from .env import PORTAL_USER
from .errors import ConfigError
from .validators import Invalid, Validator

NAMESPACES = ("portal", "nginx-stage", "clusters")
MIN_UID_FLOOR = 1000
AUTH_TYPES = ("auto", "none", "oidc", "basic")
JOB_ADAPTERS = ("slurm", "pbspro", "torque", "lsf", "sge")
LOG_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug") + tuple(
    f"trace{i}" for i in range(1, 9)
)
PLACEHOLDER = re.compile(r"<([A-Za-z]+)>")
CLUSTER_ID = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True)
class Key:
    """One configuration key.

    `name` may contain one placeholder segment (`<id>`, `<NAME>`) standing for any key
    segment the admin chooses. `default` is the value used when the key is unset (None:
    the feature is off or the setting is left out); `default_doc` says it in words when
    the default depends on other keys.
    """

    name: str
    type: str
    default: Any
    example: str
    description: str
    validator: Validator
    default_doc: str = ""
    secret: bool = False

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.name.split("."))

    @property
    def namespace(self) -> str:
        return self.segments[0]

    def matches(self, path: tuple[str, ...]) -> dict[str, str] | None:
        """Placeholder values if `path` is this key, else None."""
        if len(path) != len(self.segments):
            return None
        found: dict[str, str] = {}
        for want, got in zip(self.segments, path, strict=True):
            placeholder = PLACEHOLDER.fullmatch(want)
            if placeholder:
                found[placeholder.group(1)] = got
            elif want != got:
                return None
        return found

    def shown_default(self) -> str:
        if self.default_doc:
            return self.default_doc
        if self.default is None:
            return "unset"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, list):
            return ",".join(self.default) if self.default else "empty"
        return str(self.default)


def _k(*args: Any, **kwargs: Any) -> Key:
    return Key(*args, **kwargs)


_HOST_LIST = v.ListOf(v.hostname, "host names")

KEYS: tuple[Key, ...] = (
    # --- portal: ood_portal.yml -----------------------------------------------------------
    _k(
        "portal.servername",
        "host name",
        None,
        "ondemand.example.edu",
        "The portal's host name (Apache `ServerName`; upstream `servername`). Requests for other "
        "host names are redirected to it. Unset: answer to any host name.",
        v.hostname,
    ),
    _k(
        "portal.server-aliases",
        "list of host names",
        [],
        "ood.example.edu,ondemand2.example.edu",
        "Other host names the portal answers to (upstream `server_aliases`), comma-separated.",
        _HOST_LIST,
    ),
    _k(
        "portal.port",
        "port",
        None,
        "8443",
        "Port of the portal's virtual host (upstream `port`).",
        v.PORT,
        default_doc="80, or 443 when portal.ssl.* is set",
    ),
    _k(
        "portal.listen-addr-port",
        "list of PORT, IPv4:PORT or [IPv6]:PORT",
        [],
        "192.0.2.10:443,192.0.2.10:80",
        "Addresses Apache listens on (upstream `listen_addr_port`), comma-separated. Must include portal.port.",
        v.ListOf(v.listen_address, "listen addresses"),
        default_doc="portal.port on every address, plus 80 for the HTTPS redirect when SSL is on",
    ),
    _k(
        "portal.ssl.certificate",
        "path",
        None,
        "/etc/ssl/ondemand/cert.pem",
        "PEM certificate file for HTTPS (upstream `ssl`: `SSLCertificateFile`). Setting it and "
        "portal.ssl.certificate-key turns HTTPS on; port 80 then redirects to it.",
        v.ExistingFile("certificate", "BEGIN CERTIFICATE"),
    ),
    _k(
        "portal.ssl.certificate-key",
        "path",
        None,
        "/etc/ssl/ondemand/key.pem",
        "PEM private key of the certificate (`SSLCertificateKeyFile`). Keep it readable by root only.",
        v.ExistingFile("private key", "PRIVATE KEY"),
    ),
    _k(
        "portal.ssl.certificate-chain",
        "path",
        None,
        "/etc/ssl/ondemand/chain.pem",
        "PEM intermediate certificates (`SSLCertificateChainFile`).",
        v.ExistingFile("certificate chain", "BEGIN CERTIFICATE"),
    ),
    _k(
        "portal.auth.type",
        "one of " + "|".join(AUTH_TYPES),
        "auto",
        "oidc",
        "How users log in. `auto`: OpenID Connect once portal.oidc.provider-metadata-url and "
        "portal.oidc.client-id are set, else none. `none`: every page shows "
        "/public/need_auth.html (upstream's behaviour before authentication is configured). "
        "`oidc`: mod_auth_openidc. `basic`: HTTP basic auth against portal.auth.basic.user-file "
        "(for tests and small sites).",
        v.Choice(AUTH_TYPES),
    ),
    _k(
        "portal.auth.basic.user-file",
        "path",
        None,
        "/etc/ondemand/htpasswd",
        "htpasswd file for portal.auth.type=basic. Apache's workers read it as the portal's user "
        "(snap_daemon): make it readable by that user, e.g. group snap_daemon and mode 0640.",
        v.ExistingFile("htpasswd file", reader=PORTAL_USER),
    ),
    _k(
        "portal.oidc.uri",
        "URL path",
        "/oidc",
        "/oidc",
        "Redirect URI path handled by mod_auth_openidc (upstream `oidc_uri`, `oidc_redirect_uri`). "
        "Register https://SERVERNAME/oidc with your identity provider.",
        v.uri_path,
    ),
    _k(
        "portal.oidc.provider-metadata-url",
        "https URL",
        None,
        "https://idp.example.edu/realms/hpc/.well-known/openid-configuration",
        "The identity provider's discovery document (upstream `oidc_provider_metadata_url`).",
        v.Url(),
    ),
    _k(
        "portal.oidc.client-id",
        "text without spaces",
        None,
        "ondemand.example.edu",
        "Client ID registered with the identity provider (upstream `oidc_client_id`).",
        v.Text(allow_spaces=False, max_length=512),
    ),
    _k(
        "portal.oidc.client-secret",
        "text without spaces (secret)",
        None,
        "s3cr3t-from-your-idp",
        "Client secret (upstream `oidc_client_secret`). Stored in ood_portal.yml and the Apache "
        "config, both readable by root only. Unset for a public client: the portal then uses PKCE "
        "(`OIDCPKCEMethod S256`).",
        v.Text(allow_spaces=False, max_length=512),
        secret=True,
    ),
    _k(
        "portal.oidc.remote-user-claim",
        "claim name",
        "preferred_username",
        "email",
        "Claim that becomes REMOTE_USER (upstream `oidc_remote_user_claim`), then mapped to a "
        "system user by portal.user-map-match.",
        v.Token(r"[A-Za-z0-9_.:-]{1,128}", "a claim name"),
    ),
    _k(
        "portal.oidc.scope",
        "space-separated scopes",
        "openid profile email",
        "openid profile email groups",
        "Scopes requested (upstream `oidc_scope`); must contain `openid`.",
        v.oidc_scope,
    ),
    _k(
        "portal.oidc.session-inactivity-timeout",
        "seconds",
        28800,
        "3600",
        "Log users out after this long without a request (upstream `oidc_session_inactivity_timeout`).",
        v.Integer(1, 31536000, "a number of seconds"),
    ),
    _k(
        "portal.oidc.session-max-duration",
        "seconds",
        28800,
        "43200",
        "Longest session, whatever the activity (upstream `oidc_session_max_duration`); 0 follows the "
        "ID token's expiry.",
        v.Integer(0, 31536000, "a number of seconds"),
    ),
    _k(
        "portal.maintenance.enabled",
        "boolean",
        False,
        "true",
        "Maintenance mode, upstream's mechanism: while the flag file "
        "$SNAP_COMMON/etc/ood/maintenance.enable exists (upstream /etc/ood/maintenance.enable), every "
        "request is redirected to /public/maintenance/index.html, except from "
        "portal.maintenance.allowlist. This key creates or removes the file; no Apache reload is "
        "needed, and an admin may touch the file by hand just as well. Like upstream's, it works once "
        "an auth type is set (the need_auth vhost before that has no maintenance mode).",
        v.boolean,
    ),
    _k(
        "portal.maintenance.allowlist",
        "list of IP addresses or IPv4 /8, /16, /24 networks",
        [],
        "10.0.0.5,192.168.10.0/24",
        "Clients that still reach the portal during maintenance (upstream "
        "`maintenance_ip_allowlist`), comma-separated. Upstream matches each entry against the start "
        "of the client's address, so a network is written as its prefix (192.168.10.0/24 becomes "
        "`192.168.10.`) and an address also admits longer ones that begin with it (10.0.0.5 admits "
        "10.0.0.50).",
        v.ListOf(v.maintenance_client, "IP addresses or networks"),
    ),
    _k(
        "portal.user-map-match",
        "Lua pattern",
        ".*",
        "^([^@]+)@example%.edu$",
        "Maps the authenticated user to a system user (upstream `user_map_match`; the first capture, "
        "or the whole match).",
        v.lua_pattern,
    ),
    _k(
        "portal.host-regex",
        "regular expression",
        "[^/]+",
        r"[\w.-]+\.cluster\.example\.edu",
        "Hosts the /node and /rnode reverse proxies may reach (upstream `host_regex`). The default "
        "allows any host, external ones too: restrict it to your compute nodes.",
        v.Regex(),
    ),
    _k(
        "portal.lua-log-level",
        "Apache log level",
        "info",
        "warn",
        "Log level of mod_ood_proxy (upstream `lua_log_level`).",
        v.Choice(LOG_LEVELS),
    ),
    # --- nginx-stage: nginx_stage.yml ----------------------------------------------------------
    _k(
        "nginx-stage.min-uid",
        "integer >= 1000",
        MIN_UID_FLOOR,
        "5000",
        "Lowest uid allowed to get a per-user nginx (upstream `min_uid`). Never below 1000, so "
        "system accounts can never run a PUN.",
        v.Integer(
            MIN_UID_FLOOR,
            4294967294,
            "a uid the portal may serve",
            f"use a number from {MIN_UID_FLOOR} (the safe floor: no system accounts) to 4294967294",
        ),
    ),
    _k(
        "nginx-stage.nginx-file-upload-max",
        "bytes",
        10737420000,
        "21474836480",
        "Largest upload through the file browser (upstream `nginx_file_upload_max`); 0 for no limit.",
        v.Integer(0, 2**53, "a number of bytes"),
    ),
    _k(
        "nginx-stage.pun-custom-env.<NAME>",
        "text",
        None,
        "Open OnDemand at Example U",
        "Environment variable NAME for every per-user nginx and its apps (upstream `pun_custom_env`). "
        "Write NAME dash-cased: nginx-stage.pun-custom-env.ood-dashboard-title sets "
        "OOD_DASHBOARD_TITLE.",
        v.Text(),
    ),
    # --- clusters: clusters.d/<id>.yml -------------------------------------------------------
    _k(
        "clusters.<id>.title",
        "text",
        None,
        "Owens",
        "Cluster title shown in the dashboard (v2.metadata.title).",
        v.Text(max_length=128),
        default_doc="the cluster id",
    ),
    _k(
        "clusters.<id>.login.host",
        "host name",
        None,
        "owens.osc.edu",
        "Login node for the shell app (v2.login.host).",
        v.hostname,
    ),
    _k(
        "clusters.<id>.job.adapter",
        "one of " + "|".join(JOB_ADAPTERS),
        None,
        "slurm",
        "Scheduler (v2.job.adapter). Unset: a login-only cluster.",
        v.Choice(JOB_ADAPTERS),
    ),
    _k(
        "clusters.<id>.job.cluster",
        "name",
        None,
        "owens",
        "Scheduler cluster name (v2.job.cluster; Slurm's -M).",
        v.Token(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}", "a cluster name (letters, digits, '_', '.', '-')"),
    ),
    _k(
        "clusters.<id>.job.host",
        "host name",
        None,
        "pbs.example.edu",
        "Scheduler server host (v2.job.host; PBS Pro, Torque).",
        v.hostname,
    ),
    _k(
        "clusters.<id>.job.bin",
        "path",
        None,
        "/usr/bin",
        "Directory holding the scheduler's commands (v2.job.bin).",
        v.ExistingDir("directory of scheduler commands"),
    ),
    _k(
        "clusters.<id>.job.conf",
        "path",
        None,
        "/etc/slurm/slurm.conf",
        "Scheduler configuration file (v2.job.conf; Slurm).",
        v.ExistingFile("scheduler configuration file"),
    ),
)

KEYS_BY_NAME = {key.name: key for key in KEYS}


# --- typed settings ------------------------------------------------------------------------


@dataclass(frozen=True)
class OidcSettings:
    uri: str
    provider_metadata_url: str
    client_id: str
    client_secret: str | None
    remote_user_claim: str
    scope: str
    session_inactivity_timeout: int
    session_max_duration: int


@dataclass(frozen=True)
class SslSettings:
    certificate: str
    certificate_key: str
    certificate_chain: str | None


@dataclass(frozen=True)
class PortalSettings:
    servername: str | None = None
    server_aliases: tuple[str, ...] = ()
    port: int = 80
    listen: tuple[str, ...] = ("80",)
    ssl: SslSettings | None = None
    auth: str = "none"  # resolved: none | oidc | basic
    basic_user_file: str | None = None
    oidc: OidcSettings | None = None
    maintenance: bool = False
    maintenance_allowlist: tuple[str, ...] = ()
    user_map_match: str = ".*"
    host_regex: str = "[^/]+"
    lua_log_level: str = "info"


@dataclass(frozen=True)
class ClusterSettings:
    id: str
    title: str
    login_host: str | None = None
    job_adapter: str | None = None
    job_cluster: str | None = None
    job_host: str | None = None
    job_bin: str | None = None
    job_conf: str | None = None


@dataclass(frozen=True)
class NginxStageSettings:
    min_uid: int = MIN_UID_FLOOR
    nginx_file_upload_max: int = 10737420000
    pun_custom_env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Settings:
    portal: PortalSettings = field(default_factory=PortalSettings)
    nginx_stage: NginxStageSettings = field(default_factory=NginxStageSettings)
    clusters: tuple[ClusterSettings, ...] = ()
    warnings: tuple[str, ...] = ()


# --- parsing -------------------------------------------------------------------------------


def flatten(document: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Leaves of a nested snapd config document as (path, value); empty groups vanish."""
    for name, value in document.items():
        path = prefix + (str(name),)
        if isinstance(value, Mapping):
            yield from flatten(value, path)
        else:
            yield path, value


def _prefix_matches(key: Key, path: tuple[str, ...]) -> bool:
    head = key.segments[: len(path)]
    return len(head) == len(path) and all(PLACEHOLDER.fullmatch(w) or w == g for w, g in zip(head, path, strict=False))


def _filled(key: Key, path: tuple[str, ...]) -> str:
    """The key's name with its placeholder replaced by what the admin wrote, where known."""
    segs = list(key.segments)
    for i, seg in enumerate(segs):
        if PLACEHOLDER.fullmatch(seg) and i < len(path):
            segs[i] = path[i]
    return ".".join(segs)


def _group_members(path: tuple[str, ...]) -> list[str]:
    """Known keys under `path` if it names a group of keys rather than one key."""
    return sorted({_filled(k, path) for k in KEYS if len(k.segments) > len(path) and _prefix_matches(k, path)})


def _leaf_prefix(path: tuple[str, ...]) -> str | None:
    """A proper prefix of `path` that is itself a single-value key (a value given a sub-key)."""
    for n in range(len(path) - 1, 0, -1):
        if _match(path[:n])[0] is not None:
            return ".".join(path[:n])
    return None


def _suggest(path: tuple[str, ...]) -> str:
    """`did you mean ...?` against every key, placeholders filled from the given path."""
    dotted = ".".join(path)
    candidates = sorted({_filled(key, path) for key in KEYS})
    close = difflib.get_close_matches(dotted, candidates, n=1, cutoff=0.6)
    if close:
        return f"; did you mean {close[0]}?"
    in_namespace = [c for c in candidates if c.split(".")[0] == path[0]]
    if in_namespace:
        more = " ..." if len(in_namespace) > 8 else ""
        return "; known keys here: " + ", ".join(in_namespace[:8]) + more
    return "; the namespaces are " + ", ".join(NAMESPACES)


@dataclass
class _Values:
    """Validated values by key name; placeholder keys are grouped by their placeholder."""

    plain: dict[str, Any] = field(default_factory=dict)
    env: dict[str, tuple[str, str]] = field(default_factory=dict)  # NAME -> (dotted key, value)
    clusters: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Keys whose value was refused (cluster keys as `clusters.<id>.x` with the id filled in):
    # the cross-key rules leave them out, so a refused value is not reported again as missing.
    rejected: set[str] = field(default_factory=set)


def parse(document: Mapping[str, Any]) -> Settings:
    """Validate a whole `snapctl get -d` document; ConfigError lists every problem."""
    problems: list[str] = []
    values = _Values()

    for path, raw in flatten(document):
        dotted = ".".join(path)
        if raw is None:
            continue
        key, found = _match(path)
        if key is None:
            group, leaf = _group_members(path), _leaf_prefix(path)
            if group:
                problems.append(f"{dotted}: is a group of settings, not a value; set one of " + ", ".join(group[:6]))
            elif leaf:
                problems.append(f"{dotted}: {leaf} is a single value, not a group; set it as {leaf}=VALUE")
            else:
                problems.append(f"{dotted}: unknown key{_suggest(path)}")
            continue
        if isinstance(raw, str) and raw.strip() == "":
            continue  # `snap set ondemand k=""` means "back to the default"
        try:
            value = key.validator(raw)
        except Invalid as error:
            shown = "(hidden)" if key.secret else v.show(raw)
            problems.append(f"{dotted}: " + str(error).replace("{value}", shown))
            values.rejected.add(dotted if "id" in found else key.name)
            continue
        if key.name == "nginx-stage.pun-custom-env.<NAME>":
            try:
                env_name = v.env_name_from_key(found["NAME"])
            except Invalid as error:
                problems.append(f"{dotted}: {error}")
                continue
            if env_name in values.env:
                problems.append(
                    f"{dotted}: sets {env_name}, as {values.env[env_name][0]} already does; unset one of them"
                )
                continue
            values.env[env_name] = (dotted, value)
        elif "id" in found:
            cluster_id = found["id"]
            if not CLUSTER_ID.fullmatch(cluster_id) or len(cluster_id) > 63:
                problems.append(
                    f"{dotted}: {v.show(cluster_id)} is not a cluster id; use lower-case letters, digits and '-'"
                )
                continue
            values.clusters.setdefault(cluster_id, {})[key.name] = value
        else:
            values.plain[key.name] = value

    settings = None
    cross_problems: list[str] = []
    warnings: list[str] = []
    portal = _portal(values.plain, cross_problems, warnings, values.rejected)
    clusters = _clusters(values.clusters, cross_problems, values.rejected)
    nginx = NginxStageSettings(
        min_uid=values.plain.get("nginx-stage.min-uid", MIN_UID_FLOOR),
        nginx_file_upload_max=values.plain.get("nginx-stage.nginx-file-upload-max", 10737420000),
        pun_custom_env=tuple(sorted((name, val) for name, (_, val) in values.env.items())),
    )
    problems += cross_problems
    if problems:
        raise ConfigError(problems)
    settings = Settings(portal=portal, nginx_stage=nginx, clusters=clusters, warnings=tuple(warnings))
    return settings


def _match(path: tuple[str, ...]) -> tuple[Key | None, dict[str, str]]:
    for key in KEYS:
        found = key.matches(path)
        if found is not None:
            return key, found
    return None, {}


def _default(name: str) -> Any:
    return KEYS_BY_NAME[name].default


Getter = Callable[[str], Any]


def _ssl(get: Getter, problems: list[str], rejected: set[str]) -> SslSettings | None:
    """The certificate, key and chain: both of the pair or neither."""
    cert, key, chain = (
        get("portal.ssl.certificate"),
        get("portal.ssl.certificate-key"),
        get("portal.ssl.certificate-chain"),
    )
    ssl = None
    if cert and key:
        ssl = SslSettings(cert, key, chain)
    elif cert or key:
        missing = "portal.ssl.certificate-key" if cert else "portal.ssl.certificate"
        given = "portal.ssl.certificate" if cert else "portal.ssl.certificate-key"
        if missing not in rejected:
            problems.append(f"{missing}: required when {given} is set; set both (HTTPS) or neither")
    if chain and not cert and "portal.ssl.certificate" not in rejected:
        problems.append("portal.ssl.certificate-chain: needs portal.ssl.certificate; set it too or unset the chain")
    return ssl


def _port_and_listen(
    get: Getter, ssl: SslSettings | None, problems: list[str], rejected: set[str]
) -> tuple[int, list[str]]:
    """portal.port (443 with HTTPS, else 80) and the Listen entries, which must include it."""
    port = get("portal.port")
    if port is None:
        port = 443 if ssl else 80
    listen = list(get("portal.listen-addr-port"))
    if listen and "portal.port" not in rejected:
        if port not in {v.listen_port(entry) for entry in listen}:
            problems.append(
                f"portal.listen-addr-port: {v.show(','.join(listen))} does not include portal.port {port}; "
                "the portal would be unreachable: add it"
            )
    else:
        listen = [str(port)]
        if ssl and port != 80:
            listen.append("80")
    return port, listen


def _auth(
    get: Getter, ssl: SslSettings | None, problems: list[str], warnings: list[str], rejected: set[str]
) -> tuple[str, OidcSettings | None, str | None]:
    """The auth type (`auto` resolved), its OpenID Connect settings or its htpasswd file."""
    auth = get("portal.auth.type")
    metadata, client_id = get("portal.oidc.provider-metadata-url"), get("portal.oidc.client-id")
    if auth == "auto":
        if metadata and client_id:
            auth = "oidc"
        else:
            auth = "none"
            if metadata or client_id:
                missing = "portal.oidc.client-id" if metadata else "portal.oidc.provider-metadata-url"
                warnings.append(f"OpenID Connect stays off until {missing} is set too")
    oidc = None
    if auth == "oidc":
        for name, value in (("portal.oidc.provider-metadata-url", metadata), ("portal.oidc.client-id", client_id)):
            if not value and name not in rejected:
                problems.append(f"{name}: required when portal.auth.type is oidc; set it")
        if metadata and client_id:
            oidc = OidcSettings(
                uri=get("portal.oidc.uri"),
                provider_metadata_url=metadata,
                client_id=client_id,
                client_secret=get("portal.oidc.client-secret"),
                remote_user_claim=get("portal.oidc.remote-user-claim"),
                scope=get("portal.oidc.scope"),
                session_inactivity_timeout=get("portal.oidc.session-inactivity-timeout"),
                session_max_duration=get("portal.oidc.session-max-duration"),
            )
            if not ssl:
                warnings.append("OpenID Connect without HTTPS: set portal.ssl.* before going to production")
    basic_file = get("portal.auth.basic.user-file")
    if auth == "basic" and not basic_file and "portal.auth.basic.user-file" not in rejected:
        problems.append("portal.auth.basic.user-file: required when portal.auth.type is basic; set it")
    if auth == "basic" and not ssl:
        warnings.append("basic authentication without HTTPS sends passwords in clear text")
    return auth, oidc, basic_file if auth == "basic" else None


def _portal(plain: dict[str, Any], problems: list[str], warnings: list[str], rejected: set[str]) -> PortalSettings:
    def get(name: str) -> Any:
        return plain.get(name, _default(name))

    ssl = _ssl(get, problems, rejected)
    port, listen = _port_and_listen(get, ssl, problems, rejected)
    auth, oidc, basic_file = _auth(get, ssl, problems, warnings, rejected)
    return PortalSettings(
        servername=get("portal.servername"),
        server_aliases=tuple(get("portal.server-aliases")),
        port=port,
        listen=tuple(listen),
        ssl=ssl,
        auth=auth,
        basic_user_file=basic_file,
        oidc=oidc,
        maintenance=get("portal.maintenance.enabled"),
        maintenance_allowlist=tuple(get("portal.maintenance.allowlist")),
        user_map_match=get("portal.user-map-match"),
        host_regex=get("portal.host-regex"),
        lua_log_level=get("portal.lua-log-level"),
    )


def _clusters(found: dict[str, dict[str, Any]], problems: list[str], rejected: set[str]) -> tuple[ClusterSettings, ...]:
    out = []
    for cluster_id in sorted(found):
        values = found[cluster_id]

        def get(suffix: str, values: dict[str, Any] = values) -> Any:
            return values.get(f"clusters.<id>.{suffix}")

        def refused(suffix: str, cluster_id: str = cluster_id) -> bool:
            return f"clusters.{cluster_id}.{suffix}" in rejected

        adapter = get("job.adapter")
        for suffix in ("job.cluster", "job.host", "job.bin", "job.conf"):
            if get(suffix) is not None and adapter is None and not refused("job.adapter"):
                problems.append(f"clusters.{cluster_id}.{suffix}: needs clusters.{cluster_id}.job.adapter; set it too")
        if get("login.host") is None and adapter is None and not (refused("login.host") or refused("job.adapter")):
            problems.append(
                f"clusters.{cluster_id}: needs clusters.{cluster_id}.login.host or clusters.{cluster_id}.job.adapter"
            )
        out.append(
            ClusterSettings(
                id=cluster_id,
                title=get("title") or cluster_id,
                login_host=get("login.host"),
                job_adapter=adapter,
                job_cluster=get("job.cluster"),
                job_host=get("job.host"),
                job_bin=get("job.bin"),
                job_conf=get("job.conf"),
            )
        )
    return tuple(out)
