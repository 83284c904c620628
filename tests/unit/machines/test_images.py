"""Pure parts of snapbuild.machines.images: recipes, cache keys, placeholder snaps, parsing."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from snapbuild.errors import ToolError
from snapbuild.machines import images
from snapbuild.recipe.project import DEFAULT

CERTS = {"custom-ca.crt": b"-----BEGIN CERTIFICATE-----\nAAA\n"}
INFO = "VERSION=2.57.6-1+deb12u1+b2\nSNAPD_APPARMOR_REEXEC=1\n"


def make(kind: str = "build", bridge: str = "10.147.11.1", certs: dict[str, bytes] = CERTS) -> images.Recipe:
    return images.recipe(kind, bridge_ip=bridge, ca_certs=certs)


def test_key_is_stable_for_a_fixed_recipe() -> None:
    # Pinned: a change here means every cached image is rebuilt; bump RECIPE_FORMAT instead
    # of changing the fingerprint's shape by accident.
    fixed = images.Recipe(
        "build",
        ("a", "b"),
        ("c",),
        (images.BakedFile("/etc/x", b"x"),),
        ("u.service",),
        ("m.service",),
        ("/etc/hostname",),
    )
    assert fixed.fingerprint()["format"] == images.RECIPE_FORMAT == 1
    assert fixed.key() == "c55cf20387c79ff08bc9248ff598cddf9ba188eeb42ea62401049cef0b4600f8"
    assert (
        fixed.key()
        == images.Recipe(
            "build",
            ("b", "a", "a"),
            ("c",),
            (images.BakedFile("/etc/x", b"x"),),
            ("u.service",),
            ("m.service",),
            ("/etc/hostname",),
        ).key()
    )


def test_key_ignores_order_and_metadata_properties() -> None:
    base = make()
    shuffled = images.Recipe(
        base.kind,
        tuple(reversed(base.base_packages)),
        tuple(reversed(base.packages)),
        tuple(reversed(base.files)),
        base.enable,
        tuple(reversed(base.mask)),
        base.remove,
        properties={"anything": "else"},
    )
    assert shuffled.key() == base.key()
    assert make().key() == base.key()  # deterministic across calls


@pytest.mark.parametrize(
    "change",
    [
        lambda r: images.Recipe(r.kind, r.base_packages, r.packages + ("vim",), r.files, r.enable, r.mask, r.remove),
        lambda r: images.Recipe(
            r.kind,
            r.base_packages,
            r.packages,
            r.files + (images.BakedFile("/etc/y", b""),),
            r.enable,
            r.mask,
            r.remove,
        ),
        lambda r: images.Recipe(
            r.kind,
            r.base_packages,
            r.packages,
            tuple(images.BakedFile(f.path, f.content, 0o600) for f in r.files),
            r.enable,
            r.mask,
            r.remove,
        ),
        lambda r: images.Recipe(r.kind, r.base_packages, r.packages, r.files, r.enable, r.mask + ("x",), r.remove),
    ],
)
def test_key_changes_with_the_recipe(change) -> None:  # type: ignore[no-untyped-def]
    assert change(make()).key() != make().key()


def test_key_depends_on_host_facts_baked_in() -> None:
    assert make(bridge="10.173.11.1").key() != make().key()
    assert make(certs={}).key() != make().key()
    assert make(certs={"custom-ca.crt": b"other"}).key() != make().key()


def test_alias_names_kind_and_hash() -> None:
    recipe = make("test")
    assert recipe.alias == f"ondemand-test-{recipe.key()[:8]}"
    assert make("build").alias != recipe.alias


def test_unknown_kind_is_a_tool_error() -> None:
    with pytest.raises(ToolError) as err:
        make("vm")
    assert "build, test" in err.value.resolution


def files_of(recipe: images.Recipe) -> dict[str, bytes]:
    return {f.path: f.content for f in recipe.files}


def test_common_files() -> None:
    files = files_of(make())
    assert files["/etc/resolv.conf"] == b"nameserver 10.147.11.1\n"
    assert files["/etc/machine-id"] == b""
    assert b"DHCP=ipv4" in files["/etc/systemd/network/10-eth0.network"]
    assert files["/usr/local/share/ca-certificates/custom-ca.crt"] == CERTS["custom-ca.crt"]
    sources = files["/etc/apt/sources.list"].decode()
    assert "deb-src http://deb.debian.org/debian bookworm main" in sources
    assert "deb http://deb.debian.org/debian-security bookworm-security main" in sources
    test_sources = files_of(make("test"))["/etc/apt/sources.list"].decode()
    assert "deb-src" not in test_sources and "deb http://deb.debian.org/debian bookworm main" in test_sources


def test_build_recipe() -> None:
    recipe = make("build")
    for pkg in ("python3-apt", "build-essential", "patchelf", "snapd", "dpkg-dev", "git"):
        assert pkg in recipe.packages
    assert {"systemd", "systemd-sysv", "dbus", "ca-certificates"} <= set(recipe.base_packages)
    assert "snapd" not in recipe.base_packages  # debootstrap cannot resolve it
    assert {"systemd-binfmt.service", "snapd.service", "snapd.socket"} <= set(recipe.mask)
    assert "/etc/hostname" in recipe.remove
    assert "/var/lib/apt/lists/*_*" not in recipe.remove  # apt-get source works at once


def test_test_recipe_has_sshd_and_store_stub() -> None:
    recipe = make("test")
    files = files_of(recipe)
    assert {"openssh-server", "squashfuse", "fuse3", "snapd", "dbus-user-session"} <= set(recipe.packages)
    assert b"PermitRootLogin yes" in files["/etc/ssh/sshd_config.d/50-root-login.conf"]
    dropin = files["/etc/systemd/system/snapd.service.d/10-store-stub.conf"].decode()
    assert f"SNAPPY_FORCE_API_URL=http://127.0.0.1:{images.STORE_STUB_PORT}/" in dropin
    assert "store-stub.service" in recipe.enable
    assert "snapd.service" not in recipe.mask
    assert {"/etc/ssh/ssh_host_*", "/var/lib/apt/lists/*_*"} <= set(recipe.remove)
    compile(files["/usr/local/lib/ondemand-snap/store-stub.py"], "store-stub.py", "exec")


def test_debootstrap_argv() -> None:
    argv = images.debootstrap_argv(make(), Path("/w/rootfs"), Path("/c/debs"))
    assert argv[:3] == ["debootstrap", "--variant=minbase", "--components=main"]
    assert "--include=ca-certificates,dbus,iproute2,systemd,systemd-sysv" in argv
    assert argv[-4:] == ["--cache-dir=/c/debs", "bookworm", "/w/rootfs", "http://deb.debian.org/debian"]


def test_chroot_steps_order() -> None:
    labels = [label for label, _ in images._chroot_steps(make("build"))]
    assert labels[0] == "apt-get update" and labels[1].startswith("apt-get install")
    assert labels[2:] == ["update-ca-certificates", "enable units", "mask units"]


def test_metadata() -> None:
    data = yaml.safe_load(images.metadata(make(), {"ondemand.snapd-info": INFO}))
    assert data["properties"]["ondemand.recipe"] == make().key()
    assert data["properties"]["ondemand.snapd-info"] == INFO
    assert data["properties"]["release"] == "bookworm"


def test_cache_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert images.cache_dir() == tmp_path / "ondemand-snap"
    assert images.cache_dir().is_dir()
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert images.cache_dir() == tmp_path / "home/.cache/ondemand-snap"


def test_snapd_version() -> None:
    assert images.snapd_version(INFO) == "2.57.6-1+deb12u1+b2"
    assert images.snapd_version("VERSION='1.0'\n") == "1.0"
    with pytest.raises(ToolError):
        images.snapd_version("SNAPD_APPARMOR_REEXEC=1\n")


def test_placeholder_trees() -> None:
    trees = images.placeholder_trees(INFO)
    assert list(trees) == ["snapd", "core24"]  # install order
    snapd = yaml.safe_load(trees["snapd"]["meta/snap.yaml"] or "")
    assert snapd == {
        "name": "snapd",
        "version": "2.57.6-1+deb12u1+b2",
        "type": "snapd",
        "summary": snapd["summary"],
        "description": snapd["description"],
    }
    assert trees["snapd"]["usr/lib/snapd/info"] == INFO
    core = trees["core24"]
    assert yaml.safe_load(core["meta/snap.yaml"] or "")["type"] == "base"
    assert core["usr"] is None and core["etc"] is None


def test_placeholder_key_follows_snapd_info() -> None:
    assert images.placeholder_key(INFO) == images.placeholder_key(INFO)
    assert images.placeholder_key(INFO) != images.placeholder_key(INFO.replace("57", "58"))


def test_installed_snaps() -> None:
    listing = (
        "Name    Version  Rev  Tracking  Publisher  Notes\n"
        "core24  24       x1   -         -          base\n"
        "snapd   2.57.6   x1   -         -          snapd\n"
    )
    assert images.installed_snaps(listing) == {"core24", "snapd"}
    assert images.installed_snaps("No snaps are installed yet. Try 'snap install hello-world'.") == set()
    assert images.installed_snaps("") == set()


def test_mounts_under() -> None:
    info = (
        "22 1 0:21 / /proc rw - proc proc rw\n"
        "90 1 0:50 / /c/work/x/rootfs/proc rw - proc proc rw\n"
        "91 1 8:1 /c/debs /c/work/x/rootfs/var/cache/apt/archives rw - ext4 /dev/vda rw\n"
        "92 1 8:1 / /c/work/xy rw - ext4 /dev/vda rw\n"
    )
    assert images.mounts_under(Path("/c/work/x"), info) == [
        "/c/work/x/rootfs/proc",
        "/c/work/x/rootfs/var/cache/apt/archives",
    ]
    assert images.mounts_under(Path("/c/other"), info) == []


def test_the_test_images_own_files_are_package_data_with_the_port_filled_in() -> None:
    data = DEFAULT.root / "snapbuild" / "machines" / "data"
    assert sorted(images.TEST_IMAGE_FILES.values()) == sorted(p.name for p in data.iterdir())
    files = files_of(make("test"))
    for path, name in images.TEST_IMAGE_FILES.items():
        text = files[path].decode()
        assert "@STORE_STUB_PORT@" not in text and text == images.data_file(name)
        assert text.replace(str(images.STORE_STUB_PORT), "@STORE_STUB_PORT@") == (data / name).read_text()
    assert f'("127.0.0.1", {images.STORE_STUB_PORT})' in images.data_file("store-stub.py.in")
    # The unit runs the stub where the image has it, ready only once the port is bound.
    unit = images.data_file("store-stub.service")
    stub = next(path for path, name in images.TEST_IMAGE_FILES.items() if name == "store-stub.py.in")
    assert f"ExecStart=/usr/bin/python3 {stub}\n" in unit and "Type=notify" in unit
    assert "store-stub.py" not in "".join(files_of(make("build")))  # the build image has none of them


def test_the_store_stub_answers_404_and_notifies_systemd(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys
    import urllib.error
    import urllib.request

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stub = tmp_path / "store-stub.py"
    stub.write_text(images.data_file("store-stub.py.in").replace(str(images.STORE_STUB_PORT), str(port)))
    notify = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(notify))
        listener.settimeout(20)
        server = subprocess.Popen([sys.executable, str(stub)], env={"NOTIFY_SOCKET": str(notify)})
        try:
            assert listener.recv(64) == b"READY=1"
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never through a proxy
            with pytest.raises(urllib.error.HTTPError) as answer:
                direct.open(f"http://127.0.0.1:{port}/v2/snaps/info/core24", timeout=10)
            assert answer.value.code == 404
        finally:
            server.kill()
            server.wait()
