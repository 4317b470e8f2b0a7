"""The Inbox tab: messages other machines' agents left for this one (the messaging protocol
of AGENTS.md), the selected one in full, and acknowledging it."""

from __future__ import annotations

import json
from collections.abc import Iterable

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.widgets import DataTable, Static

from loopsy.protocol.messages import InboxEntry
from loopsy.tui.ages import ago
from loopsy.tui.panel import Panel, reporting

PREVIEW = 60


def body_text(body: object) -> str:
    return body if isinstance(body, str) else json.dumps(body, indent=2, ensure_ascii=False)


def preview(body: object) -> str:
    line = " ".join(body_text(body).split())
    return line if len(line) <= PREVIEW else line[: PREVIEW - 1] + "…"


class InboxPanel(Panel):
    TOPICS = frozenset({"messages"})
    BINDINGS = [
        Binding("a", "ack", "Acknowledge"),
        Binding("h", "toggle_acked", "Show/hide acknowledged"),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.messages: dict[str, InboxEntry] = {}
        self.include_acked = False

    def compose(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(
            id="inbox-table", cursor_type="row", classes="panel-table"
        )
        yield table
        yield Static("No messages.", id="inbox-detail", classes="detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in ("", "from", "type", "received", "message"):
            table.add_column(name, key=name or "state")

    async def load(self) -> None:
        with reporting(self, "Reading the inbox"):
            found = await self.client.messages.inbox(include_acked=self.include_acked)
            self.messages = {m.envelope.id: m for m in found}
            self.show()

    def tick(self) -> None:
        self.show()

    def show(self) -> None:
        table = self.query_one(DataTable)
        selected = self.selected_id
        now = self.now()
        table.clear()
        for entry in sorted(self.messages.values(), key=lambda m: m.received_at, reverse=True):
            envelope = entry.envelope
            table.add_row(
                Text("✓", style="dim") if entry.acked_at else Text("●", style="bold cyan"),
                envelope.from_,
                envelope.type,
                ago(entry.received_at, now),
                preview(envelope.body),
                key=envelope.id,
            )
        if selected is not None and selected in self.messages:
            table.move_cursor(row=table.get_row_index(selected))
        self.show_detail()

    @property
    def selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return key.value

    @on(DataTable.RowHighlighted)
    def show_detail(self) -> None:
        detail = self.query_one("#inbox-detail", Static)
        entry = self.messages.get(self.selected_id or "")
        if entry is None:
            detail.update("No messages." if not self.messages else "")
            return
        envelope = entry.envelope
        state = "acknowledged" if entry.acked_at else "new: [b]a[/b] acknowledges"
        reply = f" · reply to {escape(envelope.reply_to)}" if envelope.reply_to else ""
        detail.update(
            f"[b]{escape(envelope.id)}[/b] from [b]{escape(envelope.from_)}[/b] · "
            f"{escape(envelope.type)}{reply} · {state}\n{escape(body_text(envelope.body))}"
        )

    def action_ack(self) -> None:
        entry = self.messages.get(self.selected_id or "")
        if entry is None:
            self.notify("No message selected.", severity="warning")
        elif entry.acked_at is not None:
            self.notify("Already acknowledged.")
        else:
            self.ack(entry.envelope.id)

    @work(group="inbox-act")
    async def ack(self, msg_id: str) -> None:
        with reporting(self, "Acknowledging"):
            result = await self.client.messages.ack(msg_id)
            entry = self.messages.get(msg_id)
            if entry is not None:
                self.messages[msg_id] = entry.model_copy(update={"acked_at": result.acked_at})
                if not self.include_acked:
                    del self.messages[msg_id]
            self.show()

    def action_toggle_acked(self) -> None:
        self.include_acked = not self.include_acked
        self.notify("Showing acknowledged messages too." if self.include_acked else
                    "Showing new messages only.")
        self.reload()

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "Acknowledge the selected message", "Inbox: tell the sender it was read",
            self.action_ack,
        )
        yield SystemCommand(
            "Show or hide acknowledged messages", "Inbox", self.action_toggle_acked
        )
