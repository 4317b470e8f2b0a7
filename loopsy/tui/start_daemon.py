"""Shown when no daemon answers: start one here (what `loopsy start` does), or quit."""

from __future__ import annotations

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class StartDaemonScreen(ModalScreen[bool]):
    DEFAULT_CSS = """
    StartDaemonScreen { align: center middle; }
    StartDaemonScreen > Vertical {
        width: 72; height: auto; border: thick $accent; background: $surface; padding: 1 2;
    }
    StartDaemonScreen Label { margin-bottom: 1; }
    StartDaemonScreen #problem { color: $error; }
    StartDaemonScreen Horizontal { height: auto; }
    StartDaemonScreen Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("s,enter", "answer(True)", "Start the daemon"),
        Binding("q,escape", "answer(False)", "Quit"),
    ]

    def __init__(self, where: str, problem: str = "") -> None:
        super().__init__()
        self.where = where
        self.problem = problem

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]No Loopsy daemon is running[/b]")
            yield Label(f"Nothing answers at {escape(self.where)}.", id="where")
            yield Label(
                "Start it now? (the same as `loopsy start`: it runs in the background, "
                "on 127.0.0.1 only, and keeps your sessions when this dashboard closes)"
            )
            yield Label(escape(self.problem), id="problem")
            with Horizontal():
                yield Button("Start \\[s]", variant="primary", id="start")
                yield Button("Quit \\[q]", id="quit")

    @on(Button.Pressed)
    def pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "start")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)
