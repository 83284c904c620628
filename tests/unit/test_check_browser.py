"""tests/checks/browser.py, the browser check's WebDriver client, against a page served here.

Runs Debian's headless Chromium for real (CI installs chromium and chromium-driver); skips,
saying so, on a machine without them.
"""

from __future__ import annotations

import base64
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

BROWSER = Path(__file__).resolve().parents[1] / "checks" / "browser.py"
PAGE = b"""<!DOCTYPE html><html><head><title>Signed in</title></head>
<body><p id="who">loading</p><script>document.getElementById('who').textContent = 'drawn by script';</script>
</body></html>"""

pytestmark = pytest.mark.skipif(
    not (os.access("/usr/bin/chromium", os.X_OK) and os.access("/usr/bin/chromedriver", os.X_OK)),
    reason="no Debian chromium + chromium-driver here (apt-get install chromium chromium-driver)",
)


class BasicAuthPage(http.server.BaseHTTPRequestHandler):
    """One page behind basic auth alice:secret; records the Authorization headers it saw."""

    seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        sent = self.headers.get("Authorization")
        self.seen.append(sent)
        if sent != "Basic " + base64.b64encode(b"alice:secret").decode():
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="portal"')
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(PAGE)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BasicAuthPage)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    BasicAuthPage.seen = []
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def browse(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(BROWSER), *args], capture_output=True, text=True, timeout=120)


def test_page_reads_the_dom_after_scripts_with_basic_auth_and_keeps_a_screenshot(server: str, tmp_path: Path) -> None:
    shot = tmp_path / "shots" / "page.png"
    done = browse("page", f"http://alice:secret@{server}/", str(shot))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[:2] == ["title Signed in", "text drawn by script"]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Chromium first asks without credentials, then answers the 401 with the URL's.
    assert BasicAuthPage.seen[0] is None and BasicAuthPage.seen[1] is not None


def test_a_shell_page_without_a_terminal_fails_naming_what_was_missing(server: str, tmp_path: Path) -> None:
    shot = tmp_path / "shell.png"
    done = browse(
        "shell",
        f"http://alice:secret@{server}/",
        str(shot),
        "--prompt",
        "$",
        "--type",
        "true",
        "--expect",
        "x",
        "--within",
        "2",
    )
    assert done.returncode == 1
    assert "browser: no terminal in the page after 2 s" in done.stderr
    assert "terminal (none)" in done.stdout
    assert shot.is_file()  # the screenshot is kept for a failure too
