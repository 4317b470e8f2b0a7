"""The dashboard against a real in-process daemon (unix socket, real PTY sessions): attach
and type, approve an auto-approve request, read and acknowledge the inbox, follow the
audit log, pair a phone through a real relay from what the screen shows."""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Label, RichLog

from loopsy.client import LoopsyClient
from loopsy.client.phone import pair_phone
from loopsy.config import load_config, save_config
from loopsy.daemon.services import Services
from loopsy.home import LoopsyHome
from loopsy.tui.app import LoopsyApp
from loopsy.tui.approvals_panel import ApprovalsPanel
from loopsy.tui.audit_panel import AuditPanel
from loopsy.tui.confirm import ConfirmScreen
from loopsy.tui.inbox_panel import InboxPanel
from loopsy.tui.phone_pairing import PhonePairScreen
from loopsy.tui.phones_panel import PhonesPanel
from loopsy.tui.session_list import SessionList
from loopsy.tui.status_bar import StatusBar
from loopsy.tui.terminal_pane import TerminalPane
from tests.relay_process import RelayProcess
from tests.tui.pilot import SIZE, settle, until

pytestmark = pytest.mark.anyio

FAKE_CLAUDE = """#!/bin/sh
echo "fake-claude argv: $*"
exec cat
"""


@pytest.fixture
def named(home: LoopsyHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A node with a fixed id and name (they show on screen), and a fake `claude` on PATH
    (an agent with an auto-approve flag)."""
    config = load_config(home)
    node = config.node.model_copy(update={"id": "7" * 32, "name": "workstation"})
    save_config(home, config.model_copy(update={"node": node}))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    claude = bin_dir / "claude"
    claude.write_text(FAKE_CLAUDE)
    claude.chmod(claude.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    yield


def app_for(daemon: Services, client: LoopsyClient) -> LoopsyApp:
    # A clock 100 s after the daemon started: ages and uptime read the same on every run.
    return LoopsyApp(client, clock=lambda: daemon.started_at + 100)


def screen_text(pane: TerminalPane) -> str:
    return "\n".join(line.rstrip() for line in pane.terminal.text())


async def test_attach_type_and_detach(named: None, daemon: Services, client: LoopsyClient, snap):
    """A real shell session 'shell-a' (sh in /tmp, running, 1 client) attached in a pane
    that shows '$ echo hi', 'hi' and a fresh '$ ' prompt with the cursor after it; the
    status bar shows workstation, up 1m, relay not configured, LAN off."""
    await client.sessions.create(argv=["sh"], env={"PS1": "$ "}, cwd="/tmp", name="shell-a")
    app = app_for(daemon, client)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(SessionList)
        await until(pilot, lambda: table.row_count == 1, "the session list")
        table.focus()
        await pilot.press("enter")
        await until(pilot, lambda: app.query(TerminalPane), "a pane")
        pane = app.query_one(TerminalPane)
        await until(pilot, lambda: screen_text(pane).startswith("$"), "the prompt")
        await pilot.press(*"echo hi", "enter")
        await until(pilot, lambda: "\nhi\n$" in screen_text(pane), "the command's output")
        info = await client.sessions.get("shell-a")
        assert (info.cols, info.rows) == (pane.terminal.cols, pane.terminal.rows)
        await until(pilot, lambda: table.sessions[info.id].attached == 1, "1 client")
        await settle(pilot)
        assert snap(app)
        await pilot.press("ctrl+right_square_bracket", "d")
        await until(pilot, lambda: table.sessions[info.id].attached == 0, "the detach")
        assert not app.query(TerminalPane)


async def test_approve_an_auto_approve_request(
    named: None, daemon: Services, client: LoopsyClient, snap
):
    """The Approvals tab with a live request: local:local asks to run claude
    --dangerously-skip-permissions (session fixer, in /tmp) without its permission
    prompts, pending, asked 1m ago, expiring in 13m; the status bar counts 1 waiting."""
    app = app_for(daemon, client)
    async with app.run_test(size=SIZE) as pilot:
        status = app.query_one(StatusBar)
        await until(pilot, lambda: status.connected, "the event stream")
        info = await client.sessions.create("claude", cwd="/tmp", name="fixer", auto_approve=True)
        assert info.state == "pending"
        await until(pilot, lambda: status.pending == 1, "the request, live")
        await pilot.press("4")
        panel = app.query_one(ApprovalsPanel)
        await until(pilot, lambda: app.focused is panel.query_one("DataTable"), "the tab")
        await settle(pilot)
        assert snap(app)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the confirmation")
        await pilot.press("y")
        await until(pilot, lambda: status.pending == 0, "the decision")
        started = await client.sessions.get("fixer")
        assert started.auto_approve == "on"
        await pilot.press("1")
        table = app.query_one(SessionList)
        await until(pilot, lambda: table.sessions[info.id].state == "running", "it runs")
        table.focus()
        table.move_cursor(row=table.get_row_index(info.id))
        await pilot.press("enter")
        await until(pilot, lambda: app.query(TerminalPane), "a pane")
        pane = app.query_one(TerminalPane)
        expected = "fake-claude argv: --dangerously-skip-permissions"
        await until(pilot, lambda: expected in screen_text(pane), "the agent's own output")


async def test_inbox_live_and_acknowledged(
    named: None, daemon: Services, client: LoopsyClient, snap
):
    """The Inbox tab with one new message m-1 from this node (7777…) of type text: 'Build
    green on the laptop; pull when you can.', shown in full below the table."""
    app = app_for(daemon, client)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one(StatusBar).connected, "the event stream")
        await pilot.press("5")
        await client.messages.send(
            "7" * 32, "Build green on the laptop; pull when you can.", id="m-1"
        )
        panel = app.query_one(InboxPanel)
        await until(pilot, lambda: "m-1" in panel.messages, "the message, live")
        await until(pilot, lambda: app.focused is panel.query_one("DataTable"), "the tab")
        await settle(pilot)
        assert snap(app)
        await pilot.press("a")
        await until(pilot, lambda: "m-1" not in panel.messages, "the acknowledgement")
        (entry,) = await client.messages.inbox(include_acked=True)
        assert entry.acked_at is not None
        outbox = await client.messages.outbox("m-1")
        assert outbox.state == "acked"  # the sender (this node) was told


async def test_audit_log_follows_live(named: None, daemon: Services, client: LoopsyClient):
    app = app_for(daemon, client)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one(StatusBar).connected, "the event stream")
        await pilot.press("6")
        panel = app.query_one(AuditPanel)
        await until(pilot, lambda: panel.records, "the backlog")
        await client.context.set("tui-test-key", "x")
        await until(
            pilot,
            lambda: any(r.path and "tui-test-key" in r.path for r in panel.records),
            "the new request in the tail",
        )
        await pilot.press("slash", *"tui-test-key")
        log = app.query_one(RichLog)
        await until(pilot, lambda: len(log.lines) >= 1, "the filtered view")
        assert all("tui-test-key" in strip.text for strip in log.lines)


async def test_pair_a_phone_from_the_screen(
    named: None, daemon: Services, client: LoopsyClient, relay: RelayProcess
):
    """The phone pairs with what the dialog shows (the URL of the QR and the code), and
    the dialog closes on its own; the Phones tab lists it, online."""
    app = app_for(daemon, client)
    async with app.run_test(size=(120, 50)) as pilot:
        status = app.query_one(StatusBar)
        await until(pilot, lambda: status.connected, "the event stream")
        await client.relay.configure(relay.url)
        await until(pilot, lambda: status.relay is not None and status.relay.connected,
                    "the relay link shown up", timeout=30)
        await pilot.press("3")
        panel = app.query_one(PhonesPanel)
        await until(pilot, lambda: app.focused is panel.query_one("DataTable"), "the tab")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PhonePairScreen), "the dialog")
        screen = app.screen
        await until(pilot, lambda: screen.offer is not None, "the offer")
        url_text = str(screen.query_one("#url", Label).render())
        code_text = str(screen.query_one("#code", Label).render())
        url = url_text.removeprefix("or open ").strip()
        code = "".join(re.findall(r"\d", code_text))
        assert url.startswith(relay.url + "/app#") and len(code) == 6
        identity = await pair_phone(url, code, name="test phone")
        await until(pilot, lambda: not isinstance(app.screen, PhonePairScreen), "the close")
        await until(pilot, lambda: identity.phone_id in panel.phones, "the phone listed")
        assert panel.phones[identity.phone_id].name == "test phone"
