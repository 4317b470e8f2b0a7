"""One attached session's terminal state, without Textual: the emulator, the stream's
offsets, the scrollback view, and which rows need painting.

The attach worker feeds frames in with :meth:`PaneTerminal.apply`; the pane widget reads
rows with :meth:`PaneTerminal.line` and repaints the rows :meth:`take_dirty` names. Pure:
no I/O, no clocks, no Textual.
"""

from __future__ import annotations

from loopsy.protocol import stream
from loopsy.terminal import Screen, Style

SCROLLBACK = 5000


class PaneTerminal:
    def __init__(self, session_id: str, name: str, cols: int, rows: int) -> None:
        self.session_id = session_id
        self.name = name
        self.screen = Screen(max(1, cols), max(1, rows), scrollback=SCROLLBACK)
        self.offset: int | None = None  # every output byte before it has been fed
        self.exit: stream.Exit | None = None
        self.error: str | None = None
        self.reconnecting = False  # the stream dropped; the pane attaches again on its own
        self.scroll = 0  # lines scrolled back into the history (0: the live screen)
        self._view_moved = True

    @property
    def cols(self) -> int:
        return self.screen.cols

    @property
    def rows(self) -> int:
        return self.screen.rows

    @property
    def dec_modes(self) -> set[int]:
        return self.screen.dec_modes

    # -- the stream -------------------------------------------------------------------------

    def apply(self, frame: stream.Frame) -> bool:
        """Take one frame from the session stream; True when what is shown changed."""
        if isinstance(frame, stream.Output):
            history = self.screen.scrollback_size
            self.screen.feed(frame.data)
            self.offset = frame.offset + len(frame.data)
            if self.scroll:
                # Keep a view into the history still while the program writes on.
                grown = self.screen.scrollback_size - history
                self.scroll = min(self.scroll + grown, self.screen.scrollback_size)
            return True
        if isinstance(frame, stream.Snapshot):
            self.screen = Screen(frame.cols, frame.rows, scrollback=SCROLLBACK)
            self.screen.feed(frame.data)
            self.offset = frame.offset
            self.scroll = 0
            self._view_moved = True
            return True
        if isinstance(frame, stream.Attached | stream.Resized):
            if (frame.cols, frame.rows) != (self.cols, self.rows):
                self.screen.resize(frame.cols, frame.rows)
                return True
            return False
        if isinstance(frame, stream.Exit):
            self.exit = frame
            return True
        if isinstance(frame, stream.Error):
            self.error = frame.message
            return True
        return False

    def resize(self, cols: int, rows: int) -> bool:
        """Follow the pane's size at once (the program repaints when the resize reaches it)."""
        cols, rows = max(1, cols), max(1, rows)
        if (cols, rows) == (self.cols, self.rows):
            return False
        self.screen.resize(cols, rows)
        self.scroll = min(self.scroll, self.screen.scrollback_size)
        return True

    # -- the view ---------------------------------------------------------------------------

    def scroll_by(self, lines: int) -> bool:
        """Scroll back (positive) or forward; True when the view moved."""
        target = max(0, min(self.scroll + lines, self.screen.scrollback_size))
        if target == self.scroll:
            return False
        self.scroll = target
        self._view_moved = True
        return True

    def scroll_to_live(self) -> bool:
        return self.scroll_by(-self.scroll)

    def line(self, y: int) -> list[tuple[str, Style]]:
        """Row ``y`` of the view as (text, style) runs covering every column."""
        screen = self.screen
        if not self.scroll:
            return screen.row_runs(y)
        index = screen.scrollback_size - self.scroll + y
        if index < screen.scrollback_size:
            return screen.scrollback_runs(index)
        return screen.row_runs(index - screen.scrollback_size)

    def cursor_cell(self) -> tuple[int, int] | None:
        """Where to draw the cursor in the view, if it shows."""
        if self.scroll or not self.screen.cursor_visible or self.exit is not None:
            return None
        return self.screen.cursor

    def take_dirty(self) -> set[int]:
        """Rows of the view to repaint since the last call."""
        dirty = self.screen.pop_dirty()
        if self._view_moved or self.scroll:
            self._view_moved = False
            return set(range(self.rows))
        return dirty

    def text(self) -> list[str]:
        """The live screen as text (what a test or a reader compares)."""
        return self.screen.display()
