"""Through page reloads and relay restarts the phone loses no byte and doubles none."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.browser.phone import Phone
from tests.browser.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def numbered(text: str, prefix: str) -> list[int]:
    return [int(m) for m in re.findall(rf"^{prefix}-(\d+)$", text, re.MULTILINE)]


def wait_file(path: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_closed_page_reopens_with_what_came_meanwhile_once(stack: Stack, phone: Phone) -> None:
    phone.open_shell(stack.pair_offer())
    phone.type("echo before-close\r")
    phone.wait_text(r"^before-close$")
    phone.page.wait_for_function(  # the page keeps its screen and offset as it goes
        "() => { const d = window.loopsyDebug; return d.savedOffset() === d.offset(); }"
    )
    done = stack.root / "meanwhile.done"
    phone.type(f"sleep 1; for i in $(seq 1 60); do echo tick-$i; done; touch {done}\r")
    app = phone.page.url
    phone.page.close()  # the tab is closed while the command still sleeps
    wait_file(done)

    phone.reopen(app)
    phone.wait_live()
    text = phone.wait_text(r"^tick-60$")
    resumed = phone.page.evaluate("window.loopsyDebug.lastAttach()")
    assert resumed["offset"] > 0 and not resumed["snapshot"], "resumed from the saved offset"
    assert numbered(text, "tick") == list(range(1, 61))
    assert len(re.findall(r"^before-close$", text, re.MULTILINE)) == 1
    phone.shot("reopened")


def test_relay_restart_while_printing_loses_nothing(stack: Stack, phone: Phone) -> None:
    if stack.relay is None:
        pytest.skip("the relay under test is external: it cannot be restarted from here")
    phone.open_shell(stack.pair_offer())
    phone.watch_link()
    phone.type("for i in $(seq 1 400); do echo R-$i; sleep 0.01; done; echo END-R\r")
    phone.wait_text(r"^R-40$")
    stack.restart_relay()  # SIGKILL mid-output, then start again on the same port and data
    text = phone.wait_text(r"^END-R$", timeout=60_000)
    states = phone.link_states()
    resumed = phone.page.evaluate("window.loopsyDebug.lastAttach()")
    assert resumed["offset"] > 0 and not resumed["snapshot"], "resumed by offset, no snapshot"
    assert "online" in states and any(s != "online" for s in states), states
    assert numbered(text, "R") == list(range(1, 401))
    phone.shot("after-restart")


def test_tabs_keep_their_own_screens(stack: Stack, phone: Phone) -> None:
    phone.open_shell(stack.pair_offer())
    phone.type("echo first-tab-marker\r")
    phone.wait_text(r"^first-tab-marker$")
    phone.page.click("#tab-home")
    phone.start("shell")
    phone.wait_prompt()
    phone.type("echo second-tab-marker\r")
    phone.wait_text(r"^second-tab-marker$")
    assert "first-tab-marker" not in phone.text()
    tabs = phone.page.locator(".tabs .tab-name")
    assert tabs.count() == 2
    tabs.nth(0).click()
    text = phone.wait_text(r"^first-tab-marker$")
    assert "second-tab-marker" not in text
    phone.shot("two-tabs")

    # reopened, both tabs come back; the one not shown leaves its session's size alone
    sizes = {s["id"]: (s["cols"], s["rows"]) for s in stack.json("session", "list")}
    phone.reopen(phone.page.url)
    phone.wait_live()
    page = phone.page
    page.wait_for_function("() => document.querySelectorAll('.term[data-state=live]').length == 2")
    assert page.locator(".tabs .tab-name").count() == 2
    deadline = time.monotonic() + 15  # the shown tab refits once its status line hides
    while (
        now := {s["id"]: (s["cols"], s["rows"]) for s in stack.json("session", "list")}
    ) != sizes:
        assert time.monotonic() < deadline, f"sizes {now}, expected {sizes}"
        time.sleep(0.1)


def test_a_flood_of_output_flows_without_drops_or_skips(stack: Stack, phone: Phone) -> None:
    """Flow control end to end: 2.3 MB from `seq` arrives whole, paced by what the page
    renders, on one connection (no reconnect) and without a snapshot skipping bytes."""
    phone.open_shell(stack.pair_offer())
    phone.watch_link()
    before = phone.page.evaluate("window.loopsyDebug.snapshots()")
    start = phone.page.evaluate("window.loopsyDebug.offset()")
    phone.type("seq 1 300000; echo FLOOD-DONE\r")
    phone.page.wait_for_function(
        "() => window.loopsyDebug.text(100).includes('\\nFLOOD-DONE')", timeout=90_000, polling=250
    )
    tail = phone.text()
    assert numbered(tail.replace("\n", "\nN-"), "N")[-5:] == [
        299996,
        299997,
        299998,
        299999,
        300000,
    ]
    assert phone.link_states() == []
    assert phone.page.evaluate("window.loopsyDebug.snapshots()") == before
    printed = sum(len(str(i)) + 2 for i in range(1, 300_001))  # each line ends in \r\n
    assert phone.page.evaluate("window.loopsyDebug.offset()") - start > printed
    phone.type("echo still-answering\r")
    phone.wait_text(r"^still-answering$")
