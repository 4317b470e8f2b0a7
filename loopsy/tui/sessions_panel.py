"""The Sessions tab: the session table, and live panes side by side.

Each pane has an attach worker: it reads the session stream and feeds the pane's
:class:`PaneTerminal` (never blocking the event loop for long), posts
:class:`SessionsPanel.Painted` (coalesced per pane), and sends what the pane queues: typed
bytes, resizes, and ACKs of what the pane has painted (the daemon's flow control).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Static
from textual.worker import Worker

from loopsy.protocol.sessions import SessionInfo
from loopsy.tui.confirm import ConfirmScreen
from loopsy.tui.new_session import NewSessionScreen, SessionRequest
from loopsy.tui.pane_stream import Outgoing, follow
from loopsy.tui.pane_terminal import PaneTerminal
from loopsy.tui.panel import Panel, reporting
from loopsy.tui.session_list import SessionList
from loopsy.tui.terminal_pane import TerminalPane

MAX_PANES = 4


@dataclass
class PaneLink:
    pane: TerminalPane
    outbox: MemoryObjectSendStream[Outgoing]
    inbox: MemoryObjectReceiveStream[Outgoing]
    worker: Worker[None] | None = None


class SessionsPanel(Panel):
    TOPICS = frozenset({"sessions"})
    BINDINGS = [
        Binding("n", "new", "New"),
        Binding("k", "kill", "Kill"),
        Binding("r", "restart", "Restart"),
        Binding("x,delete", "remove", "Remove"),
        Binding("d", "detach", "Detach"),  # short: the footer fits 80 columns
    ]
    _LIST_ACTIONS = frozenset({"new", "kill", "restart", "remove", "detach"})

    class Painted(Message):
        """New output was fed into ``pane``'s terminal."""

        def __init__(self, pane: TerminalPane) -> None:
            super().__init__()
            self.pane = pane

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, SessionsPanel.Painted) and message.pane is self.pane

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.links: dict[str, PaneLink] = {}
        self._picking = False  # one picker at a time (never cancel a request in flight)
        self._pane_seq = 0

    def compose(self) -> ComposeResult:
        yield SessionList(id="session-list")
        with Horizontal(id="panes"):
            yield Static(
                "Select a session and press [b]Enter[/b] to attach; [b]n[/b] starts a new one.\n"
                "In a pane every key goes to the program; [b]Ctrl+][/b] comes back here.",
                id="no-panes",
            )

    def on_mount(self) -> None:
        self.session_list.focus()  # keyboard first: arrows and Enter work at once

    def on_unmount(self) -> None:
        for link in self.links.values():
            _close(link)

    @property
    def session_list(self) -> SessionList:
        return self.query_one(SessionList)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # keys typed in a pane go to its program
        return not (action in self._LIST_ACTIONS and isinstance(self.app.focused, TerminalPane))

    # -- the list -----------------------------------------------------------------------------

    async def load(self) -> None:
        with reporting(self, "Listing sessions"):
            sessions = await self.client.sessions.list()
            self.session_list.show(sessions, self.now())

    def apply_event(self, event: dict[str, Any]) -> None:
        sessions = dict(self.session_list.sessions)
        data = event.get("data") or {}
        if event.get("type") == "session.removed":
            sessions.pop(str(data.get("id")), None)
        elif "id" in data and "argv" in data:
            info = SessionInfo.model_validate(data)
            sessions[info.id] = info
        else:
            self.reload()
            return
        self.session_list.show(list(sessions.values()), self.now())

    def tick(self) -> None:
        self.session_list.show(list(self.session_list.sessions.values()), self.now())

    def _selected(self) -> SessionInfo | None:
        info = self.session_list.selected
        if info is None:
            self.notify("No session selected.", severity="warning")
        return info

    # -- new, kill, restart, remove ---------------------------------------------------------

    def action_new(self) -> None:
        if not self._picking:
            self._pick_new()

    @work(group="sessions-new")
    async def _pick_new(self) -> None:
        self._picking = True
        try:
            await self._pick_and_create()
        finally:
            self._picking = False

    async def _pick_and_create(self) -> None:
        with reporting(self, "Listing agents"):
            agents = await self.client.agents.list()
            request = await self.app.push_screen_wait(NewSessionScreen(agents))
            if request is not None:
                await self._create(request)

    async def _create(self, request: SessionRequest) -> None:
        info = await self.client.sessions.create(
            request.agent,
            argv=request.argv,
            cwd=request.cwd,
            name=request.name,
            auto_approve=request.auto_approve,
        )
        self.apply_event({"type": "session.created", "data": info.model_dump(mode="json")})
        if info.state == "pending":
            self.notify(f"{info.name} waits for approval (Approvals tab).")
        else:
            self.attach(info)

    def action_kill(self) -> None:
        info = self._selected()
        if info is not None:
            self._kill(info)

    @work(group="sessions-act")
    async def _kill(self, info: SessionInfo) -> None:
        if not await self.app.push_screen_wait(ConfirmScreen(f"Kill {info.name}?", "Kill")):
            return
        with reporting(self, f"Killing {info.name}"):
            await self.client.sessions.kill(info.id)

    def action_restart(self) -> None:
        info = self._selected()
        if info is not None:
            self._restart(info)

    @work(group="sessions-act")
    async def _restart(self, info: SessionInfo) -> None:
        with reporting(self, f"Restarting {info.name}"):
            await self.client.sessions.restart(info.id)
            link = self.links.get(info.id)
            if link is not None:  # the old stream ended with the old program: attach anew
                self.detach(info.id)
                self.attach(info)

    def action_remove(self) -> None:
        info = self._selected()
        if info is not None:
            self._remove(info)

    @work(group="sessions-act")
    async def _remove(self, info: SessionInfo) -> None:
        running = info.state != "exited"
        question = f"Remove {info.name}?" + (" It is still running: it will be killed." * running)
        if not await self.app.push_screen_wait(ConfirmScreen(question, "Remove")):
            return
        with reporting(self, f"Removing {info.name}"):
            await self.client.sessions.remove(info.id, force=running)
            self.detach(info.id)

    # -- panes --------------------------------------------------------------------------------

    @on(SessionList.Chosen)
    def chosen(self, event: SessionList.Chosen) -> None:
        info = self.session_list.sessions.get(event.session_id)
        if info is not None:
            self.attach(info)

    def action_attach(self) -> None:
        info = self._selected()
        if info is not None:
            self.attach(info)

    def attach(self, info: SessionInfo) -> None:
        """Open a pane on ``info`` (or focus the one open)."""
        link = self.links.get(info.id)
        if link is not None:
            link.pane.focus()
            return
        if info.state == "pending":
            self.notify(f"{info.name} waits for approval.", severity="warning")
            return
        if len(self.links) >= MAX_PANES:
            self.notify(f"At most {MAX_PANES} panes: detach one first (d).", severity="warning")
            return
        self._pane_seq += 1
        pane = TerminalPane(
            PaneTerminal(info.id, info.name, info.cols, info.rows), id=f"pane-{self._pane_seq}"
        )
        outbox, inbox = anyio.create_memory_object_stream[Outgoing](math.inf)
        self.links[info.id] = PaneLink(pane, outbox, inbox)
        self.query_one("#no-panes").display = False
        self.query_one("#panes").mount(pane)
        pane.focus()

    def commands(self) -> Iterable[SystemCommand]:
        for info in self.session_list.sessions.values():
            if info.state == "running":
                yield SystemCommand(
                    f"Kill {info.name}", "Sessions: stop its program (asks first)",
                    lambda info=info: self._kill(info),
                )
            yield SystemCommand(
                f"Restart {info.name}", "Sessions: run its command again",
                lambda info=info: self._restart(info),
            )
            yield SystemCommand(
                f"Remove {info.name}", "Sessions: forget it (asks first)",
                lambda info=info: self._remove(info),
            )
        for session_id, link in self.links.items():
            yield SystemCommand(
                f"Detach from {link.pane.terminal.name}", "Sessions: close its pane (it runs on)",
                lambda session_id=session_id: self.detach(session_id),
            )

    def action_detach(self) -> None:
        focused = self.app.focused
        if isinstance(focused, TerminalPane):
            self.detach(focused.terminal.session_id)
            return
        info = self.session_list.selected
        if info is not None and info.id in self.links:
            self.detach(info.id)
        elif self.links:
            self.detach(next(reversed(self.links)))

    def detach(self, session_id: str) -> None:
        link = self.links.pop(session_id, None)
        if link is None:
            return
        _close(link)
        link.pane.remove()
        if not self.links:
            self.query_one("#no-panes").display = True
        self.session_list.focus()

    @on(TerminalPane.Leave)
    def left(self, event: TerminalPane.Leave) -> None:
        self.session_list.focus()

    @on(TerminalPane.Input)
    def typed(self, event: TerminalPane.Input) -> None:
        link = self.links.get(event.pane.terminal.session_id)
        if link is not None and link.pane is event.pane:
            _queue(link, ("input", event.data))

    @on(TerminalPane.Resized)
    def resized(self, event: TerminalPane.Resized) -> None:
        link = self.links.get(event.pane.terminal.session_id)
        if link is None or link.pane is not event.pane:
            return
        if event.pane.terminal.resize(event.cols, event.rows):
            event.pane.repaint()
        if link.worker is None:
            # The first size the pane gets is the size the session is attached with.
            pane = event.pane
            link.worker = self.run_worker(
                follow(self.client, pane.terminal, link.inbox,
                       lambda: self.post_message(self.Painted(pane))),
                group="attach",
                name=pane.terminal.session_id,
            )
        else:
            _queue(link, ("resize", (event.cols, event.rows)))

    @on(Painted)
    def painted(self, event: Painted) -> None:
        pane = event.pane
        link = self.links.get(pane.terminal.session_id)
        if link is None or link.pane is not pane:
            return
        pane.request_repaint()
        offset = pane.terminal.offset  # fed into the pane's screen: the daemon may go on
        if offset is not None:
            _queue(link, ("ack", offset))


def _close(link: PaneLink) -> None:
    """Stop a pane's stream: its worker owns the queue's receiving end once it runs."""
    link.outbox.close()
    if link.worker is None:
        link.inbox.close()
    else:
        link.worker.cancel()


def _queue(link: PaneLink, item: Outgoing) -> None:
    """Hand ``item`` to the pane's stream; dropped once the stream has ended."""
    with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
        link.outbox.send_nowait(item)
