"""The session table: name, state, agent, directory, attached clients, age.

Attributes down: :meth:`SessionList.show` with the sessions and the time. Messages up:
:class:`SessionList.Chosen` (Enter or a click on a row: attach to it).
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from loopsy.protocol.sessions import SessionInfo
from loopsy.tui.ages import ago

COLUMNS = ("name", "state", "agent", "cwd", "clients", "started")


def state_text(info: SessionInfo) -> Text:
    """running / exited 0 / killed (HUP) / waiting for approval, coloured."""
    if info.state == "running":
        return Text("running", style="bold green")
    if info.state == "pending":
        if info.auto_approve == "pending":
            return Text("awaits approval", style="bold yellow")
        return Text("starting", style="yellow")
    exit = info.exit
    if exit is None:
        return Text("exited", style="dim")
    if exit.reason == "exited":
        style = "dim" if exit.code == 0 else "red"
        return Text(f"exited {exit.code}", style=style)
    if exit.reason == "signalled":
        return Text(f"killed ({exit.signal})", style="red")
    return Text(exit.reason, style="red")


class SessionList(DataTable[str | Text]):
    DEFAULT_CSS = """
    SessionList {
        height: auto;
        max-height: 12;
    }
    """

    BINDINGS = [Binding("enter", "choose", "Attach")]

    class Chosen(Message):
        """Attach to this session."""

        def __init__(self, session_id: str) -> None:
            super().__init__()
            self.session_id = session_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.sessions: dict[str, SessionInfo] = {}

    def on_mount(self) -> None:
        for name in COLUMNS:
            self.add_column(name, key=name)

    def show(self, sessions: list[SessionInfo], now: float) -> None:
        """Replace the rows, keeping the cursor on the same session."""
        selected = self.selected_id
        self.sessions = {s.id: s for s in sessions}
        self.clear()
        for info in sorted(sessions, key=lambda s: (s.created, s.name)):
            self.add_row(
                Text(info.name, style="bold"),
                state_text(info),
                info.agent or (info.argv[0] if info.argv else "?"),
                info.cwd,
                str(info.attached),
                ago(info.started or info.created, now),
                key=info.id,
            )
        if selected is not None and selected in self.sessions:
            self.move_cursor(row=self.get_row_index(selected))

    @property
    def selected_id(self) -> str | None:
        if not self.row_count:
            return None
        key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return key.value

    @property
    def selected(self) -> SessionInfo | None:
        found = self.selected_id
        return self.sessions.get(found) if found is not None else None

    def action_choose(self) -> None:
        found = self.selected_id
        if found is not None:
            self.post_message(self.Chosen(found))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Chosen(event.row_key.value))
