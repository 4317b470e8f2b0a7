"""A new user: pairs a phone from the QR link and the code, drives a shell and vim."""

from __future__ import annotations

import time

import pytest

from tests.browser.phone import ARTIFACTS, Phone
from tests.browser.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_pair_then_shell_echo_and_vim(stack: Stack, phone: Phone) -> None:
    offer = stack.pair_offer()
    page = phone.page
    page.goto(offer["url"])
    page.wait_for_selector("#pair-code")
    assert "#" not in page.url, "the pair fragment must not linger in the address bar"
    phone.shot("1-pair")
    page.fill("#pair-code", offer["code"][:3] + " " + offer["code"][3:])  # as people type it
    page.fill("#pair-name", "Test phone")
    page.click("#pair-button")
    phone.wait_online()
    assert page.inner_text("#node-name") == stack.json("status")["node_name"]
    assert page.inner_text("#link-state") == "online"
    paired = stack.json("phone", "list")
    assert [(p["name"], p["connected"]) for p in paired] == [("Test phone", True)]
    phone.shot("2-home")

    phone.start("shell")
    phone.wait_prompt()
    # the on-screen flow: the compose box, edited before sending
    phone.key("key-compose")
    page.fill("#compose-text", "echo helo")
    page.fill("#compose-text", "echo hello")
    page.click("#compose-send")
    text = phone.wait_text(r"^hello$")
    assert text.count("\nhello") == 1
    phone.shot("3-echo")

    phone.type(f"vim -u NONE -N {stack.root}/vim.txt\r")
    phone.wait_text(r"^~\s*$")
    assert page.evaluate("window.loopsyDebug.buffer()") == "alternate"
    phone.type("iloopsy in vim")
    phone.key("key-esc")  # the key bar's Esc leaves insert mode
    phone.wait_text(r"^loopsy in vim$")
    assert page.evaluate("window.loopsyDebug.text()").count("~") >= 10, "vim fills the screen"
    phone.shot("4-vim")
    phone.type(":q!\r")
    phone.type("echo vim-closed\r")
    text = phone.wait_text(r"^vim-closed$")
    assert page.evaluate("window.loopsyDebug.buffer()") == "normal"
    assert "loopsy in vim" not in text, "the shell's screen came back as it was"

    # everything came from the relay itself: no CDN, no third-party origin
    origin = stack.relay_url.split("://", 1)[1]
    foreign = [u for u in phone.requests if u.split("://", 1)[1].split("/", 1)[0] != origin]
    assert not foreign, foreign
    assert any(u.startswith("ws") for u in phone.requests)


def test_wrong_code_counts_and_used_link_is_refused(stack: Stack, phone: Phone) -> None:
    offer = stack.pair_offer()
    page = phone.page
    page.goto(offer["url"])
    wrong = f"{(int(offer['code']) + 1) % 1_000_000:06d}"
    page.fill("#pair-code", wrong)
    page.click("#pair-button")
    page.wait_for_selector("#pair-error:has-text('wrong code (4 left)')")
    phone.shot("wrong-code")
    page.fill("#pair-code", "12a456")
    page.click("#pair-button")
    page.wait_for_selector("#pair-error:has-text('6 digits')")
    page.fill("#pair-code", offer["code"])
    page.click("#pair-button")
    phone.wait_online()

    # the same link again, in another browser profile: single use
    second = phone.context.browser.new_context(viewport={"width": 390, "height": 844})  # type: ignore[union-attr]
    try:
        other = second.new_page()
        other.goto(offer["url"])
        other.fill("#pair-code", offer["code"])
        other.click("#pair-button")
        other.wait_for_selector("#pair-error:has-text('expired or was already used')")
        other.screenshot(path=str(ARTIFACTS / f"{phone.name}-used-link.png"))
    finally:
        second.close()


def test_damaged_link_says_so_and_the_page_is_locked_down(stack: Stack, phone: Phone) -> None:
    offer = stack.pair_offer()
    page = phone.page
    response = page.goto(offer["url"][:-5])
    assert response is not None
    csp = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in csp and "connect-src 'self'" in csp, csp
    assert "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp, csp
    page.wait_for_selector("#pair-error:has-text('damaged')")
    assert "#" not in page.url


def test_expired_offer_and_relay_down_are_told_apart(stack: Stack, phone: Phone) -> None:
    if stack.relay is None:
        pytest.skip("the relay under test is external: it cannot be stopped from here")
    page = phone.page
    expired = stack.pair_offer(ttl=10)  # the shortest offer `loopsy mobile pair` makes
    time.sleep(10.5)  # let its TTL pass (an expiry is a matter of time)
    page.goto(expired["url"])
    page.fill("#pair-code", expired["code"])
    page.click("#pair-button")
    page.wait_for_selector("#pair-error:has-text('expired or was already used')")

    offer = stack.pair_offer()
    page.goto(offer["url"])
    stack.relay.stop()
    page.fill("#pair-code", offer["code"])
    page.click("#pair-button")
    page.wait_for_selector("#pair-error:has-text('cannot reach the relay')")
    phone.shot("relay-down")
