"""The terminal on a phone: sticky modifiers from the key bar, rotation, and the computer
going away and coming back."""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.phone import Phone
from tests.browser.stack import Stack

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def session_size(stack: Stack) -> tuple[int, int]:
    (session,) = stack.json("session", "list")
    return int(session["cols"]), int(session["rows"])


def wait_size(stack: Stack, check: object, timeout: float = 20) -> tuple[int, int]:
    deadline = time.monotonic() + timeout
    while True:
        size = session_size(stack)
        if check(size):  # type: ignore[operator]
            return size
        assert time.monotonic() < deadline, f"the session stayed {size}"
        time.sleep(0.1)


def test_key_bar_ctrl_c_and_rotation(stack: Stack, phone: Phone) -> None:
    phone.open_shell(stack.pair_offer())
    page = phone.page
    portrait = wait_size(stack, lambda s: s[0] < 60)

    phone.type("sleep 600\r")
    phone.key("key-ctrl")
    assert page.get_attribute("#key-ctrl", "aria-pressed") == "true"
    phone.type("c")  # the phone keyboard's c, with the sticky Ctrl: SIGINT
    assert page.get_attribute("#key-ctrl", "aria-pressed") == "false"
    phone.wait_text(r"\^C\n.*[$#] $")
    phone.type("echo after-interrupt\r")
    phone.wait_text(r"^after-interrupt$")

    page.set_viewport_size({"width": 844, "height": 390})  # rotate to landscape
    wait_size(stack, lambda s: s[0] > portrait[0] and s[1] < portrait[1])
    # The program sees the size the session has (the fit may still settle by a row or a
    # column after the first landscape size: ask again until both agree).
    for attempt in range(10):
        landscape = session_size(stack)
        phone.type(f"echo size{attempt} $(stty size)\r")
        shown = re.findall(rf"^size{attempt} (\d+) (\d+)$", phone.wait_text(rf"^size{attempt} \d+"),
                           re.MULTILINE)  # fmt: skip
        if shown and (int(shown[-1][1]), int(shown[-1][0])) == landscape == session_size(stack):
            break
    else:
        raise AssertionError(f"the program never saw the session's size {landscape}")
    assert landscape[0] > portrait[0] and landscape[1] < portrait[1]
    phone.shot("landscape")


def test_computer_offline_then_back(stack: Stack, phone: Phone) -> None:
    phone.open_shell(stack.pair_offer())
    phone.type("echo before-stop\r")
    phone.wait_text(r"^before-stop$")

    stack.loopsy("stop")  # sessions outlive the daemon; the relay tells the page
    page = phone.page
    page.wait_for_selector("#term-status:has-text('your computer is offline')")
    phone.shot("offline")
    page.click("#tab-home")
    page.wait_for_selector("#link-state.offline")

    stack.start()
    phone.wait_online()
    page.click("#sessions button.session")  # back to it from the home list
    phone.wait_live()
    phone.type("echo after-restart\r")
    text = phone.wait_text(r"^after-restart$")
    assert len(re.findall(r"^before-stop$", text, re.MULTILINE)) == 1


def test_revoked_phone_is_told_and_can_start_over(stack: Stack, phone: Phone) -> None:
    phone.pair(stack.pair_offer())
    (paired,) = stack.json("phone", "list")
    stack.loopsy("phone", "revoke", paired["phone_id"])
    page = phone.page
    page.wait_for_selector("#link-state.refused")
    page.wait_for_selector("#link-detail:has-text('revoked')")
    page.wait_for_selector("#forget")
    phone.shot("revoked")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#forget")
    page.wait_for_selector("#pair-link")  # back to pairing, nothing kept
    assert page.evaluate("localStorage.length") == 0


def test_sgr_16_256_and_true_colours_reach_the_terminal(stack: Stack, phone: Phone) -> None:
    phone.open_shell(stack.pair_offer())
    phone.type(r"printf '\e[31mA\e[38;5;196mB\e[38;2;1;2;3mC\e[0mD colour-line\n'" + "\r")
    phone.wait_text(r"^ABCD colour-line$")
    cells = phone.page.evaluate("window.loopsyDebug.colors('ABCD colour-line')")
    assert cells[:4] == [
        ["A", "palette", 1],
        ["B", "palette", 196],
        ["C", "rgb", (1 << 16) | (2 << 8) | 3],
        ["D", "default", -1],
    ], cells
    phone.shot("colours")
