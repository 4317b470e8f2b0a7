"""Printing text at the cursor: the emulator's hot path.

Three ways to put a piece of text into a row, cheapest first:

- a ``str`` row and the default pen: one string splice (plain shell output);
- a ``str`` or :class:`~loopsy.terminal.lines.SpanRow` row written no further than the
  cursor (a row being written left to right: coloured logs, an agent repainting a cleared
  row): the text and one (style, cells) run are appended, whatever the characters' widths;
- anything else (overwriting cells already written, insert mode): the row becomes a
  :class:`~loopsy.terminal.lines.Row` and the cells are assigned by slices.

Text that is not all one-cell characters goes through :mod:`loopsy.terminal.wide` when it
cannot simply be appended (combining marks, a wide character at the margin, overwrites).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopsy.terminal.lines import Row, ScreenLine, SpanRow, append_at
from loopsy.terminal.parser import STYLED_PAIRS
from loopsy.terminal.style import DEFAULT, TRANSITIONS, Style, apply_sgr_run
from loopsy.terminal.wide import print_mixed, widths

if TYPE_CHECKING:
    from loopsy.terminal.screen import Screen


def styled(screen: Screen, run: str, text: str, rest: str) -> None:
    """A styled block from the parser: SGR runs (``ESC [ params m``, one or more, perhaps
    after ``ESC ( B``), each with the text that follows it; the first run and text, then
    the ``rest`` of the block (often empty).

    While the text goes onto the end of the row being written and stays off its last
    column, the pairs are applied in one loop: a pen lookup, a width, and one append to
    the row at the end. Anything else goes pair by pair through :func:`print_text`.
    """
    if not rest:
        _pair(screen, run, text)
        return
    pairs = [(run, text), *STYLED_PAIRS.findall(rest)]
    x = screen.x
    y = screen.y
    lines = screen.page.lines
    line = lines[y]
    if isinstance(line, SpanRow):
        written = line.cells
    elif isinstance(line, str):
        written = len(line)
    else:
        _pairs(screen, pairs, 0)
        return
    if x < written or screen._table is not None or screen.insert or screen.wrap_pending:
        _pairs(screen, pairs, 0)
        return
    pen = screen.pen
    start = x
    transitions = TRANSITIONS
    limit = screen.cols - 1
    texts: list[str] = []
    runs: list[tuple[Style, int]] = []
    last = pen
    for i, (run, text) in enumerate(pairs):
        if run[1] == "(":
            # ESC ( B: G0 is ASCII, and with no charset in use it stays untranslated.
            screen.g0 = "B"
            run = run[3:]
        found = transitions.get((pen, run))
        pen = found if found is not None else apply_sgr_run(pen, run)
        if not text:
            continue
        cells = len(text) if text.isascii() else widths(text)
        if cells is None or x + cells > limit:
            _commit(screen, lines, y, line, written, start, texts, runs)
            screen.pen = pen
            print_text(screen, text)
            _pairs(screen, pairs, i + 1)
            return
        texts.append(text)
        if pen is last and runs:
            runs[-1] = (pen, runs[-1][1] + cells)
        else:
            runs.append((pen, cells))
            last = pen
        x += cells
    _commit(screen, lines, y, line, written, start, texts, runs)
    screen.pen = pen


def _commit(
    screen: Screen, lines: list[ScreenLine], y: int, line: ScreenLine, written: int,
    start: int, texts: list[str], runs: list[tuple[Style, int]],
) -> None:
    """Append the texts and their runs gathered by styled() to row ``y``, written up to
    column ``written``, from column ``start`` (the cursor, at or after ``written``)."""
    if not texts:
        return
    text = "".join(texts)
    x = start + sum(cells for _, cells in runs)
    if isinstance(line, SpanRow):
        row = line
        if start > written:
            row.append(" " * (start - written), start - written, DEFAULT)
    else:
        # A plain row (narrow default-style text) and the blanks up to the cursor.
        plain = str(line) + " " * (start - written)
        row = lines[y] = SpanRow(plain, [(DEFAULT, start)] if start else [], start)
    spans = row.spans
    first_style, first_cells = runs[0]
    if spans and spans[-1][0] == first_style:
        spans[-1] = (first_style, spans[-1][1] + first_cells)
        spans.extend(runs[1:])
    else:
        spans.extend(runs)
    row.text += text
    row.cells = x
    screen.x = x
    screen._dirty.add(y)
    screen.last_char = text[-1]


def _pairs(screen: Screen, pairs: list[tuple[str, str]], start: int) -> None:
    """Apply (SGR run, text) pairs one at a time, from ``start``."""
    for run, text in pairs[start:] if start else pairs:
        _pair(screen, run, text)


def _pair(screen: Screen, run: str, text: str) -> None:
    """One SGR run (perhaps after ``ESC ( B``), then the text after it."""
    if run[1] == "(":
        screen.g0 = "B"
        screen.sync_charset()
        run = run[3:]
    pen = TRANSITIONS.get((screen.pen, run))
    screen.pen = pen if pen is not None else apply_sgr_run(screen.pen, run)
    if text:
        print_text(screen, text)


def print_text(screen: Screen, text: str) -> None:
    table = screen._table
    if table is not None:
        text = text.translate(table)
    y = screen.y
    line = screen.page.lines[y]
    if text.isascii():
        if not isinstance(line, SpanRow):
            print_narrow(screen, text)
            return
        cells = len(text)
    else:
        found = widths(text)
        if found is None:
            print_mixed(screen, text)
            return
        cells = found
    x = screen.x
    end = x + cells
    if (
        isinstance(line, SpanRow) and line.cells == x and end < screen.cols
        and not screen.wrap_pending and not screen.insert
    ):
        # More text for the row being written (a row kept as spans), in this one call.
        line.append(text, cells, screen.pen)
        screen.x = end
        screen._dirty.add(y)
        screen.last_char = text[-1]
    elif cells == len(text):
        print_narrow(screen, text)
    elif not _append(screen, text, cells):
        print_mixed(screen, text)


def _append(screen: Screen, text: str, cells: int) -> bool:
    """Write ``text`` (``cells`` wide, no combining marks) at the cursor if it fits in the
    row and the row is written no further than the cursor; False when it is not done."""
    if screen.wrap_pending:
        if not screen.autowrap:
            return False
        screen.wrap()
    x = screen.x
    end = x + cells
    cols = screen.cols
    if end > cols or screen.insert:
        return False
    y = screen.y
    if not append_at(screen.page.lines, y, x, text, cells, screen.pen):
        return False
    screen._dirty.add(y)
    screen.last_char = text[-1]
    if end >= cols:
        screen.x = cols - 1
        screen.wrap_pending = screen.autowrap
    else:
        screen.x = end
    return True


def print_narrow(screen: Screen, text: str) -> None:
    """Print characters that each take exactly one cell."""
    cols = screen.cols
    pen = screen.pen
    page = screen.page
    lines = page.lines
    n = len(text)
    pos = 0
    while pos < n:
        if screen.wrap_pending:
            screen.wrap()
        x = screen.x
        y = screen.y
        room = cols - x
        if n - pos <= room:
            chunk = text[pos:] if pos else text
            pos = n
        elif not screen.autowrap:
            chunk = text[pos:pos + room - 1] + text[n - 1]
            pos = n
        else:
            chunk = text[pos:pos + room]
            pos += room
        count = len(chunk)
        end = x + count
        line = lines[y]
        if line.__class__ is Row or screen.insert:
            _overwrite(screen, x, y, chunk, pen)
        elif line.__class__ is str and pen is DEFAULT:
            # Default-style text on a plain row stays a plain row (one str splice).
            plain = str(line)
            if x >= len(plain):
                lines[y] = plain + " " * (x - len(plain)) + chunk
            else:
                lines[y] = plain[:x] + chunk + plain[end:]
        elif not append_at(lines, y, x, chunk, count, pen):
            _overwrite(screen, x, y, chunk, pen)
        screen._dirty.add(y)
        if end >= cols:
            screen.x = cols - 1
            screen.wrap_pending = screen.autowrap
        else:
            screen.x = end
    screen.last_char = text[n - 1]


def _overwrite(screen: Screen, x: int, y: int, chunk: str, pen: Style) -> None:
    """Assign one-cell characters to cells of row ``y`` from ``x`` (as a :class:`Row`)."""
    page = screen.page
    row = page.row(y)
    count = len(chunk)
    end = x + count
    if screen.insert:
        page.insert_chars(y, x, count, DEFAULT)
    chars = row.chars
    if chars[x] == "" and x > 0:
        chars[x - 1] = " "
    if end < screen.cols and chars[end] == "":
        chars[end] = " "
    chars[x:end] = chunk
    row.styles[x:end] = [pen] * count
