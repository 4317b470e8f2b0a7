"""Character sets a program can switch G0/G1 to (``ESC ( 0``, SO/SI)."""

from __future__ import annotations

# DEC Special Graphics, the line-drawing set ncurses uses for ACS characters; the same
# mapping as xterm.js.
_DEC_SPECIAL = str.maketrans({
    "`": "\u25c6", "a": "\u2592", "b": "\u2409", "c": "\u240c", "d": "\u240d",
    "e": "\u240a", "f": "\u00b0", "g": "\u00b1", "h": "\u2424", "i": "\u240b",
    "j": "\u2518", "k": "\u2510", "l": "\u250c", "m": "\u2514", "n": "\u253c",
    "o": "\u23ba", "p": "\u23bb", "q": "\u2500", "r": "\u23bc", "s": "\u23bd",
    "t": "\u251c", "u": "\u2524", "v": "\u2534", "w": "\u252c", "x": "\u2502",
    "y": "\u2264", "z": "\u2265", "{": "\u03c0", "|": "\u2260", "}": "\u00a3",
    "~": "\u00b7",
})

#: Designations kept; any other final byte selects plain ASCII ("B").
KNOWN = frozenset({"B", "0"})


def charset_table(designation: str) -> dict[int, str] | None:
    """The ``str.translate`` table for a designation, ``None`` for ASCII."""
    return _DEC_SPECIAL if designation == "0" else None
