"""TLS trust for downloads: the system's CA bundle (which includes locally installed CAs)."""

from __future__ import annotations

import os
from pathlib import Path

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def ca_bundle() -> str | bool:
    """A path for `requests(verify=...)`: the system bundle where there is one, else certifi's."""
    return str(SYSTEM_BUNDLE) if SYSTEM_BUNDLE.exists() else True


def use_system_trust() -> None:
    """Make code we don't call directly trust the system CAs: craft-parts' source handlers
    (requests) and the part builds' Node tools (yarn: Node ships its own CA list, so a site's
    own or TLS-inspecting CA in the system bundle is otherwise refused)."""
    if SYSTEM_BUNDLE.exists():
        os.environ.setdefault("REQUESTS_CA_BUNDLE", str(SYSTEM_BUNDLE))
        os.environ.setdefault("NODE_EXTRA_CA_CERTS", str(SYSTEM_BUNDLE))
