"""The generated configs against a real Apache (Debian's apache2-bin + mod_auth_openidc).

Skipped, visibly, where /usr/sbin/apache2 or its modules are not installed
(`apt-get install apache2-bin libapache2-mod-auth-openidc`). The module directory is a
`Paths` parameter, so the same renderer that writes the snap's absolute LoadModule lines
writes Debian's here; `httpd_bin` points the hooks' own `httpd -t` gate at apache2.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hooktest_support import REAL_APACHE, REAL_MODULES, SnapEnv, apache_t, make_cert, real_env, snapshot

from ondemand_hooks.errors import ConfigError

pytestmark = pytest.mark.skipif(
    not (REAL_APACHE.is_file() and (REAL_MODULES / "mod_mpm_event.so").is_file()),
    reason=f"real Apache not installed ({REAL_APACHE}, {REAL_MODULES}): apt-get install apache2-bin",
)
HAS_OPENIDC = (REAL_MODULES / "mod_auth_openidc.so").is_file()
needs_openidc = pytest.mark.skipif(
    not HAS_OPENIDC, reason="mod_auth_openidc not installed (libapache2-mod-auth-openidc)"
)
OIDC = {
    "portal.oidc.provider-metadata-url": "https://idp.example.edu/.well-known/openid-configuration",
    "portal.oidc.client-id": "ondemand",
    "portal.oidc.client-secret": "s3cr3t",
}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("certs")
    cert, key = make_cert(d)
    return {"cert": str(cert), "key": str(key)}


BASIC = {"portal.auth.type": "basic", "portal.auth.basic.user-file": "{key}"}
VARIANTS: dict[str, tuple[bool, dict[str, Any]]] = {
    "fresh-install": (True, {}),
    "basic-maintenance": (
        True,
        {**BASIC, "portal.maintenance.enabled": True, "portal.maintenance.allowlist": "10.0.0.0/8,::1"},
    ),
    "no-ondemand-main-config-only": (False, OIDC),
    # A public client: no secret, PKCE instead (mod_auth_openidc must accept OIDCPKCEMethod).
    "oidc-public-client-pkce": (True, {k: v for k, v in OIDC.items() if k != "portal.oidc.client-secret"}),
    "oidc-ondemand-ssl-everything": (True, {
        **OIDC, "portal.servername": "ondemand.example.edu", "portal.server-aliases": "ood.example.edu",
        "portal.ssl.certificate": "{cert}", "portal.ssl.certificate-key": "{key}",
        "portal.ssl.certificate-chain": "{cert}", "portal.maintenance.enabled": True,
        "portal.maintenance.allowlist": "192.168.0.0/16", "portal.host-regex": r"[\w.-]+\.example\.edu",
        "portal.user-map-match": "^([^@]+)@example%.edu$", "portal.oidc.uri": "/auth/oidc",
        "portal.lua-log-level": "warn",
    }),
    "basic-ondemand": (True, BASIC),
    "ssl-custom-port-listen": (True, {**BASIC,
        "portal.port": 8443, "portal.listen-addr-port": "127.0.0.1:8443,[::1]:8443,127.0.0.1:80",
        "portal.ssl.certificate": "{cert}", "portal.ssl.certificate-key": "{key}",
    }),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_generated_config_passes_apache_t(tmp_path: Path, certs: dict[str, str], name: str) -> None:
    ondemand, values = VARIANTS[name]
    if any(k.startswith("portal.oidc") for k in values) and not HAS_OPENIDC:
        pytest.skip("mod_auth_openidc not installed (libapache2-mod-auth-openidc)")
    env = real_env(tmp_path, ondemand)
    env.set(
        {k: v.format(**certs) if isinstance(v, str) and "{" in v and "\\" not in v else v for k, v in values.items()}
    )
    env.configure()  # runs apache2 -t itself before installing
    done = apache_t(env)
    assert done.returncode == 0, done.stderr
    assert "Syntax OK" in done.stderr + done.stdout


def test_apache_rejection_blocks_the_install(tmp_path: Path) -> None:
    env = real_env(tmp_path)
    empty_modules = tmp_path / "no-modules"
    empty_modules.mkdir()
    env.paths = dataclasses.replace(env.paths, apache_modules_dir=empty_modules)
    before = snapshot(env.root)
    env.set({"portal.port": 8080})
    with pytest.raises(ConfigError) as error:
        env.configure()
    assert any("httpd -t rejected" in p and "mod_" in p for p in error.value.problems), error.value.problems
    assert snapshot(env.root) == before


# --- a live Apache on loopback ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_root() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("the live Apache test runs as root (Apache switches to the portal user)")
    # The portal user must traverse the tree: pytest's tmp dirs are 0700.
    root = Path(tempfile.mkdtemp(prefix="ood-live-", dir="/tmp"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


class Live:
    def __init__(self, env: SnapEnv, port: int) -> None:
        self.env, self.port = env, port
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [str(REAL_APACHE), "-D", "FOREGROUND", "-f", str(self.env.paths.httpd_conf)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"apache2 exited: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            # Ready once it answers HTTP: a bare connect can land before the workers take it.
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("HEAD", "/")
                conn.getresponse().read()
                conn.close()
                return
            except (OSError, http.client.HTTPException):
                time.sleep(0.1)
        raise AssertionError("apache2 did not start answering")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # Its workers too: one still holding the port would take the next start's requests.
        deadline = time.monotonic() + 15
        while self.proc and time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body


@pytest.fixture
def live(live_root: Path) -> Iterator[Live]:
    env = real_env(live_root)
    port = free_port()
    env.set({"portal.port": port, "portal.listen-addr-port": f"127.0.0.1:{port}"})
    env.configure()
    server = Live(env, port)
    yield server
    server.stop()


def test_live_fresh_install_shows_need_auth_everywhere(live: Live) -> None:
    live.start()
    for path in ("/", "/pun/sys/dashboard", "/nginx/stop"):
        status, headers, _ = live.get(path)
        # Upstream's need_auth vhost answers every URL with a permanent redirect.
        assert status == 301 and headers["location"].endswith("/public/need_auth.html"), (path, status, headers)
    status, _, body = live.get("/public/need_auth.html")
    assert status == 200 and "nobody can sign in" in body


def basic_users(live: Live) -> dict[str, str]:
    htpasswd = live.env.root / "htpasswd"
    digest = base64.b64encode(hashlib.sha1(b"wonderland").digest()).decode()
    htpasswd.write_text(f"alice:{{SHA}}{digest}\n")
    htpasswd.chmod(0o644)
    return {"portal.auth.type": "basic", "portal.auth.basic.user-file": str(htpasswd)}


def test_live_maintenance_redirects_all_but_the_allowlist(live: Live) -> None:
    """Upstream's mechanism: while the flag file exists, a redirect to the maintenance page;
    the flag is read per request, so switching it needs no reload."""
    live.env.set({**basic_users(live), "portal.maintenance.enabled": True, "portal.maintenance.allowlist": "10.9.9.9"})
    live.env.configure()
    live.start()
    status, headers, _ = live.get("/pun/sys/dashboard")
    assert status == 302 and headers["location"].endswith("/public/maintenance/index.html")
    status, _, body = live.get("/public/maintenance/index.html")
    assert status == 200 and "down for maintenance" in body
    live.env.set({"portal.maintenance.enabled": False})
    applied = live.env.configure()
    assert not applied.restarted  # the flag file went; Apache was not touched
    assert live.get("/pun/sys/dashboard")[0] == 401
    live.env.set({"portal.maintenance.enabled": True, "portal.maintenance.allowlist": "127.0.0.0/8"})
    live.env.configure()
    live.stop()
    live.start()
    assert live.get("/pun/sys/dashboard")[0] == 401  # allowlisted: the portal, which asks to log in


def test_live_basic_auth_guards_the_portal_routes_but_not_public(live: Live) -> None:
    live.env.set(basic_users(live))
    live.env.configure()
    live.start()
    good = {"Authorization": "Basic " + base64.b64encode(b"alice:wonderland").decode()}
    bad = {"Authorization": "Basic " + base64.b64encode(b"alice:queen").decode()}
    for path in ("/pun/sys/dashboard", "/nginx/stop", "/node/c1.example.edu/8080/", "/rnode/c1.example.edu/8080/"):
        assert live.get(path)[0] == 401, path
        assert live.get(path, bad)[0] == 401, path
        # Past the login, mod_ood_proxy's Lua handles it (here it cannot map or start a PUN).
        assert live.get(path, good)[0] != 401, path
    assert live.get("/public/need_auth.html")[0] == 200


def test_live_changes_reload_gracefully_and_refuse_no_request(live: Live) -> None:
    """Ten portal changes back to back while a client asks every 10 ms: the hook signals
    Apache (graceful), never restarts it through snapd, and no request goes unanswered."""
    import threading

    live.env.set(basic_users(live))  # the full vhost, with the canonical-host redirect
    live.env.configure()
    live.start()
    assert live.proc is not None
    pid_file = live.env.paths.apache_pid_file
    deadline = time.monotonic() + 10
    while not (pid_file.exists() and pid_file.read_text().strip() == str(live.proc.pid)):
        assert time.monotonic() < deadline, "Apache wrote no pid file"
        time.sleep(0.1)
    live.env.snapctl.restarts.clear()  # the fixture configured before Apache ran
    answers: list[int] = []
    failures: list[str] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                answers.append(live.get("/public/need_auth.html")[0])
            except OSError as error:
                failures.append(repr(error))
            time.sleep(0.01)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        for n in range(10):
            live.env.set({"portal.servername": f"portal{n}.example.edu"})
            applied = live.env.configure()
            assert applied.portal_changed and applied.restarted
    finally:
        time.sleep(0.5)
        stop.set()
        thread.join(10)
    assert live.env.snapctl.restarts == []  # signalled directly, no snapd restart queued
    assert live.proc.poll() is None, "Apache's parent exited"
    # 200, or 301 to the servername of the moment (other host names are redirected to it).
    assert failures == [] and answers and set(answers) <= {200, 301}, (failures[:3], sorted(set(answers)))
    deadline = time.monotonic() + 10
    while live.get("/x", {"Host": "other.example.edu"})[1].get("location", "").find("portal9.example.edu") < 0:
        assert time.monotonic() < deadline, "the last servername never took effect"
        time.sleep(0.2)
