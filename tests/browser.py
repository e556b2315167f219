"""Browser test support: `tutor serve` on a free port, Debian's chromium driven by Playwright, page helpers.

No browser is downloaded: Playwright drives ``/usr/bin/chromium`` (the Makefile installs Debian's package),
started with the flags that keep it off the network. Each page a test opens records console errors and
uncaught page errors, so a test can assert that a page loaded cleanly.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = REPO / "data" / "screenshots"  # ignored folder: listed in the closing note, never committed
LOAD_TIMEOUT_MS = 60_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def tutor_serve(env: dict[str, str], *, log: Path, start_timeout_s: float = 120) -> Iterator[str]:
    """`tutor serve` on a free loopback port with ``env``; yields its URL, stops it afterwards."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ui.cli", "serve", "--port", str(port)],
            cwd=REPO,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + start_timeout_s
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"`tutor serve` exited ({proc.returncode}): {log.read_text()[-2000:]}")
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"`tutor serve` did not answer in {start_timeout_s:.0f} s: {log.read_text()[-2000:]}")
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian chromium under Playwright (a clear failure when it is not installed)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make test` (it installs Debian's chromium) or apt-get install chromium"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Tab:
    """One browser session of the app: its page and the errors it logged."""

    page: Any
    errors: list[str] = field(default_factory=list)

    def go(self, url: str) -> Tab:
        self.page.goto(url)
        self.wait_idle()
        return self

    def wait_idle(self, timeout_ms: int = LOAD_TIMEOUT_MS) -> None:
        """Until the app is connected and no script run has been in progress for a moment (Streamlit marks
        its root with ``data-test-script-state``; a run can start just after a click, so idle must hold)."""
        self.page.get_by_test_id("stApp").wait_for(timeout=timeout_ms)
        self.page.wait_for_function(
            """() => {
                const app = document.querySelector('[data-testid=stApp]');
                const idle = app && app.dataset.testScriptState !== 'running'
                    && app.dataset.testConnectionState === 'CONNECTED';
                window.__idleSince = idle ? (window.__idleSince || Date.now()) : 0;
                return idle && Date.now() - window.__idleSince > 700;
            }""",
            timeout=timeout_ms,
            polling=100,
        )

    def nav(self, title: str) -> Tab:
        self.page.get_by_test_id("stSidebarNav").get_by_role("link", name=re.compile(f"^{title}")).click()
        self.page.get_by_role("heading", level=1).first.wait_for()
        self.wait_idle()
        return self

    def ask(self, question: str) -> None:
        box = self.page.get_by_test_id("stChatInputTextArea")
        box.fill(question)
        box.press("Enter")
        self.page.get_by_test_id("stChatMessage").filter(has_text=question).last.wait_for(timeout=15_000)

    def messages(self) -> list[str]:
        return [str(m) for m in self.page.get_by_test_id("stChatMessage").all_inner_texts()]

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def open_tab(browser: Any) -> Tab:
    """A new browser session (its own cookies and storage), recording console and page errors."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(LOAD_TIMEOUT_MS)
    tab = Tab(page)
    page.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: tab.errors.append(str(e)))
    return tab
