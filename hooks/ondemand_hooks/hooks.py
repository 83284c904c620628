"""The hooks and the admin command, as functions of (Paths, snapctl) so tests can drive them."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import configfiles, fsutil, model, portal, processes, sitefile, sudoers
from .env import Paths
from .errors import ConfigError, HookError, InternalError
from .log import log
from .snapctl import SnapctlLike

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


@dataclass
class Context:
    paths: Paths
    snapctl: SnapctlLike
    runner: Runner = subprocess.run
    now: Callable[[], float] = time.time
    sudo: sudoers.Sudo | None = None  # detected on the host unless given


@dataclass
class Applied:
    """What `apply_configuration` changed (for logs and tests)."""

    written: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    portal_changed: bool = False
    restarted: bool = False  # reloaded gracefully, or restarted where nothing ran


# --- pieces --------------------------------------------------------------------------------


def ensure_tree(paths: Paths) -> None:
    for spec in paths.tree():
        if fsutil.ensure_dir(spec):
            log.debug("%s: directory ready (mode %o)", spec.path, spec.mode)
    fsutil.ensure_file_mode(paths.hooks_log, 0o600)


def install_pages(paths: Paths) -> None:
    """The public pages, unless the admin already has their own."""
    for name, target in (("need_auth.html", paths.need_auth_page), ("maintenance.html", paths.maintenance_page)):
        if target.exists():
            continue
        from importlib import resources  # here: ~20 ms of every hook's start otherwise

        data = resources.files("ondemand_hooks").joinpath("data", name).read_bytes()
        fsutil.atomic_write(target, data, 0o644)
        log.info("%s: written", target)


def link_bundled_apps(paths: Paths) -> None:
    """Make the snap's apps system apps, where upstream's packages install them
    (apps/sys/<name>), as links through the stable `current` path so a refresh moves them
    along. An admin's own app of the same name (a real directory) is left alone; links to
    apps a newer revision no longer ships are removed."""
    bundled = paths.bundled_apps
    shipped = sorted(p.name for p in bundled.iterdir() if p.is_dir()) if bundled.is_dir() else []
    stable = paths.snap_stable / "opt" / "ood" / "apps" if paths.snap_stable != paths.snap else bundled
    for name in shipped:
        link = paths.sys_apps / name
        target = stable / name
        if link.is_symlink():
            if Path(os.readlink(link)) == target:
                continue
            link.unlink()
        elif link.exists():
            log.info("%s: the admin's own app; the snap's %s is not linked there", link, name)
            continue
        link.symlink_to(target)
        log.info("%s -> %s: linked", link, target)
    if paths.sys_apps.is_dir():
        for link in sorted(paths.sys_apps.iterdir()):
            if link.is_symlink() and Path(os.readlink(link)).parent == stable and link.name not in shipped:
                link.unlink()
                log.info("%s: removed (this revision does not ship %s)", link, link.name)


def remove_stale_temporaries(paths: Paths) -> list[Path]:
    """What a hook run killed midway left: portal stages (.check-*) and atomic-write
    temporaries (.NAME.*.tmp) in the dirs the hooks write. A stage whose journal was written
    had passed every check: its renames are finished, so the files agree with each other;
    any other stage is dropped. snapd runs one hook of a snap at a time, so at a hook's
    start none of them belongs to a live run."""
    removed = []
    for directory in (paths.apache_conf_dir, paths.ood_config, paths.clusters_d):
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.name.startswith(".check-") and path.is_dir() and not path.is_symlink():
                if portal.finish_interrupted(path):
                    log.info("%s: finished installing what a stopped hook run had checked", path)
                    removed.append(path)
                    continue
            elif path.name.startswith(".") and path.name.endswith(".tmp") and path.is_file():
                path.unlink()
            else:
                continue
            removed.append(path)
            log.info("%s: removed (left by a hook run that was stopped midway)", path)
    return removed


# The apps upstream's package stages for every user on install (its postinst touches their
# nginx app configs, then `nginx_stage app_reset` writes them), so a user's first visit goes
# straight to the app instead of the PUN's "Initialize App" page.
PRESTAGED_APPS = ("dashboard", "shell", "myjobs")


def touch_sys_app_configs(paths: Paths) -> None:
    """Empty sys app configs for the pre-staged apps this build ships (app_reset fills them)."""
    for name in PRESTAGED_APPS:
        if (paths.bundled_apps / name).is_dir():
            conf = paths.nginx_lib / "config" / "apps" / "sys" / f"{name}.conf"
            if not conf.exists():
                fsutil.atomic_write(conf, b"", 0o644)
                log.info("%s: created for nginx_stage app_reset", conf)


def _cluster_changes(
    settings: model.Settings, paths: Paths, problems: list[str]
) -> tuple[dict[Path, bytes], list[Path]]:
    wanted = {paths.clusters_d / f"{c.id}.yml": configfiles.cluster_yaml(c) for c in settings.clusters}
    writes: dict[Path, bytes] = {}
    for path, data in wanted.items():
        current = fsutil.read_or_none(path)
        if current is not None and not configfiles.is_snap_cluster_file(current):
            cluster_id = path.stem
            problems.append(
                f"clusters.{cluster_id}: {path} exists and was not written by the snap; "
                "move it away or choose another cluster id"
            )
        elif current != data:
            writes[path] = data
    removes = []
    if paths.clusters_d.is_dir():
        for path in sorted(paths.clusters_d.glob("*.yml")):
            if path not in wanted and configfiles.is_snap_cluster_file(path.read_bytes()):
                removes.append(path)
    return writes, removes


def _runs_our_apache(pid: int, conf: bytes) -> bool:
    try:
        return conf in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False


def _parent_pid(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def apache_main_pid(paths: Paths) -> int | None:
    """Apache's parent process, if one of ours runs: a process whose command line names our
    httpd.conf (so a stale pid whose number now belongs to another process is never
    signalled by a root hook). The PidFile first; Apache rewrites it during a graceful
    restart, so when it is empty, the parent is found among the processes instead."""
    conf = str(paths.httpd_conf).encode()
    data = fsutil.read_or_none(paths.apache_pid_file)
    text = data.decode("ascii", "replace").strip() if data else ""
    if text.isdigit() and _runs_our_apache(int(text), conf):
        return int(text)
    ours = {int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit() and _runs_our_apache(int(d.name), conf)}
    parents = sorted(pid for pid in ours if _parent_pid(pid) not in ours)
    return parents[0] if len(parents) == 1 else None


def loaded_modules(httpd_conf: bytes | None) -> set[str]:
    """The module identifiers a main config loads (its LoadModule lines)."""
    text = (httpd_conf or b"").decode("utf-8", "replace")
    return {m.group(1) for m in re.finditer(r"^\s*LoadModule\s+(\S+)", text, re.MULTILINE)}


def needs_restart(before: set[str], after: set[str]) -> bool:
    """True when the change loads or unloads modules: a graceful reload is not safe then.

    Measured in real snapd with the snap's Apache: a graceful restart that newly loads
    mod_auth_openidc leaves every new child segfaulting while the parent lives on (the unit
    stays "active", the portal serves nothing). Graceful reloads with mod_auth_openidc
    already loaded, before and after, are fine (six in a row, no crash, same parent), so
    only a change of the module set (the auth type) restarts Apache.
    """
    return before != after


def commit_portal(ctx: Context, update: portal.PortalUpdate, *, reload: bool) -> tuple[bool, bool]:
    """Install what `portal.prepare` decided; (a file Apache reads changed, Apache reloaded or
    restarted). Whether a graceful reload is safe is judged from the main config's plan:
    the LoadModule lines it had and the ones it will have."""
    main = update.httpd_plan
    changed = portal.commit(update, ctx.paths)
    if not (changed and reload):
        return changed, False
    restart = needs_restart(loaded_modules(main.current), loaded_modules(main.final))
    return changed, reload_apache(ctx, restart=restart)


def reload_apache(ctx: Context, *, restart: bool = False) -> bool:
    """Load a new configuration the way upstream's ExecReload does (`apachectl graceful`):
    SIGUSR1 to Apache's parent. Its listening sockets stay open, so no connection is refused;
    requests in flight finish on the old configuration. No snapd change is queued, so a hook
    killed afterwards leaves nothing pending, and no systemd start limit is ever reached.

    No Apache of ours running (failed, or between stop and start): restarted through snapctl,
    unless an admin disabled and stopped it."""
    service = f"{ctx.paths.name}.apache"
    if restart:
        log.info("the Apache modules changed: restarting %s, not reloading it", service)
    pid = None if restart else apache_main_pid(ctx.paths)
    if pid is not None:
        try:
            os.kill(pid, signal.SIGUSR1)
        except OSError as error:
            log.warning("could not signal Apache (pid %d: %s); restarting it instead", pid, error)
        else:
            log.info("reloading %s gracefully (SIGUSR1 to pid %d)", service, pid)
            return True
    try:
        statuses = {s.name: s for s in ctx.snapctl.services(service)}
    except HookError as error:
        log.debug("snapctl services failed (%s); restarting anyway", error)
        statuses = {}
    status = statuses.get(service)
    if status is not None and not status.enabled and not status.active:
        log.info(
            "%s is disabled and stopped: not starting it (start it with `snap start --enable %s`)", service, service
        )
        return False
    try:
        ctx.snapctl.restart(service)
    except HookError as error:
        log.warning("could not restart %s (%s); restart it with `sudo snap restart %s`", service, error, service)
        return False
    log.info("restarting %s to load the new configuration (no running Apache to reload)", service)
    return True


# --- configuration -------------------------------------------------------------------------


def _oidc_passphrase(settings: model.PortalSettings, paths: Paths) -> tuple[str | None, str | None]:
    """(passphrase for ood_portal.yml, one to write first if it is new): mod_auth_openidc's
    session key (upstream's required `oidc_crypto_passphrase`), generated once and kept."""
    if not settings.oidc:
        return None, None
    passphrase, problem = portal.read_passphrase(paths)
    if problem:
        raise ConfigError([problem], brief="cannot generate the portal configuration")
    if passphrase is None:
        passphrase = portal.new_passphrase()
        return passphrase, passphrase
    return passphrase, None


def _set_maintenance(paths: Paths, enabled: bool, applied: Applied) -> None:
    """Upstream's switch: the vhost redirects to the maintenance page while the flag file
    exists (checked per request, so no reload)."""
    flag = paths.maintenance_enable
    if enabled and not flag.exists():
        fsutil.atomic_write(flag, b"", 0o644)
        applied.written.append(flag)
        log.info("%s: created (maintenance mode on)", flag)
    elif not enabled and flag.exists():
        flag.unlink()
        applied.removed.append(flag)
        log.info("%s: removed (maintenance mode off)", flag)


def _prepare_portal(
    settings: model.PortalSettings,
    yml: bytes,
    paths: Paths,
    site: dict[str, Any],
    *,
    force: bool = False,
    rerun: bool = False,
    passphrase_to_write: str | None = None,
    runner: Runner = subprocess.run,
) -> portal.PortalUpdate:
    """`portal.prepare`, with a refusal of the generator or httpd -t put on the site keys
    behind it."""
    try:
        return portal.prepare(
            settings, yml, paths, force=force, rerun=rerun, passphrase_to_write=passphrase_to_write, runner=runner
        )
    except ConfigError as error:
        raise sitefile.attribute(error, site, paths) from None


def apply_configuration(ctx: Context, *, restart: bool, rerun: bool = False) -> Applied:
    """Validate the snap configuration and bring every file in line with it.

    Everything is checked first (values, existing files, ood_portal.site.yml, upstream's
    generator, httpd -t); only then is anything written. On any problem ConfigError lists
    them all and no file is touched.
    """
    paths = ctx.paths
    started = time.monotonic()
    problems: list[str] = []
    try:
        settings: model.Settings | None = model.parse(ctx.snapctl.get(*model.NAMESPACES))
    except ConfigError as error:
        problems += error.problems
        settings = None

    ns_current = fsutil.read_or_none(paths.nginx_stage_yml)
    ns_existing: dict[str, object] = {}
    if ns_current is not None:
        ns_existing, problem = configfiles.load_yaml_mapping(paths.nginx_stage_yml, ns_current)
        if problem:
            problems.append(problem)
    site, site_problems = sitefile.load(paths)
    problems += site_problems

    cluster_writes: dict[Path, bytes] = {}
    cluster_removes: list[Path] = []
    if settings is not None:
        cluster_writes, cluster_removes = _cluster_changes(settings, paths, problems)
    if problems or settings is None:
        raise ConfigError(problems)

    for warning in settings.warnings:
        log.warning("%s", warning)

    passphrase, passphrase_to_write = _oidc_passphrase(settings.portal, paths)
    portal_yml = configfiles.render_portal_yaml(settings.portal, paths, passphrase, site)
    # Generate from the file's content, exactly as `update-portal` would read it back.
    mapping, problem = configfiles.load_yaml_mapping(paths.ood_portal_yml, portal_yml)
    if problem:
        raise InternalError(f"generated ood_portal.yml does not load: {problem}")
    portal_settings = configfiles.portal_from_yaml(mapping, paths, str(paths.ood_portal_yml), site)
    ns_yml, notes = configfiles.render_nginx_stage_yaml(settings, paths, ns_existing)

    validated = time.monotonic()
    update = _prepare_portal(
        portal_settings,
        portal_yml,
        paths,
        site,
        rerun=rerun,
        passphrase_to_write=passphrase_to_write,
        runner=ctx.runner,
    )
    prepared = time.monotonic()

    # --- everything checked: write -------------------------------------------------------
    applied = Applied()
    try:
        for path, data, mode in (
            (paths.ood_portal_yml, portal_yml, 0o600),
            (paths.nginx_stage_yml, ns_yml, 0o644),
            *((p, d, 0o644) for p, d in sorted(cluster_writes.items())),
        ):
            if fsutil.write_if_changed(path, data, mode):
                applied.written.append(path)
                log.info("%s: written", path)
    except BaseException:
        update.discard()
        raise
    for note in notes:
        log.warning("%s", note)
    for path in cluster_removes:
        path.unlink()
        applied.removed.append(path)
        log.info("%s: removed (its clusters.%s keys were unset)", path, path.stem)
    _set_maintenance(paths, settings.portal.maintenance, applied)
    applied.portal_changed, applied.restarted = commit_portal(ctx, update, reload=restart)
    if not applied.written and not applied.removed and not applied.portal_changed:
        log.info("configuration unchanged")
    # Where a snap set's time goes inside the hook (bench_snap_set.py reads this line).
    phases = {"snapctl get + validation": validated - started, **update.seconds}
    phases["other preparation"] = prepared - validated - sum(update.seconds.values())
    phases["writes + reload"] = time.monotonic() - prepared
    log.info("timing: %s", ", ".join(f"{name} {value:.3f}s" for name, value in phases.items()))
    return applied


# --- hooks ---------------------------------------------------------------------------------


def install(ctx: Context) -> Applied:
    ensure_tree(ctx.paths)
    remove_stale_temporaries(ctx.paths)
    install_pages(ctx.paths)
    link_bundled_apps(ctx.paths)
    sudoers.install(ctx.paths, ctx.runner, ctx.sudo)
    # snapd starts the services after the install and configure hooks: no restart here.
    applied = apply_configuration(ctx, restart=False, rerun=True)
    if ctx.paths.ondemand_present and ctx.paths.nginx_stage.exists():
        touch_sys_app_configs(ctx.paths)
        _nginx_stage(ctx, "app_reset", "--sub-uri=/pun")
    return applied


def configure(ctx: Context) -> Applied:
    remove_stale_temporaries(ctx.paths)
    return apply_configuration(ctx, restart=True)


def _nginx_stage(ctx: Context, *args: str) -> bool:
    env = dict(os.environ, NGINX_STAGE_CONFIG_FILE=str(ctx.paths.nginx_stage_yml))
    command = [str(ctx.paths.nginx_stage), *args]
    try:
        done = ctx.runner(command, capture_output=True, text=True, timeout=600, check=False, env=env)
    except (OSError, subprocess.TimeoutExpired) as error:
        log.warning("nginx_stage %s could not run: %s", " ".join(args), error)
        return False
    output = " ".join((done.stdout + done.stderr).split())
    if done.returncode != 0:
        log.warning("nginx_stage %s failed (exit %d): %s", " ".join(args), done.returncode, output[:2000])
        return False
    log.info("nginx_stage %s: done%s", " ".join(args), f" ({output[:500]})" if output else "")
    return True


def post_refresh(ctx: Context) -> Applied:
    paths = ctx.paths
    ensure_tree(paths)
    remove_stale_temporaries(paths)
    install_pages(paths)
    link_bundled_apps(paths)
    sudoers.install(paths, ctx.runner, ctx.sudo)
    # snapd starts the new revision's services after this hook: no restart needed. The
    # generator runs again: the new revision's templates may differ.
    applied = apply_configuration(ctx, restart=False, rerun=True)
    if paths.ondemand_present and paths.nginx_stage.exists():
        # What upstream's postinst and update_nginx_stage do after a package upgrade.
        touch_sys_app_configs(paths)
        _nginx_stage(ctx, "app_clean")
        _nginx_stage(ctx, "app_reset", "--sub-uri=/pun")
        _nginx_stage(ctx, "nginx_clean")
    else:
        log.info("OnDemand is not in this build: no per-user nginx configs to refresh")
    return applied


def _snap_roots(paths: Paths) -> set[Path]:
    """Where the snap's binaries live: every revision when mounted as /snap/<name>/<rev>
    (PUNs started before a refresh run from the older revision), else just $SNAP."""
    roots = {paths.snap}
    try:
        roots.add(paths.snap.resolve())
    except OSError:
        pass
    if paths.snap_stable != paths.snap:
        roots.add(paths.snap.parent)
    return roots


def remove(ctx: Context) -> None:
    paths = ctx.paths
    if paths.ondemand_present and paths.nginx_stage.exists():
        _nginx_stage(ctx, "nginx_clean", "--force")
    # Whatever nginx_stage did (or could not do), nothing of ours may keep running: a
    # leftover process would keep the snap's squashfs busy and outlive its sudoers rule.
    pids = processes.find(_snap_roots(paths))
    if pids:
        log.info("stopping %d nginx process(es) of the snap: %s", len(pids), ", ".join(map(str, pids)))
        killed = processes.stop(pids)
        if killed:
            log.warning("had to SIGKILL: %s", ", ".join(map(str, killed)))
    else:
        log.info("no nginx processes of the snap running")
    sudoers.remove(paths)


def _remerge_site_file(data: bytes, mapping: dict[str, Any], site: dict[str, Any], paths: Paths) -> bytes:
    """ood_portal.yml with the site keys it was written with (its header names them)
    replaced by the site file's current ones; the file as it is when that changes nothing,
    so an admin's edit of a snap key keeps its form."""
    recorded = configfiles.recorded_site_keys(data) & configfiles.site_portal_keys(paths)
    merged = {name: value for name, value in mapping.items() if name not in recorded}
    merged.update(site)
    if merged == mapping and recorded == set(site):
        return data
    return configfiles.dump_yaml(configfiles.portal_header(site), merged)


def update_portal(ctx: Context, force: bool) -> bool:
    """The admin command: merge ood_portal.site.yml into ood_portal.yml again and render it
    into the Apache config. Everything is checked first (ood_portal.yml strictly, the site
    file, upstream's generator, httpd -t); only then are ood_portal.yml (if the site file
    changed) and the Apache config written."""
    paths = ctx.paths
    where = str(paths.ood_portal_yml)
    data = fsutil.read_or_none(paths.ood_portal_yml)
    if data is None:
        raise HookError(
            f"{paths.ood_portal_yml} does not exist",
            resolution="run `sudo snap set ondemand portal.port=80` (any portal key) to have the snap write it",
        )
    mapping, problem = configfiles.load_yaml_mapping(paths.ood_portal_yml, data)
    if problem:
        raise ConfigError([problem], brief=f"{where} is invalid")
    site, site_problems = sitefile.load(paths)
    yml = _remerge_site_file(data, mapping, site, paths)
    merged, problem = configfiles.load_yaml_mapping(paths.ood_portal_yml, yml)
    if problem:
        raise InternalError(f"re-merged ood_portal.yml does not load: {problem}")
    try:
        settings = configfiles.portal_from_yaml(merged, paths, where, site)
    except ConfigError as error:
        brief = "configuration refused" if site_problems else error.brief
        raise ConfigError(site_problems + error.problems, brief=brief) from None
    if site_problems:
        raise ConfigError(site_problems)
    update = _prepare_portal(settings, yml, paths, site, force=force, rerun=True, runner=ctx.runner)
    if yml != data:
        try:
            fsutil.atomic_write(paths.ood_portal_yml, yml, 0o600)
        except BaseException:
            update.discard()
            raise
        log.info("%s: written (%s merged again)", paths.ood_portal_yml, paths.ood_portal_site_yml.name)
    changed, _ = commit_portal(ctx, update, reload=True)
    if not changed:
        log.info("Apache configuration unchanged")
    return changed
