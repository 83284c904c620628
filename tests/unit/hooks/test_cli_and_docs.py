"""`python3 -m ondemand_hooks ...` end to end (fake snapctl on PATH), Snapctl, and the docs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hooktest_support import SnapEnv, snapshot

import ondemand_hooks
from ondemand_hooks import docs, model
from ondemand_hooks.errors import HookError
from ondemand_hooks.snapctl import Snapctl

REPO = Path(__file__).resolve().parents[3]
HOOKS_DIR = Path(ondemand_hooks.__file__).resolve().parents[1]


def fake_snapctl(directory: Path, config: dict[str, object], fail: bool = False) -> Path:
    """A `snapctl` executable: `get -d` prints the config, other calls are recorded."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    script = directory / "snapctl"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> "{directory}/calls"\n'
        + ("echo 'error: snapd says no' >&2; exit 1\n" if fail else "")
        + f'if [ "$1" = get ]; then cat "{directory}/config.json"; fi\n'
        + 'if [ "$1" = services ]; then printf "Service Startup Current Notes\\n%s enabled active -\\n" "$2"; fi\n'
    )
    script.chmod(0o755)
    return script


def run_cli(env: SnapEnv, *args: str, config: dict[str, object] | None = None) -> subprocess.CompletedProcess[str]:
    bindir = env.root / "fakebin"
    fake_snapctl(bindir, config or {})
    environ = {
        "PATH": f"{bindir}:{os.environ['PATH']}",
        "PYTHONPATH": str(HOOKS_DIR),
        "SNAP": str(env.paths.snap),
        "SNAP_COMMON": str(env.paths.snap_common),
        "SNAP_DATA": str(env.paths.snap_data),
        "SNAP_REVISION": env.paths.revision,
        "SNAP_NAME": env.paths.name,
    }
    return subprocess.run([sys.executable, "-m", "ondemand_hooks", *args], env=environ, capture_output=True, text=True)


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the hooks refuse to run as non-root")


@needs_root
def test_cli_configure_refuses_bad_values_with_one_line_per_key(env: SnapEnv) -> None:
    before = snapshot(env.root)
    done = run_cli(env, "configure", config={"portal": {"port": 70000, "servername": "a b"}})
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[0].startswith("configuration refused (2 problems; nothing was changed)")
    assert '  portal.port: "70000" is not a port; use a number from 1 to 65535' in lines
    assert any(line.startswith("  portal.servername: ") for line in lines)
    after = snapshot(env.root)
    after = {k: v for k, v in after.items() if not k.startswith("fakebin")}
    assert after == before
    log = env.paths.hooks_log
    assert "portal.port" in log.read_text() and stat.S_IMODE(log.stat().st_mode) == 0o600


@needs_root
def test_cli_configure_applies_and_restarts_through_snapctl(env: SnapEnv) -> None:
    done = run_cli(env, "configure", config={"portal": {"servername": "ondemand.example.edu"}})
    assert done.returncode == 0, done.stderr
    assert "ServerName ondemand.example.edu" in env.paths.portal_conf.read_text()
    recorded = (env.root / "fakebin" / "calls").read_text().splitlines()
    assert recorded == ["get -d portal nginx-stage clusters", "services ondemand.apache", "restart ondemand.apache"]
    assert "configure[" in env.paths.hooks_log.read_text()


@needs_root
def test_cli_update_portal_force_and_usage_errors(env: SnapEnv) -> None:
    env.paths.portal_conf.write_text("# edited\n")
    assert run_cli(env, "update-portal").returncode == 0
    assert env.paths.portal_conf.read_text() == "# edited\n"
    assert run_cli(env, "update-portal", "--force").returncode == 0
    assert "<VirtualHost" in env.paths.portal_conf.read_text()
    assert run_cli(env, "configure", "--force").returncode == 2
    assert run_cli(env, "bogus").returncode == 2


def test_cli_outside_a_snap_names_the_missing_variables() -> None:
    environ = {"PATH": os.environ["PATH"], "PYTHONPATH": str(HOOKS_DIR)}
    done = subprocess.run(
        [sys.executable, "-m", "ondemand_hooks", "configure"], env=environ, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "SNAP, SNAP_COMMON, SNAP_DATA, SNAP_REVISION, SNAP_NAME not set" in done.stderr


def test_snap_hook_wrappers_exec_the_package() -> None:
    for hook in ("install", "configure", "post-refresh", "remove"):
        script = REPO / "snap" / "hooks" / hook
        assert script.stat().st_mode & 0o111, hook
        lines = [line for line in script.read_text().splitlines() if line and not line.startswith("#")]
        assert lines == [f'exec "$SNAP/bin/ondemand-python" -m ondemand_hooks {hook}'], hook
        assert script.read_text().startswith("#!/bin/sh\n")


# --- Snapctl against an executable -------------------------------------------------------------


def test_snapctl_runs_the_commands_it_should(tmp_path: Path) -> None:
    exe = fake_snapctl(tmp_path, {"portal": {"port": 443}})
    ctl = Snapctl(str(exe))
    assert ctl.get("portal") == {"portal": {"port": 443}}
    ctl.set({"portal.port": 8080, "portal.servername": "a.example.edu"})
    ctl.unset("portal.port")
    ctl.restart("ondemand.apache")
    statuses = ctl.services("ondemand.apache")
    assert [(s.name, s.enabled, s.active) for s in statuses] == [("ondemand.apache", True, True)]
    assert (tmp_path / "calls").read_text().splitlines() == [
        "get -d portal",
        'set portal.port=8080 portal.servername="a.example.edu"',
        "unset portal.port",
        "restart ondemand.apache",
        "services ondemand.apache",
    ]


def test_snapctl_failure_is_a_hook_error(tmp_path: Path) -> None:
    exe = fake_snapctl(tmp_path, {}, fail=True)
    with pytest.raises(HookError, match="snapd says no"):
        Snapctl(str(exe)).restart("ondemand.apache")
    with pytest.raises(HookError, match="not found"):
        Snapctl(str(tmp_path / "missing")).get("portal")
    with pytest.raises(HookError, match="at least one key"):
        Snapctl(str(exe)).get()  # snapd refuses a bare `get`, so the class does too


# --- docs/configuration.md -------------------------------------------------------------------


def test_configuration_doc_documents_every_key() -> None:
    text = docs.render_configuration_doc()
    for key in model.KEYS:
        section = text.split(f"### `{key.name}`", 1)[1].split("### ", 1)[0]
        assert "- type: " in section and "- default: " in section and "- example: `snap set ondemand " in section
        assert key.description.split(".")[0][:40].replace("|", "\\|") in section


def test_committed_configuration_doc_is_current() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text()
    assert committed == docs.render_configuration_doc(), "regenerate docs/configuration.md"


@needs_root
def test_cli_reports_an_internal_error_as_a_bug_with_its_traceback(env: SnapEnv) -> None:
    """A broken invariant (here: a generator that claims it wrote a vhost and left none) is
    not something the admin can fix: logged with the traceback, reported as a bug."""
    (env.paths.snap / "sbin" / "update_ood_portal").write_text('#!/bin/sh\nrm -f "$APACHE"\nexit 3\n')
    done = run_cli(env, "configure", config={"portal": {"servername": "ondemand.example.edu"}})
    assert done.returncode == 1
    assert "internal error: update_ood_portal left no vhost in its stage" in done.stderr
    assert "Resolution: this is a bug in the ondemand snap" in done.stderr
    assert "Traceback (most recent call last)" in env.paths.hooks_log.read_text()
    assert not list(env.paths.apache_conf_dir.glob(".check-*"))


@needs_root
def test_cli_import_config_dry_run_and_usage_errors(env: SnapEnv, tmp_path: Path) -> None:
    site = tmp_path / "upstream"
    site.mkdir()
    (site / "ood_portal.yml").write_text("servername: ood.example.edu\nerrorlog: '|/usr/bin/logger -t ood'\n")
    before = snapshot(env.root)
    done = run_cli(env, "import-config", "--dry-run", str(site))
    assert done.returncode == 0, done.stderr
    assert "  portal.servername = ood.example.edu" in done.stdout.splitlines()
    assert "dry run: nothing was changed" in done.stdout
    after = {k: v for k, v in snapshot(env.root).items() if not k.startswith("fakebin")}
    assert after == before
    (site / "ood_portal.yml").write_text("servername: [broken\n")
    refused = run_cli(env, "import-config", "--dry-run", str(site))
    assert refused.returncode == 1 and "is not valid YAML" in refused.stderr
    assert run_cli(env, "configure", "--dry-run").returncode == 2
    assert run_cli(env, "update-portal", str(site)).returncode == 2
