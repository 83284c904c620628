"""Distributions: whose userland each snap base is, and what this project's LXD images run.

A build stages its packages from the build host's archive; whether that is the base's own
userland decides whether the snap is what the store would build (build/buildfacts.py reads the
host, build-info and the audit say which it was).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Distribution:
    id: str  # os-release ID: debian, ubuntu
    version: str  # VERSION_ID: 12, 24.04
    codename: str = ""  # VERSION_CODENAME: bookworm, noble

    def describe(self) -> str:
        name = {"debian": "Debian", "ubuntu": "Ubuntu"}.get(self.id, self.id or "unknown")
        return f"{name} {self.version}" + (f" ({self.codename})" if self.codename else "")

    def same_userland(self, other: Distribution) -> bool:
        return (self.id, self.version) == (other.id, other.version)


# The userland each snap base is built from (what a store build stages packages from).
BASES = {
    "core20": Distribution("ubuntu", "20.04", "focal"),
    "core22": Distribution("ubuntu", "22.04", "jammy"),
    "core24": Distribution("ubuntu", "24.04", "noble"),
}

# What this project's LXD images are (machines/images.py debootstraps this codename), so the
# build host of every LXD build: an archive build's stage-packages are its archive's.
LXD_BUILD_HOST = Distribution("debian", "12", "bookworm")


def base_userland(base: str) -> Distribution | None:
    return BASES.get(base)
