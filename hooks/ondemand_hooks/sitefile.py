"""ood_portal.site.yml: the admin's own ood_portal.yml keys, merged into the snap's.

Every upstream ood_portal.yml key the snap does not manage (custom directives, log files,
user mapping, the register and discover pages, ...) may be set there. The configure hook
and update-portal merge it into the ood_portal.yml they write, after the snap's keys, so
upstream's generator renders those values as on any other install. The snap only reads
the file, and only while root owns it and nobody else can write it: root's hooks apply
it, and it may hold secrets.

Nothing checks these values but upstream's generator and `httpd -t`; when either refuses,
`attribute` names the site keys behind it.
"""

from __future__ import annotations

import datetime
import os
import pwd
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import configfiles, portal, upstream
from .env import Paths
from .errors import ConfigError

# Upstream reads ood_portal.yml with Ruby's safe YAML loader, which knows only these.
_RUBY_SAFE_SCALARS = (str, int, float, bool, type(None))
_FOREIGN_KINDS = {datetime.datetime: "timestamp", datetime.date: "date", set: "set", bytes: "binary", tuple: "pairs"}


def load(paths: Paths) -> tuple[dict[str, Any], list[str]]:
    """(the site file's keys, []), ({}, []) when there is no file, or ({}, every problem)."""
    path = paths.ood_portal_site_yml
    data, problems = _read_root_owned(path)
    if data is None:
        return {}, problems
    mapping, problem = configfiles.load_yaml_mapping(path, data)
    if problem:
        return {}, [problem]
    problems += key_problems(path, mapping, paths)
    return ({}, problems) if problems else (mapping, [])


def key_problems(path: Path, mapping: Mapping[str, Any], paths: Paths) -> list[str]:
    """What the configure hook would refuse of these site keys (as if in `path`)."""
    managed = configfiles.managed_portal_keys(paths)
    return [p for p in (_key_problem(path, name, value, managed) for name, value in mapping.items()) if p]


def _read_root_owned(path: Path) -> tuple[bytes | None, list[str]]:
    """The file's bytes if it may be applied; (None, []) when absent."""
    try:
        # O_NONBLOCK: a FIFO in its place must not hang the hook.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        if path.is_symlink():
            return None, [f"{path}: is a symbolic link to a missing file; fix or remove it"]
        return None, []
    except OSError as error:
        return None, [f"{path}: cannot be read ({error.strerror}); fix or remove it"]
    with os.fdopen(fd, "rb") as handle:
        # The opened file itself is checked, so a swap after the check changes nothing.
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None, [f"{path}: is not a regular file; put a YAML file there or remove it"]
        problems = _ownership_problems(path, st)
        if problems:
            return None, problems
        return handle.read(), []


def _ownership_problems(path: Path, st: os.stat_result) -> list[str]:
    problems = []
    why = "its values reach root's hooks and it may hold secrets"
    # Root in the snap; an unprivileged run (a developer's tests) trusts its own files.
    if st.st_uid not in (0, os.geteuid()):
        try:
            owner = f"{pwd.getpwuid(st.st_uid).pw_name} (uid {st.st_uid})"
        except KeyError:
            owner = f"uid {st.st_uid}"
        problems.append(f"{path}: is owned by {owner}, not root ({why}); run `sudo chown root:root {path}`")
    if st.st_mode & 0o022:
        who = " and ".join(w for w, bit in (("its group", 0o020), ("all users", 0o002)) if st.st_mode & bit)
        problems.append(
            f"{path}: is writable by {who} (mode {stat.S_IMODE(st.st_mode):04o}; {why}); run `sudo chmod 600 {path}`"
        )
    return problems


def _key_problem(path: Path, name: str, value: Any, managed: Mapping[str, str]) -> str | None:
    if name in managed:
        return f"{path}: {name}: managed by the snap, remove it from this file; {managed[name]}"
    if name not in upstream.PORTAL_KEYS:
        hint = configfiles.did_you_mean(name, upstream.PORTAL_KEYS)
        return (
            f"{path}: {name}: not an ood_portal.yml key of OnDemand {upstream.ONDEMAND_VERSION}{hint}; "
            "rename or remove it"
        )
    kind = _foreign_kind(value)
    if kind:
        return (
            f"{path}: {name}: holds a YAML {kind}, which upstream's generator cannot read "
            "(Ruby's safe YAML); quote the value to make it a string"
        )
    return None


def _foreign_kind(value: Any) -> str | None:
    """The first value Ruby's safe loader would refuse (a date, set, binary ...), if any."""
    if isinstance(value, dict):
        for item in (*value.keys(), *value.values()):
            kind = _foreign_kind(item)
            if kind:
                return kind
        return None
    if isinstance(value, list):
        return next((kind for kind in map(_foreign_kind, value) if kind), None)
    if isinstance(value, _RUBY_SAFE_SCALARS):
        return None
    return next((kind for cls, kind in _FOREIGN_KINDS.items() if isinstance(value, cls)), type(value).__name__)


# --- who is to blame for a refusal ---------------------------------------------------------

_APACHE_LOCATION = re.compile(r"Syntax error on line (\d+) of (.+?):(?: |$)")


def attribute(error: ConfigError, site: Mapping[str, Any], paths: Paths) -> ConfigError:
    """`error` restated in terms of the site keys behind it, when they are: the snap's own
    values were all validated, so a refusal of the generator or `httpd -t` with site keys
    merged is theirs. httpd -t names a line of the vhost: the keys whose values are on it."""
    if not site:
        return error
    site_file = paths.ood_portal_site_yml
    if isinstance(error, portal.GeneratorRefused):
        return ConfigError(
            [
                f"{site_file}: {', '.join(site)}: update_ood_portal refused ood_portal.yml with these keys "
                f"from this file: {error.reason}; check their values"
            ],
            brief=error.brief,
        )
    if not isinstance(error, portal.ApacheRefused):
        return error
    located = _apache_complaint(error.output, str(paths.portal_conf))
    if located is None:
        return error  # not about the vhost (the main httpd.conf, a module)
    number, words = located
    lines = (error.vhost or b"").decode("utf-8", "replace").splitlines()
    text = lines[number - 1] if 0 < number <= len(lines) else ""
    culprits = [name for name, value in site.items() if any(_occurs(f, text) for f in _fragments(value))]
    where = f"line {number} of the generated {paths.portal_conf.name}"
    if not culprits:
        return ConfigError(
            error.problems
            + [
                f"{site_file}: its keys ({', '.join(site)}) are in the vhost httpd -t refused ({where}); "
                "check their values"
            ],
            brief=error.brief,
        )
    return ConfigError(
        [f"{site_file}: {name}: httpd -t rejected it: {words} ({where})" for name in culprits], brief=error.brief
    )


def _apache_complaint(output: list[str], vhost: str) -> tuple[int, str] | None:
    """(line number, Apache's words) of the first error Apache locates in the vhost. Apache
    says `Syntax error on line N of FILE:` with its words after it or on the next line; an
    error in an included file is located in the including one first, on the same line."""
    for index, line in enumerate(output):
        found = [m for m in _APACHE_LOCATION.finditer(line) if m.group(2) == vhost]
        if found:
            words = line[found[-1].end() :].strip()
            if not words and index + 1 < len(output):
                words = output[index + 1].strip()
            return int(found[-1].group(1)), words
    return None


def _fragments(value: Any) -> list[str]:
    """A value as the text upstream's templates print of it: each scalar, line by line."""
    if isinstance(value, dict):
        return [f for item in (*value.keys(), *value.values()) for f in _fragments(item)]
    if isinstance(value, list):
        return [f for item in value for f in _fragments(item)]
    if value is None:
        return []
    if isinstance(value, bool):
        return ["true" if value else "false"]  # as Ruby prints them
    return [line.strip() for line in str(value).splitlines() if line.strip()]


def _occurs(fragment: str, line: str) -> bool:
    """`fragment` in `line`, not as part of a longer word (a port 80 is not in 8080)."""
    pattern = re.escape(fragment)
    if re.match(r"\w", fragment):
        pattern = r"(?<!\w)" + pattern
    if re.search(r"\w$", fragment):
        pattern += r"(?!\w)"
    return re.search(pattern, line) is not None
