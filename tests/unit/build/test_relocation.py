"""snapbuild.build.relocation: the relocation test's checks, its minimal root and its verdict (the
run itself needs a built snap and root; `invoke test` runs it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from snapbuild.build import relocation
from snapbuild.errors import ToolError


def test_every_check_runs_the_snap_from_its_unrelated_path() -> None:
    names = [check.name for check in relocation.CHECKS]
    assert len(names) == len(set(names))
    for check in relocation.CHECKS:
        assert relocation.SNAP_AT in check.command and check.expect, check.name
    assert not relocation.SNAP_AT.startswith("/snap/")  # neither /snap/ondemand nor the prime dir


def test_the_apache_configs_load_modules_from_the_relocated_snap() -> None:
    conf = relocation.HTTPD_CONF.format(snap=relocation.SNAP_AT)
    modules = [line.split()[-1] for line in conf.splitlines() if line.startswith("LoadModule")]
    assert modules and all(m.startswith(f"{relocation.SNAP_AT}/apache/modules/") for m in modules)
    lua = relocation.LUA_CONF.format(snap=relocation.SNAP_AT, triplet="aarch64-linux-gnu")
    assert f"LuaPackageCPath {relocation.SNAP_AT}/usr/lib/aarch64-linux-gnu/lua/5.3/?.so" in lua
    assert "LuaMapHandler ^/check$ /tmp/check.lua" in lua


def test_it_needs_root_and_its_tools(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(relocation.os, "geteuid", lambda: 1000)
    with pytest.raises(ToolError, match="needs root"):
        relocation.run_checks(tmp_path / "x.snap")
    monkeypatch.setattr(relocation.os, "geteuid", lambda: 0)
    monkeypatch.setattr(relocation.shutil, "which", lambda tool: None if tool == "unshare" else f"/usr/bin/{tool}")
    with pytest.raises(ToolError) as raised:
        relocation.run_checks(tmp_path / "x.snap")
    assert raised.value.brief == "relocation test: unshare is missing" and "util-linux" in raised.value.resolution


def test_failures_are_listed_with_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(relocation, "run_checks", lambda snap: ["Node.js: exit 127, missing ['node 22.']: not found"])
    with pytest.raises(ToolError) as raised:
        relocation.relocation_test(Path("ondemand.snap"))
    assert raised.value.brief.startswith("relocation test: 1 stack(s) do not run from /relocated/ondemand")
    assert raised.value.details == "  1. Node.js: exit 127, missing ['node 22.']: not found"
    assert "rpath $ORIGIN" in raised.value.resolution
    monkeypatch.setattr(relocation, "run_checks", lambda snap: [])
    relocation.relocation_test(Path("ondemand.snap"))
    assert f"all {len(relocation.CHECKS)} stacks run from /relocated/ondemand" in capsys.readouterr().err


@pytest.mark.skipif(
    not shutil.which("dpkg") or not shutil.which("ldd"), reason="needs dpkg and ldd (a Debian-like host)"
)
def test_the_root_holds_the_c_library_and_the_host_tools_only(tmp_path: Path) -> None:
    root = tmp_path / "root"
    relocation.make_root(root)
    for tool in ("sh", "sed", "cat"):
        found = shutil.which(tool, path="/usr/bin:/bin")
        assert (root / found.lstrip("/")).exists(), tool
    assert not (root / "usr" / "bin" / "python3").exists() and not (root / "usr" / "bin" / "apt").exists()
    assert "nobody:x:65534" in (root / "etc" / "passwd").read_text()
    assert (root / "tmp").stat().st_mode & 0o7777 == 0o1777
    assert (root / "var" / "snap" / "ondemand" / "common").is_dir()
    if os.path.islink("/lib"):  # merged /usr: the root's /lib is the same kind of link
        assert os.readlink(root / "lib") == os.readlink("/lib")
