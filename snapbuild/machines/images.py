"""Locally built, cached LXD images of Debian 12 for building and testing the snap.

Nothing comes from an image server (none is reachable from CI): each image is
debootstrap'd here and imported with `lxc image import`. An image is described by a
Recipe (packages, files baked in, units to enable/mask); its hash is the cache key and
part of the alias, so an image is rebuilt exactly when its recipe changes.

Kinds:
  build  runs the craft-parts lifecycle (compilers, python3-apt, snapd for `snap pack`).
  test   runs snapd for real (spread's targets): sshd for spread, a store stub so snapd
         never waits on the unreachable store.

`placeholder_snaps()` builds the two local snaps snapd insists on before it installs ours
(`snapd` and `core24`), matched to the test image's snapd version.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import IO

import yaml

from snapbuild import cli
from snapbuild.errors import ToolError
from snapbuild.machines import lxd
from snapbuild.progress import say, step
from snapbuild.recipe.userland import LXD_BUILD_HOST

SUITE = LXD_BUILD_HOST.codename
MIRROR = "http://deb.debian.org/debian"
SECURITY_MIRROR = "http://deb.debian.org/debian-security"
# Bump when the build steps change in a way the Recipe fields do not capture.
RECIPE_FORMAT = 1
PLACEHOLDER_FORMAT = 1
STORE_STUB_PORT = 8181
HOST_CA_DIR = Path("/usr/local/share/ca-certificates")
KINDS = ("build", "test")

# debootstrap installs only a bootable base; apt in the chroot installs the rest (its
# resolver copes with alternatives such as snapd's dbus dependency, debootstrap's not).
BASE_PACKAGES = ("systemd", "systemd-sysv", "dbus", "ca-certificates", "iproute2")
BUILD_PACKAGES = (
    "python3",
    "python3-venv",
    "python3-apt",
    "python3-pip",
    "build-essential",
    "patchelf",
    "squashfs-tools",
    "snapd",
    "sudo",
    "git",
    "curl",
    "xz-utils",
    "dpkg-dev",
    "libnss-myhostname",
)
TEST_PACKAGES = (
    "dbus-user-session",
    "udev",
    "procps",
    "squashfs-tools",
    "squashfuse",
    "fuse3",
    "python3",
    "openssh-server",
    "sudo",
    "curl",
    "snapd",
    "libnss-myhostname",
    # The browser check (tests/checks/portal-browser.sh): Debian's headless Chromium and its
    # WebDriver; the check installs them itself on machines whose image lacks them.
    "chromium",
    "chromium-driver",
)
# snapd is in the build image for `snap pack` only; a running snapd there would just
# slow boot down trying to reach the store.
BUILD_MASKED = ("snapd.service", "snapd.socket", "snapd.seeded.service", "snapd.apparmor.service")


@dataclass(frozen=True)
class BakedFile:
    path: str  # absolute path inside the image
    content: bytes
    mode: int = 0o644


@dataclass(frozen=True)
class Recipe:
    """Everything that decides an image's content; its hash is the cache key."""

    kind: str
    base_packages: tuple[str, ...]
    packages: tuple[str, ...]
    files: tuple[BakedFile, ...] = ()
    enable: tuple[str, ...] = ()
    mask: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()  # globs deleted from the finished rootfs
    properties: Mapping[str, str] = field(default_factory=dict)  # image metadata, not hashed

    def fingerprint(self) -> dict[str, object]:
        """Canonical form: order of packages and files does not matter."""
        return {
            "format": RECIPE_FORMAT,
            "suite": SUITE,
            "mirror": MIRROR,
            "kind": self.kind,
            "base_packages": sorted(set(self.base_packages)),
            "packages": sorted(set(self.packages)),
            "files": sorted([f.path, oct(f.mode), hashlib.sha256(f.content).hexdigest()] for f in self.files),
            "enable": sorted(self.enable),
            "mask": sorted(self.mask),
            "remove": sorted(self.remove),
        }

    def key(self) -> str:
        text = json.dumps(self.fingerprint(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def alias(self) -> str:
        return f"ondemand-{self.kind}-{self.key()[:8]}"


# --------------------------------------------------------------------------- recipes


def sources_list(*, deb_src: bool) -> str:
    """APT sources; deb-src lines so `apt-get source NAME/bookworm` works in the build image."""
    lines = []
    for kind in ("deb", "deb-src") if deb_src else ("deb",):
        lines.append(f"{kind} {MIRROR} {SUITE} main")
        lines.append(f"{kind} {MIRROR} {SUITE}-updates main")
        lines.append(f"{kind} {SECURITY_MIRROR} {SUITE}-security main")
    return "\n".join(lines) + "\n"


def _text(path: str, text: str, mode: int = 0o644) -> BakedFile:
    return BakedFile(path, text.encode(), mode)


def common_files(bridge_ip: str, ca_certs: Mapping[str, bytes], *, deb_src: bool) -> list[BakedFile]:
    files = [
        _text("/etc/apt/sources.list", sources_list(deb_src=deb_src)),
        _text("/etc/systemd/network/10-eth0.network", "[Match]\nName=eth0\n\n[Network]\nDHCP=ipv4\n"),
        # LXD's dnsmasq on the bridge answers DNS; no resolved, no DHCP-managed resolv.conf.
        _text("/etc/resolv.conf", f"nameserver {bridge_ip}\n"),
        _text("/etc/hosts", "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n"),
        # Empty: systemd makes a fresh one per container. A shared machine-id would give
        # every container the same DHCP client id, hence the same address.
        BakedFile("/etc/machine-id", b"", 0o444),
    ]
    files += [BakedFile(f"{HOST_CA_DIR}/{name}", data) for name, data in sorted(ca_certs.items())]
    return files


# Files only the test image has, kept in snapbuild/machines/data/ (package data): image path ->
# data file. `.in` files are templates: @STORE_STUB_PORT@ in them is STORE_STUB_PORT.
TEST_IMAGE_FILES = {
    # The snap store's stand-in (404 to everything, so snapd gives up at once), its unit, and
    # the snapd drop-in that points snapd at it.
    "/usr/local/lib/ondemand-snap/store-stub.py": "store-stub.py.in",
    "/etc/systemd/system/store-stub.service": "store-stub.service",
    "/etc/systemd/system/snapd.service.d/10-store-stub.conf": "snapd-store-stub.conf.in",
    # Host keys are made per container at first start, not baked into the image.
    "/etc/systemd/system/ssh.service.d/10-host-keys.conf": "ssh-host-keys.conf",
    # spread's adhoc backend sets root's password with chpasswd and logs in with it.
    "/etc/ssh/sshd_config.d/50-root-login.conf": "sshd-root-login.conf",
}


def data_file(name: str) -> str:
    """A file of snapbuild/machines/data, its placeholders filled in."""
    text = resources.files("snapbuild.machines").joinpath("data", name).read_text(encoding="utf-8")
    return text.replace("@STORE_STUB_PORT@", str(STORE_STUB_PORT))


def recipe(kind: str, *, bridge_ip: str, ca_certs: Mapping[str, bytes]) -> Recipe:
    """The recipe for an image kind, given the host facts it depends on."""
    enable = ["systemd-networkd.service"]
    mask = ["systemd-binfmt.service"]  # binfmt_misc is the host's business
    # apt's binary caches are rebuilt on demand; ~120 MB less to unpack per launch.
    remove = ["/etc/hostname", "/var/lib/dbus/machine-id", "/var/cache/apt/*.bin"]
    if kind == "build":
        # Package lists stay: `apt-get source` works without an `apt-get update` first.
        files = common_files(bridge_ip, ca_certs, deb_src=True)
        return Recipe(
            kind,
            BASE_PACKAGES,
            BUILD_PACKAGES,
            tuple(files),
            tuple(enable),
            tuple(mask + list(BUILD_MASKED)),
            tuple(remove),
        )
    if kind == "test":
        files = common_files(bridge_ip, ca_certs, deb_src=False)
        # Lists go (another ~140 MB per launch): tests that need apt run `apt-get update`.
        remove += ["/var/lib/apt/lists/*_*", "/etc/ssh/ssh_host_*"]
        files += [_text(path, data_file(name)) for path, name in TEST_IMAGE_FILES.items()]
        return Recipe(
            kind,
            BASE_PACKAGES,
            TEST_PACKAGES,
            tuple(files),
            tuple(enable + ["store-stub.service"]),
            tuple(mask),
            tuple(remove),
        )
    raise ToolError(f"unknown image kind {kind!r}", resolution=f"use one of: {', '.join(KINDS)}")


def host_ca_certs() -> dict[str, bytes]:
    """Local CA certificates the host trusts (HTTPS may be re-signed by one of them)."""
    if not HOST_CA_DIR.is_dir():
        return {}
    return {str(p.relative_to(HOST_CA_DIR)): p.read_bytes() for p in sorted(HOST_CA_DIR.rglob("*.crt")) if p.is_file()}


def recipe_for(kind: str) -> Recipe:
    return recipe(kind, bridge_ip=str(lxd.bridge_address().ip), ca_certs=host_ca_certs())


# --------------------------------------------------------------------------- cache


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    path = Path(base) / "ondemand-snap"
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def _locked(name: str) -> Iterator[None]:
    """One builder per image kind at a time, across processes."""
    with open(cache_dir() / f"{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _image_fingerprint(alias: str) -> str | None:
    target = lxd.query(f"/1.0/images/aliases/{alias}")
    return str(target["target"]) if target else None


def image_property(alias: str, key: str) -> str:
    fingerprint = _image_fingerprint(alias)
    image = lxd.query(f"/1.0/images/{fingerprint}") if fingerprint else None
    value = (image or {}).get("properties", {}).get(key)
    if value is None:
        raise ToolError(
            f"image {alias} has no property {key!r}",
            resolution=f"delete it (lxc image delete {alias}) so it gets rebuilt",
        )
    return str(value)


def _prune(kind: str, keep: str) -> None:
    """Delete older images of this kind: each recipe change would otherwise leave ~0.5 GB."""
    aliases = lxd.query("/1.0/images/aliases?recursion=1") or []
    for entry in aliases:
        if entry["name"].startswith(f"ondemand-{kind}-") and entry["name"] != keep:
            say(f"removing stale image {entry['name']}")
            lxd.lxc("image", "delete", entry["name"], check=False)


def ensure_image(kind: str) -> str:
    """The alias of an up-to-date image of `kind`, building and importing it if needed."""
    lxd.ensure_lxd()
    wanted = recipe_for(kind)
    alias = wanted.alias
    if _image_fingerprint(alias):
        return alias
    with _locked(f"image-{kind}"):
        if not _image_fingerprint(alias):  # another process may have built it meanwhile
            with step(f"building LXD image {alias}"):
                _build_and_import(wanted)
        _prune(kind, alias)
    return alias


# --------------------------------------------------------------------------- building


def _run_logged(argv: Sequence[str], log: IO[bytes], what: str, env: Mapping[str, str] | None = None) -> None:
    log.write(f"\n$ {' '.join(argv)}\n".encode())
    log.flush()
    done = subprocess.run(list(argv), stdout=log, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        log.flush()
        raise ToolError(
            f"{what} failed (exit {done.returncode})",
            resolution=f"see the full log in {log.name}; Debian's archive must be reachable",
            details=lxd.tail(Path(log.name).read_text(errors="replace"), 30),
        )


def debootstrap_argv(recipe: Recipe, rootfs: Path, debs: Path) -> list[str]:
    return [
        "debootstrap",
        "--variant=minbase",
        "--components=main",
        f"--include={','.join(sorted(set(recipe.base_packages)))}",
        f"--cache-dir={debs}",
        SUITE,
        str(rootfs),
        MIRROR,
    ]


def _write_files(rootfs: Path, files: Sequence[BakedFile]) -> None:
    for baked in files:
        target = rootfs / baked.path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():  # e.g. a resolv.conf link: replace, never write through
            target.unlink()
        target.write_bytes(baked.content)
        target.chmod(baked.mode)


CHROOT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "DEBIAN_FRONTEND": "noninteractive",
    "LANG": "C.UTF-8",
    "HOME": "/root",
}


@contextmanager
def _chroot(rootfs: Path, debs: Path) -> Iterator[None]:
    """Mounts and policy for running apt in the rootfs; all undone on exit.

    Package debs land in the shared cache (bind mount), daemons are not started
    (policy-rc.d), and name resolution uses the host's resolver meanwhile.
    """
    with ExitStack() as stack:
        baked_resolv = (rootfs / "etc/resolv.conf").read_bytes()
        (rootfs / "etc/resolv.conf").write_bytes(Path("/etc/resolv.conf").read_bytes())
        stack.callback((rootfs / "etc/resolv.conf").write_bytes, baked_resolv)
        policy = rootfs / "usr/sbin/policy-rc.d"
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
        stack.callback(policy.unlink)
        for source, target, opts in ((None, "proc", ["-t", "proc"]), (debs, "var/cache/apt/archives", ["--bind"])):
            where = rootfs / target
            where.mkdir(parents=True, exist_ok=True)
            lxd.run(["mount", *opts, str(source or "proc"), str(where)], what=f"mounting {where}")
            stack.callback(subprocess.run, ["umount", "--lazy", str(where)], check=False)
        yield


def _chroot_steps(recipe: Recipe) -> list[tuple[str, list[str]]]:
    """(label, argv inside the chroot) for everything after debootstrap."""
    install = ["apt-get", "install", "-y", "--no-install-recommends", *sorted(set(recipe.packages))]
    steps = [
        ("apt-get update", ["apt-get", "update"]),
        (f"apt-get install ({len(recipe.packages)} packages)", install),
        ("update-ca-certificates", ["update-ca-certificates"]),
    ]
    if recipe.enable:
        steps.append(("enable units", ["systemctl", "enable", *recipe.enable]))
    if recipe.mask:
        steps.append(("mask units", ["systemctl", "mask", *recipe.mask]))
    return steps


def build_rootfs(recipe: Recipe, rootfs: Path, log: IO[bytes]) -> None:
    """debootstrap + chroot apt + baked files: a bootable container rootfs."""
    debs = cache_dir() / "debs"
    (debs / "partial").mkdir(parents=True, exist_ok=True)
    with step(f"debootstrap {SUITE} ({recipe.kind})"):
        _run_logged(debootstrap_argv(recipe, rootfs, debs), log, "debootstrap")
    _write_files(rootfs, recipe.files)
    with _chroot(rootfs, debs):
        for label, argv in _chroot_steps(recipe):
            with step(label):
                _run_logged(["chroot", str(rootfs), *argv], log, f"{label} in the image", env=CHROOT_ENV)
    for pattern in recipe.remove:
        for path in glob.glob(str(rootfs) + pattern):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
    # Files written by packages' postinst (resolv.conf, machine-id) must not win.
    _write_files(rootfs, [f for f in recipe.files if f.path in ("/etc/resolv.conf", "/etc/machine-id")])


def metadata(recipe: Recipe, extra: Mapping[str, str]) -> str:
    arch = {"x86_64": "x86_64", "aarch64": "aarch64"}.get(platform.machine(), platform.machine())
    props = {
        "os": "debian",
        "release": SUITE,
        "description": f"Debian {SUITE} for the OnDemand snap ({recipe.kind})",
        "ondemand.recipe": recipe.key(),
        **extra,
    }
    return yaml.safe_dump(
        {"architecture": arch, "creation_date": int(time.time()), "properties": props, "templates": {}}, sort_keys=True
    )


def _build_and_import(recipe: Recipe) -> None:
    ensure_host_tools()
    work = cache_dir() / "work" / recipe.alias
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    log_path = cache_dir() / "logs" / f"{recipe.alias}.log"
    log_path.parent.mkdir(exist_ok=True)
    say(f"build log: {log_path}")
    try:
        with open(log_path, "wb") as log:
            rootfs = work / "rootfs"
            build_rootfs(recipe, rootfs, log)
            extra = {}
            info = rootfs / "usr/lib/snapd/info"
            if info.exists():  # placeholder `snapd` snaps must carry this exact file
                extra["ondemand.snapd-info"] = info.read_text()
            (work / "metadata.yaml").write_text(metadata(recipe, extra))
            with step("packing and importing the image"):
                _run_logged(
                    ["tar", "-C", str(work), "-cf", str(work / "meta.tar"), "metadata.yaml"],
                    log,
                    "packing image metadata",
                )
                _run_logged(
                    ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(work / "rootfs.tar"), "."],
                    log,
                    "packing the rootfs",
                )
                shutil.rmtree(rootfs)  # halve peak disk use before LXD unpacks its copy
                _run_logged(
                    [
                        "lxc",
                        "image",
                        "import",
                        str(work / "meta.tar"),
                        str(work / "rootfs.tar"),
                        "--alias",
                        recipe.alias,
                    ],
                    log,
                    f"importing image {recipe.alias}",
                )
    finally:
        _remove_work_dir(work)


def mounts_under(path: Path, mountinfo: str) -> list[str]:
    """Mount points at or below `path`, from /proc/self/mountinfo text."""
    prefix = str(path).rstrip("/") + "/"
    points = [line.split()[4] for line in mountinfo.splitlines() if len(line.split()) > 4]
    return [p for p in points if p == str(path) or p.startswith(prefix)]


def _remove_work_dir(work: Path) -> None:
    # Never rmtree through a mount left behind (the bind-mounted deb cache, /proc).
    left = mounts_under(work, Path("/proc/self/mountinfo").read_text())
    if left:
        say(f"not removing {work}: still mounted: {', '.join(left)}")
        return
    shutil.rmtree(work, ignore_errors=True)


def ensure_host_tools() -> None:
    lxd.ensure_host_packages({"debootstrap": "debootstrap", "chroot": "coreutils", "tar": "tar"})
    if not Path("/usr/share/keyrings/debian-archive-keyring.gpg").exists():
        lxd.apt_install(["debian-archive-keyring"])


# --------------------------------------------------------------------------- placeholder snaps


def snapd_version(info: str) -> str:
    for line in info.splitlines():
        if line.startswith("VERSION="):
            return line.split("=", 1)[1].strip().strip("'\"")
    raise ToolError(
        "snapd's info file has no VERSION line", resolution="rebuild the test image (lxc image delete it)", details=info
    )


CORE_DIRS = (
    "bin",
    "boot",
    "dev",
    "etc",
    "home",
    "lib",
    "lib64",
    "media",
    "mnt",
    "opt",
    "proc",
    "root",
    "run",
    "sbin",
    "snap",
    "srv",
    "sys",
    "tmp",
    "usr",
    "var",
    "writable",
)


def placeholder_trees(info: str) -> dict[str, dict[str, str | None]]:
    """Snap name -> {relative path: file content, or None for a directory}."""
    version = snapd_version(info)
    snapd = {
        "meta/snap.yaml": yaml.safe_dump(
            {
                "name": "snapd",
                "version": version,
                "type": "snapd",
                "summary": "Local placeholder for the snapd snap",
                "description": "Satisfies snapd's prerequisite check; carries only the info file.",
            },
            sort_keys=True,
        ),
        # Same version as the running snapd, so snapd sees nothing newer to re-exec into.
        "usr/lib/snapd/info": info,
    }
    core: dict[str, str | None] = {
        "meta/snap.yaml": yaml.safe_dump(
            {
                "name": "core24",
                "version": "24",
                "type": "base",
                "summary": "Local placeholder for the core24 base",
                "description": "Empty standard directories; classic snaps do not run inside it.",
            },
            sort_keys=True,
        ),
    }
    core.update({d: None for d in CORE_DIRS})
    return {"snapd": dict(snapd), "core24": core}


def placeholder_key(info: str) -> str:
    return hashlib.sha256(f"{PLACEHOLDER_FORMAT}\n{info}".encode()).hexdigest()[:8]


def build_placeholders(info: str) -> list[Path]:
    """Pack (once per snapd version) the placeholder snaps; install order."""
    out = cache_dir() / f"placeholders-{placeholder_key(info)}"
    trees = placeholder_trees(info)
    paths = [out / f"{name}.snap" for name in trees]
    if all(p.exists() for p in paths):
        return paths
    lxd.ensure_host_packages({"snap": "snapd", "mksquashfs": "squashfs-tools"})
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        for name, tree in trees.items():
            root = Path(tmp) / name
            for rel, content in tree.items():
                target = root / rel
                if content is None:
                    target.mkdir(parents=True, exist_ok=True)
                else:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_text(content)
            done = subprocess.run(
                ["snap", "pack", str(root), tmp, f"--filename={name}.snap"], capture_output=True, text=True
            )
            if done.returncode != 0:
                raise ToolError(
                    f"`snap pack` of the placeholder {name} snap failed",
                    resolution="check the host's snapd and squashfs-tools",
                    details=done.stderr or done.stdout,
                )
            os.replace(Path(tmp) / f"{name}.snap", out / f"{name}.snap")  # atomic for readers
    return paths


def placeholder_snaps() -> list[Path]:
    """Local `snapd` and `core24` snaps matching the test image's snapd, in install order."""
    alias = ensure_image("test")
    return build_placeholders(image_property(alias, "ondemand.snapd-info"))


def installed_snaps(snap_list: str) -> set[str]:
    """Names from `snap list` output (the header and 'No snaps' message excluded)."""
    lines = snap_list.strip().splitlines()
    if not lines or not lines[0].startswith("Name"):
        return set()
    return {line.split()[0] for line in lines[1:] if line.strip()}


def prepare_test_container(name: str) -> None:
    """Install the placeholder snaps into a running test container (idempotent)."""
    snaps = placeholder_snaps()
    with step(f"installing placeholder snaps in {name}"):
        lxd.exec_(name, ["snap", "wait", "system", "seed.loaded"], capture=True, timeout=300)
        present = installed_snaps(lxd.exec_(name, ["snap", "list"], check=False, capture=True).stdout)
        for path in snaps:
            if path.stem in present:
                continue
            remote = f"/var/tmp/placeholders/{path.name}"
            lxd.push_file(name, path, remote)
            lxd.exec_(name, ["snap", "install", "--dangerous", remote], capture=True, timeout=300)


# --------------------------------------------------------------------------- command line


USAGE = "usage: python -m snapbuild.machines.images build|test|placeholders|prepare CONTAINER"


def _command(args: list[str]) -> None:
    if len(args) == 1 and args[0] in KINDS:
        print(ensure_image(args[0]))
    elif args == ["placeholders"]:
        print("\n".join(map(str, placeholder_snaps())))
    elif len(args) == 2 and args[0] == "prepare":
        prepare_test_container(args[1])
    else:
        raise cli.wrong_arguments(args)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.run(_command, argv, usage=USAGE)


if __name__ == "__main__":
    raise SystemExit(main())
