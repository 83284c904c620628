"""Where everything lives: every path of docs/layout.md, computed from the snap environment.

Nothing here touches the disk except `first_existing`-style probes, so unit tests point a
`Paths` at a temporary directory and get the whole layout under it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import HookError

PORTAL_USER = "snap_daemon"
"""Apache's User/Group and the sudoers rule's subject (snapd creates it from system-usernames)."""

REQUIRED_ENV = ("SNAP", "SNAP_COMMON", "SNAP_DATA", "SNAP_REVISION", "SNAP_NAME")


@dataclass(frozen=True)
class Dir:
    """One directory of the writable tree with the owner and mode docs/layout.md gives it."""

    path: Path
    mode: int
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Paths:
    """Every path the hooks read or write.

    `snap` is the mounted revision (read-only); `snap_stable` is the `current` symlink form
    of it (`/snap/<name>/current`) used in files that outlive a refresh, so a config
    written by revision N keeps working after revision N+1 replaces it.
    """

    snap: Path
    snap_common: Path
    snap_data: Path
    revision: str
    name: str
    # Overridable for tests (the real values are outside the snap's directories).
    sudoers_file: Path | None = None
    apache_modules_dir: Path | None = None
    httpd_bin: Path | None = None
    portal_user: str = PORTAL_USER
    portal_group: str = PORTAL_USER
    _stable: Path = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # /snap/<name>/<revision> -> /snap/<name>/current (also /var/lib/snapd/snap/... on
        # distributions without the /snap symlink). Anything else (tests, snap try) is used
        # as is.
        stable = self.snap
        if self.snap.name == self.revision and self.snap.parent.name == self.name:
            stable = self.snap.parent / "current"
        object.__setattr__(self, "_stable", stable)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Paths:
        env = os.environ if environ is None else environ
        missing = [name for name in REQUIRED_ENV if not env.get(name)]
        if missing:
            raise HookError(
                f"not running inside the snap: {', '.join(missing)} not set",
                resolution="run this through the snap (`sudo snap run ondemand.update-portal`) or a snap hook",
            )
        return cls(
            snap=Path(env["SNAP"]),
            snap_common=Path(env["SNAP_COMMON"]),
            snap_data=Path(env["SNAP_DATA"]),
            revision=env["SNAP_REVISION"],
            name=env["SNAP_NAME"],
            **overrides,  # type: ignore[arg-type]
        )

    # --- inside the read-only snap -------------------------------------------------------

    @property
    def snap_stable(self) -> Path:
        return self._stable

    @property
    def ood_root(self) -> Path:
        return self.snap / "opt" / "ood"

    @property
    def ondemand_absent_marker(self) -> Path:
        return self.snap / "meta" / "ondemand-absent"

    @property
    def bundled_apps(self) -> Path:
        """The apps this snap ships ($SNAP/opt/ood/apps, as upstream's `rake install` lays them out)."""
        return self.ood_root / "apps"

    @property
    def sys_apps(self) -> Path:
        """Where nginx_stage finds system apps (upstream: /var/www/ood/apps/sys)."""
        return self.www / "apps" / "sys"

    @property
    def mod_ood_proxy_lib(self) -> Path:
        return self.snap / "opt" / "ood" / "mod_ood_proxy" / "lib"

    @property
    def mod_ood_proxy_lib_stable(self) -> Path:
        """mod_ood_proxy's Lua as the vhost names it (the `current` form: survives a refresh)."""
        return self.snap_stable / "opt" / "ood" / "mod_ood_proxy" / "lib"

    @property
    def luaposix_paths(self) -> tuple[Path, Path] | None:
        """(Lua dir, C module dir) of the snap's luaposix, which mod_ood_proxy requires (for
        OOD_ALLOWED_HOSTS); in the `current` form. None if this build has none."""
        # Debian's lua-posix: posix.so (or a posix/ dir of modules) under the multiarch triplet.
        found = sorted(self.snap.glob("usr/lib/*/lua/5.3/posix*"))
        if not found or not (self.snap / "usr" / "share" / "lua" / "5.3" / "posix").is_dir():
            return None
        return self.snap_stable / "usr" / "share" / "lua" / "5.3", self.snap_stable / found[0].parent.relative_to(
            self.snap
        )

    @property
    def ondemand_present(self) -> bool:
        """OnDemand itself ships in this build (offline builds leave it out)."""
        return self.mod_ood_proxy_lib.is_dir()

    @property
    def nginx_stage(self) -> Path:
        """The root helper, as this revision sees it (to run it from hooks)."""
        return self.snap / "sbin" / "nginx_stage"

    @property
    def nginx_stage_stable(self) -> Path:
        """The root helper as the sudoers rule and mod_ood_proxy name it.

        Always the `current` form so the rule survives refreshes; outside a real snap
        mount (tests) it is the canonical `/snap/<name>/current/...`.
        """
        if self.snap_stable != self.snap:
            return self.snap_stable / "sbin" / "nginx_stage"
        return Path("/snap") / self.name / "current" / "sbin" / "nginx_stage"

    @property
    def update_ood_portal(self) -> Path:
        """Upstream's portal generator through the snap's wrapper (sbin/update_ood_portal)."""
        return self.snap / "sbin" / "update_ood_portal"

    @property
    def portal_generator_present(self) -> bool:
        return self.ondemand_present and self.update_ood_portal.is_file()

    @property
    def httpd(self) -> Path:
        return self.httpd_bin if self.httpd_bin is not None else self.snap / "bin" / "httpd"

    @property
    def modules_dir(self) -> Path:
        if self.apache_modules_dir is not None:
            return self.apache_modules_dir
        return self.snap_stable / "apache" / "modules"

    @property
    def nginx_bin(self) -> Path:
        return self.snap_stable / "bin" / "nginx"

    @property
    def passenger_root(self) -> Path:
        return self.snap_stable / "passenger"

    @property
    def ruby_bin(self) -> Path:
        return self.snap_stable / "bin" / "ruby"

    @property
    def node_bin(self) -> Path:
        return self.snap_stable / "bin" / "node"

    @property
    def python_bin(self) -> Path:
        return self.snap_stable / "bin" / "ondemand-python"

    @property
    def nginx_mime_types(self) -> Path:
        """nginx's mime.types: the first candidate this revision ships, else the first."""
        candidates = ("nginx/conf/mime.types", "etc/nginx/mime.types", "nginx/mime.types")
        for relative in candidates:
            if (self.snap / relative).is_file():
                return self.snap_stable / relative
        return self.snap_stable / candidates[0]

    @property
    def apache_mime_types(self) -> Path | None:
        # media-types' /etc/mime.types, staged by the apache part.
        candidates = ("etc/mime.types", "apache/conf/mime.types")
        for relative in candidates:
            if (self.snap / relative).is_file():
                return self.snap_stable / relative
        return None

    @property
    def ondemand_version_file(self) -> Path:
        return self.snap_stable / "opt" / "ood" / "VERSION"

    # --- writable state under $SNAP_COMMON -----------------------------------------------

    @property
    def etc_ood(self) -> Path:
        return self.snap_common / "etc" / "ood"

    @property
    def ood_config(self) -> Path:
        return self.etc_ood / "config"

    @property
    def ood_portal_yml(self) -> Path:
        return self.ood_config / "ood_portal.yml"

    @property
    def ood_portal_site_yml(self) -> Path:
        """The admin's own ood_portal.yml keys (those the snap does not manage), merged into
        ood_portal.yml; never written by the snap."""
        return self.ood_config / "ood_portal.site.yml"

    @property
    def nginx_stage_yml(self) -> Path:
        return self.ood_config / "nginx_stage.yml"

    @property
    def clusters_d(self) -> Path:
        return self.ood_config / "clusters.d"

    @property
    def ood_portal_sum(self) -> Path:
        """update_ood_portal's checksum of the vhost it last wrote (upstream: /etc/ood/config/ood_portal.sha256sum)."""
        return self.ood_config / "ood_portal.sha256sum"

    @property
    def maintenance_enable(self) -> Path:
        """Maintenance mode is on while this file exists (upstream: /etc/ood/maintenance.enable;
        the generator's templates are redirected here at build time)."""
        return self.etc_ood / "maintenance.enable"

    @property
    def portal_source_record(self) -> Path:
        """Which ood_portal.yml (sha256) and snap revision the installed vhost came from, so a
        `snap set` that leaves ood_portal.yml as it was need not run the generator again."""
        return self.apache_conf_dir / "ood-portal.conf.source"

    @property
    def oidc_passphrase_file(self) -> Path:
        return self.ood_config / "oidc_crypto_passphrase"

    @property
    def pun_custom_html_root(self) -> Path:
        return self.ood_config / "pun" / "html"

    @property
    def apache_conf_dir(self) -> Path:
        return self.snap_common / "etc" / "apache2"

    @property
    def httpd_conf(self) -> Path:
        return self.apache_conf_dir / "httpd.conf"

    @property
    def portal_conf(self) -> Path:
        return self.apache_conf_dir / "ood-portal.conf"

    @property
    def nginx_lib(self) -> Path:
        return self.snap_common / "var" / "lib" / "ondemand-nginx"

    @property
    def puns_config(self) -> Path:
        return self.nginx_lib / "config" / "puns"

    @property
    def apps_config(self) -> Path:
        return self.nginx_lib / "config" / "apps"

    @property
    def www(self) -> Path:
        return self.snap_common / "var" / "www" / "ood"

    @property
    def public_root(self) -> Path:
        return self.www / "public"

    @property
    def need_auth_page(self) -> Path:
        return self.public_root / "need_auth.html"

    @property
    def maintenance_page(self) -> Path:
        # Where upstream's packages install share/maintenance.html.
        return self.public_root / "maintenance" / "index.html"

    @property
    def apache_log_dir(self) -> Path:
        return self.snap_common / "var" / "log" / "apache2"

    @property
    def nginx_log_dir(self) -> Path:
        return self.snap_common / "var" / "log" / "ondemand-nginx"

    @property
    def nginx_run_dir(self) -> Path:
        return self.snap_common / "run" / "ondemand-nginx"

    @property
    def nginx_tmp_dir(self) -> Path:
        return self.snap_common / "var" / "tmp" / "ondemand-nginx"

    @property
    def apache_run_dir(self) -> Path:
        return self.snap_common / "run" / "apache2"

    @property
    def apache_pid_file(self) -> Path:
        return self.apache_run_dir / "httpd.pid"

    @property
    def hooks_log(self) -> Path:
        return self.snap_common / "var" / "log" / "hooks.log"

    @property
    def sudoers(self) -> Path:
        if self.sudoers_file is not None:
            return self.sudoers_file
        # sudo skips files in sudoers.d whose names contain a dot: the snap name has none.
        return Path("/etc/sudoers.d") / f"snap-{self.name}"

    def tree(self) -> list[Dir]:
        """The writable tree of docs/layout.md, parents before children."""
        c = self.snap_common
        dirs = [
            Dir(c / "etc", 0o755),
            Dir(self.etc_ood, 0o755),
            Dir(self.ood_config, 0o755),
            Dir(self.clusters_d, 0o755),
            Dir(self.ood_config / "ondemand.d", 0o755),
            Dir(self.ood_config / "apps", 0o755),
            Dir(self.apache_conf_dir, 0o755),
            Dir(c / "var", 0o755),
            Dir(c / "var" / "lib", 0o755),
            Dir(self.nginx_lib, 0o755),
            Dir(self.nginx_lib / "config", 0o755),
            Dir(self.puns_config, 0o755),
            Dir(self.apps_config, 0o755),
            Dir(self.apps_config / "sys", 0o755),
            Dir(self.apps_config / "usr", 0o755),
            Dir(self.apps_config / "dev", 0o755),
            Dir(c / "var" / "www", 0o755),
            Dir(self.www, 0o755),
            Dir(self.public_root, 0o755),
            Dir(self.public_root / "maintenance", 0o755),
            Dir(self.www / "apps", 0o755),
            Dir(self.www / "apps" / "sys", 0o755),
            Dir(self.www / "discover", 0o755),
            Dir(self.www / "register", 0o755),
            Dir(c / "var" / "log", 0o755),
            Dir(self.apache_log_dir, 0o700),
            Dir(self.nginx_log_dir, 0o755),
            Dir(c / "var" / "tmp", 0o755),
            Dir(self.nginx_tmp_dir, 0o755),
            Dir(c / "run", 0o755),
            Dir(self.nginx_run_dir, 0o755),
            Dir(self.apache_run_dir, 0o755),
        ]
        return dirs
