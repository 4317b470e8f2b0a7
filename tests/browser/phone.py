"""The phone page, driven like a person would: what they tap, type and read."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
WAIT_MS = 20_000


class Phone:
    def __init__(self, context: BrowserContext, name: str) -> None:
        self.context = context
        self.name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name)
        self.errors: list[str] = []
        self.requests: list[str] = []  # every URL the page asked for (HTTP and WebSocket)
        self.page = self.new_page()

    def new_page(self) -> Page:
        page = self.context.new_page()
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("websocket", lambda ws: self.requests.append(ws.url))
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: (
                self.errors.append(f"console: {msg.text}")
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )
        self.page = page
        return page

    def reopen(self, url: str) -> Page:
        """Close the tab and open the app again (same browser profile: same storage)."""
        self.page.close()
        page = self.new_page()
        page.goto(url)
        return page

    def shot(self, label: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{label}.png"
        self.page.screenshot(path=str(path))
        return path

    # -- pairing and home -------------------------------------------------------------------

    def pair(self, offer: dict[str, Any]) -> None:
        page = self.page
        page.goto(offer["url"])
        page.wait_for_selector("#pair-code")
        page.fill("#pair-code", offer["code"])
        page.click("#pair-button")
        self.wait_online()

    def open_shell(self, offer: dict[str, Any]) -> None:
        """Pair, start a shell, wait for its prompt: where most tests begin."""
        self.pair(offer)
        self.start("shell")
        self.wait_prompt()

    def watch_link(self) -> None:
        """Record every change of the page's connection state from now on."""
        self.page.evaluate(
            """() => {
              window.linkStates = [];
              new MutationObserver(() => window.linkStates.push(document.body.dataset.link))
                .observe(document.body, { attributes: true, attributeFilter: ["data-link"] });
            }"""
        )

    def link_states(self) -> list[str]:
        return list(self.page.evaluate("window.linkStates"))

    def wait_online(self, timeout: float = WAIT_MS) -> None:
        self.page.wait_for_selector("#link-state.online", timeout=timeout)

    def start(self, agent: str = "shell", *, cwd: str | None = None) -> None:
        page = self.page
        page.click(f"label.choice[data-agent='{agent}']")
        if cwd is not None:
            page.fill("#new-cwd", cwd)
        page.click("#start-session")
        self.wait_live()

    def wait_live(self, timeout: float = WAIT_MS) -> None:
        self.page.wait_for_selector(".term:not([hidden])[data-state=live]", timeout=timeout)

    # -- the terminal -------------------------------------------------------------------------

    def type(self, text: str) -> None:
        """The phone's keyboard typing into the focused terminal."""
        self.page.locator(".term:not([hidden]) .xterm-helper-textarea").focus()
        self.page.keyboard.type(text)

    def text(self) -> str:
        return str(self.page.evaluate("window.loopsyDebug.text()"))

    def wait_text(self, pattern: str, timeout: float = WAIT_MS) -> str:
        """Wait until the active terminal's text matches the regular expression."""
        self.page.wait_for_function(
            "p => window.loopsyDebug && new RegExp(p, 'm').test(window.loopsyDebug.text())",
            arg=pattern,
            timeout=timeout,
            polling=100,
        )
        return self.text()

    def wait_prompt(self) -> None:
        self.wait_text(r"[$#] $")

    def key(self, key_id: str) -> None:
        self.page.click(f"#{key_id}")
