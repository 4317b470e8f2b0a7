"""The Audit log tab: the daemon's audit records as they are written (its live tail), with
a filter: words that must all appear in a line, ``!word`` for one that must not."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding
from textual.widgets import Input, RichLog

from loopsy.protocol.audit import AuditDroppedMessage, AuditRecord
from loopsy.tui.ages import clock_time
from loopsy.tui.panel import Panel, reporting

BACKLOG = 200
KEEP = 5000
_SKIP_EXTRA = {"ts", "caller", "transport", "method", "path", "status", "ms", "event"}


def record_line(record: AuditRecord) -> str:
    """One record on one line: time, caller, then the request or the event."""
    head = f"{clock_time(record.ts)}  {record.caller:<18}"
    if record.event is not None:
        extra = record.model_extra or {}
        fields = " ".join(f"{k}={v}" for k, v in extra.items() if k not in _SKIP_EXTRA)
        return f"{head} {record.event} {fields}".rstrip()
    ms = f" {record.ms:.1f}ms" if record.ms is not None else ""
    return f"{head} {record.method or '?'} {record.path or ''} {record.status or ''}{ms}"


def line_style(record: AuditRecord) -> str:
    if record.status is not None and record.status >= 500:
        return "bold red"
    if record.status is not None and record.status >= 400:
        return "red"
    return "cyan" if record.event is not None else ""


class AuditFilter:
    """Case-insensitive words: each must appear; ``!word``: must not."""

    def __init__(self, text: str = "") -> None:
        words = text.lower().split()
        self.text = text
        self.wanted = [w for w in words if not w.startswith("!")]
        self.unwanted = [w[1:] for w in words if w.startswith("!") and len(w) > 1]

    def matches(self, line: str) -> bool:
        low = line.lower()
        return all(w in low for w in self.wanted) and not any(w in low for w in self.unwanted)


class AuditPanel(Panel):
    BINDINGS = [Binding("slash", "filter", "Filter", key_display="/")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.records: deque[AuditRecord] = deque(maxlen=KEEP)
        self.filter = AuditFilter()

    def compose(self) -> ComposeResult:
        yield Input(
            placeholder="filter: words that must appear, !word to hide (e.g. sessions !GET)",
            id="audit-filter",
        )
        yield RichLog(id="audit-log", max_lines=KEEP, wrap=False, classes="panel-table")

    def reload(self) -> None:
        self.records.clear()
        self.query_one(RichLog).clear()
        self.follow()

    @work(exclusive=True, group="audit-follow")
    async def follow(self) -> None:
        with reporting(self, "Following the audit log"):
            async for item in self.client.audit.follow(backlog=BACKLOG):
                if isinstance(item, AuditDroppedMessage):
                    self.query_one(RichLog).write(
                        Text(f"… {item.count} records skipped (this view fell behind)", "yellow")
                    )
                    continue
                self.add(item)

    def add(self, record: AuditRecord) -> None:
        self.records.append(record)
        line = record_line(record)
        if self.filter.matches(line):
            self.query_one(RichLog).write(Text(line, style=line_style(record)))

    @on(Input.Changed, "#audit-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.filter = AuditFilter(event.value)
        log = self.query_one(RichLog)
        log.clear()
        for record in self.records:
            line = record_line(record)
            if self.filter.matches(line):
                log.write(Text(line, style=line_style(record)))

    @on(Input.Submitted, "#audit-filter")
    def filter_done(self) -> None:
        self.query_one(RichLog).focus()

    def action_filter(self) -> None:
        self.query_one("#audit-filter", Input).focus()

    def commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand("Filter the audit log", "Audit log: type words to match", self._go)

    def _go(self) -> None:
        self.app.query_one("#tabs").active = "audit"  # type: ignore[attr-defined]
        self.action_filter()
