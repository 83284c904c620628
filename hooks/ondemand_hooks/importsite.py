"""import-config: bring an existing site's /etc/ood/config over to the snap.

Reads upstream's ood_portal.yml, nginx_stage.yml and clusters.d/*.yml and makes a plan:
what maps to `snap set` keys, what goes into ood_portal.site.yml (upstream's other keys),
which cluster files are copied as admin files, which upstream paths are rewritten to the
snap's, and what cannot be taken (and why). Everything is validated before anything is
written; the site file and cluster copies are written first, then `snap set` runs once,
and when its configure hook refuses, what this command wrote is taken back.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import configfiles, model, sitefile, upstream
from .env import Paths
from .errors import ConfigError, HookError
from .fsutil import atomic_write, read_or_none

DEFAULT_DIR = Path("/etc/ood/config")
SNAP_BIN = "/usr/bin/snap"

SITE_HEADER = """\
# ood_portal.site.yml: upstream ood_portal.yml keys the snap does not manage, brought over
# by `snap run ondemand.import-config`. Merged into ood_portal.yml by the configure hook
# and `sudo snap run ondemand.update-portal`.
"""

# Upstream's defaults of the keys the snap fixes: an imported file that holds them means
# what the snap's own values mean.
UPSTREAM_FIXED_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "public_root": ("/var/www/ood/public",),
    "lua_root": ("/opt/ood/mod_ood_proxy/lib",),
    "pun_stage_cmd": ("sudo /opt/ood/nginx_stage/sbin/nginx_stage",),
    "pun_socket_root": ("/var/run/ondemand-nginx", "/run/ondemand-nginx"),
    "logroot": ("logs", "/var/log/httpd", "/var/log/apache2", "/var/log/httpd24"),
    "use_maintenance": (True,),
    "public_uri": (configfiles.ROUTES.public_uri,),
    "pun_uri": (configfiles.ROUTES.pun_uri,),
    "nginx_uri": (configfiles.ROUTES.nginx_uri,),
    "node_uri": (configfiles.ROUTES.node_uri,),
    "rnode_uri": (configfiles.ROUTES.rnode_uri,),
    "root_uri": (configfiles.ROUTES.root_uri,),
    "logout_uri": (configfiles.ROUTES.logout_uri,),
    "logout_redirect": (configfiles.ROUTES.logout_redirect,),
}

CLUSTER_JOB_KEYS = ("adapter", "cluster", "host", "bin", "conf")

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=False)


@dataclass
class Plan:
    source: Path
    values: dict[str, Any] = field(default_factory=dict)  # snap key -> value
    site: dict[str, Any] = field(default_factory=dict)  # ood_portal.site.yml
    clusters: dict[str, bytes] = field(default_factory=dict)  # file name -> content to copy
    rewrites: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)  # "the snap's own value is used"
    skipped: list[str] = field(default_factory=list)  # could not take, and why
    problems: list[str] = field(default_factory=list)  # refusals

    def lines(self, paths: Paths) -> list[str]:
        sections: list[tuple[str, list[str]]] = [
            ("snap set ondemand:", [f"{key} = {_shown(key, value)}" for key, value in self.values.items()]),
            (f"kept in {paths.ood_portal_site_yml}:", list(self.site)),
            (f"copied as admin files into {paths.clusters_d}:", list(self.clusters)),
            ("rewritten paths:", self.rewrites),
            ("rewritten: the snap's own value is used:", self.replaced),
            ("could not take:", self.skipped),
            ("refused:", self.problems),
        ]
        out = [f"Import of {self.source}:"]
        for heading, items in sections:
            if items:
                out.append(heading)
                out += [f"  {item}" for item in items]
        return out


def _shown(key: str, value: Any) -> str:
    found = model.KEYS_BY_NAME.get(key)
    if found is not None and found.secret:
        return "(hidden)"
    return _cli_value(value)


def _cli_value(value: Any) -> str:
    """A value as `snap set` takes it: snapd reads valid JSON as JSON, anything else as a string."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value)
    return json.dumps(value)


# --- upstream paths ------------------------------------------------------------------------


def path_map(paths: Paths) -> list[tuple[str, str]]:
    return [
        ("/opt/ood", str(paths.snap_stable / "opt" / "ood")),
        ("/var/www/ood", str(paths.www)),
        ("/etc/ood/config", str(paths.ood_config)),
    ]


def _path_pattern(prefix: str) -> re.Pattern[str]:
    # The prefix as a whole path component: /opt/oodx and /usr/opt/ood are other paths.
    return re.compile(r"(?<![\w./-])" + re.escape(prefix) + r"(?![\w.-])")


def rewrite_text(text: str, paths: Paths) -> tuple[str, list[str]]:
    done = []
    for old, new in path_map(paths):
        text, count = _path_pattern(old).subn(new, text)
        if count:
            done.append(f"{old} -> {new}")
    return text, done


def rewrite_value(value: Any, paths: Paths) -> tuple[Any, list[str]]:
    if isinstance(value, str):
        return rewrite_text(value, paths)
    if isinstance(value, list):
        pairs = [rewrite_value(item, paths) for item in value]
        return [p[0] for p in pairs], sorted({d for p in pairs for d in p[1]})
    if isinstance(value, dict):
        out, done = {}, set()
        for k, item in value.items():
            new, notes = rewrite_value(item, paths)
            out[k] = new
            done.update(notes)
        return out, sorted(done)
    return value, []


# --- reading -------------------------------------------------------------------------------


def _load(path: Path, problems: list[str]) -> dict[str, Any] | None:
    data = read_or_none(path)
    if data is None:
        return None
    mapping, problem = configfiles.load_yaml_mapping(path, data)
    if problem:
        problems.append(problem)
        return None
    return mapping


def make_plan(source: Path, paths: Paths, force: bool = False) -> Plan:
    plan = Plan(source=source)
    if not source.is_dir():
        plan.problems.append(f"{source}: is not a directory")
        return plan
    portal_file = source / "ood_portal.yml"
    portal = _load(portal_file, plan.problems)
    if portal is not None:
        _plan_portal(portal, portal_file, paths, plan)
    nginx_file = source / "nginx_stage.yml"
    nginx = _load(nginx_file, plan.problems)
    if nginx is not None:
        _plan_nginx(nginx, nginx_file, paths, plan)
    clusters = source / "clusters.d"
    if clusters.is_dir():
        for path in sorted(clusters.glob("*.yml")) + sorted(clusters.glob("*.yaml")):
            _plan_cluster(path, paths, plan, force)
    _validate(plan, paths, force)
    return plan


def _plan_portal(data: dict[str, Any], where: Path, paths: Paths, plan: Plan) -> None:
    managed = configfiles.managed_portal_keys(paths)
    fixed = configfiles.fixed_portal_keys(paths, with_routes=True)
    for name, value in data.items():
        if value is None:
            continue  # upstream's default
        if name in configfiles.PORTAL_YAML_KEYS:
            plan.values[configfiles.PORTAL_YAML_KEYS[name]] = value
        elif name == "ssl":
            _plan_ssl(value, plan)
        elif name == "auth":
            _plan_auth(value, plan)
        elif name in fixed:
            if value in UPSTREAM_FIXED_DEFAULTS.get(name, ()):
                plan.replaced.append(f"{name}: {value!r} -> {fixed[name]!r}")
            else:
                plan.skipped.append(f"{name}: {value!r}: {managed[name]}")
        elif name == "oidc_redirect_uri":
            if value == data.get("oidc_uri", "/oidc"):
                plan.replaced.append(f"{name}: equal to oidc_uri, as the snap writes it")
            else:
                plan.skipped.append(f"{name}: {value!r}: {managed[name]}")
        elif name == "oidc_crypto_passphrase":
            plan.replaced.append(f"{name}: {managed[name]}")
        elif name == "maintenance_ip_whitelist":
            if "maintenance_ip_allowlist" in data:
                plan.skipped.append(f"{name}: upstream ignores it next to maintenance_ip_allowlist")
            else:
                plan.values["portal.maintenance.allowlist"] = value
        elif name in managed:
            plan.skipped.append(f"{name}: {managed[name]}")
        elif name not in upstream.PORTAL_KEYS:
            hint = configfiles.did_you_mean(name, upstream.PORTAL_KEYS)
            plan.problems.append(
                f"{where}: {name}: not an ood_portal.yml key of OnDemand {upstream.ONDEMAND_VERSION}{hint}"
            )
        else:
            new, done = rewrite_value(value, paths)
            plan.site[name] = new
            plan.rewrites += [f"{name}: {d}" for d in done]


def _plan_ssl(value: Any, plan: Plan) -> None:
    lines = value if isinstance(value, list) else [value]
    for line in lines:
        parts = line.split(None, 1) if isinstance(line, str) else []
        if len(parts) == 2 and parts[0] in configfiles.SSL_DIRECTIVES:
            plan.values[configfiles.SSL_DIRECTIVES[parts[0]]] = parts[1].strip().strip("'\"")
        else:
            plan.skipped.append(
                f"ssl: {line!r}: the snap writes only {', '.join(configfiles.SSL_DIRECTIVES)}; "
                "put other SSL directives in custom_vhost_directives"
            )


_AUTH_USER_FILE = re.compile(r"""AuthUserFile\s+["']?([^"']+)["']?\s*$""")


def _plan_auth(value: Any, plan: Plan) -> None:
    lines = [" ".join(str(line).split()) for line in (value if isinstance(value, list) else [value])]
    lowered = [line.lower() for line in lines]
    if not lines or lines == [""]:
        plan.values["portal.auth.type"] = "none"
    elif "authtype openid-connect" in lowered:
        plan.values["portal.auth.type"] = "oidc"
        other = [line for line in lines if line.lower() not in ("authtype openid-connect", "require valid-user")]
        if other:
            plan.skipped.append(f"auth: {', '.join(other)}: the snap writes only {', '.join(configfiles.OIDC_AUTH)}")
    elif "authtype basic" in lowered:
        files = [m.group(1) for m in map(_AUTH_USER_FILE.match, lines) if m]
        if len(files) != 1:
            plan.skipped.append("auth: basic authentication without one AuthUserFile; set portal.auth.* by hand")
            return
        plan.values["portal.auth.type"] = "basic"
        plan.values["portal.auth.basic.user-file"] = files[0]
    else:
        plan.skipped.append(f"auth: {lines!r}: not OpenID Connect or basic; {configfiles.DERIVED_KEYS['auth']}")


_NGINX_SNAP_KEYS = {"min_uid": "nginx-stage.min-uid", "nginx_file_upload_max": "nginx-stage.nginx-file-upload-max"}


def _plan_nginx(data: dict[str, Any], where: Path, paths: Paths, plan: Plan) -> None:
    fixed = configfiles.nginx_stage_fixed(paths)
    for name, value in data.items():
        if value is None:
            continue
        if name in _NGINX_SNAP_KEYS:
            plan.values[_NGINX_SNAP_KEYS[name]] = value
        elif name == "pun_custom_env":
            if not isinstance(value, dict):
                plan.problems.append(f"{where}: pun_custom_env: must be a mapping of variable names to values")
                continue
            for env_name, env_value in value.items():
                name_text = str(env_name)
                # Dash-cased as snapd's keys are; a name that is not upper-case stays as is (and is refused).
                upper = re.fullmatch(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*", name_text)
                segment = name_text.lower().replace("_", "-") if upper else name_text
                plan.values[f"nginx-stage.pun-custom-env.{segment}"] = str(env_value)
        elif name in fixed:
            plan.replaced.append(f"nginx_stage.yml {name}")
        else:
            plan.skipped.append(
                f"nginx_stage.yml {name}: not a snap key; add it to {paths.nginx_stage_yml} by hand (the snap keeps it)"
            )


def _plan_cluster(path: Path, paths: Paths, plan: Plan, force: bool) -> None:
    data = read_or_none(path)
    if data is None:
        return
    mapping, problem = configfiles.load_yaml_mapping(path, data)
    if problem:
        plan.problems.append(problem)
        return
    values = _cluster_values(path.stem, mapping)
    if values is not None:
        plan.values.update(values)
        own = paths.clusters_d / f"{path.stem}.yml"
        existing = read_or_none(own)
        if existing is not None and not configfiles.is_snap_cluster_file(existing):
            plan.problems.append(
                f"{own}: an admin file for cluster {path.stem} exists, and the snap never replaces files it did "
                f"not write; remove it to import {path} as clusters.{path.stem}.*"
            )
        return
    text, done = rewrite_text(data.decode("utf-8"), paths)
    plan.clusters[path.name] = text.encode("utf-8")
    plan.rewrites += [f"clusters.d/{path.name}: {d}" for d in done]
    target = paths.clusters_d / path.name
    if target.exists() and not force:
        plan.problems.append(f"{target}: exists (an admin file); remove it or use --force to replace it")


def _cluster_values(cluster_id: str, data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The `clusters.<id>.*` keys of a cluster file the snap can write itself, else None."""
    if not model.CLUSTER_ID.fullmatch(cluster_id) or set(data) != {"v2"} or not isinstance(data["v2"], dict):
        return None
    v2 = data["v2"]
    meta, login, job = v2.get("metadata"), v2.get("login", {}), v2.get("job", {})
    if (
        not set(v2) <= {"metadata", "login", "job"}
        or not isinstance(meta, dict)
        or set(meta) != {"title"}
        or not isinstance(login, dict)
        or not set(login) <= {"host"}
        or not isinstance(job, dict)
        or not set(job) <= set(CLUSTER_JOB_KEYS)
        or (job and "adapter" not in job)
    ):
        return None
    prefix = f"clusters.{cluster_id}"
    values: dict[str, Any] = {f"{prefix}.title": meta["title"]}
    if "host" in login:
        values[f"{prefix}.login.host"] = login["host"]
    values.update({f"{prefix}.job.{name}": job[name] for name in CLUSTER_JOB_KEYS if name in job})
    return values


def _document(values: Mapping[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in values.items():
        node = doc
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return doc


def _validate(plan: Plan, paths: Paths, force: bool) -> None:
    try:
        model.parse(_document(plan.values))
    except ConfigError as error:
        plan.problems += [f"snap set: {p}" for p in error.problems]
    plan.problems += sitefile.key_problems(paths.ood_portal_site_yml, plan.site, paths)
    if plan.site and paths.ood_portal_site_yml.exists() and not force:
        plan.problems.append(
            f"{paths.ood_portal_site_yml}: exists (an admin file); merge by hand or use --force to replace it"
        )


# --- applying ------------------------------------------------------------------------------


def snap_set_argv(plan: Plan, paths: Paths) -> list[str]:
    return [SNAP_BIN, "set", paths.name] + [f"{key}={_cli_value(value)}" for key, value in plan.values.items()]


_PROBLEMS_HEADER = re.compile(r"\(\d+ problems?; nothing was changed\):$")


def refusal_problems(output: str) -> list[str]:
    """The problems the hook listed, out of what snapd printed around its output (an
    `error: cannot perform ...` line, the hook's lines between `-----` rules); all of the
    output as one problem when it holds no such list."""
    lines = output.strip().splitlines()
    for at, line in enumerate(lines):
        if _PROBLEMS_HEADER.search(line.strip()):
            listed = []
            for item in lines[at + 1 :]:
                if not item.startswith("  ") or item.strip().startswith("-----"):
                    break
                listed.append(item.strip())
            if listed:
                return listed
    return [" ".join(line.strip() for line in lines if line.strip()) or "(it printed nothing)"]


def apply(plan: Plan, paths: Paths, runner: Runner = _run) -> None:
    if plan.problems:
        raise ConfigError(plan.problems, brief="import-config refused")
    written: dict[Path, bytes | None] = {}
    try:
        if plan.site:
            path = paths.ood_portal_site_yml
            path.parent.mkdir(parents=True, exist_ok=True)
            written[path] = read_or_none(path)
            atomic_write(path, configfiles.dump_yaml(SITE_HEADER, plan.site), mode=0o600)
        for name, data in plan.clusters.items():
            path = paths.clusters_d / name
            path.parent.mkdir(parents=True, exist_ok=True)
            written[path] = read_or_none(path)
            atomic_write(path, data, mode=0o644)
        if plan.values:
            argv, what = snap_set_argv(plan, paths), "snap set refused the imported values"
        else:
            # Only files were written: nothing runs the configure hook, so have upstream's
            # generator and httpd -t take the site file now, as `snap set` would.
            argv, what = (
                [SNAP_BIN, "run", f"{paths.name}.update-portal"],
                "update-portal refused the imported site file",
            )
        result = runner(argv)
        if result.returncode != 0:
            raise ConfigError(refusal_problems(result.stderr or result.stdout or ""), brief=what)
    except BaseException:
        _undo(written)
        raise


def _undo(written: Mapping[Path, bytes | None]) -> None:
    for path, before in written.items():
        if before is None:
            path.unlink(missing_ok=True)
        else:
            atomic_write(path, before, mode=0o600 if path.name.endswith(".site.yml") else 0o644)


def import_config(
    source: Path,
    paths: Paths,
    *,
    dry_run: bool = False,
    force: bool = False,
    runner: Runner = _run,
    say: Callable[[str], None] = print,
) -> Plan:
    """Print the plan, then apply it unless `dry_run`. ConfigError when refused."""
    plan = make_plan(source, paths, force)
    for line in plan.lines(paths):
        say(line)
    if plan.problems:
        raise ConfigError(plan.problems, brief="import-config refused")
    if dry_run:
        say("dry run: nothing was changed")
    else:
        try:
            apply(plan, paths, runner)
        except OSError as error:
            raise HookError(f"import-config: {error}") from error
    return plan
