"""Value validators: each takes what snapd stored and returns the normalized value or raises.

Every string that reaches a generated Apache or nginx file passes `check_text`, which
refuses anything that could end a quoted string, start a new line (a new directive), open
or close a section (`<`, `>`), or expand a variable (`${`). The renderers quote every value
and re-check it, so a validator bug cannot become an injection on its own.

An `Invalid` message may contain `{value}`; the model fills it with the shown value (or
"(hidden)" for secrets), so the final line reads `portal.port: "70000" is not a port; ...`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class Invalid(Exception):
    """One problem with one value; `str()` is the message after `key: `."""


Validator = Callable[[Any], Any]

# Characters that must never appear in a value written into a config file.
_FORBIDDEN_CHARS = {
    '"': "a double quote",
    "'": "a single quote",
    "\\": "a backslash",
    "<": "a '<'",
    ">": "a '>'",
    "`": "a backquote",
}
MAX_TEXT = 1024


def show(value: Any) -> str:
    """How a value appears in a message: JSON-quoted (line breaks visible), shortened."""
    text = value if isinstance(value, str) else json.dumps(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return json.dumps(text, ensure_ascii=False)


def as_text(value: Any) -> str:
    """snapd stores `k=5` as a number and `k=x` as a string; text keys accept both."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise Invalid("{value} is not text; give a plain string")
    return str(value)


def text_problem(text: str, allow: str = "") -> str | None:
    """Why `text` may not be written into a config file, or None if it may."""
    for ch in text:
        if ch in ("\n", "\r"):
            return "contains a line break"
        if ord(ch) < 32 or ord(ch) == 127:
            return f"contains the control character U+{ord(ch):04X}"
        if ch in _FORBIDDEN_CHARS and ch not in allow:
            return f"contains {_FORBIDDEN_CHARS[ch]}"
    if "${" in text:
        return "contains '${' (Apache would expand it as a variable)"
    if len(text) > MAX_TEXT:
        return f"is longer than {MAX_TEXT} characters"
    return None


def check_text(text: str, allow: str = "") -> str:
    problem = text_problem(text, allow)
    if problem:
        raise Invalid("{value} " + problem + "; such characters cannot be written safely into the config")
    return text


@dataclass(frozen=True)
class Text:
    """Free text (titles, secrets, environment values)."""

    allow_spaces: bool = True
    max_length: int = MAX_TEXT

    def __call__(self, value: Any) -> str:
        text = check_text(as_text(value))
        if len(text) > self.max_length:
            raise Invalid(f"{{value}} is longer than {self.max_length} characters")
        if not self.allow_spaces and any(ch.isspace() for ch in text):
            raise Invalid("{value} contains spaces; give a single word")
        return text


@dataclass(frozen=True)
class Token:
    """A word from a restricted alphabet (client ids, claim names, cluster names)."""

    pattern: str
    what: str

    def __call__(self, value: Any) -> str:
        text = check_text(as_text(value))
        if not re.fullmatch(self.pattern, text):
            raise Invalid(f"{{value}} is not {self.what}")
        return text


@dataclass(frozen=True)
class Integer:
    minimum: int
    maximum: int
    what: str = "a whole number"
    advice: str = ""

    def __call__(self, value: Any) -> int:
        number: int | None = None
        if isinstance(value, bool):
            number = None
        elif isinstance(value, int):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?[0-9]{1,20}\s*", value):
            number = int(value)
        advice = self.advice or f"use a number from {self.minimum} to {self.maximum}"
        if number is None or not self.minimum <= number <= self.maximum:
            raise Invalid(f"{{value}} is not {self.what}; {advice}")
        return number


PORT = Integer(1, 65535, "a port")


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise Invalid("{value} is not true or false")


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]

    def __call__(self, value: Any) -> str:
        text = as_text(value).strip()
        if text not in self.options:
            raise Invalid(f"{{value}} is not one of: {', '.join(self.options)}")
        return text


_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def is_hostname(text: str) -> bool:
    """RFC 1123 host name (also matches dotted IPv4 literals)."""
    if not text or len(text) > 253 or text.endswith("."):
        return False
    return all(_LABEL.fullmatch(label) for label in text.split("."))


def hostname(value: Any) -> str:
    text = as_text(value).strip()
    if not is_hostname(text):
        raise Invalid(
            "{value} is not a host name; use letters, digits, '-' and '.' (RFC 1123), e.g. ondemand.example.edu"
        )
    return text.lower()


def split_list(value: Any) -> list[Any]:
    """A list given as a JSON list or as a comma-separated string; blanks are dropped."""
    if isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = value.split(",")
    else:
        raise Invalid("{value} is not a list; separate entries with commas")
    stripped = [item.strip() if isinstance(item, str) else item for item in items]
    return [item for item in stripped if item != ""]


@dataclass(frozen=True)
class ListOf:
    item: Validator
    what: str

    def __call__(self, value: Any) -> list[Any]:
        out: list[Any] = []
        for entry in split_list(value):
            try:
                normalized = self.item(entry)
            except Invalid as error:
                # Name the entry, not the whole list.
                raise Invalid(str(error).replace("{value}", show(entry)) + f" (in the list of {self.what})") from None
            if normalized not in out:
                out.append(normalized)
        return out


def is_passphrase(text: object) -> bool:
    """A crypto passphrase as the snap writes them: 32+ lower-case hex digits."""
    return isinstance(text, str) and len(text) >= 32 and set(text) <= set("0123456789abcdef")


def maintenance_client(value: Any) -> str:
    """An allowlist entry in upstream's form: upstream's generator writes each entry as
    `RewriteCond %{REMOTE_ADDR} !^<entry, dots escaped>`, a prefix of the client's address.
    An IP address is kept as is; an IPv4 network on an octet boundary (/8, /16, /24) becomes
    the prefix that matches exactly it (192.168.10.0/24 -> "192.168.10."); other networks
    cannot be written that way and are refused."""
    text = as_text(value).strip()
    advice = (
        "{value} is not an IP address or an IPv4 network of /8, /16 or /24 (upstream's allowlist "
        "matches the start of the client's address), e.g. 10.0.0.5 or 192.168.0.0/16"
    )
    prefix = re.fullmatch(r"((?:[0-9]{1,3}\.){1,3})", text)
    if prefix and all(int(octet) <= 255 for octet in text.split(".")[:-1]):
        return text  # upstream's own form, e.g. "192.168.10."
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise Invalid(advice) from None
    if network.num_addresses == 1:
        return str(network.network_address)
    if network.version == 4 and network.prefixlen in (8, 16, 24):
        octets = str(network.network_address).split(".")[: network.prefixlen // 8]
        return ".".join(octets) + "."
    raise Invalid(advice)


def listen_address(value: Any) -> str:
    """`PORT`, `IPv4:PORT` or `[IPv6]:PORT` (Apache's Listen syntax)."""
    text = as_text(value).strip()
    advice = "{value} is not PORT, IPv4:PORT or [IPv6]:PORT, e.g. 443 or 192.0.2.10:443"
    match = re.fullmatch(r"(?:(\[[0-9A-Fa-f:.]+\]|[0-9.]+):)?([0-9]{1,5})", text)
    if not match:
        raise Invalid(advice)
    host, port = match.group(1), int(match.group(2))
    if not 1 <= port <= 65535:
        raise Invalid("{value} has no valid port; use a port from 1 to 65535")
    if host is None:
        return str(port)
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise Invalid(advice) from None
    if address.version == 6:
        if not host.startswith("["):
            raise Invalid(advice)
        return f"[{address}]:{port}"
    if host.startswith("["):
        raise Invalid(advice)
    return f"{address}:{port}"


def listen_port(entry: str) -> int:
    return int(entry.rsplit(":", 1)[-1])


@dataclass(frozen=True)
class Url:
    """An absolute URL; `https` only unless told otherwise."""

    schemes: tuple[str, ...] = ("https",)

    def __call__(self, value: Any) -> str:
        text = check_text(as_text(value).strip())
        parts = urlsplit(text)
        if parts.scheme not in self.schemes:
            raise Invalid(
                f"{{value}} is not an {' or '.join(self.schemes)} URL; it must start with {self.schemes[0]}://"
            )
        try:
            port = parts.port
        except ValueError:
            raise Invalid("{value} has an invalid port") from None
        host = parts.hostname or ""
        if not is_hostname(host) and not _is_ip(host):
            raise Invalid("{value} has no valid host name")
        if parts.username or parts.password:
            raise Invalid("{value} contains credentials; put them elsewhere")
        if any(ch.isspace() for ch in text):
            raise Invalid("{value} contains spaces")
        if port is not None and not 1 <= port <= 65535:
            raise Invalid("{value} has an invalid port")
        return text


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


_URI_PATH = re.compile(r"/[A-Za-z0-9._~-]+(?:/[A-Za-z0-9._~-]+)*")


def uri_path(value: Any) -> str:
    text = as_text(value).strip()
    if not _URI_PATH.fullmatch(text) or "/../" in text + "/" or "/./" in text + "/":
        raise Invalid("{value} is not a URL path; use something like /oidc (letters, digits, '.', '_', '~', '-')")
    return text


def _absolute_path(value: Any) -> Path:
    text = check_text(as_text(value).strip())
    if not text.startswith("/"):
        raise Invalid("{value} is not an absolute path; start it with /")
    if any(ch.isspace() for ch in text):
        raise Invalid("{value} contains spaces; use a path without them")
    return Path(os.path.normpath(text))


def readable_by(path: Path, user: str) -> str | None:
    """Why `user` cannot read `path` (every parent searchable, the file readable by its
    owner, group or others bits as they apply to that user), or None when it can.

    Decided from the modes and ownership, as the kernel would for that user (no ACLs), so
    root's hook can tell whether Apache's workers will be able to open the file."""
    import grp
    import pwd

    try:
        account = pwd.getpwnam(user)
    except KeyError:
        # snapd creates the portal's user before any hook runs; without it (a test host)
        # there is no account whose rights could be judged.
        return None
    if account.pw_uid == 0:
        return None
    groups = {account.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem}

    def allowed(st: os.stat_result, bits: tuple[int, int, int]) -> bool:
        if st.st_uid == account.pw_uid:
            return bool(st.st_mode & bits[0])
        if st.st_gid in groups:
            return bool(st.st_mode & bits[1])
        return bool(st.st_mode & bits[2])

    for parent in reversed(path.parents):
        if not allowed(parent.stat(), (stat.S_IXUSR, stat.S_IXGRP, stat.S_IXOTH)):
            return f"{user} cannot enter {parent} (mode {stat.filemode(parent.stat().st_mode)})"
    st = path.stat()
    if not allowed(st, (stat.S_IRUSR, stat.S_IRGRP, stat.S_IROTH)):
        return (
            f"{user} cannot read it (mode {stat.filemode(st.st_mode)}); e.g. `chgrp {user} {path} && chmod 640 {path}`"
        )
    return None


@dataclass(frozen=True)
class ExistingFile:
    """An absolute path to a regular file root can read; optionally a PEM of some kind;
    optionally one that `reader` (the account that opens it at run time) can read too."""

    what: str
    pem_marker: str | None = None
    reader: str | None = None

    def __call__(self, value: Any) -> str:
        path = _absolute_path(value)
        try:
            st = path.stat()
        except FileNotFoundError:
            raise Invalid(f"{{value}} does not exist; give the path of the {self.what}") from None
        except OSError as error:
            raise Invalid(f"{{value}} cannot be read ({error.strerror})") from None
        if not stat.S_ISREG(st.st_mode):
            raise Invalid(f"{{value}} is not a regular file; give the path of the {self.what}")
        try:
            with open(path, "rb") as handle:
                head = handle.read(256 * 1024)
        except OSError as error:
            raise Invalid(f"{{value}} cannot be read ({error.strerror})") from None
        if self.pem_marker is not None and self.pem_marker.encode() not in head:
            raise Invalid(f"{{value}} is not a PEM {self.what} (no '{self.pem_marker}' line)")
        if self.reader is not None:
            why = readable_by(path, self.reader)
            if why is not None:
                raise Invalid(f"{{value}}: the {self.what} must be readable by the portal's user, but {why}")
        return str(path)


@dataclass(frozen=True)
class ExistingDir:
    what: str

    def __call__(self, value: Any) -> str:
        path = _absolute_path(value)
        if not path.is_dir():
            raise Invalid(f"{{value}} is not an existing directory; give the {self.what}")
        return str(path)


@dataclass(frozen=True)
class Regex:
    """A PCRE for Apache (checked with Python's re, which is close enough to catch typos)."""

    def __call__(self, value: Any) -> str:
        text = check_text(as_text(value), allow="\\")
        if not text or any(ch.isspace() for ch in text):
            raise Invalid("{value} is not a regular expression without spaces")
        try:
            re.compile(text)
        except re.error as error:
            raise Invalid(f"{{value}} is not a valid regular expression ({error})") from None
        if text.endswith("\\"):
            raise Invalid("{value} ends with a backslash")
        return text


def lua_pattern(value: Any) -> str:
    """A Lua pattern (mod_ood_proxy's user mapping): no backslashes needed (Lua escapes with %)."""
    text = check_text(as_text(value))
    if not text or any(ch.isspace() for ch in text):
        raise Invalid("{value} is not a Lua pattern without spaces, e.g. ^([^@]+)@example%.edu$")
    return text


def oidc_scope(value: Any) -> str:
    text = check_text(as_text(value).strip())
    scopes = text.split()
    if not scopes or not all(re.fullmatch(r"[A-Za-z0-9_.:/-]+", s) for s in scopes):
        raise Invalid("{value} is not a space-separated list of scopes, e.g. openid profile email")
    if "openid" not in scopes:
        raise Invalid("{value} lacks the 'openid' scope that OpenID Connect requires")
    return " ".join(dict.fromkeys(scopes))


ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def env_name_from_key(segment: str) -> str:
    """`ood-dashboard-title` -> `OOD_DASHBOARD_TITLE` (snapd keys are lower-case with dashes)."""
    if re.fullmatch(r"[a-z0-9-]+", segment):
        name = segment.upper().replace("-", "_")
    else:
        name = segment
    if not ENV_NAME.fullmatch(name):
        raise Invalid(
            f"{show(segment)} is not an environment variable name ([A-Z_][A-Z0-9_]*); "
            "write it dash-cased, e.g. nginx-stage.pun-custom-env.ood-dashboard-title"
        )
    return name
