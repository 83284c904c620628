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
from typing import Any

from snapbuild.errors import ToolError, describe
from snapbuild.progress import say, step

SNAP_AT = "/relocated/ondemand"
# Host programs the wrappers use (POSIX tools every host has).
# OnDemand's own wrappers are bash scripts, and update_ood_portal shells out to cmp and cat.
HOST_TOOLS = [
    "sh",
    "bash",
    "basename",
    "dirname",
    "readlink",
    "sed",
    "env",
    "cat",
    "cmp",
    "install",
    "mkdir",
    "uname",
    "rm",
    "ls",
    "sleep",
    "kill",
]
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


# mod_lua with mod_ood_proxy's Lua tree and luaposix on its package paths; /check runs
# check.lua, which loads the modules the portal's handlers load.
LUA_CONF = (
    HTTPD_CONF
    + """\
User nobody
Group nogroup
LuaPackagePath {snap}/opt/ood/mod_ood_proxy/lib/?.lua
LuaPackagePath {snap}/usr/share/lua/5.3/?.lua
LuaPackagePath {snap}/usr/share/lua/5.3/?/init.lua
LuaPackageCPath {snap}/usr/lib/{triplet}/lua/5.3/?.so
LuaMapHandler ^/check$ /tmp/check.lua
"""
)
LUA_CHECK = """\
function handle(r)
  local posix = require "posix"
  local pwd = require "posix.pwd"
  require "ood.user_map"
  require "ood.nginx_stage"
  require "ood.proxy"
  r.content_type = "text/plain"
  -- What mod_ood_proxy's nginx_stage.lua calls: pipe, fork, setenv.
  local calls = type(posix.pipe) == "function" and type(posix.fork) == "function" and type(posix.setenv) == "function"
  r:puts("mod_ood_proxy loaded; posix calls " .. tostring(calls) ..
         "; root uid " .. tostring(pwd.getpwnam("root") and pwd.getpwnam("root").pw_uid) .. "\\n")
  return apache2.OK
end
"""
PORTAL_YML = "servername: portal.example.org\nport: 8080\n"
# With auth, the full template (maintenance flag file, maintenance FilesMatch, Listen).
PORTAL_AUTH_YML = PORTAL_YML + "listen_addr_port: ['8080']\nauth: ['AuthType Basic', 'Require valid-user']\n"


@dataclass(frozen=True)
class Check:
    """One command run inside the chroot and what its output must contain."""

    name: str
    command: str
    expect: tuple[str, ...]


ONDEMAND = f"{SNAP_AT}/opt/ood"
# Fetch a URL with the snap's own Python (the chroot has no HTTP client of its own).
FETCH = (
    f"{SNAP_AT}/bin/ondemand-python -c "
    "'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1]).read().decode())'"
)

CHECKS = [
    Check(
        "nginx with Passenger's module",
        f"{SNAP_AT}/bin/nginx -V 2>&1",
        ("nginx version: nginx/1.28.0", "passenger/src/nginx_module"),
    ),
    # The module's Server header is compiled in from nginx's and Passenger's version macros.
    Check(
        "nginx's Passenger module is 6.1.2",
        f"{SNAP_AT}/bin/ruby -e 'd = File.binread(ARGV[0]); "
        's = d[/nginx\\/[0-9.]+ \\+ Phusion Passenger\\(R\\) [0-9.]+/]; puts s || "none"; exit(s ? 0 : 1)\' '
        f"{SNAP_AT}/nginx/sbin/nginx",
        ("nginx/1.28.0 + Phusion Passenger(R) 6.1.2",),
    ),
    # passenger-config (Ruby) finds the agent through passenger_root; `validate-install` loads it.
    Check(
        "Passenger (agent and passenger-config)",
        f"{SNAP_AT}/passenger/buildout/support-binaries/PassengerAgent exec-helper {SNAP_AT}/bin/ruby "
        f"{SNAP_AT}/passenger/bin/passenger-config --version 2>&1",
        ("Phusion Passenger(R) 6.1.2",),
    ),
    Check(
        "Apache modules",
        f"{SNAP_AT}/bin/httpd -f /tmp/httpd.conf -M 2>&1",
        ("lua_module", "proxy_module", "proxy_wstunnel_module", "auth_openidc_module", "ssl_module"),
    ),
    Check(
        "Ruby with OpenSSL",
        f"{SNAP_AT}/bin/ruby -ropenssl -e 'puts \"ruby #{{RUBY_VERSION}} #{{OpenSSL::OPENSSL_LIBRARY_VERSION}}\"'",
        ("ruby ", "OpenSSL"),
    ),
    Check("Node.js", f"{SNAP_AT}/bin/node -e 'console.log(\"node \" + process.versions.node)'", ("node 22.",)),
    Check(
        "nginx_stage (upstream's wrapper, the snap's Ruby and gems)",
        f"{SNAP_AT}/sbin/nginx_stage --help 2>&1",
        ("Usage: nginx_stage COMMAND", "nginx_clean"),
    ),
    Check(
        "update_ood_portal renders a vhost (the snap's Ruby, dotenv and bcrypt)",
        f"mkdir -p /tmp/portal && env PATH={SNAP_AT}/bin:$PATH GEM_PATH={ONDEMAND}/gems CONFIG=/tmp/ood_portal.yml "
        f"APACHE=/tmp/portal/ood-portal.conf SUM=/tmp/portal/ood-portal.sha256sum "
        f"{ONDEMAND}/ood-portal-generator/sbin/update_ood_portal --detailed-exitcodes; "
        'echo "exit $?"; cat /tmp/portal/ood-portal.conf',
        # The no-auth template's public root, redirected into the snap at build time.
        (
            "exit 3",
            "ServerName portal.example.org",
            "need_auth.html",
            'Alias "/public" "/var/snap/ondemand/common/var/www/ood/public"',
        ),
    ),
    Check(
        "the snap's update_ood_portal wrapper renders the full vhost (paths redirected at build time)",
        f"mkdir -p /tmp/portal-auth && env CONFIG=/tmp/ood_portal-auth.yml APACHE=/tmp/portal-auth/ood-portal.conf "
        f"SUM=/tmp/portal-auth/ood-portal.sha256sum {SNAP_AT}/sbin/update_ood_portal --detailed-exitcodes; "
        'echo "exit $?"; cat /tmp/portal-auth/ood-portal.conf',
        (
            "exit 3",
            "Listen 8080",
            "RewriteCond /var/snap/ondemand/common/etc/ood/maintenance.enable -f",
            '<FilesMatch "/var/snap/ondemand/common/var/www/ood/public/maintenance/.*">',
        ),
    ),
    Check(
        "mod_lua loads mod_ood_proxy's Lua with luaposix",
        f"{SNAP_AT}/bin/httpd -f /tmp/httpd-lua.conf -k start && sleep 1 && {FETCH} http://127.0.0.1:8080/check; "
        f"{SNAP_AT}/bin/httpd -f /tmp/httpd-lua.conf -k stop",
        ("mod_ood_proxy loaded; posix calls true; root uid 0",),
    ),
    Check(
        "the shell app's node-pty in the shipped Node",
        f'cd {ONDEMAND}/apps/shell && {SNAP_AT}/bin/node -e \'const pty = require("node-pty"); '
        'const p = pty.spawn("/bin/sh", ["-c", "echo pty-ok"], {}); '
        'p.onData(d => process.stdout.write(d)); p.onExit(e => console.log("exit " + e.exitCode));\'',
        ("pty-ok", "exit 0"),
    ),
    Check(
        "the hooks' Python",
        f"{SNAP_AT}/bin/ondemand-python -c 'import sys, yaml, ondemand_hooks; "
        'print("python", sys.version.split()[0], "yaml", yaml.__version__)\'',
        ("python 3.", "yaml "),
    ),
]


def _run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, **kwargs)


def _host_files() -> set[Path]:
    """The C library's files plus the host tools and the libraries those tools load."""
    files = {Path(line) for line in _run(["dpkg", "-L", "libc6"], check=True).stdout.splitlines()}
    for tool in HOST_TOOLS:
        found = shutil.which(tool, path="/usr/bin:/bin")
        if not found:
            raise ToolError(f"relocation test: host tool {tool!r} not found", resolution="install coreutils/sed/dash")
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
    for directory in ("proc", "dev", "tmp", "etc", "var/snap/ondemand/common"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "tmp").chmod(0o1777)
    # The accounts every host has: Apache's workers drop to nobody, luaposix looks up root.
    (root / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    (root / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")


def run_checks(snap_file: Path, checks: list[Check] = CHECKS) -> list[str]:
    """Unpack snap_file into a fresh minimal root and run each check; return the failures."""
    if os.geteuid() != 0:
        raise ToolError("the relocation test needs root (chroot and mounts)", resolution="run it as root, as CI does")
    for tool in ("unsquashfs", "unshare", "chroot"):
        if shutil.which(tool) is None:
            raise ToolError(
                f"relocation test: {tool} is missing", resolution="apt-get install squashfs-tools util-linux coreutils"
            )
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
                raise ToolError(f"cannot unpack {snap_file}", resolution="rebuild the snap", details=done.stderr)
        (root / "tmp/httpd.conf").write_text(HTTPD_CONF.format(snap=SNAP_AT))
        # luaposix's library dir as the snap has it (the build's triplet; no compiler needed here).
        found = sorted(unpacked.glob("usr/lib/*/lua/5.3"))
        triplet = found[0].parent.parent.name if found else "missing-luaposix"
        (root / "tmp/httpd-lua.conf").write_text(LUA_CONF.format(snap=SNAP_AT, triplet=triplet))
        (root / "tmp/check.lua").write_text(LUA_CHECK)
        (root / "tmp/ood_portal.yml").write_text(PORTAL_YML)
        (root / "tmp/ood_portal-auth.yml").write_text(PORTAL_AUTH_YML)
        for check in checks:
            script = (
                f"mount -t proc proc {root}/proc && mount --rbind /dev {root}/dev && "
                f"exec chroot {root} /usr/bin/env -i PATH=/usr/bin:/bin SNAP={SNAP_AT} "
                f'SNAP_COMMON=/var/snap/ondemand/common HOME=/tmp /bin/sh -c "$1"'
            )
            done = _run(
                ["unshare", "--mount", "--propagation", "private", "--fork", "sh", "-c", script, "sh", check.command],
                timeout=120,
            )
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
            resolution=(
                "make the failing part find its libraries inside the snap (rpath $ORIGIN/... or its "
                "wrapper's environment)"
            ),
            details=describe(failures),
        )
    say(f"relocation test: all {len(CHECKS)} stacks run from {SNAP_AT}")
