"""Open a page in headless Chromium, collect its console errors and take a full-page screenshot.

Chromium is driven through the DevTools protocol over a pipe
(``--remote-debugging-pipe``: JSON messages ending in a NUL byte, written to
its file descriptor 3 and read from its descriptor 4), so nothing beyond the
standard library and the ``chromium`` package is needed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WAIT_SECONDS = 30.0


def find_chromium() -> str | None:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageVisit:
    url: str
    errors: list[str] = field(default_factory=list)     # console errors, uncaught exceptions, failed loads
    screenshot: Path | None = None
    measured: object = None                              # what the ``measure`` expression returned


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG, from its header."""
    header = path.read_bytes()[:24]
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


class Chromium:
    """One headless browser; ``visit`` opens a page in a fresh tab."""

    def __init__(self, executable: str | None = None, width: int = 1200):
        executable = executable or find_chromium()
        if executable is None:
            raise RuntimeError("no Chromium found (apt-get install chromium)")
        self.width = width
        self.profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_browser_read, self.to_browser = os.pipe()
        self.from_browser, from_browser_write = os.pipe()

        def wire_pipes():        # in the child: descriptor 3 reads commands, descriptor 4 writes replies
            # Move both ends above 4 first, so neither is overwritten when the other lands on 3 or 4.
            read_end = fcntl.fcntl(to_browser_read, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_browser_write, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)             # dup2 leaves the copies inheritable across exec
            os.dup2(write_end, 4)

        self.process = subprocess.Popen(
            [executable, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             "--no-first-run", "--no-default-browser-check", f"--user-data-dir={self.profile}",
             "--hide-scrollbars", "about:blank"],
            close_fds=False, preexec_fn=wire_pipes, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_browser_read)
        os.close(from_browser_write)
        self.buffer = b""
        self.next_id = 0
        self.pending: list[dict] = []       # events read while waiting for a reply

    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        return self.next_id

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self.buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        wanted = self._send(method, params, session)
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            message = self._read(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.pending.append(message)

    def visit(self, path: Path, screenshot: Path | None = None, measure: str | None = None) -> PageVisit:
        """Open ``path``; with ``measure``, a JavaScript expression evaluated by the browser once the page
        has loaded (through DevTools, not by the page, which runs no script): its value is ``measured``."""
        url = path.resolve().as_uri()
        visit = PageVisit(url)
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=session)
        self.pending.clear()
        self.call("Page.navigate", {"url": url}, session=session)
        deadline = time.monotonic() + WAIT_SECONDS
        loaded = False
        while not loaded:
            events, self.pending = self.pending, []
            if not events:
                events = [self._read(deadline)]
            for event in events:
                if event.get("sessionId") != session:
                    continue
                loaded |= event.get("method") == "Page.loadEventFired"
                visit.errors += _errors_in(event)
        # Late console messages (after load) are collected by one more round trip.
        self.call("Runtime.evaluate", {"expression": "document.readyState"}, session=session)
        for event in self.pending:
            if event.get("sessionId") == session:
                visit.errors += _errors_in(event)
        self.pending.clear()
        if measure is not None:
            found = self.call("Runtime.evaluate", {"expression": measure, "returnByValue": True}, session=session)
            visit.measured = found.get("result", {}).get("value")
        if screenshot is not None:
            size = self.call("Page.getLayoutMetrics", session=session)["cssContentSize"]
            shot = self.call("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": self.width, "height": min(size["height"], 16000), "scale": 1}},
                session=session)
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            screenshot.write_bytes(base64.b64decode(shot["data"]))
            visit.screenshot = screenshot
        self.call("Target.closeTarget", {"targetId": target})
        return visit

    def close(self) -> None:
        try:
            self._send("Browser.close")
            self.process.wait(timeout=10)
        except Exception:
            self.process.kill()
            self.process.wait()
        for fd in (self.to_browser, self.from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _errors_in(event: dict) -> list[str]:
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        return [f"uncaught: {details.get('exception', {}).get('description') or details.get('text')}"]
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        return ["console.error: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])]
    if method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
        entry = params["entry"]
        return [f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip()]
    return []
