"""Terminal modes that a snapshot must carry to a fresh terminal.

Only the modes that change what the screen shows or what the keyboard and mouse send are
kept; the rest (cursor blink, synchronized output, ...) do not survive a reattach in any
terminal either.
"""

from __future__ import annotations

from enum import IntEnum


class DecMode(IntEnum):
    """DEC private modes (``CSI ? n h``) tracked as flags."""

    APP_CURSOR_KEYS = 1
    REVERSE_VIDEO = 5
    ORIGIN = 6
    AUTOWRAP = 7
    MOUSE_X10 = 9
    CURSOR_VISIBLE = 25
    APP_KEYPAD = 66
    MOUSE_VT200 = 1000
    MOUSE_DRAG = 1002
    MOUSE_ANY = 1003
    FOCUS_EVENTS = 1004
    MOUSE_UTF8 = 1005
    MOUSE_SGR = 1006
    MOUSE_URXVT = 1015
    BRACKETED_PASTE = 2004


class AnsiMode(IntEnum):
    """ANSI modes (``CSI n h``)."""

    INSERT = 4
    NEWLINE = 20


#: Setting one mouse tracking mode replaces the others, as in xterm and xterm.js.
MOUSE_TRACKING = frozenset(
    {DecMode.MOUSE_X10, DecMode.MOUSE_VT200, DecMode.MOUSE_DRAG, DecMode.MOUSE_ANY}
)
MOUSE_ENCODING = frozenset({DecMode.MOUSE_UTF8, DecMode.MOUSE_SGR, DecMode.MOUSE_URXVT})

#: Modes on in a freshly reset terminal.
DEFAULT_DEC_MODES = frozenset({DecMode.AUTOWRAP, DecMode.CURSOR_VISIBLE})

_KNOWN = frozenset(int(mode) for mode in DecMode)


def set_dec_mode(modes: set[int], number: int, on: bool) -> None:
    """Apply ``CSI ? number h/l`` to ``modes`` (unknown numbers are ignored)."""
    if number not in _KNOWN:
        return
    for group in (MOUSE_TRACKING, MOUSE_ENCODING):
        if number in group:
            modes.difference_update(group)
    if on:
        modes.add(number)
    else:
        modes.discard(number)
