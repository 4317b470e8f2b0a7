"""Fast path for long runs of plain text (``cat`` of a log, base64, compiler output).

When the cursor sits on a blank bottom row at column 0, with nothing that could bend the
usual semantics (scroll region, insert or newline mode, a graphics charset, a coloured pen),
printing ``line\\r\\n`` repeatedly just appends rows to the screen-plus-history tape. So a
block of such lines is applied with list operations: the text is split once, the screen
keeps the last rows as plain ``str`` rows, and the history deque (which has a maximum
length) keeps the latest lines. Nothing is skipped that could still be seen.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopsy.terminal.controls import carriage_return, linefeed_control
from loopsy.terminal.lines import ScreenLine, store
from loopsy.terminal.style import DEFAULT

if TYPE_CHECKING:
    from loopsy.terminal.screen import Screen

def feed_plain(screen: Screen, text: str) -> None:
    """Apply ``text`` (printable characters, CR and LF only)."""
    last_newline = text.rfind("\n")
    if last_newline > 0 and _can_append(screen):
        block = text[:last_newline + 1]
        rows = _block_rows(block, screen.cols)
        if rows is not None:
            _append(screen, rows)
            text = text[last_newline + 1:]
    _slow(screen, text)


def _can_append(screen: Screen) -> bool:
    page = screen.page
    return (
        screen.x == 0
        and not screen.wrap_pending
        and screen.y == screen.rows - 1
        and page.top == 0
        and page.bottom == screen.rows - 1
        and page.lines[-1] == ""
        and screen.pen == DEFAULT
        and not screen.insert
        and not screen.newline
        and screen.g0 == "B"
        and screen.shift == 0
    )


def _block_rows(block: str, cols: int) -> list[str] | None:
    """The rows of ``block`` if it is a sequence of ``text\\r\\n`` lines that each fit."""
    if not block.isascii():
        return None
    pairs = block.count("\r\n")
    if pairs != block.count("\n") or pairs != block.count("\r"):
        return None
    rows = block[:-2].split("\r\n")
    if max(map(len, rows)) > cols:
        return None
    return rows


def _append(screen: Screen, rows: list[str]) -> None:
    """The effect of printing each row then CR LF, from a blank bottom row."""
    page = screen.page
    lines = page.lines
    height = len(lines)
    tape: list[ScreenLine] = lines[:-1]
    tape.extend(rows)
    tape.append("")
    cut = len(tape) - height
    if page is screen.main:
        history = screen.history
        keep = history.maxlen if history.maxlen is not None else cut
        pushed = tape[max(0, cut - keep):cut]
        # Only the old screen rows can be mutable rows; the new ones are already compact.
        history.extend(line if line.__class__ is str else store(line) for line in pushed)
    lines[:] = tape[cut:]
    screen.last_char = rows[-1][-1:] or screen.last_char
    screen.mark_all_dirty()


def _slow(screen: Screen, text: str) -> None:
    """Character-exact processing of printable text, CR and LF."""
    pieces = text.split("\n")
    last = len(pieces) - 1
    for i, piece in enumerate(pieces):
        if piece:
            parts = piece.split("\r")
            for j, part in enumerate(parts):
                if j:
                    carriage_return(screen)
                if part:
                    screen.print_text(part)
        if i < last:
            linefeed_control(screen)
