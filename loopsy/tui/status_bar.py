"""The status line: the daemon (version, node, uptime), the relay link, LAN exposure, and
what waits for a decision."""

from __future__ import annotations

from rich.markup import escape
from textual.reactive import reactive
from textual.widgets import Static

from loopsy.protocol.phones import RelayStatus
from loopsy.protocol.status import Status
from loopsy.tui.ages import duration


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $text;
        padding: 0 1;
    }
    """

    status: reactive[Status | None] = reactive(None, always_update=True)
    relay: reactive[RelayStatus | None] = reactive(None, always_update=True)
    connected: reactive[bool] = reactive(False)
    pending: reactive[int] = reactive(0)
    now: reactive[float] = reactive(0.0)

    def render(self) -> str:
        status = self.status
        if status is None or not self.connected:
            return "[b]loopsy[/b]  [red]daemon: not connected[/red]"
        uptime = duration(max(0.0, self.now - status.started_at))
        parts = [f"[b]loopsy {status.version}[/b] · {escape(status.node_name)} · up {uptime}"]
        if self.pending:
            noun = "approval" if self.pending == 1 else "approvals"
            parts.append(f"[b yellow]{self.pending} {noun} waiting[/b yellow]")
        parts.append(self._relay_text())
        if status.lan:
            tcp = next((lst.address for lst in status.listeners if lst.kind == "tcp"), "?")
            parts.append(f"[b yellow]LAN: exposed[/b yellow] on {tcp}")
        else:
            parts.append("LAN: off")
        return " │ ".join(parts)

    def _relay_text(self) -> str:
        relay = self.relay
        if relay is None or relay.url is None:
            return "relay: none"
        if relay.connected:
            phones = relay.phones_online
            online = f" · {phones} phone{'s' * (phones != 1)}" if phones else ""
            return f"relay: [b green]up[/b green]{online}"
        if relay.state == "rejected":  # waits for the user: say where the fix is
            return "relay: [b red]refused this daemon[/b red] (see `loopsy relay status`)"
        why = f" ({escape(relay.last_error)})" if relay.last_error else ""
        return f"relay: [red]down[/red]{why}"
