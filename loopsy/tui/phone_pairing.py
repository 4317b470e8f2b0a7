"""Pairing a phone: the QR code of the daemon's pairing offer, its URL, and the 6-digit
code to type on the phone (never in the QR or the URL). Closes itself when the phone
has paired; the offer stays usable once until its TTL if closed early."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Center, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from loopsy.protocol.phones import PairOffer
from loopsy.tui.ages import span
from loopsy.tui.panel import dashboard, reporting
from loopsy.tui.qr import qr_text

TTL = 300.0


class PhonePairScreen(ModalScreen[str | None]):
    """Dismissed with the paired phone's name, or None."""

    DEFAULT_CSS = """
    PhonePairScreen { align: center middle; }
    PhonePairScreen > VerticalScroll {
        width: auto; min-width: 64; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    PhonePairScreen #qr { width: auto; height: auto; }
    PhonePairScreen Label { width: 100%; }
    PhonePairScreen #code { text-style: bold; color: $warning; }
    PhonePairScreen #pair-state { color: $text-muted; }
    """
    BINDINGS = [Binding("escape,q", "close", "Close")]

    def __init__(self) -> None:
        super().__init__()
        self.offer: PairOffer | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Label("[b]Pair a phone[/b]  asking the daemon for an offer…", id="pair-title")
            with Center():
                yield Static("", id="qr")
            yield Label("", id="url")
            yield Label("", id="code")
            yield Label("", id="pair-state")

    def on_mount(self) -> None:
        self.request_offer()
        self.set_interval(1, self._countdown)

    @work(exclusive=True, group="phone-pair")
    async def request_offer(self) -> None:
        with reporting(self, "Pairing a phone"):
            offer = await dashboard(self).client.phones.pair(ttl=TTL)
            self.show_offer(offer)
            return
        self.query_one("#pair-title", Label).update(
            "[b]Pair a phone[/b]  the daemon could not make an offer (see the message); "
            "[b]Esc[/b] closes."
        )

    def show_offer(self, offer: PairOffer) -> None:
        self.offer = offer
        self.query_one("#pair-title", Label).update(
            "[b]Pair a phone[/b]  scan this with the phone's camera ([b]Esc[/b] closes):"
        )
        code = qr_text(offer.url)
        self.query_one("#qr", Static).update(code)
        needed = len(code.plain.splitlines()) + 8
        if self.app.size.height < needed:
            self.notify(
                f"Make the terminal {needed} rows tall to see the whole QR code, or open the "
                "URL below.",
                title="The QR code does not fit",
                severity="warning",
            )
        self.query_one("#url", Label).update(f"or open {escape(offer.url)}")
        self.query_one("#code", Label).update(
            f"then type this code on the phone:  {offer.code[:3]} {offer.code[3:]}"
        )
        self._countdown()

    def _countdown(self) -> None:
        if self.offer is None:
            return
        left = self.offer.expires_at - dashboard(self).clock()
        text = (
            f"Valid for {span(left)} more, once; five wrong codes end it. Never share the code."
            if left > 0
            else "This offer expired: close and pair again."
        )
        self.query_one("#pair-state", Label).update(text)

    def apply_event(self, event: dict[str, Any]) -> None:
        """A ``phones`` event: see whether our offer was taken."""
        if self.offer is not None and event.get("type") == "phone.paired":
            self.check_state(self.offer.pair_id)

    @work(group="phone-pair-state")
    async def check_state(self, pair_id: str) -> None:
        with reporting(self, "Reading the pairing state"):
            state = await dashboard(self).client.phones.pair_state(pair_id)
            if state.state == "paired" and self.offer is not None:
                self.offer = None  # dismissed once, whatever events follow
                self.dismiss(state.phone_name or state.phone_id or "a phone")
            elif state.state in ("burned", "expired"):
                reason = "too many wrong codes" if state.state == "burned" else "it expired"
                self.query_one("#pair-state", Label).update(
                    f"[red]The offer ended: {reason}.[/red] Close and pair again."
                )
                self.offer = None

    def action_close(self) -> None:
        self.offer = None
        self.dismiss(None)
