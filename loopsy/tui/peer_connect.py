"""Pairing, the connecting side: go to a machine that waits (HOST[:PORT]), then type the
6-digit code it shows; done when its user confirms the same code there."""

from __future__ import annotations

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from loopsy.protocol.errors import Forbidden, LoopsyError
from loopsy.tui.panel import dashboard, reporting


def parse_address(text: str) -> tuple[str, int] | None:
    """HOST, HOST:PORT or [V6]:PORT; None when it is neither."""
    from loopsy.config import DEFAULT_MESH_PORT

    host, port = text.strip(), DEFAULT_MESH_PORT
    if host.startswith("["):
        host, _, rest = host[1:].partition("]")
        if rest.startswith(":"):
            if not rest[1:].isdigit():
                return None
            port = int(rest[1:])
    elif host.count(":") == 1:
        host, _, port_text = host.partition(":")
        if not port_text.isdigit():
            return None
        port = int(port_text)
    if not host or not 1 <= port <= 65535 or any(c in host for c in "/?#@ "):
        return None
    return host, port


class PeerConnectScreen(ModalScreen[str | None]):
    """Dismissed with the new peer's name, or None."""

    DEFAULT_CSS = """
    PeerConnectScreen { align: center middle; }
    PeerConnectScreen > Vertical {
        width: 76; height: auto; border: thick $accent; background: $surface; padding: 1 2;
    }
    PeerConnectScreen Input { margin-bottom: 1; }
    PeerConnectScreen #connect-state { color: $text-muted; }
    """
    BINDINGS = [Binding("escape", "close", "Cancel")]

    def __init__(self) -> None:
        super().__init__()
        self.connected = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                "[b]Pair with a machine[/b]  that waits (`loopsy pair` or p in its Peers tab)"
            )
            yield Input(placeholder="host or host:port, e.g. 192.168.1.50", id="host")
            yield Input(placeholder="the 6-digit code it shows", id="code", disabled=True)
            yield Label("", id="connect-state")

    @on(Input.Submitted, "#host")
    def host_entered(self, event: Input.Submitted) -> None:
        address = parse_address(event.value)
        if address is None:
            self.say(f"[red]{escape(event.value)!s} is not HOST or HOST:PORT.[/red]")
            return
        self.connect(*address)

    @work(exclusive=True, group="peer-connect")
    async def connect(self, host: str, port: int) -> None:
        self.say(f"Connecting to {escape(host)}:{port}…")
        with reporting(self, "Pairing"):
            status = await dashboard(self).client.peers.pairing_connect(host, port)
            self.connected = True
            self.query_one("#host", Input).disabled = True
            code = self.query_one("#code", Input)
            code.disabled = False
            code.focus()
            self.say(
                f"Connected to {escape(status.peer_name or '?')} ({escape(status.peer_id or '?')})."
                " Type the code it shows now."
            )
            return
        self.say("[red]Could not connect.[/red] Check the address and that it waits.")

    @on(Input.Submitted, "#code")
    def code_entered(self, event: Input.Submitted) -> None:
        code = event.value.replace(" ", "")
        if not (code.isdigit() and len(code) == 6):
            self.say("[red]The code is 6 digits.[/red]")
            return
        self.verify(code)

    @work(exclusive=True, group="peer-connect")
    async def verify(self, code: str) -> None:
        self.say("Waiting for the other machine to confirm the code…")
        client = dashboard(self).client
        try:
            status = await client.peers.pairing_verify(code)
        except Forbidden as exc:
            self.say(f"[red]{escape(exc.message)}[/red]")
            self.query_one("#code", Input).value = ""
            return
        except LoopsyError as exc:
            self.say(f"[red]{escape(exc.message)}[/red]  Close (Esc) and try again.")
            return
        self.dismiss(status.peer_name or status.peer_id)

    def say(self, text: str) -> None:
        self.query_one("#connect-state", Label).update(text)

    def action_close(self) -> None:
        self.cancel_and_close()

    @work(group="peer-cancel")
    async def cancel_and_close(self) -> None:
        if self.connected:
            with reporting(self, "Cancelling the pairing"):
                await dashboard(self).client.peers.pairing_cancel()
        self.dismiss(None)
