"""The new-session picker: an agent the daemon detected, a shell, a pinned command, or any
command line; the directory, a name, and auto-approve where the agent has it."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, OptionList
from textual.widgets.option_list import Option

from loopsy.protocol.agents import AgentInfo, valid_name

CUSTOM = "__custom__"


@dataclass(frozen=True)
class SessionRequest:
    agent: str | None
    argv: list[str] | None
    cwd: str | None
    name: str | None
    auto_approve: bool


def agent_label(agent: AgentInfo) -> str:
    where = agent.version or agent.path or " ".join(agent.argv)
    if not agent.detected:
        return f"{agent.label}  (not found: {agent.detection})"
    return f"{agent.label}  {where}" if where else agent.label


class NewSessionScreen(ModalScreen[SessionRequest | None]):
    DEFAULT_CSS = """
    NewSessionScreen { align: center middle; }
    NewSessionScreen > VerticalScroll {
        width: 80; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    NewSessionScreen OptionList { height: auto; max-height: 10; margin-bottom: 1; }
    NewSessionScreen .field { height: 1; margin-bottom: 1; }
    NewSessionScreen .field Label { width: 11; }
    NewSessionScreen .field Input { width: 1fr; }
    NewSessionScreen #error { color: $error; height: auto; }
    NewSessionScreen #buttons { height: 1; margin-top: 1; }
    NewSessionScreen Button { margin-right: 2; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "start", "Start")]

    def __init__(self, agents: list[AgentInfo], cwd: str = "") -> None:
        super().__init__()
        self.agents = {a.name: a for a in agents}
        self.cwd = cwd

    def compose(self) -> ComposeResult:
        options = [
            Option(agent_label(a), id=a.name, disabled=not a.detected)
            for a in self.agents.values()
        ]
        options.append(Option("Custom command…", id=CUSTOM))
        with VerticalScroll():
            yield Label("[b]New session[/b]  run what?")
            yield OptionList(*options, id="agents")
            with Horizontal(classes="field"):
                yield Label("Command")
                yield Input(
                    placeholder="custom: a command line, e.g. make watch",
                    id="command",
                    disabled=True,
                    compact=True,
                )
            with Horizontal(classes="field"):
                yield Label("Directory")
                yield Input(
                    value=self.cwd, placeholder="empty: your home", id="cwd", compact=True
                )
            with Horizontal(classes="field"):
                yield Label("Name")
                yield Input(
                    placeholder="empty: the agent's name and a number", id="name", compact=True
                )
            yield Checkbox("Auto-approve (asks for confirmation here first)", id="auto-approve")
            yield Label("", id="error")
            with Horizontal(id="buttons"):
                yield Button("Start \\[^S]", variant="primary", id="start", compact=True)
                yield Button("Cancel \\[Esc]", id="cancel", compact=True)

    def on_mount(self) -> None:
        options = self.query_one("#agents", OptionList)
        first = next((i for i, a in enumerate(self.agents.values()) if a.detected), None)
        options.highlighted = first if first is not None else len(self.agents)
        self._chosen(options.highlighted)
        options.focus()

    @on(OptionList.OptionHighlighted)
    def highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._chosen(event.option_index)

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        if event.option.id == CUSTOM:
            self.query_one("#command", Input).focus()
        else:
            self.action_start()

    def _chosen(self, index: int | None) -> None:
        option_id = self._option_id(index)
        custom = option_id == CUSTOM
        self.query_one("#command", Input).disabled = not custom
        agent = self.agents.get(option_id or "")
        approve = self.query_one("#auto-approve", Checkbox)
        approve.disabled = agent is None or agent.auto_approve_flag is None
        if approve.disabled:
            approve.value = False

    def _option_id(self, index: int | None) -> str | None:
        if index is None:
            return None
        return self.query_one("#agents", OptionList).get_option_at_index(index).id

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#start")
    def start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_start(self) -> None:
        request = self._request()
        if request is not None:
            self.dismiss(request)

    def _request(self) -> SessionRequest | None:
        error = self.query_one("#error", Label)
        option_id = self._option_id(self.query_one("#agents", OptionList).highlighted)
        if option_id is None:
            error.update("Choose what to run.")
            return None
        argv: list[str] | None = None
        agent: str | None = option_id
        if option_id == CUSTOM:
            agent = None
            try:
                argv = shlex.split(self.query_one("#command", Input).value)
            except ValueError as exc:
                error.update(f"Command line: {exc}")
                return None
            if not argv:
                error.update("Type the command to run.")
                return None
        name = self.query_one("#name", Input).value.strip() or None
        if name is not None and not valid_name(name):
            error.update("A name is letters, digits, '.', '_' or '-' (63 at most).")
            return None
        cwd = self.query_one("#cwd", Input).value.strip() or None
        return SessionRequest(
            agent=agent,
            argv=argv,
            cwd=cwd,
            name=name,
            auto_approve=self.query_one("#auto-approve", Checkbox).value,
        )
