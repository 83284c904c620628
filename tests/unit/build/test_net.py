"""snapbuild.build.net: downloads trust the system's CA bundle (and the CAs installed into it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapbuild.build import net


@pytest.fixture
def bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "ca-certificates.crt"
    monkeypatch.setattr(net, "SYSTEM_BUNDLE", path)
    for name in ("REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"):
        monkeypatch.setenv(name, "")  # recorded, so whatever the test sets is undone
        monkeypatch.delenv(name)
    return path


def test_requests_verify_with_the_system_bundle_where_there_is_one(bundle: Path) -> None:
    assert net.ca_bundle() is True  # no system bundle: requests' own (certifi)
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    assert net.ca_bundle() == str(bundle)


def test_craft_parts_and_node_are_pointed_at_the_system_bundle(bundle: Path) -> None:
    import os

    net.use_system_trust()
    assert "REQUESTS_CA_BUNDLE" not in os.environ and "NODE_EXTRA_CA_CERTS" not in os.environ
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    net.use_system_trust()
    assert os.environ["REQUESTS_CA_BUNDLE"] == os.environ["NODE_EXTRA_CA_CERTS"] == str(bundle)


def test_a_bundle_the_environment_names_already_is_kept(bundle: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/site/ca.pem")
    net.use_system_trust()
    assert os.environ["REQUESTS_CA_BUNDLE"] == "/site/ca.pem"
    assert os.environ["NODE_EXTRA_CA_CERTS"] == str(bundle)
