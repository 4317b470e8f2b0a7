"""The headless terminal: feed it a program's output, read back what a terminal shows.

Pure: no I/O, no clocks. The session holders feed every byte of a PTY into a
:class:`Screen` and send :meth:`Screen.snapshot` to clients that reattach; the TUI renders
panes from :meth:`Screen.row_runs`.

The escape sequences follow xterm as xterm.js implements it (the phone renders with
xterm.js, so a snapshot and the live stream must mean the same thing there).
"""

from __future__ import annotations

import codecs

from loopsy.terminal import controls, printing
from loopsy.terminal.charsets import charset_table
from loopsy.terminal.lines import Row, ScreenLine, SpanRow, line_runs, line_text, store, to_row
from loopsy.terminal.modes import DEFAULT_DEC_MODES, DecMode
from loopsy.terminal.page import Page, SavedCursor
from loopsy.terminal.parser import Parser
from loopsy.terminal.plain import feed_plain
from loopsy.terminal.scrollback import Scrollback
from loopsy.terminal.snapshot import render_snapshot
from loopsy.terminal.style import DEFAULT, Style, erase_style

MAX_COLS = 2000
MAX_ROWS = 1000
# Input is decoded and parsed in slices of this size so one huge feed() never holds a
# second copy of itself as text (and the plain-text fast path splits bounded pieces).
_SLICE = 1 << 16
_PLAIN_BYTES = bytes(range(0x20, 0x7F)) + b"\r\n"


class Screen:
    """A VT/xterm screen of ``cols`` x ``rows`` cells with ``scrollback`` lines of history."""

    # State set by reset(); x stays on the last column while a wrap is pending.
    main: Page
    alt: Page
    page: Page
    x: int
    y: int
    wrap_pending: bool
    pen: Style
    title: str
    cursor_shape: int
    dec_modes: set[int]
    ansi_modes: set[int]
    autowrap: bool
    origin: bool
    insert: bool
    newline: bool
    g0: str
    g1: str
    shift: int
    tabstops: set[int]
    last_char: str

    def __init__(self, cols: int, rows: int, *, scrollback: int = 1000) -> None:
        _check_size(cols, rows)
        if scrollback < 0:
            raise ValueError("scrollback must be >= 0")
        self.cols = cols
        self.rows = rows
        self.history = Scrollback(scrollback)
        self.version = 0
        # surrogateescape keeps one code point per undecodable byte, so the bytes still
        # waiting in the parser can be counted exactly (see ``unapplied``).
        self._decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
        self._parser = Parser(self)
        self._dirty: set[int] = set()
        self._all_dirty = True
        self.reset()

    # -- state ----------------------------------------------------------------------------

    def reset(self) -> None:
        """RIS: everything back to power-on state, history included."""
        self.main = Page(self.cols, self.rows)
        self.alt = Page(self.cols, self.rows)
        self.page = self.main
        self.history.clear()
        self.x = 0
        self.y = 0
        self.wrap_pending = False
        self.pen = DEFAULT
        self.title = ""
        self.cursor_shape = 0
        self.dec_modes = set(DEFAULT_DEC_MODES)
        self.ansi_modes: set[int] = set()
        self.autowrap = True
        self.origin = False
        self.insert = False
        self.newline = False
        self.g0 = "B"
        self.g1 = "B"
        self.shift = 0
        self._table: dict[int, str] | None = None
        self.tabstops = set(range(8, self.cols, 8))
        self.last_char = ""
        self._all_dirty = True

    # -- public API -----------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Process program output (any bytes; split anywhere, even inside a character)."""
        decode = self._decoder.decode
        parser = self._parser
        if len(data) > _SLICE and not data.translate(None, _PLAIN_BYTES) and parser.idle and not (
            self._decoder.getstate()[0]
        ):
            # A flood of plain text in one piece: lines that scroll out of sight are skipped.
            feed_plain(self, data.decode("ascii"))
            self.version += 1
            return
        for start in range(0, len(data), _SLICE):
            piece = data[start:start + _SLICE]
            # Output of `cat` and friends: nothing but printable ASCII, CR and LF (checked
            # at C speed) goes straight to the plain-text path, past the tokenizer.
            if not piece.translate(None, _PLAIN_BYTES) and parser.idle and not (
                self._decoder.getstate()[0]
            ):
                feed_plain(self, piece.decode("ascii"))
                continue
            text = decode(piece)
            if text:
                parser.feed(text)
        self.version += 1

    @property
    def unapplied(self) -> int:
        """How many of the bytes fed so far are not reflected yet: the start of an escape
        sequence or of a UTF-8 character cut by the end of the data. A snapshot shows the
        stream up to (bytes fed - ``unapplied``); a client resumes the live stream from
        there."""
        buffered = len(self._decoder.getstate()[0])
        return buffered + len(self._parser.pending.encode("utf-8", "surrogateescape"))

    def resize(self, cols: int, rows: int) -> None:
        """Change the size. No reflow (as xterm): rows are cut or padded on the right;
        when the screen gets shorter, rows above the cursor go to the scrollback."""
        _check_size(cols, rows)
        if cols == self.cols and rows == self.rows:
            return
        if rows < self.rows:
            self._shrink_rows(self.main, rows, self.y if self.page is self.main else None)
            self._shrink_rows(self.alt, rows, self.y if self.page is self.alt else None)
        self.main.resize(cols, rows)
        self.alt.resize(cols, rows)
        if cols != self.cols:
            self.tabstops = {t for t in self.tabstops if t < cols} | set(
                range((self.cols // 8 + 1) * 8, cols, 8)
            )
        self.cols = cols
        self.rows = rows
        self.x = min(self.x, cols - 1)
        self.y = min(self.y, rows - 1)
        self.wrap_pending = False
        self._all_dirty = True
        self.version += 1

    def _shrink_rows(self, page: Page, rows: int, cursor_y: int | None) -> None:
        """Drop blank rows below the cursor first, then push rows off the top."""
        excess = page.rows - rows
        lines, wrapped = page.lines, page.wrapped
        keep_below = cursor_y if cursor_y is not None else -1
        while excess > 0 and len(lines) - 1 > keep_below and _is_blank(lines[-1]):
            lines.pop()
            wrapped.pop()
            excess -= 1
        if excess <= 0:
            wrapped.extend(bytes(rows - len(lines)))
            lines.extend([""] * (rows - len(lines)))
            return
        removed = lines[:excess]
        del lines[:excess]
        if page is self.main:
            self.history.extend([store(line) for line in removed], wrapped[:excess])
        del wrapped[:excess]
        if cursor_y is not None:
            self.y = max(0, self.y - excess)
        if page.saved is not None:
            page.saved = page.saved._replace(y=max(0, page.saved.y - excess))

    @property
    def cursor(self) -> tuple[int, int]:
        """(x, y), zero-based; x stays on the last column while a wrap is pending."""
        return (self.x, self.y)

    @property
    def alternate(self) -> bool:
        """True while the alternate screen (vim, less, htop, ...) is shown."""
        return self.page is self.alt

    @property
    def cursor_visible(self) -> bool:
        return DecMode.CURSOR_VISIBLE in self.dec_modes

    def display(self) -> list[str]:
        """The visible rows as text: each row's cells, a wide character once."""
        cols = self.cols
        return [line_text(to_row(line, cols)) for line in self.page.lines]

    def row_runs(self, y: int) -> list[tuple[str, Style]]:
        """Visible row ``y`` as (text, style) runs covering every cell."""
        return line_runs(self.page.lines[y], self.cols)

    @property
    def scrollback_size(self) -> int:
        return len(self.history)

    def scrollback_runs(self, index: int) -> list[tuple[str, Style]]:
        """Scrollback line ``index`` (0 the oldest) as (text, style) runs."""
        return line_runs(self.history[index], self.cols)

    def scrollback_text(self, index: int) -> str:
        return line_text(self.history[index]).rstrip(" ")

    def scrollback_wrapped(self, index: int) -> bool:
        """True when scrollback line ``index`` (0 the oldest) continues the line before it
        (the text auto-wrapped at the right margin): copy and selection join the two."""
        return self.history.wrapped(index)

    def row_wrapped(self, y: int) -> bool:
        """True when visible row ``y`` continues the row above it (for row 0: the newest
        scrollback line)."""
        return self.continues(self.page, y)

    def continues(self, page: Page, y: int) -> bool:
        """Row ``y`` of ``page`` continues a line before it that is still kept. (A flag
        whose line above is gone, dropped from the scrollback or never kept on the
        alternate screen, joins nothing, and no snapshot could rebuild it.)"""
        if not page.wrapped[y]:
            return False
        return y > 0 or (page is self.main and len(self.history) > 0)

    def pop_dirty(self) -> set[int]:
        """Visible rows changed since the last call (all of them after a scroll, resize
        or screen switch); the TUI repaints just these."""
        if self._all_dirty:
            dirty = set(range(self.rows))
        else:
            dirty = {y for y in self._dirty if y < self.rows}
        self._dirty = set()
        self._all_dirty = False
        return dirty

    def snapshot(self, *, scrollback: int | None = None) -> bytes:
        """VT bytes that rebuild this screen in a fresh terminal of the same size."""
        return render_snapshot(self, scrollback)

    # -- printing (the hot path: loopsy.terminal.printing) ---------------------------------

    print_text = printing.print_text
    print_narrow = printing.print_narrow
    styled = printing.styled

    # -- parser callbacks (the meanings live in loopsy.terminal.controls) -----------------

    # Plain functions of the screen bound as methods: one call per sequence, not two.
    control = controls.control
    esc = controls.esc
    csi = controls.csi
    osc = controls.osc

    def plain(self, text: str) -> None:
        """Printable text with CR and LF only (the parser hands over long runs)."""
        feed_plain(self, text)

    # -- scrolling and line feeds ---------------------------------------------------------

    def linefeed(self) -> None:
        """LF: down a row (scrolling at the bottom margin); a row moved onto is a new line,
        so it loses its wrap flag (xterm.js does the same)."""
        page = self.page
        y = self.y
        if y == page.bottom:
            self._scroll_one(page)
        elif y < self.rows - 1:
            self.y = y + 1
            page.wrapped[y + 1] = 0
        self.wrap_pending = False

    def index(self) -> None:
        """IND (ESC D) and NEL: as LF, but a row moved onto keeps its wrap flag."""
        page = self.page
        y = self.y
        if y == page.bottom:
            self._scroll_one(page)
        elif y < self.rows - 1:
            self.y = y + 1
        self.wrap_pending = False

    def wrap(self) -> None:
        """Auto-wrap: to column 0 of the next row (scrolling at the bottom margin), which
        now continues this one. Below the margin on the last row the cursor stays and the
        row gets the flag anyway, as xterm.js does."""
        page = self.page
        y = self.y
        if y == page.bottom:
            self._scroll_one(page)
        elif y < self.rows - 1:
            y = self.y = y + 1
        page.wrapped[y] = 1
        self.x = 0
        self.wrap_pending = False

    def _scroll_one(self, page: Page) -> None:
        """Scroll the margins up a row; off the top of the main screen it goes to the
        scrollback with its wrap flag."""
        top = page.top
        wrapped = page.wrapped[top]
        removed = page.scroll_up(top, page.bottom, 1, erase_style(self.pen))
        if top == 0 and page is self.main:
            self.history.push(store(removed[0]), bool(wrapped))
        self._all_dirty = True

    def crlf(self) -> None:
        self.x = 0
        self.linefeed()

    def reverse_index(self) -> None:
        page = self.page
        if self.y == page.top:
            page.scroll_down(page.top, page.bottom, 1, erase_style(self.pen))
            self._all_dirty = True
        elif self.y > 0:
            self.y -= 1
        self.wrap_pending = False

    # -- modes and charsets ---------------------------------------------------------------

    def sync_modes(self) -> None:
        """Refresh the hot-path flags from the mode sets."""
        self.autowrap = DecMode.AUTOWRAP in self.dec_modes
        self.origin = DecMode.ORIGIN in self.dec_modes
        self.insert = 4 in self.ansi_modes
        self.newline = 20 in self.ansi_modes
        if not self.autowrap:
            self.wrap_pending = False

    def sync_charset(self) -> None:
        self._table = charset_table(self.g1 if self.shift else self.g0)

    def save_cursor(self) -> None:
        self.page.saved = SavedCursor(
            self.x, self.y, self.pen, self.g0, self.g1, self.shift, self.origin
        )

    def restore_cursor(self) -> None:
        saved = self.page.saved or SavedCursor()
        self.x = min(saved.x, self.cols - 1)
        self.y = min(saved.y, self.rows - 1)
        self.pen = saved.pen
        self.g0, self.g1, self.shift = saved.g0, saved.g1, saved.shift
        if saved.origin:
            self.dec_modes.add(DecMode.ORIGIN)
        else:
            self.dec_modes.discard(DecMode.ORIGIN)
        self.sync_modes()
        self.sync_charset()
        self.wrap_pending = False

    def switch_screen(self, alternate: bool) -> None:
        """Show the alternate screen (cleared, as xterm.js does) or the main one."""
        if alternate == (self.page is self.alt):
            return
        if alternate:
            # A fresh alternate screen each time (cleared as xterm.js does; its margins and
            # saved cursor too, so no state hides in an inactive buffer that a snapshot
            # could not carry).
            self.alt.clear(erase_style(self.pen))
            self.alt.top, self.alt.bottom = 0, self.rows - 1
            self.alt.saved = None
            self.page = self.alt
        else:
            self.page = self.main
        self.wrap_pending = False
        self._all_dirty = True

    def mark_all_dirty(self) -> None:
        self._all_dirty = True

    def mark_dirty(self, y: int) -> None:
        self._dirty.add(y)


def _check_size(cols: int, rows: int) -> None:
    if not (1 <= cols <= MAX_COLS and 1 <= rows <= MAX_ROWS):
        raise ValueError(f"screen size must be 1..{MAX_COLS} x 1..{MAX_ROWS}")


def _is_blank(line: ScreenLine) -> bool:
    if line.__class__ is str:
        return not str(line).strip(" ")
    if isinstance(line, SpanRow):
        return not line.text.strip(" ") and all(style == DEFAULT for style, _ in line.spans)
    assert isinstance(line, Row)
    return line.chars.count(" ") == len(line.chars) and line.styles.count(DEFAULT) == len(
        line.styles
    )
