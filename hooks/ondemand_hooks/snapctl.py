"""The one door to snapd: `snapctl`. Unit tests replace it with a fake of the same shape."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import HookError


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    enabled: bool
    active: bool


class SnapctlLike(Protocol):
    def get(self, *keys: str) -> dict[str, Any]: ...

    def set(self, values: dict[str, Any]) -> None: ...

    def unset(self, *keys: str) -> None: ...

    def restart(self, *services: str) -> None: ...

    def services(self, *services: str) -> list[ServiceStatus]: ...


class Snapctl:
    """Runs the real `snapctl` (available in hooks and in the snap's apps)."""

    def __init__(self, executable: str = "snapctl", timeout: float = 120.0) -> None:
        self.executable = executable
        self.timeout = timeout

    def _run(self, *args: str) -> str:
        try:
            done = subprocess.run(
                [self.executable, *args], capture_output=True, text=True, timeout=self.timeout, check=False
            )
        except FileNotFoundError as error:
            raise HookError(f"snapctl not found ({error})", resolution="run this from a snap hook or app") from None
        except subprocess.TimeoutExpired:
            raise HookError(f"snapctl {' '.join(args)} did not finish in {self.timeout:.0f}s") from None
        if done.returncode != 0:
            raise HookError(f"snapctl {' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def get(self, *keys: str) -> dict[str, Any]:
        """The values of `keys` as one JSON document (`-d`); unset keys are left out.

        snapctl has no "everything" query: a bare `get` fails, so callers name the namespaces.
        """
        if not keys:
            raise HookError(
                "snapctl get needs at least one key", resolution="name the configuration namespaces to read"
            )
        text = self._run("get", "-d", *keys)
        try:
            value = json.loads(text) if text.strip() else {}
        except json.JSONDecodeError as error:
            raise HookError(f"snapctl get -d returned something that is not JSON ({error})") from None
        if not isinstance(value, dict):
            raise HookError(f"snapctl get -d returned {type(value).__name__}, not an object")
        return value

    def set(self, values: dict[str, Any]) -> None:
        if values:
            self._run("set", *(f"{k}={json.dumps(v)}" for k, v in values.items()))

    def unset(self, *keys: str) -> None:
        if keys:
            self._run("unset", *keys)

    def restart(self, *services: str) -> None:
        self._run("restart", *services)

    def services(self, *services: str) -> list[ServiceStatus]:
        return parse_services(self._run("services", *services))


def parse_services(text: str) -> list[ServiceStatus]:
    """Parse `snapctl services` output (Service / Startup / Current / Notes columns)."""
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3:
            out.append(ServiceStatus(fields[0], fields[1] == "enabled", fields[2] == "active"))
    return out
