"""One screen buffer (the main or the alternate screen): its rows and the edits on them.

Every edit keeps the wide-character invariant: a ``""`` placeholder cell always sits right
of the cell holding its wide character. Cutting a wide character in half blanks both halves,
as xterm does.

``wrapped[y]`` is row ``y``'s wrap flag (xterm.js's ``isWrapped``), 1 when the row
continues the row above it because text auto-wrapped into it. Flags move with their rows
when the page scrolls; rows that come in blank have none. They are a ``bytearray``, so
moving, testing and searching them are memory operations.
"""

from __future__ import annotations

from typing import NamedTuple

from loopsy.terminal.lines import Row, ScreenLine, SpanRow, append_at, char_width, to_row
from loopsy.terminal.style import DEFAULT, Style


class SavedCursor(NamedTuple):
    """What DECSC (ESC 7) saves and DECRC (ESC 8) restores."""

    x: int = 0
    y: int = 0
    pen: Style = DEFAULT
    g0: str = "B"
    g1: str = "B"
    shift: int = 0
    origin: bool = False


def blank_line(cols: int, style: Style) -> ScreenLine:
    """A blank line in ``style``; the default style is the empty ``str`` (no allocation)."""
    return "" if style == DEFAULT else Row.blank(cols, style)


class Page:
    """The rows of one screen buffer, its scroll region and its saved cursor."""

    __slots__ = ("bottom", "cols", "lines", "saved", "top", "wrapped")

    def __init__(self, cols: int, rows: int) -> None:
        self.cols = cols
        self.lines: list[ScreenLine] = [""] * rows
        self.wrapped = bytearray(rows)
        self.top = 0
        self.bottom = rows - 1
        self.saved: SavedCursor | None = None

    @property
    def rows(self) -> int:
        return len(self.lines)

    def row(self, y: int) -> Row:
        """Row ``y`` in its mutable form."""
        line = self.lines[y]
        if line.__class__ is not Row:
            line = self.lines[y] = to_row(line, self.cols)
        assert isinstance(line, Row)
        return line

    def clear(self, style: Style = DEFAULT) -> None:
        self.lines[:] = [blank_line(self.cols, style) for _ in self.lines]
        self.wrapped[:] = bytes(len(self.lines))

    def erase(self, y: int, start: int, end: int, style: Style) -> None:
        """Blank cells ``start``..``end``-1 of row ``y``."""
        cols = self.cols
        start = max(0, start)
        end = min(cols, end)
        if start >= end:
            return
        if start == 0 and end == cols:
            self.lines[y] = blank_line(cols, style)
            return
        line = self.lines[y]
        if not isinstance(line, Row) and self._erase_unwritten(y, line, start, end, style):
            return
        row = self.row(y)
        chars = row.chars
        if chars[start] == "" and start > 0:
            chars[start - 1] = " "
        if end < cols and chars[end] == "":
            chars[end] = " "
        count = end - start
        chars[start:end] = [" "] * count
        row.styles[start:end] = [style] * count

    def _erase_unwritten(
        self, y: int, line: SpanRow | str, start: int, end: int, style: Style
    ) -> bool:
        """Erase in a row kept as text without making it a :class:`Row`, where that is
        simple: nothing written from ``start`` on (a repaint erasing the rest of the row it
        just wrote), or the tail of a plain row. False when not done."""
        cols = self.cols
        written = line.cells if isinstance(line, SpanRow) else len(line)
        if start >= written:
            if style is DEFAULT:
                return True
            return end == cols and append_at(
                self.lines, y, start, " " * (cols - start), cols - start, style
            )
        if isinstance(line, str) and end == cols and style is DEFAULT:
            self.lines[y] = line[:start]
            return True
        return False

    def insert_chars(self, y: int, x: int, count: int, style: Style) -> None:
        """ICH: shift cells from ``x`` right by ``count``, blanks in, overflow dropped."""
        cols = self.cols
        count = min(count, cols - x)
        if count <= 0:
            return
        row = self.row(y)
        chars, styles = row.chars, row.styles
        if chars[x] == "" and x > 0:
            chars[x - 1] = " "
            chars[x] = " "
        chars[x:x] = [" "] * count
        styles[x:x] = [style] * count
        del chars[cols:]
        del styles[cols:]
        _drop_cut_wide(chars)

    def delete_chars(self, y: int, x: int, count: int, style: Style) -> None:
        """DCH: remove ``count`` cells at ``x``, blanks come in at the right edge."""
        cols = self.cols
        count = min(count, cols - x)
        if count <= 0:
            return
        row = self.row(y)
        chars, styles = row.chars, row.styles
        if chars[x] == "" and x > 0:
            chars[x - 1] = " "
        del chars[x:x + count]
        del styles[x:x + count]
        chars.extend([" "] * count)
        styles.extend([style] * count)
        if chars[x] == "":
            chars[x] = " "

    def scroll_up(self, top: int, bottom: int, count: int, style: Style) -> list[ScreenLine]:
        """Move rows ``top``..``bottom`` up by ``count``; return the rows pushed out."""
        count = min(count, bottom - top + 1)
        if count <= 0:
            return []
        lines = self.lines
        removed = lines[top:top + count]
        del lines[top:top + count]
        at = bottom - count + 1
        lines[at:at] = [blank_line(self.cols, style) for _ in range(count)]
        wrapped = self.wrapped
        del wrapped[top:top + count]
        wrapped[at:at] = bytes(count)
        return removed

    def scroll_down(self, top: int, bottom: int, count: int, style: Style) -> None:
        """Move rows ``top``..``bottom`` down by ``count``, blanks in at ``top``."""
        count = min(count, bottom - top + 1)
        if count <= 0:
            return
        lines = self.lines
        del lines[bottom - count + 1:bottom + 1]
        lines[top:top] = [blank_line(self.cols, style) for _ in range(count)]
        wrapped = self.wrapped
        del wrapped[bottom - count + 1:bottom + 1]
        wrapped[top:top] = bytes(count)

    def resize(self, cols: int, rows: int) -> None:
        """Change the width (rows truncated or padded) and the height (rows cut or added
        at the bottom); the caller moves rows to the scrollback first when it wants to."""
        if cols != self.cols:
            for y, line in enumerate(self.lines):
                if line.__class__ is str or (isinstance(line, SpanRow) and line.cells <= cols):
                    continue
                self.lines[y] = _resized(to_row(line, self.cols), cols)
            self.cols = cols
        if rows < len(self.lines):
            del self.lines[rows:]
            del self.wrapped[rows:]
        else:
            self.wrapped.extend(bytes(rows - len(self.lines)))
            self.lines.extend([""] * (rows - len(self.lines)))
        self.top = 0
        self.bottom = rows - 1
        if self.saved is not None:
            self.saved = self.saved._replace(
                x=min(self.saved.x, cols - 1), y=min(self.saved.y, rows - 1)
            )


def _drop_cut_wide(chars: list[str]) -> None:
    """Blank a wide character left in the last column without its right half."""
    last = chars[-1] if chars else " "
    if last not in ("", " ") and char_width(last[0]) == 2:
        chars[-1] = " "


def _resized(row: Row, cols: int) -> Row:
    old = len(row.chars)
    if cols < old:
        chars = row.chars[:cols]
        styles = row.styles[:cols]
        _drop_cut_wide(chars)
        return Row(chars, styles)
    extra = cols - old
    return Row(row.chars + [" "] * extra, row.styles + [DEFAULT] * extra)
