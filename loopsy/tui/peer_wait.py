"""Pairing, the waiting side: open the pairing window, and once the other machine
connects show the 6-digit code for the user to compare with the other screen."""

from __future__ import annotations

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from loopsy.protocol.errors import LoopsyError
from loopsy.protocol.peers import PairingStatus
from loopsy.tui.panel import dashboard, reporting

WINDOW = 300.0
LONG_POLL = 25.0


class PeerWaitScreen(ModalScreen[str | None]):
    """Dismissed with the new peer's name, or None."""

    DEFAULT_CSS = """
    PeerWaitScreen { align: center middle; }
    PeerWaitScreen > Vertical {
        width: 76; height: auto; border: thick $accent; background: $surface; padding: 1 2;
    }
    PeerWaitScreen #peer-code { text-style: bold; color: $warning; margin: 1 0; }
    PeerWaitScreen Horizontal { height: auto; }
    PeerWaitScreen Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("y", "decide(True)", "Same code"),
        Binding("n", "decide(False)", "Different"),
        Binding("escape", "close", "Cancel"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.status = PairingStatus()

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Pair a machine[/b]  opening the pairing window…", id="peer-title")
            yield Label("", id="peer-code")
            yield Label("", id="peer-help")
            with Horizontal(id="peer-buttons"):
                yield Button("Same code \\[y]", variant="success", id="same")
                yield Button("Different \\[n]", variant="error", id="different")

    def on_mount(self) -> None:
        self.query_one("#peer-buttons").display = False
        self.wait_for_peer()

    @work(exclusive=True, group="peer-wait")
    async def wait_for_peer(self) -> None:
        client = dashboard(self).client
        with reporting(self, "Pairing"):
            try:
                status = await client.peers.pairing_listen(WINDOW)
            except LoopsyError as exc:  # e.g. no mesh listener: say why here, not in a toast
                hint = f"\n{exc.hint}" if exc.hint else ""
                self.show(PairingStatus(state="failed", error=f"{exc.message}{hint}"))
                return
            self.show(status)
            while status.state not in ("done", "failed", "expired"):
                status = await client.peers.pairing_status(seen=status.state, wait=LONG_POLL)
                self.show(status)
            if status.state == "done":
                self.dismiss(status.peer_name or status.peer_id)

    def show(self, status: PairingStatus) -> None:
        self.status = status
        title = self.query_one("#peer-title", Label)
        help_ = self.query_one("#peer-help", Label)
        code = self.query_one("#peer-code", Label)
        buttons = self.query_one("#peer-buttons")
        buttons.display = status.state == "code_ready"
        if status.state == "code_ready" and status.code:
            who = escape(f"{status.peer_name} ({status.peer_id}) at {status.peer_address}")
            title.update(f"[b]Pair a machine[/b]  {who} wants to pair.")
            code.update(f"Code:  {status.code[:3]} {status.code[3:]}")
            help_.update("Does the other machine show this same code?")
        elif status.state in ("failed", "expired"):
            title.update(f"[b]Pairing {status.state}[/b]")
            code.update("")
            help_.update(escape(status.error or "") + "\nClose (Esc) and try again.")
        else:
            where = " or ".join(status.listen) or "this machine's address"
            first = status.listen[0] if status.listen else "HOST"
            title.update("[b]Pair a machine[/b]  waiting for the other machine…")
            code.update("")
            help_.update(
                f"On the other machine run  loopsy pair {escape(first)}\n"
                f"(or in its dashboard: Peers, c, {escape(first)}). "
                f"This machine listens on {escape(where)}. Esc cancels."
            )

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.action_decide(event.button.id == "same")

    def action_decide(self, accept: bool) -> None:
        if self.status.state == "code_ready":
            self.decide(accept)

    @work(group="peer-decide")
    async def decide(self, accept: bool) -> None:
        # The code on screen goes with the answer: if that attempt ended meanwhile (and
        # another machine's took its place), the daemon refuses instead of deciding that one.
        shown = self.status.code
        with reporting(self, "Pairing"):
            self.show(await dashboard(self).client.peers.pairing_decide(accept, shown))

    def action_close(self) -> None:
        self.cancel_and_close()

    @work(group="peer-decide")
    async def cancel_and_close(self) -> None:
        if self.status.state not in ("done", "failed", "expired", "idle"):
            with reporting(self, "Cancelling the pairing"):
                await dashboard(self).client.peers.pairing_cancel()
        self.dismiss(None)
