"""import-config: an existing site's /etc/ood/config brought over (plan, validation, apply, undo).

The injected runner plays snapd: it applies `snap set`'s values to the FakeSnapctl and runs
the real configure hook (upstream's generator; the host's `httpd -t` where installed).
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hooktest_support import REAL_APACHE, REAL_MODULES, SnapEnv, apache_t, make_cert, real_env, snapshot

from ondemand_hooks import hooks, importsite, model
from ondemand_hooks.errors import ConfigError, HookError

needs_apache = pytest.mark.skipif(
    not (REAL_APACHE.is_file() and (REAL_MODULES / "mod_mpm_event.so").is_file()),
    reason=f"real Apache not installed ({REAL_APACHE}, {REAL_MODULES}): apt-get install apache2-bin",
)

SSL_OIDC_SITE = """\
---
servername: ondemand.example.edu
port: 443
ssl:
  - 'SSLCertificateFile "{cert}"'
  - 'SSLCertificateKeyFile "{key}"'
logroot: '/var/log/httpd'
public_root: '/var/www/ood/public'
lua_root: '/opt/ood/mod_ood_proxy/lib'
pun_stage_cmd: 'sudo /opt/ood/nginx_stage/sbin/nginx_stage'
accesslog: '|/usr/bin/logger -t ood'
auth:
  - 'AuthType openid-connect'
  - 'Require valid-user'
oidc_uri: '/oidc'
oidc_redirect_uri: '/oidc'
oidc_provider_metadata_url: 'https://idp.example.edu/.well-known/openid-configuration'
oidc_client_id: 'ondemand'
oidc_client_secret: 'very-secret-value'
oidc_remote_user_claim: 'preferred_username'
oidc_crypto_passphrase: 'upstream-passphrase'
"""

BASIC_SITE = """\
servername: ood.example.edu
auth:
  - 'AuthType Basic'
  - 'AuthName "Open OnDemand"'
  - 'AuthBasicProvider file'
  - 'AuthUserFile "{htpasswd}"'
  - 'Require valid-user'
user_map_cmd: '/opt/ood/ood_auth_map/bin/ood_auth_map.regex'
custom_location_directives:
  - 'LimitRequestBody 1048576'
custom_vhost_directives:
  - 'ServerSignature Off'
maintenance_ip_allowlist:
  - '10.0.0.1'
  - '192.168.10.'
register_root: '/var/www/ood/register'
pun_socket_root: '/srv/custom/sockets'
"""

NGINX_STAGE = """\
min_uid: 2000
nginx_file_upload_max: '20000000000'
pun_custom_env:
  OOD_DASHBOARD_TITLE: "Example HPC"
nginx_bin: '/opt/ood/ondemand/root/usr/sbin/nginx'
passenger_pool_idle_time: 300
"""

SIMPLE_CLUSTER = """\
---
v2:
  metadata:
    title: "Owens"
  login:
    host: "owens.example.edu"
  job:
    adapter: "slurm"
    cluster: "owens"
    bin: "/usr/bin"
    conf: "{slurm_conf}"
"""

RICH_CLUSTER = """\
---
v2:
  metadata:
    title: "Pitzer"
  login:
    host: "pitzer.example.edu"
  job:
    adapter: "slurm"
    bin: "/usr/bin"
  acls:
    - adapter: "group"
      groups: ["hpc"]
      type: "whitelist"
  batch_connect:
    basic:
      script_wrapper: |
        source /etc/ood/config/site_env.sh
        %s
    vnc:
      script_wrapper: |
        export PATH="/opt/ood/linuxhost_adapter/bin:$PATH"
        %s
"""


def write_site(root: Path, portal: str, **fill: str) -> Path:
    site = root / "upstream-config"
    (site / "clusters.d").mkdir(parents=True)
    (site / "ood_portal.yml").write_text(portal.format(**fill))
    (site / "nginx_stage.yml").write_text(NGINX_STAGE)
    slurm_conf = root / "slurm.conf"
    slurm_conf.write_text("ClusterName=owens\n")
    (site / "clusters.d" / "owens.yml").write_text(SIMPLE_CLUSTER.replace("{slurm_conf}", str(slurm_conf)))
    (site / "clusters.d" / "pitzer.yml").write_text(RICH_CLUSTER)
    return site


def htpasswd(root: Path) -> str:
    path = root / "htpasswd"
    path.write_text("alice:{SHA}x\n")
    return str(path)


class Snapd:
    """`snap set`: the values go to the fake snapctl and the real configure hook runs; a
    refusal rolls the values back, as snapd does."""

    def __init__(self, env: SnapEnv) -> None:
        self.env = env
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        assert list(argv[:3]) == ["/usr/bin/snap", "set", "ondemand"]
        values: dict[str, Any] = {}
        for arg in argv[3:]:
            key, _, raw = arg.partition("=")
            try:
                values[key] = json.loads(raw)
            except ValueError:
                values[key] = raw
        before = copy.deepcopy(self.env.snapctl.config)
        self.env.snapctl.set(values)
        try:
            hooks.configure(self.env.ctx())
        except HookError as error:
            self.env.snapctl.config = before
            return subprocess.CompletedProcess(list(argv), 1, "", str(error))
        return subprocess.CompletedProcess(list(argv), 0, "", "")


def run_import(env: SnapEnv, site: Path, **kwargs: Any) -> tuple[importsite.Plan, list[str], Snapd]:
    said: list[str] = []
    snapd = Snapd(env)
    plan = importsite.import_config(site, env.paths, runner=snapd, say=said.append, **kwargs)
    return plan, said, snapd


def test_plan_of_an_ssl_oidc_site(env: SnapEnv, tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    site = write_site(tmp_path, SSL_OIDC_SITE, cert=str(cert), key=str(key))
    plan = importsite.make_plan(site, env.paths)
    assert plan.problems == []
    assert plan.values["portal.servername"] == "ondemand.example.edu"
    assert plan.values["portal.ssl.certificate"] == str(cert)
    assert plan.values["portal.ssl.certificate-key"] == str(key)
    assert plan.values["portal.auth.type"] == "oidc"
    assert plan.values["portal.oidc.client-secret"] == "very-secret-value"
    assert plan.values["nginx-stage.min-uid"] == 2000
    assert plan.values["nginx-stage.pun-custom-env.ood-dashboard-title"] == "Example HPC"
    assert plan.values["clusters.owens.job.adapter"] == "slurm"
    assert plan.values["clusters.owens.login.host"] == "owens.example.edu"
    assert plan.site == {"accesslog": "|/usr/bin/logger -t ood"}
    assert list(plan.clusters) == ["pitzer.yml"]
    copied = plan.clusters["pitzer.yml"].decode()
    assert f"source {env.paths.ood_config}/site_env.sh" in copied
    assert f"{env.paths.snap_stable}/opt/ood/linuxhost_adapter/bin" in copied
    assert yaml.safe_load(copied)["v2"]["acls"][0]["groups"] == ["hpc"]
    lines = plan.lines(env.paths)
    assert "  portal.oidc.client-secret = (hidden)" in lines
    assert not any("very-secret-value" in line for line in lines)
    assert "  portal.servername = ondemand.example.edu" in lines
    replaced = "\n".join(plan.replaced)
    for name in ("public_root", "lua_root", "pun_stage_cmd", "logroot", "oidc_redirect_uri", "oidc_crypto_passphrase"):
        assert name in replaced
    assert any("passenger_pool_idle_time" in line for line in plan.skipped)
    assert "clusters.d/pitzer.yml: /etc/ood/config -> " + str(env.paths.ood_config) in plan.rewrites
    model.parse(importsite._document(plan.values))


def test_plan_of_a_basic_site_keeps_site_keys_and_reports_custom_fixed_values(env: SnapEnv, tmp_path: Path) -> None:
    site = write_site(tmp_path, BASIC_SITE, htpasswd=htpasswd(tmp_path))
    plan = importsite.make_plan(site, env.paths)
    assert plan.problems == []
    assert plan.values["portal.auth.type"] == "basic"
    assert plan.values["portal.auth.basic.user-file"] == htpasswd(tmp_path)
    assert plan.values["portal.maintenance.allowlist"] == ["10.0.0.1", "192.168.10."]
    assert plan.site["user_map_cmd"] == f"{env.paths.snap_stable}/opt/ood/ood_auth_map/bin/ood_auth_map.regex"
    assert plan.site["register_root"] == f"{env.paths.www}/register"
    assert plan.site["custom_location_directives"] == ["LimitRequestBody 1048576"]
    assert plan.site["custom_vhost_directives"] == ["ServerSignature Off"]
    assert any(line.startswith("pun_socket_root: '/srv/custom/sockets'") for line in plan.skipped)
    assert f"user_map_cmd: /opt/ood -> {env.paths.snap_stable}/opt/ood" in plan.rewrites
    model.parse(importsite._document(plan.values))


@needs_apache
def test_import_of_a_basic_site_applies_and_apache_accepts_it(tmp_path: Path) -> None:
    env = real_env(tmp_path / "snap")
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:{SHA}x\n")
    site = write_site(tmp_path, BASIC_SITE, htpasswd=str(htpasswd))
    plan, said, snapd = run_import(env, site)
    assert len(snapd.calls) == 1
    assert env.snapctl.config["portal"]["auth"]["type"] == "basic"
    assert env.snapctl.config["clusters"]["owens"]["title"] == "Owens"
    site_yml = yaml.safe_load(env.paths.ood_portal_site_yml.read_text())
    assert site_yml == plan.site
    assert (env.paths.ood_portal_site_yml.stat().st_mode & 0o777) == 0o600
    assert (env.paths.clusters_d / "pitzer.yml").read_bytes() == plan.clusters["pitzer.yml"]
    assert (env.paths.clusters_d / "owens.yml").read_text().startswith("# Managed by the ondemand snap")
    vhost = env.paths.portal_conf.read_text()
    assert "ServerSignature Off" in vhost
    assert "LimitRequestBody 1048576" in vhost
    assert "ServerName ood.example.edu" in vhost
    nginx = yaml.safe_load(env.paths.nginx_stage_yml.read_text())
    assert nginx["min_uid"] == 2000
    assert nginx["pun_custom_env"] == {"OOD_DASHBOARD_TITLE": "Example HPC"}
    done = apache_t(env)
    assert done.returncode == 0, done.stderr
    assert "kept in " + str(env.paths.ood_portal_site_yml) + ":" in said


@needs_apache
def test_import_of_an_ssl_oidc_site_with_piped_logs(tmp_path: Path) -> None:
    env = real_env(tmp_path / "snap")
    cert, key = make_cert(tmp_path)
    site = write_site(tmp_path, SSL_OIDC_SITE, cert=str(cert), key=str(key))
    plan, said, _ = run_import(env, site)
    assert env.snapctl.config["portal"]["oidc"]["client-secret"] == "very-secret-value"
    vhost = env.paths.portal_conf.read_text()
    assert '"|/usr/bin/logger -t ood"' in vhost or "|/usr/bin/logger -t ood" in vhost
    assert f'SSLCertificateFile "{cert}"' in vhost
    assert not any("very-secret-value" in line for line in said)
    done = apache_t(env)
    assert done.returncode == 0, done.stderr


def test_dry_run_writes_nothing(env: SnapEnv, tmp_path: Path) -> None:
    site = write_site(tmp_path, BASIC_SITE, htpasswd=htpasswd(tmp_path))
    before = snapshot(env.root)
    plan, said, snapd = run_import(env, site, dry_run=True)
    assert snapd.calls == []
    assert snapshot(env.root) == before
    assert said[-1] == "dry run: nothing was changed"
    assert plan.values


@pytest.mark.parametrize(
    ("portal", "says"),
    [
        ("servername: 'not a host name'\n", "snap set: portal.servername: "),
        ("servername: [unclosed\n", "is not valid YAML"),
        ("servernme: ood.example.edu\n", "did you mean servername?"),
        ("custom_vhost_directives: 2024-01-01\n", "custom_vhost_directives: holds a YAML date"),
        ("servername: ood.example.edu\n", "not an environment variable name"),
    ],
)
def test_refused_input_changes_nothing(env: SnapEnv, tmp_path: Path, portal: str, says: str) -> None:
    site = write_site(tmp_path, portal)
    if "environment variable" in says:
        (site / "nginx_stage.yml").write_text("pun_custom_env:\n  Lower_Case: x\n")
    before, config = snapshot(env.root), copy.deepcopy(env.snapctl.config)
    snapd = Snapd(env)
    with pytest.raises(ConfigError) as error:
        importsite.import_config(site, env.paths, runner=snapd, say=lambda _: None)
    assert any(says in p for p in error.value.problems), error.value.problems
    assert snapd.calls == []
    assert snapshot(env.root) == before
    assert env.snapctl.config == config


def test_existing_admin_files_are_refused_unless_forced(env: SnapEnv, tmp_path: Path) -> None:
    site = write_site(tmp_path, BASIC_SITE, htpasswd=str(tmp_path / "htpasswd"))
    (tmp_path / "htpasswd").write_text("alice:{SHA}x\n")
    env.paths.ood_portal_site_yml.write_text("errorlog: mine.log\n")
    env.paths.ood_portal_site_yml.chmod(0o600)
    env.paths.clusters_d.mkdir(parents=True, exist_ok=True)
    (env.paths.clusters_d / "pitzer.yml").write_text("v2: {metadata: {title: mine}}\n")
    before = snapshot(env.root)
    with pytest.raises(ConfigError) as error:
        importsite.import_config(site, env.paths, runner=Snapd(env), say=lambda _: None)
    assert len([p for p in error.value.problems if "--force" in p]) == 2
    assert snapshot(env.root) == before
    plan = importsite.make_plan(site, env.paths, force=True)
    assert plan.problems == []


def test_a_refusal_of_snap_set_takes_back_what_was_written(env: SnapEnv, tmp_path: Path) -> None:
    site = write_site(tmp_path, BASIC_SITE, htpasswd=htpasswd(tmp_path))
    before = snapshot(env.root)

    def refusing(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        assert env.paths.ood_portal_site_yml.exists()
        assert (env.paths.clusters_d / "pitzer.yml").exists()
        return subprocess.CompletedProcess(
            list(argv), 1, "", 'error: cannot perform the following tasks:\n- "configure" hook'
        )

    with pytest.raises(ConfigError) as error:
        importsite.import_config(site, env.paths, runner=refusing, say=lambda _: None)
    assert error.value.brief == "snap set refused the imported values"
    assert error.value.problems == ['error: cannot perform the following tasks: - "configure" hook']
    assert snapshot(env.root) == before


def test_the_hooks_problems_are_taken_out_of_what_snapd_printed() -> None:
    snapd_said = (
        "error: cannot perform the following tasks:\n"
        '- Run configure hook of "ondemand" snap (run hook "configure": \n'
        "-----\n"
        "configuration refused (2 problems; nothing was changed):\n"
        '  portal.port: "x" is not a port\n'
        "  ood_portal.site.yml: custom_vhost_directives: httpd -t: Invalid command 'X'\n"
        "-----)\n"
    )
    assert importsite.refusal_problems(snapd_said) == [
        'portal.port: "x" is not a port',
        "ood_portal.site.yml: custom_vhost_directives: httpd -t: Invalid command 'X'",
    ]
    assert importsite.refusal_problems("error: snapd is down\n") == ["error: snapd is down"]
    assert importsite.refusal_problems("") == ["(it printed nothing)"]


def test_an_import_of_site_file_keys_only_runs_update_portal(env: SnapEnv, tmp_path: Path) -> None:
    site = tmp_path / "config"
    site.mkdir()
    (site / "ood_portal.yml").write_text("register_uri: /register\npun_max_retries: 7\n")
    plan = importsite.make_plan(site, env.paths, force=False)
    assert plan.values == {} and set(plan.site) == {"register_uri", "pun_max_retries"}
    calls: list[list[str]] = []

    def update_portal_refuses(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        calls.append(list(argv))
        return subprocess.CompletedProcess(
            list(argv), 1, "", "configuration refused (1 problem; nothing was changed):\n  lua_log_level: no\n"
        )

    before = snapshot(env.root)
    with pytest.raises(ConfigError) as error:
        importsite.apply(plan, env.paths, update_portal_refuses)
    assert calls == [["/usr/bin/snap", "run", "ondemand.update-portal"]]
    assert error.value.brief == "update-portal refused the imported site file"
    assert error.value.problems == ["lua_log_level: no"]
    assert snapshot(env.root) == before  # the site file it wrote is taken back


def test_paths_are_rewritten_only_as_whole_components(env: SnapEnv) -> None:
    text, done = importsite.rewrite_text("/opt/oodx /usr/opt/ood /opt/ood /opt/ood/x '/var/www/ood'", env.paths)
    assert (
        text
        == f"/opt/oodx /usr/opt/ood {env.paths.snap_stable}/opt/ood {env.paths.snap_stable}/opt/ood/x '{env.paths.www}'"
    )
    assert len(done) == 2


def test_snap_set_argv_quotes_what_json_would_misread(env: SnapEnv) -> None:
    plan = importsite.Plan(source=Path("/x"), values={"portal.port": 443, "portal.servername": "a.b", "x": "true"})
    plan.values["portal.server-aliases"] = ["b.c", "d.e"]
    argv = importsite.snap_set_argv(plan, env.paths)
    assert argv == [
        "/usr/bin/snap", "set", "ondemand",
        "portal.port=443", "portal.servername=a.b", 'x="true"', 'portal.server-aliases=["b.c", "d.e"]',
    ]  # fmt: skip


def test_an_admin_file_of_a_mapped_cluster_is_refused_even_with_force(env: SnapEnv, tmp_path: Path) -> None:
    site = write_site(tmp_path, BASIC_SITE, htpasswd=htpasswd(tmp_path))
    env.paths.clusters_d.mkdir(parents=True, exist_ok=True)
    (env.paths.clusters_d / "owens.yml").write_text("v2: {metadata: {title: hand-written}}\n")
    before = snapshot(env.root)
    with pytest.raises(ConfigError) as error:
        importsite.import_config(site, env.paths, force=True, runner=Snapd(env), say=lambda _: None)
    assert any("owens.yml: an admin file for cluster owens exists" in p for p in error.value.problems)
    assert snapshot(env.root) == before


@needs_apache
def test_configure_refusing_the_values_takes_back_the_site_file_and_copies(tmp_path: Path) -> None:
    """A directive Apache does not know passes every check before snap set; the configure
    hook's httpd -t refuses it, and the replaced site file and the copies are taken back."""
    env = real_env(tmp_path / "snap")
    site = write_site(
        tmp_path, BASIC_SITE.replace("ServerSignature Off", "NoSuchDirective on"), htpasswd=htpasswd(tmp_path)
    )
    env.paths.ood_portal_site_yml.write_text("errorlog: mine.log\n")
    env.paths.ood_portal_site_yml.chmod(0o600)
    before, config = snapshot(env.root), copy.deepcopy(env.snapctl.config)
    snapd = Snapd(env)
    with pytest.raises(ConfigError) as error:
        importsite.import_config(site, env.paths, force=True, runner=snapd, say=lambda _: None)
    assert len(snapd.calls) == 1
    assert error.value.brief == "snap set refused the imported values"
    assert any("NoSuchDirective" in p or "custom_vhost_directives" in p for p in error.value.problems)
    assert not any("problem" in p and "nothing was changed" in p for p in error.value.problems)
    assert env.paths.ood_portal_site_yml.read_text() == "errorlog: mine.log\n"
    assert snapshot(env.root) == before
    assert env.snapctl.config == config


# --- tests/sites: the realistic sites the behaviour check (tests/checks/import-config.sh) imports

SITES = Path(__file__).resolve().parents[2] / "sites"
# What tests/sites/slurm-basic maps to: the check restores (unsets) exactly these keys.
SLURM_BASIC_KEYS = [
    "portal.servername",
    "portal.port",
    "portal.lua-log-level",
    "portal.auth.type",
    "portal.auth.basic.user-file",
    "portal.user-map-match",
    "portal.maintenance.allowlist",
    "nginx-stage.min-uid",
    "nginx-stage.nginx-file-upload-max",
    "nginx-stage.pun-custom-env.ood-dashboard-title",
    "nginx-stage.pun-custom-env.ood-support-email",
    "clusters.tundra.title",
    "clusters.tundra.login.host",
    "clusters.tundra.job.adapter",
    "clusters.tundra.job.cluster",
    "clusters.tundra.job.bin",
    "clusters.tundra.job.conf",
]
SLURM_BASIC_SITE_KEYS = [
    "errorlog",
    "accesslog",
    "logformat",
    "disable_logs",
    "use_rewrites",
    "map_fail_uri",
    "register_uri",
    "register_root",
    "security_csp_frame_ancestors",
    "security_strict_transport",
    "strip_proxy_cookies",
    "pun_max_retries",
    "custom_vhost_directives",
    "custom_location_directives",
]
UPSTREAM_PATHS = [importsite._path_pattern(p) for p in ("/opt/ood", "/var/www/ood", "/etc/ood/config")]


def install_site(name: str, root: Path) -> Path:
    """tests/sites/NAME as the check installs it: @ROOT@ replaced by `root`, which gets the
    htpasswd file and slurm.conf the site points at; returns the config directory."""
    config = root / "config"
    for source in sorted((SITES / name).rglob("*")):
        target = config / source.relative_to(SITES / name)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(source.read_text().replace("@ROOT@", str(root)))
    (root / "htpasswd").write_text("tundrauser:{SHA}x\n")
    (root / "slurm").mkdir()
    (root / "slurm" / "slurm.conf").write_text("ClusterName=tundra\n")
    return config


def test_the_slurm_basic_site_plan_is_what_the_check_asserts(env: SnapEnv, tmp_path: Path) -> None:
    site = install_site("slurm-basic", tmp_path / "site")
    plan = importsite.make_plan(site, env.paths)
    assert plan.problems == []
    assert list(plan.values) == SLURM_BASIC_KEYS
    assert list(plan.site) == SLURM_BASIC_SITE_KEYS
    assert len(plan.site) >= 12
    assert list(plan.clusters) == ["vizlab.yml"]
    lines = plan.lines(env.paths)
    common = env.paths.snap_common
    # The lines tests/checks/import-config.sh looks for in the dry run's output.
    for line in (
        "snap set ondemand:",
        "  portal.servername = ondemand.hpc.example.edu",
        f"kept in {env.paths.ood_portal_site_yml}:",
        "  custom_vhost_directives",
        "rewritten paths:",
        f"  register_root: /var/www/ood -> {common}/var/www/ood",
        f"  custom_vhost_directives: /etc/ood/config -> {common}/etc/ood/config",
        f"copied as admin files into {env.paths.clusters_d}:",
        "  vizlab.yml",
    ):
        assert line in lines, (line, lines)
    for name in ("logroot", "public_root", "lua_root", "pun_stage_cmd", "pun_socket_root"):
        assert any(line.startswith(f"{name}: ") for line in plan.replaced), name
    assert any("passenger_pool_idle_time" in line for line in plan.skipped)


@needs_apache
def test_the_slurm_basic_site_imports_and_apache_accepts_it(tmp_path: Path) -> None:
    env = real_env(tmp_path / "snap")
    site = install_site("slurm-basic", tmp_path / "site")
    plan, said, snapd = run_import(env, site)
    assert len(snapd.calls) == 1
    assert env.snapctl.config["portal"]["servername"] == "ondemand.hpc.example.edu"
    assert env.snapctl.config["clusters"]["tundra"]["job"]["conf"] == str(tmp_path / "site" / "slurm" / "slurm.conf")
    site_text = env.paths.ood_portal_site_yml.read_text()
    assert list(yaml.safe_load(site_text)) == SLURM_BASIC_SITE_KEYS
    copied = (env.paths.clusters_d / "vizlab.yml").read_text()
    for text in (site_text, copied):
        assert not any(p.search(text) for p in UPSTREAM_PATHS), text
    assert f"source {env.paths.ood_config}/clusters.d/vizlab-env.sh" in copied
    vhost = [line.strip() for line in env.paths.portal_conf.read_text().splitlines()]
    common = env.paths.snap_common
    for line in (
        "ServerName ondemand.hpc.example.edu",
        'ErrorLog  "|/usr/bin/logger -t ood-portal-error"',
        r'LogFormat "%h %l %u %t \"%r\" %>s %b \"%{User-Agent}i\" %D"',
        f'TransferLog "{common}/var/log/apache2/ondemand_access.log"',
        'Header always set X-Imported-Site "slurm-basic"',
        f"IncludeOptional {common}/etc/ood/config/apache.d/*.conf",
        'Header always set X-Imported-Location "pun"',
        "Header always set Content-Security-Policy \"frame-ancestors 'self' https://ondemand.hpc.example.edu;\"",
        'SetEnv OOD_PUN_MAX_RETRIES "10"',
        'SetEnv OOD_USER_MAP_MATCH "^([^@]+)"',
        f'Alias "/register" "{common}/var/www/ood/register"',
        'RequestHeader edit* Cookie "_tundra_lb=[^;]+;" ""',
    ):
        assert line in vhost, line
    nginx = yaml.safe_load(env.paths.nginx_stage_yml.read_text())
    assert nginx["min_uid"] == 1000
    assert nginx["pun_custom_env"] == {
        "OOD_DASHBOARD_TITLE": "Tundra OnDemand",
        "OOD_SUPPORT_EMAIL": "hpc-help@example.edu",
    }
    done = apache_t(env)
    assert done.returncode == 0, done.stderr


@needs_apache
def test_the_slurm_basic_site_with_a_server_wide_directive_is_refused_by_httpd_t(tmp_path: Path) -> None:
    """The check's refused import: ServerTokens is allowed in the main config only; nothing
    before snap set knows, the configure hook's httpd -t refuses it, and nothing changes."""
    env = real_env(tmp_path / "snap")
    site = install_site("slurm-basic", tmp_path / "site")
    portal = site / "ood_portal.yml"
    portal.write_text(portal.read_text().replace("  - 'ServerSignature Off'\n", "  - 'ServerTokens Prod'\n"))
    before, config = snapshot(env.root), copy.deepcopy(env.snapctl.config)
    snapd = Snapd(env)
    with pytest.raises(ConfigError) as error:
        importsite.import_config(site, env.paths, runner=snapd, say=lambda _: None)
    assert len(snapd.calls) == 1
    said = "\n".join(error.value.problems)
    assert "custom_vhost_directives" in said and "ServerTokens" in said, said
    assert snapshot(env.root) == before
    assert env.snapctl.config == config


def test_the_check_unsets_the_keys_the_slurm_basic_plan_sets() -> None:
    """tests/checks/import-config.sh's KEYS (what its restore unsets) and SITE_KEYS are the
    plan's: a key the import sets and the restore does not unset would outlive the check."""
    check = SITES.parent / "checks" / "import-config.sh"
    arrays = subprocess.run(
        ["bash", "-c", 'eval "$(sed -n "/^KEYS=(/,/^)/p;/^SITE_KEYS=(/,/^)/p" "$1")"; '
         'printf "%s\\n" "${KEYS[@]}" -- "${SITE_KEYS[@]}"', "sh", str(check)],
        capture_output=True, text=True, check=True,
    ).stdout.split("\n--\n")  # fmt: skip
    assert arrays[0].split() == SLURM_BASIC_KEYS
    assert arrays[1].split() == SLURM_BASIC_SITE_KEYS
