"""Fixtures for the phone page in headless Chromium (Debian's /usr/bin/chromium; no
browser download) at a phone's size, against a real daemon and relay (see stack.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser.phone import Phone
from tests.browser.stack import Stack

CHROMIUM = os.environ.get("LOOPSY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
]

pytestmark = pytest.mark.browser


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in this
# thread while it is open, and anyio tests of other directories cannot run beside it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: scripts/setup installs Debian's chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def stack() -> Iterator[Stack]:
    stack = Stack()
    try:
        stack.start()
        yield stack
    finally:
        stack.close()


@pytest.fixture
def phone(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Phone]:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="en-US",
    )
    phone = Phone(context, request.node.name)
    try:
        yield phone
    finally:
        if not phone.page.is_closed():
            phone.shot("last")  # what the page showed when the test ended (or failed)
        context.close()
    assert not phone.errors, "the page reported errors:\n" + "\n".join(phone.errors)
