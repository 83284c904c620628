"""TLS trust for downloads: the system's CA bundle (which includes locally installed CAs)."""

from __future__ import annotations

import os
from pathlib import Path

SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def ca_bundle() -> str | bool:
    """A path for `requests(verify=...)`: the system bundle where there is one, else certifi's."""
    return str(SYSTEM_BUNDLE) if SYSTEM_BUNDLE.exists() else True


def use_system_trust() -> None:
    """Make requests-based code we don't call directly (craft-parts' source handlers) trust the system CAs."""
    if SYSTEM_BUNDLE.exists():
        os.environ.setdefault("REQUESTS_CA_BUNDLE", str(SYSTEM_BUNDLE))
