"""Everything a person or a program could notice about a screen, as one comparable value."""

from __future__ import annotations

from typing import Any

from loopsy.terminal import Screen
from loopsy.terminal.lines import Row, SpanRow, cells_of, line_runs, to_row


def _cells(line: Any, cols: int) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    row = to_row(line, cols)
    return tuple(row.chars), tuple(row.styles)


def observe(screen: Screen) -> dict[str, Any]:
    cols = screen.cols
    state: dict[str, Any] = {
        "size": (screen.cols, screen.rows),
        "display": screen.display(),
        "main": [_cells(line, cols) for line in screen.main.lines],
        "history": [tuple(line_runs(line, cols)) for line in screen.history],
        # Soft wraps: which lines continue the one before (copy, selection, reflow).
        "history_wrapped": [screen.scrollback_wrapped(i) for i in range(screen.scrollback_size)],
        "main_wrapped": [screen.continues(screen.main, y) for y in range(screen.rows)],
        "cursor": screen.cursor,
        "wrap_pending": screen.wrap_pending,
        "alternate": screen.alternate,
        "title": screen.title,
        "dec_modes": sorted(screen.dec_modes),
        "ansi_modes": sorted(screen.ansi_modes),
        "pen": screen.pen,
        "charsets": (screen.g0, screen.g1, screen.shift),
        "tabstops": sorted(screen.tabstops),
        "cursor_shape": screen.cursor_shape,
        "main_region": (screen.main.top, screen.main.bottom),
        "main_saved": screen.main.saved,
    }
    if screen.alternate:
        state["alt"] = [_cells(line, cols) for line in screen.alt.lines]
        state["alt_wrapped"] = [screen.continues(screen.alt, y) for y in range(screen.rows)]
        state["alt_region"] = (screen.alt.top, screen.alt.bottom)
        state["alt_saved"] = screen.alt.saved
    return state


def check_invariants(screen: Screen) -> None:
    """Structural invariants every operation must keep."""
    assert 0 <= screen.x < screen.cols and 0 <= screen.y < screen.rows
    for page in (screen.main, screen.alt):
        assert len(page.lines) == screen.rows == len(page.wrapped)
        assert 0 <= page.top <= page.bottom < screen.rows
        for line in page.lines:
            if isinstance(line, Row):
                assert len(line.chars) == screen.cols == len(line.styles)
                for x, cell in enumerate(line.chars):
                    if cell == "":
                        assert x > 0 and line.chars[x - 1] not in ("", " ")
            elif isinstance(line, SpanRow):
                assert 0 < line.cells <= screen.cols
                assert sum(count for _, count in line.spans) == line.cells
                assert all(count > 0 for _, count in line.spans)
                assert len(cells_of(line.text)) == line.cells
                assert len(line.text) <= line.cells
    assert len(screen.history) <= screen.history.maxlen


def roundtrip(screen: Screen) -> Screen:
    """A fresh screen of the same size fed ``screen``'s snapshot."""
    copy = Screen(screen.cols, screen.rows, scrollback=screen.history.maxlen)
    copy.feed(screen.snapshot())
    return copy
