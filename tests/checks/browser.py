#!/usr/bin/env python3
"""A real browser on the portal: Debian's headless Chromium, driven by its ChromeDriver.

The behaviour checks use it to see what a user sees: the page's DOM after its scripts ran
(not just the HTTP status) and a screenshot. ChromeDriver speaks W3C WebDriver, which is
JSON over HTTP, so Python's standard library is the whole client (the test machine has
python3 and nothing from PyPI).

    browser.py page URL SHOT                 print the page's title and text, keep a PNG
    browser.py shell URL SHOT --type CMD --expect TEXT
                                             open the shell app, wait for its terminal,
                                             type CMD, wait for TEXT in the terminal

URL may carry `user:password@` for basic auth: Chromium answers the portal's 401 with them
and keeps them for the origin, so the page's own WebSocket is authenticated the same way.
Lines printed: `title ...`, `text ...`, `terminal ...` (the terminal's screen), `shot PATH`.
Exit 0 when the page loaded (and, for shell, TEXT appeared); 1 otherwise, saying why.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

# The text of hterm's screen: the shell app draws its terminal in an iframe of its own
# (same origin), as <x-row> lines inside <x-screen>. null until the terminal exists.
TERMINAL_TEXT_JS = """
const frame = document.querySelector('#terminal iframe');
const screen = frame && frame.contentDocument && frame.contentDocument.querySelector('x-screen');
return screen ? screen.innerText : null;
"""


def terminal_shows(text: str) -> str:
    """A script returning whether the terminal's screen holds `text`."""
    screen = f"(() => {{ {TERMINAL_TEXT_JS} }})()"
    return f"const shown = {screen}; return shown !== null && shown.includes({json.dumps(text)});"


class BrowserError(Exception):
    """Something the check reports as a failure (a page that did not come, a timeout)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Session:
    """One WebDriver session of a headless Chromium."""

    def __init__(self, base: str) -> None:
        self.base = base
        capabilities = {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                # --no-sandbox: the check runs as root, where Chromium's sandbox refuses to start.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800"],
            },
        }
        answer = self.call("POST", "/session", {"capabilities": {"alwaysMatch": capabilities}})
        self.path = f"/session/{answer['sessionId']}"

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body if body is not None else {}).encode() if method == "POST" else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return json.loads(answer.read())["value"]
        except urllib.error.HTTPError as error:
            value = json.loads(error.read() or b"{}").get("value", {})
            raise BrowserError(f"WebDriver {path}: {value.get('error')}: {value.get('message', '')[:300]}") from None

    def open(self, url: str) -> None:
        self.call("POST", self.path + "/url", {"url": url})

    def js(self, script: str) -> Any:
        return self.call("POST", self.path + "/execute/sync", {"script": script, "args": []})

    def wait_for(self, what: str, seconds: float, script: str) -> Any:
        """Poll SCRIPT until it returns something truthy; BrowserError naming WHAT after SECONDS."""
        deadline = time.monotonic() + seconds
        while True:
            value = self.js(script)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"no {what} after {seconds:.0f} s")
            time.sleep(0.25)

    def click(self, css: str) -> None:
        element = self.call("POST", self.path + "/element", {"using": "css selector", "value": css})
        (element_id,) = element.values()
        self.call("POST", f"{self.path}/element/{element_id}/click")

    def type(self, text: str) -> None:
        """Key presses into whatever has the focus (real key events, as from a keyboard)."""
        keys: list[dict[str, str]] = []
        for char in text:
            key = "\ue007" if char == "\n" else char  # WebDriver's Enter
            keys += [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]
        self.call("POST", self.path + "/actions", {"actions": [{"type": "key", "id": "keyboard", "actions": keys}]})

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.call("GET", self.path + "/screenshot")))
        print("shot", path, flush=True)

    def quit(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.call("DELETE", self.path)


@contextlib.contextmanager
def browser() -> Iterator[Session]:
    """ChromeDriver on a free loopback port, one session, both gone afterwards."""
    for program in (CHROMIUM, CHROMEDRIVER):
        if not os.access(program, os.X_OK):
            raise BrowserError(f"{program} is not installed (Debian: apt-get install chromium chromium-driver)")
    port = free_port()
    profile = tempfile.mkdtemp(prefix="ondemand-browser-")
    driver = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=profile
    )
    session = None
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(base + "/status", timeout=2) as answer:
                    if json.loads(answer.read())["value"]["ready"]:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BrowserError("chromedriver did not answer /status within 20 s")
            time.sleep(0.2)
        session = Session(base)
        yield session
    finally:
        if session is not None:
            session.quit()
        driver.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            driver.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def oneline(text: str) -> str:
    return " ".join(text.split())


def page(args: argparse.Namespace) -> None:
    with browser() as session:
        session.open(args.url)
        session.wait_for("page body", 30, "return document.readyState === 'complete' && document.body !== null")
        print("title", session.js("return document.title"), flush=True)
        print("text", oneline(session.js("return document.body.innerText"))[:2000], flush=True)
        session.screenshot(args.shot)


def shell(args: argparse.Namespace) -> None:
    with browser() as session:
        session.open(args.url)
        print("title", session.js("return document.title"), flush=True)
        try:
            # The terminal exists once the page's WebSocket opened; the remote shell's first
            # output (its prompt) says the connection carries data both ways from then on.
            session.wait_for("terminal in the page", args.within, terminal_shows(""))
            session.wait_for(f"prompt {args.prompt!r} in the terminal", args.within, terminal_shows(args.prompt))
            session.click("#terminal iframe")
            session.type(args.type + "\n")
            session.wait_for(f"{args.expect!r} in the terminal after typing", args.within, terminal_shows(args.expect))
        finally:
            text = session.js(TERMINAL_TEXT_JS)
            print("terminal", oneline(text) if text else "(none)", flush=True)
            session.screenshot(args.shot)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for name, run in (("page", page), ("shell", shell)):
        command = commands.add_parser(name)
        command.add_argument("url")
        command.add_argument("shot", type=Path, help="where the screenshot (PNG) goes")
        command.set_defaults(run=run)
        if name == "shell":
            command.add_argument("--prompt", required=True, help="text of the remote shell's prompt to wait for")
            command.add_argument("--type", required=True, help="a command line to type into the terminal")
            command.add_argument("--expect", required=True, help="text the command prints")
            command.add_argument("--within", type=float, default=60, help="seconds to wait for each (default 60)")
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except BrowserError as error:
        print(f"browser: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
