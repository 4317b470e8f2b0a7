"""A live PTY pane: paints a :class:`PaneTerminal` and turns keys, pastes and the mouse into
the bytes a terminal would send.

Attributes down: the sessions panel owns the attach worker, feeds the pane's terminal and
calls :meth:`TerminalPane.repaint`. Messages up: :class:`TerminalPane.Input` (bytes to
type), :class:`TerminalPane.Resized` (the pane's new size), :class:`TerminalPane.Leave`.
Only dirty rows are repainted; strips are cached per row.
"""

from __future__ import annotations

import time

from rich.cells import cell_len
from rich.color import Color as RichColor
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual import events
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.strip import Strip
from textual.timer import Timer
from textual.widget import Widget

from loopsy.terminal import Style
from loopsy.tui import keys
from loopsy.tui.pane_terminal import PaneTerminal

_CURSOR_STYLE = RichStyle(reverse=True)
# While output pours in, the pane repaints at most this often: the compositor's time goes
# back to taking in output (a lone key echo is still painted at once).
FRAME = 1 / 30


def rich_style(style: Style) -> RichStyle:
    """A cell style as Rich draws it (default colours left to the widget's own)."""
    return RichStyle(
        color=_color(style.fg),
        bgcolor=_color(style.bg),
        bold=style.bold or None,
        dim=style.dim or None,
        italic=style.italic or None,
        underline=style.underline or None,
        reverse=style.reverse or None,
        conceal=style.hidden or None,
        strike=style.strike or None,
    )


def _color(color: int | tuple[int, int, int] | None) -> RichColor | None:
    if color is None:
        return None
    if isinstance(color, tuple):
        return RichColor.from_rgb(*color)
    return RichColor.from_ansi(color)


class TerminalPane(Widget, can_focus=True):
    """One session's screen. Focus it to type; Ctrl+] goes back to the session list."""

    DEFAULT_CSS = """
    TerminalPane {
        border: round $panel-lighten-2;
        border-title-color: $text-muted;
        border-subtitle-color: $text-muted;
        background: $background;
        min-width: 20;
    }
    TerminalPane:focus {
        border: round $accent;
        border-title-color: $text;
    }
    """

    BINDINGS = [
        Binding("ctrl+right_square_bracket", "leave", "Leave pane", key_display="^]"),
        Binding("shift+pageup", "scroll_back", "Scroll back", key_display="⇧PgUp"),
        Binding("shift+pagedown", "scroll_forward", "Scroll fwd", key_display="⇧PgDn"),
    ]
    # Keys that stay with Textual while the pane has focus: the bindings above.
    _OWN_KEYS = frozenset({"ctrl+right_square_bracket", "shift+pageup", "shift+pagedown"})

    class Input(Message):
        """Bytes to type into the session."""

        def __init__(self, pane: TerminalPane, data: bytes) -> None:
            super().__init__()
            self.pane = pane
            self.data = data

    class Resized(Message):
        """The pane's cells changed size: the session should follow."""

        def __init__(self, pane: TerminalPane, cols: int, rows: int) -> None:
            super().__init__()
            self.pane = pane
            self.cols = cols
            self.rows = rows

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, TerminalPane.Resized) and message.pane is self.pane

    class Leave(Message):
        """The user left the pane (Ctrl+])."""

        def __init__(self, pane: TerminalPane) -> None:
            super().__init__()
            self.pane = pane

    def __init__(self, terminal: PaneTerminal, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.terminal = terminal
        self._strips: dict[int, Strip] = {}
        self._styles: dict[Style, RichStyle] = {}
        self._cursor: tuple[int, int] | None = None
        self._base: RichStyle | None = None  # the widget's own style (costly to compute)
        self._painted_at = 0.0
        self._paint_timer: Timer | None = None
        self._buttons = 0
        self._titles: tuple[str, str] | None = None
        self.update_titles()

    # -- painting ---------------------------------------------------------------------------

    def update_titles(self) -> None:
        """Name on the border, state (size, scrolled back, exit, error) under it. Set only
        when they change: setting a border title refreshes the whole pane."""
        term = self.terminal
        if term.error is not None:
            state = f"error: {term.error}"
        elif term.reconnecting:
            state = "reconnecting…"
        elif term.exit is not None:
            state = _exit_text(term.exit)
        elif term.scroll:
            state = f"scrolled back {term.scroll}"
        else:
            state = f"{term.cols}×{term.rows}"
        if (term.name, state) == self._titles:
            return
        self._titles = (term.name, state)
        self.border_title = term.name
        self.border_subtitle = state

    def request_repaint(self) -> None:
        """Repaint soon: at once, or at the next frame when one was painted just now."""
        if self._paint_timer is not None:
            return
        wait = self._painted_at + FRAME - time.monotonic()
        if wait <= 0:
            self.repaint()
        else:
            self._paint_timer = self.set_timer(wait, self._timed_repaint)

    def _timed_repaint(self) -> None:
        self._paint_timer = None
        self.repaint()

    def repaint(self) -> None:
        """Repaint what changed in the terminal since the last call."""
        self._painted_at = time.monotonic()
        term = self.terminal
        dirty = term.take_dirty()
        cursor = term.cursor_cell() if self.has_focus else None
        if cursor != self._cursor:
            for cell in (self._cursor, cursor):
                if cell is not None:
                    dirty.add(cell[1])
            self._cursor = cursor
        self.update_titles()  # an exit or a lost stream changes no row
        if not dirty:
            return
        width = self.size.width
        if len(dirty) * 2 >= term.rows:
            self._strips.clear()
            self.refresh()
        else:
            for y in dirty:
                self._strips.pop(y, None)
            self.refresh(*(Region(0, y, width, 1) for y in dirty))

    def render_line(self, y: int) -> Strip:
        term = self.terminal
        width = self.size.width
        base = self._base
        if base is None:
            base = self._base = self.rich_style
        if y >= term.rows:
            return Strip.blank(width, base)
        strip = self._strips.get(y)
        if strip is None:
            strip = self._render_row(y, base)
            self._strips[y] = strip
        return strip.adjust_cell_length(width, base)

    def _render_row(self, y: int, base: RichStyle) -> Strip:
        styles = self._styles
        cursor = self._cursor
        segments: list[Segment] = []
        x = 0
        for text, style in self.terminal.line(y):
            rich = styles.get(style)
            if rich is None:
                rich = base + rich_style(style)
                styles[style] = rich
            cells = len(text) if text.isascii() else cell_len(text)
            if cursor is not None and cursor[1] == y and x <= cursor[0] < x + cells:
                before, at, after = _split_cell(text, cursor[0] - x)
                if before:
                    segments.append(Segment(before, rich))
                segments.append(Segment(at, rich + _CURSOR_STYLE))
                if after:
                    segments.append(Segment(after, rich))
            else:
                segments.append(Segment(text, rich))
            x += cells
        return Strip(segments)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._base = None
        self._styles.clear()
        self._strips.clear()

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return self.terminal.cols

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self.terminal.rows

    # -- size -------------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        cols, rows = self.content_size.width, self.content_size.height
        if cols > 0 and rows > 0:
            self._strips.clear()
            self.post_message(self.Resized(self, cols, rows))

    def on_focus(self) -> None:
        self.repaint()

    def on_blur(self) -> None:
        self.repaint()

    # -- input ------------------------------------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        if event.key in self._OWN_KEYS:
            return  # a binding of this pane
        event.stop()
        event.prevent_default()
        if event.character == keys.LEAVE_CHARACTER:
            self.action_leave()
            return
        data = keys.encode_key(event.key, event.character, self.terminal.dec_modes)
        if data:
            self._type(data)

    def on_paste(self, event: events.Paste) -> None:
        event.stop()
        data = keys.encode_paste(event.text, self.terminal.dec_modes)
        if data:
            self._type(data)

    def _type(self, data: bytes) -> None:
        if self.terminal.scroll_to_live():
            self.repaint()
        self.post_message(self.Input(self, data))

    def action_leave(self) -> None:
        self.post_message(self.Leave(self))

    def action_scroll_back(self) -> None:
        if self.terminal.scroll_by(max(1, self.terminal.rows - 1)):
            self.repaint()

    def action_scroll_forward(self) -> None:
        if self.terminal.scroll_by(-max(1, self.terminal.rows - 1)):
            self.repaint()

    # -- the mouse: the program's when it tracks it, else scrollback ------------------------

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        if not self._report(keys.WHEEL_UP, event, press=True) and self.terminal.scroll_by(3):
            self.repaint()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        if not self._report(keys.WHEEL_DOWN, event, press=True) and self.terminal.scroll_by(-3):
            self.repaint()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self.focus()
        self._buttons = _button(event.button)
        self._report(self._buttons, event, press=True)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        self._report(_button(event.button), event, press=False)
        self._buttons = keys.RELEASE

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if keys.mouse_tracking(self.terminal.dec_modes) is not None:
            held = self._buttons if event.button else keys.RELEASE
            self._report(held, event, press=True, motion=True)

    def _report(
        self, button: int, event: events.MouseEvent, *, press: bool, motion: bool = False
    ) -> bool:
        modes = self.terminal.dec_modes
        if keys.mouse_tracking(modes) is None:
            return False
        offset = event.get_content_offset(self)
        if offset is None:
            return True
        data = keys.encode_mouse(
            button,
            offset.x,
            offset.y,
            modes,
            press=press,
            motion=motion,
            shift=event.shift,
            alt=event.meta,
            ctrl=event.ctrl,
        )
        if data:
            self.post_message(self.Input(self, data))
        return True


def _split_cell(text: str, cell: int) -> tuple[str, str, str]:
    """``text`` split around the character covering cell ``cell``."""
    if text.isascii():
        return text[:cell], text[cell], text[cell + 1:]
    x = 0
    for i, ch in enumerate(text):
        width = cell_len(ch)
        if x + width > cell:
            return text[:i], ch, text[i + 1:]
        x += width
    return text, " ", ""


def _button(number: int) -> int:
    return {1: keys.LEFT, 2: keys.MIDDLE, 3: keys.RIGHT}.get(number, keys.LEFT)


def _exit_text(exit: object) -> str:
    from loopsy.protocol.stream import EXITED, SIGNALLED, Exit

    assert isinstance(exit, Exit)
    if exit.kind == EXITED:
        return f"exited {exit.value}"
    if exit.kind == SIGNALLED:
        return f"killed by signal {exit.value}"
    return "lost"
