"""Serialize a screen as the VT bytes that rebuild it in a fresh terminal of the same size.

Order matters, because several sequences have side effects on others:

1. RIS and the title.
2. The scrollback and the main screen, as lines joined by CR LF, so that the terminal
   scrolls the older ones into its own history.
3. The main screen's saved cursor (ESC 7), then, if the alternate screen is active, the
   main screen's scroll region, the switch (``CSI ? 1047 h``: no cursor save, so the saved
   cursor above survives), the alternate rows drawn with CUP, and its saved cursor.
4. Tab stops, the active scroll region, the modes (origin mode homes the cursor, so it
   comes before the final cursor position).
5. The cursor: a pending wrap is rebuilt by printing the last-column cell again.
6. Pen, insert/newline modes, charsets.

A snapshot never starts or ends inside an escape sequence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loopsy.terminal.lines import Row, ScreenLine, Stored, StyledLine, to_row
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

    def line(self, line: ScreenLine | Stored, cols: int) -> None:
        """The visible cells of one line from column 0 (the cursor must be there)."""
        if line.__class__ is str:
            text = str(line)
            if text.isascii():
                text = text[:cols].rstrip(" ")
                if text:
                    self.set_pen(DEFAULT)
                    self.parts.append(text)
                return
        elif isinstance(line, StyledLine) and line.text.isascii() and len(line.text) <= cols:
            # Scrollback lines go out straight from their spans (one cell per character).
            text, parts, x = line.text, self.parts, 0
            for style, count in line.spans:
                chunk = text[x:x + count]
                x += count
                if chunk:
                    self.set_pen(style)
                    parts.append(chunk)
            return
        self.row(to_row(line, cols), cols)

    def row(self, row: Row, cols: int) -> None:
        chars, styles = row.chars, row.styles
        end = cols
        while end > 0 and chars[end - 1] == " " and styles[end - 1] == DEFAULT:
            end -= 1
        # Trailing blanks that carry only a background are one erase (BCE) away.
        erase_from = end
        if end == cols:
            tail = styles[end - 1]
            if tail != DEFAULT and tail == erase_style(tail):
                while erase_from > 0 and chars[erase_from - 1] == " " and (
                    styles[erase_from - 1] == tail
                ):
                    erase_from -= 1
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
    if scrollback is not None:
        history = history[len(history) - scrollback:] if scrollback > 0 else []
    first = True
    for line in [*history, *screen.main.lines]:
        if not first:
            out.newline()
        first = False
        out.line(line, cols)
    _saved_cursor(out, screen.main.saved)
    if screen.alternate:
        _region(out, screen.main, rows)
        out.set_pen(DEFAULT)
        out.write("\x1b[?1047h")
        for y, line in enumerate(screen.alt.lines):
            if line == "":
                continue
            out.cup(0, y)
            out.line(line, cols)
        _saved_cursor(out, screen.alt.saved)
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
