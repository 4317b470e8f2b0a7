"""Peers, Phones, Approvals, Inbox and Audit log against the fake client; the new-session
picker; the command palette; starting the daemon when none runs."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input, Label, RichLog

from loopsy.protocol.errors import Unavailable
from loopsy.protocol.peers import PairingStatus
from loopsy.protocol.phones import PairState
from loopsy.tui.app import LoopsyApp
from loopsy.tui.approvals_panel import ApprovalsPanel
from loopsy.tui.audit_panel import AuditPanel
from loopsy.tui.confirm import ConfirmScreen
from loopsy.tui.inbox_panel import InboxPanel
from loopsy.tui.new_session import NewSessionScreen
from loopsy.tui.peer_connect import PeerConnectScreen
from loopsy.tui.peer_wait import PeerWaitScreen
from loopsy.tui.peers_panel import PeersPanel
from loopsy.tui.phone_pairing import PhonePairScreen
from loopsy.tui.phones_panel import PhonesPanel
from loopsy.tui.session_list import SessionList
from loopsy.tui.start_daemon import StartDaemonScreen
from loopsy.tui.status_bar import StatusBar
from tests.tui.fake import NOW, FakeClient
from tests.tui.pilot import SIZE, fake_app, settle, until

pytestmark = pytest.mark.anyio


async def loaded(pilot, app: LoopsyApp) -> None:
    await until(pilot, lambda: app.query_one(SessionList).row_count > 0, "the first data")


async def show(pilot, app: LoopsyApp, key: str, table_id: str | None = None) -> None:
    await loaded(pilot, app)
    await pilot.press(key)
    if table_id is not None:
        table = app.query_one(f"#{table_id}", DataTable)
        await until(pilot, lambda: table.row_count > 0, table_id)
        await until(pilot, lambda: app.focused is table, f"focus on {table_id}")


async def open_peer_wait(pilot, app: LoopsyApp, state: str) -> PeerWaitScreen:
    """The Peers tab, `p`: the waiting side's pairing dialog, once it reaches ``state``."""
    await show(pilot, app, "2", "peers-table")
    await pilot.press("p")
    await until(pilot, lambda: isinstance(app.screen, PeerWaitScreen), "the dialog")
    screen = app.screen
    assert isinstance(screen, PeerWaitScreen)
    await until(pilot, lambda: screen.status.state == state, state)
    return screen


async def test_peers(fake: FakeClient, snap) -> None:
    """The Peers tab: laptop online at 2.4 ms (paired), nas offline (paired, seen 2d
    ago), desk online seen by mDNS (not paired); the detail line below names laptop, its
    id, version 0.1.0 and what it offers; the footer shows Pair: show code, Pair with
    host, Remove, Check now."""
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, app, "2", "peers-table")
        await settle(pilot)
        assert snap(app)
        await pilot.press("r")  # a health check now, asked by the user
        await until(pilot, lambda: ("peers", True) in fake.calls, "the refresh")
        await pilot.press("down", "x")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await until(pilot, lambda: ("peer-remove", "q" * 32) in fake.calls, "the removal")
        assert "q" * 32 not in app.query_one(PeersPanel).peers


async def test_pair_a_peer_by_showing_the_code(fake: FakeClient, snap) -> None:
    """Pairing, the waiting side: a dialog says laptop (its id) at 192.168.1.20 wants to
    pair, shows 'Code:  123 456' in large bold, and asks whether the other machine shows
    the same code, with 'Same code [y]' and 'Different [n]' buttons."""
    fake.pairing_steps = [
        PairingStatus(role="responder", state="waiting", listen=["192.168.1.10:19533"]),
        PairingStatus(role="responder", state="code_ready", code="123456",
                      peer_id="p" * 32, peer_name="laptop", peer_address="192.168.1.20"),
        PairingStatus(role="responder", state="verified", peer_name="laptop"),
        PairingStatus(role="responder", state="done", peer_name="laptop", peer_id="p" * 32),
    ]
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await open_peer_wait(pilot, app, "code_ready")
        await settle(pilot)
        assert snap(app)
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, PeerWaitScreen), "pairing done")
        assert ("pairing-decide", True, "123456") in fake.calls  # the answer names the code shown


async def test_pairing_refused_says_why_in_the_dialog(fake: FakeClient) -> None:
    """A daemon without a mesh listener refuses to open the pairing window: the dialog says
    so and how to fix it (not 'opening the pairing window…' forever)."""
    async def refuse(*args: object) -> None:
        raise Unavailable("this daemon does not listen for peers", hint="loopsy start --lan")

    fake.peers.pairing_listen = refuse
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_peer_wait(pilot, app, "failed")
        title = str(screen.query_one("#peer-title", Label).render())
        help_ = str(screen.query_one("#peer-help", Label).render())
        assert "Pairing failed" in title
        assert "does not listen for peers" in help_ and "loopsy start --lan" in help_
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, PeerWaitScreen), "closed")


async def test_pair_with_a_host(fake: FakeClient) -> None:
    fake.pairing_steps = [
        PairingStatus(role="initiator", state="code_ready", peer_name="laptop",
                      peer_id="p" * 32),
        PairingStatus(role="initiator", state="done", peer_name="laptop", peer_id="p" * 32),
    ]
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, app, "2", "peers-table")
        await pilot.press("c")
        await until(pilot, lambda: isinstance(app.screen, PeerConnectScreen), "the dialog")
        await pilot.press(*"laptop.lan:19533", "enter")
        await until(pilot, lambda: ("pairing-connect", "laptop.lan", 19533) in fake.calls)
        code = app.screen.query_one("#code", Input)
        await until(pilot, lambda: not code.disabled, "the code field")
        await pilot.press(*"12345", "enter")  # five digits: refused before asking the daemon
        assert not [c for c in fake.calls if c[0] == "pairing-verify"]
        await pilot.press("6", "enter")
        await until(pilot, lambda: ("pairing-verify", "123456") in fake.calls, "verify")
        await until(pilot, lambda: not isinstance(app.screen, PeerConnectScreen), "done")


async def test_phones(fake: FakeClient, snap) -> None:
    """The Phones tab: Pixel 8 online (paired 3d ago, seen now) and iPad offline (paired
    10d ago, seen 2h ago) with their ids; the hint above explains p pairs and x revokes."""
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, app, "3", "phones-table")
        await settle(pilot)
        assert snap(app)
        await pilot.press("x")  # the first row: the phone paired first, iPad
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await until(pilot, lambda: ("revoke", "ph-ipad") in fake.calls, "the revoke")
        assert "ph-ipad" not in app.query_one(PhonesPanel).phones


async def test_pair_a_phone_from_the_qr_code(fake: FakeClient, snap) -> None:
    """Pairing a phone: a dialog with a black-on-white QR code of the offer's URL (the title
    says Esc closes), the URL under it, 'then type this code on the phone:  314 159' in
    bold, and 'Valid for 5m more, once'."""
    app = fake_app(fake)
    async with app.run_test(size=(120, 48)) as pilot:
        await show(pilot, app, "3", "phones-table")
        await pilot.press("p")
        await until(pilot, lambda: isinstance(app.screen, PhonePairScreen), "the dialog")
        screen = app.screen
        await until(pilot, lambda: screen.offer is not None, "the offer")
        await settle(pilot)
        assert "Esc" in str(screen.query_one("#pair-title", Label).render())
        assert snap(app)
        fake.pair_states = [
            PairState(pair_id="pair-1", state="paired", attempts_left=5, phone_id="ph-new",
                      phone_name="Galaxy")
        ]
        fake.emit("phones", "phone.paired", {"phone_id": "ph-new"})
        await until(pilot, lambda: not isinstance(app.screen, PhonePairScreen), "paired")


async def test_approvals(fake: FakeClient, snap) -> None:
    """The Approvals tab: one pending request from phone:pixel to run codex without its
    permission prompts (asked 1m ago, expires in 9m) above an older denied one decided by
    local:local; the tab title reads '4 Approvals (1)'."""
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, app, "4", "approvals-table")
        await settle(pilot)
        assert snap(app)
        await pilot.press("a")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await until(pilot, lambda: ("allowed", "ap000001") in fake.calls, "the allow")
        panel = app.query_one(ApprovalsPanel)
        await until(pilot, lambda: app.query_one(StatusBar).pending == 0, "none pending")
        assert panel.approvals["ap000001"].state == "allowed"


async def test_approval_requested_live_and_denied(fake: FakeClient) -> None:
    app = fake_app(fake)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await show(pilot, app, "4", "approvals-table")
        request = fake.approvals_data[0].model_copy(
            update={"id": "ap000002", "summary": "peer:laptop asks to run claude", "created": NOW}
        )
        fake.emit("approvals", "approval.requested", request.model_dump(mode="json"))
        status = app.query_one(StatusBar)
        await until(pilot, lambda: status.pending == 2, "the live request")
        assert any("peer:laptop asks" in n.message for n in app._notifications)
        table = app.query_one("#approvals-table", DataTable)
        table.move_cursor(row=table.get_row_index("ap000002"))
        fake.approvals_data.append(request)
        await pilot.press("d")
        await until(pilot, lambda: ("denied", "ap000002") in fake.calls, "the deny")
        await until(pilot, lambda: status.pending == 1, "one left")


async def test_inbox(fake: FakeClient, snap) -> None:
    """The Inbox tab: two new messages from laptop (a 'result' 30s ago whose JSON body is
    previewed on one line, a 'text' 5m ago), the selected one shown in full below with its
    pretty-printed JSON body and 'new: a acknowledges'."""
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, app, "5", "inbox-table")
        await settle(pilot)
        assert snap(app)
        await pilot.press("a")
        await until(pilot, lambda: ("ack", "m-0002") in fake.calls, "the ack")
        panel = app.query_one(InboxPanel)
        await until(pilot, lambda: list(panel.messages) == ["m-0001"], "acked hidden")
        await pilot.press("h")
        await until(pilot, lambda: len(panel.messages) == 2, "acked shown")


async def test_audit_log_live_with_a_filter(fake: FakeClient, snap) -> None:
    """The Audit log tab filtered by 'api/v1 !status': two request lines are left, the
    GET of /api/v1/sessions by local:local and the refused POST of /api/v1/execute by
    key:api in red (403); the filter text shows in the input at the top."""
    from loopsy.protocol.audit import AuditRecord

    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        await pilot.press("6")
        panel = app.query_one(AuditPanel)
        await until(pilot, lambda: len(panel.records) == 4, "the backlog")
        fake.audit_in.send_nowait(
            AuditRecord(ts=NOW, caller="local:local", method="DELETE",
                        path="/api/v1/sessions/x", status=204, ms=3.0)
        )
        await until(pilot, lambda: len(panel.records) == 5, "a live record")
        log = app.query_one(RichLog)
        assert len(log.lines) == 5
        await pilot.press("slash", *"api/v1 !status !delete")
        await until(pilot, lambda: len(log.lines) == 2, "the filtered view")
        await pilot.press("enter")
        await settle(pilot)
        assert snap(app)


async def test_new_session_picker(fake: FakeClient, snap) -> None:
    """The new-session picker over the Sessions tab: Shell, Claude Code (its version),
    Codex greyed out as not found, the pinned 'Run the tests', and 'Custom command…';
    fields for the directory and the name, an auto-approve checkbox, Start and Cancel."""
    app = fake_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        app.query_one(SessionList).focus()
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen), "the picker")
        await settle(pilot)
        assert snap(app)
        await pilot.press("down")  # Claude Code
        await pilot.click("#cwd")
        await pilot.press(*"~/src/app")
        await pilot.click("#name")
        await pilot.press(*"fixer", "enter")
        await until(pilot, lambda: [c for c in fake.calls if c[0] == "create"], "the create")
        _, agent, options = next(c for c in fake.calls if c[0] == "create")
        assert agent == "claude"
        assert options["cwd"] == "~/src/app" and options["name"] == "fixer"
        assert options["argv"] is None and options["auto_approve"] is False


async def test_new_session_custom_command(fake: FakeClient) -> None:
    app = fake_app(fake)
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(pilot, app)
        app.query_one(SessionList).focus()
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, NewSessionScreen), "the picker")
        await pilot.press("end", "enter")  # Custom command…
        await pilot.press(*"make 'watch all'", "enter")
        await until(pilot, lambda: [c for c in fake.calls if c[0] == "create"], "the create")
        _, agent, options = next(c for c in fake.calls if c[0] == "create")
        assert agent is None and options["argv"] == ["make", "watch all"]


async def test_kill_and_remove_ask_first(fake: FakeClient) -> None:
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        app.query_one(SessionList).focus()
        await pilot.press("k")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "no")
        assert not [c for c in fake.calls if c[0] == "kill"]
        await pilot.press("k", "y")
        await until(pilot, lambda: ("kill", "a1b2c3d4") in fake.calls, "the kill")
        await pilot.press("r")
        await until(pilot, lambda: ("restart", "a1b2c3d4") in fake.calls, "the restart")
        await pilot.press("x", "y")
        await until(pilot, lambda: ("remove", "a1b2c3d4") in fake.calls, "the remove")


async def test_command_palette_lists_the_actions(fake: FakeClient) -> None:
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await show(pilot, app, "4", "approvals-table")
        await until(pilot, lambda: app.query_one(PhonesPanel).phones, "the phones")
        await until(pilot, lambda: app.query_one(PeersPanel).peers, "the peers")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for wanted in ("New session", "Attach to claude-1", "Pair a phone",
                       "Pair a machine: show the code here", "Filter the audit log",
                       "Go to Inbox", "Acknowledge the selected message",
                       "Kill build", "Restart shell-1", "Remove shell-1", "Revoke Pixel 8",
                       "Remove peer nas", "Check peers now"):
            assert wanted in titles, wanted
        assert "Kill shell-1" not in titles  # it exited
        assert any(t.startswith("Allow: phone:pixel asks") for t in titles)
        await pilot.press("ctrl+p")
        await pilot.press(*"attach to build", "enter")
        await until(pilot, lambda: app.query("TerminalPane"), "the pane from the palette")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Detach from build" in titles
        await pilot.press("ctrl+right_square_bracket", "ctrl+p")
        await pilot.press(*"kill build", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await until(pilot, lambda: ("kill", "e5f6a7b8") in fake.calls, "the kill")


async def test_no_daemon_offers_to_start_one(fake: FakeClient, snap) -> None:
    """No daemon: a dialog 'No Loopsy daemon is running' says nothing answers at
    /tmp/fake/loopsyd.sock and offers Start [s] or Quit [q]; the status bar reads
    'daemon: not connected'."""
    fake.running = False
    started = []

    async def start() -> None:
        started.append(True)
        fake.running = True

    app = LoopsyApp(fake, clock=lambda: NOW, start_daemon=start)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, StartDaemonScreen), "the offer")
        await settle(pilot)
        assert snap(app)
        await pilot.press("s")
        await until(pilot, lambda: app.query_one(SessionList).row_count == 4, "the data")
        assert started == [True]


async def test_no_daemon_and_quit(fake: FakeClient) -> None:
    fake.running = False
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, StartDaemonScreen), "the offer")
        await pilot.press("q")
        await until(pilot, lambda: not app.is_running, "the app to quit")


async def test_status_bar_says_when_the_relay_refuses_this_daemon(fake: FakeClient) -> None:
    """A relay that no longer knows the daemon is not 'down' (it answers): the bar says it
    refused, and where to read the fix; a relay that is simply unreachable says down."""
    from loopsy.protocol.phones import RelayStatus

    fake.relay_data = RelayStatus(
        url="wss://relay.example.net", connected=False, device_id="dev-1",
        last_error="the relay at wss://relay.example.net no longer knows this daemon",
        state="rejected",
    )
    app = fake_app(fake)
    async with app.run_test(size=SIZE) as pilot:
        await loaded(pilot, app)
        bar = app.query_one(StatusBar)
        await until(pilot, lambda: bar.relay is not None, "the relay status")
        text = str(bar.render())
        assert "refused this daemon" in text and "loopsy relay status" in text
        bar.relay = RelayStatus(url="wss://relay.example.net", connected=False,
                                last_error="connection refused",
                                state="connecting")
        text = str(bar.render())
        assert "down" in text and "connection refused" in text
        assert "refused this daemon" not in text
