"""snapbuild.recipe.userland: distributions, whose userland each snap base is, and what the
project's LXD images (the LXD build host) run."""

from __future__ import annotations

from snapbuild.machines import images
from snapbuild.recipe.userland import BASES, LXD_BUILD_HOST, Distribution, base_userland


def test_a_distribution_describes_itself() -> None:
    assert Distribution("debian", "12", "bookworm").describe() == "Debian 12 (bookworm)"
    assert Distribution("ubuntu", "24.04").describe() == "Ubuntu 24.04"
    assert Distribution("fedora", "40").describe() == "fedora 40"


def test_the_same_userland_is_the_same_id_and_version() -> None:
    noble = Distribution("ubuntu", "24.04", "noble")
    assert noble.same_userland(Distribution("ubuntu", "24.04"))
    assert not noble.same_userland(Distribution("ubuntu", "22.04", "jammy"))
    assert not noble.same_userland(Distribution("debian", "24.04", "noble"))


def test_each_base_is_an_ubuntu_release() -> None:
    assert base_userland("core24") == Distribution("ubuntu", "24.04", "noble")
    assert base_userland("core22") == BASES["core22"] and base_userland("core22").codename == "jammy"
    assert base_userland("bare") is None and base_userland("") is None


def test_the_lxd_build_host_is_what_the_images_debootstrap() -> None:
    assert LXD_BUILD_HOST == Distribution("debian", "12", "bookworm")
    assert images.SUITE == LXD_BUILD_HOST.codename
    assert images.recipe("build", bridge_ip="10.0.0.1", ca_certs={}).fingerprint()["suite"] == "bookworm"
    assert not LXD_BUILD_HOST.same_userland(base_userland("core24"))  # why archive builds are never published
