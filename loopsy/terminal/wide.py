"""Printing text that is not all one-cell characters: wide (CJK, emoji) and combining.

Text that fits the row being written is appended whole (:mod:`loopsy.terminal.printing`);
here, runs of one-cell characters still go through the narrow path and only the wide and
zero-width characters are placed one at a time.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from loopsy.terminal.lines import append_at, char_width

if TYPE_CHECKING:
    from loopsy.terminal.screen import Screen

# Widths of the characters seen lately (box drawing, symbols, CJK): a dict lookup is far
# cheaper than wcwidth's table search. Bounded so hostile input cannot grow it.
_WIDTHS: dict[str, int] = {}
_WIDTHS_LIMIT = 8192
# Bytes that were not UTF-8 arrive as lone surrogates (surrogateescape); they show as U+FFFD.
_UNDECODABLE = re.compile("[\udc80-\udcff]")


def _width(ch: str) -> int:
    """The width of ``ch``, remembered (printable ASCII is looked up here too, so that
    widths() maps a whole string through the dict at C speed)."""
    width = _WIDTHS.get(ch)
    if width is None:
        if len(_WIDTHS) >= _WIDTHS_LIMIT:
            _WIDTHS.clear()
        # An undecodable byte counts as zero here so that widths() sends it the slow way,
        # where print_mixed shows it as U+FFFD (it never reaches the lookups below).
        width = _WIDTHS[ch] = 0 if _UNDECODABLE.match(ch) else char_width(ch)
    return width


def widths(text: str) -> int | None:
    """Cells that ``text`` takes when every character takes one or two; None when some
    takes none (a combining mark, an undecodable byte)."""
    try:
        found = list(map(_WIDTHS.__getitem__, text))
    except KeyError:
        found = list(map(_width, text))
    if 0 in found:
        return None
    return sum(found)


def print_mixed(screen: Screen, text: str) -> None:
    if _UNDECODABLE.search(text):
        text = _UNDECODABLE.sub("\ufffd", text)
    start = 0
    for i, ch in enumerate(text):
        if ch < "\u0300":
            continue
        width = _WIDTHS.get(ch)
        if width is None:
            width = _width(ch)
        if width == 1:
            continue
        if i > start:
            screen.print_narrow(text[start:i])
        if width == 2:
            _print_wide_char(screen, ch)
        else:
            _combine(screen, ch)
        start = i + 1
    if start < len(text):
        screen.print_narrow(text[start:])


def _combine(screen: Screen, mark: str) -> None:
    """Attach a zero-width character to the cell before the cursor."""
    x = screen.x if screen.wrap_pending else screen.x - 1
    if x < 0:
        return
    row = screen.page.row(screen.y)
    if row.chars[x] == "" and x > 0:
        x -= 1
    # Bound the cell: a stream of combining marks must not grow one cell without limit.
    if len(row.chars[x]) < 16:
        row.chars[x] += mark
    screen.mark_dirty(screen.y)


def _print_wide_char(screen: Screen, ch: str) -> None:
    cols = screen.cols
    if cols < 2:
        return
    page = screen.page
    if screen.wrap_pending:
        screen.wrap()
    if screen.x >= cols - 1:
        if screen.autowrap:
            # It does not fit: the last cell is blanked in the pen, as xterm.js does, and
            # the character wraps.
            row = page.row(screen.y)
            if row.chars[cols - 1] == "" and cols > 1:
                row.chars[cols - 2] = " "
            row.chars[cols - 1] = " "
            row.styles[cols - 1] = screen.pen
            screen.mark_dirty(screen.y)
            screen.wrap()
        else:
            screen.x = cols - 2
    x, y = screen.x, screen.y
    end = x + 2
    if screen.insert or not append_at(page.lines, y, x, ch, 2, screen.pen):
        if screen.insert:
            page.insert_chars(y, x, 2, screen.pen)
        row = page.row(y)
        chars = row.chars
        if chars[x] == "" and x > 0:
            chars[x - 1] = " "
        if end < cols and chars[end] == "":
            chars[end] = " "
        chars[x] = ch
        chars[x + 1] = ""
        row.styles[x] = row.styles[x + 1] = screen.pen
    screen.mark_dirty(y)
    screen.last_char = ch
    if end >= cols:
        screen.x = cols - 1
        screen.wrap_pending = screen.autowrap
    else:
        screen.x = end
