"""A minimal W3C WebDriver client (standard library only) for the browser tests.

``chromedriver`` speaks the W3C WebDriver protocol: plain JSON over HTTP. The handful of
commands the tests need (open a URL, find elements, read text, click, run a script, take a
screenshot) are a few lines each with ``urllib``, so the tests need no selenium install.
:func:`find_chromium` says why a browser cannot be had (the tests skip with that reason).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROME_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=1280,720", "--autoplay-policy=no-user-gesture-required"]
_ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def find_chromium() -> tuple[str | None, str | None, str]:
    """(chromium binary, chromedriver binary, reason if either is missing)."""
    chrome = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser"),
                               "/usr/bin/chromium") if p and os.path.exists(p)), None)
    driver = next((p for p in (shutil.which("chromedriver"), "/usr/bin/chromedriver")
                   if p and os.path.exists(p)), None)
    if chrome is None or driver is None:
        return chrome, driver, ("chromium/chromedriver not installed "
                                "(apt-get install -y chromium chromium-driver)")
    return chrome, driver, ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """A headless chromium driven through chromedriver; ``close()`` ends both."""

    def __init__(self, chrome: str, driver: str) -> None:
        self.port = _free_port()
        self.profile = tempfile.mkdtemp(prefix="ecgedge-chrome-")
        self.proc = subprocess.Popen([driver, f"--port={self.port}"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                self._call("GET", "/status")
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.proc.kill()
                    raise RuntimeError("chromedriver did not start") from None
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chrome, "args": [*CHROME_FLAGS, f"--user-data-dir={self.profile}"]}}}}
        try:
            self.session = self._call("POST", "/session", caps)["sessionId"]
        except Exception:
            self.proc.kill()
            raise

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read())["value"]
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"webdriver {method} {path}: {exc.read()[:300]!r}") from None

    def _s(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self._s("POST", "/url", {"url": url})

    def js(self, script: str, *args: Any) -> Any:
        """Run ``script`` (a function body; ``return`` gives the value) in the page."""
        return self._s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css: str) -> list[str]:
        els = self._s("POST", "/elements", {"using": "css selector", "value": css})
        return [e[_ELEMENT] for e in els]

    @staticmethod
    def ref(el: str) -> dict:
        """``el`` as a script argument."""
        return {_ELEMENT: el}

    def text(self, el: str) -> str:
        return self._s("GET", f"/element/{el}/text")

    def click(self, el: str) -> None:
        self._s("POST", f"/element/{el}/click", {})

    def screenshot(self, path: str | Path) -> None:
        Path(path).write_bytes(base64.b64decode(self._s("GET", "/screenshot")))

    def wait(self, script: str, timeout: float = 20.0, what: str = "") -> Any:
        """Poll ``script`` until it returns a truthy value; its value, or TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.js(script)
            if v:
                return v
            if time.monotonic() > deadline:
                raise TimeoutError(f"browser: timed out waiting for {what or script}")
            time.sleep(0.1)

    def close(self) -> None:
        try:
            self._s("DELETE", "")
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)
