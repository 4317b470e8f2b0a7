"""Rows of cells, and the compact form lines take once they leave the screen.

A screen row is a :class:`Row` (two parallel lists, one entry per cell), a
:class:`SpanRow` (text plus run-length styles) or a plain ``str`` of narrow characters in
the default style. The ``str`` form is what fast-scrolling plain text leaves behind:
producing it costs one slice of the input. The :class:`SpanRow` form is what a row written
left to right in colours becomes (coloured logs, an agent repainting a cleared row): each
write appends to it, and it goes to the scrollback without a pass over its cells. Either
is turned into a :class:`Row` only when something edits cells already written.

Cells: ``" "`` is blank, ``""`` is the right half of a wide character (the character sits
in the cell to its left), any other string is one character plus its combining marks.

Scrollback lines are :data:`Stored`: a ``str`` (default style, trailing blanks dropped) or
a :class:`StyledLine` (the text plus run-length style spans counted in cells).
"""

from __future__ import annotations

from itertools import groupby
from typing import NamedTuple, TypeAlias

from wcwidth import wcwidth

from loopsy.terminal.style import DEFAULT, Style


class Row:
    """One mutable screen row."""

    __slots__ = ("chars", "styles")

    def __init__(self, chars: list[str], styles: list[Style]) -> None:
        self.chars = chars
        self.styles = styles

    @classmethod
    def blank(cls, cols: int, style: Style = DEFAULT) -> Row:
        return cls([" "] * cols, [style] * cols)


class StyledLine(NamedTuple):
    """A scrollback line with styles: ``spans`` are (style, cells) covering the text."""

    text: str
    spans: tuple[tuple[Style, int], ...]


class SpanRow:
    """A screen row written from column 0 onwards: ``text`` takes the first ``cells``
    cells in the styles of ``spans`` ((style, cells) runs, adjacent styles distinct);
    every cell after them is blank in the default style. The text never holds combining
    marks, so each character takes one or two cells."""

    __slots__ = ("cells", "spans", "text")

    def __init__(self, text: str, spans: list[tuple[Style, int]], cells: int) -> None:
        self.text = text
        self.spans = spans
        self.cells = cells

    def append(self, text: str, cells: int, style: Style) -> None:
        """Write ``text`` (``cells`` wide) right after the last cell written."""
        self.text += text
        self.cells += cells
        spans = self.spans
        last_style, last_cells = spans[-1]
        if last_style is style or last_style == style:
            spans[-1] = (last_style, last_cells + cells)
        else:
            spans.append((style, cells))


Stored: TypeAlias = str | StyledLine
ScreenLine: TypeAlias = Row | SpanRow | str


def char_width(ch: str) -> int:
    """Cells taken by ``ch``: 0 for combining marks, 2 for wide (CJK, most emoji)."""
    if ch < "\u0300":
        return 1
    width = wcwidth(ch)
    return width if width >= 0 else 1


def cells_of(text: str) -> list[str]:
    """The cell list that ``text`` (a joined row, placeholders dropped) occupies."""
    if text.isascii():
        return list(text)
    cells: list[str] = []
    for ch in text:
        width = char_width(ch)
        if width == 0 and cells:
            last = len(cells) - 1
            if cells[last] == "" and last > 0:
                last -= 1
            cells[last] += ch
        elif width == 2:
            cells.append(ch)
            cells.append("")
        else:
            cells.append(ch)
    return cells


def append_at(
    lines: list[ScreenLine], y: int, x: int, text: str, cells: int, style: Style
) -> bool:
    """Write ``text`` (``cells`` wide, no combining marks) at column ``x`` of row ``y`` if
    that row is no :class:`Row` and has nothing written at or after ``x``: it becomes or
    stays a :class:`SpanRow`, blanks in the default style fill any gap. False when not
    done (the caller edits cells instead)."""
    line = lines[y]
    if line.__class__ is str:
        plain = str(line)
        written = len(plain)
        if x < written:
            return False
        if style is DEFAULT:
            spans = [(DEFAULT, x + cells)]
        elif x:
            spans = [(DEFAULT, x), (style, cells)]
        else:
            spans = [(style, cells)]
        lines[y] = SpanRow(plain + " " * (x - written) + text, spans, x + cells)
        return True
    if line.__class__ is not SpanRow:
        return False
    assert isinstance(line, SpanRow)
    written = line.cells
    if x < written:
        return False
    if x > written:
        line.append(" " * (x - written), x - written, DEFAULT)
    line.append(text, cells, style)
    return True


def to_row(line: ScreenLine | Stored, cols: int) -> Row:
    """A fresh mutable row of exactly ``cols`` cells showing ``line``."""
    if isinstance(line, Row):
        return line
    if isinstance(line, str):
        cells = cells_of(line)
        styles = [DEFAULT] * cols
    else:
        cells = cells_of(line.text)
        styles = []
        for style, count in line.spans:
            styles += [style] * count
        styles += [DEFAULT] * (cols - len(styles))
        del styles[cols:]
    if len(cells) > cols:
        del cells[cols:]
        if cells and cells[-1] != "" and char_width(cells[-1][0]) == 2:
            cells[-1] = " "
    else:
        cells.extend([" "] * (cols - len(cells)))
    if cells and cells[0] == "":
        cells[0] = " "
    return Row(cells, styles)


def store(line: ScreenLine) -> Stored:
    """The compact scrollback form of a screen line."""
    if isinstance(line, str):
        return line
    if isinstance(line, SpanRow):
        return _store_spans(line)
    chars, styles = line.chars, line.styles
    if styles.count(DEFAULT) == len(styles):
        return "".join(chars).rstrip(" ")
    end = len(chars)
    spans = [(style, len(list(group))) for style, group in groupby(styles)]
    last_style, last_count = spans[-1]
    if last_style == DEFAULT:
        # Trailing blank cells in the default style are not kept (each is one " ").
        tail = "".join(chars[end - last_count:])
        blanks = len(tail) - len(tail.rstrip(" "))
        end -= blanks
        if blanks == last_count:
            spans.pop()
        else:
            spans[-1] = (last_style, last_count - blanks)
    return StyledLine("".join(chars[:end]), tuple(spans))


def _store_spans(line: SpanRow) -> Stored:
    text, spans = line.text, line.spans
    last_style, last_cells = spans[-1]
    if last_style == DEFAULT:
        # Trailing blanks in the default style are not kept (each is one " ").
        blanks = min(last_cells, len(text) - len(text.rstrip(" ")))
        if blanks:
            text = text[: len(text) - blanks]
            spans = spans[:-1]
            if blanks < last_cells:
                spans.append((DEFAULT, last_cells - blanks))
        if not spans or spans == [(DEFAULT, spans[0][1])]:
            return text
    return StyledLine(text, tuple(spans))


def line_text(line: ScreenLine | Stored) -> str:
    """The characters of a line, wide characters once, without trailing padding."""
    if isinstance(line, Row):
        return "".join(line.chars)
    if isinstance(line, str):
        return line
    return line.text


def line_cells(line: SpanRow | str) -> int:
    """Cells written in a row that is not a :class:`Row` (the rest are blank)."""
    return line.cells if isinstance(line, SpanRow) else len(line)


def line_runs(line: ScreenLine | Stored, cols: int) -> list[tuple[str, Style]]:
    """The line as (text, style) runs covering exactly ``cols`` cells."""
    row = to_row(line, cols)
    runs: list[tuple[str, Style]] = []
    x = 0
    for style, group in groupby(row.styles):
        count = len(list(group))
        runs.append(("".join(row.chars[x:x + count]), style))
        x += count
    return runs
