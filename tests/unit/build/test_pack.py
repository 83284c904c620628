"""snapbuild.build.pack: meta/ (snap.yaml, hooks, build-info.yaml) for a prime dir, and `snap pack`."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapbuild.build import pack
from snapbuild.build.lifecycle import make_plan
from snapbuild.errors import ToolError
from snapbuild.recipe.project import DEFAULT
from tests.unit.snaps import BOOKWORM, ONLY_STACKS


def test_build_info_gives_the_staged_versions_not_the_part_files(built: tuple[Path, dict]) -> None:
    _, info = built
    assert info["base"] == "core24" and info["build-host"] == "Debian 12 (bookworm)"
    assert info["base-userland"] == "Ubuntu 24.04 (noble)"
    assert "not from Ubuntu 24.04 (noble), the userland of base core24: a local build" in info["userland"]
    python, ruby, apache = info["parts"]["python"], info["parts"]["ruby"], info["parts"]["apache"]
    assert (python["version"], python["declared"], python["upstream-version"]) == ("3.11.2", "3.11", "3.12")
    assert python["version-read-from"] == "usr/bin/python3.11 -V: Python 3.11.2"
    assert python["differs"] == [
        "parts/python.yaml upstream.version is 3.12 (the release recipe, on core24: Ubuntu "
        "24.04 (noble)); this archive build has 3.11.2 from Debian 12 (bookworm)'s archive"
    ]
    assert (ruby["version"], ruby["declared"], ruby["upstream-version"]) == ("3.1.2", "3.1", "3.2")
    assert ruby["version-read-from"].startswith("usr/bin/ruby --version: ruby 3.1.2p20")
    assert ruby["stage-packages"]["ruby3.1"] == "3.1.7+really3.1.2-0+deb12u1"
    assert apache["version"] == "2.4.71" and apache["declared"] == "2.4" and "differs" not in apache
    assert (
        apache["from"] == "host-archive"
        and apache["source"] == "packages from the build host's archive, Debian 12 (bookworm)"
    )
    assert apache["archive"] == {
        "distribution": "Debian 12 (bookworm)",
        "suites": {"bookworm": ["libapr1"], "bookworm-security": ["apache2-bin", "libssl3"]},
    }
    assert apache["libraries-from"] == "Debian 12 (bookworm), not core24's Ubuntu 24.04 (noble)"
    wrappers = info["parts"]["wrappers"]
    assert wrappers["version"] == "1" and "this repository's own files" in wrappers["version-read-from"]
    assert "stage-packages" not in wrappers


def test_snap_yaml_drops_what_snapcraft_consumes_and_keeps_snapds_order() -> None:
    metadata = {
        "apps": {"a": {"command": "bin/a"}},
        "name": "ondemand",
        "platforms": {"amd64": None},
        "parts": {},
        "base": "core24",
        "summary": "s",
        "hooks": {"install": None},
        "adopt-info": "x",
    }
    data = pack.snap_yaml(metadata, "4.2.3", "arm64")
    assert list(data) == ["name", "version", "summary", "base", "architectures", "apps", "hooks"]
    assert data["version"] == "4.2.3" and data["architectures"] == ["arm64"] and data["hooks"] == {"install": {}}


def test_a_promise_the_prime_dir_does_not_keep_is_refused_before_packing(tmp_path: Path) -> None:
    plan = make_plan(DEFAULT, "archive", ONLY_STACKS, host=BOOKWORM)
    promised = [(name, path) for name in plan.included for path in plan.parts[name].provides]
    assert len(promised) > 1
    prime = tmp_path / "prime"
    for _name, path in promised[1:]:
        (prime / path).parent.mkdir(parents=True, exist_ok=True)
        (prime / path).write_text("")
    (prime / promised[1][1]).unlink()
    (prime / promised[1][1]).symlink_to("elsewhere")  # a link counts: it may point into the host's tree
    name, path = promised[0]
    expected = (
        f"parts/{name}.yaml: provides {path!r} but the part did not put it in prime/; fix its build or the promise"
    )
    assert pack.missing_provides(plan, prime) == [expected]
    with pytest.raises(ToolError) as raised:
        pack.write_meta(DEFAULT, plan, prime, "4.2.3", "amd64")
    assert "nothing was packed" in raised.value.brief and expected in raised.value.details
    assert not (prime / "meta").exists()


FAKE_SNAP = """#!/bin/sh
# snap pack --compression=C --filename=NAME PRIME DIR
if [ -n "$SNAP_FAILS" ]; then echo "error: cannot validate snap: bad" >&2; exit 1; fi
echo "packed $4" > "$5/${3#--filename=}"
"""


@pytest.fixture
def fake_snap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "snap").write_text(FAKE_SNAP)
    (tools / "snap").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:/usr/bin:/bin")
    return tools


def test_snap_pack_replaces_the_target_only_when_packed(
    tmp_path: Path, fake_snap: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out" / "ondemand_1_amd64.snap"
    assert pack.snap_pack(tmp_path / "prime", target) == target
    assert target.read_text() == f"packed {tmp_path / 'prime'}\n"
    monkeypatch.setenv("SNAP_FAILS", "1")
    with pytest.raises(ToolError) as raised:
        pack.snap_pack(tmp_path / "other", target)
    assert raised.value.brief == f"snap pack refused {tmp_path / 'other'}: error: cannot validate snap: bad"
    assert "ondemand_1_amd64.snap was left as it was" in raised.value.resolution
    assert target.read_text() == f"packed {tmp_path / 'prime'}\n"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no scratch left behind


def test_snap_pack_needs_snapds_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolError, match="`snap` is not installed"):
        pack.snap_pack(tmp_path / "prime", tmp_path / "x.snap")
