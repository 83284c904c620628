"""Relocation test: every stack in the built .snap runs from an unrelated path with nothing
of the build system's libraries in sight.

The snap is unpacked into a minimal chroot that holds only what a classic snap may take from
any host: the C library (classic snaps run on the host's loader) and the few shell tools the
wrappers call. The snap sits at /relocated/ondemand — neither the build's prime dir nor
/snap/ondemand — so a hard-coded build path or a library found only on the build system
makes a check fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from snapbuild.errors import ToolError, describe
from snapbuild.progress import say, step

SNAP_AT = "/relocated/ondemand"
# Host programs the wrappers use (POSIX tools every host has).
HOST_TOOLS = ["sh", "dirname", "readlink", "sed", "env", "cat", "install", "mkdir", "uname", "rm", "ls"]
HTTPD_CONF = """\
ServerRoot /tmp
Listen 127.0.0.1:8080
PidFile /tmp/httpd.pid
ErrorLog /dev/stderr
LoadModule mpm_event_module {snap}/apache/modules/mod_mpm_event.so
LoadModule authz_core_module {snap}/apache/modules/mod_authz_core.so
<IfModule !unixd_module>
LoadModule unixd_module {snap}/apache/modules/mod_unixd.so
</IfModule>
LoadModule lua_module {snap}/apache/modules/mod_lua.so
LoadModule proxy_module {snap}/apache/modules/mod_proxy.so
LoadModule proxy_http_module {snap}/apache/modules/mod_proxy_http.so
LoadModule proxy_wstunnel_module {snap}/apache/modules/mod_proxy_wstunnel.so
LoadModule ssl_module {snap}/apache/modules/mod_ssl.so
LoadModule auth_openidc_module {snap}/apache/modules/mod_auth_openidc.so
"""


@dataclass(frozen=True)
class Check:
    """One command run inside the chroot and what its output must contain."""

    name: str
    command: str
    expect: tuple[str, ...]


CHECKS = [
    Check("nginx with Passenger's module", f"{SNAP_AT}/bin/nginx -V 2>&1", ("nginx version", "passenger")),
    # passenger-config (Ruby) finds the agent through passenger_root; `validate-install` loads it.
    Check(
        "Passenger (agent and passenger-config)",
        f"{SNAP_AT}/passenger/buildout/support-binaries/PassengerAgent exec-helper {SNAP_AT}/bin/ruby "
        f"{SNAP_AT}/passenger/bin/passenger-config --version 2>&1",
        ("Phusion Passenger",),
    ),
    Check(
        "Apache modules",
        f"{SNAP_AT}/bin/httpd -f /tmp/httpd.conf -M 2>&1",
        ("lua_module", "proxy_module", "proxy_wstunnel_module", "auth_openidc_module", "ssl_module"),
    ),
    Check("Ruby with OpenSSL", f"{SNAP_AT}/bin/ruby -ropenssl -e 'puts \"ruby #{{RUBY_VERSION}} #{{OpenSSL::OPENSSL_LIBRARY_VERSION}}\"'", ("ruby ", "OpenSSL")),
    Check("Node.js", f"{SNAP_AT}/bin/node -e 'console.log(\"node \" + process.versions.node)'", ("node 22.",)),
    Check(
        "the hooks' Python",
        f"{SNAP_AT}/bin/ondemand-python -c 'import sys, yaml, ondemand_hooks; print(\"python\", sys.version.split()[0], \"yaml\", yaml.__version__)'",
        ("python 3.", "yaml "),
    ),
]


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def _host_files() -> set[Path]:
    """The C library's files plus the host tools and the libraries those tools load."""
    files = {Path(line) for line in _run(["dpkg", "-L", "libc6"], check=True).stdout.splitlines()}
    for tool in HOST_TOOLS:
        found = shutil.which(tool, path="/usr/bin:/bin")
        if not found:
            raise ToolError(f"relocation test: host tool {tool!r} not found", "install coreutils/sed/dash")
        files.add(Path(found))
        for line in _run(["ldd", found]).stdout.splitlines():
            parts = line.split("=>")
            target = (parts[1] if len(parts) > 1 else parts[0]).split("(")[0].strip()
            if target.startswith("/"):
                files.add(Path(target))
    return {f for f in files if f.is_file() or f.is_symlink()}


def make_root(root: Path) -> None:
    """A chroot with the host's C library and tools only, laid out like the host (merged /usr)."""
    for top in ("bin", "sbin", "lib", "lib64"):
        host = Path("/") / top
        if host.is_symlink():
            link = os.readlink(host)
            # Merged /usr: /lib -> usr/lib. Create the target first so paths through the link resolve.
            (root / top).parent.joinpath(link).mkdir(parents=True, exist_ok=True)
            (root / top).symlink_to(link)
    for path in sorted(_host_files()):
        target = root / path.relative_to("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists() and not target.is_symlink():
            shutil.copy2(path, target, follow_symlinks=False)
            if path.is_symlink():  # copy what the link points at too
                real = path.resolve()
                dest = root / real.relative_to("/")
                if not dest.exists():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(real, dest)
    for directory in ("proc", "dev", "tmp", "var/snap/ondemand/common"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)


def run_checks(snap_file: Path, checks: list[Check] = CHECKS) -> list[str]:
    """Unpack snap_file into a fresh minimal root and run each check; return the failures."""
    if os.geteuid() != 0:
        raise ToolError("the relocation test needs root (chroot and mounts)", "run it as root, as CI does")
    for tool in ("unsquashfs", "unshare", "chroot"):
        if shutil.which(tool) is None:
            raise ToolError(f"relocation test: {tool} is missing", "apt-get install squashfs-tools util-linux coreutils")
    failures = []
    with tempfile.TemporaryDirectory(prefix="ondemand-relocation-") as scratch:
        root = Path(scratch) / "root"
        root.mkdir()
        with step("relocation: minimal root with the host's C library only"):
            make_root(root)
        with step(f"relocation: unpack {snap_file.name} at {SNAP_AT}"):
            unpacked = root / SNAP_AT.lstrip("/")
            unpacked.parent.mkdir(parents=True)
            done = _run(["unsquashfs", "-no-progress", "-d", str(unpacked), str(snap_file)])
            if done.returncode != 0:
                raise ToolError(f"cannot unpack {snap_file}", "rebuild the snap", done.stderr)
        (root / "tmp/httpd.conf").write_text(HTTPD_CONF.format(snap=SNAP_AT))
        for check in checks:
            script = (
                f"mount -t proc proc {root}/proc && mount --rbind /dev {root}/dev && "
                f"exec chroot {root} /usr/bin/env -i PATH=/usr/bin:/bin SNAP={SNAP_AT} "
                f"SNAP_COMMON=/var/snap/ondemand/common HOME=/tmp /bin/sh -c \"$1\""
            )
            done = _run(["unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c", script, "sh", check.command], timeout=120)
            output = done.stdout + done.stderr
            missing = [text for text in check.expect if text.lower() not in output.lower()]
            if done.returncode != 0 or missing:
                first = " | ".join(output.strip().splitlines()[-6:])
                failures.append(f"{check.name}: exit {done.returncode}, missing {missing}: {first}")
                say(f"  FAIL {check.name}")
            else:
                say(f"  ok   {check.name}: {output.strip().splitlines()[0][:100]}")
    return failures


def relocation_test(snap_file: Path) -> None:
    failures = run_checks(snap_file)
    if failures:
        raise ToolError(
            f"relocation test: {len(failures)} stack(s) do not run from {SNAP_AT} with only the host's C library",
            "make the failing part find its libraries inside the snap (rpath $ORIGIN/... or its wrapper's environment)",
            describe(failures),
        )
    say(f"relocation test: all {len(CHECKS)} stacks run from {SNAP_AT}")
