"""The Approvals tab: what waits for a yes at this machine (an agent's auto-approve mode
asked for from a phone or a peer), with allow and deny. The TUI reaches the daemon over
its unix socket, so it is a local caller: the only kind the daemon lets decide."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.markup import escape
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable, Static

from loopsy.protocol.approvals import Approval
from loopsy.tui.ages import ago, span
from loopsy.tui.confirm import ConfirmScreen
from loopsy.tui.panel import Panel, reporting

KEEP_DECIDED = 20
_STATE_STYLE = {"pending": "bold yellow", "allowed": "green", "denied": "red"}


class ApprovalsPanel(Panel):
    TOPICS = frozenset({"approvals"})
    BINDINGS = [
        Binding("a", "allow", "Allow"),
        Binding("d", "deny", "Deny"),
    ]

    class PendingChanged(Message):
        def __init__(self, count: int) -> None:
            super().__init__()
            self.count = count

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.approvals: dict[str, Approval] = {}
        self._pending = -1

    def compose(self) -> ComposeResult:
        yield Static(
            "Requests to run an agent without its permission prompts. Only someone at this "
            "machine can decide: [b]a[/b] allows, [b]d[/b] denies.",
            classes="panel-hint",
        )
        table: DataTable[str | Text] = DataTable(
            id="approvals-table", cursor_type="row", classes="panel-table"
        )
        yield table
        yield Static("", id="approval-detail", classes="detail")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for name in ("state", "asked by", "asked", "expires", "what"):
            table.add_column(name, key=name)

    async def load(self) -> None:
        with reporting(self, "Listing approvals"):
            self.approvals = {a.id: a for a in await self.client.approvals.list()}
            self.show()

    def apply_event(self, event: dict[str, Any]) -> None:
        data = event.get("data")
        if isinstance(data, dict) and "id" in data and "state" in data:
            approval = Approval.model_validate(data)
            self.approvals[approval.id] = approval
            self.show()
        else:
            self.reload()

    def tick(self) -> None:
        self.show()

    def show(self) -> None:
        table = self.query_one(DataTable)
        selected = self.selected_id
        now = self.now()
        pending = sorted(
            (a for a in self.approvals.values() if a.state == "pending"), key=lambda a: a.created
        )
        decided = sorted(
            (a for a in self.approvals.values() if a.state != "pending"),
            key=lambda a: a.decided_at or a.created,
            reverse=True,
        )[:KEEP_DECIDED]
        table.clear()
        for approval in [*pending, *decided]:
            expires = (
                f"in {span(max(0.0, approval.expires - now))}"
                if approval.state == "pending"
                else f"by {approval.decided_by or '?'}"
            )
            table.add_row(
                Text(approval.state, style=_STATE_STYLE.get(approval.state, "dim")),
                approval.requested_by,
                ago(approval.created, now),
                expires,
                approval.summary,
                key=approval.id,
            )
        if selected is not None and selected in self.approvals and table.row_count:
            table.move_cursor(row=table.get_row_index(selected))
        self.show_detail()
        if len(pending) != self._pending:
            self._pending = len(pending)
            self.post_message(self.PendingChanged(len(pending)))

    @property
    def selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return key.value

    def _selected_pending(self) -> Approval | None:
        found = self.approvals.get(self.selected_id or "")
        if found is None or found.state != "pending":
            self.notify("Select a pending request.", severity="warning")
            return None
        return found

    def action_allow(self) -> None:
        approval = self._selected_pending()
        if approval is not None:
            self.decide(approval, True)

    def action_deny(self) -> None:
        approval = self._selected_pending()
        if approval is not None:
            self.decide(approval, False)

    @work(group="approvals-act")
    async def decide(self, approval: Approval, allow: bool) -> None:
        if allow and not await self.app.push_screen_wait(
            ConfirmScreen(f"Allow?\n\n{approval.summary}", "Allow")
        ):
            return
        with reporting(self, "Allowing" if allow else "Denying"):
            if allow:
                decided = await self.client.approvals.allow(approval.id)
            else:
                decided = await self.client.approvals.deny(approval.id)
            self.approvals[decided.id] = decided
            self.show()
            self.notify(f"{decided.state.capitalize()}: {decided.summary}")

    @on(DataTable.RowHighlighted)
    def show_detail(self) -> None:
        approval = self.approvals.get(self.selected_id or "")
        detail = self.query_one("#approval-detail", Static)
        if approval is None:
            detail.update("Nothing waits for a decision." if not self.approvals else "")
            return
        state = (
            "[b]a[/b] allows, [b]d[/b] denies"
            if approval.state == "pending"
            else f"{approval.state} by {escape(approval.decided_by or '?')}"
        )
        detail.update(
            f"[b]{escape(approval.kind)}[/b] asked by {escape(approval.requested_by)}"
            f" · {state}\n{escape(approval.summary)}"
        )

    @on(DataTable.RowSelected)
    def row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_allow()

    def commands(self) -> Iterable[SystemCommand]:
        for approval in self.approvals.values():
            if approval.state == "pending":
                yield SystemCommand(
                    f"Allow: {approval.summary}",
                    f"asked by {approval.requested_by}",
                    lambda a=approval: self.decide(a, True),
                )
                yield SystemCommand(
                    f"Deny: {approval.summary}",
                    f"asked by {approval.requested_by}",
                    lambda a=approval: self.decide(a, False),
                )
