"""The Peers tab: the mesh as this machine sees it (online or offline, latency, where),
pairing (wait here and show a code, or go to a host and type its code), and removal."""

from __future__ import annotations

from collections.abc import Iterable

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.widgets import DataTable, Static

from loopsy.protocol.peers import PeerInfo
from loopsy.tui.ages import ago
from loopsy.tui.confirm import ConfirmScreen
from loopsy.tui.panel import Panel, reporting
from loopsy.tui.peer_connect import PeerConnectScreen
from loopsy.tui.peer_wait import PeerWaitScreen

_STATUS_STYLE = {"online": "bold green", "offline": "red", "unknown": "dim"}


class PeersPanel(Panel):
    TOPICS = frozenset({"peers"})
    BINDINGS = [
        Binding("p", "pair_wait", "Pair: show code"),
        Binding("c", "pair_connect", "Pair with host"),
        Binding("x,delete", "remove", "Remove"),
        Binding("r", "check", "Check now"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.peers: dict[str, PeerInfo] = {}
        self._refresh = False

    def compose(self) -> ComposeResult:
        yield Static(
            "Other machines running Loopsy. Pairing: [b]p[/b] here shows a code once the "
            "other machine connects; [b]c[/b] connects to a waiting machine.",
            classes="panel-hint",
        )
        table: DataTable[str | Text] = DataTable(
            id="peers-table", cursor_type="row", classes="panel-table"
        )
        yield table
        yield Static("", id="peer-detail", classes="detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in ("name", "status", "latency", "address", "paired", "last seen"):
            table.add_column(name, key=name)

    async def load(self) -> None:
        refresh, self._refresh = self._refresh, False
        with reporting(self, "Listing peers"):
            self.peers = {p.id: p for p in await self.client.peers.list(refresh=refresh)}
            self.show()

    def tick(self) -> None:
        self.show()

    def show(self) -> None:
        table = self.query_one(DataTable)
        selected = self._selected_id()
        now = self.now()
        table.clear()
        for peer in sorted(self.peers.values(), key=lambda p: (not p.paired, p.name)):
            latency = f"{peer.latency_ms:.1f} ms" if peer.latency_ms is not None else "–"
            address = f"{peer.host}:{peer.port}" if peer.host else "–"
            table.add_row(
                Text(peer.name, style="bold"),
                Text(peer.status, style=_STATUS_STYLE.get(peer.status, "")),
                latency,
                address,
                "paired" if peer.paired else f"seen ({peer.source})",
                "now" if peer.status == "online" else ago(peer.last_seen, now),
                key=peer.id,
            )
        if selected is not None and selected in self.peers:
            table.move_cursor(row=table.get_row_index(selected))
        self._detail()

    def _selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return key.value

    def on_data_table_row_highlighted(self) -> None:
        self._detail()

    def _detail(self) -> None:
        peer = self.peers.get(self._selected_id() or "")
        detail = self.query_one("#peer-detail", Static)
        if peer is None:
            detail.update("No peers yet." if not self.peers else "")
            return
        version = escape(peer.version or "?")
        lines = [f"[b]{escape(peer.name)}[/b]  id {escape(peer.id)}  version {version}"]
        if peer.last_error:
            lines.append(f"[red]{escape(peer.last_error)}[/red]")
        if peer.capabilities:
            lines.append("offers: " + ", ".join(peer.capabilities))
        detail.update("\n".join(lines))

    def action_check(self) -> None:
        self._refresh = True  # health-check every peer now, not the last results
        self.reload()

    def action_pair_wait(self) -> None:
        self.app.push_screen(PeerWaitScreen(), self._paired)

    def action_pair_connect(self) -> None:
        self.app.push_screen(PeerConnectScreen(), self._paired)

    def _paired(self, name: str | None) -> None:
        if name is not None:
            self.notify(f"Paired with {name}.", title="Peer paired")
        self.reload()

    def action_remove(self) -> None:
        peer = self.peers.get(self._selected_id() or "")
        if peer is None:
            self.notify("No peer selected.", severity="warning")
        else:
            self.remove_peer(peer)

    @work(group="peers-act")
    async def remove_peer(self, peer: PeerInfo) -> None:
        question = f"Remove {peer.name}? Its credential stops working at once."
        if not await self.app.push_screen_wait(ConfirmScreen(question, "Remove")):
            return
        with reporting(self, f"Removing {peer.name}"):
            await self.client.peers.remove(peer.id)
            self.peers.pop(peer.id, None)
            self.show()

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "Pair a machine: show the code here", "Peers: wait for another machine",
            self.action_pair_wait,
        )
        yield SystemCommand(
            "Pair a machine: connect to a host", "Peers: type the code it shows",
            self.action_pair_connect,
        )
        yield SystemCommand("Check peers now", "Peers: measure every peer again", self.action_check)
        for peer in self.peers.values():
            yield SystemCommand(
                f"Remove peer {peer.name}", f"Peers: {peer.id} (asks first)",
                lambda peer=peer: self.remove_peer(peer),
            )
