"""What a terminal sends for a key, a paste or a mouse event: xterm's encodings, chosen by
the modes the program set (DECCKM cursor keys, bracketed paste, mouse tracking).

Pure: Textual key names and the modes in, bytes out. The pane widget calls these and
posts the bytes up; it never builds escape sequences itself.
"""

from __future__ import annotations

from collections.abc import Collection

from loopsy.terminal.modes import DecMode

# Leaves the pane (focus goes back to the session list); never sent to the program.
LEAVE_KEYS = frozenset({"ctrl+right_square_bracket"})
LEAVE_CHARACTER = "\x1d"

_CURSOR = {"up": "A", "down": "B", "right": "C", "left": "D", "home": "H", "end": "F"}
_TILDE = {
    "insert": 2,
    "delete": 3,
    "pageup": 5,
    "pagedown": 6,
    "f5": 15,
    "f6": 17,
    "f7": 18,
    "f8": 19,
    "f9": 20,
    "f10": 21,
    "f11": 23,
    "f12": 24,
}
_SS3_FUNCTION = {"f1": "P", "f2": "Q", "f3": "R", "f4": "S"}
_PLAIN = {
    "enter": "\r",
    "tab": "\t",
    "escape": "\x1b",
    "backspace": "\x7f",
    "space": " ",
    "shift+tab": "\x1b[Z",
    "ctrl+space": "\x00",
    "ctrl+at": "\x00",
    "shift+enter": "\r",
    "ctrl+backspace": "\x08",
}
# xterm's modifier parameter: 1 + shift(1) + alt(2) + ctrl(4).
_MODIFIER_BITS = {"shift": 1, "alt": 2, "meta": 2, "ctrl": 4}


def encode_key(key: str, character: str | None, dec_modes: Collection[int]) -> bytes:
    """The bytes a terminal sends for the Textual key ``key`` (empty: nothing to send)."""
    if key in _PLAIN:
        return _PLAIN[key].encode()
    *modifiers, name = key.split("+") if key != "+" else ["+"]
    if name in _CURSOR or name in _TILDE or name in _SS3_FUNCTION:
        return _special(name, modifiers, dec_modes).encode()
    if modifiers == ["alt"] or modifiers == ["meta"]:
        inner = encode_key(name, name if len(name) == 1 else None, dec_modes)
        return b"\x1b" + inner if inner else b""
    if character is not None and character != "":
        return character.encode("utf-8", "surrogateescape")
    if modifiers == ["ctrl"] and len(name) == 1 and "@" <= name.upper() <= "_":
        return bytes((ord(name.upper()) & 0x1F,))
    return b""


def _special(name: str, modifiers: list[str], dec_modes: Collection[int]) -> str:
    bits = sum(_MODIFIER_BITS.get(m, 0) for m in modifiers)
    if name in _CURSOR:
        final = _CURSOR[name]
        if bits:
            return f"\x1b[1;{bits + 1}{final}"
        application = DecMode.APP_CURSOR_KEYS in dec_modes
        return f"\x1bO{final}" if application else f"\x1b[{final}"
    if name in _SS3_FUNCTION:
        final = _SS3_FUNCTION[name]
        return f"\x1b[1;{bits + 1}{final}" if bits else f"\x1bO{final}"
    number = _TILDE[name]
    return f"\x1b[{number};{bits + 1}~" if bits else f"\x1b[{number}~"


def encode_paste(text: str, dec_modes: Collection[int]) -> bytes:
    """A paste: line ends as Enter, wrapped in ESC[200~ ... ESC[201~ when the program asked
    for bracketed paste (and then with any end marker inside removed, so a paste cannot
    close the bracket early and type commands)."""
    body = text.replace("\r\n", "\r").replace("\n", "\r")
    if DecMode.BRACKETED_PASTE in dec_modes:
        body = body.replace("\x1b[201~", "")
        return b"\x1b[200~" + body.encode("utf-8", "surrogateescape") + b"\x1b[201~"
    return body.encode("utf-8", "surrogateescape")


# Mouse buttons as xterm numbers them; wheel events are 64 and 65.
LEFT, MIDDLE, RIGHT, RELEASE = 0, 1, 2, 3
WHEEL_UP, WHEEL_DOWN = 64, 65
_TRACKING = (DecMode.MOUSE_ANY, DecMode.MOUSE_DRAG, DecMode.MOUSE_VT200, DecMode.MOUSE_X10)


def mouse_tracking(dec_modes: Collection[int]) -> int | None:
    """The mouse tracking mode the program turned on (None: the mouse is ours)."""
    for mode in _TRACKING:
        if mode in dec_modes:
            return int(mode)
    return None


def encode_mouse(
    button: int,
    x: int,
    y: int,
    dec_modes: Collection[int],
    *,
    press: bool = True,
    motion: bool = False,
    shift: bool = False,
    alt: bool = False,
    ctrl: bool = False,
) -> bytes:
    """A mouse report at cell (``x``, ``y``), zero-based, in the encoding the program chose
    (SGR 1006 or the classic X10 bytes); empty when its tracking mode does not report
    this kind of event."""
    tracking = mouse_tracking(dec_modes)
    if tracking is None:
        return b""
    if motion and tracking not in (DecMode.MOUSE_DRAG, DecMode.MOUSE_ANY):
        return b""
    if motion and tracking == DecMode.MOUSE_DRAG and button == RELEASE:
        return b""  # drag mode reports motion only while a button is held
    if not press and tracking == DecMode.MOUSE_X10:
        return b""
    code = button
    if tracking != DecMode.MOUSE_X10:
        code += (4 if shift else 0) + (8 if alt else 0) + (16 if ctrl else 0)
    if motion:
        code += 32
    if DecMode.MOUSE_SGR in dec_modes:
        final = "M" if press or button >= WHEEL_UP else "m"
        return f"\x1b[<{code};{x + 1};{y + 1}{final}".encode()
    if not press:
        code = (code & ~3) | RELEASE
    # The classic encoding has one byte per coordinate: positions past 222 cannot be sent.
    if x > 222 or y > 222:
        return b""
    return bytes((0x1B, 0x5B, 0x4D, 32 + code, 33 + x, 33 + y))
