"""The Phones tab: paired phones (online now or when last seen), pairing a new one from a
QR code on screen, and revoking one (refused at once by the daemon and the relay)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.widgets import DataTable, Static

from loopsy.protocol.phones import Phone
from loopsy.tui.ages import ago
from loopsy.tui.confirm import ConfirmScreen
from loopsy.tui.panel import Panel, reporting
from loopsy.tui.phone_pairing import PhonePairScreen


class PhonesPanel(Panel):
    TOPICS = frozenset({"phones"})
    BINDINGS = [
        Binding("p", "pair", "Pair a phone"),
        Binding("x,delete", "revoke", "Revoke"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.phones: dict[str, Phone] = {}

    def compose(self) -> ComposeResult:
        yield Static(
            "Phones reach this machine through the relay, end-to-end encrypted. "
            "[b]p[/b] shows a QR code to pair one; [b]x[/b] revokes the selected phone.",
            classes="panel-hint",
        )
        table: DataTable[str | Text] = DataTable(
            id="phones-table", cursor_type="row", classes="panel-table"
        )
        yield table

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in ("name", "online", "paired", "last seen", "id"):
            table.add_column(name, key=name)

    async def load(self) -> None:
        with reporting(self, "Listing phones"):
            self.phones = {p.phone_id: p for p in await self.client.phones.list()}
            self.show()

    def apply_event(self, event: dict[str, Any]) -> None:
        screen = self.app.screen
        if isinstance(screen, PhonePairScreen):
            screen.apply_event(event)
        self.reload()

    def tick(self) -> None:
        self.show()

    def show(self) -> None:
        table = self.query_one(DataTable)
        now = self.now()
        table.clear()
        for phone in sorted(self.phones.values(), key=lambda p: p.created_at):
            table.add_row(
                Text(phone.name, style="bold"),
                Text("online", "green") if phone.connected else Text("offline", "dim"),
                ago(phone.created_at, now),
                "now" if phone.connected else ago(phone.last_seen, now),
                phone.phone_id,
                key=phone.phone_id,
            )

    def action_pair(self) -> None:
        self.app.push_screen(PhonePairScreen(), self._paired)

    def _paired(self, name: str | None) -> None:
        if name is not None:
            self.notify(f"Paired: {name}", title="Phone paired")
        self.reload()

    def action_revoke(self) -> None:
        table = self.query_one(DataTable)
        if not table.row_count:
            self.notify("No phone selected.", severity="warning")
            return
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        phone = self.phones.get(key.value or "")
        if phone is not None:
            self.revoke(phone)

    @work(group="phones-act")
    async def revoke(self, phone: Phone) -> None:
        question = f"Revoke {phone.name}? It will have to pair again to come back."
        if not await self.app.push_screen_wait(ConfirmScreen(question, "Revoke")):
            return
        with reporting(self, f"Revoking {phone.name}"):
            await self.client.phones.revoke(phone.phone_id)
            self.phones.pop(phone.phone_id, None)
            self.show()
            self.notify(f"Revoked {phone.name}.")

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Pair a phone", "Show a QR code and a code to type", self.action_pair)
        for phone in self.phones.values():
            yield SystemCommand(
                f"Revoke {phone.name}", f"Phones: {phone.phone_id} must pair again (asks first)",
                lambda phone=phone: self.revoke(phone),
            )
