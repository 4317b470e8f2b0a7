"""``loopsy tui``: the dashboard. The app takes its backend, a client of ``loopsy/client/``
(a :class:`~loopsy.client.LoopsyClient`, or a fake with the same surface in tests).

It connects (offering to start the daemon when none answers), follows the daemon's event
stream, and hands each event to the tabs that care; the tabs read and act through the
client in their own workers.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any

import anyio
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from loopsy.protocol.errors import DaemonNotRunning, LoopsyError
from loopsy.tui.approvals_panel import ApprovalsPanel
from loopsy.tui.audit_panel import AuditPanel
from loopsy.tui.inbox_panel import InboxPanel
from loopsy.tui.panel import TRANSPORT_ERRORS, Panel, reporting
from loopsy.tui.peers_panel import PeersPanel
from loopsy.tui.phones_panel import PhonesPanel
from loopsy.tui.sessions_panel import SessionsPanel
from loopsy.tui.start_daemon import StartDaemonScreen
from loopsy.tui.status_bar import StatusBar

if TYPE_CHECKING:
    from loopsy.client import LoopsyClient

# (tab id, title, panel class); the number key before the title switches to it.
TABS: tuple[tuple[str, str, type[Panel]], ...] = (
    ("sessions", "Sessions", SessionsPanel),
    ("peers", "Peers", PeersPanel),
    ("phones", "Phones", PhonesPanel),
    ("approvals", "Approvals", ApprovalsPanel),
    ("inbox", "Inbox", InboxPanel),
    ("audit", "Audit log", AuditPanel),
)
RECONNECT_DELAYS = (0.5, 1.0, 2.0, 5.0)


async def start_daemon_process() -> None:
    """`loopsy start` in a child process (the TUI never imports the daemon)."""
    result = await anyio.run_process(
        [sys.executable, "-m", "loopsy", "start"], check=False, stdin=None
    )
    if result.returncode != 0:
        text = (result.stderr or result.stdout).decode(errors="replace").strip()
        raise DaemonNotRunning(text.splitlines()[-1] if text else "`loopsy start` failed")


class LoopsyApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "Loopsy"
    BINDINGS = [
        *(
            Binding(str(n), f"show_tab('{tab}')", title, show=False)
            for n, (tab, title, _) in enumerate(TABS, start=1)
        ),
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    class DaemonEvent(Message):
        def __init__(self, event: dict[str, Any]) -> None:
            super().__init__()
            self.event = event

    def __init__(
        self,
        client: LoopsyClient,
        *,
        clock: Callable[[], float] = time.time,
        start_daemon: Callable[[], Awaitable[None]] = start_daemon_process,
        where: str | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.clock = clock
        self.start_daemon = start_daemon
        self.where = where or client.connection.description

    def compose(self) -> ComposeResult:
        yield StatusBar(id="status")
        with TabbedContent(id="tabs"):
            for n, (tab, title, panel) in enumerate(TABS, start=1):
                with TabPane(f"{n} {title}", id=tab):
                    yield panel(id=f"{tab}-panel")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(30, self._tick)
        self._tick()
        self.connect()

    def _tick(self) -> None:
        self.query_one(StatusBar).now = self.clock()
        for panel in self.panels:
            panel.tick()

    @property
    def panels(self) -> list[Panel]:
        return list(self.query(Panel))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        from loopsy.tui.terminal_pane import TerminalPane

        in_pane = isinstance(self.focused, TerminalPane)
        return not (in_pane and action in ("quit", "command_palette"))  # the program's keys

    def action_show_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        panel = self.query_one(f"#{tab}-panel", Panel)
        for focusable in panel.query("DataTable, RichLog").results():
            # after the switch is laid out: a hidden widget cannot take focus
            self.call_after_refresh(focusable.focus)
            break

    # -- connecting and following events ------------------------------------------------------

    @work(exclusive=True, group="events")
    async def connect(self) -> None:
        status_bar = self.query_one(StatusBar)
        problem = ""
        while True:
            try:
                status_bar.status = await self.client.status()
                break
            except (LoopsyError, *TRANSPORT_ERRORS) as exc:
                if not isinstance(exc, DaemonNotRunning):
                    problem = f"It answered with an error: {exc}"
                start = await self.push_screen_wait(StartDaemonScreen(self.where, problem))
                if not start:
                    self.exit()
                    return
                try:
                    await self.start_daemon()
                except LoopsyError as exc:
                    problem = f"Could not start it: {exc.message}"
        await self._follow_events()

    async def _follow_events(self) -> None:
        status_bar = self.query_one(StatusBar)
        failures = 0
        while True:
            try:
                async for event in self.client.events.stream():
                    failures = 0
                    self.post_message(self.DaemonEvent(event))
            except (LoopsyError, *TRANSPORT_ERRORS):
                pass  # the daemon went away: wait for it to come back
            status_bar.connected = False
            await anyio.sleep(RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)])
            failures += 1
            try:
                status_bar.status = await self.client.status()
            except (LoopsyError, *TRANSPORT_ERRORS):
                continue

    def on_loopsy_app_daemon_event(self, message: DaemonEvent) -> None:
        event = message.event
        topic, kind = event.get("topic"), event.get("type")
        if kind in ("events.subscribed", "events.dropped"):
            self.query_one(StatusBar).connected = True
            self.refresh_all()
            return
        for panel in self.panels:
            if topic in panel.TOPICS:
                panel.apply_event(event)
        if topic == "approvals" and kind == "approval.requested":
            summary = (event.get("data") or {}).get("summary", "")
            self.notify(f"{summary}\nPress 4 to decide.", title="Approval needed", timeout=10)
        if topic in ("relay", "phones"):
            self.load_relay()  # the link's state, and how many phones are online

    def refresh_all(self) -> None:
        for panel in self.panels:
            panel.reload()
        self.load_relay()

    @work(group="relay")
    async def load_relay(self) -> None:
        with reporting(self, "Reading the relay status"):
            self.query_one(StatusBar).relay = await self.client.relay.status()

    def on_approvals_panel_pending_changed(self, message: ApprovalsPanel.PendingChanged) -> None:
        self.query_one(StatusBar).pending = message.count
        tab = self.query_one(TabbedContent).get_tab("approvals")
        tab.label = f"4 Approvals ({message.count})" if message.count else "4 Approvals"

    # -- the command palette ------------------------------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for n, (tab, title, _) in enumerate(TABS, start=1):
            yield SystemCommand(
                f"Go to {title}", f"Show the {title} tab (key {n})", self._show(tab)
            )
        sessions = self.query_one(SessionsPanel)
        yield SystemCommand(
            "New session", "Start an agent, a shell or a command", sessions.action_new
        )
        for info in sessions.session_list.sessions.values():
            yield SystemCommand(
                f"Attach to {info.name}",
                f"{info.agent or ' '.join(info.argv)} in {info.cwd} ({info.state})",
                lambda info=info: self._attach(info),
            )
        for panel in self.panels:
            yield from panel.commands()

    def _show(self, tab: str) -> Callable[[], None]:
        return lambda: self.action_show_tab(tab)

    def _attach(self, info: Any) -> None:
        self.action_show_tab("sessions")
        self.query_one(SessionsPanel).attach(info)
