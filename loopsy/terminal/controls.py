"""What the C0 controls, ESC and CSI sequences and OSC strings do to a screen.

The state lives in :class:`~loopsy.terminal.screen.Screen`; the meaning of each sequence is
here, as functions of the screen, dispatched through a table keyed by the final byte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from loopsy.terminal.charsets import KNOWN
from loopsy.terminal.modes import DecMode, set_dec_mode
from loopsy.terminal.style import DEFAULT, apply_sgr, erase_style

if TYPE_CHECKING:
    from loopsy.terminal.screen import Screen

_TITLE_LIMIT = 1024


def _ints(params: str) -> list[int]:
    """CSI parameters as numbers (empty ones 0), clamped so no count can be absurd."""
    values = []
    for word in params.split(";"):
        if ":" in word:
            word = word.split(":", 1)[0]
        if word.isdigit():
            values.append(int(word) if len(word) < 6 else 65535)
        else:
            values.append(0)
    return values


def _first(params: str, default: int = 1) -> int:
    if not params:
        return default
    value = _ints(params)[0]
    return value if value else default



# -- C0 controls --------------------------------------------------------------------

def control(screen: Screen, char: str) -> None:
    if char == "\r":
        carriage_return(screen)
    elif char in "\n\x0b\x0c":
        linefeed_control(screen)
    elif char == "\x08":
        backspace(screen)
    elif char == "\t":
        tab(screen, 1)
    elif char == "\x0e":
        screen.shift = 1
        screen.sync_charset()
    elif char == "\x0f":
        screen.shift = 0
        screen.sync_charset()

def carriage_return(screen: Screen) -> None:
    screen.x = 0
    screen.wrap_pending = False

def linefeed_control(screen: Screen) -> None:
    if screen.newline:
        screen.x = 0
    screen.linefeed()

def backspace(screen: Screen) -> None:
    screen.wrap_pending = False
    if screen.x > 0:
        screen.x -= 1

def tab(screen: Screen, count: int) -> None:
    screen.wrap_pending = False
    x = screen.x
    for _ in range(min(count, screen.cols)):
        x = min((t for t in screen.tabstops if t > x), default=screen.cols - 1)
    screen.x = min(x, screen.cols - 1)

def back_tab(screen: Screen, count: int) -> None:
    screen.wrap_pending = False
    x = screen.x
    for _ in range(min(count, screen.cols)):
        x = max((t for t in screen.tabstops if t < x), default=0)
    screen.x = x

# -- ESC sequences --------------------------------------------------------------------

def esc(screen: Screen, intermediates: str, final: str) -> None:
    if intermediates:
        if intermediates == "#" and final == "8":
            align_test(screen)
        elif intermediates in "()":
            charset = final if final in KNOWN else "B"
            if intermediates == "(":
                screen.g0 = charset
            else:
                screen.g1 = charset
            screen.sync_charset()
        return
    if final == "7":
        screen.save_cursor()
    elif final == "8":
        screen.restore_cursor()
    elif final == "D":
        screen.index()
    elif final == "E":
        screen.x = 0
        screen.index()
    elif final == "M":
        screen.reverse_index()
    elif final == "H":
        screen.tabstops.add(screen.x)
    elif final == "c":
        screen.reset()
        screen._parser.reset()
    elif final == "=":
        screen.dec_modes.add(DecMode.APP_KEYPAD)
    elif final == ">":
        screen.dec_modes.discard(DecMode.APP_KEYPAD)

def align_test(screen: Screen) -> None:
    """DECALN: fill the screen with E, reset the margins, cursor home."""
    page = screen.page
    page.lines[:] = ["E" * screen.cols for _ in range(screen.rows)]
    page.wrapped[:] = bytes(screen.rows)
    page.top, page.bottom = 0, screen.rows - 1
    screen.x = screen.y = 0
    screen.wrap_pending = False
    screen.mark_all_dirty()

# -- OSC ------------------------------------------------------------------------------

def osc(screen: Screen, body: str) -> None:
    command, _, value = body.partition(";")
    if command in ("0", "2"):
        printable = "".join(ch for ch in value[:_TITLE_LIMIT] if ch.isprintable())
        screen.title = printable

# -- CSI ------------------------------------------------------------------------------

def csi(screen: Screen, params: str, intermediates: str, final: str) -> None:
    if intermediates:
        if intermediates == " " and final == "q":
            screen.cursor_shape = min(_first(params, 0), 6)
        elif intermediates == "!" and final == "p":
            soft_reset(screen)
        return
    if params and params[0] in "<=>?":
        if params[0] == "?":
            if final == "h" or final == "l":
                set_private_modes(screen, params[1:], final == "h")
            elif final == "J" or final == "K":
                _CSI[final](screen, params[1:])
        return
    if final == "m":
        screen.pen = apply_sgr(screen.pen, params)
        return
    handler = _CSI.get(final)
    if handler is not None:
        handler(screen, params)

def set_private_modes(screen: Screen, params: str, on: bool) -> None:
    for number in _ints(params):
        if number in (47, 1047, 1049):
            if number == 1049 and on:
                screen.save_cursor()
            screen.switch_screen(on)
            if number == 1049 and not on:
                screen.restore_cursor()
        elif number == 1048:
            if on:
                screen.save_cursor()
            else:
                screen.restore_cursor()
        else:
            set_dec_mode(screen.dec_modes, number, on)
            if number == DecMode.ORIGIN:
                screen.sync_modes()
                move_to(screen, 0, 0)
            elif number == DecMode.AUTOWRAP:
                screen.sync_modes()

def set_ansi_modes(screen: Screen, params: str, on: bool) -> None:
    for number in _ints(params):
        if number in (4, 20):
            if on:
                screen.ansi_modes.add(number)
            else:
                screen.ansi_modes.discard(number)
    screen.sync_modes()

def soft_reset(screen: Screen) -> None:
    """DECSTR: modes, pen, margins, charsets and saved cursor back to defaults."""
    for mode in (DecMode.APP_CURSOR_KEYS, DecMode.ORIGIN, DecMode.APP_KEYPAD):
        screen.dec_modes.discard(mode)
    screen.dec_modes.update((DecMode.AUTOWRAP, DecMode.CURSOR_VISIBLE))
    screen.ansi_modes.clear()
    screen.sync_modes()
    screen.pen = DEFAULT
    screen.page.top, screen.page.bottom = 0, screen.rows - 1
    screen.g0 = screen.g1 = "B"
    screen.shift = 0
    screen.sync_charset()
    screen.page.saved = None

# -- cursor movement ------------------------------------------------------------------

def move_to(screen: Screen, x: int, y: int) -> None:
    """CUP semantics: ``y`` is relative to the scroll region in origin mode."""
    page = screen.page
    if screen.origin:
        screen.y = min(max(page.top + y, page.top), page.bottom)
    else:
        screen.y = min(max(y, 0), screen.rows - 1)
    screen.x = min(max(x, 0), screen.cols - 1)
    screen.wrap_pending = False

def move_rows(screen: Screen, delta: int) -> None:
    """CUU/CUD: stop at the margin when starting inside the region."""
    page = screen.page
    y = screen.y + delta
    if delta < 0:
        y = max(y, page.top if screen.y >= page.top else 0)
    else:
        y = min(y, page.bottom if screen.y <= page.bottom else screen.rows - 1)
    screen.y = y
    screen.wrap_pending = False

def set_region(screen: Screen, params: str) -> None:
    values = _ints(params) if params else []
    top = (values[0] if values and values[0] else 1) - 1
    bottom = (values[1] if len(values) > 1 and values[1] else screen.rows) - 1
    bottom = min(bottom, screen.rows - 1)
    if top < bottom:
        screen.page.top, screen.page.bottom = top, bottom
        move_to(screen, 0, 0)

def _at_line_start(screen: Screen) -> bool:
    # A pending wrap is one past the last column for xterm.js, never column 0.
    return screen.x == 0 and not screen.wrap_pending

def erase_display(screen: Screen, params: str) -> None:
    """ED. Wrap flags go as xterm.js drops them: with every row erased whole, and with the
    cursor row when the erase starts at its column 0 (mode 0) or ends on it (mode 1)."""
    mode = _first(params, 0)
    style = erase_style(screen.pen)
    page = screen.page
    y = screen.y
    if mode == 0:
        page.erase(y, screen.x, screen.cols, style)
        if _at_line_start(screen):
            page.wrapped[y] = 0
        for below in range(y + 1, screen.rows):
            page.erase(below, 0, screen.cols, style)
            page.wrapped[below] = 0
    elif mode == 1:
        for above in range(y):
            page.erase(above, 0, screen.cols, style)
            page.wrapped[above] = 0
        page.erase(y, 0, screen.x + 1, style)
        page.wrapped[y] = 0
        if screen.x + 1 >= screen.cols and y + 1 < screen.rows:
            # The whole row is gone, so the next one continues nothing. (xterm.js means the
            # same but indexes the row from the top of its scrollback.)
            page.wrapped[y + 1] = 0
    elif mode == 2:
        page.clear(style)
    elif mode == 3:
        screen.history.clear()
    screen.mark_all_dirty()

def erase_line(screen: Screen, params: str) -> None:
    mode = _first(params, 0)
    style = erase_style(screen.pen)
    y = screen.y
    if mode == 0:
        screen.page.erase(y, screen.x, screen.cols, style)
        if _at_line_start(screen):
            screen.page.wrapped[y] = 0
    elif mode == 1:
        screen.page.erase(y, 0, screen.x + 1, style)
    elif mode == 2:
        screen.page.erase(y, 0, screen.cols, style)
        screen.page.wrapped[y] = 0
    screen.mark_dirty(y)

def edit_lines(screen: Screen, count: int, insert: bool) -> None:
    """IL/DL: only inside the scroll region; the cursor goes to column 0."""
    page = screen.page
    if not page.top <= screen.y <= page.bottom:
        return
    style = erase_style(screen.pen)
    if insert:
        page.scroll_down(screen.y, page.bottom, count, style)
    else:
        page.scroll_up(screen.y, page.bottom, count, style)
    screen.x = 0
    screen.wrap_pending = False
    screen.mark_all_dirty()

def scroll(screen: Screen, count: int, up: bool) -> None:
    """SU/SD: the region moves; nothing goes to the scrollback (as xterm.js)."""
    page = screen.page
    style = erase_style(screen.pen)
    if up:
        page.scroll_up(page.top, page.bottom, count, style)
    else:
        page.scroll_down(page.top, page.bottom, count, style)
    screen.mark_all_dirty()

def repeat(screen: Screen, count: int) -> None:
    if screen.last_char:
        screen.print_text(screen.last_char * min(count, screen.cols * screen.rows))

def edit_chars(screen: Screen, params: str, final: str) -> None:
    count = _first(params)
    style = erase_style(screen.pen)
    if final == "@":
        screen.page.insert_chars(screen.y, screen.x, count, style)
    elif final == "P":
        screen.page.delete_chars(screen.y, screen.x, count, style)
    else:
        screen.page.erase(screen.y, screen.x, screen.x + count, style)
    screen.wrap_pending = False
    screen.mark_dirty(screen.y)

def clear_tabs(screen: Screen, params: str) -> None:
    mode = _first(params, 0)
    if mode == 0:
        screen.tabstops.discard(screen.x)
    elif mode == 3:
        screen.tabstops.clear()


def _cup(screen: Screen, params: str) -> None:
    if not params:
        move_to(screen, 0, 0)
        return
    values = _ints(params)
    row = values[0] or 1
    col = (values[1] if len(values) > 1 else 0) or 1
    move_to(screen, col - 1, row - 1)


def _column(screen: Screen, x: int) -> None:
    screen.x = min(max(x, 0), screen.cols - 1)
    screen.wrap_pending = False


def _row(screen: Screen, y: int) -> None:
    """Move to absolute row ``y`` (clamped as CUP clamps)."""
    move_to(screen, screen.x, y - (screen.page.top if screen.origin else 0))


def _next_line(screen: Screen, delta: int) -> None:
    move_rows(screen, delta)
    _column(screen, 0)


_CSI: dict[str, Callable[[Screen, str], None]] = {
    "@": lambda s, p: edit_chars(s, p, "@"),
    "A": lambda s, p: move_rows(s, -_first(p)),
    "B": lambda s, p: move_rows(s, _first(p)),
    "C": lambda s, p: _column(s, s.x + _first(p)),
    "D": lambda s, p: _column(s, s.x - _first(p)),
    "E": lambda s, p: _next_line(s, _first(p)),
    "F": lambda s, p: _next_line(s, -_first(p)),
    "G": lambda s, p: _column(s, _first(p) - 1),
    "H": _cup,
    "I": lambda s, p: tab(s, _first(p)),
    "J": lambda s, p: erase_display(s, p),
    "K": lambda s, p: erase_line(s, p),
    "L": lambda s, p: edit_lines(s, _first(p), True),
    "M": lambda s, p: edit_lines(s, _first(p), False),
    "P": lambda s, p: edit_chars(s, p, "P"),
    "S": lambda s, p: scroll(s, _first(p), True),
    "T": lambda s, p: scroll(s, _first(p), False),
    "X": lambda s, p: edit_chars(s, p, "X"),
    "Z": lambda s, p: back_tab(s, _first(p)),
    "`": lambda s, p: _column(s, _first(p) - 1),
    "a": lambda s, p: _column(s, s.x + _first(p)),
    "b": lambda s, p: repeat(s, _first(p)),
    "d": lambda s, p: move_to(s, s.x, _first(p) - 1),
    "e": lambda s, p: _row(s, s.y + _first(p)),
    "f": _cup,
    "g": lambda s, p: clear_tabs(s, p),
    "h": lambda s, p: set_ansi_modes(s, p, True),
    "l": lambda s, p: set_ansi_modes(s, p, False),
    "r": lambda s, p: set_region(s, p),
    "s": lambda s, p: s.save_cursor(),
    "u": lambda s, p: s.restore_cursor(),
}
