"""The pure parts of snapbuild.build.sources: spec checks, private apt config, commands, parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from snapbuild.build import sources
from snapbuild.errors import ToolError

SPEC = {"type": "apt-source", "package": "nginx", "suite": "bookworm", "version": "1.22.1-9+deb12u9"}

SHOWSRC = """\
Package: nginx
Binary: nginx, nginx-core
Version: 1.22.1-9+deb12u9
Checksums-Sha256:
 aaaa 1500 nginx_1.22.1-9+deb12u9.dsc
 bbbb 1073 nginx_1.22.1.orig.tar.gz
Directory: pool/main/n/nginx

Package: nginx
Version: 1.22.1-9
Checksums-Sha256:
 cccc 1400 nginx_1.22.1-9.dsc
"""


def test_validate_spec_accepts_a_complete_spec():
    assert sources.validate_spec("nginx", SPEC) == ("nginx", "bookworm", "1.22.1-9+deb12u9")


def test_validate_spec_type_defaults_to_apt_source():
    spec = {k: v for k, v in SPEC.items() if k != "type"}
    assert sources.validate_spec("nginx", spec)[0] == "nginx"


def test_validate_spec_reports_every_problem_and_names_the_file():
    with pytest.raises(ToolError) as caught:
        sources.validate_spec("nginx", {"package": "Nginx!", "suite": "jammy", "version": ""})
    message = str(caught.value)
    assert "parts/nginx.yaml archive.source" in message
    assert "package 'Nginx!'" in message
    assert "suite 'jammy'" in message
    assert "version ''" in message


@pytest.mark.parametrize(
    ("version", "upstream", "dsc"),
    [
        ("1.22.1-9+deb12u9", "1.22.1", "nginx_1.22.1-9+deb12u9.dsc"),
        ("6.0.26+ds-1.1", "6.0.26+ds", "nginx_6.0.26+ds-1.1.dsc"),
        ("1:2.4.12.3-2", "2.4.12.3", "nginx_2.4.12.3-2.dsc"),
        ("3.0", "3.0", "nginx_3.0.dsc"),
    ],
)
def test_version_helpers(version, upstream, dsc):
    assert sources.upstream_version(version) == upstream
    assert sources.dsc_name("nginx", version) == dsc


def test_sources_list_is_deb_src_only_and_pins_the_keyring():
    line = sources.render_sources_list("trixie")
    assert line == (
        "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n"
    )


def test_apt_config_keeps_everything_under_its_root(tmp_path: Path):
    root = tmp_path / "apt" / "sid"
    text = sources.render_apt_config(root)
    # Every directory apt reads or writes is under the private root ...
    for key in ("Dir::Etc ", "Dir::State ", "Dir::State::status", "Dir::Cache ", "Dir::Log "):
        line = next(line for line in text.splitlines() if line.startswith(key))
        assert str(root) in line, line
    # ... including the parts dirs, so the host's apt.conf.d and sources.list.d stay out.
    assert 'Dir::Etc::Parts "apt.conf.d/";' in text
    assert 'Dir::Etc::SourceParts "sources.list.d/";' in text
    assert "/etc/apt" not in text
    # No way to accept unsigned indexes or unauthenticated files.
    assert 'Acquire::AllowInsecureRepositories "false";' in text
    assert 'APT::Get::AllowUnauthenticated "false";' in text
    assert "Sandbox" not in text


def test_apt_config_as_root_drops_the_sandbox_user(tmp_path: Path):
    assert 'APT::Sandbox::User "root";' in sources.render_apt_config(tmp_path, as_root=True)


def test_apt_env_points_apt_at_the_private_config(tmp_path: Path):
    env = sources.apt_env(tmp_path, base={"PATH": "/usr/bin", "APT_CONFIG": "/etc/other"})
    assert env["APT_CONFIG"] == str(tmp_path / "etc" / "apt.conf")
    assert env["LC_ALL"] == "C"
    assert env["PATH"] == "/usr/bin"


def test_prepare_apt_writes_the_tree(tmp_path: Path):
    root = sources.prepare_apt(tmp_path, "trixie")
    assert root == (tmp_path / "apt" / "trixie").resolve()
    assert (root / "etc" / "sources.list").read_text().endswith(" trixie main\n")
    assert (root / "etc" / "apt.conf").is_file()
    assert (root / "etc" / "apt.conf.d").is_dir()
    assert (root / "state" / "lists" / "partial").is_dir()
    assert (root / "state" / "status").read_text() == ""


def test_commands():
    assert sources.update_command() == ["apt-get", "-q", "update"]
    assert sources.download_command("nginx", "1.22.1-9") == [
        "apt-get",
        "-q",
        "--only-source",
        "--download-only",
        "source",
        "nginx=1.22.1-9",
    ]
    assert sources.showsrc_command("nginx") == ["apt-cache", "--only-source", "showsrc", "nginx"]
    assert sources.extract_command(Path("/d/x.dsc"), Path("/s/x")) == [
        "dpkg-source",
        "--no-copy",
        "-x",
        "/d/x.dsc",
        "/s/x",
    ]


def test_parse_showsrc_and_index_sha256():
    stanzas = sources.parse_showsrc(SHOWSRC)
    assert [s["Version"] for s in stanzas] == ["1.22.1-9+deb12u9", "1.22.1-9"]
    assert sources.index_sha256(stanzas, "1.22.1-9+deb12u9", "nginx_1.22.1-9+deb12u9.dsc") == "aaaa"
    assert sources.index_sha256(stanzas, "1.22.1-9", "nginx_1.22.1-9.dsc") == "cccc"
    assert sources.index_sha256(stanzas, "1.22.1-9", "nginx_1.22.1-9+deb12u9.dsc") is None
    assert sources.index_sha256(stanzas, "9.9", "nginx_9.9.dsc") is None


def test_missing_version_names_part_suite_what_exists_and_the_key_to_change():
    error = sources.explain_apt_failure(
        "nginx",
        "nginx",
        "trixie",
        "1.26.3-3",
        "E: Can not find version '1.26.3-3' of package 'nginx'",
        ["1.26.3-3+deb13u10"],
    )
    assert "part nginx" in error.brief and "1.26.3-3" in error.brief and "trixie" in error.brief
    assert "1.26.3-3+deb13u10" in error.brief
    assert "archive.source.version" in error.resolution and "parts/nginx.yaml" in error.resolution


def test_404_says_the_mirror_lacks_the_files():
    output = (
        "Err:1 http://deb.debian.org/debian trixie/main nginx 1.26.3-3 (dsc)\n"
        "  404  Not Found [IP: 1.2.3.4 80]\nE: Failed to fetch some archives.\n"
    )
    error = sources.explain_apt_failure("nginx", "nginx", "trixie", "1.26.3-3", output, [])
    assert "404" in error.brief and "trixie" in error.brief and "nginx 1.26.3-3" in error.brief
    assert "parts/nginx.yaml" in error.resolution
    assert output in error.details


def test_unauthenticated_is_its_own_error():
    error = sources.explain_apt_failure(
        "passenger",
        "passenger",
        "sid",
        "6.0.26+ds-1.1",
        "WARNING: The following packages cannot be authenticated!",
        [],
    )
    assert "could not verify" in error.brief
    assert "keyring" in error.resolution


def test_cached_extraction_is_reused_without_apt(tmp_path: Path, monkeypatch):
    dest = tmp_path / "src" / "nginx" / "nginx-1.22.1"
    dest.mkdir(parents=True)
    (dest.parent / "nginx-1.22.1.fetched.json").write_text(
        '{"package": "nginx", "suite": "bookworm", "version": "1.22.1-9+deb12u9", "dsc-sha256": "x"}'
    )

    def no_commands(*args, **kwargs):
        raise AssertionError("a cached source must not run apt")

    monkeypatch.setattr(sources, "_run", no_commands)
    assert sources.fetch_archive_source("nginx", SPEC, tmp_path) == dest.resolve()


def test_a_different_version_is_not_taken_from_the_cache(tmp_path: Path, monkeypatch):
    dest = tmp_path / "src" / "nginx" / "nginx-1.22.1"
    dest.mkdir(parents=True)
    (dest.parent / "nginx-1.22.1.fetched.json").write_text(
        '{"package": "nginx", "suite": "bookworm", "version": "1.22.1-9"}'
    )
    calls = []

    def fake_run(cmd, env, cwd=None):
        calls.append(cmd)
        raise ToolError("stop here")

    monkeypatch.setattr(sources, "_run", fake_run)
    with pytest.raises(ToolError):
        sources.fetch_archive_source("nginx", SPEC, tmp_path)
    assert calls == [sources.update_command()]


def test_an_expired_release_file_says_to_pick_another_suite(tmp_path: Path, monkeypatch):
    import subprocess

    def fake_run(cmd, env, cwd=None):
        return subprocess.CompletedProcess(
            cmd,
            100,
            stdout=(
                "E: Release file for http://deb.debian.org/debian/dists/sid/InRelease is expired "
                "(invalid since 18d 7h 26min 41s).\n"
            ),
        )

    monkeypatch.setattr(sources, "_run", fake_run)
    spec = dict(SPEC, suite="sid")
    with pytest.raises(ToolError) as caught:
        sources.fetch_archive_source("nginx", spec, tmp_path)
    assert "Debian sid" in caught.value.brief
    assert "another suite" in caught.value.resolution and "parts/nginx.yaml" in caught.value.resolution


class FakeApt:
    """apt-get update, apt-cache showsrc, apt-get source and dpkg-source -x, as their effects."""

    def __init__(self, dsc: bytes = b"Format: 3.0 (quilt)\n", indexed: bytes | None = None) -> None:
        import hashlib

        self.dsc = dsc
        self.sha = hashlib.sha256(dsc if indexed is None else indexed).hexdigest()
        self.calls: list[str] = []

    def __call__(self, cmd: list[str], env: dict[str, str], cwd: Path | None = None):
        import subprocess

        self.calls.append(" ".join(cmd[:2]))
        root = Path(env["APT_CONFIG"]).parent.parent
        if cmd == sources.update_command():
            (root / "state" / "lists" / "deb.debian.org_debian_dists_bookworm_InRelease").write_text("signed")
        elif cmd == sources.showsrc_command("nginx"):
            return subprocess.CompletedProcess(cmd, 0, SHOWSRC.replace("aaaa", self.sha))
        elif cmd == sources.download_command("nginx", SPEC["version"]):
            (cwd / "nginx_1.22.1-9+deb12u9.dsc").write_bytes(self.dsc)
        elif cmd[0] == "dpkg-source":
            (Path(cmd[-1]) / "debian").mkdir(parents=True)
        return subprocess.CompletedProcess(cmd, 0, "")


def test_fetch_verifies_the_dsc_extracts_and_stamps_then_reuses_the_tree(tmp_path: Path, monkeypatch):
    import json

    apt = FakeApt()
    monkeypatch.setattr(sources, "_run", apt)
    dest = sources.fetch_archive_source("nginx", SPEC, tmp_path)
    assert dest == (tmp_path / "src" / "nginx" / "nginx-1.22.1").resolve() and (dest / "debian").is_dir()
    assert apt.calls == ["apt-get -q", "apt-cache --only-source", "apt-get -q", "dpkg-source --no-copy"]
    assert not dest.with_name(dest.name + ".partial").exists()
    stamp = json.loads(dest.with_name(dest.name + ".fetched.json").read_text())
    assert stamp == {**{k: SPEC[k] for k in ("package", "suite", "version")}, "dsc-sha256": apt.sha}
    assert sources.fetch_archive_source("nginx", SPEC, tmp_path) == dest and len(apt.calls) == 4  # cached


def test_a_dsc_the_signed_index_does_not_name_is_refused_before_extraction(tmp_path: Path, monkeypatch):
    apt = FakeApt(indexed=b"another dsc")
    monkeypatch.setattr(sources, "_run", apt)
    with pytest.raises(ToolError) as caught:
        sources.fetch_archive_source("nginx", SPEC, tmp_path)
    assert "does not match Debian bookworm's signed index" in caught.value.brief and apt.sha in caught.value.brief
    assert "dpkg-source --no-copy" not in apt.calls
    assert not (tmp_path / "src" / "nginx" / "nginx-1.22.1").exists()


def test_an_index_without_inrelease_is_refused(tmp_path: Path, monkeypatch):
    import subprocess

    monkeypatch.setattr(sources, "_run", lambda cmd, env, cwd=None: subprocess.CompletedProcess(cmd, 0, "Hit:1 ..."))
    with pytest.raises(ToolError) as caught:
        sources.fetch_archive_source("nginx", SPEC, tmp_path)
    assert caught.value.brief == "part nginx: apt fetched no signed InRelease for Debian bookworm."
    assert caught.value.details == "Hit:1 ..."


def test_a_broken_stamp_means_fetch_again(tmp_path: Path):
    dest = tmp_path / "nginx-1.22.1"
    wanted = {"package": "nginx", "suite": "bookworm", "version": "1.22.1-9"}
    assert not sources._already_extracted(dest, wanted)  # nothing there
    dest.mkdir()
    dest.with_name(dest.name + ".fetched.json").write_text("{not json")
    assert not sources._already_extracted(dest, wanted)
    dest.with_name(dest.name + ".fetched.json").write_text(
        '{"package": "nginx", "suite": "bookworm", "version": "1.22.1-9", "dsc-sha256": "x"}'
    )
    assert sources._already_extracted(dest, wanted)
