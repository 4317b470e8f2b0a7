"""The home screen: pinned commands saved on the computer, and auto-approve that waits for
a yes at the computer itself."""

from __future__ import annotations

import pytest

from tests.browser.phone import Phone
from tests.browser.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def custom(stack: Stack) -> dict[str, dict[str, object]]:
    return {a["name"]: a for a in stack.json("agents") if a["kind"] == "custom"}


def test_pin_edit_run_and_unpin_a_command(stack: Stack, phone: Phone) -> None:
    phone.pair(stack.pair_offer())
    page = phone.page
    page.click("#pin-new")
    page.fill("#pin-name", "greet")
    page.fill("#pin-label", "Greet")
    page.fill("#pin-command", """sh -c 'echo "pinned $((40+2))"; exec cat'""")
    page.click("#pin-save")
    page.wait_for_selector("label.choice[data-agent='greet']")
    pinned = custom(stack)["greet"]
    assert pinned["argv"] == ["sh", "-c", 'echo "pinned $((40+2))"; exec cat']
    assert pinned["label"] == "Greet"

    page.click("label.choice[data-agent='greet'] button")
    page.fill("#pin-label", "Greet me")
    page.click("#pin-save")
    page.wait_for_selector("label.choice[data-agent='greet']:has-text('Greet me')")
    assert custom(stack)["greet"]["label"] == "Greet me"
    phone.shot("pinned")

    phone.start("greet")
    phone.wait_text(r"^pinned 42$")
    page.click("#tab-home")
    page.click("label.choice[data-agent='greet'] button")
    page.click("#pin-remove")
    page.wait_for_selector("label.choice[data-agent='greet']", state="detached")
    assert "greet" not in custom(stack)

    audit = stack.json("logs", "-n", "200")
    events = [(e.get("caller", ""), e.get("event") or e.get("action")) for e in audit]
    phone_events = [ev for caller, ev in events if str(caller).startswith("phone:")]
    assert "agents.pinned" in phone_events and "agents.unpinned" in phone_events, events


def test_auto_approve_waits_for_the_computer(stack: Stack, phone: Phone) -> None:
    phone.pair(stack.pair_offer())
    page = phone.page
    page.click("label.choice[data-agent='claude']")
    page.check("#auto-approve")
    page.click("#start-session")
    page.wait_for_selector(".approval:has-text('waiting for confirmation on your computer')")
    phone.shot("waiting")
    pending = stack.json("approvals", "list")
    assert len(pending) == 1 and pending[0]["kind"] == "auto_approve"
    assert pending[0]["requested_by"].startswith("phone:")

    stack.loopsy("approvals", "allow", pending[0]["id"])
    phone.wait_live()
    phone.wait_text(r"^fake-claude: no prompts$")
    phone.shot("allowed")

    # and a request denied at the computer says so on the phone
    page.click("#tab-home")
    page.click("label.choice[data-agent='claude']")
    page.check("#auto-approve")
    page.click("#start-session")
    page.wait_for_selector(".approval:has-text('waiting for confirmation on your computer')")
    (second,) = stack.json("approvals", "list")
    stack.loopsy("approvals", "deny", second["id"])
    page.wait_for_selector(".approval:has-text('denied on your computer')")
    phone.shot("denied")
