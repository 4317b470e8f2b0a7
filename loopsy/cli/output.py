"""How commands talk to people and scripts: human text by default, ``--json`` for scripts,
errors on stderr with a hint. Every command prints through here.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def emit_json(data: Any) -> None:
    data = _plain(data)
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _plain(data: Any) -> Any:
    if hasattr(data, "model_dump"):  # a pydantic model; pydantic itself is not imported here
        return data.model_dump(mode="json")
    if isinstance(data, list):
        return [_plain(d) for d in data]
    return data


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def note(text: str) -> None:
    """Progress and side remarks: stderr, so stdout stays clean for pipes."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def error(message: str, hint: str | None = None) -> None:
    sys.stderr.write(f"loopsy: error: {message}\n")
    if hint:
        sys.stderr.write(f"  hint: {hint}\n")
    sys.stderr.flush()


def fields(pairs: Iterable[tuple[str, Any]]) -> None:
    """Aligned ``label: value`` lines."""
    items = [(k, "" if v is None else str(v)) for k, v in pairs]
    width = max((len(k) for k, _ in items), default=0)
    for key, value in items:
        say(f"{key + ':':<{width + 1}} {value}")


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """A plain aligned table; an empty table prints just the headers' absence note.

    Cells often hold what others chose (file names, commands, paths): control characters
    are shown escaped, so a cell can neither drive the terminal nor fake a row."""
    text_rows = [["" if c is None else printable(str(c)) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in text_rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    say("  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    for row in text_rows:
        say("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def printable(text: str) -> str:
    """``text`` with every non-printable character (ESC, newline, ...) as its escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def duration(seconds: float) -> str:
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"
