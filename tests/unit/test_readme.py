"""The README's quickstart ("Using the snap"), as tests/checks/quickstart.sh reads it.

The check runs the block on a machine with snapd (spread); these read the committed
README.md with the check's own parser (tests/checks/quickstart.bash, plain bash) and hold
the block to what the check and the hooks expect, so the README cannot drift from either:
the commands, the htpasswd file the portal's user can read, documented keys only, and a
configuration the hooks' model accepts.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ondemand_hooks import model

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
HELPERS = ROOT / "tests" / "checks" / "quickstart.bash"
CONFIGURATION = ROOT / "docs" / "configuration.md"


def helper(function: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a quickstart.bash function with plain bash, as the check does."""
    return subprocess.run(
        ["bash", "-c", f'set -euo pipefail; . "$1"; shift; {function} "$@"', "bash", str(HELPERS), *args],
        capture_output=True,
        text=True,
    )


def output(function: str, *args: str) -> str:
    done = helper(function, *args)
    assert done.returncode == 0, f"{function} {args}: exit {done.returncode}: {done.stderr}"
    return done.stdout.rstrip("\n")


@pytest.fixture(scope="module")
def commands() -> list[str]:
    return output("quickstart_commands", str(README)).splitlines()


def test_the_quickstart_is_install_htpasswd_auth_cluster(commands: list[str]) -> None:
    assert len(commands) == 4, commands
    install, htpasswd, auth, cluster = commands
    assert install == "sudo snap install ondemand --classic"  # what the check substitutes
    # An htpasswd entry made without extra packages, created readable by the portal's user
    # (the hooks refuse a file snap_daemon cannot read) and by nobody else.
    assert re.fullmatch(
        r"""echo "[a-z]+:\$\(openssl passwd -apr1 '[^']+'\)" """
        r"""\| sudo install -D -m 640 -g snap_daemon /dev/stdin /\S+""",
        htpasswd,
    ), htpasswd
    assert auth.startswith("sudo snap set ondemand portal.auth.type=basic portal.auth.basic.user-file=/")
    assert cluster.startswith("sudo snap set ondemand clusters.")
    assert re.search(r"\bclusters\.[a-z0-9-]+\.login\.host=\S+\.example\.edu\b", cluster), cluster


def test_the_checks_readings_of_the_quickstart_agree(commands: list[str]) -> None:
    text = "\n".join(commands)
    user, password = output("quickstart_account", text).split(" ", 1)
    assert user == "alice" and password
    user_file = output("quickstart_user_file", text)
    assert commands[1].endswith(f" {user_file}")  # the file the auth key names is the one written
    login_host = output("quickstart_login_host", text)
    assert login_host == "owens.example.edu"
    # The URL to open is the shell app for that login host (the check substitutes the host).
    assert output("quickstart_url", str(README)) == f"http://HOST/pun/sys/shell/ssh/{login_host}"
    assert output("quickstart_keys", text).splitlines() == [
        "portal.auth.type",
        "portal.auth.basic.user-file",
        "clusters.owens.title",
        "clusters.owens.login.host",
    ]


def documented_key_patterns() -> list[re.Pattern[str]]:
    """The keys of docs/configuration.md's table, placeholders (`<id>`) as one segment."""
    names = re.findall(r"^\| `([a-z][^`]*)` \|", CONFIGURATION.read_text(), re.M)
    assert names
    return [re.compile(re.sub(r"<[A-Za-z]+>", "[^.]+", re.escape(name))) for name in names]


def using_the_snap_section() -> str:
    text = README.read_text()
    start = text.index("## Using the snap (HPC admins)\n")
    return text[start : text.index("\n## ", start + 1)]


def snap_set_keys(text: str) -> list[str]:
    """Every KEY of every `snap set ondemand KEY=VALUE ...` in text (continuations joined)."""
    joined = re.sub(r"\\\n\s*", " ", text)
    keys = []
    for line in re.findall(r"snap set ondemand ([^\n`]*)", joined):
        keys += [word.split("=", 1)[0] for word in line.split() if "=" in word]
    return keys


def test_every_key_the_readme_sets_is_a_documented_key() -> None:
    keys = snap_set_keys(using_the_snap_section())
    assert {"portal.auth.type", "portal.auth.basic.user-file", "portal.oidc.client-id"} <= set(keys)
    patterns = documented_key_patterns()
    for key in keys:
        path = tuple(key.split("."))
        assert any(k.matches(path) is not None for k in model.KEYS), f"README sets {key}: not in the hooks' key table"
        assert any(p.fullmatch(key) for p in patterns), f"README sets {key}: not in docs/configuration.md"


def nested(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for key, value in pairs:
        *parents, leaf = key.split(".")
        node = document
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = value
    return document


def test_the_hooks_accept_the_quickstarts_configuration(commands: list[str], tmp_path: Path) -> None:
    # The values of its `snap set` commands, the htpasswd file standing in at a path of ours.
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text("alice:$apr1$salt$hash\n")
    pairs = []
    for command in commands:
        if command.startswith("sudo snap set ondemand "):
            for word in command.split()[4:]:
                key, value = word.split("=", 1)
                pairs.append((key, str(htpasswd) if key == "portal.auth.basic.user-file" else value))
    settings = model.parse(nested(pairs))
    assert settings.portal.auth == "basic"
    assert settings.portal.basic_user_file == str(htpasswd)
    assert [(c.id, c.title, c.login_host) for c in settings.clusters] == [("owens", "Owens", "owens.example.edu")]


QUICKSTART = """\
# Title

Prose.

<!-- quickstart begin -->
```sh
sudo snap install ondemand --classic
# a comment

sudo snap set ondemand a.b=1 \\
    c.d=2
```

Then open http://HOST/pun/sys/shell/ssh/h.example.edu and sign in.
<!-- quickstart end -->

```sh
not --part-of-it
```
"""


def test_the_parser_joins_continuations_and_skips_comments(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(QUICKSTART)
    assert output("quickstart_commands", str(readme)).splitlines() == [
        "sudo snap install ondemand --classic",
        "sudo snap set ondemand a.b=1 c.d=2",
    ]
    assert output("quickstart_url", str(readme)) == "http://HOST/pun/sys/shell/ssh/h.example.edu"
    assert output("quickstart_keys", "sudo snap set ondemand a.b=1 c.d=2") == "a.b\nc.d"


@pytest.mark.parametrize(
    "text",
    [
        QUICKSTART.replace("<!-- quickstart end -->\n", ""),  # no end marker
        QUICKSTART.replace("<!-- quickstart begin -->\n", ""),  # no begin marker
        QUICKSTART + "<!-- quickstart begin -->\n```\nx\n```\n<!-- quickstart end -->\n",  # two blocks
        QUICKSTART.replace("```sh\nsudo", "sudo", 1),  # no fenced block
        QUICKSTART.replace("    c.d=2\n", ""),  # a continuation that never ends
    ],
    ids=["no-end", "no-begin", "two", "no-fence", "dangling-backslash"],
)
def test_the_parser_refuses_a_block_it_cannot_read(tmp_path: Path, text: str) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(text)
    assert helper("quickstart_commands", str(readme)).returncode != 0
