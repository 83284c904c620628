"""Pure parts of `invoke try` (snapbuild.build.devtry): names, command lines, argument checks, and
the container bookkeeping against a fake lxc."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from snapbuild.build import backends, devtry
from snapbuild.errors import ToolError
from snapbuild.machines import lxd
from snapbuild.recipe.project import DEFAULT
from tests.unit.build.test_backends import _plan


def test_builder_name_is_not_the_build_container() -> None:
    assert devtry.builder_name("ondemand-build-1234abcd") == "ondemand-build-1234abcd-try-builder"
    assert devtry.builder_name("ondemand-build-1234abcd") != backends.build_container_name("ondemand-build-1234abcd")


@pytest.mark.parametrize("name", ["ondemand-try-dev", "a", "x" * 63])
def test_valid_container_names_pass(name: str) -> None:
    assert devtry.check_container_name(name) == name


@pytest.mark.parametrize("name", ["", "1abc", "has space", "under_score", "trailing-", "double--hyphen", "x" * 64])
def test_invalid_container_names_are_refused_with_an_example(name: str) -> None:
    with pytest.raises(ToolError) as err:
        devtry.check_container_name(name)
    assert "not a valid LXD container name" in err.value.brief
    assert "ondemand-try-dev" in err.value.resolution


def test_a_build_container_is_not_a_test_container() -> None:
    with pytest.raises(ToolError) as err:
        devtry.check_container_name("ondemand-build-1234abcd-builder")
    assert "build container" in err.value.brief


def test_remote_work_is_the_work_dir_invoke_build_uses() -> None:
    without = frozenset({"rails-apps"})
    assert devtry.remote_work(DEFAULT, "archive", without) == "/root/work/archive-without-rails-apps"
    assert devtry.remote_work(DEFAULT, "archive", without).endswith(backends.work_dir(DEFAULT, "archive", without).name)


def test_rootfs_path_in_a_dir_pool() -> None:
    assert devtry.rootfs_path("/var/lib/lxd/storage-pools/default", "b") == Path(
        "/var/lib/lxd/storage-pools/default/containers/b/rootfs"
    )


def test_tried_dir_per_method() -> None:
    assert devtry.tried_dir("mount") == "/var/lib/ondemand-try/work/prime"
    assert devtry.tried_dir("copy") == "/var/lib/ondemand-try/prime"
    with pytest.raises(ToolError) as err:
        devtry.tried_dir("rsync")
    assert "mount, copy" in err.value.resolution


def test_device_is_read_only_at_the_mount_point() -> None:
    argv = devtry.device_add_argv("ondemand-try-dev", Path("/pool/containers/b/rootfs/root/work/w"))
    assert argv == [
        "config",
        "device",
        "add",
        "ondemand-try-dev",
        devtry.DEVICE,
        "disk",
        "source=/pool/containers/b/rootfs/root/work/w",
        f"path={devtry.MOUNT_POINT}",
        "readonly=true",
    ]


def test_snap_try_is_classic() -> None:
    assert devtry.snap_try_argv("/d/prime") == ["snap", "try", "--classic", "/d/prime"]


def test_choose_method_shares_only_host_directory_pools() -> None:
    assert devtry.choose_method(False, "dir") == "mount"
    assert devtry.choose_method(False, "btrfs") == "mount"
    assert devtry.choose_method(False, "zfs") == "copy"
    assert devtry.choose_method(True, "dir") == "copy"


def test_prime_argv_runs_the_module_with_the_build_options(tmp_path: Path) -> None:
    plan = _plan({"nginx": tmp_path / "nginx.tar.gz"}, tmp_path)
    argv = devtry.prime_argv(backends.inner_options(DEFAULT, plan))
    assert argv == [
        "/root/venv/bin/python",
        "-m",
        "snapbuild.build.devtry",
        "prime",
        "--source",
        "archive",
        "--work-dir",
        "/root/work/archive-without-ondemand-rails-apps",
        "--without",
        "ondemand,rails-apps",
        "--source-cache",
        backends.CONTAINER_CACHE,
    ]


def test_main_parses_the_inner_command(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(devtry, "build_prime", lambda *args: calls.append(args) or Path("/w/prime"))
    code = devtry.main(
        ["prime", "--source", "archive", "--work-dir", "/w", "--without", "a, b", "--source-cache", "/c"]
    )
    assert code == 0
    assert calls == [(DEFAULT, "archive", frozenset({"a", "b"}), Path("/w"), "/c")]


def test_main_reports_a_tool_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def fails(*args: object) -> Path:
        raise ToolError("part python: build failed", resolution="read its log")

    monkeypatch.setattr(devtry, "build_prime", fails)
    assert devtry.main(["prime", "--source", "archive", "--work-dir", "/w"]) == 1
    assert "error: part python: build failed" in capsys.readouterr().err


def test_next_steps_say_how_to_check_update_and_leave() -> None:
    tried = devtry.Tried("ondemand-try-dev", "/var/lib/ondemand-try/work/prime", "x2", "b-try-builder", False)
    text = devtry.next_steps(tried, ["configure-rollback", "install"], "/var/tmp/ondemand-checks")
    assert "lxc exec ondemand-try-dev -- /var/tmp/ondemand-checks/install.sh" in text
    assert "invoke try --container ondemand-try-dev" in text
    assert "lxc exec ondemand-try-dev -- snap remove --purge ondemand" in text
    assert "lxc delete --force ondemand-try-dev" in text
    assert "lxc delete --force b-try-builder" in text
    assert "tests/spread/main/NAME" in text
    assert "not refresh.sh" in text
    assert "x2" in text


# --------------------------------------------------------------------------- against a fake lxc


class FakeLxc:
    """Records lxc calls; answers `config get` and `stat` from its state."""

    def __init__(self, containers: dict[str, dict[str, str]], inode: str = "") -> None:
        self.containers = containers
        self.inode = inode
        self.calls: list[tuple[str, ...]] = []

    def exists(self, name: str) -> bool:
        return name in self.containers

    def lxc(self, *args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        self.calls.append(args)
        out = self.containers.get(args[2], {}).get(args[3], "") if args[:2] == ("config", "get") else ""
        return subprocess.CompletedProcess(["lxc", *args], 0, out + "\n", "")

    def exec_(self, name: str, argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        self.calls.append(("exec", name, *argv))
        return subprocess.CompletedProcess(argv, 0 if self.inode else 1, self.inode + "\n", "")

    def query(self, path: str) -> dict[str, object]:
        return {"devices": {devtry.DEVICE: {}}} if self.inode else {"devices": {}}


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeLxc:
    lxc = FakeLxc({"theirs": {}, "mine": {devtry.MARK: "1"}})
    for attr in ("exists", "lxc", "exec_", "query"):
        monkeypatch.setattr(lxd, attr, getattr(lxc, attr))
    monkeypatch.setattr(lxd, "wait_ready", lambda name, timeout=180.0: "10.0.0.2")
    return lxc


def test_a_container_try_did_not_make_is_refused(fake: FakeLxc) -> None:
    with pytest.raises(ToolError) as err:
        devtry.ensure_test_container("theirs")
    assert "not made by `invoke try`" in err.value.brief
    assert not [c for c in fake.calls if c[0] != "config"]  # never started, stopped or changed


def test_a_marked_container_is_started_and_kept(fake: FakeLxc) -> None:
    assert devtry.ensure_test_container("mine") is False
    assert ("start", "mine") in fake.calls


def test_share_work_dir_is_left_alone_when_it_shows_the_same_directory(fake: FakeLxc, tmp_path: Path) -> None:
    fake.inode = str(os.stat(tmp_path).st_ino)
    devtry._share_work_dir("mine", tmp_path)
    assert not [c for c in fake.calls if c[:2] == ("config", "device")]


def test_share_work_dir_replaces_a_stale_device(fake: FakeLxc, tmp_path: Path) -> None:
    fake.inode = "1"  # another directory (the builder was recreated)
    devtry._share_work_dir("mine", tmp_path)
    devices = [c for c in fake.calls if c[:2] == ("config", "device")]
    assert devices == [
        ("config", "device", "remove", "mine", devtry.DEVICE),
        tuple(devtry.device_add_argv("mine", tmp_path)),
    ]


def test_share_work_dir_adds_a_missing_device(fake: FakeLxc, tmp_path: Path) -> None:
    devtry._share_work_dir("mine", tmp_path)
    devices = [c for c in fake.calls if c[:2] == ("config", "device")]
    assert devices == [tuple(devtry.device_add_argv("mine", tmp_path))]


def test_try_task_refuses_an_unknown_source(capsys: pytest.CaptureFixture[str]) -> None:
    import tasks

    with pytest.raises(SystemExit) as exit_:
        tasks.try_.body(None, source="debian")
    assert exit_.value.code == 2  # a usage error: nothing was tried
    assert "--source debian: unknown" in capsys.readouterr().err


def test_copy_tree_between_is_one_tar_stream_from_container_to_container(monkeypatch: pytest.MonkeyPatch) -> None:
    piped = []
    monkeypatch.setattr(lxd, "_pipe", lambda producer, consumer, what: piped.append((producer, consumer, what)))
    lxd.copy_tree_between("b", "/root/work/w/prime", "t", devtry.COPY_DIR)
    assert piped == [
        (
            lxd.exec_argv("b", lxd.tar_create("/root/work/w/prime")),
            lxd.exec_argv("t", lxd.tar_extract(devtry.COPY_DIR)),
            f"copying b:/root/work/w/prime to t:{devtry.COPY_DIR}",
        )
    ]


def test_a_second_try_waits_for_the_builder_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import fcntl
    import threading

    from snapbuild.machines import images

    monkeypatch.setattr(images, "cache_dir", lambda: tmp_path)
    entered = threading.Event()

    def second() -> None:
        with devtry._locked_builder("b-try-builder"):
            entered.set()

    with open(tmp_path / "b-try-builder.lock", "a") as first:
        fcntl.flock(first, fcntl.LOCK_EX)
        waiter = threading.Thread(target=second)
        waiter.start()
        assert not entered.wait(0.5)  # held by the first: the second waits
        fcntl.flock(first, fcntl.LOCK_UN)
    waiter.join(5)
    assert entered.is_set()
    assert "another `invoke try` is building in b-try-builder" in capsys.readouterr().err


def test_refuse_foreign_lets_a_marked_container_through(fake: FakeLxc) -> None:
    devtry.refuse_foreign("mine")
    with pytest.raises(ToolError) as err:
        devtry.refuse_foreign("theirs")
    assert "nothing was done" in err.value.brief
