"""Serialize a screen as the VT bytes that rebuild it in a fresh terminal of the same size.

Order matters, because several sequences have side effects on others:

1. RIS and the title.
2. The scrollback and the main screen, as lines joined by CR LF, so that the terminal
   scrolls the older ones into its own history. A line that continues the one before it
   (auto-wrapped) is not joined: the line before is written right up to the margin and the
   next character wraps (DECAWM is on after RIS), so the terminal marks it wrapped as the
   program's own output did, and xterm.js can reflow it and select across it.
3. The main screen's saved cursor (ESC 7), then, if the alternate screen is active, the
   main screen's scroll region, the switch (``CSI ? 1047 h``: no cursor save, so the saved
   cursor above survives), the alternate rows drawn with CUP (a continued row by wrapping
   into it instead), and its saved cursor.
4. Tab stops, the active scroll region, the modes (origin mode homes the cursor, so it
   comes before the final cursor position).
5. The cursor: a pending wrap is rebuilt by printing the last-column cell again.
6. Pen, insert/newline modes, charsets.

A snapshot never starts or ends inside an escape sequence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopsy.terminal.lines import Row, ScreenLine, SpanRow, Stored, StyledLine, to_row
from loopsy.terminal.modes import DEFAULT_DEC_MODES, DecMode
from loopsy.terminal.page import Page, SavedCursor
from loopsy.terminal.style import DEFAULT, Style, erase_style, sgr

if TYPE_CHECKING:
    from loopsy.terminal.screen import Screen


class _Writer:
    """Accumulates output and tracks the pen the receiving terminal has."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pen = DEFAULT

    def write(self, text: str) -> None:
        self.parts.append(text)

    def set_pen(self, style: Style) -> None:
        if style != self.pen:
            self.parts.append(sgr(style))
            self.pen = style

    def cup(self, x: int, y: int) -> None:
        self.parts.append(f"\x1b[{y + 1};{x + 1}H")

    def line(
        self, line: ScreenLine | Stored, cols: int, *, continued: bool = False, fill: int = 0,
    ) -> None:
        """The visible cells of one line from column 0 (the cursor must be there).

        ``continued``: the cursor waits to wrap at the end of the line before, so at least
        one cell is printed (that wraps and marks this line wrapped; no erase before it,
        which would hit the line before). ``fill``: the next line continues this one, so
        exactly this many cells are printed, trailing blanks too: ``cols`` leaves the cursor
        waiting to wrap at the margin; ``cols - 1`` leaves the last cell to the wide
        character that starts the next line (it wraps by itself and blanks that cell, as
        it did in the program's output; xterm.js then knows the blank is no text).
        """
        if line.__class__ is str:
            text = str(line)
            if text.isascii():
                text = text[:fill].ljust(fill) if fill else text[:cols].rstrip(" ")
                if text or continued:
                    self.set_pen(DEFAULT)
                    self.parts.append(text or " ")
                return
        elif continued or fill:
            pass
        elif isinstance(line, (StyledLine, SpanRow)) and line.text.isascii() and (
            len(line.text) <= cols
        ):
            # Lines kept as spans go out straight from them (one cell per character).
            text, parts, x = line.text, self.parts, 0
            for style, count in line.spans:
                chunk = text[x:x + count]
                x += count
                if chunk:
                    self.set_pen(style)
                    parts.append(chunk)
            return
        self.row(to_row(line, cols), cols, continued, fill)

    def row(self, row: Row, cols: int, continued: bool = False, fill: int = 0) -> None:
        chars, styles = row.chars, row.styles
        end = fill or cols
        if not fill:
            while end > 0 and chars[end - 1] == " " and styles[end - 1] == DEFAULT:
                end -= 1
            if continued and end == 0:
                end = 1
        # Trailing blanks that carry only a background are one erase (BCE) away.
        erase_from = end
        if end == cols and not fill:
            tail = styles[end - 1]
            if tail != DEFAULT and tail == erase_style(tail):
                while erase_from > 0 and chars[erase_from - 1] == " " and (
                    styles[erase_from - 1] == tail
                ):
                    erase_from -= 1
                if continued and erase_from == 0:
                    erase_from = 1
        parts = self.parts
        x = 0
        while x < erase_from:
            style = styles[x]
            start = x
            while x < erase_from and styles[x] == style:
                x += 1
            text = "".join(chars[start:x])
            if text:
                self.set_pen(style)
                parts.append(text)
        if erase_from < end:
            self.set_pen(styles[erase_from])
            parts.append("\x1b[K")
        elif continued and end < cols and styles[0].bg is not None:
            # Wrapping from the bottom row scrolled this row in blank in the background of
            # the pen then set (its first cell's): the default-style tail is erased back.
            self.set_pen(DEFAULT)
            parts.append("\x1b[K")

    def newline(self) -> None:
        # A background in the pen would colour the row scrolled in (BCE).
        if self.pen.bg is not None:
            self.set_pen(DEFAULT)
        self.parts.append("\r\n")


def render_snapshot(screen: Screen, scrollback: int | None) -> bytes:
    out = _Writer()
    cols, rows = screen.cols, screen.rows
    out.write("\x1bc")
    if screen.title:
        out.write(f"\x1b]2;{screen.title}\x07")
    history = list(screen.history)
    wraps = screen.history.flags()
    if scrollback is not None:
        first = max(0, len(history) - max(0, scrollback))
        del history[:first]
        del wraps[:first]
    main = screen.main
    # Whether each written line continues the one before it (the first continues nothing).
    if wraps:
        wraps[0] = False
    wraps += [bool((wraps or y) and main.wrapped[y]) for y in range(rows)]
    wraps.append(False)
    lines = [*history, *main.lines]
    lines.append("")
    for i, line in enumerate(lines[:-1]):
        continued = wraps[i]
        if i and not continued:
            out.newline()
        fill = _fill(line, lines[i + 1], cols) if wraps[i + 1] else 0
        out.line(line, cols, continued=continued, fill=fill)
    _saved_cursor(out, main.saved)
    if screen.alternate:
        _region(out, main, rows)
        out.set_pen(DEFAULT)
        out.write("\x1b[?1047h")
        alt = screen.alt
        alt_wraps = [screen.continues(alt, y) for y in range(rows)] + [False]
        for y, line in enumerate(alt.lines):
            continued = alt_wraps[y]
            fill = _fill(line, alt.lines[y + 1], cols) if alt_wraps[y + 1] else 0
            if not continued:
                if line == "" and not fill:
                    continue
                out.cup(0, y)
            out.line(line, cols, continued=continued, fill=fill)
        _saved_cursor(out, alt.saved)
    _tabstops(out, screen)
    _region(out, screen.page, rows)
    _modes(out, screen)
    _cursor(out, screen)
    out.set_pen(screen.pen)
    for mode in sorted(screen.ansi_modes):
        out.write(f"\x1b[{mode}h")
    if screen.g0 != "B":
        out.write(f"\x1b({screen.g0}")
    if screen.g1 != "B":
        out.write(f"\x1b){screen.g1}")
    if screen.shift:
        out.write("\x0e")
    if screen.cursor_shape:
        out.write(f"\x1b[{screen.cursor_shape} q")
    return "".join(out.parts).encode("utf-8", "replace")


def _fill(line: ScreenLine | Stored, following: ScreenLine | Stored, cols: int) -> int:
    """How many cells of ``line`` to print when ``following`` continues it: all, or all
    but the last when that is the blank a wide character left as it wrapped."""
    if cols < 2 or (line.__class__ is str and len(str(line)) >= cols):
        return cols
    head = to_row(following, cols)
    if head.chars[1:2] != [""]:
        return cols
    row = to_row(line, cols)
    if row.chars[-1] == " " and row.styles[-1] == head.styles[0]:
        return cols - 1
    return cols


def _saved_cursor(out: _Writer, saved: SavedCursor | None) -> None:
    if saved is None:
        return
    if saved.origin:
        out.write("\x1b[?6h")
    out.cup(saved.x, saved.y)
    out.set_pen(saved.pen)
    if saved.g0 != "B":
        out.write(f"\x1b({saved.g0}")
    if saved.g1 != "B":
        out.write(f"\x1b){saved.g1}")
    if saved.shift:
        out.write("\x0e")
    out.write("\x1b7")
    if saved.origin:
        out.write("\x1b[?6l")
    if saved.shift:
        out.write("\x0f")
    if saved.g0 != "B" or saved.g1 != "B":
        out.write("\x1b(B\x1b)B")


def _region(out: _Writer, page: Page, rows: int) -> None:
    if page.top != 0 or page.bottom != rows - 1:
        out.write(f"\x1b[{page.top + 1};{page.bottom + 1}r")


def _tabstops(out: _Writer, screen: Screen) -> None:
    if screen.tabstops == set(range(8, screen.cols, 8)):
        return
    out.write("\x1b[3g")
    for stop in sorted(screen.tabstops):
        out.write(f"\x1b[{stop + 1}G\x1bH")


def _modes(out: _Writer, screen: Screen) -> None:
    modes = screen.dec_modes
    for mode in sorted(DEFAULT_DEC_MODES - modes):
        out.write(f"\x1b[?{mode}l")
    for number in sorted(modes - DEFAULT_DEC_MODES):
        if number == DecMode.APP_KEYPAD:
            out.write("\x1b=")
        elif number != DecMode.ORIGIN:
            out.write(f"\x1b[?{number}h")
    if DecMode.ORIGIN in modes:
        out.write(f"\x1b[?{int(DecMode.ORIGIN)}h")


def _cursor(out: _Writer, screen: Screen) -> None:
    x, y = screen.x, screen.y
    top = screen.page.top if screen.origin else 0
    if not screen.wrap_pending:
        out.cup(x, y - top)
        return
    # Print the last cell again: that leaves the terminal with the same pending wrap.
    row = screen.page.row(y)
    lead = x - 1 if row.chars[x] == "" and x > 0 else x
    out.cup(lead, y - top)
    out.set_pen(row.styles[lead])
    out.write(row.chars[lead] or " ")
